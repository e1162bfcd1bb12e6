// The roster commands on escrow-vault/2 (vault-2-plan.md step 5b): init, member add | set |
// remove | list through history::VaultSession, run through the real command-line front end.
#include "fixture.hpp"

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

} // namespace

TEST_CASE("v2 cli: init writes the three files of escrow-vault/2", "[cli][v2]")
{
  Fixture f;
  f.identity("alice");
  const Result r = f.as("alice", {"init"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("escrow.keys") != std::string::npos);
  CHECK(f.read("escrow.vault").rfind("{\n  \"format\": \"escrow-vault/2\"", 0) == 0);
  CHECK(f.read("escrow.keys").rfind("{\n  \"format\": \"escrow-keys/2\"", 0) == 0);
  CHECK(f.read("escrow.journal").find("\"format\":\"escrow-journal/2\"") != std::string::npos);
  // A second init refuses, files unchanged.
  const auto files = vault_files(f);
  const Result again = f.as("alice", {"init"});
  CHECK(again.code == 2);
  CHECK(again.err.find("already exists") != std::string::npos);
  CHECK(vault_files(f) == files);
}

TEST_CASE("v2 cli: member add, set, remove and list", "[cli][v2]")
{
  Fixture f;
  f.identity("alice");
  f.identity("bob");
  f.identity("carol");
  REQUIRE(f.as("alice", {"init"}).code == 0);
  Result r = f.as("alice", {"member", "add", f.path("bob.pub").string(), "--role", "approver", "--env", "prod"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("added bob") != std::string::npos);

  // A public read needs no identity: none exists at the default path.
  r = f.run({"--json", "member", "list"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto listed = nlohmann::json::parse(r.out);
  REQUIRE(listed["members"].size() == 2);
  CHECK(listed["members"][0]["name"] == "alice");
  CHECK(listed["members"][0]["genesis"] == true);
  CHECK(listed["members"][1]["name"] == "bob");

  // bob is no admin: refused with exit 4, nothing written.
  const auto files = vault_files(f);
  r = f.as("bob", {"member", "add", f.path("carol.pub").string(), "--role", "admin", "--env", "*"});
  CHECK(r.code == 4);
  CHECK(r.err.find("member-add") != std::string::npos);
  // The refusal is journaled (one denied event); head and keys byte-identical.
  {
    const auto now = vault_files(f);
    CHECK(now.at("escrow.vault") == files.at("escrow.vault"));
    CHECK(now.at("escrow.keys") == files.at("escrow.keys"));
    const std::string& journal = now.at("escrow.journal");
    REQUIRE(journal.size() > files.at("escrow.journal").size());
    CHECK(journal.substr(0, files.at("escrow.journal").size()) == files.at("escrow.journal"));
    const std::string last = journal.substr(files.at("escrow.journal").size());
    CHECK(last.find("\"action\":\"member-add\"") != std::string::npos);
    CHECK(last.find("\"result\":\"denied\"") != std::string::npos);
  }

  // Usage errors before the vault is opened.
  const auto after_refusal = vault_files(f);
  r = f.as("alice", {"member", "add", f.path("carol.pub").string(), "--role", "wizard", "--env", "prod"});
  CHECK(r.code == 2);
  r = f.as("alice", {"member", "add", f.path("carol.pub").string(), "--role", "rotator", "--role", "approver",
                     "--env", "prod"});
  CHECK(r.code == 2);
  CHECK(vault_files(f) == after_refusal);

  r = f.as("alice", {"member", "set", "bob", "--role", "requester", "--env", "prod"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = f.run({"member", "list"});
  CHECK(r.out.find("requester") != std::string::npos);

  r = f.as("alice", {"--json", "member", "remove", "bob"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["member"] == "bob");
  r = f.run({"member", "list"});
  CHECK(r.out.find("removed") != std::string::npos);
  // The removed member can do nothing any more.
  r = f.as("bob", {"member", "set", "bob", "--role", "requester", "--env", "prod"});
  CHECK(r.code == 4);
}

TEST_CASE("v2 cli: a v1 vault is refused with a clear message", "[cli][v2]")
{
  Fixture f;
  const std::string v1 = "{\n  \"format\": \"escrow-vault/1\",\n  \"records\": {}\n}\n";
  {
    std::FILE* file = std::fopen(f.vault().c_str(), "wb");
    std::fwrite(v1.data(), 1, v1.size(), file);
    std::fclose(file);
  }
  const Result r = f.run({"member", "list"});
  CHECK(r.code == 3);
  CHECK(r.err.find("escrow-vault/1 is no longer supported; this escrow reads escrow-vault/2") != std::string::npos);
  CHECK(f.read("escrow.vault") == v1);
}
