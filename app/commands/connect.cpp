// escrow connect | disconnect ENV/NAME CONNECTOR (lib/escrow/connector.hpp)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/connectors/manage.hpp>
#include <escrow/error.hpp>

namespace escrow::cli {

namespace {

struct BindOptions
{
  std::string secret;
  std::string connector;
};

void run_bind(const BindOptions& options, Context& context, bool on)
{
  (void)split_secret_name(options.secret); // usage errors before the lock
  Session session = context.open(Mode::write);
  if (on) {
    connector::connect(session, options.secret, options.connector);
  } else {
    connector::disconnect(session, options.secret, options.connector);
  }
  context.emit_or_say(
    Json{{"secret", options.secret}, {"connector", options.connector}, {"bound", on}},
    on ? fmt::format("bound {} to {}; the next rotation pushes to it", options.secret, options.connector)
       : fmt::format("unbound {} from {}", options.secret, options.connector));
}

} // namespace

void setup_connect(CLI::App& app, Context& context)
{
  // connect | disconnect
  auto connect_options = std::make_shared<BindOptions>();
  auto* connect = app.add_subcommand("connect", "bind an existing secret to a connector of its environment");
  connect->add_option("secret", connect_options->secret, "ENV/NAME")->required();
  connect->add_option("connector", connect_options->connector, "connector name")->required();
  connect->callback([connect_options, &context] { run_bind(*connect_options, context, true); });

  auto disconnect_options = std::make_shared<BindOptions>();
  auto* disconnect = app.add_subcommand("disconnect", "unbind a secret from a connector");
  disconnect->add_option("secret", disconnect_options->secret, "ENV/NAME")->required();
  disconnect->add_option("connector", disconnect_options->connector, "connector name")->required();
  disconnect->callback([disconnect_options, &context] { run_bind(*disconnect_options, context, false); });
}

} // namespace escrow::cli
