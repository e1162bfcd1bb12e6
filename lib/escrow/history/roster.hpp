// The team on escrow-vault/2 (vault-2-plan.md step 5b, roster group): init, member add, member
// set, member remove as operations submitted through history::VaultSession. Each builds one
// operation and submits it once; the rules are history::authorize's (a refusal is exit 4, nothing
// written). The command-line checks that v1 made before touching the vault (role names,
// environment names, separation of duties) stay usage errors (exit 2) here.
#pragma once

#include <escrow/history/vault_session.hpp>
#include <escrow/identity.hpp>

#include <optional>
#include <string>
#include <vector>

namespace escrow::history {

// escrow init: a new vault whose genesis admin (admin of "*") is the identity, under the default
// policy ("*": the EnvPolicy defaults).
VaultSession init_vault(VaultSessionOptions options);

// Roles and environments as typed on the command line (Error(usage) naming `what`): known roles,
// environment names or "*", rotator never with requester or approver.
struct Grants
{
  std::set<Role> roles;
  std::set<std::string> envs;
};
Grants parse_grants(const std::vector<std::string>& roles, const std::vector<std::string>& envs, std::string_view what);

// escrow member add (an admin of every environment named).
Entry add_member(VaultSession& session, const PublicIdentity& pub, const Grants& grants);

// escrow member set NAME --role … --env … (roles and environments replaced). A NAME that is no
// member is Error(usage) with a "did you mean" hint (history/lookup.hpp), nothing journaled.
Entry set_member(VaultSession& session, const std::string& name, const Grants& grants);

// escrow member remove NAME: the member's access ends; every secret they could read becomes due.
// A NAME that is no member is Error(usage) with a hint, nothing journaled; the rules judge the
// rest (a removed member, the last admin: exit 4, journaled as denied).
struct Removal
{
  std::string member;
  Timestamp removed_at = 0;
  std::vector<std::string> due; // ENV/NAME made due by this removal
};
Removal remove_member(VaultSession& session, const std::string& name, std::optional<std::string> why = std::nullopt);

} // namespace escrow::history
