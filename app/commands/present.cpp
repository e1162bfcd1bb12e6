#include <commands/present.hpp>

#include <escrow/history/secrets.hpp>

#include <escrow/error.hpp>
#include <escrow/util/escape.hpp>
#include <escrow/util/terminal.hpp>
#include <escrow/util/text.hpp>

#include <map>
#include <ostream>
#include <sstream>

namespace escrow::cli {

using util::join;

std::vector<std::string> split_list(const std::string& text)
{
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (end > start) {
      out.push_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return out;
}

Json secret_summary(const history::State& state, const history::Secret& secret, Timestamp now)
{
  const history::Version* current = secret.find_state(VersionState::current);
  return Json{{"name", secret.name},
              {"env", secret.env},
              {"owner", secret.owner},
              {"purpose", secret.purpose},
              {"tier", secret.tier},
              {"connectors", secret.connectors}, // in the order they run
              {"escrow_only", secret.escrow_only},
              {"custodians", secret.custodians},
              {"threshold", secret.threshold},
              {"every", secret.every > 0 ? format_duration(secret.every) : ""},
              {"after_access", secret.after_access},
              {"state", std::string(secret_state_name(secret.state))},
              {"current_version", current != nullptr ? Json(current->v) : Json(nullptr)},
              {"rotated_at", current != nullptr ? Json(format_time(current->created_at)) : Json(nullptr)},
              {"status", history::status(state, secret, now)}};
}

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

void report_outcomes(Context& context, const std::string& command, const std::vector<rotation::Outcome>& outcomes, bool dry_run)
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
          OutcomeResult::needs_connector, OutcomeResult::planned}) {
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

rotation::GitLockOptions git_lock_options(Context& context, bool no_push)
{
  const history::VaultSessionOptions session = context.vault_session_options();
  rotation::GitLockOptions options;
  options.vault_path = session.vault_path;
  options.state_home = session.state_home;
  options.branch = session.branch;
  options.lock_wait = session.lock_wait;
  options.no_push = no_push;
  options.open = [&context](history::Access access) { return context.open_v2(access); };
  return options;
}

void note_lock(Context& context, const rotation::LockedRun& run)
{
  context.warn(run.warnings);
  for (const std::string& note : run.notes) {
    context.note(note);
  }
  if (run.finish_error) {
    context.note(fmt::format("warning: the rotation finished, but publishing its finish failed: {}",
                             run.finish_error->what()));
  }
}

void fail_unpublished(const rotation::LockedRun& run)
{
  if (run.finish_error) {
    throw Error(ErrorKind::io, fmt::format("{} (the connectors hold what this clone's vault says; its finish is "
                                           "committed here, unpushed)",
                                           run.finish_error->what()))
      .hint("escrow sync publishes it");
  }
}

} // namespace escrow::cli
