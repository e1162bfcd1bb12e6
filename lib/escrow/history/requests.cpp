#include <escrow/history/requests.hpp>

#include <escrow/canonical.hpp>
#include <escrow/crypto.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/material.hpp>
#include <escrow/history/refusal.hpp>
#include <escrow/history/secrets.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace escrow::history {

namespace {

const RequestOf& find_request(const Secret& secret, std::string_view id, std::string_view what)
{
  const bool well_formed = !id.empty() && id.size() <= 32
                           && std::all_of(id.begin(), id.end(), [](char c) {
                                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                              });
  if (!well_formed) {
    fail(ErrorKind::usage, "{}: \"{}\" is not a request id (16 lower-case hex characters)", what, id);
  }
  const auto it = secret.requests.find(std::string(id));
  if (it == secret.requests.end()) {
    fail(ErrorKind::usage, "{}: {} has no request {}", what, secret.name, id);
  }
  return it->second;
}

} // namespace

Filed file_request(VaultSession& session, std::string_view name, std::int64_t ttl, const std::string& why)
{
  if (ttl <= 0) {
    fail(ErrorKind::usage, "request: --ttl must be positive");
  }
  const Secret& secret = find_secret(session.state(), name, "request");
  const std::string full_name = secret.name;
  std::string id;
  do {
    id = canonical::hex(crypto::random_bytes(8));
  } while (secret.requests.count(id) > 0);
  const Json detail{{"secret", full_name}, {"request", id}};
  return journaling_refusal(session, OpKind::request, detail, [&] {
    RequestArgs args;
    args.secret = full_name;
    args.id = id;
    args.ttl = ttl;
    session.submit(std::move(args), {}, why.empty() ? std::nullopt : std::optional<std::string>(why));
    const Secret& after = *session.state().secret(full_name);
    return Filed{id, after.requests.at(id).until, after.threshold, after.custodians};
  });
}

Approval approve(VaultSession& session, std::string_view name, std::string_view id)
{
  const State& state = session.state();
  const Secret& secret = find_secret(state, name, "approve");
  const std::string full_name = secret.name;
  const RequestOf& request = find_request(secret, id, "approve");
  std::string vid;
  const Version* version = secret.find_state(VersionState::current, &vid);
  if (version == nullptr) {
    fail(ErrorKind::usage, "approve: {} has no current version", full_name);
  }
  const Json detail{{"secret", full_name}, {"request", std::string(id)}, {"version", version->v}};
  return journaling_refusal(session, OpKind::approve, detail, [&] {
    const std::string me = session.me().name;
    const auto mine = version->shares.find(me);
    const Member* requester = state.member(request.by);
    if (requester == nullptr) {
      fail(ErrorKind::integrity, "approve: {}: request {} names no member", full_name, id);
    }
    const SecretRef ref{session.vault_id(), full_name};
    const std::optional<Vid> parsed = Vid::from_hex(vid);
    if (!parsed) {
      fail(ErrorKind::integrity, "approve: {}: malformed version id", full_name);
    }
    const VersionRef vref{*parsed, static_cast<std::uint32_t>(version->gen), version->dk_commit, version->material};
    // The approver's own share is opened to be re-sealed; submit judges the approval (rules).
    ApproveArgs args;
    args.secret = full_name;
    args.request = std::string(id);
    args.requester = request.by;
    args.vid = vid;
    args.v = version->v;
    args.dk_commit = version->dk_commit;
    Material material;
    // Without a share of the version there is nothing to re-seal: the rules refuse the approval
    // (and say why) without any line.
    if (mine != version->shares.end()) {
      const SecretBytes share = open_own_share(session.keys(), ref, vref, mine->second, session.identity());
      material.lines.push_back(
        seal_approval(ref, *parsed, id, me, share, Recipient{requester->name, requester->box_pk}));
    }
    Approval out;
    out.requester = request.by;
    out.v = version->v;
    out.threshold = version->threshold;
    out.why = request.why;
    out.until = request.until;
    const std::string id_copy(id);
    session.submit(std::move(args), material);
    const Secret& after = *session.state().secret(full_name);
    out.approvals = counted(session.state(), after, after.requests.at(id_copy), vid).size();
    return out;
  });
}

std::string deny(VaultSession& session, std::string_view name, std::string_view id, const std::string& why)
{
  if (why.empty()) {
    fail(ErrorKind::usage, "deny: a reason is required (--why \"...\")");
  }
  const Secret& secret = find_secret(session.state(), name, "deny");
  const std::string full_name = secret.name;
  const std::string requester = find_request(secret, id, "deny").by;
  const Json detail{{"secret", full_name}, {"request", std::string(id)}};
  return journaling_refusal(session, OpKind::deny, detail, [&] {
    DenyArgs args;
    args.secret = full_name;
    args.request = std::string(id);
    session.submit(std::move(args), {}, why);
    return requester;
  });
}

std::string_view request_phase_name(RequestPhase phase)
{
  switch (phase) {
  case RequestPhase::pending: return "pending";
  case RequestPhase::granted: return "granted";
  case RequestPhase::expired: return "expired";
  case RequestPhase::denied: return "denied";
  case RequestPhase::voided: return "void";
  }
  return "pending";
}

GrantsOverview grants_overview(const State& state, const std::string& member, Timestamp now)
{
  GrantsOverview out;
  for (const auto& [name, secret] : state.secrets) {
    if (!reaches(state, member, secret->env)) {
      continue;
    }
    std::string vid;
    const Version* current = secret->find_state(VersionState::current, &vid);
    for (const auto& [id, request] : secret->requests) {
      GrantsItem item;
      item.secret = name;
      item.id = id;
      item.request = &request;
      item.threshold = current != nullptr ? current->threshold : secret->threshold;
      item.approvals = current != nullptr ? counted(state, *secret, request, vid).size() : 0;
      item.carried = current != nullptr && current->grants.count(request.by) > 0
                     && current->grants.at(request.by).request == id;
      // Approved at some point: k counted approvals for a version, or a grant carried by one.
      bool approved = item.carried;
      for (const auto& [other_vid, version] : secret->versions) {
        approved = approved || (version.threshold > 0
                                && static_cast<std::int64_t>(counted(state, *secret, request, other_vid).size())
                                     >= version.threshold);
      }
      item.phase = request.voided            ? RequestPhase::voided
                   : request.denial          ? RequestPhase::denied
                   : !(now < request.until)  ? RequestPhase::expired
                   : approved                ? RequestPhase::granted
                                             : RequestPhase::pending;
      if (request.by == member) {
        if (approved) {
          out.grants.push_back(item);
        } else if (item.phase == RequestPhase::pending) {
          out.pending.push_back(item);
        } else {
          out.closed.push_back(item);
        }
      } else if (item.phase == RequestPhase::pending && current != nullptr && current->shares.count(member) > 0
                 && request.approvals.count(member) == 0) {
        out.awaiting.push_back(item);
      }
    }
  }
  return out;
}

} // namespace escrow::history
