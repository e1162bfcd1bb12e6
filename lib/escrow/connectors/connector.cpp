#include <escrow/canonical.hpp>
#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/util/escape.hpp>
#include <escrow/util/file.hpp>
#include <escrow/util/process.hpp>

#include <fcntl.h>

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
  } else if (exit_code < 0) {
    head = fmt::format("{} failed", step_name(step)); // a native kind: its output says why
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
  return driver_for(connector).run(connector, step, invocation, value, redactor);
}

ConnectorRecord record_of(const Spec& spec)
{
  ConnectorRecord record;
  record.name = spec.name;
  record.env = spec.env;
  record.kind = spec.kind;
  record.update = spec.update;
  record.verify = spec.verify;
  record.instructions = spec.instructions;
  record.timeout = spec.timeout;
  record.rehearse_with = spec.rehearse_with;
  record.auth_secret = spec.auth_secret;
  record.conninfo = spec.conninfo;
  record.role = spec.role;
  record.alternate_role = spec.alternate_role;
  record.db_user = spec.db_user;
  record.db_host = spec.db_host.empty() && spec.kind == ConnectorKind::mysql ? "%" : spec.db_host;
  record.url = spec.url;
  record.method = spec.method.value_or(HttpMethod::put);
  record.body = spec.body;
  record.headers = spec.headers;
  record.expect_status = spec.expect_status;
  record.verify_url = spec.verify_url;
  record.verify_expect_status = spec.verify_url.empty() ? 0 : spec.verify_expect_status > 0 ? spec.verify_expect_status : 200;
  record.node = spec.node;
  record.field = spec.field;
  record.auth_user = spec.auth_user;
  return record;
}

// --cacert FILE: the PEM is stored in the record, so every machine that rotates trusts the same
// CAs with no set-up of its own.
std::string read_cacert(const std::string& path)
{
  constexpr std::size_t k_max = 64 * 1024;
  std::string pem;
  try {
    const util::FileHandle file = util::open_regular(path, O_RDONLY, util::Links::follow);
    pem = util::read_all(file, path, k_max);
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::integrity) {
      throw;
    }
    fail(ErrorKind::usage, "{}: larger than {} KiB (--cacert takes PEM certificates)", path, k_max / 1024);
  }
  const bool controls = std::any_of(pem.begin(), pem.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\n' && c != '\t' && c != '\r') || u == 0x7f;
  });
  pem.erase(std::remove(pem.begin(), pem.end(), '\r'), pem.end());
  if (controls || !canonical::valid_utf8(pem) || pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos
      || pem.find("PRIVATE KEY") != std::string::npos) {
    fail(ErrorKind::usage, "{}: not PEM certificates (--cacert takes the CA certificates to trust, no key)",
         path);
  }
  return pem;
}

Json settings_of(const ConnectorRecord& connector)
{
  Json settings = Json::object();
  put_native_settings(settings, connector.kind, connector);
  if (settings.contains("cacert")) {
    settings["cacert"] = !connector.cacert.empty();
  }
  return settings;
}

StepResult run_native(const ConnectorRecord& connector, Step step, const Invocation& invocation,
                      const Redactor& redactor, const NativeBody& body)
{
  StepResult result;
  result.connector = connector.name;
  result.step = step;
  result.version = invocation.version;
  result.timeout = std::max<std::int64_t>(connector.timeout, 1);
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::seconds(result.timeout);
  Redactor local = redactor.clone();
  std::string output;
  std::optional<Stop> stop;
  try {
    stop = body(deadline, local, output);
  } catch (const Error& error) {
    // e.g. a stored setting the format accepted but the kind refuses (an edited vault).
    stop = Stop{error.what(), false};
  }
  if (stop) {
    result.ok = false;
    result.exit_code = -1;
    result.timed_out = stop->timed_out;
    // Redacted first (on the raw bytes), then made printable (valid UTF-8, no controls).
    const std::string redacted = local.redact_all(stop->message);
    result.output = keep_tail(util::escape_controls(redacted, util::Layout::keep_lines), k_kept_output);
  } else {
    result.ok = true;
    result.exit_code = 0;
    result.output = keep_tail(local.redact_all(output), k_kept_output);
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return result;
}

std::chrono::milliseconds remaining(Clock::time_point deadline)
{
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
                  std::chrono::milliseconds(1));
}

int remaining_poll_ms(Clock::time_point deadline)
{
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms <= 0 ? 0 : static_cast<int>(std::min<long long>(ms, 24LL * 3600 * 1000));
}

void check_settings(const Spec& spec, std::initializer_list<Setting> allowed)
{
  struct Given
  {
    Setting setting;
    bool given;
    const char* option;
  };
  const Given all[] = {
    {Setting::update, !spec.update.empty(), "--update"},
    {Setting::verify, !spec.verify.empty(), "--verify"},
    {Setting::instructions, !spec.instructions.empty(), "--manual instructions"},
    {Setting::auth_secret, !spec.auth_secret.empty(), "--auth-secret"},
    {Setting::conninfo, !spec.conninfo.empty(), "--conninfo"},
    {Setting::role, !spec.role.empty(), "--role"},
    {Setting::url, !spec.url.empty(), "--url"},
    {Setting::method, spec.method.has_value(), "--method"},
    {Setting::body, !spec.body.empty(), "--body"},
    {Setting::headers, !spec.headers.empty(), "--header"},
    {Setting::expect_status, spec.expect_status != 0, "--expect-status"},
    {Setting::verify_url, !spec.verify_url.empty(), "--verify-url"},
    {Setting::verify_expect_status, spec.verify_expect_status != 0, "--verify-expect-status"},
    {Setting::cacert, !spec.cacert_file.empty(), "--cacert"},
    {Setting::node, !spec.node.empty(), "--node"},
    {Setting::field, !spec.field.empty(), "--field"},
    {Setting::auth_user, !spec.auth_user.empty(), "--auth-user"},
    {Setting::alternate_role, !spec.alternate_role.empty(), "--alternate-role"},
    {Setting::db_user, !spec.db_user.empty(), "--user"},
    {Setting::db_host, !spec.db_host.empty(), "--host"},
  };
  for (const Given& item : all) {
    if (item.given && std::find(allowed.begin(), allowed.end(), item.setting) == allowed.end()) {
      fail(ErrorKind::usage, "connector {}: {} does not apply to {} connectors", spec.name, item.option, spec.kind);
    }
  }
}

void check_text(const Spec& spec, std::string_view option, std::string_view text, std::size_t limit, bool multiline)
{
  const bool controls = std::any_of(text.begin(), text.end(), [&](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || u == 0x7f;
  });
  if (text.size() > limit || controls || !canonical::valid_utf8(text)) {
    fail(ErrorKind::usage, "connector {}: {} must be UTF-8 text of at most {} bytes without control characters",
         spec.name, option, limit);
  }
}

void check_status(const Spec& spec, std::string_view option, std::int64_t status)
{
  if (status != 0 && (status < 100 || status > 599)) {
    fail(ErrorKind::usage, "connector {}: {} must be an HTTP status (100-599)", spec.name, option);
  }
}

StepResult run_shell_step(const ConnectorRecord& connector,
                          const std::string& command,
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
                         {"ESCROW_ACTION", std::string(action_name(invocation.action))},
                         {"ESCROW_ROLE", invocation.role}});
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

} // namespace escrow::connector
