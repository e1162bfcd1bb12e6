#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>
#include <escrow/lookup.hpp>
#include <escrow/members.hpp>
#include <escrow/policy.hpp>

#include <algorithm>

namespace escrow {

void check_member_grants(const std::vector<std::string>& roles, const std::vector<std::string>& envs)
{
  std::set<std::string> names;
  for (const auto& role : roles) {
    if (!parse_role(role)) {
      fail(ErrorKind::usage, "member add: unknown role \"{}\" (admin, approver, requester, rotator, auditor)", role);
    }
    names.insert(role);
  }
  for (const auto& env : envs) {
    if (env != "*" && !valid_env_name(env)) {
      fail(ErrorKind::usage, "member add: invalid environment \"{}\" (1-32 of a-z, 0-9, '_', '-', or *)", env);
    }
  }
  if (names.count("rotator") > 0 && (names.count("requester") > 0 || names.count("approver") > 0)) {
    fail(ErrorKind::usage,
         "member add: the rotator role cannot be combined with requester or approver (separation of duties)");
  }
}

const MemberRecord& add_member(Session& session, const PublicIdentity& pub, const std::vector<std::string>& roles,
                               const std::vector<std::string>& envs)
{
  check_member_grants(roles, envs);
  const MemberRecord& me = session.me();
  policy::require_role(me, Role::admin, "member add");
  if (session.vault().member(pub.name) != nullptr) {
    fail(ErrorKind::usage, "{}: a member named {} already exists (names are never reused)",
         session.vault_path().string(), pub.name);
  }
  for (const auto& [name, member] : session.vault().members()) {
    if (member.sign_pk == pub.sign_pk || member.box_pk == pub.box_pk) {
      fail(ErrorKind::usage, "{}: these keys already belong to member {}", session.vault_path().string(), name);
    }
  }
  MemberRecord record;
  record.name = pub.name;
  record.sign_pk = pub.sign_pk;
  record.box_pk = pub.box_pk;
  for (const auto& role : roles) {
    record.roles.insert(*parse_role(role)); // checked above
  }
  record.envs = std::set<std::string>(envs.begin(), envs.end());
  record.added_by = me.name;
  record.added_at = session.now();
  session.vault().sign(record, session.identity());
  session.vault().put_member(record);
  JournalEntry entry;
  entry.action = JournalAction::member_add;
  entry.detail = Json{{"member", pub.name}, {"roles", record.roles}, {"envs", record.envs},
                      {"fingerprint", pub.fingerprint()}};
  session.commit(std::move(entry));
  return *session.vault().member(pub.name);
}

Removal remove_member(Session& session, const std::string& member_name)
{
  Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  policy::require_role(me, Role::admin, "member remove");
  const MemberRecord* target = vault.member(member_name);
  if (target == nullptr) {
    throw with_hint(Error(ErrorKind::usage,
                          fmt::format("{}: no member named {}", session.vault_path().string(), member_name)),
                    member_hint(vault, member_name));
  }
  if (!target->active()) {
    fail(ErrorKind::usage, "{}: {} was already removed", session.vault_path().string(), member_name);
  }
  std::size_t admins = 0;
  for (const auto& [name, member] : vault.members()) {
    admins += member.active() && member.has_role(Role::admin) && name != member_name ? 1 : 0;
  }
  if (admins == 0) {
    fail(ErrorKind::usage, "member remove: {} is the last admin; add another admin first", member_name);
  }
  const Identity& admin = session.identity();
  const std::string removed = member_name;
  // Secrets are verified lazily, against the roster as it stands: verify them all while the
  // member is still active, or their approvals and requests would read as forged below.
  for (const auto& name : vault.secret_names()) {
    (void)vault.secret(name);
  }

  MemberRecord record = *target;
  record.removed_at = session.now();
  record.removed_by = me.name;
  vault.sign(record, admin);
  vault.put_member(record);

  // Nothing the removed member signed may stay live: re-sign it as this admin, void their
  // requests and approvals, and make every secret they could read due for rotation.
  for (const auto& [name, member] : vault.members()) {
    if (name != removed && member.by == removed) {
      MemberRecord copy = member;
      vault.sign(copy, admin);
      vault.put_member(copy);
    }
  }
  if (vault.policy().by == removed) {
    PolicyRecord copy = vault.policy();
    vault.sign(copy, admin);
    vault.put_policy(copy);
  }
  for (const auto& [name, connector] : vault.connectors()) {
    if (connector.by == removed) {
      ConnectorRecord copy = connector;
      if (!can_write_connector(me, copy.env)) {
        fail(ErrorKind::access, "member remove: connector {} was signed by {} and {} cannot re-sign it (environment {})",
             name, removed, me.name, copy.env);
      }
      vault.sign(copy, admin);
      vault.put_connector(copy);
    }
  }
  std::vector<std::string> due;
  for (const auto& name : vault.secret_names()) {
    const SecretRecord& peek = vault.secret(name);
    bool could_read = peek.owner == removed;
    bool touched = peek.by == removed || could_read;
    for (const auto& version : peek.versions) {
      could_read = could_read || version.wrapped.count(removed) > 0 || version.granted.count(removed) > 0
                   || version.shares.count(removed) > 0;
      touched = touched || version.by == removed || version.wrapped.count(removed) > 0 || version.granted.count(removed) > 0;
    }
    for (const auto& request : peek.requests) {
      touched = touched || request.by == removed
                || std::any_of(request.approvals.begin(), request.approvals.end(),
                               [&](const Approval& a) { return a.by == removed; })
                || (request.denial && request.denial->by == removed);
    }
    const bool custodian = std::find(peek.custodians.begin(), peek.custodians.end(), removed) != peek.custodians.end();
    const bool shared = std::find(peek.shared_with.begin(), peek.shared_with.end(), removed) != peek.shared_with.end();
    if (!touched && !custodian && !shared) {
      continue;
    }
    if (!me.reaches(peek.env)) {
      fail(ErrorKind::access, "member remove: {} touches {} and {} does not reach the {} environment to re-sign it",
           removed, name, me.name, peek.env);
    }
    SecretRecord& secret = vault.secret_mut(name);
    secret.shared_with.erase(std::remove(secret.shared_with.begin(), secret.shared_with.end(), removed),
                             secret.shared_with.end());
    if (custodian) {
      secret.custodians.erase(std::remove(secret.custodians.begin(), secret.custodians.end(), removed),
                              secret.custodians.end());
      secret.threshold = std::min<std::int64_t>(secret.threshold, static_cast<std::int64_t>(secret.custodians.size()));
    }
    // Requests by the removed member and approvals or denials they gave are void.
    secret.requests.erase(std::remove_if(secret.requests.begin(), secret.requests.end(),
                                         [&](const Request& r) { return r.by == removed; }),
                          secret.requests.end());
    for (auto& request : secret.requests) {
      request.approvals.erase(std::remove_if(request.approvals.begin(), request.approvals.end(),
                                             [&](const Approval& a) { return a.by == removed; }),
                              request.approvals.end());
      if (request.denial && request.denial->by == removed) {
        request.denial.reset();
      }
    }
    for (auto& version : secret.versions) {
      const bool changed = version.wrapped.erase(removed) + version.granted.erase(removed) > 0;
      if (changed || version.by == removed) {
        vault.sign(secret, version, admin);
      }
    }
    if (could_read && secret.state == SecretState::active) {
      secret.due = fmt::format("member {} removed", removed);
      secret.due_since = session.now();
      due.push_back(name);
    }
    vault.sign_meta(secret, admin);
  }
  JournalEntry entry;
  entry.action = JournalAction::member_remove;
  entry.detail = Json{{"member", removed}, {"due", due}};
  session.commit(std::move(entry));
  return Removal{removed, session.now(), due};
}

} // namespace escrow
