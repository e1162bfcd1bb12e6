// The people side of `audit report` (docs/AUDIT.md): who read what and why, how the roster and
// its roles changed, who can read what now, and connectors whose last verify failed or is stale.
// Built from the vault (as verified by the session) and the journal's entries.
#pragma once

#include <escrow/audit/log.hpp>
#include <escrow/vault.hpp>

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
  std::string result; // ok | denied | ...
  std::string justification; // the entry's why, else that of the request it used, else ""
  std::size_t line = 0;
  std::string hash;
};

// A member added (with their roles and environments) or removed; the genesis admin at init.
struct RosterChange
{
  Timestamp ts = 0;
  std::string change; // genesis | added | removed
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
  std::string anchored_head;           // the vault's journal_head (what the vault signs)
};

Activity build_activity(const Vault& vault,
                        const std::vector<LoggedEntry>& journal,
                        Timestamp now,
                        std::int64_t stale_after);

} // namespace escrow::audit
