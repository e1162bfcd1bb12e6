// Who may do what (DESIGN §1, §3, §4): roles, environments and separation of duties.
//
// Every check throws Error(access) with a one-line reason; commands call them before they
// change anything, so a refusal leaves the vault untouched.
#pragma once

#include <escrow/error.hpp>
#include <escrow/records.hpp>
#include <escrow/vault.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

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

// The auditor rule: a member whose only role is auditor reads the journal and the inventory,
// never a value.
[[nodiscard]] bool auditor_only(const MemberRecord& member);

// Read access (get, exec): whether `member` may be served a value of `secret` at all — they
// reach its environment, are not only an auditor, and the secret is not retired. Which key
// opens the version (standing access, a grant, k approvals) is versions.hpp's open_data_key.
// `what` names the command in the message ("get", "exec"); `verb` is "read" or "use".
void require_can_read(const MemberRecord& member, const SecretRecord& secret, std::string_view what,
                      std::string_view verb = "read");

// Separation of duties for requests and approvals.
void require_can_request(const MemberRecord& member, const SecretRecord& secret);

// The approval rule, ONE predicate used both to approve (require_can_approve) and to count
// approvals (versions.hpp counted_approvals): an active member with the approver role and
// without the rotator role, a custodian of the secret, reaching its environment, who is not the
// requester. Returns why `approver` may not approve `request`, or nullopt.
[[nodiscard]] std::optional<Error> approval_refusal(const MemberRecord& approver, const SecretRecord& secret,
                                                    const Request& request);
void require_can_approve(const MemberRecord& approver, const SecretRecord& secret, const Request& request);

// Rotation rights: who may make, confirm, roll back or retire versions of `secret` (its owner,
// an admin or a rotator, active and reaching its environment; require_can_manage throws).
[[nodiscard]] bool may_rotate(const MemberRecord& member, const SecretRecord& secret);
// Who is expected to rotate it, as named to people: its owner and the rotators (admins may, but
// are not asked). Active members reaching the environment, in name order.
std::vector<std::string> rotators_of(const Vault& vault, const SecretRecord& secret);

// The environment policy's cap for a request's TTL; Error(access) when over it.
void check_ttl(const PolicyRecord& policy, std::string_view env, std::int64_t ttl);

} // namespace escrow::policy
