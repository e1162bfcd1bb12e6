// escrow member add | set | remove | list (escrow-vault/2: history::VaultSession)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/history/roster.hpp>
#include <escrow/identity.hpp>

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

struct SetOptions
{
  std::string name;
  std::vector<std::string> roles;
  std::vector<std::string> envs;
};

std::string join(const std::set<std::string>& items)
{
  std::string out;
  for (const auto& item : items) {
    out += out.empty() ? item : "," + item;
  }
  return out;
}

std::string join_roles_v2(const std::set<Role>& roles)
{
  std::string out;
  for (const Role role : roles) {
    out += out.empty() ? std::string(role_name(role)) : "," + std::string(role_name(role));
  }
  return out;
}

Json role_names(const std::set<Role>& roles)
{
  Json out = Json::array();
  for (const Role role : roles) {
    out.push_back(std::string(role_name(role)));
  }
  return out;
}

void run_add(const AddOptions& options, Context& context)
{
  const PublicIdentity pub = [&] {
    if (options.pubfile == "-") {
      const SecretBytes text = context.read_stdin(64 * 1024);
      return parse_public_identity(text.expose_view(), options.pubfile);
    }
    return read_public_identity(options.pubfile);
  }();
  const history::Grants grants = history::parse_grants(options.roles, options.envs, "member add");
  history::VaultSession session = context.open_v2(history::Access::write);
  history::add_member(session, pub, grants);
  context.warn(session.warnings());
  if (context.json()) {
    context.emit(Json{{"member", pub.name}, {"fingerprint", pub.fingerprint()}, {"roles", role_names(grants.roles)},
                      {"envs", grants.envs}});
    return;
  }
  context.say(fmt::format("added {} ({}) roles={} envs={}", pub.name, pub.fingerprint(), join_roles_v2(grants.roles),
                          join(grants.envs)));
}

void run_set(const SetOptions& options, Context& context)
{
  const history::Grants grants = history::parse_grants(options.roles, options.envs, "member set");
  history::VaultSession session = context.open_v2(history::Access::write);
  history::set_member(session, options.name, grants);
  context.warn(session.warnings());
  context.emit_or_say(Json{{"member", options.name}, {"roles", role_names(grants.roles)}, {"envs", grants.envs}},
                      fmt::format("{}: roles={} envs={}", options.name, join_roles_v2(grants.roles), join(grants.envs)));
}

void run_remove(const RemoveOptions& options, Context& context)
{
  history::VaultSession session = context.open_v2(history::Access::write);
  const history::Removal removal = history::remove_member(session, options.name);
  context.warn(session.warnings());
  if (context.json()) {
    context.emit(Json{{"member", removal.member}, {"removed_at", format_time(removal.removed_at)}, {"due", removal.due}});
    return;
  }
  context.say(fmt::format("removed {}", removal.member));
  if (removal.due.empty()) {
    context.say("no secret they could read needs rotation");
  } else {
    context.say(fmt::format("{} secret(s) they could read are now due for rotation (escrow rotate --due):",
                            removal.due.size()));
    for (const auto& name : removal.due) {
      context.say("  " + name);
    }
  }
}

// A public read: no identity is loaded.
void run_list(Context& context)
{
  const history::VaultSession session = context.open_v2(history::Access::read);
  const history::State& state = session.state();
  const auto fingerprint = [](const history::Member& m) { return PublicIdentity{m.name, m.sign_pk, m.box_pk}.fingerprint(); };
  if (context.json()) {
    Json members = Json::array();
    for (const auto& [name, member] : state.members) {
      Json item{{"name", name},
                {"fingerprint", fingerprint(*member)},
                {"roles", role_names(member->roles)},
                {"envs", member->envs},
                {"added_by", member->added_by},
                {"added_at", format_time(member->added_at)},
                {"active", member->active()},
                {"genesis", name == state.genesis_name}};
      if (member->removed_at) {
        item["removed_at"] = format_time(*member->removed_at);
        item["removed_by"] = *member->removed_by;
      }
      members.push_back(std::move(item));
    }
    context.emit(Json{{"members", members}});
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, member] : state.members) {
    rows.push_back({name, fingerprint(*member), join_roles_v2(member->roles), join(member->envs),
                    member->active() ? "active" : "removed " + format_time(*member->removed_at).substr(0, 10)});
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

  auto set_options = std::make_shared<SetOptions>();
  auto* set = member->add_subcommand("set", "replace a member's roles and environments (admins of both)");
  set->add_option("name", set_options->name, "member name")->required();
  set->add_option("--role", set_options->roles, "admin, approver, requester, rotator, auditor (repeatable)")->required();
  set->add_option("--env", set_options->envs, "environments they reach; * for all (repeatable)")->required();
  set->callback([set_options, &context] { run_set(*set_options, context); });

  auto* list = member->add_subcommand("list", "list members, their roles, environments and fingerprints");
  list->callback([&context] { run_list(context); });
}

} // namespace escrow::cli
