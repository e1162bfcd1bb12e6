// The people side of `audit report` (docs/AUDIT.md): who read what and why, how the roster and
// its roles changed, who can read what now, and connectors whose last verify failed or is stale.
// Built from the escrow-vault/2 state (as the session verified it) and the journal's entries.
#pragma once

#include <escrow/audit/entries.hpp>
#include <escrow/history/state.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace escrow::audit {

// One journaled access: a reveal or an exec (refused ones too).
struct ReadEvent
{
  Timestamp ts = 0;
  std::string actor;
  std::string secret;
  std::optional<std::int64_t> version;
  std::string action; // reveal | exec
  std::string result; // ok | denied | failed
  std::string justification; // the entry's why, else that of the request it used, else ""
  std::size_t line = 0;
  std::string hash;
};

// A member added (with their roles and environments), changed (member-set: the new roles and
// environments) or removed; the genesis admin at init.
struct RosterChange
{
  Timestamp ts = 0;
  std::string change; // genesis | added | changed | removed
  std::string member;
  std::vector<std::string> roles;
  std::vector<std::string> envs;
  std::string by;
  std::size_t line = 0;
};

// Who can read one active secret now, and how: owner, rotator (of its environment), shared
// (by the owner), grant (k approvals, until its expiry). Custodians hold a share, not the value.
struct ReadAccess
{
  std::string secret;
  std::map<std::string, std::string> readers; // member -> "owner", "rotator", "shared", "grant until …"
  std::vector<std::string> custodians;
  std::int64_t threshold = 0;
};

// A connector whose last check failed, is older than the stale limit, or never happened.
struct ConnectorHealth
{
  std::string connector;
  std::string env;
  std::string kind;
  std::string state; // failed | stale | never-verified
  std::optional<Timestamp> last_check;
  std::string detail;
  std::size_t line = 0; // 0 = no entry
};

struct Activity
{
  std::vector<ReadEvent> reads;        // in journal order
  std::vector<RosterChange> roster;    // in journal order
  std::vector<ReadAccess> can_read;    // by secret name
  std::vector<std::string> members;    // active members, the matrix's columns
  std::vector<ConnectorHealth> connectors;
  std::string journal_head;            // the newest entry's hash ("" for an empty journal)
  std::size_t journal_head_line = 0;
  std::vector<std::string> heads;      // the journal's heads as verified (the head file names them)
};

// A request's phase at `now` (as `escrow grants` shows it): pending, granted, expired, denied,
// void; `approvals` counted for the current version, `threshold` its k.
std::string request_phase(const history::State& state, const history::Secret& secret, const std::string& id,
                          const history::RequestOf& request, Timestamp now, std::size_t* approvals = nullptr,
                          std::int64_t* threshold = nullptr);

Activity build_activity(const history::State& state,
                        const std::vector<AuditEntry>& journal,
                        const std::vector<history::Hash>& heads,
                        Timestamp now,
                        std::int64_t stale_after);

} // namespace escrow::audit
