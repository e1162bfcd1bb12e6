// `escrow drill compromise ENV/NAME` on escrow-vault/2: a tabletop exercise (docs/RECOVERY.md). It
// changes nothing but one signed `drill` event in the journal, and prints the playbook a real
// compromise of the secret would follow:
//   - every version, and who could read each and when: standing readers (the holders of the
//     version's generation key: owner, rotators, shares, from the version's creation or from the
//     share operation when later), shares that ended (the journal's unshare; the sealed key stays
//     in git history), grants carried by the version and approved requests (from the k-th
//     approval to expiry), custodians (any k of n together); and who did read it (the journal's
//     reveal and exec events);
//   - the connectors to rotate, in the order rotation runs them, and what else each one serves;
//   - the members to notify, and why each;
//   - the exact commands of the real response;
//   - how long the last real rotation of it took (rotate-start → rotate-finish in the journal).
// Built from the session's verified state and the journal it verified on open.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/history/vault_session.hpp>

#include <optional>
#include <string>
#include <vector>

namespace escrow::history::drill {

struct Access
{
  std::string member;
  std::string via; // owner | rotator | shared | standing | shared-ended | grant | approvals | custodian
  Timestamp from = 0;
  std::optional<Timestamp> until; // nullopt: no end (holds a sealed key in the file)
  std::string request;            // grant / approvals
  std::string note;
  Json to_json() const;
};

struct Read
{
  std::string member;
  std::string action; // reveal | exec
  Timestamp at = 0;
  std::size_t line = 0;
};

struct VersionExposure
{
  std::int64_t v = 0;
  std::string state;
  Timestamp created_at = 0;
  std::string created_by;
  bool keys_present = false; // false: no key line of it is referenced any more
  std::int64_t threshold = 0;
  std::vector<Access> could_read;
  std::vector<Read> reads;
};

struct ConnectorStep
{
  std::size_t order = 0;
  std::string name;
  std::string kind;
  std::string step;    // what the real rotation does with it
  bool pasted = false; // a person pastes the value (the kind's driver pushes nothing)
  std::vector<std::string> also_serves; // other secrets bound to it
};

struct Contact
{
  std::string member;
  std::vector<std::string> why;
  bool removed = false;
};

struct LastRotation
{
  std::int64_t version = 0;
  Timestamp started = 0;
  Timestamp finished = 0;
  std::string by;
  std::int64_t seconds() const { return finished - started; }
};

struct Playbook
{
  std::string secret;
  std::string env;
  std::string owner;
  std::string purpose;
  Timestamp at = 0;
  std::vector<VersionExposure> versions; // by v
  std::vector<ConnectorStep> connectors;
  std::vector<Contact> notify;
  std::vector<std::string> commands;
  std::optional<LastRotation> last_rotation;
  std::vector<std::string> can_rotate;
  std::string entry; // b64 hash of the drill's journal entry
  Json notify_result;

  Json to_json() const;
};

// Builds the playbook (Error(access), journaled as a denied drill, unless the caller is a member
// who reaches the secret's environment), journals one `drill` event and runs the notify hook with
// the drill's outcome. No operation is written.
Playbook compromise(VaultSession& session, const std::string& name);

} // namespace escrow::history::drill
