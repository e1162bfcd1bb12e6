// Rotation pieces that need no vault: what is due, retention, in-flight state from the journal,
// and running a connector command (stdin, environment, timeout, redaction).
#include <escrow/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/rotation.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace escrow;

namespace {

constexpr Timestamp k_day = 86400;
constexpr Timestamp k_t0 = 1'700'000'000;

VersionRecord version(std::int64_t v, std::string state, Timestamp at)
{
  VersionRecord record;
  record.v = v;
  record.state = parse_version_state(state).value();
  record.created_at = at;
  record.wrapped["alice"] = "key";
  return record;
}

SecretRecord secret_with(std::vector<VersionRecord> versions)
{
  SecretRecord secret;
  secret.env = "prod";
  secret.name = "db";
  secret.owner = "alice";
  secret.versions = std::move(versions);
  return secret;
}

PolicyRecord policy_every(std::int64_t every)
{
  PolicyRecord policy;
  EnvPolicy rules;
  rules.every = every;
  policy.envs["*"] = rules;
  return policy;
}

JournalEntry journal_entry(std::string action, std::string result, std::int64_t v, Json detail = Json::object())
{
  JournalEntry entry;
  entry.action = parse_journal_action(action).value();
  entry.result = parse_journal_result(result).value();
  entry.secret = "prod/db";
  entry.version = v;
  entry.detail = std::move(detail);
  return entry;
}

} // namespace

TEST_CASE("rotation: due_reason follows the secret's cadence, else the environment's", "[rotation]")
{
  SecretRecord secret = secret_with({version(1, "current", k_t0)});
  const PolicyRecord none = policy_every(0);
  CHECK_FALSE(rotation::due_reason(secret, none, k_t0 + 400 * k_day));
  CHECK(rotation::status(secret, none, k_t0) == "manual");

  const PolicyRecord monthly = policy_every(30 * k_day);
  CHECK_FALSE(rotation::due_reason(secret, monthly, k_t0 + 29 * k_day));
  CHECK(rotation::status(secret, monthly, k_t0 + 29 * k_day) == "in 1d");
  const auto reason = rotation::due_reason(secret, monthly, k_t0 + 32 * k_day);
  REQUIRE(reason);
  CHECK(reason->find("overdue 2d") != std::string::npos);
  CHECK(rotation::status(secret, monthly, k_t0 + 32 * k_day) == "overdue 2d");

  secret.every = 7 * k_day; // the secret's own cadence wins
  CHECK(rotation::due_reason(secret, monthly, k_t0 + 8 * k_day));
  CHECK_FALSE(rotation::due_reason(secret, monthly, k_t0 + 6 * k_day));
  CHECK(rotation::cadence(secret, monthly) == 7 * k_day);
}

TEST_CASE("rotation: events, compromise, retirement and pending versions", "[rotation]")
{
  const PolicyRecord none = policy_every(0);
  SecretRecord secret = secret_with({version(1, "current", k_t0)});
  secret.due = "member bob removed";
  CHECK(rotation::due_reason(secret, none, k_t0) == std::optional<std::string>("member bob removed"));
  CHECK(rotation::status(secret, none, k_t0) == "due: member bob removed");

  secret.state = SecretState::retired;
  CHECK_FALSE(rotation::due_reason(secret, none, k_t0));
  CHECK(rotation::status(secret, none, k_t0) == "retired");

  SecretRecord compromised = secret_with({version(1, "compromised", k_t0)});
  CHECK(rotation::due_reason(compromised, none, k_t0) == std::optional<std::string>("compromised"));
  CHECK(rotation::status(compromised, none, k_t0) == "compromised");
  REQUIRE(rotation::live_version(compromised) != nullptr);
  CHECK(rotation::live_version(compromised)->v == 1);

  SecretRecord pending = secret_with({version(1, "current", k_t0), version(2, "pending", k_t0 + 1)});
  pending.due = "member bob removed";
  CHECK_FALSE(rotation::due_reason(pending, none, k_t0 + 400 * k_day)); // resume handles it, not --due
  CHECK(rotation::status(pending, none, k_t0) == "pending v2");
  REQUIRE(rotation::pending_version(pending) != nullptr);
  CHECK(rotation::pending_version(pending)->v == 2);
  CHECK(rotation::live_version(pending)->v == 1);
}

TEST_CASE("rotation: after_access is due only for a use of the current version", "[rotation]")
{
  const PolicyRecord none = policy_every(0);
  SecretRecord secret = secret_with({version(1, "previous", k_t0), version(2, "current", k_t0 + 10)});
  secret.after_access = true;
  Request request;
  request.id = "r1";
  request.by = "bob";
  request.created_at = k_t0 + 10;
  request.ttl = 3600;
  request.used_at = k_t0 + 10; // same second as v2
  Approval approval;
  approval.by = "carol";
  approval.v = 2;
  request.approvals.push_back(approval);
  secret.requests.push_back(request);
  CHECK(rotation::due_reason(secret, none, k_t0 + 20) == std::optional<std::string>("accessed via grant"));

  // After the rotation the use was of an older version: not due again (even in the same second).
  secret.versions[0].state = VersionState::retired;
  secret.versions[1].state = VersionState::previous;
  secret.versions.push_back(version(3, "current", k_t0 + 10));
  CHECK_FALSE(rotation::due_reason(secret, none, k_t0 + 20));

  // A grant carried into v3 and used is a use of v3.
  secret.versions[2].granted["bob"] = Grant{"key", k_t0 + 3600, "r1"};
  CHECK(rotation::due_reason(secret, none, k_t0 + 20));

  secret.after_access = false;
  CHECK_FALSE(rotation::due_reason(secret, none, k_t0 + 20));
}

TEST_CASE("rotation: retention keeps the keys of the newest `keep` versions", "[rotation]")
{
  SecretRecord secret = secret_with({version(1, "retired", k_t0), version(2, "failed", k_t0 + 1),
                                     version(3, "retired", k_t0 + 2), version(4, "previous", k_t0 + 3),
                                     version(5, "current", k_t0 + 4)});
  const auto changed = rotation::apply_retention(secret, 2); // previous + one more
  CHECK(changed == std::vector<std::int64_t>{2, 1});
  CHECK(secret.versions[0].wrapped.empty());
  CHECK(secret.versions[1].wrapped.empty());
  CHECK_FALSE(secret.versions[2].wrapped.empty());
  CHECK_FALSE(secret.versions[3].wrapped.empty());
  CHECK_FALSE(secret.versions[4].wrapped.empty());
  CHECK(secret.versions.size() == 5); // history stays

  // keep 0 still keeps the previous version (rollback needs it); applying twice changes nothing.
  SecretRecord other = secret_with({version(1, "retired", k_t0), version(2, "previous", k_t0 + 1),
                                    version(3, "current", k_t0 + 2)});
  CHECK(rotation::apply_retention(other, 0) == std::vector<std::int64_t>{1});
  CHECK_FALSE(other.versions[1].wrapped.empty());
  CHECK(rotation::apply_retention(other, 0).empty());
}

TEST_CASE("rotation: the in-flight state of a pending version is replayed from the journal", "[rotation]")
{
  std::vector<JournalEntry> journal;
  journal.push_back(journal_entry("rotate-start", "pending", 2));
  journal.push_back(journal_entry("confirm", "ok", 2, Json{{"connector", "portal"}}));
  journal.push_back(journal_entry("confirm", "ok", 1, Json{{"connector", "other"}})); // another version
  journal.push_back(journal_entry("confirm", "failed", 2, Json{{"connector", "bad"}}));
  auto state = rotation::replay(journal, "prod/db", 2);
  CHECK(state.kind == rotation::OpKind::rotate);
  CHECK_FALSE(state.rolling_back);
  CHECK(state.confirmed == std::set<std::string>{"portal"});

  journal.push_back(journal_entry("rotate-failed", "rolling-back", 2));
  state = rotation::replay(journal, "prod/db", 2);
  CHECK(state.rolling_back);

  // A later start of the same version (a rollback to it) begins afresh.
  journal.push_back(journal_entry("rollback-start", "pending", 2));
  state = rotation::replay(journal, "prod/db", 2);
  CHECK(state.kind == rotation::OpKind::rollback);
  CHECK_FALSE(state.rolling_back);
  CHECK(state.confirmed.empty());

  // Other secrets do not count.
  JournalEntry other = journal_entry("rotate-failed", "rolling-back", 2);
  other.secret = "prod/other";
  journal.push_back(other);
  CHECK_FALSE(rotation::replay(journal, "prod/db", 2).rolling_back);
}

TEST_CASE("rotation: one_line and keep_tail make output fit a message", "[rotation]")
{
  CHECK(connector::one_line("  error:\n  bad   thing\r\n\x01" "done\n", 100) == "error: | bad thing | done");
  CHECK(connector::one_line("abcdefghij", 4) == "abcd…");
  CHECK(connector::one_line("", 10).empty());
  CHECK(connector::keep_tail("0123456789", 20) == "0123456789");
  CHECK(connector::keep_tail("0123456789", 4) == "[…] 6789");
}

namespace {

struct TempDir
{
  std::filesystem::path path;
  TempDir()
  {
    char pattern[] = "/tmp/escrow-rotation-unit-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~TempDir()
  {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string read(const std::string& name) const
  {
    std::ifstream in(path / name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

ConnectorRecord command_connector(std::string update, std::string verify, std::int64_t timeout = 10)
{
  ConnectorRecord record;
  record.name = "crm";
  record.env = "prod";
  record.update = std::move(update);
  record.verify = std::move(verify);
  record.timeout = timeout;
  return record;
}

} // namespace

TEST_CASE("rotation: a connector gets the value on stdin and the documented environment", "[rotation][connector]")
{
  TempDir dir;
  ::setenv("ESCROW_IDENTITY_DATA", "{\"not\":\"for connectors\"}", 1);
  const std::string out = (dir.path / "env.txt").string();
  const ConnectorRecord connector = command_connector(
    "cat > '" + dir.path.string() + "/value.txt'; env | grep '^ESCROW_' | sort > '" + out + "'", "true");
  const SecretBytes value = SecretBytes::from("s3cr3t-new");
  Redactor redactor;
  redactor.add("prod/db@v4", value);
  connector::Invocation invocation{"prod/db", "prod", 4, 3, connector::Action::rotate};
  const auto result = connector::run_step(connector, connector::Step::update, invocation, value, redactor);
  ::unsetenv("ESCROW_IDENTITY_DATA");
  CHECK(result.ok);
  CHECK(result.exit_code == 0);
  CHECK(dir.read("value.txt") == "s3cr3t-new");
  const std::string env = dir.read("env.txt");
  CHECK(env.find("ESCROW_SECRET_NAME=prod/db\n") != std::string::npos);
  CHECK(env.find("ESCROW_ENV=prod\n") != std::string::npos);
  CHECK(env.find("ESCROW_VERSION=4\n") != std::string::npos);
  CHECK(env.find("ESCROW_PREVIOUS_VERSION=3\n") != std::string::npos);
  CHECK(env.find("ESCROW_CONNECTOR=crm\n") != std::string::npos);
  CHECK(env.find("ESCROW_STEP=update\n") != std::string::npos);
  CHECK(env.find("ESCROW_ACTION=rotate\n") != std::string::npos);
  CHECK(env.find("ESCROW_IDENTITY_DATA=\n") != std::string::npos); // blanked
  CHECK(env.find("s3cr3t") == std::string::npos);
}

TEST_CASE("rotation: connector output is redacted and a failure is described on one line", "[rotation][connector]")
{
  const ConnectorRecord connector =
    command_connector("true", "v=$(cat); echo \"checking $v\"; echo \"rejected $v\" >&2; exit 7");
  const SecretBytes value = SecretBytes::from("s3cr3t-new");
  const SecretBytes old = SecretBytes::from("0ld-value");
  Redactor redactor;
  redactor.add("prod/db@v4", value);
  redactor.add("prod/db@v3", old);
  connector::Invocation invocation{"prod/db", "prod", 4, 3, connector::Action::rotate};
  const auto result = connector::run_step(connector, connector::Step::verify, invocation, value, redactor);
  CHECK_FALSE(result.ok);
  CHECK(result.exit_code == 7);
  CHECK(result.output == "checking <redacted:prod/db@v4>\nrejected <redacted:prod/db@v4>");
  CHECK(result.describe() == "verify failed (exit 7): checking <redacted:prod/db@v4> | rejected <redacted:prod/db@v4>");
  CHECK(result.to_json()["result"] == "failed");
}

TEST_CASE("rotation: a hanging connector is killed at its timeout", "[rotation][connector]")
{
  const ConnectorRecord connector = command_connector("sleep 30", "true", 1);
  const SecretBytes value = SecretBytes::from("v");
  Redactor redactor;
  connector::Invocation invocation{"prod/db", "prod", 2, 1, connector::Action::rotate};
  const auto started = std::chrono::steady_clock::now();
  const auto result = connector::run_step(connector, connector::Step::update, invocation, value, redactor);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  CHECK_FALSE(result.ok);
  CHECK(result.timed_out);
  CHECK(result.describe().rfind("update timed out after", 0) == 0);
  CHECK(result.to_json()["result"] == "timeout");
}

TEST_CASE("rotation: connector specs are validated", "[rotation][connector]")
{
  connector::Spec spec;
  spec.name = "crm";
  spec.env = "prod";
  spec.update = "true";
  spec.verify = "true";
  CHECK_NOTHROW(connector::validate(spec));
  auto bad = spec;
  bad.verify.clear();
  CHECK_THROWS_AS(connector::validate(bad), Error);
  bad = spec;
  bad.name = "../x";
  CHECK_THROWS_AS(connector::validate(bad), Error);
  bad = spec;
  bad.env = "Prod";
  CHECK_THROWS_AS(connector::validate(bad), Error);
  bad = spec;
  bad.timeout = 0;
  CHECK_THROWS_AS(connector::validate(bad), Error);
  bad = spec;
  bad.kind = ConnectorKind::manual; // a manual connector has no update command
  CHECK_THROWS_AS(connector::validate(bad), Error);
  bad.update.clear();
  CHECK_NOTHROW(connector::validate(bad));
  try {
    bad = spec;
    bad.update.clear();
    connector::validate(bad);
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::usage);
    CHECK(std::string(error.what()).find("--update CMD and --verify CMD") != std::string::npos);
  }
}
