// escrow git-setup: .gitattributes, .gitignore and the clone's git config (lib/escrow/git/setup.hpp)
#include <commands/context.hpp>

#include <escrow/git/team.hpp>

namespace escrow::cli {

namespace {

void run_git_setup(Context& context)
{
  const git::SetupReport report = git::setup_vault(context.session_options().vault_path);
  if (context.json()) {
    context.emit(Json{{"changed", report.changed}});
    return;
  }
  if (report.changed.empty()) {
    context.say("already set up: .gitattributes, .gitignore and this clone's git config are in place");
    return;
  }
  for (const auto& line : report.changed) {
    context.say("set " + line);
  }
  context.say("commit .gitattributes and .gitignore once; every other clone runs escrow git-setup (docs/TEAM.md)");
}

} // namespace

void setup_git_setup(CLI::App& app, Context& context)
{
  auto* command = app.add_subcommand(
    "git-setup", "set up this git clone for escrow: readable diffs, the merge driver's name, the lock ignored");
  command->callback([&context] { run_git_setup(context); });
}

} // namespace escrow::cli
