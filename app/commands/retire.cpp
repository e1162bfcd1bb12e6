// escrow retire ENV/NAME: kept in the history, never served (lib/escrow/rotation.hpp)
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

void run_retire(const NameOptions& options, Context& context)
{
  const auto [env, short_name] = split_secret_name(options.name);
  Session session = context.open(Mode::write);
  rotation::Rotator rotator(session, {});
  rotator.retire(options.name);
  const std::string full_name = env + "/" + short_name;
  context.emit_or_say(Json{{"secret", full_name}, {"state", "retired"}},
                      fmt::format("retired {}: kept in the history, never served again", full_name));
}

} // namespace

void setup_retire(CLI::App& app, Context& context)
{
  auto retire_options = std::make_shared<NameOptions>();
  auto* retire = app.add_subcommand("retire", "decommission a secret: kept in the history, never served");
  retire->add_option("name", retire_options->name, "ENV/NAME")->required();
  retire->callback([retire_options, &context] { run_retire(*retire_options, context); });
}

} // namespace escrow::cli
