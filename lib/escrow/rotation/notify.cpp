// The notify hook (policy.notify): one JSON event per result on the hook's stdin, never a value.
#include <escrow/error.hpp>
#include <escrow/rotation/outcome.hpp>
#include <escrow/util/process.hpp>

namespace escrow::rotation {

Json run_notify(const std::string& command, const Json& event)
{
  if (command.empty()) {
    return nullptr;
  }
  const SecretBytes body = SecretBytes::from(event.dump() + "\n");
  util::ProcessSpec spec;
  spec.argv = util::shell_argv(command);
  spec.extra_env = connector::scrubbed_environment();
  spec.extra_env.emplace_back("ESCROW_EVENT", event.value("event", ""));
  spec.stdin_data = &body;
  spec.timeout = std::chrono::seconds(30);
  spec.kill_grace = std::chrono::milliseconds(1000);
  spec.capture_limit = 4096;
  try {
    const util::ProcessResult run = util::run_process(spec);
    if (!run.timed_out && run.exit_code == 0) {
      return Json{{"ran", true}, {"ok", true}, {"error", ""}};
    }
    const std::string said = connector::one_line(run.err.empty() ? run.out : run.err, connector::k_message_output);
    return Json{{"ran", true},
                {"ok", false},
                {"error", run.timed_out ? std::string("timed out after 30s")
                                        : fmt::format("exit {}{}", run.exit_code, said.empty() ? "" : ": " + said)}};
  } catch (const Error& error) {
    return Json{{"ran", false}, {"ok", false}, {"error", error.what()}};
  }
}

} // namespace escrow::rotation
