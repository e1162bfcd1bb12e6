// escrow member add | remove | list
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/members.hpp>

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
  const PublicIdentity pub = [&] {
    if (options.pubfile == "-") {
      const SecretBytes text = context.read_stdin(64 * 1024);
      return parse_public_identity(text.expose_view(), options.pubfile);
    }
    return read_public_identity(options.pubfile);
  }();
  check_member_grants(options.roles, options.envs);
  Session session = context.open(Mode::write);
  const MemberRecord& member = add_member(session, pub, options.roles, options.envs);
  if (context.json()) {
    context.emit(Json{{"member", pub.name}, {"fingerprint", pub.fingerprint()}, {"roles", member.roles},
                      {"envs", member.envs}});
    return;
  }
  context.say(fmt::format("added {} ({}) roles={} envs={}", pub.name, pub.fingerprint(), join_roles(member.roles, ","),
                          join(member.envs)));
}

void run_remove(const RemoveOptions& options, Context& context)
{
  Session session = context.open(Mode::write);
  const Removal removal = remove_member(session, options.name);
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
