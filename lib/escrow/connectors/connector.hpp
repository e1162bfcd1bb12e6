// Connectors: the systems a secret's value is pushed to when it rotates (DESIGN §5).
//
// A connector record (records.hpp) belongs to one environment and has a kind. Each kind is a
// `Driver` in its own file of this folder, found through the registry (registry.cpp):
//   command  (command.cpp) "update" and "verify" shell commands (run with /bin/sh -c). Each
//            receives the value on stdin (never in argv or the environment) and, in its environment:
//              ESCROW_SECRET_NAME      ENV/NAME, e.g. prod/db
//              ESCROW_ENV              the environment, e.g. prod
//              ESCROW_VERSION          the version whose value is on stdin
//              ESCROW_PREVIOUS_VERSION the version it replaces ("" when none)
//              ESCROW_CONNECTOR        the connector's name
//              ESCROW_STEP             update | verify
//              ESCROW_ACTION           rotate | rollback | restore (re-applying the old value) |
//                                      reconnect (restore --reconnect) | rehearse (a rehearsal's real verify)
//              ESCROW_ROLE             the role of the value (alternating roles, below), else ""
//            Exit 0 = success; anything else (or the timeout, default 60 s) = failure. Output is
//            captured, redacted of every value in play and kept (truncated) for the journal and
//            the error message. Commands must be idempotent: a resumed or rolled-back rotation
//            runs them again with the same value.
//   manual   (manual.cpp) a platform with no API: a person pastes the value and confirms with
//            `escrow rotate --confirm ENV/NAME C`; an optional "verify" command checks the paste.
//   postgres (postgres.cpp) ALTER ROLE through libpq with a SCRAM-SHA-256 verifier computed on
//            the client; verify logs in as the role with the new value. Optionally two
//            alternating roles (alternation.cpp).
//   mysql    (mysql.cpp) ALTER USER through the MariaDB Connector/C with a mysql_native_password
//            hash computed on the client; verify logs in as the account.
//   http     (http.cpp) a JSON request with a templated body through libcurl, TLS verified.
//   node-red (node_red.cpp) a config node's credential set through Node-RED's Admin API.
// The native kinds (postgres, mysql, http, node-red) may hold their own credential in the vault
// (`auth_secret`): rotation reads it under the read rules and hands it over in the Invocation.
// docs/CONNECTORS.md describes every kind for users.
//
// Rotation never asks which kind a connector is: it asks the driver whether escrow pushes the
// value itself (`pushes()`) and runs its update and verify steps. Adding a kind is: a value of
// ConnectorKind and its name (records.hpp/.cpp), a file here implementing Driver, and one line
// in registry.cpp. Managing connectors (add, remove, connect) is in manage.hpp.
//
// The identity variables (ESCROW_IDENTITY_DATA, ESCROW_PASSPHRASE_FILE) are blanked in every
// command escrow runs, so a connector never sees the rotator's key.
#pragma once

#include <escrow/records.hpp>
#include <escrow/redact.hpp>
#include <escrow/secret_bytes.hpp>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace escrow {
class Vault;
} // namespace escrow

namespace escrow::connector {

// Bytes of a command's (redacted) output kept in the journal and in JSON results.
constexpr std::size_t k_kept_output = 400;
// Bytes of it quoted in a one-line error message.
constexpr std::size_t k_message_output = 160;

enum class Step { update, verify };
std::string_view step_name(Step step);

// Why a command runs (its ESCROW_ACTION): a rotation, a rollback, or re-applying the old value.
// reconnect: `restore --reconnect` checking a restored value; rehearse: `rehearse` checking the
// value a real system holds (verify only, never update; docs/RECOVERY.md).
enum class Action { rotate, rollback, restore, reconnect, rehearse };
std::string_view action_name(Action action);

struct Invocation
{
  std::string secret;   // ENV/NAME
  std::string env;
  std::int64_t version = 0;
  std::int64_t previous_version = 0; // 0 = none
  Action action = Action::rotate;
  // The connector's own credential (the value of its auth_secret), read by the caller under the
  // read rules; nullptr when the connector has none or it was not read (a driver that needs it
  // then fails the step, naming the secret).
  const SecretBytes* auth = nullptr;
  // Alternating roles (role_for_slot below): the version's slot (0 or 1) and the role the
  // secret's connector with alternating roles gives it ("" when the secret has none). Every
  // connector of the secret receives them, so the consumers learn which role the value is for.
  int slot = 0;
  std::string role{};
};

// Alternating roles (a postgres connector with --alternate-role; docs/CONNECTORS.md), after AWS
// Secrets Manager's alternating-users rotation: two roles, and each rotation sets the password of
// the role the consumers are NOT using, then switches them to it, so the previous value keeps
// logging in (as the other role) while the consumers move.
//
// The slot of a version is the number of the secret's versions before it that did not fail,
// modulo 2: a rotation's new version always has the other slot than the version it replaces, and
// a failed attempt does not count (rotation/v2.cpp computes it). Slot 0 is --role, slot 1
// --alternate-role.
// The role of `slot` for a connector with alternating roles (its --role for one role).
const std::string& role_for_slot(const ConnectorRecord& connector, int slot);

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

// Environment overrides for every command escrow runs on a user's behalf (blank identity).
std::vector<std::pair<std::string, std::string>> scrubbed_environment();

// Collapses output to one printable line of at most `limit` bytes (for messages).
std::string one_line(std::string_view text, std::size_t limit);
// Keeps the last `limit` bytes of output (the end is where errors are), marking the cut.
std::string keep_tail(std::string_view text, std::size_t limit);

// What `connector add` was asked for (checked by validate(), stored by manage.hpp's add()).
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

  // The native kinds (the fields of ConnectorRecord, spelled as the CLI options).
  std::string auth_secret;          // --auth-secret ENV/NAME
  std::string conninfo;             // --conninfo
  std::string role;                 // --role
  std::string alternate_role;       // --alternate-role (postgres)
  std::string db_user;              // --user (mysql)
  std::string db_host;              // --host (mysql; "" = '%')
  std::string url;                  // --url
  std::optional<HttpMethod> method; // --method (http; default PUT)
  std::string body;                 // --body
  std::vector<std::string> headers; // --header (repeatable)
  std::int64_t expect_status = 0;   // --expect-status (0 = any 2xx)
  std::string verify_url;           // --verify-url
  std::int64_t verify_expect_status = 0; // --verify-expect-status (0 = 200 with a verify URL)
  std::string cacert_file;          // --cacert FILE (read by add(); its PEM is stored)
  std::string node;                 // --node
  std::string field;                // --field
  std::string auth_user;            // --auth-user
};

// The record a spec describes (without created_at, signature or the CA file's contents).
ConnectorRecord record_of(const Spec& spec);

// --cacert FILE: the PEM certificates read (at most 64 KiB, CR removed, no private key), stored
// in the record so every machine that rotates trusts the same CAs. Error(usage) naming the file.
std::string read_cacert(const std::string& path);

// The kind's own settings as the format writes them (docs/FORMAT.md), for `connector list`:
// {} for command and manual; "cacert" is shown as true/false (whether a CA is stored). Never a
// value: the auth secret is a name.
Json settings_of(const ConnectorRecord& connector);

// One kind of connector.
class Driver
{
public:
  virtual ~Driver() = default;

  virtual ConnectorKind kind() const = 0;
  // Whether escrow pushes a new value itself (update, then verify). When false a person pastes
  // it: a rotation waits for `rotate --confirm` and only the verify step runs (when configured).
  virtual bool pushes() const = 0;
  // The kind's own rules for a spec (the common ones are in validate()); Error(usage).
  virtual void validate(const Spec& spec) const = 0;
  // Runs a step with `value`. Never throws for a failing step (that is a result); Error(io) only
  // if the step cannot be started at all.
  virtual StepResult run(const ConnectorRecord& connector,
                         Step step,
                         const Invocation& invocation,
                         const SecretBytes& value,
                         const Redactor& redactor) const = 0;
  // One line for people: what the connector does (connector list).
  virtual std::string describe(const ConnectorRecord& connector) const = 0;
  // Whether its verify step checks something (a command, a login, a request); when false the
  // step succeeds without checking anything, and a rehearsal or `restore --reconnect` skips it.
  virtual bool verifies(const ConnectorRecord& connector) const = 0;
};

// The registry: the driver of a kind (every ConnectorKind has one).
const Driver& driver_for(ConnectorKind kind);
inline const Driver& driver_for(const ConnectorRecord& connector)
{
  return driver_for(connector.kind);
}

// Runs the connector's update or verify step through its driver.
StepResult run_step(const ConnectorRecord& connector,
                    Step step,
                    const Invocation& invocation,
                    const SecretBytes& value,
                    const Redactor& redactor);

// Checks a spec: name, environment, timeout and text limits, then the kind's own rules;
// Error(usage) naming the problem.
void validate(const Spec& spec);

// The settings of a Spec, for the kinds' validate(): check_settings refuses every setting given
// that the kind does not take ("connector C: --role does not apply to http connectors").
enum class Setting {
  update, verify, instructions, auth_secret, conninfo, role, url, method, body, headers,
  expect_status, verify_url, verify_expect_status, cacert, node, field, auth_user, alternate_role, db_user, db_host,
};
void check_settings(const Spec& spec, std::initializer_list<Setting> allowed);
// A text option: UTF-8, at most `limit` bytes, no control characters (but '\n' and '\t' when
// `multiline`); Error(usage) naming the option.
void check_text(const Spec& spec, std::string_view option, std::string_view text, std::size_t limit, bool multiline = false);
// 0 (not given) or 100-599.
void check_status(const Spec& spec, std::string_view option, std::int64_t status);

// The native kinds' step frame (postgres, mysql, http, node-red), one helper for all of them.
using Clock = std::chrono::steady_clock;
// Why a native step stopped: a message (it may hold values: run_native redacts it) and whether
// the deadline stopped it.
struct Stop
{
  std::string message;
  bool timed_out = false;
};
// What a native step's body does: everything before `deadline` (the connector's timeout from the
// start), naming any value it adds to what is in play in `redactor` (a clone of the caller's);
// nullopt with `output` (free of values) on success. An Error it throws is a Stop.
using NativeBody = std::function<std::optional<Stop>(Clock::time_point deadline, Redactor& redactor, std::string& output)>;
// Runs `body` and makes its StepResult: connector, step, version, timeout, ok/exit code, the
// output (a Stop's message redacted and truncated like a command's; exit_code -1), elapsed time.
StepResult run_native(const ConnectorRecord& connector, Step step, const Invocation& invocation,
                      const Redactor& redactor, const NativeBody& body);
// The time left before `deadline`, at least 1 ms (for the libraries' own timeouts).
std::chrono::milliseconds remaining(Clock::time_point deadline);
// The time left before `deadline` in whole milliseconds for poll(): 0 once it has passed.
int remaining_poll_ms(Clock::time_point deadline);

// Runs one shell command with `value` on stdin and the ESCROW_* variables above (what the
// command kind does for both steps and the manual kind for its verify). An empty command
// succeeds without running anything.
StepResult run_shell_step(const ConnectorRecord& connector,
                          const std::string& command,
                          Step step,
                          const Invocation& invocation,
                          const SecretBytes& value,
                          const Redactor& redactor);

} // namespace escrow::connector
