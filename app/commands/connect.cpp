// escrow connect | disconnect ENV/NAME CONNECTOR [--after OTHER], and ENV/NAME --escrow-only
// (lib/escrow/history/admin.hpp; docs/CONNECTORS.md)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/history/admin.hpp>
#include <escrow/records.hpp>
#include <escrow/error.hpp>
#include <escrow/util/text.hpp>

namespace escrow::cli {

namespace {

struct BindOptions
{
  std::string secret;
  std::string connector;
  std::string after;
  bool escrow_only = false;
};

void run_bind(const BindOptions& options, Context& context, bool on)
{
  const std::string command = on ? "connect" : "disconnect";
  (void)split_secret_name(options.secret); // usage errors before the lock
  if (options.escrow_only) {
    if (!options.connector.empty() || !options.after.empty()) {
      fail(ErrorKind::usage, "{} --escrow-only takes the secret only (no connector, no --after)", command);
    }
    const auto [env, short_name] = split_secret_name(options.secret);
    const std::string full_name = env + "/" + short_name;
    history::VaultSession session = context.open_v2(history::Access::write);
    history::set_escrow_only(session, full_name, on);
    context.warn(session.warnings());
    context.emit_or_say(Json{{"secret", full_name}, {"escrow_only", on}},
                        on ? fmt::format("{} lives only in escrow now: rotate --due rotates it with no connector",
                                         full_name)
                           : fmt::format("{} is no longer escrow-only", full_name));
    return;
  }
  if (options.connector.empty()) {
    throw Error(ErrorKind::usage, fmt::format("{}: give ENV/NAME CONNECTOR (or ENV/NAME --escrow-only)", command))
      .hint("escrow connector list");
  }
  const auto [env, short_name] = split_secret_name(options.secret);
  const std::string full_name = env + "/" + short_name;
  history::VaultSession session = context.open_v2(history::Access::write);
  Json document{{"secret", full_name}, {"connector", options.connector}, {"bound", on}};
  if (on) {
    const std::vector<std::string> order = history::connect_secret(session, full_name, options.connector, options.after);
    context.warn(session.warnings());
    document["order"] = order;
    context.emit_or_say(document, fmt::format("bound {} to {}; rotations run {}", full_name, options.connector,
                                              util::join(order, " → ")));
  } else {
    history::disconnect_secret(session, full_name, options.connector);
    context.warn(session.warnings());
    context.emit_or_say(document, fmt::format("unbound {} from {}", full_name, options.connector));
  }
}

} // namespace

void setup_connect(CLI::App& app, Context& context)
{
  // connect | disconnect
  auto connect_options = std::make_shared<BindOptions>();
  auto* connect = app.add_subcommand("connect", "bind an existing secret to a connector of its environment");
  connect->add_option("secret", connect_options->secret, "ENV/NAME")->required();
  connect->add_option("connector", connect_options->connector, "connector name");
  connect->add_option("--after", connect_options->after,
                      "run it right after this connector (already bound to the secret); default: last");
  connect->add_flag("--escrow-only", connect_options->escrow_only,
                    "instead of a connector: the secret lives only in escrow (rotate --due needs no connector)");
  connect->callback([connect_options, &context] { run_bind(*connect_options, context, true); });

  auto disconnect_options = std::make_shared<BindOptions>();
  auto* disconnect = app.add_subcommand("disconnect", "unbind a secret from a connector");
  disconnect->add_option("secret", disconnect_options->secret, "ENV/NAME")->required();
  disconnect->add_option("connector", disconnect_options->connector, "connector name");
  disconnect->add_flag("--escrow-only", disconnect_options->escrow_only, "undo connect --escrow-only");
  disconnect->callback([disconnect_options, &context] { run_bind(*disconnect_options, context, false); });
}

} // namespace escrow::cli
