// escrow connector add | list | remove (lib/escrow/connector.hpp)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/history/admin.hpp>
#include <escrow/util/escape.hpp>
#include <escrow/error.hpp>
#include <escrow/history/lookup.hpp>
#include <escrow/util/text.hpp>

#include <algorithm>
#include <cctype>

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
  // The native kinds (docs/CONNECTORS.md).
  std::string kind;
  std::string conninfo;
  std::string role;
  std::string alternate_role;
  std::string db_user;
  std::string db_host;
  std::string auth_secret;
  std::string url;
  std::string method;
  std::string body;
  std::vector<std::string> headers;
  std::int64_t expect_status = 0;
  std::string verify_url;
  std::int64_t verify_expect_status = 0;
  std::string cacert;
  std::string node;
  std::string field;
  std::string auth_user;
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
  if (!options.kind.empty()) {
    const std::optional<ConnectorKind> kind = parse_connector_kind(options.kind);
    if (!kind) {
      fail(ErrorKind::usage, "connector add: --kind must be one of command, manual, postgres, mysql, http, node-red");
    }
    if (options.manual && *kind != ConnectorKind::manual) {
      fail(ErrorKind::usage, "connector add: --manual and --kind {} exclude each other", *kind);
    }
    spec.kind = *kind;
  }
  if (!options.method.empty()) {
    std::string method = options.method;
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    spec.method = parse_http_method(method);
    if (!spec.method) {
      fail(ErrorKind::usage, "connector add: --method must be PUT, POST or PATCH");
    }
  }
  spec.conninfo = options.conninfo;
  spec.role = options.role;
  spec.alternate_role = options.alternate_role;
  spec.db_user = options.db_user;
  spec.db_host = options.db_host;
  spec.auth_secret = options.auth_secret;
  spec.url = options.url;
  spec.body = options.body;
  spec.headers = options.headers;
  spec.expect_status = options.expect_status;
  spec.verify_url = options.verify_url;
  spec.verify_expect_status = options.verify_expect_status;
  spec.cacert_file = options.cacert;
  spec.node = options.node;
  spec.field = options.field;
  spec.auth_user = options.auth_user;
  spec.update = options.update;
  spec.verify = options.verify;
  spec.instructions = options.instructions;
  spec.timeout = options.timeout;
  spec.rehearse_with = options.rehearse_with;
  connector::validate(spec); // before the lock and the passphrase
  history::VaultSession session = context.open_v2(history::Access::write);
  const history::Connector& record = history::add_connector(session, spec);
  context.warn(session.warnings());
  Json document{{"connector", record.name},
                {"env", record.env},
                {"kind", record.kind},
                {"timeout", record.timeout},
                {"settings", connector::settings_of(history::connector_record(record))}};
  if (!record.rehearse_with.empty()) {
    document["rehearse_with"] = record.rehearse_with;
  }
  context.emit_or_say(document,
                      fmt::format("added {} connector {} in {}; bind secrets with: escrow connect {}/NAME {}",
                                  connector_kind_name(record.kind), record.name, record.env, record.env, record.name));
}

void run_connector_list(const ConnectorListOptions& options, Context& context)
{
  if (!options.env.empty() && !valid_env_name(options.env)) {
    fail(ErrorKind::usage, "connector list: invalid environment name");
  }
  // A public read: no identity is loaded.
  const history::VaultSession session = context.open_v2(history::Access::read);
  const history::State& state = session.state();
  if (!options.env.empty()) {
    history::require_known_environment(state, options.env, "connector list --env", session.paths().head.string());
  }
  Json items = Json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, connector] : state.connectors) {
    const history::Connector& record = *connector;
    if (!options.env.empty() && record.env != options.env) {
      continue;
    }
    const auto bound = history::bound_secrets(state, name);
    const ConnectorRecord as_run = history::connector_record(record);
    items.push_back(Json{{"name", name},
                         {"env", record.env},
                         {"kind", record.kind},
                         {"update", record.update},
                         {"verify", record.verify},
                         {"instructions", record.instructions},
                         {"timeout", record.timeout},
                         {"created_at", format_time(record.created_at)},
                         {"by", record.created_by},
                         {"rehearse_with", record.rehearse_with},
                         {"settings", connector::settings_of(as_run)},
                         {"secrets", bound}});
    rows.push_back({name, record.env, std::string(connector_kind_name(record.kind)), std::to_string(record.timeout) + "s",
                    bound.empty() ? "-" : util::join(bound, ","), connector::driver_for(as_run).describe(as_run)});
  }
  if (context.json()) {
    context.emit(Json{{"connectors", items}});
    return;
  }
  if (!context.quiet()) {
    print_table(context.out(), context, {"NAME", "ENV", "KIND", "TIMEOUT", "SECRETS", "DOES"}, rows);
  }
}

void run_connector_remove(const std::string& name, Context& context)
{
  history::VaultSession session = context.open_v2(history::Access::write);
  history::remove_connector(session, name);
  context.warn(session.warnings());
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
    "add", "add a connector: --update CMD --verify CMD (value on stdin), --manual for a person to paste it, or "
           "--kind postgres|mysql|http|node-red (docs/CONNECTORS.md)");
  add->add_option("name", add_options->name, "connector name")->required();
  add->add_option("--env", add_options->env, "its environment (it binds only secrets of this environment)")->required();
  add->add_option("--update", add_options->update, "shell command that installs the value read from stdin");
  add->add_option("--verify", add_options->verify, "shell command that checks the value read from stdin works");
  add->add_flag("--manual", add_options->manual, "no API: a person pastes the value and confirms (rotate --confirm)");
  add->add_option("--instructions", add_options->instructions, "for manual connectors: who pastes it where");
  add->add_option("--timeout", add_options->timeout, "seconds each command may run (default 60)");
  add->add_option("--rehearse-with", add_options->rehearse_with,
                  "a staging twin (an existing connector) that `escrow rehearse` runs instead of this one");
  add->add_option("--kind", add_options->kind, "command (default), manual, postgres, mysql, http or node-red");
  add->add_option("--auth-secret", add_options->auth_secret,
                  "postgres/mysql/http/node-red: ENV/NAME of the connector's own credential, read from the vault by whoever rotates");
  add->add_option("--conninfo", add_options->conninfo,
                  "postgres: libpq connection string; mysql: 'host=H port=P user=ADMIN [database=D]' (never a password)");
  add->add_option("--role", add_options->role, "postgres: the role whose password rotates");
  add->add_option("--alternate-role", add_options->alternate_role,
                  "postgres: a second role; rotations alternate between the two (zero downtime)");
  add->add_option("--user", add_options->db_user, "mysql: the account whose password rotates");
  add->add_option("--host", add_options->db_host, "mysql: the account's host part (default '%')");
  add->add_option("--url", add_options->url,
                  "http: the request's URL; node-red: the Admin API's base URL (https://, or http:// to loopback)");
  add->add_option("--method", add_options->method, "http: PUT (default), POST or PATCH");
  add->add_option("--body", add_options->body, "http: JSON template; \"{{value}}\" and \"{{auth}}\" are JSON-escaped");
  add->add_option("--header", add_options->headers, "http: 'Name: TEMPLATE' ({{auth}} only; repeatable)")
    ->allow_extra_args(false);
  add->add_option("--expect-status", add_options->expect_status, "http: the update's expected status (default: any 2xx)");
  add->add_option("--verify-url", add_options->verify_url, "http, node-red: the verify step GETs it");
  add->add_option("--verify-expect-status", add_options->verify_expect_status, "its expected status (default 200)");
  add->add_option("--cacert", add_options->cacert, "http, node-red: PEM file of the CAs to trust (stored in the vault)");
  add->add_option("--node", add_options->node, "node-red: the config node's id");
  add->add_option("--field", add_options->field, "node-red: its credential field (e.g. password)");
  add->add_option("--auth-user", add_options->auth_user, "node-red: the adminAuth user (with --auth-secret)");
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
