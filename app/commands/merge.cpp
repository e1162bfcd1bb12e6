// escrow merge BASE OURS THEIRS [PATH]: the git merge driver of escrow-vault/2
// (lib/escrow/git/team.hpp, lib/escrow/history/merge_files.hpp; docs/TEAM.md,
// docs/design/vault-2-merge.md). Needs no identity, signs nothing.
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/git/team.hpp>

#include <fmt/format.h>

namespace escrow::cli {

namespace {

void run_merge(const git::DriverFiles& files, Context& context)
{
  const history::MergeOutcome outcome = git::merge_driver(files);
  for (const std::string& warning : outcome.warnings) {
    context.err() << "escrow: warning: " << warning << '\n';
  }
  if (!outcome.ok()) {
    for (const std::string& conflict : outcome.conflicts) {
      context.err() << "escrow: conflict: " << conflict << '\n';
    }
    throw Error(ErrorKind::failed,
                fmt::format("{}: {} conflict{} between the two sides; nothing merged, git leaves the file unmerged "
                            "holding this clone's version",
                            outcome.name, outcome.conflicts.size(), outcome.conflicts.size() == 1 ? "" : "s"))
      .hint("escrow resolve lists them and settles them (docs/TEAM.md \"Conflicts on escrow-vault/2\")");
  }
}

} // namespace

void setup_merge(CLI::App& app, Context& context)
{
  auto files = std::make_shared<git::DriverFiles>();
  auto* command = app.add_subcommand("merge", "the git merge driver for escrow's files (escrow-vault/2)");
  command->add_option("base", files->base, "the common ancestor's version (git's %O)")->required();
  command->add_option("ours", files->ours, "this side's version, and the result (git's %A)")->required();
  command->add_option("theirs", files->theirs, "the other side's version (git's %B)")->required();
  command->add_option("path", files->name, "the file's path in the work tree (git's %P)");
  command->callback([files, &context] { run_merge(*files, context); });
}

} // namespace escrow::cli
