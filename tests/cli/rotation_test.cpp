// connector, connect/disconnect, rotate (--due, --resume, --dry-run, --confirm), compromise,
// retire, rollback — in-process, against connectors that are small shell commands on files.
#include "fixture.hpp"

#include <escrow/history/op.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/rotation/v2.hpp>
#include <escrow/session_options.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>

using escrow::test::Fixture;
using escrow::test::Result;
using namespace escrow;

namespace {

// A command connector that stores the value in <dir>/<name>.txt and checks it there.
std::vector<std::string> file_connector(const Fixture& f, const std::string& name, const std::string& env = "prod")
{
  const std::string file = (f.dir() / (name + ".txt")).string();
  return {"connector", "add", name, "--env", env, "--update", "cat > '" + file + "'", "--verify",
          "cmp -s - '" + file + "'"};
}

bool file_exists(const Fixture& f, const std::string& name)
{
  return std::filesystem::exists(f.path(name));
}

std::string reveal(const Fixture& f, const std::string& who, const std::string& name, std::int64_t v = 0)
{
  std::vector<std::string> args{"get", name, "--reveal"};
  if (v > 0) {
    args.insert(args.end(), {"--version", std::to_string(v)});
  }
  const Result r = f.as(who, args);
  INFO(r.err);
  REQUIRE(r.code == 0);
  return r.out;
}

Json json_of(const Result& r)
{
  INFO(r.out << r.err);
  return Json::parse(r.out);
}

// Every file escrow-vault/2 writes (head, keys, journal), for "byte-identical afterwards" checks.
std::string snapshot(const Fixture& f)
{
  std::string all = f.read("escrow.vault") + "\n--\n";
  for (const char* file : {"escrow.keys", "escrow.journal"}) {
    if (std::filesystem::exists(f.path(file))) {
      all += f.read(file) + "\n--\n";
    }
  }
  return all;
}

// What a command wrote anywhere a value must never be.
void check_no_leak(const Fixture& f, const std::vector<std::string>& values, const std::vector<Result>& results)
{
  const std::string vault = f.read("escrow.vault");
  const std::string journal = f.read("escrow.journal");
  const std::string keys = f.read("escrow.keys");
  for (const auto& value : values) {
    INFO("value " << value);
    CHECK(vault.find(value) == std::string::npos);
    CHECK(journal.find(value) == std::string::npos);
    CHECK(keys.find(value) == std::string::npos);
    for (const auto& r : results) {
      CHECK(r.out.find(value) == std::string::npos);
      CHECK(r.err.find(value) == std::string::npos);
    }
  }
}

// Session options as the CLI builds them for `who` (for set-ups the CLI cannot make).
history::VaultSessionOptions v2_options(const Fixture& f, const std::string& who)
{
  const SessionOptions v1 = f.options(who);
  history::VaultSessionOptions options;
  options.vault_path = v1.vault_path;
  options.state_home = f.dir() / "state";
  options.clock = v1.clock;
  options.lock_wait = v1.lock_wait;
  options.identity = [v1] { return load_identity(v1); };
  return options;
}

void set_policy(const Fixture& f, std::vector<std::string> args)
{
  args.insert(args.begin(), "policy");
  const Result r = f.as("alice", args);
  INFO(r.err);
  REQUIRE(r.code == 0);
}

history::Secret read_secret(const Fixture& f, const std::string& name)
{
  const history::VaultSession session = history::VaultSession::open(v2_options(f, "alice"), history::Access::read);
  const history::Secret* secret = session.state().secret(name);
  REQUIRE(secret != nullptr);
  return *secret;
}

const history::Version* version_of(const history::Secret& secret, std::int64_t v, std::string* vid = nullptr)
{
  for (const auto& [id, version] : secret.versions) {
    if (version.v == v) {
      if (vid != nullptr) {
        *vid = id;
      }
      return &version;
    }
  }
  return nullptr;
}

std::string state_of(const history::Secret& secret, std::int64_t v)
{
  const history::Version* version = version_of(secret, v);
  return version == nullptr ? "none" : std::string(version_state_name(version->state));
}

// The journal's entries as JSON (escrow-vault/2: one canonical entry a line).
std::vector<Json> journal_of(const Fixture& f)
{
  std::vector<Json> entries;
  std::istringstream lines(f.read("escrow.journal"));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) {
      entries.push_back(Json::parse(line));
    }
  }
  return entries;
}

// Entries of `action` (and, when given, `result`: an entry's result, or for rotate-fail the
// result of one of its items).
std::size_t count_actions(const Fixture& f, const std::string& action, const std::string& result = "")
{
  std::size_t n = 0;
  for (const Json& entry : journal_of(f)) {
    if (entry.value("action", "") != action) {
      continue;
    }
    if (result.empty() || entry.value("result", "") == result) {
      ++n;
      continue;
    }
    if (entry.contains("op")) {
      for (const Json& item : entry["op"]["args"].value("items", Json::array())) {
        n += item.value("result", "") == result || item.value("kind", "") == result ? 1 : 0;
      }
    }
  }
  return n;
}

// Leaves prod/db with a rotation in flight as a crashed run would: the rotate-start of v2
// ("n3w-value-2") committed, the run stopped before its first connector, and connector a holding
// v2. With `decided`, the run had also committed rotate-fail rolling-back.
std::string crash_after_create(Fixture& f, bool decided = false)
{
  const SecretBytes value = SecretBytes::from("n3w-value-2");
  {
    history::VaultSession session = history::VaultSession::open(v2_options(f, "alice"), history::Access::write);
    rotation::Options options;
    options.value = &value;
    options.progress = [](const std::string& line) {
      if (line.find(": update ") != std::string::npos) {
        throw std::runtime_error("killed");
      }
    };
    rotation::v2::Rotator rotator(session, options);
    REQUIRE_THROWS_WITH(rotator.rotate("prod/db"), "killed");
  }
  if (decided) {
    history::VaultSession session = history::VaultSession::open(v2_options(f, "alice"), history::Access::write);
    const std::string vid = session.state().secret("prod/db")->rotation->vid;
    session.submit(history::RotateFailArgs{{history::FailItem{"prod/db", vid, history::FailResult::rolling_back}}});
  }
  std::FILE* out = std::fopen(f.path("a.txt").c_str(), "wb");
  std::fputs("n3w-value-2", out);
  std::fclose(out);
  return "n3w-value-2";
}

// alice (admin, owner of prod/db with value "0ld-value-1"), connectors a and b bound to it.
void two_connectors(Fixture& f)
{
  f.init();
  REQUIRE(f.as("alice", file_connector(f, "a")).code == 0);
  REQUIRE(f.as("alice", file_connector(f, "b")).code == 0);
  f.add("alice", "prod/db", "0ld-value-1", {"--connector", "a", "--connector", "b"});
}

// A command connector that keeps each secret's value in <dir>/<name>-<ENV>_<NAME>.txt (one
// connector bound to many secrets, as CI binds one); its verify refuses `fail_at` ("ENV/NAME:V").
std::vector<std::string> per_secret_connector(const Fixture& f, const std::string& name, const std::string& fail_at = "")
{
  const std::string file =
    "'" + (f.dir() / name).string() + "-'\"$(printf %s \"$ESCROW_SECRET_NAME\" | tr / _)\".txt";
  std::string verify = "cmp -s - " + file;
  if (!fail_at.empty()) {
    verify = "[ \"$ESCROW_SECRET_NAME:$ESCROW_VERSION\" != '" + fail_at + "' ] && " + verify;
  }
  return {"connector", "add", name, "--env", "prod", "--update", "cat > " + file, "--verify", verify};
}

std::string held_by(const Fixture& f, const std::string& connector, const std::string& secret)
{
  std::string file = secret;
  std::replace(file.begin(), file.end(), '/', '_');
  return f.read(connector + "-" + file + ".txt");
}

// The journal's operation entries (result ok) of `action` after the first `skip` entries, and the
// secrets their items name, one list per entry.
std::vector<std::vector<std::string>> items_of(const Fixture& f, const std::string& action, std::size_t skip,
                                               const std::string& item_result = "")
{
  std::vector<std::vector<std::string>> out;
  const std::vector<Json> entries = journal_of(f);
  for (std::size_t i = skip; i < entries.size(); ++i) {
    const Json& e = entries[i];
    if (e.value("action", "") != action || e.value("result", "") != "ok" || !e.contains("op")) {
      continue;
    }
    std::vector<std::string> names;
    for (const Json& item : e["op"]["args"]["items"]) {
      if (item_result.empty() || item.value("result", "") == item_result) {
        names.push_back(item["secret"].get<std::string>());
      }
    }
    out.push_back(names);
  }
  return out;
}

// The vault's revisions: its operation entries (events are not revisions).
std::size_t revisions(const Fixture& f)
{
  const std::vector<Json> entries = journal_of(f);
  return static_cast<std::size_t>(std::count_if(entries.begin(), entries.end(), [](const Json& e) { return e.contains("op"); }));
}

// prod/a … prod/d, every 30 days, bound to connector p (whose verify refuses `fail_at`), due at
// 2030-02-15.
void four_due(Fixture& f, const std::string& fail_at = "")
{
  f.init();
  REQUIRE(f.as("alice", per_secret_connector(f, "p", fail_at)).code == 0);
  f.set_env("ESCROW_NOW", "2030-01-01T00:00:00Z");
  for (const char* name : {"prod/a", "prod/b", "prod/c", "prod/d"}) {
    f.add("alice", name, std::string(name) + "-value-1", {"--every", "30d", "--connector", "p"});
  }
  f.set_env("ESCROW_NOW", "2030-02-15T00:00:00Z");
}

} // namespace

TEST_CASE("rotation cli: connector add, list and remove, with refusals that change nothing", "[rotation][cli]")
{
  Fixture f;
  f.init();
  f.member("rita", {"rotator"}, {"prod"});
  f.member("bob", {"requester"}, {"prod"});
  REQUIRE(f.as("alice", file_connector(f, "crm")).code == 0);
  REQUIRE(f.as("rita", {"connector", "add", "portal", "--env", "prod", "--manual", "--instructions",
                        "paste it in the billing portal"})
            .code == 0);
  const std::string before = snapshot(f);

  Result r = f.as("alice", {"connector", "add", "x", "--env", "prod", "--update", "true"});
  CHECK(r.code == 2);
  CHECK(r.err.find("needs --update CMD and --verify CMD") != std::string::npos);
  r = f.as("alice", {"connector", "add", "../evil", "--env", "prod", "--update", "true", "--verify", "true"});
  CHECK(r.code == 2);
  r = f.as("alice", {"connector", "add", "crm", "--env", "prod", "--update", "true", "--verify", "true"});
  CHECK(r.code == 2);
  CHECK(r.err.find("already exists") != std::string::npos);
  r = f.as("alice", {"connector", "add", "y", "--env", "prod", "--manual", "--update", "true"});
  CHECK(r.code == 2);
  r = f.as("alice", {"connector", "add", "y", "--env", "prod", "--update", "true", "--verify", "true", "--timeout", "0"});
  CHECK(r.code == 2);
  CHECK(snapshot(f) == before); // usage errors write nothing
  // A member's refusal is exit 4 and journaled as denied (escrow-vault/2), nothing else changes.
  r = f.as("bob", {"connector", "add", "y", "--env", "prod", "--update", "true", "--verify", "true"});
  CHECK(r.code == 4);
  CHECK(journal_of(f).back()["result"] == "denied");
  r = f.as("rita", {"connector", "add", "y", "--env", "staging", "--update", "true", "--verify", "true"});
  CHECK(r.code == 4); // rita does not reach staging
  CHECK(journal_of(f).back()["result"] == "denied");
  CHECK(count_actions(f, "connector-add", "ok") == 2);

  f.add("alice", "prod/db", "value-1", {"--connector", "crm"});
  r = f.as("alice", {"--json", "connector", "list"});
  REQUIRE(r.code == 0);
  const Json list = json_of(r);
  REQUIRE(list["connectors"].size() == 2);
  CHECK(list["connectors"][0]["name"] == "crm");
  CHECK(list["connectors"][0]["kind"] == "command");
  CHECK(list["connectors"][0]["secrets"] == Json::array({"prod/db"}));
  CHECK(list["connectors"][1]["name"] == "portal");
  CHECK(list["connectors"][1]["kind"] == "manual");
  CHECK(list["connectors"][1]["instructions"] == "paste it in the billing portal");
  r = f.as("alice", {"connector", "list"});
  CHECK(r.out.find("portal  prod  manual") != std::string::npos);

  const std::string bound = snapshot(f);
  r = f.as("alice", {"connector", "remove", "crm"});
  CHECK(r.code == 2);
  CHECK(r.err.find("still bound to prod/db") != std::string::npos);
  CHECK(snapshot(f) == bound);
  REQUIRE(f.as("alice", {"connector", "remove", "portal"}).code == 0);
  REQUIRE(f.as("alice", {"disconnect", "prod/db", "crm"}).code == 0);
  REQUIRE(f.as("alice", {"connector", "remove", "crm"}).code == 0);
  CHECK(json_of(f.as("alice", {"--json", "connector", "list"}))["connectors"].empty());
  CHECK(f.as("alice", {"verify"}).code == 0);
}

TEST_CASE("rotation cli: connect refuses a connector of another environment (exit 2, nothing changed)",
          "[rotation][cli]")
{
  Fixture f;
  f.init();
  REQUIRE(f.as("alice", file_connector(f, "stage-app", "staging")).code == 0);
  REQUIRE(f.as("alice", file_connector(f, "prod-app", "prod")).code == 0);
  f.add("alice", "prod/db", "value-1");
  const std::string before = snapshot(f);
  Result r = f.as("alice", {"connect", "prod/db", "stage-app"});
  CHECK(r.code == 2);
  CHECK(r.err == "escrow: error: connect: connector stage-app belongs to staging, not prod (environments never mix)\n");
  r = f.as("alice", {"connect", "prod/db", "nope"});
  CHECK(r.code == 2);
  r = f.as("alice", {"disconnect", "prod/db", "prod-app"});
  CHECK(r.code == 2);
  const std::string value = "other-value";
  r = f.as("alice", {"add", "prod/other", "--purpose", "x", "--connector", "stage-app"}, &value);
  CHECK(r.code == 2);
  CHECK(snapshot(f) == before);

  REQUIRE(f.as("alice", {"connect", "prod/db", "prod-app"}).code == 0);
  CHECK(f.as("alice", {"connect", "prod/db", "prod-app"}).code == 2); // already bound
  CHECK(read_secret(f, "prod/db").connectors == std::vector<std::string>{"prod-app"});
  const auto entries = journal_of(f);
  CHECK(entries.back()["action"] == "secret-set"); // escrow-vault/2: connect is a secret-set of the order
  CHECK(entries.back()["op"]["args"]["connectors"] == Json::array({"prod-app"}));
}

TEST_CASE("rotation cli: rotate pushes the new value to every connector, then verifies", "[rotation][cli]")
{
  Fixture f;
  f.init();
  const std::string env_file = f.path("env.txt").string();
  REQUIRE(f.as("alice", {"connector", "add", "a", "--env", "prod", "--update",
                         "cat > '" + f.path("a.txt").string() + "'; env | grep ^ESCROW_ | sort > '" + env_file + "'",
                         "--verify", "cmp -s - '" + f.path("a.txt").string() + "'"})
            .code == 0);
  REQUIRE(f.as("alice", file_connector(f, "b")).code == 0);
  f.add("alice", "prod/db", "0ld-value-1", {"--connector", "a", "--connector", "b"});
  const Result r = f.as("alice", {"rotate", "prod/db"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "prod/db: rotated v1 → v2 (updated and verified: a, b)\n");
  const std::string value = reveal(f, "alice", "prod/db");
  CHECK(value.size() == 32); // the default generator
  CHECK(f.read("a.txt") == value);
  CHECK(f.read("b.txt") == value);
  const std::string env = f.read("env.txt");
  CHECK(env.find("ESCROW_SECRET_NAME=prod/db\n") != std::string::npos);
  CHECK(env.find("ESCROW_ENV=prod\n") != std::string::npos);
  CHECK(env.find("ESCROW_VERSION=2\n") != std::string::npos);
  CHECK(env.find("ESCROW_PREVIOUS_VERSION=1\n") != std::string::npos);

  const history::Secret secret = read_secret(f, "prod/db");
  CHECK(state_of(secret, 1) == "previous");
  CHECK(state_of(secret, 2) == "current");
  CHECK(version_of(secret, 2)->why == "on request");
  CHECK(reveal(f, "alice", "prod/db", 1) == "0ld-value-1");
  // The journal: the pending version was committed before the connectors ran, then finished.
  // (escrow-vault/2: the rotate-start operation carries v2's key lines, rotate-finish makes it
  // current; the connectors that ran are in the command's output, not in the operation.)
  std::vector<Json> entries;
  for (auto& entry : journal_of(f)) {
    if (entry["action"] != "reveal") {
      entries.push_back(std::move(entry));
    }
  }
  REQUIRE(entries.size() >= 2);
  CHECK(entries[entries.size() - 2]["action"] == "rotate-start");
  CHECK(entries[entries.size() - 2]["result"] == "ok");
  CHECK(entries.back()["action"] == "rotate-finish");
  CHECK(entries.back()["result"] == "ok");
  check_no_leak(f, {value, "0ld-value-1"}, {r});
  CHECK(f.as("alice", {"verify"}).code == 0);

  // A second rotation retires v1 (keep 3 keeps its keys), and show lists who and why.
  REQUIRE(f.as("alice", {"rotate", "prod/db", "--why", "quarterly"}).code == 0);
  const history::Secret after = read_secret(f, "prod/db");
  CHECK(state_of(after, 1) == "retired");
  CHECK(state_of(after, 2) == "previous");
  CHECK(state_of(after, 3) == "current");
  const Result show = f.as("alice", {"show", "prod/db"});
  CHECK(show.out.find("v3       current   ") != std::string::npos);
  CHECK(show.out.find("quarterly") != std::string::npos);
}

TEST_CASE("rotation cli: a verify that fails puts the old value back on every connector (exit 1)", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  const std::string old_file = f.path("old.txt").string();
  {
    std::FILE* out = std::fopen(old_file.c_str(), "wb");
    std::fputs("0ld-value-1", out);
    std::fclose(out);
  }
  // c accepts the update, but its verify only accepts the old value.
  const std::string c_file = f.path("c.txt").string();
  REQUIRE(f.as("alice", {"connector", "add", "c", "--env", "prod", "--update", "cat > '" + c_file + "'", "--verify",
                         "cmp -s - '" + old_file + "' || { echo 'login refused' >&2; exit 3; }"})
            .code == 0);
  REQUIRE(f.as("alice", {"connect", "prod/db", "c"}).code == 0);
  const Result r = f.as("alice", {"rotate", "prod/db"});
  CHECK(r.code == 1);
  CHECK(r.err == "escrow: error: rotate prod/db: v2 rotation failed: connector c verify failed (exit 3): login "
                 "refused; v1 re-applied to a, b, c\n");
  CHECK(f.read("a.txt") == "0ld-value-1");
  CHECK(f.read("b.txt") == "0ld-value-1");
  CHECK(f.read("c.txt") == "0ld-value-1");
  const history::Secret secret = read_secret(f, "prod/db");
  CHECK(state_of(secret, 1) == "current");
  CHECK(state_of(secret, 2) == "failed");
  CHECK(reveal(f, "alice", "prod/db") == "0ld-value-1");
  const std::string failed_value = reveal(f, "alice", "prod/db", 2); // kept: never lose a value
  CHECK(count_actions(f, "rotate-fail", "rolling-back") == 1);
  CHECK(count_actions(f, "rotate-fail", "rolled-back") == 1);
  check_no_leak(f, {failed_value, "0ld-value-1"}, {r});
  CHECK(f.as("alice", {"verify"}).code == 0);
}

TEST_CASE("rotation cli: a hanging connector is killed at its timeout and rolled back", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  const std::string flag = f.path("hang").string();
  const std::string file = f.path("slow.txt").string();
  // Hangs once (on the new value); the re-apply of the old value then goes through.
  REQUIRE(f.as("alice", {"connector", "add", "slow", "--env", "prod", "--timeout", "1", "--update",
                         "if [ -e '" + flag + "' ]; then rm -f '" + flag + "'; sleep 30; fi; cat > '" + file + "'",
                         "--verify", "cmp -s - '" + file + "'"})
            .code == 0);
  REQUIRE(f.as("alice", {"connect", "prod/db", "slow"}).code == 0);
  std::FILE* out = std::fopen(flag.c_str(), "wb");
  std::fclose(out);
  const auto started = std::chrono::steady_clock::now();
  const Result r = f.as("alice", {"--json", "rotate", "prod/db"});
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(15));
  CHECK(r.code == 1);
  CHECK(r.err.find("connector slow update timed out after 1s") != std::string::npos);
  const Json doc = json_of(r);
  CHECK(doc["results"][0]["result"] == "rolled-back");
  CHECK(f.read("a.txt") == "0ld-value-1");
  CHECK(f.read("b.txt") == "0ld-value-1");
  CHECK(f.read("slow.txt") == "0ld-value-1");
  CHECK(state_of(read_secret(f, "prod/db"), 2) == "failed");
}

TEST_CASE("rotation cli: a connector that prints the value never leaks it", "[rotation][cli]")
{
  Fixture f;
  f.init();
  const std::string file = f.path("echo.txt").string();
  const std::string good = f.path("good.txt").string();
  {
    std::FILE* out = std::fopen(good.c_str(), "wb");
    std::fputs("0ld-value-1", out);
    std::fclose(out);
  }
  // Prints every value it sees, and accepts only the old one.
  REQUIRE(f.as("alice", {"connector", "add", "echo", "--env", "prod", "--update",
                         "v=$(cat); printf '%s' \"$v\" > '" + file + "'; echo \"set to $v\"; echo \"warn $v\" >&2",
                         "--verify",
                         "v=$(cat); echo \"checking $v against $(cat '" + file + "')\" >&2; [ \"$v\" = \"$(cat '" + good +
                           "')\" ]"})
            .code == 0);
  f.add("alice", "prod/db", "0ld-value-1", {"--connector", "echo"});
  const Result r = f.as("alice", {"--json", "rotate", "prod/db"});
  CHECK(r.code == 1);
  const Result human = f.as("alice", {"rotate", "prod/db"});
  CHECK(human.code == 1);
  const history::Secret secret = read_secret(f, "prod/db");
  const std::string v2 = reveal(f, "alice", "prod/db", 2);
  const std::string v3 = reveal(f, "alice", "prod/db", 3);
  CHECK(r.err.find("<redacted:prod/db@v2>") != std::string::npos);
  CHECK(r.out.find("set to <redacted:prod/db@v2>") != std::string::npos);
  CHECK(r.out.find("set to <redacted:prod/db@v1>") != std::string::npos); // the re-apply
  check_no_leak(f, {v2, v3, "0ld-value-1"}, {r, human});
}

TEST_CASE("rotation cli: --json gives CI what it needs", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  const Result r = f.as("alice", {"--json", "rotate", "prod/db"});
  REQUIRE(r.code == 0);
  const Json doc = json_of(r);
  CHECK(doc["command"] == "rotate");
  CHECK(doc["ok"] == true);
  CHECK(doc["dry_run"] == false);
  CHECK(doc["counts"]["rotated"] == 1);
  CHECK(doc["counts"]["rolled-back"] == 0);
  REQUIRE(doc["results"].size() == 1);
  const Json& item = doc["results"][0];
  CHECK(item["secret"] == "prod/db");
  CHECK(item["env"] == "prod");
  CHECK(item["action"] == "rotate");
  CHECK(item["result"] == "rotated");
  CHECK(item["ok"] == true);
  CHECK(item["version"] == 2);
  CHECK(item["previous_version"] == 1);
  CHECK(item["error"] == "");
  REQUIRE(item["steps"].size() == 4);
  CHECK(item["steps"][0]["connector"] == "a");
  CHECK(item["steps"][0]["step"] == "update");
  CHECK(item["steps"][0]["result"] == "ok");
  CHECK(item["steps"][0]["version"] == 2);
  CHECK(item["steps"][3]["connector"] == "b");
  CHECK(item["steps"][3]["step"] == "verify");
  CHECK(item["notify"].is_null());
  CHECK(r.err.empty());
}

TEST_CASE("rotation cli: --dry-run prints the plan and changes nothing", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  REQUIRE(f.as("alice", {"connector", "add", "portal", "--env", "prod", "--manual"}).code == 0);
  REQUIRE(f.as("alice", {"connect", "prod/db", "portal"}).code == 0);
  f.set_env("ESCROW_NOW", "2030-01-01T00:00:00Z");
  f.add("alice", "prod/cadenced", "v-1", {"--every", "30d", "--connector", "a"});
  f.set_env("ESCROW_NOW", "2030-03-01T00:00:00Z");
  const std::string before = snapshot(f);
  Result r = f.as("alice", {"rotate", "prod/db", "--dry-run"});
  REQUIRE(r.code == 0);
  CHECK(r.out == "prod/db: would rotate (on request)\n"
                 "  value: len=32,alphabet=base62\n"
                 "  create v2\n"
                 "  await-confirmation portal (manual) v2\n"
                 "  update a (command) v2, timeout 60s\n"
                 "  update b (command) v2, timeout 60s\n"
                 "  verify a (command) v2, timeout 60s\n"
                 "  verify b (command) v2, timeout 60s\n"
                 "  finish v2\n");
  r = f.as("alice", {"--json", "rotate", "--due", "--dry-run"});
  REQUIRE(r.code == 0);
  const Json doc = json_of(r);
  CHECK(doc["dry_run"] == true);
  REQUIRE(doc["results"].size() == 1);
  CHECK(doc["results"][0]["secret"] == "prod/cadenced");
  CHECK(doc["results"][0]["result"] == "planned");
  CHECK(doc["results"][0]["reason"].get<std::string>().rfind("overdue 29d", 0) == 0);
  f.unset_env("ESCROW_NOW");
  CHECK(snapshot(f) == before);
  CHECK_FALSE(file_exists(f, "a.txt"));
  CHECK_FALSE(file_exists(f, "b.txt"));
}

TEST_CASE("rotation cli: --due rotates what is due and what the caller may rotate, once", "[rotation][cli]")
{
  Fixture f;
  f.init();
  f.member("rita", {"rotator"}, {"prod"});
  f.member("bob", {"requester"}, {"prod"});
  REQUIRE(f.as("alice", file_connector(f, "a")).code == 0);
  f.set_env("ESCROW_NOW", "2030-01-01T00:00:00Z");
  f.add("alice", "prod/monthly", "m-1", {"--every", "30d", "--connector", "a"});
  f.add("alice", "prod/fresh", "f-1", {"--every", "90d"});
  f.add("alice", "prod/event", "e-1", {"--escrow-only"}); // no connector: rotated by --due only so
  f.add("alice", "staging/monthly", "s-1", {"--every", "30d"});
  REQUIRE(f.as("alice", {"share", "prod/event", "--with", "bob"}).code == 0);
  REQUIRE(f.as("alice", {"unshare", "prod/event", "--with", "bob"}).code == 0);
  f.set_env("ESCROW_NOW", "2030-02-15T00:00:00Z");

  Result r = f.as("rita", {"--json", "rotate", "--due"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  Json doc = json_of(r);
  REQUIRE(doc["results"].size() == 2);
  CHECK(doc["results"][0]["secret"] == "prod/event");
  CHECK(doc["results"][0]["reason"] == "unshared from bob");
  CHECK(doc["results"][1]["secret"] == "prod/monthly");
  CHECK(doc["counts"]["rotated"] == 2);
  CHECK(f.read("a.txt") == reveal(f, "rita", "prod/monthly"));
  CHECK(read_secret(f, "prod/event").due.empty());
  CHECK(state_of(read_secret(f, "staging/monthly"), 2) == "none"); // rita does not reach staging
  CHECK(state_of(read_secret(f, "prod/fresh"), 2) == "none");

  // Nothing is due any more: a second run does nothing (each secret rotated once).
  const std::string before = snapshot(f);
  r = f.as("rita", {"rotate", "--due"});
  REQUIRE(r.code == 0);
  CHECK(r.out == "nothing to rotate\n");
  CHECK(snapshot(f) == before);

  // A requester may rotate nothing: --due is empty for them, naming a secret is refused.
  r = f.as("bob", {"--json", "rotate", "--due"});
  CHECK(r.code == 0);
  CHECK(json_of(r)["results"].empty());
  const std::string keys = f.read("escrow.keys");
  r = f.as("bob", {"rotate", "prod/fresh"});
  CHECK(r.code == 4);
  CHECK(f.read("escrow.keys") == keys); // escrow-vault/2 journals the refusal (a denied rotate-start event)
  CHECK(journal_of(f).back()["action"] == "rotate-start");
  CHECK(journal_of(f).back()["result"] == "denied");
  f.unset_env("ESCROW_NOW");
}


TEST_CASE("rotation cli: --due is one batched run: one rotate-start, one rotate-finish, a failure rolls back alone",
          "[rotation][cli]")
{
  Fixture f;
  four_due(f, "prod/b:2"); // the connector refuses prod/b v2 at its verify
  const std::size_t skip = journal_of(f).size();
  Result r = f.as("alice", {"--json", "rotate", "--due"});
  INFO(r.err);
  CHECK(r.code == 1); // one rotation failed
  Json doc = json_of(r);
  REQUIRE(doc["results"].size() == 4);
  CHECK(doc["results"][0]["secret"] == "prod/a");
  CHECK(doc["results"][0]["result"] == "rotated");
  CHECK(doc["results"][1]["secret"] == "prod/b");
  CHECK(doc["results"][1]["result"] == "rolled-back");
  CHECK(doc["results"][2]["result"] == "rotated");
  CHECK(doc["results"][3]["result"] == "rotated");
  // Phase 1: one rotate-start with an item per secret; phase 3: one rotate-finish for those that
  // succeeded; the failure's rotate-fail entries name prod/b alone.
  const std::vector<std::string> all{"prod/a", "prod/b", "prod/c", "prod/d"};
  CHECK(items_of(f, "rotate-start", skip) == std::vector<std::vector<std::string>>{all});
  CHECK(items_of(f, "rotate-finish", skip)
        == std::vector<std::vector<std::string>>{{"prod/a", "prod/c", "prod/d"}});
  CHECK(items_of(f, "rotate-fail", skip)
        == std::vector<std::vector<std::string>>{{"prod/b"}, {"prod/b"}}); // rolling-back, rolled-back
  CHECK(items_of(f, "rotate-fail", skip, "rolled-back") == std::vector<std::vector<std::string>>{{}, {"prod/b"}});
  // The start precedes every rotate-fail, which precede the finish.
  const std::vector<Json> entries = journal_of(f);
  std::vector<std::string> order;
  for (std::size_t i = skip; i < entries.size(); ++i) {
    order.push_back(entries[i].value("action", "") + "/" + entries[i].value("result", ""));
  }
  CHECK(order
        == std::vector<std::string>{"rotate-start/ok", "rotate-fail/failed", "rotate-fail/ok", "rotate-fail/ok",
                                    "rotate-finish/ok"});
  for (const char* name : {"prod/a", "prod/c", "prod/d"}) {
    INFO(name);
    CHECK(state_of(read_secret(f, name), 2) == "current");
    CHECK(held_by(f, "p", name) == reveal(f, "alice", name));
  }
  CHECK(state_of(read_secret(f, "prod/b"), 1) == "current");
  CHECK(state_of(read_secret(f, "prod/b"), 2) == "failed");
  CHECK(held_by(f, "p", "prod/b") == "prod/b-value-1"); // v1 re-applied

  // All four due again (prod/b still, the others 45 days on): no failure now. Exactly two
  // revisions, and nothing else in the journal.
  f.set_env("ESCROW_NOW", "2030-04-01T00:00:00Z");
  const std::size_t before = revisions(f);
  const std::size_t skip2 = journal_of(f).size();
  r = f.as("alice", {"--json", "rotate", "--due"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  doc = json_of(r);
  REQUIRE(doc["results"].size() == 4);
  CHECK(doc["counts"]["rotated"] == 4);
  CHECK(revisions(f) == before + 2);
  CHECK(journal_of(f).size() == skip2 + 2);
  CHECK(items_of(f, "rotate-start", skip2) == std::vector<std::vector<std::string>>{all});
  CHECK(items_of(f, "rotate-finish", skip2) == std::vector<std::vector<std::string>>{all});
  for (const std::string& name : all) {
    INFO(name);
    CHECK(held_by(f, "p", name) == reveal(f, "alice", name));
  }
  CHECK(state_of(read_secret(f, "prod/b"), 3) == "current");
  CHECK(f.as("alice", {"verify"}).code == 0);
  f.unset_env("ESCROW_NOW");
}

TEST_CASE("rotation cli: --due crashed after phase 1, or in the middle of phase 2, is resumed", "[rotation][cli]")
{
  // The crash: the k-th connector update of the run throws (as crash_after_create), 1 = before any
  // connector ran, 3 = after prod/a and prod/b were set and tested, before prod/c.
  for (const int crash_at : {1, 3}) {
    INFO("crash at update " << crash_at);
    Fixture f;
    four_due(f);
    const std::size_t skip = journal_of(f).size();
    {
      history::VaultSession session = history::VaultSession::open(v2_options(f, "alice"), history::Access::write);
      rotation::Options options;
      int updates = 0;
      options.progress = [&](const std::string& line) {
        if (line.find(": update ") != std::string::npos && ++updates == crash_at) {
          throw std::runtime_error("killed");
        }
      };
      rotation::v2::Rotator rotator(session, options);
      REQUIRE_THROWS_WITH(rotator.rotate_due(), "killed");
    }
    // Every pending value was durable before any connector saw it; nothing was finished.
    const std::vector<std::string> all{"prod/a", "prod/b", "prod/c", "prod/d"};
    CHECK(items_of(f, "rotate-start", skip) == std::vector<std::vector<std::string>>{all});
    CHECK(items_of(f, "rotate-finish", skip).empty());
    for (const std::string& name : all) {
      INFO(name);
      CHECK(state_of(read_secret(f, name), 2) == "pending");
      if (crash_at == 3 && (name == "prod/a" || name == "prod/b")) {
        CHECK(held_by(f, "p", name) == reveal(f, "alice", name, 2)); // the connector took v2
      } else {
        CHECK_FALSE(file_exists(f, "p-" + name.substr(0, 4) + "_" + name.substr(5) + ".txt"));
      }
    }
    Result r = f.as("alice", {"--json", "rotate", "--resume"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const Json doc = json_of(r);
    REQUIRE(doc["results"].size() == 4);
    CHECK(doc["counts"]["rotated"] == 4);
    for (const std::string& name : all) {
      INFO(name);
      CHECK(state_of(read_secret(f, name), 2) == "current");
      CHECK(held_by(f, "p", name) == reveal(f, "alice", name));
    }
    CHECK(f.as("alice", {"verify"}).code == 0);
    f.unset_env("ESCROW_NOW");
  }
}

TEST_CASE("rotation cli: --due puts a secret with a manual connector in the batch, then it waits", "[rotation][cli]")
{
  Fixture f;
  four_due(f);
  f.set_env("ESCROW_NOW", "2030-01-01T00:00:00Z");
  REQUIRE(f.as("alice", {"connector", "add", "portal", "--env", "prod", "--manual"}).code == 0);
  f.add("alice", "prod/m", "m-value-1", {"--every", "30d", "--connector", "portal"});
  f.set_env("ESCROW_NOW", "2030-02-15T00:00:00Z");
  const std::size_t skip = journal_of(f).size();
  Result r = f.as("alice", {"--json", "rotate", "--due"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Json doc = json_of(r);
  REQUIRE(doc["results"].size() == 5);
  CHECK(doc["results"][4]["secret"] == "prod/m");
  CHECK(doc["results"][4]["result"] == "awaiting-confirmation");
  CHECK(doc["counts"]["rotated"] == 4);
  CHECK(items_of(f, "rotate-start", skip)
        == std::vector<std::vector<std::string>>{{"prod/a", "prod/b", "prod/c", "prod/d", "prod/m"}});
  CHECK(items_of(f, "rotate-finish", skip)
        == std::vector<std::vector<std::string>>{{"prod/a", "prod/b", "prod/c", "prod/d"}});
  CHECK(state_of(read_secret(f, "prod/m"), 2) == "pending");
  CHECK(reveal(f, "alice", "prod/m") == "m-value-1");
  r = f.as("alice", {"rotate", "--confirm", "prod/m", "portal"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(state_of(read_secret(f, "prod/m"), 2) == "current");
  f.unset_env("ESCROW_NOW");
}

TEST_CASE("rotation cli: --resume rolls a crashed rotation forward", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  const std::string value = crash_after_create(f);
  CHECK(f.as("alice", {"list"}).out.find("pending v2") != std::string::npos);
  CHECK(f.as("alice", {"rotate", "prod/db"}).code == 1); // refused: a rotation is in progress
  Result r = f.as("alice", {"--json", "rotate", "--resume"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Json doc = json_of(r);
  REQUIRE(doc["results"].size() == 1);
  CHECK(doc["results"][0]["action"] == "resume");
  CHECK(doc["results"][0]["result"] == "rotated");
  CHECK(f.read("a.txt") == value);
  CHECK(f.read("b.txt") == value);
  CHECK(reveal(f, "alice", "prod/db") == value);
  CHECK(state_of(read_secret(f, "prod/db"), 1) == "previous");
  r = f.as("alice", {"rotate", "--resume"});
  CHECK(r.code == 0);
  CHECK(r.out == "nothing to rotate\n");
  CHECK(f.as("alice", {"rotate", "--resume", "prod/db"}).code == 2);
}

TEST_CASE("rotation cli: --resume rolls back when the crashed run had decided to", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  crash_after_create(f, true);
  const Result r = f.as("alice", {"rotate", "--resume", "prod/db"});
  CHECK(r.code == 1); // the rotation did fail
  CHECK(r.err.find("an earlier run had begun rolling it back; v1 re-applied to a, b") != std::string::npos);
  CHECK(f.read("a.txt") == "0ld-value-1");
  CHECK(f.read("b.txt") == "0ld-value-1");
  const history::Secret secret = read_secret(f, "prod/db");
  CHECK(state_of(secret, 1) == "current");
  CHECK(state_of(secret, 2) == "failed");
  CHECK(reveal(f, "alice", "prod/db", 2) == "n3w-value-2");
}

TEST_CASE("rotation cli: a manual connector pauses the rotation until confirmed", "[rotation][cli]")
{
  Fixture f;
  f.init();
  f.member("rita", {"rotator"}, {"prod"});
  f.member("bob", {"requester"}, {"prod"});
  REQUIRE(f.as("alice", file_connector(f, "a")).code == 0);
  REQUIRE(f.as("alice", file_connector(f, "b")).code == 0);
  f.add("alice", "prod/db", "0ld-value-1", {"--connector", "a", "--connector", "b"});
  REQUIRE(f.as("alice", {"connector", "add", "portal", "--env", "prod", "--manual", "--instructions",
                         "Billing > API keys > paste"})
            .code == 0);
  REQUIRE(f.as("alice", {"connect", "prod/db", "portal"}).code == 0);
  Result r = f.as("alice", {"rotate", "prod/db"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("prod/db: v2 is pending, awaiting confirmation from portal") == 0);
  CHECK(r.out.find("  portal: Billing > API keys > paste\n") != std::string::npos);
  CHECK(r.out.find("see the value:  escrow get prod/db --reveal --version 2") != std::string::npos);
  CHECK(r.out.find("then confirm:   escrow rotate --confirm prod/db portal") != std::string::npos);
  CHECK(r.out.find("who may do it:  alice, rita") != std::string::npos);
  CHECK_FALSE(file_exists(f, "a.txt")); // no command connector runs before the paste
  CHECK(reveal(f, "alice", "prod/db") == "0ld-value-1");
  CHECK(f.as("alice", {"list"}).out.find("pending v2") != std::string::npos);
  {
    const history::Secret awaiting = read_secret(f, "prod/db");
    REQUIRE(awaiting.rotation.has_value());
    CHECK(awaiting.find(awaiting.rotation->vid)->v == 2);
    CHECK(awaiting.rotation->confirmed.empty());
  }
  // --due and --resume leave it waiting.
  r = f.as("alice", {"--json", "rotate", "--resume"});
  REQUIRE(r.code == 0);
  CHECK(json_of(r)["results"][0]["result"] == "awaiting-confirmation");

  const std::string pending = reveal(f, "rita", "prod/db", 2);
  CHECK(f.as("bob", {"rotate", "--confirm", "prod/db", "portal"}).code == 4);
  CHECK(f.as("alice", {"rotate", "--confirm", "prod/db", "a"}).code == 2);
  CHECK(f.as("alice", {"rotate", "--confirm", "prod/db", "nope"}).code == 2);
  r = f.as("rita", {"rotate", "--confirm", "prod/db", "portal"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "prod/db: rotated v1 → v2 (updated and verified: a, b)\n");
  CHECK(f.read("a.txt") == pending);
  CHECK(reveal(f, "alice", "prod/db") == pending);
  CHECK(count_actions(f, "confirm") == 1);
  CHECK(f.as("rita", {"rotate", "--confirm", "prod/db", "portal"}).code == 2); // nothing pending
}

TEST_CASE("rotation cli: rollback cancels a rotation awaiting confirmation", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  REQUIRE(f.as("alice", {"connector", "add", "portal", "--env", "prod", "--manual"}).code == 0);
  REQUIRE(f.as("alice", {"connect", "prod/db", "portal"}).code == 0);
  REQUIRE(f.as("alice", {"rotate", "prod/db"}).code == 0);
  const Result r = f.as("alice", {"rollback", "prod/db"});
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out == "prod/db: cancelled the rotation to v2; v1 stays current (re-applied to its command connectors)\n");
  const history::Secret secret = read_secret(f, "prod/db");
  CHECK(state_of(secret, 1) == "current");
  CHECK(state_of(secret, 2) == "failed");
  CHECK(f.read("a.txt") == "0ld-value-1"); // re-applied to be sure
}

TEST_CASE("rotation cli: rollback makes the previous version current again, with the same safety",
          "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  REQUIRE(f.as("alice", {"rotate", "prod/db"}).code == 0);
  const std::string v2 = reveal(f, "alice", "prod/db");
  Result r = f.as("alice", {"rollback", "prod/db"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "prod/db: rolled back to v1 (v2 is previous again)\n");
  CHECK(f.read("a.txt") == "0ld-value-1");
  CHECK(f.read("b.txt") == "0ld-value-1");
  history::Secret secret = read_secret(f, "prod/db");
  CHECK(state_of(secret, 1) == "current");
  CHECK(state_of(secret, 2) == "previous");
  CHECK(count_actions(f, "rotate-start", "rollback") == 1);

  // A rollback whose connector fails is itself rolled back: v2 returns everywhere, v1 stays previous.
  const std::string guard = f.path("guard.txt").string();
  REQUIRE(f.as("alice", {"connector", "add", "picky", "--env", "prod", "--update",
                         "cat > '" + f.path("picky.txt").string() + "'", "--verify",
                         "if [ -e '" + guard + "' ] && [ \"$ESCROW_VERSION\" = 1 ]; then exit 4; fi; cmp -s - '" +
                           f.path("picky.txt").string() + "'"})
            .code == 0);
  REQUIRE(f.as("alice", {"connect", "prod/db", "picky"}).code == 0);
  REQUIRE(f.as("alice", {"rollback", "prod/db"}).code == 0); // v2 current again, picky gets it
  CHECK(f.read("picky.txt") == v2);
  std::FILE* out = std::fopen(guard.c_str(), "wb");
  std::fclose(out);
  r = f.as("alice", {"rollback", "prod/db"});
  CHECK(r.code == 1);
  std::filesystem::remove(guard);
  secret = read_secret(f, "prod/db");
  CHECK(state_of(secret, 1) == "previous");
  CHECK(state_of(secret, 2) == "current");
  CHECK(f.read("a.txt") == v2);
  CHECK(f.read("picky.txt") == v2);

  // No previous version: nothing to roll back to.
  f.add("alice", "prod/single", "x-1");
  CHECK(f.as("alice", {"rollback", "prod/single"}).code == 2);
  CHECK(f.as("alice", {"verify"}).code == 0);
}

TEST_CASE("rotation cli: compromise marks, voids and rotates at once when the caller can", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  f.member("bob", {"requester"}, {"prod"});
  const Result r = f.as("alice", {"--json", "compromise", "prod/db", "--why", "pasted in chat"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Json doc = json_of(r);
  CHECK(doc["compromised_version"] == 1);
  CHECK(doc["rotated"] == true);
  CHECK(doc["rotation"]["result"] == "rotated");
  const history::Secret secret = read_secret(f, "prod/db");
  CHECK(state_of(secret, 1) == "compromised");
  CHECK(state_of(secret, 2) == "current");
  CHECK(version_of(secret, 2)->why == "compromised: pasted in chat");
  CHECK(secret.due.empty());
  CHECK(f.read("a.txt") == reveal(f, "alice", "prod/db"));
  {
    const history::VaultSession session = history::VaultSession::open(v2_options(f, "alice"), history::Access::read);
    CHECK(history::status(session.state(), secret, 0) == "manual");
  }
  // Rollback never goes back to a compromised value.
  CHECK(f.as("alice", {"rollback", "prod/db"}).code == 2);

  // A member who may not change it: reported in the journal, refused, nothing else changes.
  const std::string before = f.read("escrow.keys");
  const Result denied = f.as("bob", {"compromise", "prod/db", "--why", "saw it on a screen"});
  CHECK(denied.code == 4);
  CHECK(denied.err.find("who can rotate it: alice") != std::string::npos);
  CHECK(f.read("escrow.keys") == before);
  CHECK(journal_of(f).back()["action"] == "compromise");
  CHECK(journal_of(f).back()["result"] == "denied");
  CHECK(f.as("alice", {"compromise", "prod/db"}).code == 2); // --why is required
}

TEST_CASE("rotation cli: compromise by an admin who cannot read it marks it due and says who can", "[rotation][cli]")
{
  Fixture f;
  f.init();
  f.member("owen", {"requester"}, {"prod"});
  f.member("rita", {"rotator"}, {"prod"});
  REQUIRE(f.as("alice", file_connector(f, "a")).code == 0);
  f.add("owen", "prod/api", "api-1", {"--connector", "a"});
  Result r = f.as("alice", {"compromise", "prod/api", "--why", "laptop stolen"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("marked prod/api v1 compromised") == 0);
  CHECK(r.out.find("who can rotate it: owen, rita") != std::string::npos);
  const history::Secret secret = read_secret(f, "prod/api");
  CHECK(state_of(secret, 1) == "compromised");
  {
    // escrow-vault/2 derives this due reason from the state (vault-2-operations.md §5.3: so a
    // compromise commutes with a concurrent rotation); the why stays in the compromise entry.
    const history::VaultSession session = history::VaultSession::open(v2_options(f, "alice"), history::Access::read);
    CHECK(rotation::v2::due_reason(session.state(), secret, session.now()) == std::optional<std::string>("compromised"));
  }
  CHECK(f.as("owen", {"get", "prod/api", "--reveal"}).code != 0); // never served while compromised
  // The rotator's --due picks it up.
  r = f.as("rita", {"--json", "rotate", "--due"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(json_of(r)["results"][0]["reason"] == "compromised");
  CHECK(f.read("a.txt") == reveal(f, "owen", "prod/api"));
}

TEST_CASE("rotation cli: retire keeps the history and serves nothing", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  f.member("bob", {"requester"}, {"prod"});
  CHECK(f.as("bob", {"retire", "prod/db"}).code == 4);
  REQUIRE(f.as("alice", {"retire", "prod/db"}).code == 0);
  CHECK(read_secret(f, "prod/db").state == SecretState::retired);
  CHECK(f.as("alice", {"get", "prod/db", "--reveal"}).code == 4);
  CHECK(f.as("alice", {"rotate", "prod/db"}).code == 2);
  CHECK(f.as("alice", {"retire", "prod/db"}).code == 2);
  CHECK(f.as("alice", {"list"}).out.find("retired") != std::string::npos);
  CHECK(json_of(f.as("alice", {"--json", "rotate", "--due"}))["results"].empty());
  CHECK(count_actions(f, "retire", "ok") == 1);     // the second retire is a usage error, not journaled
  CHECK(count_actions(f, "retire", "denied") == 1); // bob's refusal is (escrow-vault/2 journals members' refusals)
}

TEST_CASE("rotation cli: the notify hook gets one event per result and never a value", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  const std::string events = f.path("events.jsonl").string();
  set_policy(f, {"set-notify", "cat >> '" + events + "'; echo >> '" + events + "'"});
  REQUIRE(f.as("alice", {"rotate", "prod/db"}).code == 0);
  const std::string value = reveal(f, "alice", "prod/db");
  std::string text = f.read("events.jsonl");
  std::vector<Json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      lines.push_back(Json::parse(line));
    }
  }
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["event"] == "rotated");
  CHECK(lines[0]["secret"] == "prod/db");
  CHECK(lines[0]["version"] == 2);
  CHECK(lines[0]["actor"] == "alice");
  CHECK(text.find(value) == std::string::npos);
  CHECK(text.find("0ld-value-1") == std::string::npos);

  // A failing hook is reported and does not fail the rotation.
  set_policy(f, {"set-notify", "echo 'hook down' >&2; exit 5"});
  const Result r = f.as("alice", {"rotate", "prod/db"});
  CHECK(r.code == 0);
  CHECK(r.err == "escrow: notify hook failed (the operation itself is unaffected): exit 5: hook down\n");
  CHECK(state_of(read_secret(f, "prod/db"), 3) == "current");
}

TEST_CASE("rotation cli: generators: cmd= output and --stdin become the new value", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  const std::string minted = f.path("minted.txt").string();
  {
    std::FILE* out = std::fopen(minted.c_str(), "wb");
    std::fputs("pr0vider-minted\n", out);
    std::fclose(out);
  }
  Result r = f.as("alice", {"rotate", "prod/db", "--generate", "cmd=cat '" + minted + "'"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(reveal(f, "alice", "prod/db") == "pr0vider-minted");
  CHECK(f.read("a.txt") == "pr0vider-minted");
  CHECK(read_secret(f, "prod/db").generator == "cmd=cat '" + minted + "'");

  // The generator failing changes no version and names the problem.
  std::filesystem::remove(minted);
  const std::string keys_before = f.read("escrow.keys");
  r = f.as("alice", {"rotate", "prod/db"});
  CHECK(r.code == 1);
  CHECK(r.err.find("the generator (cat '") != std::string::npos);
  CHECK(r.err.find("exit 1") != std::string::npos);
  CHECK(f.read("escrow.keys") == keys_before); // no version (its failure is a journal event)
  CHECK(state_of(read_secret(f, "prod/db"), 3) == "none");

  const std::string typed = "typ3d-by-hand";
  r = f.as("alice", {"rotate", "prod/db", "--stdin"}, &typed);
  REQUIRE(r.code == 0);
  CHECK(reveal(f, "alice", "prod/db") == typed);
  CHECK(f.read("b.txt") == typed);
  // The same value again is refused.
  r = f.as("alice", {"rotate", "prod/db", "--stdin"}, &typed);
  CHECK(r.code == 1);
  CHECK(f.as("alice", {"rotate", "prod/db", "--generate", "len=0"}).code == 2);
  check_no_leak(f, {"pr0vider-minted", typed}, {r});
}

TEST_CASE("rotation cli: retention drops the keys of versions beyond the policy's keep", "[rotation][cli]")
{
  Fixture f;
  f.init();
  set_policy(f, {"set", "*", "--keep", "2"});
  f.add("alice", "prod/db", "v-1");
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.as("alice", {"rotate", "prod/db"}).code == 0);
  }
  const history::Secret secret = read_secret(f, "prod/db");
  // escrow-vault/2: a version beyond keep loses its key lines and leaves the state (its history
  // stays in the journal); the newest retired one keeps its lines.
  CHECK(state_of(secret, 1) == "none");
  CHECK(state_of(secret, 2) == "retired");
  CHECK(state_of(secret, 3) == "previous");
  CHECK(state_of(secret, 4) == "current");
  const Result dropped = f.as("alice", {"get", "prod/db", "--reveal", "--version", "1"});
  CHECK(dropped.code == 2); // left the state: no such version to read (v1 refused it as access, exit 4)
  CHECK(dropped.out.empty());
  CHECK(dropped.err.find("no version 1") != std::string::npos);
  CHECK(f.as("alice", {"get", "prod/db", "--reveal", "--version", "2"}).code == 0);
  CHECK(f.as("alice", {"verify"}).code == 0);
}

TEST_CASE("rotation cli: usage errors", "[rotation][cli]")
{
  Fixture f;
  two_connectors(f);
  const std::string before = snapshot(f);
  CHECK(f.as("alice", {"rotate"}).code == 2);
  CHECK(f.as("alice", {"rotate", "prod/db", "--due"}).code == 2);
  CHECK(f.as("alice", {"rotate", "--confirm", "prod/db"}).code == 2);
  CHECK(f.as("alice", {"rotate", "--due", "--stdin"}).code == 2);
  CHECK(f.as("alice", {"rotate", "prod/../db"}).code == 2);
  CHECK(f.as("alice", {"rotate", "prod/nope"}).code == 2);
  CHECK(snapshot(f) == before);
}

TEST_CASE("rotation cli: compromise voids open requests and grants", "[rotation][cli]")
{
  Fixture f;
  f.init();
  f.member("bob", {"requester"}, {"prod"});
  f.member("carol", {"approver"}, {"prod"});
  f.add("alice", "prod/db", "v-1", {"--custodians", "carol", "--threshold", "1"});
  Result r = f.as("bob", {"request", "prod/db", "--ttl", "1h", "--why", "incident 812"});
  REQUIRE(r.code == 0);
  std::string approved = r.out;
  approved.erase(approved.find_last_not_of("\n") + 1);
  REQUIRE(f.as("carol", {"approve", "prod/db", approved}).code == 0);
  REQUIRE(f.as("bob", {"get", "prod/db", "--reveal"}).out == "v-1");
  r = f.as("bob", {"request", "prod/db", "--ttl", "1h", "--why", "second look"});
  REQUIRE(r.code == 0);

  r = f.as("alice", {"--json", "compromise", "prod/db", "--why", "leaked in a log"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Json doc = json_of(r);
  CHECK(doc["voided_requests"].size() == 2);
  CHECK(doc["rotated"] == true);
  const history::Secret secret = read_secret(f, "prod/db");
  // escrow-vault/2: the requests are void (the why is the compromise entry's) and no version
  // carries a grant any more.
  for (const auto& [id, request] : secret.requests) {
    CHECK(request.voided);
  }
  for (const auto& [vid, version] : secret.versions) {
    CHECK(version.grants.empty());
  }
  CHECK(f.as("bob", {"get", "prod/db", "--reveal"}).code == 4);
  CHECK(f.as("bob", {"get", "prod/db", "--reveal", "--version", "1"}).code == 4);
  CHECK(f.as("alice", {"verify"}).code == 0);
}

TEST_CASE("rotation cli: a manual connector's verify refuses a bad paste", "[rotation][cli]")
{
  Fixture f;
  f.init();
  const std::string pasted = f.path("portal.txt").string();
  REQUIRE(f.as("alice", {"connector", "add", "portal", "--env", "prod", "--manual", "--verify",
                         "cmp -s - '" + pasted + "' || { echo 'portal still has the old key' >&2; exit 1; }"})
            .code == 0);
  f.add("alice", "prod/key", "k-1", {"--connector", "portal"});
  REQUIRE(f.as("alice", {"rotate", "prod/key"}).code == 0);
  Result r = f.as("alice", {"rotate", "--confirm", "prod/key", "portal"});
  CHECK(r.code == 1);
  CHECK(r.err == "escrow: error: rotate --confirm prod/key: v2: the paste into portal does not verify: verify failed "
                 "(exit 1): portal still has the old key; not confirmed\n");
  CHECK(count_actions(f, "confirm", "ok") == 0);
  CHECK(state_of(read_secret(f, "prod/key"), 2) == "pending");
  // The person pastes it for real: now the confirmation goes through and finishes the rotation.
  const std::string value = reveal(f, "alice", "prod/key", 2);
  std::FILE* out = std::fopen(pasted.c_str(), "wb");
  std::fwrite(value.data(), 1, value.size(), out);
  std::fclose(out);
  r = f.as("alice", {"rotate", "--confirm", "prod/key", "portal"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "prod/key: rotated v1 → v2 (updated and verified: portal)\n");
  CHECK(reveal(f, "alice", "prod/key") == value);
}

TEST_CASE("rotation cli: a forged journal entry does not confirm a manual paste", "[rotation][cli][review]")
{
  Fixture f;
  f.init();
  REQUIRE(f.as("alice", file_connector(f, "a")).code == 0);
  f.add("alice", "prod/db", "0ld-value-1", {"--connector", "a"});
  REQUIRE(f.as("alice", {"connector", "add", "portal", "--env", "prod", "--manual"}).code == 0);
  REQUIRE(f.as("alice", {"connector", "add", "desk", "--env", "prod", "--manual"}).code == 0);
  REQUIRE(f.as("alice", {"connect", "prod/db", "portal"}).code == 0);
  REQUIRE(f.as("alice", {"connect", "prod/db", "desk"}).code == 0);
  REQUIRE(f.as("alice", {"rotate", "prod/db"}).code == 0);

  // Someone who can push but holds no key appends "portal confirmed": alice's name, the right
  // parent, a well-formed confirm operation, but no valid hash or signature. escrow-vault/2
  // refuses the journal outright (exit 3), so nothing runs on it; the honest journal still works.
  const std::string honest = f.read("escrow.journal");
  Json forged = journal_of(f).back();
  REQUIRE(forged["action"] == "rotate-start");
  const std::string vid = forged["op"]["args"]["items"][0]["vid"];
  forged["parents"] = Json::array({forged["hash"]});
  forged["action"] = "confirm";
  forged["op"] = Json{{"args", {{"connector", "portal"}, {"secret", "prod/db"}, {"vid", vid}}},
                      {"writes", Json::array()}};
  {
    std::ofstream out(f.journal(), std::ios::app | std::ios::binary);
    out << forged.dump() << "\n";
  }
  Result r = f.as("alice", {"--json", "rotate", "--resume"});
  CHECK(r.code == 3);
  CHECK_FALSE(file_exists(f, "a.txt"));
  {
    std::ofstream out(f.journal(), std::ios::trunc | std::ios::binary);
    out << honest;
  }
  r = f.as("alice", {"--json", "rotate", "--resume"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Json resumed = json_of(r)["results"][0];
  CHECK(resumed["result"] == "awaiting-confirmation");
  REQUIRE(resumed["instructions"].size() == 2);

  r = f.as("alice", {"rotate", "--confirm", "prod/db", "desk"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("prod/db: v2 is pending, awaiting confirmation from portal") == 0);
  CHECK_FALSE(file_exists(f, "a.txt")); // nothing was pushed on the forged confirmation
  CHECK(state_of(read_secret(f, "prod/db"), 2) == "pending");
}
