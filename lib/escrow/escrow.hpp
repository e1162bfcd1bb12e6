// Escrow (DESIGN §4): request → approve → access, denials, grants, and the policy that bounds them.
//
// The protocol, as records in the vault (records.hpp has their fields and signing paths):
//   1. The requester adds a signed Request {id, why, ttl, created_at} to the secret. The id is 16
//      lowercase hex characters from the system CSPRNG. The TTL is capped by the environment's
//      policy and the justification is required when the policy says so.
//   2. Each approving custodian opens their Shamir share of the CURRENT version (sealed to them in
//      version.shares), re-seals it to the requester's X25519 key and signs an Approval
//      {v, share, created_at} under the path ".../request/ID/approval/NAME": the signature binds
//      the vault, the secret, the request id, the approver and the version, so an approval
//      cannot be moved to another request, secret, version or vault.
//   3. With k approvals counted (versions.hpp: counted_approvals) the requester combines the
//      shares to the data key, which must match the version's dk_commit (open_data_key).
//   4. A signed Denial closes a request. Expiry (created_at + ttl) ends it. Rotation carries
//      unexpired grants to the new version (carried_grants), expired ones are dropped.
//
// Every function here checks everything BEFORE it changes the vault, so a refusal leaves the
// document as it was; the caller commits (Session::commit) after a success. Refusals are
// Error(access) (exit 4), unreadable or forged material Error(integrity) (exit 3), bad
// arguments Error(usage) (exit 2). Messages never contain key material.
#pragma once

#include <escrow/identity.hpp>
#include <escrow/records.hpp>
#include <escrow/session.hpp>
#include <escrow/vault.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace escrow {

constexpr std::size_t k_max_why_size = 1024;
constexpr std::size_t k_max_notify_size = 4096;

// A fresh request id: 16 lowercase hex characters (8 random bytes), unused in `secret`.
std::string new_request_id(const SecretRecord& secret);
// Whether text is a well-formed request id (1-32 of [a-z0-9]; escrow writes 16 hex characters).
[[nodiscard]] bool valid_request_id(std::string_view id);

// The request named `id`, or Error(usage) naming the secret.
const Request& find_request(const Vault& vault, const SecretRecord& secret, std::string_view id);

enum class RequestState {
  pending, // open, fewer than k approvals for the current version
  granted, // the requester can read the current version (k approvals, or a carried grant)
  expired, // past created_at + ttl
  denied,  // closed by a denial
};
std::string_view request_state_name(RequestState state);

struct RequestStatus
{
  RequestState state = RequestState::pending;
  std::size_t approvals = 0;  // counted for the current version
  std::int64_t threshold = 0; // k
  bool approved = false;      // reached k for some version or was carried: it is or was a grant
  bool carried = false;       // the current version carries a grant for it (made before a rotation)
};
RequestStatus request_status(const Vault& vault, const SecretRecord& secret, const Request& request, Timestamp now);

// 1. A new signed request by `requester` for `full_name`, added to the vault (not yet saved).
//    Refused (access) for: a member outside the environment, without the requester role, with
//    the rotator role; a secret without custodians, retired, or without a current version; a
//    requester who already has standing access; a custodian-requester when fewer than k other
//    custodians could approve; a TTL over the policy's cap; a missing justification when the
//    policy requires one. Usage: a TTL <= 0, a justification that is too long, not UTF-8 or has
//    control characters.
const Request& request_access(Vault& vault,
                              std::string_view full_name,
                              const Identity& requester,
                              std::int64_t ttl,
                              const std::string& why,
                              Timestamp now);

struct ApprovalResult
{
  std::string requester;
  std::int64_t v = 0;         // the version whose share was re-sealed
  std::size_t approvals = 0;  // counted for that version, this one included
  std::int64_t threshold = 0;
  bool granted() const { return static_cast<std::int64_t>(approvals) >= threshold; }
};

// 2. The approver's share of the current version, re-sealed to the requester, signed and added.
//    Refused (access) for: self-approval; an approver who is not a custodian of the secret, lacks
//    the approver role, has the rotator role or is outside the environment; a denied or expired
//    request; a second approval of the same request (an approval counts once); a requester who is
//    no longer an active member; a version with no share for the approver. Integrity: the
//    approver's share does not open with their key or is malformed.
ApprovalResult approve_request(Vault& vault,
                               std::string_view full_name,
                               std::string_view id,
                               const Identity& approver,
                               Timestamp now);

// 4. A signed denial closing the request (a granted one too: the tool then refuses to use the
//    grant; what was already seen stays seen). Allowed to the secret's custodians, its owner,
//    admins of its environment and the requester (who withdraws). Refused (access) for anyone
//    else, an expired or already denied request, and a missing reason.
const Request& deny_request(Vault& vault,
                            std::string_view full_name,
                            std::string_view id,
                            const Identity& member,
                            const std::string& why,
                            Timestamp now);

// Records the first use of a grant (request.used_at, re-signed by the requester), which makes an
// after_access secret due for rotation. Returns false if it was already marked or is not theirs.
bool mark_grant_used(Vault& vault, std::string_view full_name, std::string_view id, const Identity& requester,
                     Timestamp now);

// What `escrow grants` shows a member.
struct GrantsItem
{
  std::string secret; // ENV/NAME
  const Request* request = nullptr;
  RequestStatus status;
};

struct GrantsOverview
{
  std::vector<GrantsItem> pending;  // their open requests without k approvals yet
  std::vector<GrantsItem> grants;   // their approved requests: active, expired or revoked (denied)
  std::vector<GrantsItem> closed;   // their requests that expired or were denied before approval
  std::vector<GrantsItem> awaiting; // others' open requests on secrets they are custodian of,
                                    // which they have not approved for the current version
};

// Over every secret in the environments the member reaches (each is verified on first use).
GrantsOverview grants_overview(const Vault& vault, const std::string& member, Timestamp now);

// Policy edits (admins). Unset fields are left as they are; an environment without its own entry
// starts from the "*" defaults.
struct PolicyChange
{
  std::optional<std::int64_t> min_threshold; // 1..255
  std::optional<std::int64_t> max_ttl;       // seconds, > 0
  std::optional<bool> require_why;
  std::optional<std::int64_t> every;         // seconds, 0 = no default cadence
  std::optional<std::int64_t> keep;          // 0..1000
  std::optional<std::string> notify;         // vault-wide hook; "" = none

  bool empty() const
  {
    return !min_threshold && !max_ttl && !require_why && !every && !keep && !notify;
  }
};

// Applies `change` to the environment `env` ("*" = the default; "" = no environment, e.g. only
// the notify hook), re-signs the policy as `admin` and puts it in the vault. Error(access) unless
// `admin` is an active admin reaching `env` (every environment for "*"); Error(usage) for bad
// values. Returns the policy as it now stands.
const PolicyRecord& change_policy(Vault& vault, const Identity& admin, const std::string& env, const PolicyChange& change);

// --- The commands' operations on a Session: the checks above, journaled through the session
// (commit on success; an access refusal through Session::refusing, so it is journaled "denied").

// escrow request: a new request by the session's member; journaled "request".
const Request& file_request(Session& session, std::string_view name, std::int64_t ttl, const std::string& why);
// escrow approve; journaled "approve".
ApprovalResult approve(Session& session, std::string_view name, std::string_view id);
// escrow deny; journaled "deny".
const Request& deny(Session& session, std::string_view name, std::string_view id, const std::string& why);
// escrow policy set / set-notify; journaled "policy-set" with the changed fields.
const PolicyRecord& set_policy(Session& session, const std::string& env, const PolicyChange& change);

} // namespace escrow
