// escrow rollback ENV/NAME: the previous version again (lib/escrow/rotation/v2.hpp)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/rotation/v2.hpp>

namespace escrow::cli {

namespace {

struct NameOptions
{
  std::string name;
  std::string why;
  bool no_push = false;
};

void run_rollback(const NameOptions& options, Context& context)
{
  (void)split_secret_name(options.name);
  rotation::Options rotate_options;
  rotate_options.progress = progress_for(context);
  std::vector<rotation::Outcome> outcomes;
  const rotation::LockedRun run =
    rotation::run_rotation(git_lock_options(context, options.no_push), rotate_options,
                           [&](rotation::v2::Rotator& rotator) { outcomes.push_back(rotator.rollback(options.name)); });
  note_lock(context, run);
  report_outcomes(context, "rollback", outcomes, false);
  fail_unpublished(run);
}

} // namespace

void setup_rollback(CLI::App& app, Context& context)
{
  auto rollback_options = std::make_shared<NameOptions>();
  auto* rollback = app.add_subcommand(
    "rollback", "make the previous version current again and re-apply it to every connector (or cancel a pending rotation)");
  rollback->add_option("name", rollback_options->name, "ENV/NAME")->required();
  rollback->add_flag("--no-push", rollback_options->no_push,
                     "no git lock: do not commit and push the rollback's start before the connectors run");
  rollback->callback([rollback_options, &context] { run_rollback(*rollback_options, context); });
}

} // namespace escrow::cli
