// escrow agent [--foreground] [--timeout 15m] | agent lock | agent status
#include <commands/context.hpp>

#include <escrow/agent.hpp>
#include <escrow/error.hpp>

#include <cctype>

namespace escrow::cli {

namespace {

struct AgentOptions
{
  bool foreground = false;
  std::string timeout;
};

std::filesystem::path agent_socket(const Context& context)
{
  const SessionOptions options = context.session_options();
  if (!options.agent_socket) {
    fail(ErrorKind::usage, "agent: no socket path (set ESCROW_AGENT_SOCK)");
  }
  return *options.agent_socket;
}

std::chrono::seconds parse_timeout(const std::string& text)
{
  if (text.empty()) {
    return agent::k_default_idle_timeout;
  }
  // A unit is required ("90s", "15m", "2h"): a bare number is ambiguous.
  const auto seconds = std::isalpha(static_cast<unsigned char>(text.back())) != 0 ? parse_duration(text) : std::nullopt;
  if (!seconds || *seconds <= 0 || *seconds > 7 * 24 * 3600) {
    throw Error(ErrorKind::usage, fmt::format("agent: --timeout {}: not a duration between 1s and 7d", text))
      .hint("give a unit, e.g. --timeout 90s, 15m or 8h");
  }
  return std::chrono::seconds(*seconds);
}

void run_agent(const AgentOptions& options, Context& context)
{
  const std::chrono::seconds timeout = parse_timeout(options.timeout);
  SessionOptions session_options = context.session_options();
  if (!session_options.agent_socket) {
    fail(ErrorKind::usage, "agent: no socket path (set ESCROW_AGENT_SOCK)");
  }
  const std::filesystem::path socket = *session_options.agent_socket;
  // Bind first: a second agent is refused before anyone types a passphrase.
  agent::Listener listener(socket);
  session_options.agent_socket.reset(); // the agent itself unlocks from the file
  auto asked = std::make_shared<bool>(false);
  if (session_options.passphrase) {
    session_options.passphrase = [asked, ask = session_options.passphrase](std::string_view prompt) {
      *asked = true;
      return ask(prompt);
    };
  }
  Identity identity = load_identity(session_options);
  if (!*asked) {
    fail(ErrorKind::usage, "agent: {} has no passphrase; commands never need an agent for it",
         identity_source(session_options));
  }
  const std::string who = fmt::format("{} ({})", identity.pub.name, identity.pub.fingerprint());
  const std::string idle = format_duration(timeout.count());
  agent::ServeOptions serve_options;
  serve_options.idle_timeout = timeout;
  if (options.foreground) {
    context.note(fmt::format("agent for {} on {}; forgets the key after {} idle", who, socket.string(), idle));
    serve_options.log = [&context](std::string_view line) { context.note("agent: " + std::string(line)); };
    const std::string why = agent::serve(listener, std::move(identity), serve_options);
    context.note("agent stopped: " + why);
    return;
  }
  context.out().flush();
  context.err().flush();
  const long pid = agent::daemonize();
  if (pid == 0) {
    (void)agent::serve(listener, std::move(identity), serve_options);
    return;
  }
  listener.disown();
  context.emit_or_say(Json{{"socket", socket.string()},
                           {"pid", static_cast<std::int64_t>(pid)},
                           {"identity", identity.pub.name},
                           {"fingerprint", identity.pub.fingerprint()},
                           {"idle_timeout", idle}},
                      fmt::format("agent for {} on {} (pid {}); forgets the key after {} idle", who, socket.string(),
                                  pid, idle));
}

void run_lock(Context& context)
{
  const std::filesystem::path socket = agent_socket(context);
  const bool locked = agent::lock(socket);
  context.emit_or_say(Json{{"socket", socket.string()}, {"locked", locked}},
                      locked ? fmt::format("agent on {} forgot the key and stopped", socket.string())
                             : fmt::format("no agent was running on {}", socket.string()));
}

void run_status(Context& context)
{
  const std::filesystem::path socket = agent_socket(context);
  const auto status = agent::status(socket);
  if (!status) {
    throw Error(ErrorKind::failed, fmt::format("{}: no agent is running here", socket.string()))
      .hint("start one with: escrow agent");
  }
  context.emit_or_say(Json{{"socket", socket.string()},
                           {"pid", static_cast<std::int64_t>(status->pid)},
                           {"identity", status->identity.name},
                           {"fingerprint", status->identity.fingerprint()},
                           {"idle_timeout", format_duration(status->idle_timeout)},
                           {"idle_left", status->idle_left}},
                      fmt::format("agent for {} ({}) on {} (pid {}); forgets the key in {} unless used",
                                  status->identity.name, status->identity.fingerprint(), socket.string(), status->pid,
                                  format_duration(std::max<std::int64_t>(status->idle_left, 1))));
}

} // namespace

void setup_agent(CLI::App& app, Context& context)
{
  auto options = std::make_shared<AgentOptions>();
  auto* agent = app.add_subcommand(
    "agent", "hold your unlocked identity for a session (one passphrase); commands use it when it runs");
  agent->add_flag("--foreground", options->foreground, "stay in the foreground (tests, systemd); Ctrl-C stops it");
  agent->add_option("--timeout", options->timeout, "forget the key after this long unused (default 15m)");
  agent->require_subcommand(0, 1);
  agent->footer("Socket: $ESCROW_AGENT_SOCK, else $XDG_RUNTIME_DIR/escrow/agent.sock, else /tmp/escrow-UID/agent.sock.\n"
                "The private keys never leave the agent: it signs and opens sealed keys on request. See docs/DAILY.md.");
  auto* lock = agent->add_subcommand("lock", "make the agent forget the key and exit");
  lock->callback([&context] { run_lock(context); });
  auto* status = agent->add_subcommand("status", "which identity the agent holds, and for how long");
  status->callback([&context] { run_status(context); });
  agent->callback([options, agent, lock, status, &context] {
    if (agent->got_subcommand(lock) || agent->got_subcommand(status)) {
      return;
    }
    run_agent(*options, context);
  });
}

} // namespace escrow::cli
