#include <escrow/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/policy.hpp>
#include <escrow/util/process.hpp>
#include <escrow/util/text.hpp>

#include <algorithm>

namespace escrow::connector {

std::string_view step_name(Step step)
{
  return step == Step::update ? "update" : "verify";
}

std::string_view action_name(Action action)
{
  switch (action) {
  case Action::rotate: return "rotate";
  case Action::rollback: return "rollback";
  case Action::restore: return "restore";
  case Action::reconnect: return "reconnect";
  case Action::rehearse: return "rehearse";
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> scrubbed_environment()
{
  return {{"ESCROW_IDENTITY_DATA", ""}, {"ESCROW_PASSPHRASE_FILE", ""}, {"ESCROW_IDENTITY", ""}};
}

std::string one_line(std::string_view text, std::size_t limit)
{
  std::string out;
  bool line_break = false;
  bool space = false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r') {
      line_break = !out.empty();
      continue;
    }
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (u < 0x20 || u == 0x7f) {
      continue;
    }
    if (line_break) {
      out += " | ";
    } else if (space) {
      out.push_back(' ');
    }
    line_break = false;
    space = false;
    out.push_back(c);
  }
  if (out.size() > limit) {
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    out.resize(cut);
    out += "…";
  }
  return out;
}

std::string keep_tail(std::string_view text, std::size_t limit)
{
  if (text.size() <= limit) {
    return std::string(text);
  }
  std::size_t start = text.size() - limit;
  while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
    ++start;
  }
  return "[…] " + std::string(text.substr(start));
}

std::string StepResult::describe() const
{
  std::string head;
  if (timed_out) {
    head = fmt::format("{} timed out after {}", step_name(step), describe_duration(timeout));
  } else if (ok) {
    head = fmt::format("{} ok", step_name(step));
  } else {
    head = fmt::format("{} failed (exit {})", step_name(step), exit_code);
  }
  const std::string said = one_line(output, k_message_output);
  return said.empty() ? head : head + ": " + said;
}

Json StepResult::to_json() const
{
  return Json{{"connector", connector},
              {"step", step_name(step)},
              {"version", version},
              {"result", ok ? "ok" : timed_out ? "timeout" : "failed"},
              {"exit_code", exit_code},
              {"output", output},
              {"ms", elapsed.count()}};
}

StepResult run_step(const ConnectorRecord& connector,
                    Step step,
                    const Invocation& invocation,
                    const SecretBytes& value,
                    const Redactor& redactor)
{
  StepResult result;
  result.connector = connector.name;
  result.step = step;
  result.version = invocation.version;
  result.timeout = std::max<std::int64_t>(connector.timeout, 1);
  const std::string& command = step == Step::update ? connector.update : connector.verify;
  if (command.empty()) {
    // A manual connector without a verify command, or nothing to run: nothing can fail.
    result.ok = true;
    result.exit_code = 0;
    return result;
  }
  util::ProcessSpec spec;
  spec.argv = util::shell_argv(command);
  spec.extra_env = scrubbed_environment();
  spec.extra_env.insert(spec.extra_env.end(),
                        {{"ESCROW_SECRET_NAME", invocation.secret},
                         {"ESCROW_ENV", invocation.env},
                         {"ESCROW_VERSION", std::to_string(invocation.version)},
                         {"ESCROW_PREVIOUS_VERSION",
                          invocation.previous_version > 0 ? std::to_string(invocation.previous_version) : ""},
                         {"ESCROW_CONNECTOR", connector.name},
                         {"ESCROW_STEP", std::string(step_name(step))},
                         {"ESCROW_ACTION", std::string(action_name(invocation.action))}});
  spec.stdin_data = &value;
  spec.timeout = std::chrono::seconds(result.timeout);
  spec.kill_grace = std::chrono::milliseconds(1000);
  spec.output = util::OutputMode::capture;
  spec.capture_limit = 16 * 1024;
  redact_output(spec, redactor);
  const auto started = std::chrono::steady_clock::now();
  const util::ProcessResult run = util::run_process(spec);
  result.elapsed =
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  result.exit_code = run.exit_code;
  result.timed_out = run.timed_out;
  result.ok = !run.timed_out && run.exit_code == 0;
  std::string output = run.out;
  if (!run.err.empty()) {
    if (!output.empty() && output.back() != '\n') {
      output.push_back('\n');
    }
    output += run.err;
  }
  // Already redacted while streaming; once more over the joined text costs nothing and
  // covers a value split across the stdout/stderr boundary.
  result.output = keep_tail(redactor.redact_all(output), k_kept_output);
  while (!result.output.empty() && (result.output.back() == '\n' || result.output.back() == ' ')) {
    result.output.pop_back();
  }
  return result;
}

// --- managing connectors -------------------------------------------------------------------

void validate(const Spec& spec)
{
  if (!valid_member_name(spec.name)) {
    fail(ErrorKind::usage,
         "connector: invalid name \"{}\" (1-64 of letters, digits, '.', '_', '-', starting with a letter or digit)",
         one_line(spec.name, 64));
  }
  if (!valid_env_name(spec.env)) {
    fail(ErrorKind::usage, "connector {}: invalid environment name (1-32 of a-z, 0-9, '_', '-')", spec.name);
  }
  if (spec.kind == ConnectorKind::command) {
    if (spec.update.empty() || spec.verify.empty()) {
      fail(ErrorKind::usage, "connector {}: a command connector needs --update CMD and --verify CMD (or use --manual)",
           spec.name);
    }
  } else if (spec.kind == ConnectorKind::manual) {
    if (!spec.update.empty()) {
      fail(ErrorKind::usage, "connector {}: a manual connector has no --update command (a person pastes the value)",
           spec.name);
    }
  }
  if (spec.timeout < 1 || spec.timeout > 86400) {
    fail(ErrorKind::usage, "connector {}: --timeout must be 1 to 86400 seconds", spec.name);
  }
  for (const std::string* text : {&spec.update, &spec.verify, &spec.instructions}) {
    if (text->find('\0') != std::string::npos || !canonical::valid_utf8(*text) || text->size() > 4096) {
      fail(ErrorKind::usage, "connector {}: commands and instructions must be UTF-8 text under 4 KiB without NUL",
           spec.name);
    }
  }
}

const ConnectorRecord& add(Session& session, const Spec& spec)
{
  validate(spec);
  Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  policy::require_env(me, spec.env, "connector add");
  if (!can_write_connector(me, spec.env)) {
    fail(ErrorKind::access, "connector add: only admins and rotators of {} may add connectors there ({} is neither)",
         spec.env, me.name);
  }
  if (vault.connector(spec.name) != nullptr) {
    throw Error(ErrorKind::usage, fmt::format("{}: connector {} already exists", vault.what(), spec.name))
      .hint("to change it: escrow connector remove " + spec.name + " (after disconnecting its secrets), then add it again");
  }
  ConnectorRecord record;
  record.name = spec.name;
  record.env = spec.env;
  record.kind = spec.kind;
  record.update = spec.update;
  record.verify = spec.verify;
  record.instructions = spec.instructions;
  record.timeout = spec.timeout;
  record.created_at = session.now();
  if (!spec.rehearse_with.empty()) {
    const ConnectorRecord* twin = vault.connector(spec.rehearse_with);
    if (twin == nullptr || twin->env != spec.env || spec.rehearse_with == spec.name) {
      throw Error(ErrorKind::usage, fmt::format("connector add: --rehearse-with {}: no such connector in {}",
                                                one_line(spec.rehearse_with, 64), spec.env))
        .hint("add the staging twin first: escrow connector add TWIN --env " + spec.env + " --update CMD --verify CMD");
    }
    record.rehearse_with = spec.rehearse_with;
  }
  vault.sign(record, session.identity());
  vault.put_connector(record);
  JournalEntry entry;
  entry.action = JournalAction::connector_add;
  entry.env = spec.env;
  entry.detail = Json{{"connector", spec.name}, {"kind", spec.kind}, {"timeout", spec.timeout}};
  if (!spec.rehearse_with.empty()) {
    entry.detail["rehearse_with"] = spec.rehearse_with;
  }
  session.commit(std::move(entry));
  return *session.vault().connector(spec.name);
}

std::vector<std::string> bound_secrets(const Vault& vault, const std::string& connector)
{
  std::vector<std::string> names;
  const ConnectorRecord* record = vault.connector(connector);
  for (const auto& name : vault.secret_names()) {
    // Bindings never cross environments, so only that environment's secrets need reading.
    if (record != nullptr && name.compare(0, record->env.size() + 1, record->env + "/") != 0) {
      continue;
    }
    const SecretRecord& secret = vault.secret(name);
    if (std::find(secret.connectors.begin(), secret.connectors.end(), connector) != secret.connectors.end()) {
      names.push_back(name);
    }
  }
  return names;
}

void remove(Session& session, const std::string& name)
{
  Vault& vault = session.vault();
  const ConnectorRecord* record = vault.connector(name);
  if (record == nullptr) {
    fail(ErrorKind::usage, "{}: no connector named {}", vault.what(), one_line(name, 64));
  }
  const std::string env = record->env;
  policy::require_env(session.me(), env, "connector remove");
  if (!can_write_connector(session.me(), env)) {
    fail(ErrorKind::access, "connector remove: only admins and rotators of {} may remove connectors there", env);
  }
  const auto bound = bound_secrets(vault, name);
  if (!bound.empty()) {
    throw Error(ErrorKind::usage, fmt::format("connector remove: {} is still bound to {}", name, util::join(bound)))
      .hint(fmt::format("escrow disconnect {} {}", bound.front(), name));
  }
  vault.erase_connector(name);
  JournalEntry entry;
  entry.action = JournalAction::connector_remove;
  entry.env = env;
  entry.detail = Json{{"connector", name}};
  session.commit(std::move(entry));
}

namespace {

bool has_pending(const SecretRecord& secret)
{
  return std::any_of(secret.versions.begin(), secret.versions.end(),
                     [](const VersionRecord& v) { return v.state == VersionState::pending; });
}

void bind(Session& session, const std::string& secret_name, const std::string& connector_name, bool on)
{
  const std::string action = on ? "connect" : "disconnect";
  const auto [env, short_name] = split_secret_name(secret_name);
  const std::string full_name = env + "/" + short_name;
  Vault& vault = session.vault();
  const SecretRecord& peek = vault.secret(full_name);
  policy::require_can_manage(session.me(), peek, action);
  const bool listed =
    std::find(peek.connectors.begin(), peek.connectors.end(), connector_name) != peek.connectors.end();
  if (on) {
    const ConnectorRecord* connector = vault.connector(connector_name);
    if (connector == nullptr) {
      throw Error(ErrorKind::usage, fmt::format("connect: no connector named {}", one_line(connector_name, 64)))
        .hint("escrow connector list");
    }
    if (connector->env != env) {
      fail(ErrorKind::usage, "connect: connector {} belongs to {}, not {} (environments never mix)", connector_name,
           connector->env, env);
    }
    if (listed) {
      fail(ErrorKind::usage, "connect: {} is already bound to {}", full_name, connector_name);
    }
    if (peek.state != SecretState::active) {
      fail(ErrorKind::usage, "connect: {} is retired", full_name);
    }
  } else if (!listed) {
    fail(ErrorKind::usage, "disconnect: {} is not bound to {}", full_name, one_line(connector_name, 64));
  }
  // Connecting during a rotation is refused (the run would push to a connector it never
  // planned for); disconnecting is allowed, as the way out of a connector that is gone for good.
  if (on && has_pending(peek)) {
    throw Error(ErrorKind::usage, fmt::format("{}: {} has a rotation in progress; its connectors cannot change now",
                                              action, full_name))
      .hint("finish it (escrow rotate --resume / --confirm) or cancel it (escrow rollback " + full_name + ")");
  }
  SecretRecord& secret = vault.secret_mut(full_name);
  if (on) {
    secret.connectors.push_back(connector_name);
    std::sort(secret.connectors.begin(), secret.connectors.end());
  } else {
    secret.connectors.erase(std::remove(secret.connectors.begin(), secret.connectors.end(), connector_name),
                            secret.connectors.end());
  }
  vault.sign_meta(secret, session.identity());
  JournalEntry entry;
  entry.action = on ? JournalAction::connect : JournalAction::disconnect;
  entry.secret = full_name;
  entry.env = env;
  entry.detail = Json{{"connector", connector_name}};
  session.commit(std::move(entry));
}

} // namespace

void connect(Session& session, const std::string& secret, const std::string& connector)
{
  bind(session, secret, connector, true);
}

void disconnect(Session& session, const std::string& secret, const std::string& connector)
{
  bind(session, secret, connector, false);
}

} // namespace escrow::connector
