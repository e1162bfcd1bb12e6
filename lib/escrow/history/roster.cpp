#include <escrow/history/roster.hpp>

#include <escrow/history/lookup.hpp>
#include <escrow/history/refusal.hpp>
#include <escrow/records.hpp>

namespace escrow::history {

VaultSession init_vault(VaultSessionOptions options)
{
  PolicyValue policy;
  policy.envs["*"] = EnvPolicy{};
  return VaultSession::create(std::move(options), policy);
}

Grants parse_grants(const std::vector<std::string>& roles, const std::vector<std::string>& envs, std::string_view what)
{
  Grants out;
  for (const std::string& name : roles) {
    const std::optional<Role> role = parse_role(name);
    if (!role) {
      fail(ErrorKind::usage, "{}: unknown role \"{}\" (admin, approver, requester, rotator, auditor)", what, name);
    }
    out.roles.insert(*role);
  }
  for (const std::string& env : envs) {
    if (env != "*" && !valid_env_name(env)) {
      fail(ErrorKind::usage, "{}: invalid environment \"{}\" (1-32 of a-z, 0-9, '_', '-', or *)", what, env);
    }
    out.envs.insert(env);
  }
  if (out.roles.count(Role::rotator) > 0 && (out.roles.count(Role::requester) > 0 || out.roles.count(Role::approver) > 0)) {
    fail(ErrorKind::usage, "{}: the rotator role cannot be combined with requester or approver (separation of duties)",
         what);
  }
  if (out.roles.empty() || out.envs.empty()) {
    fail(ErrorKind::usage, "{}: at least one --role and one --env", what);
  }
  return out;
}

Entry add_member(VaultSession& session, const PublicIdentity& pub, const Grants& grants)
{
  if (!valid_member_name(pub.name)) {
    fail(ErrorKind::usage, "member add: invalid member name \"{}\"", pub.name);
  }
  MemberAddArgs args;
  args.name = pub.name;
  args.sign_pk = pub.sign_pk;
  args.box_pk = pub.box_pk;
  args.roles = grants.roles;
  args.envs = grants.envs;
  return journaling_refusal(session, OpKind::member_add, Json{{"member", pub.name}},
                            [&] { return session.submit(std::move(args)); });
}

Entry set_member(VaultSession& session, const std::string& name, const Grants& grants)
{
  (void)find_member(session.state(), name, "member set"); // a name that is not there: usage, nothing journaled
  MemberSetArgs args;
  args.name = name;
  args.roles = grants.roles;
  args.envs = grants.envs;
  return journaling_refusal(session, OpKind::member_set, Json{{"member", name}},
                            [&] { return session.submit(std::move(args)); });
}

Removal remove_member(VaultSession& session, const std::string& name, std::optional<std::string> why)
{
  (void)find_member(session.state(), name, "member remove"); // a name that is not there: usage, nothing journaled
  // What was due before, to name only what this removal made due.
  std::map<std::string, std::map<std::string, Timestamp>> before;
  for (const auto& [secret_name, secret] : session.state().secrets) {
    before[secret_name] = secret->due;
  }
  MemberRemoveArgs args;
  args.name = name;
  const Entry entry = journaling_refusal(session, OpKind::member_remove, Json{{"member", name}},
                                         [&] { return session.submit(std::move(args), {}, std::move(why)); });
  Removal out;
  out.member = name;
  out.removed_at = entry.ts;
  for (const auto& [secret_name, secret] : session.state().secrets) {
    if (secret->due != before[secret_name]) {
      out.due.push_back(secret_name);
    }
  }
  return out;
}

} // namespace escrow::history
