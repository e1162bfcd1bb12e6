// escrow list [--env ENV]: the inventory (never values)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/rotation/rotation.hpp>
#include <escrow/secrets.hpp>

namespace escrow::cli {

namespace {

struct ListOptions
{
  std::string env;
};

void run_list(const ListOptions& options, Context& context)
{
  if (!options.env.empty() && !valid_env_name(options.env)) {
    fail(ErrorKind::usage, "list: invalid environment name");
  }
  Session session = context.open(Mode::read);
  const Vault& vault = session.vault();
  Json items = Json::array();
  std::vector<std::vector<std::string>> rows;
  for (const SecretRecord* record : inventory(session, options.env)) {
    const SecretRecord& secret = *record;
    const std::string name = secret.full_name();
    if (context.json()) {
      items.push_back(secret_summary(secret, vault.policy(), session.now()));
      continue;
    }
    const VersionRecord* current = secret.current();
    std::string connectors;
    for (const auto& c : secret.connectors) {
      connectors += connectors.empty() ? c : "," + c;
    }
    rows.push_back({name, secret.owner, secret.purpose, connectors.empty() ? "-" : connectors,
                    current != nullptr ? "v" + std::to_string(current->v) : "-",
                    secret.custodians.empty() ? "-" : fmt::format("{}/{}", secret.threshold, secret.custodians.size()),
                    rotation::status(secret, vault.policy(), session.now())});
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
