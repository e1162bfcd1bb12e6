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
};

void run_rollback(const NameOptions& options, Context& context)
{
  (void)split_secret_name(options.name);
  rotation::Options rotate_options;
  rotate_options.progress = progress_for(context);
  history::VaultSession session = context.open_v2(history::Access::write);
  rotation::v2::Rotator rotator(session, rotate_options);
  const rotation::Outcome outcome = rotator.rollback(options.name);
  context.warn(session.warnings());
  report_outcomes(context, "rollback", {outcome}, false);
}

} // namespace

void setup_rollback(CLI::App& app, Context& context)
{
  auto rollback_options = std::make_shared<NameOptions>();
  auto* rollback = app.add_subcommand(
    "rollback", "make the previous version current again and re-apply it to every connector (or cancel a pending rotation)");
  rollback->add_option("name", rollback_options->name, "ENV/NAME")->required();
  rollback->callback([rollback_options, &context] { run_rollback(*rollback_options, context); });
}

} // namespace escrow::cli
