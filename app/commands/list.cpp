// escrow list [--env ENV]: the inventory (never values)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/history/listing.hpp>
#include <escrow/history/lookup.hpp>
#include <escrow/history/secrets.hpp>

namespace escrow::cli {

namespace {

struct ListOptions
{
  std::string env;
};

// A public read: no identity is loaded.
void run_list(const ListOptions& options, Context& context)
{
  if (!options.env.empty() && !valid_env_name(options.env)) {
    fail(ErrorKind::usage, "list: invalid environment name");
  }
  const history::VaultSession session = context.open_v2(history::Access::read);
  const history::State& state = session.state();
  if (!options.env.empty()) {
    history::require_known_environment(state, options.env, "list --env", session.paths().head.string());
  }
  Json items = Json::array();
  std::vector<std::vector<std::string>> rows;
  const auto add_row = [&](const history::Secret& secret) {
    const history::Version* current = secret.find_state(VersionState::current);
    std::string connectors;
    for (const auto& c : secret.connectors) {
      connectors += connectors.empty() ? c : "," + c;
    }
    rows.push_back({secret.name, secret.owner, secret.purpose, connectors.empty() ? "-" : connectors,
                    current != nullptr ? "v" + std::to_string(current->v) : "-",
                    secret.custodians.empty() ? "-" : fmt::format("{}/{}", secret.threshold, secret.custodians.size()),
                    history::status(state, secret, session.now())});
  };
  // The table from this machine's cached listing when it holds one for this state (no record
  // read: issue 12 target 2); else from the records.
  std::optional<std::vector<history::Secret>> listed;
  if (!context.json()) {
    listed = history::cached_listing(session.cache_place(), session.vault_id(), state);
  }
  if (listed) {
    for (const history::Secret& secret : *listed) {
      if (options.env.empty() || secret.env == options.env) {
        add_row(secret);
      }
    }
  } else {
    for (const history::Secret* secret : history::inventory(state, options.env)) {
      if (context.json()) {
        items.push_back(secret_summary(state, *secret, session.now()));
        continue;
      }
      add_row(*secret);
    }
  }
  if (context.json()) {
    context.emit(Json{{"secrets", items}});
    return;
  }
  if (!context.quiet()) {
    print_table(context.out(), context, {"NAME", "OWNER", "PURPOSE", "CONNECTORS", "VERSION", "K/N", "ROTATION"}, rows);
  }
}

} // namespace

void setup_list(CLI::App& app, Context& context)
{
  auto options = std::make_shared<ListOptions>();
  auto* list = app.add_subcommand("list", "the inventory: names, owners, purposes, connectors, rotation (never values)");
  list->add_option("--env", options->env, "only this environment");
  list->callback([options, &context] { run_list(*options, context); });
}

} // namespace escrow::cli
