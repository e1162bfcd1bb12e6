// escrow connector add|list|remove, connect, disconnect, rotate, compromise, retire, rollback
// (the protocol itself lives in lib/escrow/rotation/rotation.hpp; docs/ROTATION.md).
#include <commands/context.hpp>

#include <escrow/connectors/manage.hpp>
#include <escrow/error.hpp>
#include <escrow/generator.hpp>
#include <escrow/lookup.hpp>
#include <escrow/rotation/rotation.hpp>
#include <escrow/util/escape.hpp>
#include <escrow/util/terminal.hpp>
#include <escrow/util/text.hpp>
#include <escrow/versions.hpp>

#include <algorithm>
#include <map>
#include <ostream>
#include <sstream>

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

struct BindOptions
{
  std::string secret;
  std::string connector;
};

struct RotateOptions
{
  std::string name;
  bool due = false;
  bool resume = false;
  bool dry_run = false;
  std::vector<std::string> confirm;
  std::string generate;
  std::string why;
  bool from_stdin = false;
};

struct NameOptions
{
  std::string name;
  std::string why;
};

using util::join;

// Per-step lines on a terminal (stderr), so a person sees where a slow connector is.
std::function<void(const std::string&)> progress_for(Context& context)
{
  if (context.quiet() || !util::is_terminal(2)) {
    return {};
  }
  return [&context](const std::string& line) { context.err() << "escrow: " << line << '\n' << std::flush; };
}

void print_outcome(Context& context, const rotation::Outcome& outcome)
{
  if (context.quiet() || context.json()) {
    return;
  }
  // Connector names and instructions come from the vault: composed here, shown escaped.
  std::ostringstream out;
  if (outcome.ok()) {
    out << outcome.summary() << '\n'; // failures are the error line on stderr
  }
  if (outcome.result == rotation::OutcomeResult::planned) {
    if (!outcome.generator.empty()) {
      out << "  value: " << outcome.generator << '\n';
    }
    for (const auto& step : outcome.plan) {
      const std::string what = step["step"].get<std::string>();
      if (step["connector"].is_null()) {
        out << fmt::format("  {} v{}\n", what, step["version"].get<std::int64_t>());
      } else {
        out << fmt::format("  {} {} ({}) v{}{}\n", what, step["connector"].get<std::string>(),
                           step["kind"].get<std::string>(), step["version"].get<std::int64_t>(),
                           step["timeout"].is_null() ? std::string()
                                                     : fmt::format(", timeout {}s", step["timeout"].get<std::int64_t>()));
      }
    }
  }
  for (const auto& item : outcome.instructions) {
    out << fmt::format("  {}: {}\n", item.connector, item.text);
    if (!item.value_command.empty()) {
      out << "    see the value:  " << item.value_command << '\n';
    }
    if (!item.confirm_command.empty()) {
      out << "    then confirm:   " << item.confirm_command << '\n';
    }
    if (!item.who.empty()) {
      out << "    who may do it:  " << join(item.who) << '\n';
    }
  }
  context.out() << util::escape_controls(out.str(), util::Layout::keep_lines);
  context.out().flush();
}

void note_notify(Context& context, const Json& notify)
{
  if (notify.is_object() && !notify.value("ok", true)) {
    context.note("notify hook failed (the operation itself is unaffected): " + notify.value("error", std::string()));
  }
}

// Prints the outcomes (one JSON document, or a line each) and turns failures into exit 1.
void report(Context& context, const std::string& command, const std::vector<rotation::Outcome>& outcomes, bool dry_run)
{
  std::map<rotation::OutcomeResult, std::size_t> counts;
  Json results = Json::array();
  std::vector<std::string> failures;
  for (const auto& outcome : outcomes) {
    ++counts[outcome.result];
    results.push_back(outcome.to_json());
    note_notify(context, outcome.notify);
    if (!outcome.ok()) {
      failures.push_back(outcome.secret + ": " + outcome.error);
    }
  }
  if (context.json()) {
    Json count_json = Json::object();
    using rotation::OutcomeResult;
    for (const OutcomeResult result :
         {OutcomeResult::rotated, OutcomeResult::restored, OutcomeResult::cancelled, OutcomeResult::rolled_back,
          OutcomeResult::rollback_incomplete, OutcomeResult::awaiting_confirmation, OutcomeResult::error,
          OutcomeResult::planned}) {
      count_json[std::string(rotation::outcome_result_name(result))] = counts[result];
    }
    context.emit(Json{{"command", command}, {"dry_run", dry_run}, {"ok", failures.empty()}, {"counts", count_json},
                      {"results", results}});
  } else {
    for (const auto& outcome : outcomes) {
      print_outcome(context, outcome);
    }
    if (outcomes.empty()) {
      context.say(dry_run ? "nothing to do" : "nothing to rotate");
    }
  }
  if (failures.size() == 1 && outcomes.size() == 1) {
    fail(ErrorKind::failed, "{} {}", command, failures.front());
  }
  if (!failures.empty()) {
    fail(ErrorKind::failed, "{}: {} of {} failed: {}", command, failures.size(), outcomes.size(), join(failures, "; "));
  }
}

// --- connector ---------------------------------------------------------------------------------

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
                    bound.empty() ? "-" : join(bound, ","),
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

// --- rotate ------------------------------------------------------------------------------------

void run_rotate(const RotateOptions& options, Context& context)
{
  const bool confirming = !options.confirm.empty();
  const int modes = (options.name.empty() ? 0 : 1) + (options.due ? 1 : 0) + (confirming ? 1 : 0);
  if (confirming && (options.due || options.resume || !options.name.empty() || options.dry_run)) {
    fail(ErrorKind::usage, "rotate --confirm ENV/NAME CONNECTOR stands alone");
  }
  if (!options.name.empty() && options.due) {
    fail(ErrorKind::usage, "rotate: give ENV/NAME or --due, not both");
  }
  if (modes == 0 && !options.resume) {
    throw Error(ErrorKind::usage, "rotate: give ENV/NAME, --due, --resume or --confirm ENV/NAME CONNECTOR")
      .hint("escrow rotate --due --dry-run shows what is due");
  }
  if ((options.from_stdin || !options.generate.empty()) && options.name.empty()) {
    fail(ErrorKind::usage, "rotate: --stdin and --generate apply to one secret (rotate ENV/NAME)");
  }
  if (options.from_stdin && !options.generate.empty()) {
    fail(ErrorKind::usage, "rotate: --stdin and --generate exclude each other");
  }
  if (options.resume && !options.name.empty() && (options.from_stdin || !options.generate.empty())) {
    fail(ErrorKind::usage, "rotate --resume finishes a pending version; it takes no new value");
  }
  if (!options.name.empty()) {
    (void)split_secret_name(options.name);
  }
  if (confirming) {
    (void)split_secret_name(options.confirm[0]);
  }
  rotation::Options rotate_options;
  rotate_options.why = options.why;
  if (!options.generate.empty()) {
    rotate_options.generate = options.generate;
    (void)parse_generator(options.generate);
  }
  rotate_options.progress = progress_for(context);
  // A value typed or piped in is read before the lock is taken.
  std::optional<SecretBytes> value;
  if (options.from_stdin && !options.dry_run) {
    if (util::is_terminal(0)) {
      auto first = util::read_hidden_line("New value (hidden): ");
      auto second = util::read_hidden_line("Repeat new value: ");
      if (!first || !second || !first->equals(*second)) {
        fail(ErrorKind::usage, "rotate: the values do not match");
      }
      value = std::move(*first);
    } else {
      value = util::read_stdin_secret(k_max_value_size);
    }
    if (value->empty()) {
      fail(ErrorKind::usage, "rotate: the value on stdin is empty");
    }
    rotate_options.value = &*value;
  }

  const std::string command = confirming ? "rotate --confirm" : options.due ? "rotate --due" : options.name.empty() ? "rotate --resume" : "rotate";
  if (options.dry_run) {
    Session session = context.open(Mode::read);
    rotation::Rotator rotator(session, rotate_options);
    std::vector<std::string> names;
    if (!options.name.empty()) {
      names.push_back(options.name);
    }
    report(context, command + " --dry-run", rotator.plan(names, options.due, options.resume && options.name.empty()),
           true);
    return;
  }
  Session session = context.open(Mode::write);
  rotation::Rotator rotator(session, rotate_options);
  std::vector<rotation::Outcome> outcomes;
  if (confirming) {
    outcomes.push_back(rotator.confirm(options.confirm[0], options.confirm[1]));
  } else if (options.resume && !options.due) {
    outcomes = rotator.resume(options.name);
  } else if (options.due) {
    outcomes = rotator.rotate_due();
  } else {
    outcomes.push_back(rotator.rotate(options.name));
  }
  report(context, command, outcomes, false);
}

void run_compromise(const NameOptions& options, Context& context)
{
  (void)split_secret_name(options.name);
  if (options.why.empty()) {
    fail(ErrorKind::usage, "compromise: --why is required (what happened?)");
  }
  rotation::Options rotate_options;
  rotate_options.progress = progress_for(context);
  Session session = context.open(Mode::write);
  rotation::Rotator rotator(session, rotate_options);
  const rotation::CompromiseOutcome result = rotator.compromise(options.name, options.why);
  note_notify(context, result.notify);
  if (result.rotation) {
    note_notify(context, result.rotation->notify);
  }
  if (context.json()) {
    context.emit(result.to_json());
  } else {
    context.say(fmt::format("marked {} v{} compromised: voided {} open request(s), dropped {} grant(s)", result.secret,
                            result.version, result.voided_requests.size(), result.dropped_grants));
    if (result.rotation) {
      print_outcome(context, *result.rotation);
    } else {
      context.say(fmt::format("not rotated yet: {}", result.not_rotated));
      context.say(fmt::format("it is due for rotation; who can rotate it: {} (escrow rotate {})",
                              result.who_can.empty() ? std::string("nobody yet (add a rotator)") : join(result.who_can),
                              result.secret));
    }
  }
  if (result.rotation && !result.rotation->ok()) {
    fail(ErrorKind::failed, "compromise {}: marked compromised, but the rotation failed: {}", result.secret,
         result.rotation->error);
  }
}

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

void run_rollback(const NameOptions& options, Context& context)
{
  (void)split_secret_name(options.name);
  rotation::Options rotate_options;
  rotate_options.progress = progress_for(context);
  Session session = context.open(Mode::write);
  rotation::Rotator rotator(session, rotate_options);
  report(context, "rollback", {rotator.rollback(options.name)}, false);
}

} // namespace

void setup_rotation(CLI::App& app, Context& context)
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

  // rotate
  auto rotate_options = std::make_shared<RotateOptions>();
  auto* rotate = app.add_subcommand("rotate", "make a new version, push it to every connector, verify, finish; "
                                              "rolled back on failure");
  rotate->add_option("name", rotate_options->name, "ENV/NAME");
  rotate->add_flag("--due", rotate_options->due,
                   "every secret you may rotate that is due (cadence, event, compromise, after-access); "
                   "interrupted rotations are resumed first");
  rotate->add_flag("--resume", rotate_options->resume,
                   "finish or roll back rotations left pending by an interrupted run");
  rotate->add_flag("--dry-run", rotate_options->dry_run, "print the plan (secrets, connectors, order); run nothing");
  rotate->add_option("--confirm", rotate_options->confirm, "ENV/NAME CONNECTOR: a person pasted the pending value")
    ->expected(2);
  rotate->add_option("--generate", rotate_options->generate,
                     "value generator for this and later rotations: len=N,alphabet=A or cmd=COMMAND");
  rotate->add_flag("--stdin", rotate_options->from_stdin, "read the new value from stdin instead of generating it");
  rotate->add_option("--why", rotate_options->why, "reason recorded with the new version");
  rotate->callback([rotate_options, &context] { run_rotate(*rotate_options, context); });

  auto compromise_options = std::make_shared<NameOptions>();
  auto* compromise = app.add_subcommand(
    "compromise", "mark the current version compromised, void open requests and grants, rotate at once if you can");
  compromise->add_option("name", compromise_options->name, "ENV/NAME")->required();
  compromise->add_option("--why", compromise_options->why, "what happened")->required();
  compromise->callback([compromise_options, &context] { run_compromise(*compromise_options, context); });

  auto retire_options = std::make_shared<NameOptions>();
  auto* retire = app.add_subcommand("retire", "decommission a secret: kept in the history, never served");
  retire->add_option("name", retire_options->name, "ENV/NAME")->required();
  retire->callback([retire_options, &context] { run_retire(*retire_options, context); });

  auto rollback_options = std::make_shared<NameOptions>();
  auto* rollback = app.add_subcommand(
    "rollback", "make the previous version current again and re-apply it to every connector (or cancel a pending rotation)");
  rollback->add_option("name", rollback_options->name, "ENV/NAME")->required();
  rollback->callback([rollback_options, &context] { run_rollback(*rollback_options, context); });
}

} // namespace escrow::cli
