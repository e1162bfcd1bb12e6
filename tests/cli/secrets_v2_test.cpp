// The secrets commands on escrow-vault/2 (vault-2-plan.md step 5b, secrets group): add, list,
// show, get, exec, share (incl. bulk 'ENV/*') and unshare through history::VaultSession, run
// through the real command-line front end. Refusals by members are journaled as denied events.
#include "fixture.hpp"

#include <escrow/canonical.hpp>
#include <escrow/crypto.hpp>
#include <escrow/identity.hpp>
#include <escrow/history/listing.hpp>
#include <escrow/history/material.hpp>
#include <escrow/history/vault_session.hpp>
#include "../unit/foundation_support.hpp"

#include <algorithm>
#include <fstream>
#include <set>
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

std::vector<nlohmann::json> journal(const Fixture& f)
{
  std::vector<nlohmann::json> out;
  std::istringstream lines(f.read("escrow.journal"));
  for (std::string line; std::getline(lines, line);) {
    out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// After a refused write: escrow.vault and escrow.keys are the bytes of `before`, and what the
// journal gained since it had `lines` lines is at most a refusal event, never the operation.
void nothing_written(const Fixture& f, const std::map<std::string, std::string>& before, std::size_t lines)
{
  const auto after = vault_files(f);
  CHECK(after.at("escrow.vault") == before.at("escrow.vault"));
  CHECK(after.at("escrow.keys") == before.at("escrow.keys"));
  const std::vector<nlohmann::json> entries = journal(f);
  for (std::size_t i = lines; i < entries.size(); ++i) {
    CHECK(!entries[i].contains("op"));
  }
}

// alice: genesis admin; bob: requester of prod; carol: approver of prod; dave: auditor.
void team(Fixture& f)
{
  f.init("alice");
  f.member("bob", {"requester"}, {"prod"});
  f.member("carol", {"approver"}, {"prod"});
  f.member("dave", {"auditor"}, {"prod"});
}

// A refusal that only appends one denied event: head and keys file byte-identical, the journal
// the same bytes plus one line.
void require_denied_event(const Fixture& f, const std::map<std::string, std::string>& before, const std::string& action,
                          const std::string& actor)
{
  const auto after = vault_files(f);
  CHECK(after.at("escrow.vault") == before.at("escrow.vault"));
  CHECK(after.at("escrow.keys") == before.at("escrow.keys"));
  const std::string& old_journal = before.at("escrow.journal");
  REQUIRE(after.at("escrow.journal").size() > old_journal.size());
  CHECK(after.at("escrow.journal").substr(0, old_journal.size()) == old_journal);
  const nlohmann::json last = journal(f).back();
  CHECK(last["action"] == action);
  CHECK(last["actor"] == actor);
  CHECK(last["result"] == "denied");
  CHECK(!last.contains("op"));
}

// prod/s0 .. prod/s{count-1}, valued value-0 .. value-{count-1}, added by alice.
void add_numbered(Fixture& f, int count)
{
  for (int i = 0; i < count; ++i) {
    f.add("alice", "prod/s" + std::to_string(i), "value-" + std::to_string(i));
  }
}

} // namespace

TEST_CASE("v2 cli: add, list, show and get", "[cli][v2]")
{
  Fixture f;
  team(f);
  const std::string value = "hunter2-v2-value";
  f.add("alice", "prod/db", value, {"--custodians", "carol", "--threshold", "1"});
  f.add("alice", "prod/api", "api-value", {"--every", "30d"});

  // Public reads: no identity exists at the default path.
  Result r = f.run({"--json", "list"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto listed = nlohmann::json::parse(r.out)["secrets"];
  REQUIRE(listed.size() == 2);
  CHECK(listed[0]["name"] == "prod/api");
  CHECK(listed[0]["every"] == "30d");
  CHECK(listed[1]["name"] == "prod/db");
  CHECK(listed[1]["custodians"] == nlohmann::json::array({"carol"}));
  CHECK(listed[1]["current_version"] == 1);
  CHECK(listed[1]["status"] == "manual");
  r = f.run({"--json", "show", "prod/db"});
  REQUIRE(r.code == 0);
  const auto shown = nlohmann::json::parse(r.out);
  CHECK(shown["owner"] == "alice");
  REQUIRE(shown["versions"].size() == 1);
  CHECK(shown["versions"][0]["readers"] == nlohmann::json::array({"alice"}));
  CHECK(shown["versions"][0]["custodian_shares"] == 1);
  r = f.run({"show", "prod/nope"});
  CHECK(r.code == 2);
  CHECK(f.run({"list", "--env", "Bad Env"}).code == 2);

  // The owner reads; the read is journaled as a reveal event naming how it was opened.
  r = f.as("alice", {"get", "prod/db", "--reveal"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == value);
  const nlohmann::json reveal = journal(f).back();
  CHECK(reveal["action"] == "reveal");
  CHECK(reveal["result"] == "ok");
  CHECK(reveal["detail"]["secret"] == "prod/db");
  CHECK(reveal["detail"]["version"] == 1);
  CHECK(reveal["detail"]["via"] == "reader");

  // The value is in none of the three files, nor in this machine's cache.
  for (const auto& [name, bytes] : vault_files(f)) {
    INFO(name);
    CHECK(bytes.find(value) == std::string::npos);
  }
  for (const auto& entry : std::filesystem::recursive_directory_iterator(f.path("state"))) {
    if (entry.is_regular_file()) {
      INFO(entry.path());
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      CHECK(bytes.find(value) == std::string::npos);
    }
  }

  // Usage errors come before the session, files unchanged.
  const auto files = vault_files(f);
  CHECK(f.as("alice", {"get", "prod/db"}).code == 2);
  CHECK(f.as("alice", {"get", "prod/db", "--reveal", "--version", "7"}).code == 2);
  const std::string other = "x";
  CHECK(f.as("alice", {"add", "prod/db", "--purpose", "again"}, &other).code == 2); // name in use
  CHECK(f.as("alice", {"add", "prod/x", "--purpose", ""}, &other).code == 2);
  CHECK(f.as("alice", {"add", "prod/x", "--purpose", "p", "--custodians", "carol", "--threshold", "2"}, &other).code == 2);
  CHECK(vault_files(f) == files);
}

// Issue 12 target 2: the table `list` prints from this machine's cached listing says what the
// records say (`list --json` reads them), for every kind of status the rule gives.
TEST_CASE("v2 cli: list's table from the cached listing says what the records say", "[cli][v2]")
{
  Fixture f;
  f.set_env("ESCROW_NOW", "2030-01-01T00:00:00Z");
  team(f);
  const auto ok = [&](const Result& r) {
    INFO(r.err);
    REQUIRE(r.code == 0);
  };
  const std::string value = "v1";
  ok(f.as("alice", {"connector", "add", "ok", "--env", "prod", "--update", "true", "--verify", "true"}));
  ok(f.as("alice", {"connector", "add", "man", "--env", "prod", "--manual"}));
  // A purpose with the listing's own escape characters in it.
  ok(f.as("alice", {"add", "prod/manual", "--purpose", "C:\\path\\t\\n x", "--custodians", "carol", "--threshold", "1"},
          &value));
  ok(f.as("alice", {"add", "prod/cadence", "--purpose", "p", "--every", "30d", "--connector", "ok"}, &value));
  ok(f.as("alice", {"add", "prod/shared", "--purpose", "p"}, &value));
  ok(f.as("alice", {"share", "prod/shared", "--with", "bob"}));
  ok(f.as("alice", {"unshare", "prod/shared", "--with", "bob"}));
  ok(f.as("alice", {"add", "prod/retired", "--purpose", "p"}, &value));
  ok(f.as("alice", {"retire", "prod/retired"}));
  ok(f.as("alice", {"add", "prod/pending", "--purpose", "p", "--connector", "man", "--connector", "ok"}, &value));
  ok(f.as("alice", {"rotate", "prod/pending"}));
  ok(f.as("alice", {"add", "prod/none", "--purpose", "p", "--connector", "man"}, &value));
  ok(f.as("alice", {"compromise", "prod/none", "--why", "leaked"}));
  ok(f.as("alice", {"rollback", "prod/none"}));
  const auto check = [&](const std::set<std::string>& statuses) {
    // The table comes from the listing: this machine's snapshot holds one for this state.
    {
      namespace history = escrow::history;
      history::VaultSessionOptions o; // a public read: no identity
      o.vault_path = f.vault();
      o.state_home = f.dir() / "state";
      o.clock = escrow::Clock::from_setting(f.env("ESCROW_NOW"));
      o.lock_wait = std::chrono::seconds(5);
      const history::VaultSession session = history::VaultSession::open(o, history::Access::read);
      const auto listed = history::cached_listing(session.cache_place(), session.vault_id(), session.state());
      REQUIRE(listed);
      CHECK(listed->size() == 6);
    }
    const Result table = f.run({"list"});
    ok(table);
    const Result json = f.run({"--json", "list"});
    ok(json);
    std::set<std::string> seen;
    const nlohmann::json records = nlohmann::json::parse(json.out);
    REQUIRE(records["secrets"].size() == 6);
    for (const auto& secret : records["secrets"]) {
      const std::string name = secret["name"];
      INFO(name << "\n" << table.out);
      const std::size_t at = table.out.find("\n" + name + " ");
      REQUIRE(at != std::string::npos);
      const std::string line = table.out.substr(at + 1, table.out.find('\n', at + 1) - at - 1);
      const std::string status = secret["status"];
      seen.insert(status);
      CHECK(line.size() > status.size());
      CHECK(line.substr(line.size() - status.size()) == status);
      const std::string version = secret["current_version"].is_null()
                                    ? std::string(" - ")
                                    : " v" + std::to_string(secret["current_version"].get<int>()) + " ";
      CHECK(line.find(version) != std::string::npos);
      CHECK(line.find(" " + secret["purpose"].get<std::string>() + " ") != std::string::npos);
    }
    CHECK(seen == statuses);
  };
  check({"manual", "in 30d", "due: unshared from bob", "retired", "pending v2", "no current version"});
  // Sixty days later, read through the same listing: the cadence is now overdue.
  f.set_env("ESCROW_NOW", "2030-03-02T00:00:00Z");
  check({"manual", "overdue 30d", "due: unshared from bob", "retired", "pending v2", "no current version"});
  CHECK(f.run({"list"}).out.find("C:\\path\\t\\n x") != std::string::npos);
}

TEST_CASE("v2 cli: refused reads and writes are journaled as denied events", "[cli][v2]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "secret-value");

  // bob is neither a reader nor holds a grant.
  auto before = vault_files(f);
  Result r = f.as("bob", {"get", "prod/db", "--reveal"});
  CHECK(r.code == 4);
  CHECK(r.out.empty());
  CHECK(r.err.find("secret-value") == std::string::npos);
  require_denied_event(f, before, "reveal", "bob");
  CHECK(journal(f).back()["detail"]["secret"] == "prod/db");

  // exec: refused before the command runs (it would create a file).
  before = vault_files(f);
  r = f.as("bob", {"exec", "--set", "X=prod/db", "--", "sh", "-c", "touch ran"});
  CHECK(r.code == 4);
  CHECK(!std::filesystem::exists(f.path("ran")));
  require_denied_event(f, before, "exec", "bob");

  // A pure auditor may not add a secret: secret-add denied, nothing sealed.
  before = vault_files(f);
  const std::string v = "auditor-value";
  r = f.as("dave", {"add", "prod/audit", "--purpose", "p"}, &v);
  CHECK(r.code == 4);
  require_denied_event(f, before, "secret-add", "dave");

  // Only the owner shares.
  before = vault_files(f);
  r = f.as("bob", {"share", "prod/db", "--with", "carol"});
  CHECK(r.code == 4);
  require_denied_event(f, before, "share", "bob");

  // A non-member's refusal cannot be journaled: every file byte-identical.
  f.identity("mallory");
  before = vault_files(f);
  r = f.as("mallory", {"get", "prod/db", "--reveal"});
  CHECK(r.code == 4);
  CHECK(vault_files(f) == before);

  // Every denied event verifies: the journal is still accepted by a fresh machine.
  std::filesystem::remove_all(f.path("state"));
  r = f.run({"list"});
  INFO(r.err);
  CHECK(r.code == 0);
}

// Past 32 reader keys a bulk share opens and seals on two threads (history::share): every key
// sealed once to the member, in one operation that names each secret, the member reads each
// value, and a retry finds nothing left to share.
TEST_CASE("v2 cli: a bulk share of 40 secrets (two threads) seals each key once, one entry names each", "[cli][v2]")
{
  Fixture f;
  team(f);
  constexpr int k_secrets = 40;
  add_numbered(f, k_secrets);
  f.add("alice", "staging/other", "not shared"); // another environment: left out
  const std::size_t lines = journal(f).size();
  Result r = f.as("alice", {"--json", "share", "prod/*", "--with", "bob"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["secrets"].size() == k_secrets);
  const auto entries = journal(f);
  REQUIRE(entries.size() == lines + 1);
  const nlohmann::json& entry = entries.back();
  CHECK(entry["action"] == "share");
  REQUIRE(entry["op"]["args"]["items"].size() == k_secrets);
  std::set<std::string> named;
  for (const auto& item : entry["op"]["args"]["items"]) {
    named.insert(item["secret"].get<std::string>());
  }
  CHECK(named.size() == k_secrets);
  // One new rk line for bob per secret, and one record write per secret.
  std::size_t bob_lines = 0;
  std::size_t records = 0;
  for (const auto& write : entry["op"]["writes"]) {
    const std::string path = write[0];
    bob_lines += path.find(":rk:bob#") != std::string::npos ? 1 : 0;
    records += path.rfind("s:", 0) == 0 ? 1 : 0;
  }
  CHECK(bob_lines == k_secrets);
  CHECK(records == k_secrets);
  {
    // An entry that writes 40 records is not left ahead of the cache's snapshot (every open would
    // replay it again): the save wrote the snapshot.
    namespace history = escrow::history;
    history::VaultSessionOptions o; // a public read: no identity
    o.vault_path = f.vault();
    o.state_home = f.dir() / "state";
    o.lock_wait = std::chrono::seconds(5);
    const history::VaultSession session = history::VaultSession::open(o, history::Access::read);
    std::ifstream in(session.cache_place() / "verified.json");
    const nlohmann::json verified = nlohmann::json::parse(in);
    CHECK_FALSE(verified["log"].contains("ahead"));
  }
  for (int i = 0; i < k_secrets; i += 7) {
    r = f.as("bob", {"get", "prod/s" + std::to_string(i), "--reveal"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out == "value-" + std::to_string(i));
  }
  CHECK(f.as("bob", {"get", "staging/other", "--reveal"}).code == 4);
  r = f.run({"verify"});
  INFO(r.err);
  CHECK(r.code == 0);
  auto before = vault_files(f);
  CHECK(f.as("alice", {"share", "prod/*", "--with", "bob"}).code == 2);
  CHECK(vault_files(f) == before);
}

// A key that fails on the second thread: alice shares prod/s39 with bob through a line she
// forged (a random reader key sealed to him: no rule can see inside a sealed box), then makes bob
// the owner of every secret; bob's bulk share reaches prod/s39's open on the worker thread (job
// 33 of 40) and the commitment check refuses it there, with the same error as on one thread and
// no operation written.
TEST_CASE("v2 cli: a bulk share whose key fails on the second thread is refused, nothing written", "[cli][v2]")
{
  Fixture f;
  team(f);
  constexpr int k_secrets = 40;
  add_numbered(f, k_secrets);
  {
    escrow::history::VaultSessionOptions o;
    o.vault_path = f.vault();
    o.state_home = f.dir() / "state";
    o.clock = escrow::Clock::from_setting(f.env("ESCROW_NOW"));
    o.lock_wait = std::chrono::seconds(5);
    const std::string path = f.path("alice.id").string();
    o.identity = [path] {
      return escrow::open_identity(escrow::canonical::parse(escrow::test::slurp(path), path), nullptr, path);
    };
    escrow::history::VaultSession session =
      escrow::history::VaultSession::open(std::move(o), escrow::history::Access::write);
    const escrow::history::Secret& secret = *session.state().secret("prod/s39");
    REQUIRE(secret.gens.size() == 1);
    const auto& [gen, generation] = *secret.gens.begin();
    const escrow::history::SecretRef ref{session.vault_id(), "prod/s39"};
    escrow::history::ReaderKey forged;
    forged.gen = static_cast<std::uint32_t>(gen);
    forged.reader_key = escrow::crypto::random_secret(escrow::crypto::k_key_size);
    forged.commit = generation.rk_commit; // what the state says; the sealed key does not match it
    const escrow::history::Member* bob = session.state().member("bob");
    escrow::history::Material material;
    material.lines.push_back(
      escrow::history::seal_reader_key(ref, forged, escrow::history::Recipient{"bob", bob->box_pk}));
    escrow::history::ShareArgs args;
    args.member = "bob";
    escrow::history::ShareItem item;
    item.secret = "prod/s39";
    item.gens.insert(gen);
    args.items.push_back(item);
    session.submit(std::move(args), material);
  }
  Result r = f.as("alice", {"share", "prod/*", "--with", "bob"}); // the 39 others, honestly
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (int i = 0; i < k_secrets; ++i) {
    r = f.as("alice", {"add", "prod/s" + std::to_string(i), "--update", "--owner", "bob"});
    INFO(r.err);
    REQUIRE(r.code == 0);
  }
  const auto before = vault_files(f);
  const std::size_t lines = journal(f).size();
  r = f.as("bob", {"share", "prod/*", "--with", "carol"});
  INFO(r.err);
  CHECK(r.code == 3);
  CHECK(r.err.find("prod/s39 generation") != std::string::npos);
  CHECK(r.err.find("fails the reader key commitment (forged by a writer)") != std::string::npos);
  nothing_written(f, before, lines);
  // Without the forged secret (bob shares the others one by one, for a control), carol reads them.
  r = f.as("bob", {"share", "prod/s0", "--with", "carol"});
  INFO(r.err);
  CHECK(r.code == 0);
}

// The bulk share reads each reader key line in its batch, on either thread: a line changed on
// disk is refused with the single share's error (naming the file and its line), exit 3, and no
// file written, whether its secret falls to the calling thread (prod/s1, job 1 of 40) or to the
// worker (prod/s35, job 29), on one thread or two.
TEST_CASE("v2 cli: a bulk share meeting a modified key line on either thread is refused, nothing written",
          "[cli][v2]")
{
  Fixture f;
  team(f);
  add_numbered(f, 40);
  const std::filesystem::path keys_path = f.path("escrow.keys");
  const std::string keys = escrow::test::slurp(keys_path);
  for (const char* secret : {"prod/s1", "prod/s35"}) {
    for (const char* threads : {"1", "2"}) {
      INFO(secret << ", ESCROW_THREADS=" << threads);
      f.set_env("ESCROW_THREADS", threads);
      const std::size_t at = keys.find(std::string("\"") + secret + ":g1:rk:alice#");
      REQUIRE(at != std::string::npos);
      const std::size_t value = keys.find(": \"", at) + 3 + 10;
      std::string changed = keys;
      changed[value] = changed[value] == 'A' ? 'B' : 'A';
      escrow::test::spit(keys_path, changed);
      const auto before = vault_files(f);
      const std::size_t lines = journal(f).size();
      const Result r = f.as("alice", {"share", "prod/*", "--with", "bob"});
      INFO(r.err);
      CHECK(r.code == 3);
      CHECK(r.err.find("escrow.keys: line ") != std::string::npos);
      CHECK(r.err.find(std::string("the key line ") + secret + ":g1:rk:alice#") != std::string::npos);
      CHECK(r.err.find("does not hash to what the journal recorded") != std::string::npos);
      nothing_written(f, before, lines);
      escrow::test::spit(keys_path, keys);
    }
  }
  f.unset_env("ESCROW_THREADS");
  const Result r = f.as("alice", {"share", "prod/*", "--with", "bob"});
  INFO(r.err);
  CHECK(r.code == 0);
}

TEST_CASE("v2 cli: share, bulk share of 'ENV/*' in one operation, unshare", "[cli][v2]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "db-value");
  f.add("alice", "prod/api", "api-value");
  f.add("alice", "prod/cache", "cache-value");
  f.member("erin", {"requester"}, {"staging"});

  // One secret.
  Result r = f.as("alice", {"share", "prod/db", "--with", "bob"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = f.as("bob", {"get", "prod/db", "--reveal"});
  REQUIRE(r.code == 0);
  CHECK(r.out == "db-value");

  // Bulk: every secret of prod that alice owns and carol cannot read, one share operation.
  const std::size_t lines = journal(f).size();
  r = f.as("alice", {"--json", "share", "prod/*", "--with", "carol"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["secrets"].size() == 3);
  const auto entries = journal(f);
  REQUIRE(entries.size() == lines + 1);
  CHECK(entries.back()["action"] == "share");
  CHECK(entries.back()["op"]["args"]["items"].size() == 3);
  for (const char* name : {"prod/db", "prod/api", "prod/cache"}) {
    r = f.as("carol", {"get", name, "--reveal"});
    INFO(name << ": " << r.err);
    CHECK(r.code == 0);
  }
  // Nothing left to share: a usage error, files unchanged.
  auto before = vault_files(f);
  r = f.as("alice", {"share", "prod/*", "--with", "carol"});
  CHECK(r.code == 2);
  CHECK(vault_files(f) == before);
  CHECK(f.as("alice", {"share", "Bad Env/*", "--with", "carol"}).code == 2);
  // A member outside the environment: refused by the rules (exit 4), journaled.
  r = f.as("alice", {"share", "prod/db", "--with", "erin"});
  CHECK(r.code == 4);
  require_denied_event(f, before, "share", "alice");

  // exec: the value in the environment, redacted in the output, journaled before it runs.
  // (The child's output goes to escrow's own stdout, past the fixture: it writes a file instead.)
  r = f.as("bob", {"exec", "--set", "DB=prod/db", "--", "sh", "-c",
                   "[ \"$DB\" = db-value ] && printf '%s' ${#DB} > " + f.path("out").string()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(f.read("out") == "8");
  const nlohmann::json exec = journal(f).back();
  CHECK(exec["action"] == "exec");
  CHECK(exec["detail"]["variable"] == "DB");
  CHECK(exec["detail"]["program"] == "sh");
  CHECK(exec["detail"]["via"] == "reader");

  // exec --env-file: references read under the same rules, plain values passed through.
  {
    std::ofstream env(f.path("app.env"));
    env << "API=escrow://prod/api\nMODE=plain\n";
  }
  r = f.as("bob", {"exec", "--env-file", f.path("app.env").string(), "--", "sh", "-c", "printf '%s' \"$MODE\""});
  CHECK(r.code == 4); // bob cannot read prod/api
  r = f.as("carol", {"exec", "--env-file", f.path("app.env").string(), "--", "sh", "-c",
                     "[ \"$API\" = api-value ] && printf '%s' \"$MODE\" > " + f.path("out2").string()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(f.read("out2") == "plain");
  CHECK(journal(f).back()["detail"]["env_file"] == f.path("app.env").string());

  // Unshare: bob's access ends and the secret becomes due. His reader key line leaves the keys
  // file with it (the write finds its garbage among the lines of the secret it changes).
  CHECK(f.read("escrow.keys").find("\"prod/db:g1:rk:bob#") != std::string::npos);
  r = f.as("alice", {"--json", "unshare", "prod/db", "--with", "bob"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["due"] == true);
  CHECK(f.read("escrow.keys").find("\"prod/db:g1:rk:bob#") == std::string::npos);
  CHECK(f.read("escrow.keys").find("\"prod/db:g1:rk:carol#") != std::string::npos);
  CHECK(f.as("bob", {"get", "prod/db", "--reveal"}).code == 4);
  r = f.run({"--json", "show", "prod/db"});
  CHECK(nlohmann::json::parse(r.out)["status"] == "due: unshared from bob");
  // Unsharing from someone it is not shared with: refused by the rules.
  CHECK(f.as("alice", {"unshare", "prod/db", "--with", "bob"}).code == 4);
}

TEST_CASE("v2 cli: custodians (custodians-set) and add --update (secret-set)", "[cli][v2]")
{
  Fixture f;
  team(f);
  f.member("erin", {"approver", "requester"}, {"prod"});
  const std::string value = "upd4te-value";
  f.add("alice", "prod/db", value, {"--custodians", "carol", "--threshold", "1"});

  // custodians: one custodians-set entry, no key line, the secret becomes due.
  auto before = vault_files(f);
  Result r = f.as("alice", {"--json", "custodians", "prod/db", "--custodians", "carol,erin", "--threshold", "2"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto out = nlohmann::json::parse(r.out);
  CHECK(out["custodians"] == nlohmann::json::array({"carol", "erin"}));
  CHECK(out["threshold"] == 2);
  CHECK(out["due"] == true);
  CHECK(f.read("escrow.keys") == before.at("escrow.keys"));
  nlohmann::json last = journal(f).back();
  CHECK(last["action"] == "custodians-set");
  CHECK(last["op"]["args"]["custodians"] == nlohmann::json::array({"carol", "erin"}));
  r = f.run({"--json", "show", "prod/db"});
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["custodians"] == nlohmann::json::array({"carol", "erin"}));
  CHECK(f.run({"verify"}).code == 0);

  // Usage errors before the vault is touched (exit 2, every file byte-identical).
  before = vault_files(f);
  const std::vector<std::pair<std::vector<std::string>, std::string>> usage = {
    {{"custodians", "prod/db", "--custodians", "carol,carol", "--threshold", "1"}, "lists a name twice"},
    {{"custodians", "prod/db", "--custodians", "carol", "--threshold", "2"}, "--threshold must be between 1 and"},
    {{"custodians", "prod/db", "--custodians", "carol,zed", "--threshold", "1"}, "custodians: --custodians: no member named zed"},
    {{"custodians", "prod/db"}, "give either --custodians"},
    {{"custodians", "prod/nope", "--none"}, "no secret named prod/nope"},
    {{"add", "prod/db", "--update"}, "nothing to change"},
    {{"add", "prod/db", "--update", "--custodians", "carol", "--threshold", "1"}, "by their own command"},
    {{"add", "prod/db", "--update", "--owner", "zed"}, "add: --owner: no member named zed"},
    {{"add", "prod/db", "--update", "--owner", "alcie"}, "escrow: hint: did you mean 'alice'?"},
    {{"add", "prod/db", "--update", "--purpose", "bad\x1b[2J"}, "without control characters"},
    {{"add", "prod/db", "--update", "--connector", "nope"}, "add: --connector: no connector named nope"},
    {{"add", "prod/nope", "--update", "--purpose", "x"}, "no secret named prod/nope"},
    {{"custodians", "prod/bd", "--none"}, "escrow: hint: did you mean 'prod/db'?"},
  };
  for (const auto& [args, part] : usage) {
    INFO(args[0] << " " << part);
    r = f.as("alice", args);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("escrow: error: ", 0) == 0);
    CHECK(r.err.find(part) != std::string::npos);
    CHECK(vault_files(f) == before);
  }

  // Refusals by the rules are journaled (denied event) and change nothing else (exit 4).
  r = f.as("bob", {"custodians", "prod/db", "--custodians", "carol", "--threshold", "1"});
  CHECK(r.code == 4);
  CHECK(r.err.find("only the owner (alice) or an admin of prod may change the custodians") != std::string::npos);
  require_denied_event(f, before, "custodians-set", "bob");
  before = vault_files(f);
  r = f.as("bob", {"add", "prod/db", "--update", "--purpose", "mine now"});
  CHECK(r.code == 4);
  require_denied_event(f, before, "secret-set", "bob");
  before = vault_files(f);
  r = f.as("bob", {"add", "prod/db", "--update", "--owner", "bob"});
  CHECK(r.code == 4);
  CHECK(r.err.find("only the owner (alice) or an admin of prod may change the owner") != std::string::npos);
  require_denied_event(f, before, "secret-set", "bob");
  // A cmd= generator needs an admin; bob is not even the owner.
  before = vault_files(f);
  r = f.as("bob", {"add", "prod/db", "--update", "--generate", "cmd=/bin/echo"});
  CHECK(r.code == 4);
  require_denied_event(f, before, "secret-set", "bob");

  // secret-set of plain fields: one entry, keys untouched.
  before = vault_files(f);
  r = f.as("alice", {"--json", "add", "prod/db", "--update", "--purpose", "orders db", "--tier", "critical", "--every",
                     "30d", "--after-access"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(f.read("escrow.keys") == before.at("escrow.keys"));
  last = journal(f).back();
  CHECK(last["action"] == "secret-set");
  CHECK(last["op"]["args"]["purpose"] == "orders db");
  CHECK(!last["op"]["args"].contains("owner"));
  r = f.run({"--json", "show", "prod/db"});
  REQUIRE(r.code == 0);
  out = nlohmann::json::parse(r.out);
  CHECK(out["purpose"] == "orders db");
  CHECK(out["tier"] == "critical");
  CHECK(out["every"] == "30d");
  CHECK(out["after_access"] == true);
  REQUIRE(f.as("alice", {"add", "prod/db", "--update", "--no-after-access"}).code == 0);
  r = f.run({"--json", "show", "prod/db"});
  CHECK(nlohmann::json::parse(r.out)["after_access"] == false);

  // A new owner gets a reader key of the live generation (one added key line) and reads the value;
  // the old owner keeps hers only while she stands (alice is an admin: she still reads).
  CHECK(f.as("erin", {"get", "prod/db", "--reveal"}).code == 4);
  before = vault_files(f);
  r = f.as("alice", {"add", "prod/db", "--update", "--owner", "erin"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("updated prod/db (owner erin)") != std::string::npos);
  CHECK(f.read("escrow.keys").find("\"prod/db:g1:rk:erin#") != std::string::npos);
  CHECK(before.at("escrow.keys").find("\"prod/db:g1:rk:erin#") == std::string::npos);
  r = f.as("erin", {"get", "prod/db", "--reveal"});
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out == value);
  // The value is in no file and no output of the update.
  for (const char* name : {"escrow.vault", "escrow.journal", "escrow.keys"}) {
    CHECK(f.read(name).find(value) == std::string::npos);
  }
  // Every machine agrees: a full replay from the bytes.
  CHECK(f.run({"verify"}).code == 0);
  // --none removes escrow (threshold 0).
  REQUIRE(f.as("erin", {"custodians", "prod/db", "--none"}).code == 0);
  r = f.run({"--json", "show", "prod/db"});
  CHECK(nlohmann::json::parse(r.out)["custodians"] == nlohmann::json::array());
}
