// escrow merge BASE OURS THEIRS [PATH]: the git merge driver, arriving with escrow-vault/2
// (lib/escrow/git/team.hpp; docs/TEAM.md, docs/design/vault-2-merge.md)
#include <commands/context.hpp>

#include <escrow/git/team.hpp>

namespace escrow::cli {

namespace {

struct MergeOptions
{
  std::string base;
  std::string ours;
  std::string theirs;
  std::string path;
};

void run_merge(const MergeOptions& options, Context&)
{
  git::merge_driver(options.base, options.ours, options.theirs);
}

} // namespace

void setup_merge(CLI::App& app, Context& context)
{
  auto options = std::make_shared<MergeOptions>();
  auto* command = app.add_subcommand("merge", "the git merge driver for escrow's files (arrives with escrow-vault/2)");
  command->add_option("base", options->base, "the common ancestor's version (git's %O)")->required();
  command->add_option("ours", options->ours, "this side's version, and the result (git's %A)")->required();
  command->add_option("theirs", options->theirs, "the other side's version (git's %B)")->required();
  command->add_option("path", options->path, "the file's path in the work tree (git's %P)");
  command->callback([options, &context] { run_merge(*options, context); });
}

} // namespace escrow::cli
