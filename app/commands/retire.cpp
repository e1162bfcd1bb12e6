// escrow retire ENV/NAME: kept in the history, never served (lib/escrow/rotation/v2.hpp)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/history/admin.hpp>
#include <escrow/records.hpp>

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
  const std::string full_name = env + "/" + short_name;
  history::VaultSession session = context.open_v2(history::Access::write);
  history::retire_secret(session, full_name);
  context.warn(session.warnings());
  context.emit_or_say(Json{{"secret", full_name}, {"state", "retired"}},
                      fmt::format("retired {}: no new version, share, request or approval; kept in the history, never served", full_name));
}

} // namespace

void setup_retire(CLI::App& app, Context& context)
{
  auto retire_options = std::make_shared<NameOptions>();
  auto* retire = app.add_subcommand("retire", "decommission a secret: no new version, share, request or approval");
  retire->add_option("name", retire_options->name, "ENV/NAME")->required();
  retire->callback([retire_options, &context] { run_retire(*retire_options, context); });
}

} // namespace escrow::cli
