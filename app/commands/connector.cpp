// escrow connector add | list | remove (lib/escrow/connector.hpp)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/connectors/manage.hpp>
#include <escrow/error.hpp>
#include <escrow/lookup.hpp>
#include <escrow/util/text.hpp>

namespace escrow::cli {

namespace {

struct ConnectorAddOptions
{
  std::string name;
  std::string env;
  std::string update;
  std::string verify;
  std::string instructions;
  std::int64_t timeout = 60;
  bool manual = false;
  std::string rehearse_with;
};

struct ConnectorListOptions
{
  std::string env;
};

void run_connector_add(const ConnectorAddOptions& options, Context& context)
{
  connector::Spec spec;
  spec.name = options.name;
  spec.env = options.env;
  spec.kind = options.manual ? ConnectorKind::manual : ConnectorKind::command;
  spec.update = options.update;
  spec.verify = options.verify;
  spec.instructions = options.instructions;
  spec.timeout = options.timeout;
  spec.rehearse_with = options.rehearse_with;
  connector::validate(spec); // before the lock and the passphrase
  Session session = context.open(Mode::write);
  const ConnectorRecord& record = connector::add(session, spec);
  context.emit_or_say(Json{{"connector", record.name}, {"env", record.env}, {"kind", record.kind},
                           {"timeout", record.timeout}},
                      fmt::format("added {} connector {} in {}; bind secrets with: escrow connect {}/NAME {}",
                                  connector_kind_name(record.kind), record.name, record.env, record.env, record.name));
}

void run_connector_list(const ConnectorListOptions& options, Context& context)
{
  if (!options.env.empty() && !valid_env_name(options.env)) {
    fail(ErrorKind::usage, "connector list: invalid environment name");
  }
  Session session = context.open(Mode::read);
  const Vault& vault = session.vault();
  if (!options.env.empty()) {
    require_known_environment(vault, options.env, "connector list --env");
  }
  Json items = Json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, record] : vault.connectors()) {
    if (!options.env.empty() && record.env != options.env) {
      continue;
    }
    const auto bound = connector::bound_secrets(vault, name);
    items.push_back(Json{{"name", name},
                         {"env", record.env},
                         {"kind", record.kind},
                         {"update", record.update},
                         {"verify", record.verify},
                         {"instructions", record.instructions},
                         {"timeout", record.timeout},
                         {"created_at", format_time(record.created_at)},
                         {"by", record.by},
                         {"rehearse_with", record.rehearse_with},
                         {"secrets", bound}});
    rows.push_back({name, record.env, std::string(connector_kind_name(record.kind)), std::to_string(record.timeout) + "s",
                    bound.empty() ? "-" : util::join(bound, ","),
                    connector::driver_for(record).describe(record)});
  }
  if (context.json()) {
    context.emit(Json{{"connectors", items}});
    return;
  }
  if (!context.quiet()) {
    print_table(context.out(), context, {"NAME", "ENV", "KIND", "TIMEOUT", "SECRETS", "UPDATE / INSTRUCTIONS"}, rows);
  }
}

void run_connector_remove(const std::string& name, Context& context)
{
  Session session = context.open(Mode::write);
  connector::remove(session, name);
  context.emit_or_say(Json{{"connector", name}, {"removed", true}}, "removed connector " + name);
}

} // namespace

void setup_connector(CLI::App& app, Context& context)
{
  // connector add | list | remove
  auto* connector = app.add_subcommand("connector", "the systems a secret's value is pushed to when it rotates");
  connector->require_subcommand(1);

  auto add_options = std::make_shared<ConnectorAddOptions>();
  auto* add = connector->add_subcommand(
    "add", "add a connector: --update CMD --verify CMD (value on stdin), or --manual for a person to paste it");
  add->add_option("name", add_options->name, "connector name")->required();
  add->add_option("--env", add_options->env, "its environment (it binds only secrets of this environment)")->required();
  add->add_option("--update", add_options->update, "shell command that installs the value read from stdin");
  add->add_option("--verify", add_options->verify, "shell command that checks the value read from stdin works");
  add->add_flag("--manual", add_options->manual, "no API: a person pastes the value and confirms (rotate --confirm)");
  add->add_option("--instructions", add_options->instructions, "for manual connectors: who pastes it where");
  add->add_option("--timeout", add_options->timeout, "seconds each command may run (default 60)");
  add->add_option("--rehearse-with", add_options->rehearse_with,
                  "a staging twin (an existing connector) that `escrow rehearse` runs instead of this one");
  add->callback([add_options, &context] { run_connector_add(*add_options, context); });

  auto list_options = std::make_shared<ConnectorListOptions>();
  auto* list = connector->add_subcommand("list", "list connectors and the secrets bound to them");
  list->add_option("--env", list_options->env, "only this environment");
  list->callback([list_options, &context] { run_connector_list(*list_options, context); });

  auto remove_name = std::make_shared<std::string>();
  auto* remove = connector->add_subcommand("remove", "remove a connector no secret is bound to");
  remove->add_option("name", *remove_name, "connector name")->required();
  remove->callback([remove_name, &context] { run_connector_remove(*remove_name, context); });
}

} // namespace escrow::cli
