// The escrow commands on escrow-vault/2 (vault-2-plan.md step 5b, escrow group): request,
// approve, deny, grants, and the access a grant gives (get via approvals, grant-used for an
// after_access secret), through the real command-line front end.
#include "fixture.hpp"

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

// alice: genesis admin, owner of prod/db (custodians carol and dan, 2 of 2, after_access);
// bob: requester; carol, dan: approvers; rita: rotator.
void team(Fixture& f)
{
  f.init("alice");
  f.member("bob", {"requester"}, {"prod"});
  f.member("carol", {"approver"}, {"prod"});
  f.member("dan", {"approver"}, {"prod"});
  f.member("rita", {"rotator"}, {"prod"});
  f.add("alice", "prod/db", "escrowed-value", {"--custodians", "carol,dan", "--threshold", "2", "--after-access"});
}

std::string request(const Fixture& f, const std::string& who)
{
  const Result r = f.as(who, {"request", "prod/db", "--ttl", "4h", "--why", "incident 42"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  REQUIRE(r.out.size() == 17);
  return r.out.substr(0, 16);
}

} // namespace

TEST_CASE("v2 cli: request, k approvals, access via approvals, grant-used", "[cli][v2]")
{
  Fixture f;
  team(f);
  const std::string id = request(f, "bob");
  CHECK(last_entry(f)["action"] == "request");
  CHECK(last_entry(f)["why"] == "incident 42");

  // Not yet granted.
  CHECK(f.as("bob", {"get", "prod/db", "--reveal"}).code == 4);

  // carol sees it awaiting her approval.
  Result r = f.as("carol", {"--json", "grants"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto overview = nlohmann::json::parse(r.out);
  REQUIRE(overview["awaiting"].size() == 1);
  CHECK(overview["awaiting"][0]["id"] == id);

  r = f.as("carol", {"--json", "approve", "prod/db", id});
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto approved = nlohmann::json::parse(r.out);
  CHECK(approved["approvals"] == 1);
  CHECK(approved["granted"] == false);
  // An approval counts once: a second one is refused by the rules, journaled as denied.
  auto before = vault_files(f);
  r = f.as("carol", {"approve", "prod/db", id});
  CHECK(r.code == 4);
  CHECK(vault_files(f).at("escrow.keys") == before.at("escrow.keys"));
  CHECK(last_entry(f)["action"] == "approve");
  CHECK(last_entry(f)["result"] == "denied");
  // Someone with no share of the version (the requester himself) cannot approve.
  r = f.as("bob", {"approve", "prod/db", id});
  CHECK(r.code == 4);
  CHECK(last_entry(f)["result"] == "denied");

  r = f.as("dan", {"--json", "approve", "prod/db", id});
  INFO(r.err);
  REQUIRE(r.code == 0);
  approved = nlohmann::json::parse(r.out);
  CHECK(approved["approvals"] == 2);
  CHECK(approved["granted"] == true);
  CHECK(approved["requester"] == "bob");

  // bob reads through the two approvals; the after_access secret becomes due (grant-used).
  r = f.as("bob", {"get", "prod/db", "--reveal"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "escrowed-value");
  const nlohmann::json used = last_entry(f);
  CHECK(used["action"] == "grant-used");
  CHECK(used["actor"] == "bob");
  r = f.run({"--json", "show", "prod/db"});
  CHECK(nlohmann::json::parse(r.out)["status"].get<std::string>().rfind("due:", 0) == 0);
  // A second read journals the reveal only.
  REQUIRE(f.as("bob", {"get", "prod/db", "--reveal"}).code == 0);
  CHECK(last_entry(f)["action"] == "reveal");
  CHECK(last_entry(f)["detail"]["via"] == "approvals");

  r = f.as("bob", {"--json", "grants"});
  overview = nlohmann::json::parse(r.out);
  REQUIRE(overview["grants"].size() == 1);
  CHECK(overview["grants"][0]["state"] == "granted");
  CHECK(overview["grants"][0].contains("used_at"));

  // The value is in no vault file; a fresh machine accepts the whole history.
  for (const auto& [name, bytes] : vault_files(f)) {
    INFO(name);
    CHECK(bytes.find("escrowed-value") == std::string::npos);
  }
  std::filesystem::remove_all(f.path("state"));
  CHECK(f.run({"list"}).code == 0);
}

TEST_CASE("v2 cli: deny closes a request; refusals of request and deny", "[cli][v2]")
{
  Fixture f;
  team(f);
  // A rotator may not request; refused by the rules and journaled.
  auto before = vault_files(f);
  Result r = f.as("rita", {"request", "prod/db", "--ttl", "1h", "--why", "x"});
  CHECK(r.code == 4);
  CHECK(last_entry(f)["action"] == "request");
  CHECK(last_entry(f)["result"] == "denied");
  CHECK(vault_files(f).at("escrow.vault") == before.at("escrow.vault"));
  // Usage errors before the vault is touched.
  before = vault_files(f);
  CHECK(f.as("bob", {"request", "prod/db", "--ttl", "soon", "--why", "x"}).code == 2);
  CHECK(f.as("bob", {"request", "prod/nope", "--ttl", "1h", "--why", "x"}).code == 2);
  CHECK(f.as("carol", {"approve", "prod/db", "0000000000000000"}).code == 2);
  CHECK(f.as("carol", {"deny", "prod/db", "0000000000000000", "--why", "no"}).code == 2);
  CHECK(vault_files(f) == before);

  const std::string id = request(f, "bob");
  REQUIRE(f.as("carol", {"approve", "prod/db", id}).code == 0);
  // A member with no say over the request (another requester) may not deny it.
  f.member("eve", {"requester"}, {"prod"});
  r = f.as("eve", {"deny", "prod/db", id, "--why", "mine now"});
  CHECK(r.code == 4);
  CHECK(last_entry(f)["action"] == "deny");
  CHECK(last_entry(f)["result"] == "denied");

  r = f.as("dan", {"--json", "deny", "prod/db", id, "--why", "not during the freeze"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["requester"] == "bob");
  CHECK(last_entry(f)["why"] == "not during the freeze");
  // Denied: approving it now is refused, and bob never reads.
  CHECK(f.as("dan", {"approve", "prod/db", id}).code == 4);
  CHECK(f.as("bob", {"get", "prod/db", "--reveal"}).code == 4);
  r = f.as("bob", {"--json", "grants"});
  const auto overview = nlohmann::json::parse(r.out);
  REQUIRE(overview["closed"].size() == 1);
  CHECK(overview["closed"][0]["state"] == "denied");
  CHECK(overview["closed"][0]["denied_by"] == "dan");
}
