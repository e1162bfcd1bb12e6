// Reading the journal for people: entries with their line numbers, and `audit log`'s filters.
//
// These read entries strictly (journal.hpp) but do not verify hashes or signatures: that is
// `audit verify` (verify.hpp), which reports, anomalies and the HTML page advise running first.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/journal.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace escrow::audit {

struct LoggedEntry
{
  std::size_t line = 0; // 1-based line in the journal
  JournalEntry entry;
};

// Every entry of the journal (empty when it does not exist). Error(integrity) names the line of
// an entry that cannot be read.
std::vector<LoggedEntry> read_entries(const Journal& journal);

// Accesses (a value was, or was attempted to be, decrypted for someone) and rotations, as the
// reports, anomalies and the timeline count them.
bool is_access(const JournalEntry& entry);   // reveal, exec, connector-auth
// A rotation's outcome: rotate, rollback (finished), rotate-failed / rollback-failed (their
// outcome, not the "rolling-back" intent recorded before the old value is restored).
bool is_rotation(const JournalEntry& entry);

struct LogFilter
{
  std::string secret; // ENV/NAME; a trailing '*' matches a prefix ("prod/*")
  std::string actor;
  std::string env;    // the entry's environment (or its secret's)
  std::string action; // a trailing '*' matches a prefix ("rotate*")
  std::optional<Timestamp> since; // ts >= since
  std::optional<Timestamp> until; // ts < until
};

bool matches(const JournalEntry& entry, const LogFilter& filter);
std::vector<const LoggedEntry*> filter_entries(const std::vector<LoggedEntry>& entries, const LogFilter& filter);

// --since/--until values: an RFC 3339 time, a date, Unix seconds, or a duration meaning that
// long before `now` ("30d"). Error(usage) naming `option` otherwise.
Timestamp parse_time_arg(std::string_view text, Timestamp now, std::string_view option);

// The justifications of the journal's requests, by secret and request id.
using RequestWhys = std::map<std::pair<std::string, std::string>, std::string>;
RequestWhys request_whys(const std::vector<LoggedEntry>& entries);
// The justification behind an entry: its own "why", else that of the request it used, else "".
std::string justification(const JournalEntry& entry, const RequestWhys& whys);

// One entry as JSON, with its line ("request_why" added when the why comes from the request).
canonical::Json to_json(const LoggedEntry& logged, const RequestWhys& whys);

// A reference to an entry in findings: {"line": N, "hash": "..."}.
canonical::Json entry_ref(const LoggedEntry& logged);

} // namespace escrow::audit
