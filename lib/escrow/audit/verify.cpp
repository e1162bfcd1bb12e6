#include <escrow/atomic_file.hpp>
#include <escrow/audit/verify.hpp>
#include <escrow/error.hpp>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

namespace escrow::audit {

namespace {


// Text from a file, safe for a one-line message: control characters replaced, length bounded.
std::string printable(std::string_view text, std::size_t limit = 64)
{
  std::string out;
  for (const char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte == 0x7f ? '?' : c);
  }
  if (text.size() > limit) {
    out += "...";
  }
  return out;
}

// A hash as messages show it: its first 12 characters are plenty to find it in the file.
std::string short_hash(std::string_view hash)
{
  return printable(hash.substr(0, 12), 12);
}

struct Roster
{
  std::string vault_id;
  std::map<std::string, const MemberRecord*, std::less<>> members;
};

// Removes `"key":"<value>"` and the comma before it: the last occurrence, which in a canonical
// entry is the top-level member (nothing after "hash" or "sig" is an object).
bool cut_member(std::string& text, std::string_view key, std::string_view value)
{
  const std::string needle = fmt::format(",\"{}\":\"{}\"", key, value);
  const auto at = text.rfind(needle);
  if (at == std::string::npos) {
    return false;
  }
  text.erase(at, needle.size());
  return true;
}

CheckedLine check_line(std::string_view line, const Roster& roster)
{
  CheckedLine out;
  const auto modified = [&](std::string reason) {
    out.problem = Problem::modified;
    out.reason = std::move(reason);
    return out;
  };
  if (line.empty()) {
    return modified("the line is empty");
  }
  if (line.size() > k_max_journal_line) {
    return modified(fmt::format("the line is longer than {} bytes", k_max_journal_line));
  }
  try {
    const canonical::Json json = canonical::parse(line, "entry");
    const JournalEntry entry = journal_entry_from_json(json, "entry");
    out.parsed = true;
    out.hash = entry.hash;
    out.parents = entry.parents;
    out.actor = entry.actor;
    out.action = entry.action;
    out.ts = entry.ts;
    if (const auto it = entry.detail.find("revision"); it != entry.detail.end() && it->is_number_integer()) {
      out.revision = it->get<std::int64_t>();
    }
    if (entry.action == JournalAction::member_remove) {
      if (const auto it = entry.detail.find("member"); it != entry.detail.end() && it->is_string()) {
        out.removed = it->get<std::string>();
      }
    }
    if (canonical::dump(json) != line) {
      return modified("it is not in canonical form (edited by hand or by another tool)");
    }
    std::string content(line);
    if (!cut_member(content, "sig", entry.sig) || !cut_member(content, "hash", entry.hash)) {
      return modified("its hash or signature field is malformed");
    }
    if (!journal_entry_hash_matches(entry, content)) {
      return modified("its hash does not match its content");
    }
    if (entry.vault != roster.vault_id) {
      out.problem = Problem::foreign;
      out.reason = fmt::format("it was written for vault {}, not this one", printable(entry.vault));
      return out;
    }
    const auto member = roster.members.find(entry.actor);
    if (member == roster.members.end()) {
      out.problem = Problem::unknown_author;
      out.reason = fmt::format("it is signed by \"{}\", who is not a member of this vault", printable(entry.actor));
      return out;
    }
    out.signature_checked = true;
    if (!journal_entry_signed_by(entry, member->second->sign_pk)) {
      return modified(fmt::format("its signature by {} does not verify (forged or altered)", printable(entry.actor)));
    }
  } catch (const Error& error) {
    // Parser messages name a byte offset and never quote the input.
    return modified(fmt::format("it is not a valid journal entry ({})", error.what()));
  } catch (const std::exception& error) {
    return modified(fmt::format("it cannot be read ({})", error.what()));
  }
  return out;
}

// Runs check_line over `todo` on up to `threads` threads.
std::vector<CheckedLine> check_lines(const std::vector<std::string_view>& lines,
                                     const std::vector<std::size_t>& todo,
                                     const Roster& roster,
                                     unsigned threads)
{
  std::vector<CheckedLine> out(todo.size());
  if (threads == 0) {
    threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  }
  if (todo.size() < 512) {
    threads = 1;
  }
  const auto work = [&](std::size_t first, std::size_t step) {
    for (std::size_t j = first; j < todo.size(); j += step) {
      out[j] = check_line(lines[todo[j]], roster);
    }
  };
  if (threads == 1) {
    work(0, 1);
    return out;
  }
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) {
    pool.emplace_back(work, t, threads);
  }
  work(0, threads);
  for (auto& thread : pool) {
    thread.join();
  }
  return out;
}

} // namespace

std::string_view problem_name(Problem problem)
{
  switch (problem) {
  case Problem::modified: return "modified-entry";
  case Problem::deleted: return "deleted-entry";
  case Problem::reordered: return "reordered-entries";
  case Problem::truncated: return "truncated-tail";
  case Problem::unknown_author: return "unknown-author";
  case Problem::removed_author: return "removed-member";
  case Problem::foreign: return "foreign-entry";
  case Problem::duplicate: return "duplicate-entry";
  case Problem::anchor: return "anchor-mismatch";
  case Problem::not_applied: return "intent-not-applied";
  case Problem::torn: return "torn-write";
  }
  return "unknown";
}

canonical::Json Finding::to_json() const
{
  return canonical::Json{{"kind", problem_name(problem)},
                         {"severity", warning() ? "warning" : "error"},
                         {"line", line},
                         {"entry", entry},
                         {"message", message}};
}

std::size_t VerifyReport::errors() const
{
  return static_cast<std::size_t>(
    std::count_if(findings.begin(), findings.end(), [](const Finding& f) { return !f.warning(); }));
}

std::size_t VerifyReport::warnings() const
{
  return findings.size() - errors();
}

const Finding* VerifyReport::first_error() const
{
  for (const auto& finding : findings) {
    if (!finding.warning()) {
      return &finding;
    }
  }
  return nullptr;
}

canonical::Json VerifyReport::to_json() const
{
  canonical::Json list = canonical::Json::array();
  for (const auto& finding : findings) {
    list.push_back(finding.to_json());
  }
  return canonical::Json{{"ok", ok()},
                         {"entries", entries},
                         {"signatures", signatures},
                         {"head", head},
                         {"size", size},
                         {"errors", errors()},
                         {"warnings", warnings()},
                         {"findings", list}};
}

VerifyReport verify_journal(std::string_view text, const Vault& vault, const VerifyOptions& options)
{
  Roster roster;
  roster.vault_id = vault.id_b64();
  for (const auto& [name, member] : vault.members()) {
    roster.members.emplace(name, &member);
  }
  const std::vector<std::string_view> lines = split_json_lines(text);
  const std::size_t n = lines.size();
  VerifyReport report;
  report.entries = n;
  report.size = text.size();

  // Phase 1, per line and in parallel: parse, canonical form, hash, author, signature.
  std::vector<const CheckedLine*> checked(n, nullptr);
  std::vector<std::size_t> todo;
  if (options.cache != nullptr) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto it = options.cache->lines.find(std::string(lines[i]));
      if (it != options.cache->lines.end()) {
        checked[i] = &it->second;
      } else {
        todo.push_back(i);
      }
    }
  } else {
    todo.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      todo[i] = i;
    }
  }
  std::vector<CheckedLine> fresh = check_lines(lines, todo, roster, options.threads);
  for (std::size_t j = 0; j < todo.size(); ++j) {
    report.signatures += fresh[j].signature_checked ? 1 : 0;
    if (options.cache != nullptr) {
      const auto [it, inserted] = options.cache->lines.emplace(std::string(lines[todo[j]]), std::move(fresh[j]));
      checked[todo[j]] = &it->second;
    } else {
      checked[todo[j]] = &fresh[j];
    }
  }

  // Phase 2, in file order: links, authors over time, revisions, anchors.
  std::unordered_map<std::string_view, std::size_t> first_line; // hash -> first line index
  std::unordered_map<std::string_view, std::size_t> named_as_parent;
  for (std::size_t i = 0; i < n; ++i) {
    if (checked[i]->parsed) {
      first_line.emplace(checked[i]->hash, i);
      for (const auto& parent : checked[i]->parents) {
        named_as_parent.emplace(parent, i);
      }
    }
  }
  for (std::size_t i = n; i > 0; --i) {
    if (checked[i - 1]->parsed) {
      report.head = checked[i - 1]->hash;
      break;
    }
  }
  const auto add = [&](Problem problem, std::size_t line, std::string entry, std::string message) {
    report.findings.push_back(Finding{problem, line, std::move(entry), std::move(message)});
  };

  // Intent not applied: written for a revision the vault never reached, or superseded by a
  // later entry for the same revision (the retry after a crash).
  const std::string& anchor = vault.journal_head();
  std::set<std::size_t> not_applied;
  std::map<std::int64_t, std::vector<std::size_t>> claims;
  for (std::size_t i = 0; i < n; ++i) {
    const CheckedLine& c = *checked[i];
    if (!c.parsed || !c.revision || first_line[c.hash] != i) {
      continue;
    }
    if (*c.revision > vault.revision() || (*c.revision == vault.revision() && c.hash != anchor)) {
      not_applied.insert(i);
    } else {
      claims[*c.revision].push_back(i);
    }
  }
  // Whether line `later` descends from line `earlier` (walking parents back, never past it).
  const auto descends = [&](std::size_t later, std::size_t earlier) {
    std::vector<std::size_t> stack{later};
    std::set<std::size_t> seen;
    while (!stack.empty()) {
      const std::size_t at = stack.back();
      stack.pop_back();
      if (at == earlier) {
        return true;
      }
      if (at < earlier || !seen.insert(at).second || !checked[at]->parsed) {
        continue;
      }
      for (const auto& parent : checked[at]->parents) {
        const auto it = first_line.find(parent);
        if (it != first_line.end() && it->second < at) {
          stack.push_back(it->second);
        }
      }
    }
    return false;
  };
  for (const auto& [revision, lines_of] : claims) {
    for (std::size_t a = 0; a + 1 < lines_of.size(); ++a) {
      for (std::size_t b = a + 1; b < lines_of.size(); ++b) {
        if (descends(lines_of[b], lines_of[a])) {
          not_applied.insert(lines_of[a]);
          break;
        }
      }
    }
  }

  std::map<std::string, std::size_t, std::less<>> removal_line; // member -> line of member-remove
  bool previous_damaged = false;
  for (std::size_t i = 0; i < n; ++i) {
    const CheckedLine& c = *checked[i];
    const std::size_t line = i + 1;
    const bool last = i + 1 == n;
    if (last && !text.empty() && text.back() != '\n') {
      // DESIGN §7: a writer killed mid-append leaves a fragment whose vault revision never
      // landed; Journal::append repairs it under the lock. Cutting real entries off is caught by
      // the anchors below, not here.
      if (!c.parsed) {
        add(Problem::torn, line, "",
            fmt::format("line {}: torn write: the last line is an unterminated fragment (a writer was killed "
                        "mid-append); it is not an entry, and the next write removes it",
                        line));
        --report.entries;
        break;
      }
      if (!c.problem) {
        add(Problem::torn, line, c.hash,
            fmt::format("line {}: torn write: the last entry has no final newline; the next write adds it", line));
      }
    }
    if (!c.parsed) {
      add(Problem::modified, line, "", fmt::format("line {}: modified entry: {}", line, c.reason));
      previous_damaged = true;
      continue;
    }
    const std::string entry_name = short_hash(c.hash);
    if (c.problem) {
      std::string kind;
      switch (*c.problem) {
      case Problem::unknown_author: kind = "unknown author"; break;
      case Problem::foreign: kind = "foreign entry"; break;
      default: kind = "modified entry"; break;
      }
      add(*c.problem, line, c.hash, fmt::format("line {}: {} {}: {}", line, kind, entry_name, c.reason));
    }
    const std::size_t first = first_line[c.hash];
    if (first != i) {
      add(Problem::duplicate, line, c.hash,
          fmt::format("line {}: duplicated entry {}: it repeats line {} (replayed)", line, entry_name, first + 1));
      previous_damaged = false;
      continue;
    }
    if (!c.problem || *c.problem != Problem::unknown_author) {
      const auto member = roster.members.find(c.actor);
      if (member != roster.members.end() && member->second->removed_at) {
        const Timestamp removed_at = *member->second->removed_at;
        const auto removal = removal_line.find(c.actor);
        if (c.ts > removed_at) {
          add(Problem::removed_author, line, c.hash,
              fmt::format("line {}: signed by a removed member: entry {} by {} is dated {}, after their removal on {}",
                          line, entry_name, printable(c.actor), format_time(c.ts), format_time(removed_at)));
        } else if (removal != removal_line.end()) {
          add(Problem::removed_author, line, c.hash,
              fmt::format("line {}: signed by a removed member: entry {} by {} comes after their removal on line {} "
                          "(backdated to {})",
                          line, entry_name, printable(c.actor), removal->second, format_time(c.ts)));
        }
      }
    }
    if (!c.removed.empty()) {
      removal_line.emplace(c.removed, line);
    }
    if (c.parents.empty() && i > 0) {
      add(Problem::reordered, line, c.hash,
          fmt::format("line {}: reordered entries: entry {} claims to be the first entry of the journal", line,
                      entry_name));
    }
    for (const auto& parent : c.parents) {
      const auto it = first_line.find(parent);
      if (it != first_line.end() && it->second < i) {
        continue;
      }
      if (it != first_line.end()) {
        add(Problem::reordered, line, c.hash,
            fmt::format("line {}: reordered entries: entry {} comes before its parent {} on line {}", line, entry_name,
                        short_hash(parent), it->second + 1));
      } else if (!previous_damaged) {
        add(Problem::deleted, line, parent,
            fmt::format("line {}: deleted entry: {}, the parent of entry {}, is not in the journal (deleted or "
                        "rewritten)",
                        line, short_hash(parent), entry_name));
      }
    }
    if (not_applied.count(i) > 0) {
      add(Problem::not_applied, line, c.hash,
          fmt::format("line {}: intent not applied: entry {} ({}) was written for vault revision {}, which never "
                      "landed (a crash between the journal append and the vault write, or a rollback); the vault is "
                      "at revision {}",
                      line, entry_name, journal_action_name(c.action), *c.revision, vault.revision()));
    }
    previous_damaged = c.problem == Problem::modified;
  }

  // Anchors: the vault's journal_head and this machine's last-seen entry must be present. One
  // that some entry names as its parent was deleted (reported above), not cut off.
  const auto missing = [&](const std::string& hash) {
    return first_line.count(hash) == 0 && named_as_parent.count(hash) == 0;
  };
  if (!anchor.empty()) {
    if (missing(anchor)) {
      add(Problem::truncated, n, anchor,
          fmt::format("truncated tail: the vault (revision {}) is anchored to entry {}, which is not in the journal: "
                      "entries after line {} were cut off",
                      vault.revision(), short_hash(anchor), n));
    } else if (const auto it = first_line.find(anchor); it != first_line.end()) {
      const CheckedLine& c = *checked[it->second];
      if (c.revision && *c.revision != vault.revision()) {
        add(Problem::anchor, it->second + 1, anchor,
            fmt::format("line {}: anchor mismatch: the vault (revision {}) is anchored to entry {}, which was written "
                        "for revision {}",
                        it->second + 1, vault.revision(), short_hash(anchor), *c.revision));
      }
    }
  }
  if (options.pin && !options.pin->head.empty() && options.pin->head != anchor && missing(options.pin->head)) {
    add(Problem::truncated, n, options.pin->head,
        fmt::format("truncated tail: this machine last saw entry {} with the journal at {} bytes; it is no longer "
                    "in the journal ({} bytes): entries after line {} were cut off",
                    short_hash(options.pin->head), options.pin->size, text.size(), n));
  }
  std::stable_sort(report.findings.begin(), report.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.line < b.line; });
  return report;
}

VerifyReport verify_journal(const Journal& journal, const Vault& vault, const VerifyOptions& options)
{
  std::string text;
  if (std::filesystem::exists(journal.path())) {
    text = read_file(journal.path(), std::size_t{4} << 30);
  }
  return verify_journal(text, vault, options);
}

VerifyReport verify_session_journal(const Session& session)
{
  VerifyOptions options;
  const auto pin = read_pin(session.options().state_dir, session.vault().id_b64());
  if (pin && !pin->journal_head.empty()) {
    options.pin = JournalPin{pin->journal_head, pin->journal_size};
  }
  return verify_journal(session.journal(), session.vault(), options);
}

void pin_verified(const Session& session, const VerifyReport& report)
{
  if (report.ok() && !report.head.empty()) {
    pin_journal(session.options().state_dir, session.vault().id_b64(), report.head, report.size);
  }
}

void require_clean(const VerifyReport& report, const std::filesystem::path& journal)
{
  const Finding* problem = report.first_error();
  if (problem == nullptr) {
    return;
  }
  const std::size_t more = report.errors() - 1;
  throw Error(ErrorKind::integrity,
              fmt::format("{}: {}{}", journal.string(), problem->message,
                          more == 0 ? std::string() : fmt::format(" (and {} more problem{})", more, more == 1 ? "" : "s")))
    .hint("'escrow audit verify' lists every problem; docs/AUDIT.md says what each one means");
}

} // namespace escrow::audit
