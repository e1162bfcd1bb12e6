#include <escrow/error.hpp>
#include <escrow/policy.hpp>

#include <algorithm>

namespace escrow::policy {

void require_env(const MemberRecord& member, std::string_view env, std::string_view what)
{
  if (!member.reaches(env)) {
    throw Error(ErrorKind::access,
                fmt::format("{}: {} is not assigned to the {} environment", what, member.name, env))
      .hint("an admin assigns environments with: escrow member add PUBFILE --env ENV");
  }
}

void require_role(const MemberRecord& member, Role role, std::string_view action)
{
  if (!member.has_role(role)) {
    fail(ErrorKind::access, "{} needs the {} role, which {} does not have", action, role_name(role), member.name);
  }
}

std::set<std::string> standing_readers(const Vault& vault, const SecretRecord& secret)
{
  std::set<std::string> readers;
  const auto add = [&](const std::string& name) {
    const MemberRecord* member = vault.member(name);
    if (member != nullptr && member->active() && member->reaches(secret.env)) {
      readers.insert(name);
    }
  };
  add(secret.owner);
  for (const auto& [name, member] : vault.members()) {
    if (member.has_role(Role::rotator)) {
      add(name);
    }
  }
  for (const auto& name : secret.shared_with) {
    add(name);
  }
  return readers;
}

void require_can_add(const MemberRecord& member, std::string_view env)
{
  require_env(member, env, "add");
  if (member.has_role(Role::auditor) && !member.has_role(Role::admin) && !member.has_role(Role::requester)
      && !member.has_role(Role::rotator)) {
    fail(ErrorKind::access, "add: {} is an auditor and may not add secrets", member.name);
  }
}

void require_can_manage(const MemberRecord& member, const SecretRecord& secret, std::string_view action)
{
  require_env(member, secret.env, action);
  if (!may_rotate(member, secret)) {
    fail(ErrorKind::access, "{}: only the owner ({}), an admin or a rotator may change {}", action,
         secret.owner, secret.full_name());
  }
}

void require_can_request(const MemberRecord& member, const SecretRecord& secret)
{
  require_env(member, secret.env, "request");
  if (member.has_role(Role::rotator)) {
    fail(ErrorKind::access, "request: {} has the rotator role, which may not request access (separation of duties)",
         member.name);
  }
  if (!member.has_role(Role::requester)) {
    fail(ErrorKind::access, "request needs the requester role, which {} does not have", member.name);
  }
  if (secret.custodians.empty()) {
    fail(ErrorKind::access, "request: {} has no custodians; ask its owner ({}) to share it", secret.full_name(),
         secret.owner);
  }
}

std::optional<Error> approval_refusal(const MemberRecord& approver, const SecretRecord& secret, const Request& request)
{
  const auto refuse = [](std::string message) { return std::optional<Error>(Error(ErrorKind::access, std::move(message))); };
  if (approver.name == request.by) {
    return refuse(fmt::format("approve: {} cannot approve their own request (separation of duties)", approver.name));
  }
  if (!approver.active()) {
    return refuse(fmt::format("approve: {} is no longer a member", approver.name));
  }
  if (approver.has_role(Role::rotator)) {
    return refuse(fmt::format("approve: {} has the rotator role, which may not approve access (separation of duties)",
                              approver.name));
  }
  if (!approver.has_role(Role::approver)) {
    return refuse(fmt::format("approve needs the approver role, which {} does not have", approver.name));
  }
  if (std::find(secret.custodians.begin(), secret.custodians.end(), approver.name) == secret.custodians.end()) {
    return refuse(fmt::format("approve: {} is not a custodian of {}", approver.name, secret.full_name()));
  }
  try {
    require_env(approver, secret.env, "approve");
  } catch (const Error& error) {
    return error;
  }
  return std::nullopt;
}

void require_can_approve(const MemberRecord& approver, const SecretRecord& secret, const Request& request)
{
  if (auto refusal = approval_refusal(approver, secret, request)) {
    throw *refusal;
  }
}

bool auditor_only(const MemberRecord& member)
{
  return member.roles == std::set<Role>{Role::auditor};
}

void require_can_read(const MemberRecord& member, const SecretRecord& secret, std::string_view what,
                      std::string_view verb)
{
  require_env(member, secret.env, what);
  if (auditor_only(member)) {
    fail(ErrorKind::access, "{}: {} is an auditor and may not {} values", what, member.name, verb);
  }
  if (secret.state == SecretState::retired) {
    fail(ErrorKind::access, "{}: {} is retired and is never served", what, secret.full_name());
  }
}

bool may_rotate(const MemberRecord& member, const SecretRecord& secret)
{
  return can_write_secret(member, secret);
}

std::vector<std::string> rotators_of(const Vault& vault, const SecretRecord& secret)
{
  std::vector<std::string> who;
  for (const auto& [name, member] : vault.members()) {
    if (member.active() && member.reaches(secret.env) && (name == secret.owner || member.has_role(Role::rotator))) {
      who.push_back(name);
    }
  }
  return who;
}

void check_ttl(const PolicyRecord& policy, std::string_view env, std::int64_t ttl)
{
  const EnvPolicy& rules = policy.for_env(env);
  if (ttl > rules.max_ttl) {
    fail(ErrorKind::access, "request: a TTL of {} is over the {} policy's maximum of {}", format_duration(ttl), env,
         format_duration(rules.max_ttl));
  }
}

} // namespace escrow::policy
