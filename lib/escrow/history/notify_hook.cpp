#include <escrow/history/notify_hook.hpp>

#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/secret_bytes.hpp>
#include <escrow/util/process.hpp>

namespace escrow::history {

Json notify(const State& state, const Json& event)
{
  if (!state.policy || state.policy->notify.empty()) {
    return nullptr;
  }
  const SecretBytes body = SecretBytes::from(event.dump() + "\n");
  util::ProcessSpec spec;
  spec.argv = util::shell_argv(state.policy->notify);
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

} // namespace escrow::history
