// The git merge driver of escrow-vault/2: one file from its three versions (merge_files.hpp).
#include <escrow/history/merge_files.hpp>

#include <escrow/error.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/history/merge_check.hpp>

#include <fmt/format.h>

#include <map>
#include <set>
#include <utility>

namespace escrow::history {

namespace {

constexpr std::string_view k_object_prefix = "{\n  \"format\": \"";

// Where a line of the merged journal came from: the side and its line number in that side's file.
struct Origin
{
  MergeSide side = MergeSide::ours;
  std::size_t line = 0;
};

struct Side
{
  std::string_view text;
  std::vector<std::string_view> lines; // without their "\n"
  std::vector<Entry> entries;          // parsed, hashes checked (line i: entries[i])
};

std::string side_name(std::string_view name, MergeSide side)
{
  return fmt::format("{} ({})", name, merge_side_name(side));
}

// Pass 1 over one side: every line an entry (strict parse, hash checked), the file ends with "\n".
Side read_side(std::string_view text, std::string_view name, MergeSide side)
{
  Side out;
  out.text = text;
  const std::string what = side_name(name, side);
  if (text.empty()) {
    fail(ErrorKind::integrity, "{}: empty (not an escrow-journal/2 file)", what);
  }
  if (text.back() != '\n') {
    fail(ErrorKind::integrity, "{}: an unterminated last line (a torn write); nothing merged", what);
  }
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    out.lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  out.entries.reserve(out.lines.size());
  for (std::size_t i = 0; i < out.lines.size(); ++i) {
    out.entries.push_back(parse_entry(out.lines[i], fmt::format("{}: line {}", what, i + 1)));
  }
  return out;
}

std::string describe_entry(const std::map<Hash, std::pair<const Entry*, Origin>>& known, const Hash& hash)
{
  const auto found = known.find(hash);
  if (found == known.end()) {
    return fmt::format("entry {}", short_hash(hash));
  }
  const Entry& e = *found->second.first;
  const Origin& o = found->second.second;
  return fmt::format("entry {} ({} by {}, {} line {})", short_hash(hash), action_name(e.action), e.actor,
                     merge_side_name(o.side), o.line);
}

MergeOutcome finish(MergedFormat format, std::string text, std::string_view ours)
{
  MergeOutcome out;
  out.format = format;
  out.changed = text != ours;
  out.text = std::move(text);
  return out;
}

} // namespace

std::string_view merged_format_name(MergedFormat format)
{
  switch (format) {
  case MergedFormat::head: return k_head_format;
  case MergedFormat::journal: return k_journal_format;
  case MergedFormat::keys: return k_keys_format;
  case MergedFormat::other: return "not an escrow-vault/2 file";
  }
  return "not an escrow-vault/2 file";
}

std::string_view usual_file_name(MergedFormat format)
{
  switch (format) {
  case MergedFormat::head: return "escrow.vault";
  case MergedFormat::journal: return "escrow.journal";
  case MergedFormat::keys: return "escrow.keys";
  case MergedFormat::other: return "";
  }
  return "";
}

MergedFormat detect_format(std::string_view bytes)
{
  if (bytes.substr(0, k_object_prefix.size()) == k_object_prefix) {
    const std::string_view rest = bytes.substr(k_object_prefix.size());
    const auto is = [&](std::string_view format) {
      return rest.substr(0, format.size() + 1) == std::string(format) + "\"";
    };
    if (is(k_head_format)) {
      return MergedFormat::head;
    }
    if (is(k_keys_format)) {
      return MergedFormat::keys;
    }
    return MergedFormat::other;
  }
  // A journal's first line is its genesis entry, canonical compact JSON holding the format as a
  // member (inside a JSON string a quote is escaped, so this text can only be the member).
  const std::string_view first = bytes.substr(0, bytes.find('\n'));
  if (!first.empty() && first.front() == '{'
      && first.find(fmt::format("\"format\":\"{}\"", k_journal_format)) != std::string_view::npos) {
    return MergedFormat::journal;
  }
  return MergedFormat::other;
}

MergeOutcome merge_journal_texts(std::string_view base, std::string_view ours, std::string_view theirs,
                                 std::string_view name)
{
  (void)base; // the entries carry their own common ancestry (vault-2-merge.md §2)
  const Side a = read_side(ours, name, MergeSide::ours);
  const Side b = read_side(theirs, name, MergeSide::theirs);

  std::map<Hash, std::pair<const Entry*, Origin>> known;
  std::vector<Origin> origin; // per line of the result
  for (std::size_t i = 0; i < a.entries.size(); ++i) {
    known.emplace(a.entries[i].hash, std::make_pair(&a.entries[i], Origin{MergeSide::ours, i + 1}));
    origin.push_back(Origin{MergeSide::ours, i + 1});
  }
  std::string text;
  const bool fast_forward = theirs.size() > ours.size() && theirs.substr(0, ours.size()) == ours;
  if (fast_forward) {
    text = std::string(theirs);
    for (std::size_t i = a.entries.size(); i < b.entries.size(); ++i) {
      known.emplace(b.entries[i].hash, std::make_pair(&b.entries[i], Origin{MergeSide::theirs, i + 1}));
      origin.push_back(Origin{MergeSide::theirs, i + 1});
    }
  } else {
    // ours stays a byte prefix: this machine's verified order and its git history stay append-only.
    text = std::string(ours);
    for (std::size_t i = 0; i < b.entries.size(); ++i) {
      if (known.emplace(b.entries[i].hash, std::make_pair(&b.entries[i], Origin{MergeSide::theirs, i + 1})).second) {
        text += b.lines[i];
        text += '\n';
        origin.push_back(Origin{MergeSide::theirs, i + 1});
      }
    }
  }

  // Valid by exactly the rules of a single write: the replay of the result (no clock: a merge
  // must give the same answer on every machine, whenever it runs).
  const ReplayResult r = replay(text);
  const auto where = [&](const Finding& f) {
    Finding g = f;
    FileNames names;
    names.journal = std::string(name);
    if (f.file == VaultFile::journal && f.line >= 1 && f.line <= origin.size()) {
      const Origin& o = origin[f.line - 1];
      names.journal = side_name(name, o.side);
      g.line = o.line;
    }
    return format_finding(g, names);
  };
  std::size_t errors = 0;
  const Finding* first_error = nullptr;
  for (const Finding& f : r.findings) {
    if (f.severity() == Severity::error) {
      ++errors;
      if (first_error == nullptr) {
        first_error = &f;
      }
    }
  }
  if (first_error != nullptr) {
    Error error(ErrorKind::integrity, where(*first_error) + "; nothing merged");
    if (errors > 1) {
      error.hint(fmt::format("{} problems in all; escrow verify on each side lists them", errors));
    }
    throw error;
  }

  MergeOutcome out = finish(MergedFormat::journal, std::move(text), ours);
  // For conflicts the merge check names by one operation (a refusal): the common history's state
  // and each side's own operations, to find the other side's operation it fails after.
  std::optional<State> common;
  std::vector<const Entry*> own_a;
  std::vector<const Entry*> own_b;
  const auto other_of = [&](const Finding& f) -> std::optional<Hash> {
    if (f.other || !f.entry) {
      return f.other;
    }
    if (!common) {
      std::set<Hash> in_b;
      for (const Entry& e : b.entries) {
        in_b.insert(e.hash);
      }
      std::string shared;
      for (std::size_t i = 0; i < a.entries.size(); ++i) {
        if (in_b.count(a.entries[i].hash) > 0) {
          shared += a.lines[i];
          shared += '\n';
        } else {
          own_a.push_back(&a.entries[i]);
        }
      }
      std::set<Hash> in_a;
      for (const Entry& e : a.entries) {
        in_a.insert(e.hash);
      }
      for (const Entry& e : b.entries) {
        if (in_a.count(e.hash) == 0) {
          own_b.push_back(&e);
        }
      }
      ReplayResult c = replay(shared);
      if (shared.empty() || !c.ok()) {
        return std::nullopt;
      }
      common = std::move(c.state);
    }
    const auto found = known.find(*f.entry);
    if (found == known.end()) {
      return std::nullopt;
    }
    const bool is_ours = found->second.second.side == MergeSide::ours;
    return find_culprit(*common, is_ours ? own_a : own_b, *found->second.first, is_ours ? own_b : own_a);
  };
  for (const Finding& f : r.findings) {
    if (f.severity() == Severity::conflict) {
      std::string line = f.entry ? describe_entry(known, *f.entry) : std::string("an operation");
      if (const std::optional<Hash> other = other_of(f)) {
        line += " and " + describe_entry(known, *other);
      }
      line += ": " + f.reason;
      out.conflicts.push_back(Error::one_line(std::move(line)));
    } else if (f.severity() == Severity::warning && f.kind != FindingKind::torn_write) {
      out.warnings.push_back(where(f));
    }
  }
  if (!out.ok()) {
    out.text.clear();
    out.changed = false;
  }
  return out;
}

MergeOutcome merge_keys_texts(std::string_view base, std::string_view ours, std::string_view theirs,
                              std::string_view name)
{
  const KeysFile a = KeysFile::parse(std::string(ours), side_name(name, MergeSide::ours));
  const KeysFile b = KeysFile::parse(std::string(theirs), side_name(name, MergeSide::theirs));
  std::optional<KeysFile> o;
  if (!base.empty()) {
    o.emplace(KeysFile::parse(std::string(base), fmt::format("{} (base)", name)));
  }
  return finish(MergedFormat::keys, merge_keys(o ? &*o : nullptr, a, b), ours);
}

MergeOutcome merge_head_texts(std::string_view base, std::string_view ours, std::string_view theirs,
                              std::string_view name)
{
  const HeadFile a = parse_head_file(ours, side_name(name, MergeSide::ours));
  const HeadFile b = parse_head_file(theirs, side_name(name, MergeSide::theirs));
  if (!base.empty()) {
    const HeadFile o = parse_head_file(base, fmt::format("{} (base)", name));
    if (o.vault_id != a.vault_id) {
      fail(ErrorKind::integrity, "{} (base): another vault's head file", name);
    }
  }
  return finish(MergedFormat::head, serialize_head_file(merge_head_files(a, b, name)), ours);
}

MergeOutcome merge_texts(std::string_view base, std::string_view ours, std::string_view theirs,
                         std::string_view name)
{
  const MergedFormat fa = detect_format(ours);
  const MergedFormat fb = detect_format(theirs);
  const MergedFormat fo = base.empty() ? fa : detect_format(base);
  if (fa == MergedFormat::other && fb == MergedFormat::other && fo == MergedFormat::other) {
    MergeOutcome out;
    out.format = MergedFormat::other;
    out.name = std::string(name);
    return out;
  }
  if (fb != fa) {
    fail(ErrorKind::integrity, "{}: {} where ours is {}; nothing merged", side_name(name, MergeSide::theirs),
         merged_format_name(fb), merged_format_name(fa));
  }
  if (fo != fa) {
    fail(ErrorKind::integrity, "{} (base): {} where both sides are {}; nothing merged", name, merged_format_name(fo),
         merged_format_name(fa));
  }
  MergeOutcome out;
  switch (fa) {
  case MergedFormat::journal: out = merge_journal_texts(base, ours, theirs, name); break;
  case MergedFormat::keys: out = merge_keys_texts(base, ours, theirs, name); break;
  case MergedFormat::head: out = merge_head_texts(base, ours, theirs, name); break;
  case MergedFormat::other: fail(ErrorKind::failed, "{}: internal error: no merge for this format", name);
  }
  out.name = std::string(name);
  return out;
}

} // namespace escrow::history
