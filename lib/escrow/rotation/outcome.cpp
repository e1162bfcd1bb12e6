// Results: the outcome of each operation as JSON and as one line for people.
#include <escrow/rotation/outcome.hpp>
#include <escrow/util/text.hpp>

#include <algorithm>

namespace escrow::rotation {

using util::join;

std::string label(const std::string& name, std::int64_t v)
{
  return fmt::format("{}@v{}", name, v);
}

Instruction paste_instruction(const std::string& secret,
                              const std::string& connector_name,
                              const ConnectorRecord* connector,
                              std::int64_t v,
                              std::vector<std::string> who)
{
  Instruction instruction;
  instruction.connector = connector_name;
  instruction.text = connector != nullptr && !connector->instructions.empty()
                       ? connector->instructions
                       : "paste the new value where " + connector_name + " needs it";
  instruction.who = std::move(who);
  instruction.value_command = fmt::format("escrow get {} --reveal --version {}", secret, v);
  instruction.confirm_command = fmt::format("escrow rotate --confirm {} {}", secret, connector_name);
  return instruction;
}

std::string_view outcome_action_name(OutcomeAction action)
{
  switch (action) {
  case OutcomeAction::rotate: return "rotate";
  case OutcomeAction::resume: return "resume";
  case OutcomeAction::confirm: return "confirm";
  case OutcomeAction::rollback: return "rollback";
  case OutcomeAction::await: return "await";
  case OutcomeAction::resume_back: return "resume (roll back)";
  case OutcomeAction::resume_forward: return "resume (roll forward)";
  case OutcomeAction::compromise: return "compromise";
  case OutcomeAction::retire: return "retire";
  }
  return "";
}

std::string_view outcome_result_name(OutcomeResult result)
{
  switch (result) {
  case OutcomeResult::rotated: return "rotated";
  case OutcomeResult::restored: return "restored";
  case OutcomeResult::cancelled: return "cancelled";
  case OutcomeResult::rolled_back: return "rolled-back";
  case OutcomeResult::rollback_incomplete: return "rollback-incomplete";
  case OutcomeResult::awaiting_confirmation: return "awaiting-confirmation";
  case OutcomeResult::error: return "error";
  case OutcomeResult::planned: return "planned";
  case OutcomeResult::compromised: return "compromised";
  case OutcomeResult::retired: return "retired";
  case OutcomeResult::needs_connector: return "needs-connector";
  }
  return "";
}

void to_json(Json& json, OutcomeAction action)
{
  json = std::string(outcome_action_name(action));
}

void to_json(Json& json, OutcomeResult result)
{
  json = std::string(outcome_result_name(result));
}

bool Outcome::ok() const
{
  return result == OutcomeResult::rotated || result == OutcomeResult::restored || result == OutcomeResult::cancelled || result == OutcomeResult::awaiting_confirmation
         || result == OutcomeResult::planned;
}

Json Outcome::to_json() const
{
  Json steps_json = Json::array();
  for (const auto& step : steps) {
    steps_json.push_back(step.to_json());
  }
  Json instructions_json = Json::array();
  for (const auto& item : instructions) {
    instructions_json.push_back(Json{{"connector", item.connector},
                                     {"instructions", item.text},
                                     {"who", item.who},
                                     {"value_command", item.value_command},
                                     {"confirm_command", item.confirm_command}});
  }
  Json json{{"secret", secret},
            {"env", env},
            {"action", outcome_action_name(action)},
            {"result", outcome_result_name(result)},
            {"ok", ok()},
            {"reason", reason},
            {"version", version > 0 ? Json(version) : Json(nullptr)},
            {"previous_version", previous_version > 0 ? Json(previous_version) : Json(nullptr)},
            {"error", error},
            {"steps", steps_json},
            {"instructions", instructions_json},
            {"notify", notify}};
  if (result == OutcomeResult::planned) {
    json["plan"] = plan;
    json["generator"] = generator;
  }
  return json;
}

std::string Outcome::summary() const
{
  const std::string from = previous_version > 0 ? fmt::format("v{} → ", previous_version) : std::string();
  if (result == OutcomeResult::rotated) {
    std::vector<std::string> names;
    for (const auto& step : steps) {
      if (step.step == connector::Step::verify && std::find(names.begin(), names.end(), step.connector) == names.end()) {
        names.push_back(step.connector);
      }
    }
    return fmt::format("{}: rotated {}v{}{}", secret, from, version,
                       names.empty() ? std::string(" (no command connectors)")
                                     : fmt::format(" (updated and verified: {})", join(names)));
  }
  if (result == OutcomeResult::restored) {
    return fmt::format("{}: rolled back to v{} (v{} is previous again)", secret, version, previous_version);
  }
  if (result == OutcomeResult::awaiting_confirmation) {
    std::vector<std::string> names;
    for (const auto& item : instructions) {
      names.push_back(item.connector);
    }
    return fmt::format("{}: v{} is pending, awaiting confirmation from {}", secret, version, join(names));
  }
  if (result == OutcomeResult::planned) {
    return fmt::format("{}: would {} ({})", secret, outcome_action_name(action), reason);
  }
  if (result == OutcomeResult::cancelled) {
    return fmt::format("{}: cancelled the rotation to v{}; v{} stays current{}", secret, version, previous_version,
                       steps.empty() ? std::string() : " (re-applied to its command connectors)");
  }
  return fmt::format("{}: {}: {}", secret, outcome_result_name(result), error);
}

Json CompromiseOutcome::to_json() const
{
  return Json{{"secret", secret},
              {"compromised_version", version},
              {"voided_requests", voided_requests},
              {"dropped_grants", dropped_grants},
              {"rotation", rotation ? rotation->to_json() : Json(nullptr)},
              {"rotated", rotation && rotation->result == OutcomeResult::rotated},
              {"not_rotated", not_rotated},
              {"who_can_rotate", who_can},
              {"notify", notify}};
}

Outcome needs_connector_outcome(const std::string& secret, const std::string& env, std::int64_t live_version,
                                const std::string& reason)
{
  Outcome out;
  out.secret = secret;
  out.env = env;
  out.action = OutcomeAction::rotate;
  out.result = OutcomeResult::needs_connector;
  out.reason = reason;
  out.previous_version = live_version;
  out.error = fmt::format("due ({}) but it has no connector, so no system would get a new value: not rotated. "
                          "Bind it (escrow connect {} CONNECTOR; a manual step is a connector added with --manual) "
                          "or declare that only escrow holds it (escrow connect {} --escrow-only)",
                          reason, out.secret, out.secret);
  return out;
}

} // namespace escrow::rotation
