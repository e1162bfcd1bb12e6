// Escrow on escrow-vault/2 (vault-2-plan.md step 5b, escrow group; DESIGN §4): request → approve
// (the approver's share of the current version re-sealed to the requester: an ap line bound to
// request, requester, version and dk_commit) → access (secrets.hpp reveal), deny, and the
// overview of `escrow grants`. Each write is one operation through VaultSession::submit; the
// rules are history::authorize's; a member's refusal is journaled as a denied event.
#pragma once

#include <escrow/history/vault_session.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

// escrow request: a new request (16 hex id) for `ttl` seconds with justification `why` (the
// entry's why; "" = none). Error(usage) for an unknown secret or a ttl <= 0.
struct Filed
{
  std::string id;
  Timestamp until = 0;
  std::int64_t threshold = 0;
  std::set<std::string> custodians;
};
Filed file_request(VaultSession& session, std::string_view name, std::int64_t ttl, const std::string& why);

// escrow approve: the approver opens their sh line of the current version and re-seals it to the
// requester (one ap line). Error(usage) for an unknown secret or request.
struct Approval
{
  std::string requester;
  std::int64_t v = 0;
  std::size_t approvals = 0; // counted for that version, this one included
  std::int64_t threshold = 0;
  Timestamp until = 0;
  std::string why;
  bool granted() const { return static_cast<std::int64_t>(approvals) >= threshold; }
};
Approval approve(VaultSession& session, std::string_view name, std::string_view id);

// escrow deny: closes the request with a reason (the entry's why). Returns the requester.
std::string deny(VaultSession& session, std::string_view name, std::string_view id, const std::string& why);

// What `escrow grants` shows a member (a read of the state).
enum class RequestPhase { pending, granted, expired, denied, voided };
std::string_view request_phase_name(RequestPhase phase);
struct GrantsItem
{
  std::string secret;
  std::string id;
  const RequestOf* request = nullptr;
  RequestPhase phase = RequestPhase::pending;
  std::size_t approvals = 0; // counted for the current version
  std::int64_t threshold = 0;
  bool carried = false;      // the current version carries a grant for it
};
struct GrantsOverview
{
  std::vector<GrantsItem> pending;  // their open requests without k approvals yet
  std::vector<GrantsItem> grants;   // their approved requests: active, expired, denied or void
  std::vector<GrantsItem> closed;   // expired, denied or void before approval
  std::vector<GrantsItem> awaiting; // others' open requests on secrets they are custodian of,
                                    // not yet approved by them for the current version
};
GrantsOverview grants_overview(const State& state, const std::string& member, Timestamp now);

} // namespace escrow::history
