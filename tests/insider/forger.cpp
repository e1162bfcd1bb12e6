#include "forger.hpp"

#include <escrow/error.hpp>
#include <escrow/history/replay.hpp>
#include <escrow/history/store.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace escrow::test {

using namespace escrow::history;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::io, path.string() + ": forger cannot read it");
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_all(const fs::path& path, const std::string& text)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) {
    throw Error(ErrorKind::io, path.string() + ": forger cannot write it");
  }
}

std::vector<std::string> split_lines(const std::string& text)
{
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) {
      out.push_back(text.substr(pos)); // a torn last line stays as it is
      break;
    }
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

} // namespace

std::vector<Hash> dag_heads(const std::vector<std::string>& lines)
{
  std::vector<Hash> hashes;
  std::set<Hash> named;
  for (const std::string& line : lines) {
    try {
      const Entry e = parse_entry(line, "forger");
      hashes.push_back(e.hash);
      for (const Hash& p : e.parents) {
        named.insert(p);
      }
    } catch (const Error&) {
      // a line that is not an entry is nobody's head
    }
  }
  std::vector<Hash> out;
  std::set<Hash> seen;
  for (const Hash& h : hashes) {
    if (named.count(h) == 0 && seen.insert(h).second) {
      out.push_back(h);
    }
  }
  return out;
}

Forger::Forger(fs::path head_path) : m_head_path(std::move(head_path))
{
  const VaultPaths paths = VaultPaths::of(m_head_path);
  m_journal_path = paths.journal;
  m_keys_path = paths.keys;
  m_vault = parse_head_file(read_all(m_head_path), "forger").vault_id;
  m_lines = split_lines(read_all(m_journal_path));
  m_keys = read_all(m_keys_path);
  refresh();
}

void Forger::refresh()
{
  const ReplayResult r = replay(journal_text());
  m_state = r.state;
  m_heads = r.heads;
  m_ts = r.ts;
  if (!r.ok()) {
    // Best effort: the heads of the DAG as written (a later append chains onto the forgery).
    m_heads = dag_heads(m_lines);
    m_ts = 0;
    for (const std::string& line : m_lines) {
      try {
        m_ts = std::max(m_ts, parse_entry(line, "forger").ts);
      } catch (const Error&) {
      }
    }
  }
}

std::string Forger::journal_text() const
{
  std::string out;
  for (const std::string& line : m_lines) {
    out += line;
    out += '\n';
  }
  return out;
}

Entry Forger::entry(std::size_t line) const
{
  return parse_entry(m_lines.at(line - 1), "forger");
}

Entry Forger::append_op(const Identity& as, Args args, const Material& material, std::optional<std::string> why)
{
  Entry e;
  e.vault = m_vault;
  e.actor = as.pub.name;
  e.ts = std::max(m_now, m_ts);
  e.host = "forger";
  e.parents = m_heads;
  e.action = kind_of(args);
  e.result = Result::ok;
  e.why = std::move(why);
  Op op;
  op.args = std::move(args);
  for (const SealedLine& line : material.lines) {
    const std::optional<KeyLine> parsed = parse_line_key(line.key());
    if (!parsed) {
      throw Error(ErrorKind::failed, "forger: key line without a v2 name: " + line.key());
    }
    op.writes.push_back(Write{key_path(*parsed, line.hash), std::nullopt, line.hash});
  }
  std::sort(op.writes.begin(), op.writes.end(), [](const Write& a, const Write& b) { return a.path < b.path; });
  e.op = std::move(op);
  // What the honest command computes, authorize skipped. An effect on an object that does not
  // exist cannot be computed: the key lines alone are signed then (the replay must still refuse).
  try {
    e.op->writes = compute_writes(m_state, e);
  } catch (const Error&) {
  }
  seal_entry(e, as, "forger");
  m_lines.push_back(dump_entry(e));
  for (const SealedLine& line : material.lines) {
    put_key_line(line);
  }
  // The forger's own view goes on from the forged entry (so a chain of forgeries is possible).
  try {
    apply(m_state, e, "forger");
  } catch (const Error&) {
  }
  m_heads = {e.hash};
  m_ts = e.ts;
  return e;
}

void Forger::branch_from(std::size_t line)
{
  std::string prefix;
  for (std::size_t i = 0; i < line; ++i) {
    prefix += m_lines.at(i);
    prefix += '\n';
  }
  const ReplayResult r = replay(prefix);
  m_state = r.state;
  m_heads = {entry(line).hash};
  m_ts = r.ts;
}

Entry Forger::append_event(const Identity& as, EventKind kind, std::optional<std::vector<Hash>> parents)
{
  Entry e;
  e.vault = m_vault;
  e.actor = as.pub.name;
  e.ts = std::max(m_now, m_ts);
  e.host = "forger";
  e.parents = parents ? *parents : m_heads;
  e.action = kind;
  e.result = Result::ok;
  seal_entry(e, as, "forger");
  m_lines.push_back(dump_entry(e));
  m_heads = {e.hash};
  m_ts = e.ts;
  return e;
}

Entry Forger::append_raw(const Identity* as, Entry e, const std::vector<SealedLine>& lines)
{
  e.vault = m_vault;
  if (e.parents.empty() && !e.genesis_format) {
    e.parents = m_heads;
  }
  if (e.ts == 0) {
    e.ts = std::max(m_now, m_ts);
  }
  if (e.host.empty()) {
    e.host = "forger";
  }
  e.hash = compute_hash(e);
  if (as != nullptr) {
    e.actor = as->pub.name;
    e.hash = compute_hash(e);
    seal_entry(e, *as, "forger");
  }
  m_lines.push_back(dump_entry(e));
  for (const SealedLine& line : lines) {
    put_key_line(line);
  }
  m_heads = {e.hash};
  m_ts = std::max(m_ts, e.ts);
  return e;
}

void Forger::append_line(std::string line)
{
  m_lines.push_back(std::move(line));
  refresh();
}

void Forger::edit_entry(std::size_t line, const std::function<void(Entry&)>& edit, const Identity* as)
{
  Entry e = entry(line);
  edit(e);
  if (as != nullptr) {
    e.actor = as->pub.name;
    if (e.op) {
      // A careful insider recomputes the writes against the state before the entry (the lines
      // before it, when they replay; otherwise the writes stay as edited).
      std::string prefix;
      for (std::size_t i = 0; i + 1 < line; ++i) {
        prefix += m_lines.at(i);
        prefix += '\n';
      }
      const ReplayResult r = replay(prefix);
      if (r.ok()) {
        try {
          e.op->writes = compute_writes(r.state, e);
        } catch (const Error&) {
        }
      }
    }
    seal_entry(e, *as, "forger");
  } else {
    e.hash = compute_hash(e); // no key: the old signature stays, over the old hash
  }
  m_lines.at(line - 1) = dump_entry(e);
  refresh();
}

void Forger::delete_entries(std::size_t first, std::size_t last)
{
  m_lines.erase(m_lines.begin() + static_cast<std::ptrdiff_t>(first - 1), m_lines.begin() + static_cast<std::ptrdiff_t>(last));
  refresh();
}

void Forger::move_entry(std::size_t from, std::size_t to)
{
  std::string line = m_lines.at(from - 1);
  m_lines.erase(m_lines.begin() + static_cast<std::ptrdiff_t>(from - 1));
  m_lines.insert(m_lines.begin() + static_cast<std::ptrdiff_t>(to - 1), std::move(line));
  refresh();
}

void Forger::truncate(std::size_t lines)
{
  m_lines.resize(std::min(lines, m_lines.size()));
  refresh();
}

void Forger::replace_journal(std::string text)
{
  m_lines = split_lines(text);
  refresh();
}

void Forger::set_line(std::size_t line, std::string text)
{
  m_lines.at(line - 1) = std::move(text);
  refresh();
}

void Forger::put_key_line(const SealedLine& line)
{
  const KeysFile keys = KeysFile::parse(m_keys, "forger keys");
  if (keys.find(line.key())) {
    return;
  }
  const std::vector<SealedLine> add{line};
  m_keys = keys.rewrite(add, {});
}

void Forger::drop_key_line(const std::string& key)
{
  const KeysFile keys = KeysFile::parse(m_keys, "forger keys");
  m_keys = keys.rewrite({}, std::set<std::string>{key});
}

void Forger::set_heads(std::vector<Hash> heads, std::optional<std::uint64_t> entries)
{
  m_head_set = HeadFile{m_vault, std::move(heads), entries ? *entries : m_lines.size()};
}

void Forger::save()
{
  std::string head;
  if (m_head_override) {
    head = *m_head_override;
  } else if (m_head_set) {
    head = serialize_head_file(*m_head_set);
  } else {
    std::vector<Hash> heads = dag_heads(m_lines);
    if (heads.empty()) {
      heads = m_heads;
    }
    head = serialize_head_file(HeadFile{m_vault, heads, std::max<std::uint64_t>(1, m_lines.size())});
  }
  write_all(m_keys_path, m_keys);
  write_all(m_journal_path, journal_text());
  write_all(m_head_path, head);
}

} // namespace escrow::test
