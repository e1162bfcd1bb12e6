#include <escrow/error.hpp>
#include <escrow/escrow.hpp>
#include <escrow/policy.hpp>
#include <escrow/shamir.hpp>
#include <escrow/versions.hpp>

#include <algorithm>

namespace escrow {

namespace {

bool is_custodian(const SecretRecord& secret, std::string_view name)
{
  return std::find(secret.custodians.begin(), secret.custodians.end(), name) != secret.custodians.end();
}

// The identity's member record, checked against both of its keys.
const MemberRecord& member_of(const Vault& vault, const Identity& identity)
{
  const MemberRecord* member = vault.member(identity.pub.name);
  if (member == nullptr || member->sign_pk != identity.pub.sign_pk || member->box_pk != identity.pub.box_pk) {
    fail(ErrorKind::access, "{}: {} is not a member of this vault", vault.what(), identity.pub.name);
  }
  if (!member->active()) {
    fail(ErrorKind::access, "{}: {} was removed from this vault", vault.what(), identity.pub.name);
  }
  return *member;
}

// Free text for the journal and the vault: UTF-8, bounded, no control characters.
void check_text(std::string_view text, std::string_view action, std::string_view what, std::size_t limit)
{
  if (text.size() > limit) {
    fail(ErrorKind::usage, "{}: the {} is longer than {} bytes", action, what, limit);
  }
  if (!canonical::valid_utf8(text)) {
    fail(ErrorKind::usage, "{}: the {} is not valid UTF-8", action, what);
  }
  if (std::any_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
      })) {
    fail(ErrorKind::usage, "{}: the {} contains control characters", action, what);
  }
}

Request& find_mut(SecretRecord& secret, std::string_view id)
{
  for (Request& request : secret.requests) {
    if (request.id == id) {
      return request;
    }
  }
  fail(ErrorKind::failed, "internal: request {} vanished", id);
}

bool approved_for_some_version(const Vault& vault, const SecretRecord& secret, const Request& request)
{
  if (secret.threshold < 1) {
    return false;
  }
  for (const VersionRecord& version : secret.versions) {
    if (static_cast<std::int64_t>(counted_approvals(vault, secret, request, version.v).size()) >= secret.threshold) {
      return true;
    }
    if (const auto it = version.granted.find(request.by); it != version.granted.end() && it->second.request == request.id) {
      return true;
    }
  }
  return false;
}

} // namespace

std::string new_request_id(const SecretRecord& secret)
{
  for (;;) {
    std::string id = canonical::hex(crypto::random_bytes(8));
    if (std::none_of(secret.requests.begin(), secret.requests.end(), [&](const Request& r) { return r.id == id; })) {
      return id;
    }
  }
}

bool valid_request_id(std::string_view id)
{
  return !id.empty() && id.size() <= 32
         && std::all_of(id.begin(), id.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

const Request& find_request(const Vault& vault, const SecretRecord& secret, std::string_view id)
{
  if (!valid_request_id(id)) {
    fail(ErrorKind::usage, "\"{}\" is not a request id (16 lowercase hex characters, as 'escrow request' printed)",
         canonical::valid_utf8(id) && id.size() <= 64 ? id : "?");
  }
  for (const Request& request : secret.requests) {
    if (request.id == id) {
      return request;
    }
  }
  throw Error(ErrorKind::usage, fmt::format("{}: {} has no request {}", vault.what(), secret.full_name(), id))
    .hint("list open requests with: escrow grants");
}

std::string_view request_state_name(RequestState state)
{
  switch (state) {
  case RequestState::pending: return "pending";
  case RequestState::granted: return "granted";
  case RequestState::expired: return "expired";
  case RequestState::denied: return "denied";
  }
  return "";
}

RequestStatus request_status(const Vault& vault, const SecretRecord& secret, const Request& request, Timestamp now)
{
  RequestStatus status;
  status.threshold = secret.threshold;
  const VersionRecord* current = secret.current();
  if (current != nullptr) {
    status.approvals = counted_approvals(vault, secret, request, current->v).size();
    if (const auto it = current->granted.find(request.by); it != current->granted.end() && it->second.request == request.id) {
      status.carried = true;
    }
  }
  status.approved = approved_for_some_version(vault, secret, request);
  if (request.denial) {
    status.state = RequestState::denied;
  } else if (now >= request.expires_at()) {
    status.state = RequestState::expired;
  } else if (current != nullptr && secret.threshold > 0
             && (static_cast<std::int64_t>(status.approvals) >= secret.threshold || status.carried)) {
    status.state = RequestState::granted;
  } else {
    status.state = RequestState::pending;
  }
  return status;
}

const Request& request_access(Vault& vault,
                              std::string_view full_name,
                              const Identity& requester,
                              std::int64_t ttl,
                              const std::string& why,
                              Timestamp now)
{
  if (ttl <= 0) {
    fail(ErrorKind::usage, "request: the TTL must be positive");
  }
  check_text(why, "request", "justification", k_max_why_size);
  const MemberRecord& me = member_of(vault, requester);
  const SecretRecord& secret = vault.secret(full_name);
  const std::string name = secret.full_name();
  policy::require_can_request(me, secret);
  if (secret.state == SecretState::retired) {
    fail(ErrorKind::access, "request: {} is retired and is never served", name);
  }
  const VersionRecord* current = secret.current();
  if (current == nullptr) {
    fail(ErrorKind::access, "request: {} has no current version to grant", name);
  }
  if (current->wrapped.count(me.name) > 0) {
    fail(ErrorKind::usage, "request: {} already has standing access to {}; use 'escrow get {} --reveal'", me.name,
         name, name);
  }
  if (is_custodian(secret, me.name)
      && static_cast<std::int64_t>(secret.custodians.size()) - 1 < secret.threshold) {
    fail(ErrorKind::access,
         "request: {} is a custodian of {} and only {} other custodian(s) could approve, fewer than the {} required",
         me.name, name, secret.custodians.size() - 1, secret.threshold);
  }
  const EnvPolicy& rules = vault.policy().for_env(secret.env);
  if (rules.require_why && why.empty()) {
    fail(ErrorKind::access, "request: the {} policy requires a justification (--why \"...\")", secret.env);
  }
  policy::check_ttl(vault.policy(), secret.env, ttl);

  SecretRecord& target = vault.secret_mut(full_name);
  Request request;
  request.id = new_request_id(target);
  request.why = why;
  request.ttl = ttl;
  request.created_at = now;
  vault.sign(target, request, requester);
  target.requests.push_back(std::move(request));
  return target.requests.back();
}

ApprovalResult approve_request(Vault& vault,
                               std::string_view full_name,
                               std::string_view id,
                               const Identity& approver,
                               Timestamp now)
{
  const MemberRecord& me = member_of(vault, approver);
  const SecretRecord& secret = vault.secret(full_name);
  const std::string name = secret.full_name();
  const Request& request = find_request(vault, secret, id);
  policy::require_can_approve(me, secret, request);
  if (request.denial) {
    fail(ErrorKind::access, "approve: request {} for {} was denied by {} and is closed", request.id, name,
         request.denial->by);
  }
  if (now >= request.expires_at()) {
    fail(ErrorKind::access, "approve: request {} for {} expired at {}", request.id, name,
         format_time(request.expires_at()));
  }
  if (secret.state == SecretState::retired) {
    fail(ErrorKind::access, "approve: {} is retired and is never served", name);
  }
  const VersionRecord* current = secret.current();
  if (current == nullptr) {
    fail(ErrorKind::access, "approve: {} has no current version", name);
  }
  for (const Approval& approval : request.approvals) {
    if (approval.by == me.name && approval.v == current->v) {
      fail(ErrorKind::access, "approve: {} already approved request {} for {} (an approval counts once)", me.name,
           request.id, name);
    }
  }
  const MemberRecord* requester = vault.member(request.by);
  if (requester == nullptr || !requester->active()) {
    fail(ErrorKind::access, "approve: the requester {} is no longer an active member", request.by);
  }
  const auto sealed = current->shares.find(me.name);
  if (sealed == current->shares.end()) {
    fail(ErrorKind::access, "approve: {} v{} holds no share sealed to {}", name, current->v, me.name);
  }
  const std::string what = fmt::format("{}: {}", vault.what(), version_path(name, current->v));
  std::optional<SecretBytes> opened =
    approver.seal_open(canonical::unb64(sealed->second, what));
  if (!opened) {
    fail(ErrorKind::integrity, "{}: the share sealed to {} does not open with this identity (tampered or misdirected)",
         what, me.name);
  }
  const shamir::Share share = shamir::decode(opened->expose());
  if (share.y.size() != crypto::k_key_size) {
    fail(ErrorKind::integrity, "{}: the share sealed to {} has the wrong length", what, me.name);
  }
  const SecretBytes wire = shamir::encode(share);

  Approval approval;
  approval.v = current->v;
  approval.share = canonical::b64(crypto::seal(wire.expose(), requester->box_pk));
  approval.created_at = now;
  const std::int64_t v = current->v;

  SecretRecord& target = vault.secret_mut(full_name);
  Request& open = find_mut(target, id);
  vault.sign(target, open, approval, approver);
  // An approval of an older version no longer counts; this one replaces it (one per approver).
  open.approvals.erase(std::remove_if(open.approvals.begin(), open.approvals.end(),
                                      [&](const Approval& a) { return a.by == approval.by; }),
                       open.approvals.end());
  open.approvals.push_back(std::move(approval));

  ApprovalResult result;
  result.requester = open.by;
  result.v = v;
  result.approvals = counted_approvals(vault, target, open, v).size();
  result.threshold = target.threshold;
  return result;
}

const Request& deny_request(Vault& vault,
                            std::string_view full_name,
                            std::string_view id,
                            const Identity& member,
                            const std::string& why,
                            Timestamp now)
{
  check_text(why, "deny", "reason", k_max_why_size);
  const MemberRecord& me = member_of(vault, member);
  const SecretRecord& secret = vault.secret(full_name);
  const std::string name = secret.full_name();
  const Request& request = find_request(vault, secret, id);
  policy::require_env(me, secret.env, "deny");
  const bool custodian = is_custodian(secret, me.name) && me.has_role(Role::approver);
  const bool allowed = custodian || me.name == secret.owner || me.has_role(Role::admin) || me.name == request.by;
  if (!allowed) {
    fail(ErrorKind::access, "deny: only a custodian of {}, its owner ({}), an admin or the requester may deny a request",
         name, secret.owner);
  }
  if (why.empty()) {
    fail(ErrorKind::usage, "deny: a reason is required (--why \"...\")");
  }
  if (request.denial) {
    fail(ErrorKind::access, "deny: request {} for {} was already denied by {}", request.id, name, request.denial->by);
  }
  if (now >= request.expires_at()) {
    fail(ErrorKind::access, "deny: request {} for {} already expired at {}", request.id, name,
         format_time(request.expires_at()));
  }
  SecretRecord& target = vault.secret_mut(full_name);
  Request& open = find_mut(target, id);
  Denial denial;
  denial.why = why;
  denial.created_at = now;
  vault.sign(target, open, denial, member);
  open.denial = std::move(denial);
  return open;
}

bool mark_grant_used(Vault& vault, std::string_view full_name, std::string_view id, const Identity& requester,
                     Timestamp now)
{
  const SecretRecord& secret = vault.secret(full_name);
  const auto it = std::find_if(secret.requests.begin(), secret.requests.end(),
                               [&](const Request& r) { return r.id == id; });
  if (it == secret.requests.end() || it->by != requester.pub.name || it->used_at) {
    return false;
  }
  SecretRecord& target = vault.secret_mut(full_name);
  Request& request = find_mut(target, id);
  request.used_at = now;
  vault.sign(target, request, requester);
  return true;
}

GrantsOverview grants_overview(const Vault& vault, const std::string& member, Timestamp now)
{
  GrantsOverview overview;
  const MemberRecord* me = vault.member(member);
  if (me == nullptr) {
    return overview;
  }
  const bool can_approve = me->active() && me->has_role(Role::approver) && !me->has_role(Role::rotator);
  for (const std::string& name : vault.secret_names()) {
    const std::string env = name.substr(0, name.find('/'));
    if (!me->reaches(env)) {
      continue;
    }
    const SecretRecord& secret = vault.secret(name);
    const VersionRecord* current = secret.current();
    const bool custodian = can_approve && is_custodian(secret, member);
    for (const Request& request : secret.requests) {
      const RequestStatus status = request_status(vault, secret, request, now);
      GrantsItem item{name, &request, status};
      if (request.by == member) {
        if (status.state == RequestState::pending) {
          overview.pending.push_back(item);
        } else if (status.state == RequestState::granted || status.approved) {
          overview.grants.push_back(item);
        } else {
          overview.closed.push_back(item);
        }
        continue;
      }
      if (custodian && status.state == RequestState::pending && current != nullptr
          && std::none_of(request.approvals.begin(), request.approvals.end(),
                          [&](const Approval& a) { return a.by == member && a.v == current->v; })) {
        overview.awaiting.push_back(item);
      }
    }
  }
  return overview;
}

const PolicyRecord& change_policy(Vault& vault, const Identity& admin, const std::string& env, const PolicyChange& change)
{
  const MemberRecord& me = member_of(vault, admin);
  policy::require_role(me, Role::admin, "policy set");
  if (change.empty()) {
    fail(ErrorKind::usage, "policy set: nothing to change (give --min-threshold, --max-ttl, --require-why, --every, "
                           "--keep or --notify)");
  }
  if (!env.empty() && env != "*" && !valid_env_name(env)) {
    fail(ErrorKind::usage, "policy set: invalid environment \"{}\" (1-32 of a-z, 0-9, '_', '-', or *)",
         canonical::valid_utf8(env) && env.size() <= 64 ? env : "?");
  }
  const bool env_change = change.min_threshold || change.max_ttl || change.require_why || change.every || change.keep;
  if (env_change && env.empty()) {
    fail(ErrorKind::usage, "policy set: name the environment (ENV or *) whose policy changes");
  }
  if (change.min_threshold && (*change.min_threshold < 1 || *change.min_threshold > 255)) {
    fail(ErrorKind::usage, "policy set: --min-threshold must be between 1 and 255");
  }
  if (change.max_ttl && *change.max_ttl <= 0) {
    fail(ErrorKind::usage, "policy set: --max-ttl must be a positive duration");
  }
  if (change.every && *change.every < 0) {
    fail(ErrorKind::usage, "policy set: --every must be a duration, or 0 for none");
  }
  if (change.keep && (*change.keep < 0 || *change.keep > 1000)) {
    fail(ErrorKind::usage, "policy set: --keep must be between 0 and 1000");
  }
  if (change.notify) {
    check_text(*change.notify, "policy set-notify", "command", k_max_notify_size);
  }
  if (!env.empty()) {
    if (env == "*") {
      if (me.envs.count("*") == 0) {
        fail(ErrorKind::access, "policy set: {} does not reach every environment and may not change the default (*)",
             me.name);
      }
    } else {
      policy::require_env(me, env, "policy set");
    }
  }
  if (change.notify && me.envs.count("*") == 0) {
    fail(ErrorKind::access, "policy set-notify: the notify hook is vault-wide; {} does not reach every environment",
         me.name);
  }

  PolicyRecord record = vault.policy();
  if (env_change) {
    EnvPolicy rules = record.for_env(env);
    if (change.min_threshold) {
      rules.min_threshold = *change.min_threshold;
    }
    if (change.max_ttl) {
      rules.max_ttl = *change.max_ttl;
    }
    if (change.require_why) {
      rules.require_why = *change.require_why;
    }
    if (change.every) {
      rules.every = *change.every;
    }
    if (change.keep) {
      rules.keep = *change.keep;
    }
    record.envs[env] = rules;
  }
  if (change.notify) {
    record.notify = *change.notify;
  }
  vault.sign(record, admin);
  vault.put_policy(std::move(record));
  return vault.policy();
}

namespace {

JournalEntry secret_entry(JournalAction action, const std::string& full_name, const std::string& env)
{
  JournalEntry entry;
  entry.action = action;
  entry.secret = full_name;
  entry.env = env;
  return entry;
}

} // namespace

const Request& file_request(Session& session, std::string_view name, std::int64_t ttl, const std::string& why)
{
  const auto [env, short_name] = split_secret_name(name);
  const std::string full_name = env + "/" + short_name;
  Vault& vault = session.vault();
  (void)vault.secret(full_name); // no such secret: usage, not journaled
  JournalEntry entry = secret_entry(JournalAction::request, full_name, env);
  entry.why = why;
  entry.detail = Json{{"ttl", format_duration(ttl)}};
  const Request& request = session.refusing(entry, [&]() -> const Request& {
    return request_access(vault, full_name, session.identity(), ttl, why, session.now());
  });
  const std::string id = request.id;
  entry.request = id;
  entry.detail["expires_at"] = format_time(request.expires_at());
  session.commit(std::move(entry));
  return find_request(session.vault(), session.vault().secret(full_name), id);
}

ApprovalResult approve(Session& session, std::string_view name, std::string_view id)
{
  const auto [env, short_name] = split_secret_name(name);
  const std::string full_name = env + "/" + short_name;
  Vault& vault = session.vault();
  (void)find_request(vault, vault.secret(full_name), id); // no such request: usage, not journaled
  JournalEntry entry = secret_entry(JournalAction::approve, full_name, env);
  entry.request = std::string(id);
  const ApprovalResult result = session.refusing(entry, [&] {
    return approve_request(vault, full_name, id, session.identity(), session.now());
  });
  entry.version = result.v;
  entry.detail = Json{{"requester", result.requester}, {"approvals", result.approvals}, {"threshold", result.threshold}};
  session.commit(std::move(entry));
  return result;
}

const Request& deny(Session& session, std::string_view name, std::string_view id, const std::string& why)
{
  const auto [env, short_name] = split_secret_name(name);
  const std::string full_name = env + "/" + short_name;
  if (why.empty()) {
    fail(ErrorKind::usage, "deny: a reason is required (--why \"...\")");
  }
  Vault& vault = session.vault();
  (void)find_request(vault, vault.secret(full_name), id);
  JournalEntry entry = secret_entry(JournalAction::deny, full_name, env);
  entry.request = std::string(id);
  entry.why = why;
  const Request& request = session.refusing(entry, [&]() -> const Request& {
    return deny_request(vault, full_name, id, session.identity(), why, session.now());
  });
  entry.detail = Json{{"requester", request.by}};
  session.commit(std::move(entry));
  return find_request(session.vault(), session.vault().secret(full_name), id);
}

const PolicyRecord& set_policy(Session& session, const std::string& env, const PolicyChange& change)
{
  JournalEntry entry;
  entry.action = JournalAction::policy_set;
  if (!env.empty() && env != "*") {
    entry.env = env;
  }
  Json changed = Json::object();
  if (!env.empty()) {
    changed["env"] = env;
  }
  if (change.min_threshold) {
    changed["min_threshold"] = *change.min_threshold;
  }
  if (change.max_ttl) {
    changed["max_ttl"] = format_duration(*change.max_ttl);
  }
  if (change.require_why) {
    changed["require_why"] = *change.require_why;
  }
  if (change.every) {
    changed["every"] = *change.every > 0 ? format_duration(*change.every) : "";
  }
  if (change.keep) {
    changed["keep"] = *change.keep;
  }
  if (change.notify) {
    changed["notify"] = *change.notify;
  }
  entry.detail = changed;
  session.refusing(entry, [&] {
    (void)change_policy(session.vault(), session.identity(), env, change);
    return 0;
  });
  session.commit(std::move(entry));
  return session.vault().policy();
}

} // namespace escrow
