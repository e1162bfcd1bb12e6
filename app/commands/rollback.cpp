// escrow rollback ENV/NAME: the previous version again (lib/escrow/rotation.hpp)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/rotation/rotation.hpp>

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
  Session session = context.open(Mode::write);
  rotation::Rotator rotator(session, rotate_options);
  report_outcomes(context, "rollback", {rotator.rollback(options.name)}, false);
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
