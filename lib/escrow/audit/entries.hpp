// Reading an escrow-vault/2 journal for people (docs/AUDIT.md): its entries (history::Entry:
// operations and events) with their line numbers and the facts the audit commands filter and
// count on — the secrets an entry concerns, their environments, the version, the request, the
// member, the connectors — taken from the operation's typed arguments or the event's detail.
//
// The entries read here are the lines of a journal the session has already verified (replay:
// hashes, signatures, authorisation); `audit verify` (journal_check.hpp) is what reports
// tampering. A final fragment without "\n" (a torn write) is not an entry and is skipped.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/state.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace escrow::history {
class VaultSession;
}

namespace escrow::audit {

struct AuditEntry
{
  std::size_t line = 0; // 1-based line of the journal
  history::Entry entry;
  std::string hash;   // b64 of entry.hash
  std::string action; // "reveal", "secret-add", "rotate-start", …
  std::string result; // "ok", "denied", "failed"
  std::vector<std::string> secrets; // every secret it concerns, in the order the entry names them
  std::string secret;               // the first of them ("" when none)
  std::set<std::string> envs;       // their environments, and a connector's or policy's
  std::optional<std::int64_t> version; // the version number, when the entry names one
  std::string vid;                     // the version id, when the entry names one
  std::string request;                 // the request id, when the entry names one
  std::string member;                  // the member an entry acts on (member-*, share, unshare)
  std::vector<std::string> connectors; // connectors it names

  const std::string& why() const;
  // The event's detail field `key` as a string, "" when absent.
  std::string detail_string(std::string_view key) const;
};

// Every complete line of `journal`, parsed strictly (Error(integrity) "<what>: line N: …"), with
// its facts. `state` (the verified state) turns version ids into version numbers.
std::vector<AuditEntry> read_journal(std::string_view journal, const history::State* state, std::string_view what);
// The session's journal, as verified when it was opened.
std::vector<AuditEntry> read_entries(history::VaultSession& session);

// Accesses: a value was, or was attempted to be, decrypted for someone (reveal, exec, any result).
bool is_access(const AuditEntry& entry);
// A rotation's outcome (its one mark on the timeline): rotate-finish, a rotate-fail other than
// the rolling-back intent, or a rotation operation that failed.
bool is_rotation(const AuditEntry& entry);

struct LogFilter
{
  std::string secret; // ENV/NAME; a trailing '*' matches a prefix ("prod/*")
  std::string actor;
  std::string env;    // one of the entry's environments
  std::string action; // a trailing '*' matches a prefix ("rotate*")
  std::optional<Timestamp> since; // ts >= since
  std::optional<Timestamp> until; // ts < until
};

bool matches(const AuditEntry& entry, const LogFilter& filter);
std::vector<const AuditEntry*> filter_entries(const std::vector<AuditEntry>& entries, const LogFilter& filter);

// --since/--until values: an RFC 3339 time, a date, Unix seconds, or a duration meaning that
// long before `now` ("30d"). Error(usage) naming `option` otherwise.
Timestamp time_arg(std::string_view text, Timestamp now, std::string_view option);

// The justifications of requests, by (secret, request id): the state's request records, and the
// journal's request operations for requests the state no longer holds.
using RequestWhys = std::map<std::pair<std::string, std::string>, std::string>;
RequestWhys request_whys(const std::vector<AuditEntry>& entries, const history::State* state);
// The justification behind an entry: its own "why", else that of the request it used, else "".
std::string justification(const AuditEntry& entry, const RequestWhys& whys);

// One entry as JSON: its own fields (ts, actor, host, action, result, parents, why, detail, the
// operation's args), its line and hash, the facts above (secret, secrets, env, version, vid,
// request, member, connectors) and "request_why" when the why comes from the request.
canonical::Json to_json(const AuditEntry& logged, const RequestWhys& whys);

// A reference to an entry in findings: {"line": N, "hash": "..."}.
canonical::Json entry_ref(const AuditEntry& logged);

} // namespace escrow::audit
