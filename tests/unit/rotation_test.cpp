// Rotation pieces that need no vault: running a connector command (stdin, environment, timeout,
// redaction), the outcomes' names, and how rotate --due splits a batch at the bulk limits. What is due, retention and resuming on escrow-vault/2 are
// tests/cli/rotation_test.cpp's.
#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/history/op.hpp>
#include <escrow/rotation/outcome.hpp>
#include <escrow/rotation/v2.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace escrow;

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

TEST_CASE("rotation: outcomes write their action and result by name", "[rotation]")
{
  rotation::Outcome out;
  out.secret = "prod/db";
  out.action = rotation::OutcomeAction::resume_back;
  out.result = rotation::OutcomeResult::planned;
  const Json json = out.to_json();
  CHECK(json["action"] == "resume (roll back)");
  CHECK(json["result"] == "planned");
  CHECK(json["ok"] == true);
  CHECK(out.summary() == "prod/db: would resume (roll back) ()");
  out.result = rotation::OutcomeResult::rollback_incomplete;
  out.error = "boom";
  CHECK(out.to_json()["result"] == "rollback-incomplete");
  CHECK_FALSE(out.ok());
  CHECK(out.summary() == "prod/db: rollback-incomplete: boom");
  CHECK(Json(rotation::OutcomeResult::awaiting_confirmation) == "awaiting-confirmation");
}

TEST_CASE("rotation: rotate --due writes one entry per batch unless the bulk limits split it", "[rotation]")
{
  using rotation::v2::BulkLoad;
  using rotation::v2::bulk_chunks;
  using Ranges = std::vector<std::pair<std::size_t, std::size_t>>;
  CHECK(bulk_chunks({}).empty());
  // 1,000 secrets of 10 key lines and ~2.7 KB each (the bench's): one entry.
  CHECK(bulk_chunks(std::vector<BulkLoad>(1000, BulkLoad{10, 2700})) == Ranges{{0, 1000}});
  // Items: at most k_max_items an entry.
  const std::size_t items = history::k_max_items;
  CHECK(bulk_chunks(std::vector<BulkLoad>(items + 1, BulkLoad{1, 100})) == Ranges{{0, items}, {items, items + 1}});
  // Key writes: at most k_max_writes an entry (40,016 = 4,001 items of 10 and 6 to spare).
  CHECK(bulk_chunks(std::vector<BulkLoad>(5000, BulkLoad{10, 100})) == Ranges{{0, 4001}, {4001, 5000}});
  // Bytes: half the journal's line limit (8 MiB) an entry.
  const std::size_t mib = std::size_t{1} << 20;
  CHECK(bulk_chunks(std::vector<BulkLoad>(5, BulkLoad{1, 3 * mib})) == Ranges{{0, 2}, {2, 4}, {4, 5}});
  // An item alone over a limit is an entry of its own (the write refuses it, naming the limit).
  CHECK(bulk_chunks({BulkLoad{1, 10}, BulkLoad{history::k_max_writes + 1, 10}, BulkLoad{1, 10}})
        == Ranges{{0, 1}, {1, 2}, {2, 3}});
  // Every range is within the limits and together they cover every item, in order.
  std::vector<BulkLoad> mixed;
  for (std::size_t i = 0; i < 30000; ++i) {
    mixed.push_back(BulkLoad{1 + i % 13, 200 + (i % 7) * 1000});
  }
  std::size_t next = 0;
  for (const auto& [from, to] : bulk_chunks(mixed)) {
    CHECK(from == next);
    CHECK(to > from);
    CHECK(to - from <= history::k_max_items);
    std::size_t writes = 0;
    std::size_t bytes = 0;
    for (std::size_t i = from; i < to; ++i) {
      writes += mixed[i].writes;
      bytes += mixed[i].bytes;
    }
    CHECK(writes <= history::k_max_writes);
    CHECK(bytes <= history::k_max_entry_line / 2);
    next = to;
  }
  CHECK(next == mixed.size());
}
