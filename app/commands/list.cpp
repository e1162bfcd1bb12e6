// escrow list [--env ENV]: the inventory (never values)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
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
  for (const history::Secret* secret : history::inventory(state, options.env)) {
    if (context.json()) {
      items.push_back(secret_summary(state, *secret, session.now()));
      continue;
    }
    const history::Version* current = secret->find_state(VersionState::current);
    std::string connectors;
    for (const auto& c : secret->connectors) {
      connectors += connectors.empty() ? c : "," + c;
    }
    rows.push_back({secret->name, secret->owner, secret->purpose, connectors.empty() ? "-" : connectors,
                    current != nullptr ? "v" + std::to_string(current->v) : "-",
                    secret->custodians.empty() ? "-" : fmt::format("{}/{}", secret->threshold, secret->custodians.size()),
                    history::status(state, *secret, session.now())});
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
