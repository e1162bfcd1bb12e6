// Policy and connectors on escrow-vault/2 (vault-2-plan.md step 5b): policy show | set |
// set-notify, connector add | list | remove, through the real command-line front end.
#include "fixture.hpp"

#include <fstream>
#include <sstream>

using escrow::test::Fixture;
using escrow::test::Result;

namespace {

std::map<std::string, std::string> vault_files(const Fixture& f)
{
  std::map<std::string, std::string> out;
  for (const char* name : {"escrow.vault", "escrow.journal", "escrow.keys"}) {
    out[name] = f.read(name);
  }
  return out;
}

nlohmann::json last_entry(const Fixture& f)
{
  std::istringstream lines(f.read("escrow.journal"));
  std::string line;
  std::string last;
  while (std::getline(lines, line)) {
    last = line;
  }
  return nlohmann::json::parse(last);
}

} // namespace

TEST_CASE("v2 cli: policy show, set, set-notify", "[cli][v2]")
{
  Fixture f;
  f.init("alice");
  f.member("bob", {"admin"}, {"prod"});
  f.member("carol", {"requester"}, {"prod"});

  Result r = f.as("bob", {"--json", "policy", "set", "prod", "--max-ttl", "2h", "--require-why", "no", "--keep", "5"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(last_entry(f)["action"] == "policy-set");
  r = f.run({"--json", "policy", "show"});
  REQUIRE(r.code == 0);
  const auto policy = nlohmann::json::parse(r.out);
  CHECK(policy["envs"]["prod"]["max_ttl"] == "2h");
  CHECK(policy["envs"]["prod"]["require_why"] == false);
  CHECK(policy["envs"]["prod"]["keep"] == 5);
  CHECK(policy["envs"]["*"]["max_ttl"] != "2h");

  // An admin of prod only may change neither the default nor the notify hook; a requester
  // nothing. Each refusal is journaled as denied; head and keys unchanged.
  for (const auto& [who, args] : std::vector<std::pair<std::string, std::vector<std::string>>>{
         {"bob", {"policy", "set", "*", "--keep", "1"}},
         {"bob", {"policy", "set-notify", "logger"}},
         {"carol", {"policy", "set", "prod", "--keep", "1"}}}) {
    const auto before = vault_files(f);
    r = f.as(who, args);
    INFO(who << " " << args[1]);
    CHECK(r.code == 4);
    CHECK(last_entry(f)["action"] == "policy-set");
    CHECK(last_entry(f)["result"] == "denied");
    CHECK(vault_files(f).at("escrow.vault") == before.at("escrow.vault"));
    CHECK(vault_files(f).at("escrow.keys") == before.at("escrow.keys"));
  }
  // Usage errors: files byte-identical.
  const auto before = vault_files(f);
  CHECK(f.as("alice", {"policy", "set", "prod"}).code == 2);
  CHECK(f.as("alice", {"policy", "set", "prod", "--require-why", "maybe"}).code == 2);
  CHECK(f.as("alice", {"policy", "set", "Bad Env", "--keep", "1"}).code == 2);
  CHECK(f.as("alice", {"policy", "set", "prod", "--max-ttl", "soon"}).code == 2);
  CHECK(vault_files(f) == before);

  r = f.as("alice", {"policy", "set-notify", "logger"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(f.run({"--json", "policy", "show"}).out)["notify"] == "logger");
}

TEST_CASE("v2 cli: connector add, list, remove", "[cli][v2]")
{
  Fixture f;
  f.init("alice");
  f.member("rita", {"rotator"}, {"prod"});
  f.member("carol", {"requester"}, {"prod"});

  Result r = f.as("rita", {"connector", "add", "web", "--env", "prod", "--update", "cat > /dev/null", "--verify", "true"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = f.as("alice", {"connector", "add", "desk", "--env", "prod", "--manual", "--instructions", "paste it"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  f.add("alice", "prod/db", "v", {"--connector", "web"});

  r = f.run({"--json", "connector", "list"});
  REQUIRE(r.code == 0);
  const auto listed = nlohmann::json::parse(r.out)["connectors"];
  REQUIRE(listed.size() == 2);
  CHECK(listed[0]["name"] == "desk");
  CHECK(listed[0]["kind"] == "manual");
  CHECK(listed[1]["name"] == "web");
  CHECK(listed[1]["by"] == "rita");
  CHECK(listed[1]["secrets"] == nlohmann::json::array({"prod/db"}));
  CHECK(f.run({"connector", "list", "--env", "Bad Env"}).code == 2);

  // A requester may not add one: refused by the rules, journaled.
  auto before = vault_files(f);
  r = f.as("carol", {"connector", "add", "x", "--env", "prod", "--update", "true", "--verify", "true"});
  CHECK(r.code == 4);
  CHECK(last_entry(f)["action"] == "connector-add");
  CHECK(last_entry(f)["result"] == "denied");
  CHECK(vault_files(f).at("escrow.vault") == before.at("escrow.vault"));

  // Usage errors: a native kind missing its own settings, a duplicate, an unknown name. Files unchanged.
  before = vault_files(f);
  r = f.as("alice", {"connector", "add", "pg", "--env", "prod", "--kind", "postgres", "--conninfo",
                     "host=127.0.0.1 dbname=d user=admin"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--role") != std::string::npos);
  CHECK(f.as("alice", {"connector", "add", "web", "--env", "prod", "--update", "true", "--verify", "true"}).code == 2);
  CHECK(f.as("alice", {"connector", "remove", "nope"}).code == 2);
  CHECK(vault_files(f) == before);

  // A connector still in use cannot be removed (a usage error like connect's: exit 2, nothing
  // written); an unused one can.
  r = f.as("alice", {"connector", "remove", "web"});
  CHECK(r.code == 2);
  CHECK(r.err.find("is still bound to") != std::string::npos);
  CHECK(vault_files(f) == before);
  r = f.as("alice", {"connector", "remove", "desk"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(last_entry(f)["action"] == "connector-remove");
  r = f.run({"--json", "connector", "list"});
  CHECK(nlohmann::json::parse(r.out)["connectors"].size() == 1);
}

// Issue 12 target 3: an add's save leaves the cache's snapshot behind it (the entry waits ahead of
// it, docs/FORMAT.md §7). Its loss is caught all the same, through the binary's commands.
TEST_CASE("v2 cli: an add dropped from the journal while the cache holds it ahead of its snapshot is a loss",
          "[cli][v2][loss]")
{
  Fixture f;
  f.init("alice");
  f.member("bob", {"requester"}, {"prod"});
  const auto before = vault_files(f);
  f.add("alice", "prod/late", "late-value");
  const Result listed = f.run({"list"});
  REQUIRE(listed.code == 0);
  CHECK(listed.out.find("prod/late") != std::string::npos);
  for (const auto& [name, bytes] : before) {
    std::ofstream(f.path(name), std::ios::binary | std::ios::trunc) << bytes;
  }
  const auto put_back = vault_files(f);
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"list"}, std::vector<std::string>{"verify"}, std::vector<std::string>{"show", "prod/late"}}) {
    const Result r = f.run(command);
    INFO(command[0] << ": " << r.err);
    CHECK(r.code == 3);
    CHECK(r.err.find("escrow.journal: 1 entry this machine verified is missing (lost or rolled back): the newest is")
          != std::string::npos);
    CHECK(r.err.find("secret-add by alice") != std::string::npos);
  }
  CHECK(vault_files(f) == put_back);
}

TEST_CASE("v2 cli: verify replays the whole vault from its bytes", "[cli][v2]")
{
  Fixture f;
  f.init("alice");
  f.member("bob", {"requester"}, {"prod"});
  f.add("alice", "prod/db", "verify-value");
  Result r = f.run({"--json", "verify"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto report = nlohmann::json::parse(r.out);
  CHECK(report["ok"] == true);
  CHECK(report["journal_entries"] == 3);
  CHECK(report["secrets"] == 1);
  CHECK(report["key_lines"] == 2);
  // The replayed state's digest, whatever the cache holds: the same from a machine with no cache.
  const std::string state = report["state"].get<std::string>();
  CHECK(state.size() == 44);
  f.set_env("XDG_STATE_HOME", (f.dir() / "other-machine").string());
  const Result other = f.run({"--json", "verify"});
  REQUIRE(other.code == 0);
  CHECK(nlohmann::json::parse(other.out)["state"] == state);
  f.set_env("XDG_STATE_HOME", (f.dir() / "state").string());

  // bob's member-add re-attributed to bob himself (a self-added member): exit 3, files untouched.
  std::string journal = f.read("escrow.journal");
  const std::size_t line2 = journal.find('\n') + 1;
  const std::size_t at = journal.find("\"actor\":\"alice\"", line2);
  REQUIRE(at != std::string::npos);
  journal.replace(at, 15, "\"actor\":\"bob\"  ");
  {
    std::ofstream out(f.path("escrow.journal"), std::ios::binary | std::ios::trunc);
    out << journal;
  }
  const auto before = vault_files(f);
  r = f.run({"verify"});
  CHECK(r.code == 3);
  CHECK(r.err.find("escrow.journal") != std::string::npos);
  CHECK(vault_files(f) == before);
  // A fresh machine (no cache place) refuses it too.
  std::filesystem::remove_all(f.path("state"));
  r = f.run({"verify"});
  CHECK(r.code == 3);
  CHECK(vault_files(f) == before);
}

TEST_CASE("v2 cli: connect, disconnect (rotation order) and retire", "[cli][v2]")
{
  Fixture f;
  f.init("alice");
  f.member("bob", {"requester"}, {"prod"});
  for (const char* name : {"a", "b", "c"}) {
    REQUIRE(f.as("alice", {"connector", "add", name, "--env", "prod", "--update", "true", "--verify", "true"}).code == 0);
  }
  REQUIRE(f.as("alice", {"connector", "add", "s", "--env", "staging", "--update", "true", "--verify", "true"}).code == 0);
  f.add("alice", "prod/db", "kept-value", {"--connector", "a"});

  Result r = f.as("alice", {"--json", "connect", "prod/db", "c"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["order"] == nlohmann::json::array({"a", "c"}));
  r = f.as("alice", {"--json", "connect", "prod/db", "b", "--after", "a"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["order"] == nlohmann::json::array({"a", "b", "c"}));
  CHECK(last_entry(f)["action"] == "secret-set");

  // Usage errors: files byte-identical.
  auto before = vault_files(f);
  CHECK(f.as("alice", {"connect", "prod/db", "b"}).code == 2);             // bound already
  CHECK(f.as("alice", {"connect", "prod/db", "s"}).code == 2);             // another environment
  CHECK(f.as("alice", {"connect", "prod/db", "zz"}).code == 2);            // no such connector
  CHECK(f.as("alice", {"connect", "prod/db", "d", "--after", "zz"}).code == 2);
  CHECK(f.as("alice", {"connect", "prod/nope", "a"}).code == 2);           // no such secret
  CHECK(f.as("alice", {"disconnect", "prod/db", "zz"}).code == 2);         // not bound
  CHECK(f.as("alice", {"connect", "prod/db", "--escrow-only"}).code == 2); // not in escrow-vault/2 yet
  CHECK(vault_files(f) == before);

  // bob may not change it: refused by the rules, journaled.
  r = f.as("bob", {"disconnect", "prod/db", "a"});
  CHECK(r.code == 4);
  CHECK(last_entry(f)["action"] == "secret-set");
  CHECK(last_entry(f)["result"] == "denied");

  r = f.as("alice", {"--json", "disconnect", "prod/db", "a"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = f.run({"--json", "show", "prod/db"});
  CHECK(nlohmann::json::parse(r.out)["connectors"] == nlohmann::json::array({"b", "c"}));

  // Retire: refused for bob (journaled), done by the owner. The name stays taken, nothing new
  // can be shared; the last value stays readable by its readers (vault-2-operations.md §5).
  r = f.as("bob", {"retire", "prod/db"});
  CHECK(r.code == 4);
  CHECK(last_entry(f)["result"] == "denied");
  r = f.as("alice", {"retire", "prod/db"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(last_entry(f)["action"] == "retire");
  r = f.run({"--json", "show", "prod/db"});
  CHECK(nlohmann::json::parse(r.out)["state"] == "retired");
  const std::string again = "x";
  CHECK(f.as("alice", {"add", "prod/db", "--purpose", "again"}, &again).code == 2);
  CHECK(f.as("alice", {"retire", "prod/nope"}).code == 2);
  CHECK(f.as("alice", {"connect", "prod/db", "a"}).code == 2);
  CHECK(f.as("alice", {"share", "prod/db", "--with", "bob"}).code == 4);
  // Kept in the history, never served (docs/ROTATION.md); the refusal is journaled.
  r = f.as("alice", {"get", "prod/db", "--reveal"});
  CHECK(r.code == 4);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Catch::Contains("prod/db is retired"));
  CHECK(last_entry(f)["result"] == "denied");
  CHECK(f.as("alice", {"retire", "prod/db"}).code == 2);
}
