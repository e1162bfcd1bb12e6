// escrow rehearse ENV/NAME | rehearse --due [--at TIME] (lib/escrow/rehearse.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/rehearse.hpp>
#include <escrow/util/terminal.hpp>

namespace escrow::cli {

namespace {

struct RehearseOptions
{
  std::string name;
  bool due = false;
  std::string at;
};

void run_rehearse(const RehearseOptions& options, Context& context)
{
  if (options.due == !options.name.empty()) {
    fail(ErrorKind::usage, "rehearse: name one secret (ENV/NAME) or pass --due");
  }
  const history::VaultSessionOptions session_options = context.vault_session_options();
  rehearse::Options rehearse_options;
  if (!options.at.empty()) {
    // "+30d": that long from now; else a time.
    const auto ahead = options.at.front() == '+' ? parse_duration(options.at.substr(1)) : std::nullopt;
    const auto at = ahead ? std::optional<Timestamp>(session_options.clock.now() + *ahead) : parse_time(options.at);
    if (!at) {
      fail(ErrorKind::usage, "rehearse: --at: expected a time (2027-01-01, RFC 3339, Unix seconds) or +DURATION (+30d)");
    }
    rehearse_options.at = at;
  }
  if (!context.quiet() && util::is_terminal(2)) {
    rehearse_options.progress = [&context](const std::string& line) {
      context.err() << "escrow: sandbox: " << line << '\n' << std::flush;
    };
  }
  std::vector<rehearse::Rehearsal> results;
  if (options.due) {
    results = rehearse::rehearse_due(session_options, rehearse_options);
  } else {
    results.push_back(rehearse::rehearse(session_options, options.name, rehearse_options));
  }
  std::vector<std::string> failures;
  Json items = Json::array();
  for (const auto& result : results) {
    items.push_back(result.to_json());
    if (!result.ok()) {
      failures.push_back(result.secret);
    }
    if (result.notify.is_object() && !result.notify.value("ok", true)) {
      context.note("notify hook failed: " + result.notify.value("error", std::string()));
    }
  }
  if (context.json()) {
    context.emit(Json{{"ok", failures.empty()}, {"rehearsals", items}});
  } else if (!context.quiet()) {
    for (const auto& result : results) {
      context.out() << result.summary() << '\n';
      for (const auto& step : result.steps) {
        context.out() << fmt::format("  {:<16} {:<20} {}{}\n", step.phase, step.connector.empty() ? "-" : step.connector,
                                     step.ok ? "ok" : "FAILED", step.detail.empty() ? "" : ": " + step.detail);
      }
    }
    if (results.empty()) {
      context.out() << "nothing is due to rehearse\n";
    }
  }
  if (failures.size() == 1 && results.size() == 1) {
    fail(ErrorKind::failed, "rehearse {}: {}", results.front().secret, results.front().error);
  }
  if (!failures.empty()) {
    fail(ErrorKind::failed, "rehearse: {} of {} rehearsals failed: {}", failures.size(), results.size(),
         fmt::format("{}", fmt::join(failures, ", ")));
  }
}

} // namespace

void setup_rehearse(CLI::App& app, Context& context)
{
  auto options = std::make_shared<RehearseOptions>();
  auto* command = app.add_subcommand(
    "rehearse", "run a secret's whole rotation in a throwaway sandbox (staging twins, real verify only)");
  command->add_option("name", options->name, "ENV/NAME");
  command->add_flag("--due", options->due, "rehearse every secret `rotate --due` would rotate");
  command->add_option("--at", options->at,
                      "the sandbox's time (RFC 3339, or +30d): what would be due then; the real journal keeps the real time");
  command->callback([options, &context] { run_rehearse(*options, context); });
}

} // namespace escrow::cli
