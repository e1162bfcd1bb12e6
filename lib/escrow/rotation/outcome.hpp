// What a rotation reports (docs/ROTATION.md): the outcome of each operation, the instructions for
// manual connectors, the rotation's options, and the two helpers every engine run calls — the
// generator (new values) and the notify hook. The engine itself is rotation/v2.hpp.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/connectors/connector.hpp>
#include <escrow/generator.hpp>
#include <escrow/secret_bytes.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::rotation {

constexpr std::string_view k_default_generator = "len=32,alphabet=base62";

struct Instruction
{
  std::string connector;
  std::string text;            // the connector's instructions
  std::vector<std::string> who; // members who may read the value and confirm
  std::string value_command;   // how to see the value to paste
  std::string confirm_command; // how to confirm (empty when pasting back an old value)
};

// What a person must do for a manual connector to take version `v` of `secret`.
Instruction paste_instruction(const std::string& secret,
                              const std::string& connector_name,
                              const ConnectorRecord* connector,
                              std::int64_t v,
                              std::vector<std::string> who);

// How a value is named in redacted text: "ENV/NAME@vN".
std::string label(const std::string& name, std::int64_t v);

// What an outcome reports on, and how it ended. The names (outcome.cpp) appear only in the
// outcome's JSON, the notify event and the text for people.
enum class OutcomeAction {
  rotate,
  resume,
  confirm,
  rollback,
  await,          // dry run: a rotation waiting for manual confirmation
  resume_back,    // dry run: "resume (roll back)"
  resume_forward, // dry run: "resume (roll forward)"
  compromise,
  retire,
};
enum class OutcomeResult {
  rotated,
  restored,
  cancelled,
  rolled_back,
  rollback_incomplete,
  awaiting_confirmation,
  error,
  planned,
  compromised,
  retired,
  // rotate --due: a due secret with no connector that is not declared escrow-only. Not rotated
  // (the systems using it would keep the old value); a person must connect it, declare it
  // escrow-only, or rotate it by name. Not ok: `rotate --due` exits 1.
  needs_connector,
};
std::string_view outcome_action_name(OutcomeAction action);
std::string_view outcome_result_name(OutcomeResult result);
// JSON writes the names (never the numbers nlohmann would write for an enum).
void to_json(Json& json, OutcomeAction action);
void to_json(Json& json, OutcomeResult result);

struct Outcome
{
  std::string secret;
  std::string env;
  OutcomeAction action = OutcomeAction::rotate;
  OutcomeResult result = OutcomeResult::error;
  std::string reason;
  std::int64_t version = 0;          // the version being put in place
  std::int64_t previous_version = 0; // the version it replaces (0: none)
  std::string error;                 // one line, redacted
  std::vector<connector::StepResult> steps;
  std::vector<Instruction> instructions;
  Json plan = Json::array();         // dry-run: the steps that would run
  std::string generator;             // dry-run: how the value would be made
  Json notify;                       // the hook's result (null when none ran)

  bool ok() const;     // rotated, restored, cancelled, awaiting-confirmation, planned
  Json to_json() const;
  // One line for people: "prod/db: rotated v3 → v4 (crm-sync, app-env)".
  std::string summary() const;
};

// Result of `compromise`.
struct CompromiseOutcome
{
  std::string secret;
  std::int64_t version = 0;
  std::vector<std::string> voided_requests;
  std::size_t dropped_grants = 0;
  std::optional<Outcome> rotation;   // when rotated at once
  std::string not_rotated;           // why not, when not
  std::vector<std::string> who_can;  // who may rotate it
  Json notify;
  Json to_json() const;
};

class Publisher; // rotation/v2.hpp: the git lock of rotation

struct Options
{
  std::string why;                      // the new version's reason (default: due reason or "on request")
  std::optional<std::string> generate;  // generator spec for this and later rotations
  const SecretBytes* value = nullptr;   // the new value (from stdin), instead of generating
  std::function<void(const std::string&)> progress; // a line per step, for a terminal
  bool notify = true; // false: no notify hook runs (a rehearsal's sandbox)
  // The git lock (docs/design/vault-2-merge.md §6; rotation/git_lock.hpp): phase 1 is published
  // through it before any connector runs. nullptr: no lock (no upstream, --no-push, escrow.push=false).
  Publisher* publisher = nullptr;
  // Under the git lock, `rotate --due` leaves alone a pending rotation started less than this many
  // seconds ago: it may be running right now in another clone (its connectors in phase 2), and
  // resuming it here would run them twice. Older ones are taken as interrupted and resumed.
  // `rotate --resume` (a person's decision) resumes any. 0: resume every pending one (no lock).
  std::int64_t in_flight_grace = 0;
};

// The notify hook (the policy's notify command; "" = none: null): one JSON event on stdin, never a
// value. Returns {"ran":bool,"ok":bool,"error":...}; a failing hook never fails the operation.
Json run_notify(const std::string& command, const Json& event);

// A generator's new value (docs/ROTATION.md): random, or what a cmd= generator printed, straight
// into locked memory. `problem` is set (and `value` empty) when a command failed, timed out,
// printed nothing or too much; `said` is its stderr, redacted, one line.
struct Generated
{
  SecretBytes value;
  std::string problem;
  std::string said;
};
Generated run_generator(const GeneratorSpec& spec, const std::string& secret, const std::string& env, std::int64_t v);

// rotate --due's needs-connector outcome for a due secret with no connector (not escrow-only).
Outcome needs_connector_outcome(const std::string& secret, const std::string& env, std::int64_t live_version,
                                const std::string& reason);

} // namespace escrow::rotation
