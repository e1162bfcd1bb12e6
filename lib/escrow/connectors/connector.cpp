#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/util/process.hpp>

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
  return driver_for(connector).run(connector, step, invocation, value, redactor);
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

} // namespace escrow::connector
