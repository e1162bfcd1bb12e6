// The golden files of format escrow-vault/2 (tests/data/escrow-vault-2, written once by
// tests/data/generate-v2.sh and kept forever): this escrow verifies them from their bytes, on a
// machine that never saw them, and reveals the known values exactly through the CLI. And the
// golden files of escrow-vault/1 (tests/data/escrow-vault-1): refused with exit 3, one clear
// line, nothing written.
#include "../unit/foundation_support.hpp"
#include "fixture.hpp"

#include <nlohmann/json.hpp>

using escrow::test::Fixture;
using escrow::test::Result;
namespace fs = std::filesystem;

namespace {

// Copies a golden folder into the fixture's folder (the originals are never written).
void install(const Fixture& f, const std::string& folder)
{
  for (const auto& entry : fs::directory_iterator(escrow::test::source_path("tests/data/" + folder))) {
    fs::copy_file(entry.path(), f.dir() / entry.path().filename());
  }
  for (const char* id : {"alice.id", "bob.id", "carol.id", "dave.id"}) {
    fs::permissions(f.dir() / id, fs::perms::owner_read | fs::perms::owner_write);
  }
}

} // namespace

TEST_CASE("golden escrow-vault/2: the CLI verifies it and reveals the known values", "[golden][cli]")
{
  Fixture f;
  install(f, "escrow-vault-2");
  const auto before = escrow::test::snapshot(f.dir());
  // Full replay from the bytes, on a machine with no cache.
  Result r = f.run({"verify"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = f.run({"--json", "list"});
  REQUIRE(r.code == 0);
  const auto secrets = nlohmann::json::parse(r.out)["secrets"];
  REQUIRE(secrets.size() == 4);
  CHECK(secrets[0]["name"] == "dev/multi/line");
  CHECK(secrets[0]["tier"] == "low"); // secret-set
  CHECK(secrets[1]["name"] == "dev/token");
  CHECK(secrets[2]["name"] == "prod/db");
  CHECK(secrets[2]["custodians"] == nlohmann::json::array({"bob", "carol"}));
  CHECK(secrets[2]["threshold"] == 2);
  CHECK(secrets[2]["every"] == "30d");
  CHECK(secrets[3]["name"] == "staging/api-key");
  CHECK(secrets[3]["owner"] == "bob");
  CHECK(secrets[3]["custodians"] == nlohmann::json::array({"carol"})); // custodians-set
  r = f.run({"--json", "member", "list"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("dave") != std::string::npos);

  const auto reveal = [&](const std::string& who, const std::string& name) {
    const Result got = f.as(who, {"get", name, "--reveal"});
    INFO(who << " " << name << ": " << got.err);
    CHECK(got.code == 0);
    return got.out;
  };
  CHECK(reveal("alice", "prod/db") == "golden-prod-db-password");
  CHECK(reveal("bob", "prod/db") == "golden-prod-db-password"); // shared
  CHECK(reveal("bob", "staging/api-key") == "golden-staging-api-key");
  CHECK(reveal("alice", "dev/multi/line") == "line one\nline two\n");
  CHECK(reveal("alice", "dev/token") == "golden-dev-token");
  // carol's identity is passphrase-protected; she holds no reader key of prod/db.
  f.set_env("ESCROW_PASSPHRASE_FILE", (f.dir() / "carol.passphrase").string());
  r = f.as("carol", {"get", "prod/db", "--reveal"});
  CHECK(r.code == 4);
  CHECK(r.err.find("carol may not read v1") != std::string::npos);
  f.unset_env("ESCROW_PASSPHRASE_FILE");
  // dave was removed.
  r = f.as("dave", {"get", "dev/token", "--reveal"});
  CHECK(r.code == 4);
  CHECK(r.err.find("dave was removed") != std::string::npos);
  // The three files were only read (reveal events were appended to the journal).
  const auto after = escrow::test::snapshot(f.dir());
  CHECK(after.at("escrow.vault") == before.at("escrow.vault"));
  CHECK(after.at("escrow.keys") == before.at("escrow.keys"));
  CHECK(after.at("escrow.journal").substr(0, before.at("escrow.journal").size()) == before.at("escrow.journal"));
  CHECK(f.run({"verify"}).code == 0);
}

TEST_CASE("golden escrow-vault/1: refused with exit 3, one line, nothing written", "[golden][cli]")
{
  Fixture f;
  install(f, "escrow-vault-1");
  const auto before = escrow::test::snapshot(f.dir());
  const std::string value = "x";
  for (const auto& args : std::vector<std::vector<std::string>>{
         {"list"}, {"verify"}, {"show", "prod/db"}, {"get", "prod/db", "--reveal"}, {"add", "dev/x", "--purpose", "p"}}) {
    INFO(args[0]);
    const Result r = f.as("alice", args, &value);
    CHECK(r.code == 3);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("escrow: error: " + f.vault().string() + ": escrow-vault/1 is no longer supported; this escrow reads "
                      "escrow-vault/2\n",
                      0)
          == 0);
    std::istringstream lines(r.err);
    std::string line;
    std::getline(lines, line);
    while (std::getline(lines, line)) {
      CHECK(line.rfind("escrow: hint: ", 0) == 0);
    }
    CHECK(escrow::test::snapshot(f.dir()) == before);
  }
  // init refuses to write over it, with the same v1 refusal (vault-2-plan.md: "a v1 head file
  // refused by open and by init").
  const Result r = f.as("alice", {"init"});
  CHECK(r.code == 3);
  CHECK(r.err.find("escrow-vault/1 is no longer supported") != std::string::npos);
  CHECK(escrow::test::snapshot(f.dir()) == before);
}
