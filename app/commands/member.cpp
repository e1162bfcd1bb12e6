// escrow member add | remove | list
#include <commands/context.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>
#include <escrow/lookup.hpp>
#include <escrow/policy.hpp>
#include <escrow/util/terminal.hpp>

#include <algorithm>
#include <iostream>
#include <iterator>

namespace escrow::cli {

namespace {

struct AddOptions
{
  std::string pubfile;
  std::vector<std::string> roles;
  std::vector<std::string> envs;
};

struct RemoveOptions
{
  std::string name;
};

std::string join(const std::set<std::string>& items)
{
  std::string out;
  for (const auto& item : items) {
    out += out.empty() ? item : "," + item;
  }
  return out;
}

void run_add(const AddOptions& options, Context& context)
{
  std::string text;
  if (options.pubfile == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    text = read_file(options.pubfile, 64 * 1024, util::Links::follow);
  }
  const Json json = canonical::parse(text, options.pubfile);
  if (json.is_object() && (json.contains("secret") || json.contains("ciphertext"))) {
    fail(ErrorKind::usage, "{}: this is a private identity; pass the output of 'escrow identity show --public'",
         options.pubfile);
  }
  const PublicIdentity pub = PublicIdentity::from_json(json, options.pubfile);
  std::set<Role> roles;
  for (const auto& name : options.roles) {
    const auto role = parse_role(name);
    if (!role) {
      fail(ErrorKind::usage, "member add: unknown role \"{}\" (admin, approver, requester, rotator, auditor)", name);
    }
    roles.insert(*role);
  }
  std::set<std::string> envs;
  for (const auto& env : options.envs) {
    if (env != "*" && !valid_env_name(env)) {
      fail(ErrorKind::usage, "member add: invalid environment \"{}\" (1-32 of a-z, 0-9, '_', '-', or *)", env);
    }
    envs.insert(env);
  }
  if (roles.count(Role::rotator) > 0 && (roles.count(Role::requester) > 0 || roles.count(Role::approver) > 0)) {
    fail(ErrorKind::usage, "member add: the rotator role cannot be combined with requester or approver (separation of duties)");
  }

  Session session = context.open(Mode::write);
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
  record.roles = roles;
  record.envs = envs;
  record.added_by = me.name;
  record.added_at = session.now();
  session.vault().sign(record, session.identity());
  session.vault().put_member(record);
  JournalEntry entry;
  entry.action = JournalAction::member_add;
  entry.detail = Json{{"member", pub.name}, {"roles", roles}, {"envs", envs}, {"fingerprint", pub.fingerprint()}};
  session.commit(std::move(entry));
  if (context.json()) {
    context.emit(Json{{"member", pub.name}, {"fingerprint", pub.fingerprint()}, {"roles", roles}, {"envs", envs}});
    return;
  }
  context.say(fmt::format("added {} ({}) roles={} envs={}", pub.name, pub.fingerprint(), join_roles(roles, ","), join(envs)));
}

void run_remove(const RemoveOptions& options, Context& context)
{
  Session session = context.open(Mode::write);
  Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  policy::require_role(me, Role::admin, "member remove");
  const MemberRecord* target = vault.member(options.name);
  if (target == nullptr) {
    throw with_hint(Error(ErrorKind::usage,
                          fmt::format("{}: no member named {}", session.vault_path().string(), options.name)),
                    member_hint(vault, options.name));
  }
  if (!target->active()) {
    fail(ErrorKind::usage, "{}: {} was already removed", session.vault_path().string(), options.name);
  }
  std::size_t admins = 0;
  for (const auto& [name, member] : vault.members()) {
    admins += member.active() && member.has_role(Role::admin) && name != options.name ? 1 : 0;
  }
  if (admins == 0) {
    fail(ErrorKind::usage, "member remove: {} is the last admin; add another admin first", options.name);
  }
  const Identity& admin = session.identity();
  const std::string removed = options.name;
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
  if (context.json()) {
    context.emit(Json{{"member", removed}, {"removed_at", format_time(session.now())}, {"due", due}});
    return;
  }
  context.say(fmt::format("removed {}", removed));
  if (due.empty()) {
    context.say("no secret they could read needs rotation");
  } else {
    context.say(fmt::format("{} secret(s) they could read are now due for rotation (escrow rotate --due):", due.size()));
    for (const auto& name : due) {
      context.say("  " + name);
    }
  }
}

void run_list(Context& context)
{
  Session session = context.open(Mode::read);
  const Vault& vault = session.vault();
  if (context.json()) {
    Json members = Json::array();
    for (const auto& [name, member] : vault.members()) {
      Json item{{"name", name},
                {"fingerprint", member.fingerprint()},
                {"roles", member.roles},
                {"envs", member.envs},
                {"added_by", member.added_by},
                {"added_at", format_time(member.added_at)},
                {"active", member.active()},
                {"genesis", !member.genesis.empty()}};
      if (member.removed_at) {
        item["removed_at"] = format_time(*member.removed_at);
        item["removed_by"] = member.removed_by;
      }
      members.push_back(std::move(item));
    }
    context.emit(Json{{"members", members}});
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, member] : vault.members()) {
    rows.push_back({name, member.fingerprint(), join_roles(member.roles, ","), join(member.envs),
                    member.active() ? "active" : "removed " + format_time(*member.removed_at).substr(0, 10)});
  }
  if (!context.quiet()) {
    print_table(context.out(), context, {"NAME", "FINGERPRINT", "ROLES", "ENVS", "STATUS"}, rows);
  }
}

} // namespace

void setup_member(CLI::App& app, Context& context)
{
  auto* member = app.add_subcommand("member", "manage the team: who may do what, in which environments");
  member->require_subcommand(1);

  auto add_options = std::make_shared<AddOptions>();
  auto* add = member->add_subcommand("add", "add a member from their public identity file (admins)");
  add->add_option("pubfile", add_options->pubfile, "the output of 'escrow identity show --public' ('-' = stdin)")->required();
  add->add_option("--role", add_options->roles, "admin, approver, requester, rotator, auditor (repeatable)")->required();
  add->add_option("--env", add_options->envs, "environments they reach, e.g. dev, staging, prod; * for all (repeatable)")
    ->required();
  add->callback([add_options, &context] { run_add(*add_options, context); });

  auto remove_options = std::make_shared<RemoveOptions>();
  auto* remove = member->add_subcommand("remove", "remove a member; every secret they could read becomes due (admins)");
  remove->add_option("name", remove_options->name, "member name")->required();
  remove->callback([remove_options, &context] { run_remove(*remove_options, context); });

  auto* list = member->add_subcommand("list", "list members, their roles, environments and fingerprints");
  list->callback([&context] { run_list(context); });
}

} // namespace escrow::cli
