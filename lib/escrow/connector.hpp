// Connectors: the systems a secret's value is pushed to when it rotates (DESIGN §5).
//
// A connector belongs to one environment and is one of two kinds:
//   command  "update" and "verify" shell commands (run with /bin/sh -c). Each receives the value
//            on stdin (never in argv or the environment) and, in its environment:
//              ESCROW_SECRET_NAME      ENV/NAME, e.g. prod/db
//              ESCROW_ENV              the environment, e.g. prod
//              ESCROW_VERSION          the version whose value is on stdin
//              ESCROW_PREVIOUS_VERSION the version it replaces ("" when none)
//              ESCROW_CONNECTOR        the connector's name
//              ESCROW_STEP             update | verify
//              ESCROW_ACTION           rotate | rollback | restore (re-applying the old value)
//            Exit 0 = success; anything else (or the timeout, default 60 s) = failure. Output is
//            captured, redacted of every value in play and kept (truncated) for the journal and
//            the error message. Commands must be idempotent: a resumed or rolled-back rotation
//            runs them again with the same value.
//   manual   a platform with no API: a person pastes the value and confirms with
//            `escrow rotate --confirm ENV/NAME C`; an optional "verify" command checks the paste.
//
// The identity variables (ESCROW_IDENTITY_DATA, ESCROW_PASSPHRASE_FILE) are blanked in every
// command escrow runs, so a connector never sees the rotator's key.
#pragma once

#include <escrow/records.hpp>
#include <escrow/redact.hpp>
#include <escrow/secret_bytes.hpp>
#include <escrow/session.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace escrow::connector {

// Bytes of a command's (redacted) output kept in the journal and in JSON results.
constexpr std::size_t k_kept_output = 400;
// Bytes of it quoted in a one-line error message.
constexpr std::size_t k_message_output = 160;

enum class Step { update, verify };
std::string_view step_name(Step step);

// Why a command runs (its ESCROW_ACTION): a rotation, a rollback, re-applying the old value, or
// re-checking a restored vault's connectors (`restore`'s reconnect check), or a rehearsal.
enum class Action { rotate, rollback, restore, reconnect, rehearse };
std::string_view action_name(Action action);

struct Invocation
{
  std::string secret;   // ENV/NAME
  std::string env;
  std::int64_t version = 0;
  std::int64_t previous_version = 0; // 0 = none
  Action action = Action::rotate;
};

struct StepResult
{
  std::string connector;
  Step step = Step::update;
  std::int64_t version = 0;
  bool ok = false;
  int exit_code = -1;
  bool timed_out = false;
  std::int64_t timeout = 0; // seconds allowed
  std::string output; // stdout then stderr, redacted, truncated to k_kept_output
  std::chrono::milliseconds elapsed{0};

  // "update failed (exit 3): <output on one line>" / "verify timed out after 60s".
  std::string describe() const;
  Json to_json() const;
};

// Runs the connector's update or verify command with `value` on stdin. Never throws for a
// failing command (that is a result); throws Error(io) only if /bin/sh cannot be started.
StepResult run_step(const ConnectorRecord& connector,
                    Step step,
                    const Invocation& invocation,
                    const SecretBytes& value,
                    const Redactor& redactor);

// Environment overrides for every command escrow runs on a user's behalf (blank identity).
std::vector<std::pair<std::string, std::string>> scrubbed_environment();

// Collapses output to one printable line of at most `limit` bytes (for messages).
std::string one_line(std::string_view text, std::size_t limit);
// Keeps the last `limit` bytes of output (the end is where errors are), marking the cut.
std::string keep_tail(std::string_view text, std::size_t limit);

// --- managing connectors (each journals and commits; refusals leave every file untouched) ----

struct Spec
{
  std::string name;
  std::string env;
  ConnectorKind kind = ConnectorKind::command;
  std::string update;
  std::string verify;
  std::string instructions;
  std::int64_t timeout = 60;
  std::string rehearse_with; // --rehearse-with C: an existing connector of the same environment
};

// Checks a spec; Error(usage) naming the problem.
void validate(const Spec& spec);
// connector add: admins and rotators of the environment.
const ConnectorRecord& add(Session& session, const Spec& spec);
// connector remove: refused while any secret is bound to it (Error(usage) listing them).
void remove(Session& session, const std::string& name);
// Secrets bound to a connector.
std::vector<std::string> bound_secrets(const Vault& vault, const std::string& connector);

// connect / disconnect ENV/NAME C: whoever may write the secret. A connector of another
// environment is refused with Error(usage) ("environments never mix"), as `add --connector` is.
void connect(Session& session, const std::string& secret, const std::string& connector);
void disconnect(Session& session, const std::string& secret, const std::string& connector);

} // namespace escrow::connector
