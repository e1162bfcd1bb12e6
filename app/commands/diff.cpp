// escrow diff --textconv FILE: the value-free summary git shows in diffs (lib/escrow/history/textconv.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/git/team.hpp>

#include <ostream>

namespace escrow::cli {

namespace {

struct DiffOptions
{
  bool textconv = false;
  std::string file;
};

void run_diff(const DiffOptions& options, Context& context)
{
  if (!options.textconv) {
    throw Error(ErrorKind::usage, "diff: only --textconv FILE is available (git runs it to show escrow's files)")
      .hint("git diff, git show and git log -p use it once escrow git-setup has run");
  }
  // Exactly the summary, whatever --quiet or --json say: git reads it.
  context.out() << git::textconv(options.file);
}

} // namespace

void setup_diff(CLI::App& app, Context& context)
{
  auto options = std::make_shared<DiffOptions>();
  auto* command = app.add_subcommand("diff", "print a value-free summary of a vault or journal (git's textconv)");
  command->add_flag("--textconv", options->textconv, "print FILE's summary, one line per thing (for git)");
  command->add_option("file", options->file, "a vault or journal file")->required();
  command->callback([options, &context] { run_diff(*options, context); });
}

} // namespace escrow::cli
