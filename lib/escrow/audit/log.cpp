#include <escrow/atomic_file.hpp>
#include <escrow/audit/log.hpp>
#include <escrow/error.hpp>

#include <filesystem>
#include <map>

namespace escrow::audit {

std::vector<LoggedEntry> read_entries(const Journal& journal)
{
  std::vector<LoggedEntry> entries;
  if (!std::filesystem::exists(journal.path())) {
    return entries;
  }
  const std::string text = read_file(journal.path(), std::size_t{4} << 30);
  const std::vector<std::string_view> lines = split_json_lines(text);
  std::size_t line = 0;
  for (const std::string_view bytes : lines) {
    ++line;
    if (bytes.empty()) {
      continue;
    }
    const std::string what = fmt::format("{}: line {}", journal.path().string(), line);
    if (bytes.size() > k_max_journal_line) {
      fail(ErrorKind::integrity, "{}: entry longer than {} bytes", what, k_max_journal_line);
    }
    try {
      entries.push_back(LoggedEntry{line, journal_entry_from_json(canonical::parse(bytes, what), what)});
    } catch (Error& error) {
      if (line == lines.size() && text.back() != '\n') {
        break; // a torn write's fragment (verify.hpp): not an entry; the next append removes it
      }
      throw error.hint("run 'escrow audit verify' to check the whole journal");
    }
  }
  return entries;
}

bool is_access(const JournalEntry& entry)
{
  return entry.action == JournalAction::reveal || entry.action == JournalAction::exec
         || entry.action == JournalAction::connector_auth;
}

bool is_rotation(const JournalEntry& entry)
{
  if (entry.action == JournalAction::rotate || entry.action == JournalAction::rollback) {
    return true;
  }
  // A failed rotation journals its decision to roll back ("rolling-back") and then its outcome
  // ("rolled-back", "rollback-incomplete", or "failed" when no value could be made): the outcome
  // is the rotation's one mark.
  return (entry.action == JournalAction::rotate_failed || entry.action == JournalAction::rollback_failed)
         && entry.result != JournalResult::rolling_back;
}

namespace {

bool glob(const std::string& pattern, const std::string& value)
{
  if (!pattern.empty() && pattern.back() == '*') {
    return value.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  }
  return pattern == value;
}

std::string env_of(const JournalEntry& entry)
{
  if (!entry.env.empty()) {
    return entry.env;
  }
  const auto slash = entry.secret.find('/');
  return slash == std::string::npos ? std::string() : entry.secret.substr(0, slash);
}

} // namespace

bool matches(const JournalEntry& entry, const LogFilter& filter)
{
  if (!filter.secret.empty() && !glob(filter.secret, entry.secret)) {
    return false;
  }
  if (!filter.actor.empty() && entry.actor != filter.actor) {
    return false;
  }
  if (!filter.env.empty() && env_of(entry) != filter.env) {
    return false;
  }
  if (!filter.action.empty() && !glob(filter.action, std::string(journal_action_name(entry.action)))) {
    return false;
  }
  if (filter.since && entry.ts < *filter.since) {
    return false;
  }
  if (filter.until && entry.ts >= *filter.until) {
    return false;
  }
  return true;
}

std::vector<const LoggedEntry*> filter_entries(const std::vector<LoggedEntry>& entries, const LogFilter& filter)
{
  std::vector<const LoggedEntry*> out;
  for (const auto& logged : entries) {
    if (matches(logged.entry, filter)) {
      out.push_back(&logged);
    }
  }
  return out;
}

Timestamp parse_time_arg(std::string_view text, Timestamp now, std::string_view option)
{
  if (!text.empty() && (text.back() == 's' || text.back() == 'm' || text.back() == 'h' || text.back() == 'd'
                        || text.back() == 'w')) {
    if (const auto duration = parse_duration(text)) {
      return now - *duration;
    }
  }
  if (const auto at = parse_time(text)) {
    return *at;
  }
  fail(ErrorKind::usage, "{}: expected a time (2026-11-01, 2026-11-01T09:00:00Z, Unix seconds) or a duration before now "
                         "(30d, 12h)",
       option);
}

RequestWhys request_whys(const std::vector<LoggedEntry>& entries)
{
  RequestWhys whys;
  for (const auto& logged : entries) {
    const JournalEntry& entry = logged.entry;
    if (entry.action == JournalAction::request && entry.result == JournalResult::ok && !entry.request.empty()) {
      whys.emplace(std::make_pair(entry.secret, entry.request), entry.why);
    }
  }
  return whys;
}

std::string justification(const JournalEntry& entry, const RequestWhys& whys)
{
  if (!entry.why.empty() || entry.request.empty()) {
    return entry.why;
  }
  const auto it = whys.find(std::make_pair(entry.secret, entry.request));
  return it == whys.end() ? std::string() : it->second;
}

canonical::Json to_json(const LoggedEntry& logged, const RequestWhys& whys)
{
  canonical::Json json = escrow::to_json(logged.entry);
  json["line"] = logged.line;
  if (logged.entry.why.empty() && !logged.entry.request.empty()) {
    json["request_why"] = justification(logged.entry, whys);
  }
  return json;
}

canonical::Json entry_ref(const LoggedEntry& logged)
{
  return canonical::Json{{"line", logged.line}, {"hash", logged.entry.hash}};
}

} // namespace escrow::audit
