// Who may do what (DESIGN §1, §3, §4): roles, environments and separation of duties.
//
// Every check throws Error(access) with a one-line reason; commands call them before they
// change anything, so a refusal leaves the vault untouched.
#pragma once

#include <escrow/records.hpp>
#include <escrow/vault.hpp>

#include <set>
#include <string>

namespace escrow::policy {

// The member reaches the environment, or Error(access).
void require_env(const MemberRecord& member, std::string_view env, std::string_view what);
void require_role(const MemberRecord& member, Role role, std::string_view action);

// Members with standing access to new versions of `secret`: the owner, the rotators of its
// environment and the members it was explicitly shared with — active ones who reach the
// environment. Admins are not included (least privilege).
std::set<std::string> standing_readers(const Vault& vault, const SecretRecord& secret);

// Who may add a secret in `env` / manage it (owner, admin, rotator).
void require_can_add(const MemberRecord& member, std::string_view env);
void require_can_manage(const MemberRecord& member, const SecretRecord& secret, std::string_view action);

// Separation of duties for requests and approvals.
void require_can_request(const MemberRecord& member, const SecretRecord& secret);
void require_can_approve(const MemberRecord& approver, const SecretRecord& secret, const Request& request);

// The environment policy's cap for a request's TTL; Error(access) when over it.
void check_ttl(const PolicyRecord& policy, std::string_view env, std::int64_t ttl);

} // namespace escrow::policy
