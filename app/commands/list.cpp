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
  if (context.json()) {
    Json items = Json::array();
    for (const history::Secret* secret : history::inventory(state, options.env)) {
      items.push_back(secret_summary(state, *secret, session.now()));
    }
    context.emit(Json{{"secrets", items}});
    return;
  }
  // The table from this machine's cached listing when it holds one for this state (no record
  // read: issue 12 target 2); else from the records. Both give the same ListedSecret.
  std::optional<std::vector<history::ListedSecret>> listed =
    history::cached_listing(session.cache_place(), session.vault_id(), state);
  if (!listed) {
    listed.emplace();
    for (const history::Secret* secret : history::inventory(state, options.env)) {
      listed->push_back(history::listed_secret(*secret));
    }
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(listed->size());
  for (history::ListedSecret& secret : *listed) {
    if (!options.env.empty() && secret.facts.env != options.env) {
      continue;
    }
    std::string status = history::status(state, secret.facts, session.now());
    rows.push_back({std::move(secret.name), std::move(secret.owner), std::move(secret.purpose),
                    secret.connectors.empty() ? "-" : std::move(secret.connectors),
                    secret.facts.current_v ? "v" + std::to_string(*secret.facts.current_v) : "-",
                    secret.custodians == 0 ? "-" : fmt::format("{}/{}", secret.threshold, secret.custodians),
                    std::move(status)});
  }
  if (!context.quiet()) {
    print_table(context.out(), context, {"NAME", "OWNER", "PURPOSE", "CONNECTORS", "VERSION", "K/N", "ROTATION"}, std::move(rows));
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
