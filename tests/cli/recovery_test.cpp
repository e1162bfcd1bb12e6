// backup / restore, rehearse, drill compromise, and the notify hook for them (issue 13;
// docs/RECOVERY.md) — in-process, against connectors that are small shell commands on files.
#include "fixture.hpp"

#include <escrow/error.hpp>
#include <escrow/history/backup.hpp>
#include <escrow/history/replay.hpp>
#include <escrow/session_options.hpp>

#include <escrow/crypto.hpp>
#include <escrow/identity.hpp>

#include <functional>
#include <map>
#include <sstream>
#include <regex>
#include <set>
#include <sys/stat.h>

using escrow::test::Fixture;
using escrow::test::Result;
using namespace escrow;
namespace fs = std::filesystem;
namespace hb = escrow::history::backup;

namespace {

Json json_of(const Result& r)
{
  INFO(r.out << r.err);
  return Json::parse(r.out);
}

std::string slurp(const fs::path& path)
{
  return read_file(path, std::size_t{1} << 30);
}

void spit(const fs::path& path, const std::string& text)
{
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

// A command connector that keeps the value in <dir>/<file> and checks it there; every run is
// appended to <dir>/calls.log as "<connector> <step> <action>".
std::vector<std::string> file_connector(const Fixture& f, const std::string& name, const std::string& file,
                                        std::vector<std::string> extra = {})
{
  const std::string path = (f.dir() / file).string();
  const std::string log = (f.dir() / "calls.log").string();
  std::vector<std::string> args{"connector", "add", name, "--env", "prod",
                                "--update", "echo \"" + name + " update $ESCROW_ACTION\" >> '" + log + "'; cat > '" + path + "'",
                                "--verify", "echo \"" + name + " verify $ESCROW_ACTION\" >> '" + log + "'; cmp -s - '" + path + "'"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::size_t lines_of(const std::string& text)
{
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The journal's entries (escrow-vault/2: one canonical JSON object a line).
std::vector<Json> journal_of(const fs::path& path)
{
  std::vector<Json> out;
  std::istringstream lines(slurp(path));
  for (std::string line; std::getline(lines, line);) {
    out.push_back(Json::parse(line));
  }
  return out;
}

// The team: alice (genesis admin), bob and carol (custodians), henry (requester), ci (rotator).
// prod/db (owner alice, connector app, custodians bob+carol 2 of 2), rotated twice, a grant to
// henry, and a long journal of reveals.
struct Team
{
  Fixture f;
  std::string value; // the current value
  Team()
  {
    f.init();
    f.member("bob", {"approver", "requester"}, {"prod"});
    f.member("carol", {"approver", "requester"}, {"prod"});
    f.member("henry", {"requester"}, {"prod"});
    f.member("ci", {"rotator"}, {"prod"});
    REQUIRE(f.as("alice", file_connector(f, "app", "app.value")).code == 0);
    f.add("alice", "prod/db", "first-db-value-1", {"--connector", "app", "--custodians", "bob,carol", "--threshold", "2"});
    spit(f.path("app.value"), "first-db-value-1");
    f.add("alice", "prod/other", "other-value-1");
    for (int i = 0; i < 2; ++i) {
      const Result r = f.as("alice", {"rotate", "prod/db"});
      INFO(r.err);
      REQUIRE(r.code == 0);
    }
    const Result request = f.as("henry", {"request", "prod/db", "--ttl", "4h", "--why", "incident 812"});
    INFO(request.err);
    REQUIRE(request.code == 0);
    const std::string id = request.out.substr(0, request.out.find_first_of(" \n"));
    REQUIRE(f.as("bob", {"approve", "prod/db", id}).code == 0);
    REQUIRE(f.as("carol", {"approve", "prod/db", id}).code == 0);
    for (int i = 0; i < 30; ++i) {
      REQUIRE(f.as("alice", {"get", "prod/db", "--reveal"}).code == 0);
    }
    const Result get = f.as("alice", {"get", "prod/db", "--reveal"});
    REQUIRE(get.code == 0);
    value = get.out;
    REQUIRE(slurp(f.path("app.value")) == value);
  }

  std::string snapshot() const
  {
    return f.read("escrow.vault") + "\n--\n" + f.read("escrow.journal") + "\n--\n" + f.read("escrow.keys");
  }
};

// Runs `restore` into <dir>/<to> and checks that a refusal wrote nothing there.
void expect_refused(const Fixture& f, const std::string& file, int code, const std::string& pattern,
                    const std::string& who = "alice", std::vector<std::string> extra = {})
{
  const fs::path to = f.path("restored-refused");
  std::vector<std::string> args{"restore", file, "--to", to.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const Result r = f.as(who, args);
  INFO(file << ": " << r.err);
  CHECK(r.code == code);
  CHECK(std::regex_search(r.err, std::regex("^escrow: error: .*" + pattern)));
  // One error line (and perhaps hints).
  CHECK(std::regex_search(r.err, std::regex("^escrow: error: [^\n]*\n(escrow: hint: [^\n]*\n)*$")));
  CHECK_FALSE(fs::exists(to / "escrow.vault"));
  CHECK_FALSE(fs::exists(to / "escrow.journal"));
  CHECK_FALSE(fs::exists(to / "escrow.keys"));
}

} // namespace

TEST_CASE("backup: one encrypted, signed, journaled file; restore gives back the vault and journal", "[recovery][cli]")
{
  Team t;
  const std::string vault_before = t.f.read("escrow.vault");
  const std::string journal_before = t.f.read("escrow.journal");
  const std::string keys_before = t.f.read("escrow.keys");
  const Result made = t.f.as("alice", {"--json", "backup", "--out", t.f.path("team.backup").string()});
  INFO(made.err);
  REQUIRE(made.code == 0);
  const Json result = json_of(made);
  CHECK(result["recipients"].size() == 1); // the one admin
  CHECK(result["secrets"] == 2);

  // Encrypted at rest: neither the value nor any metadata is readable in the file; 0600.
  const std::string file = t.f.read("team.backup");
  CHECK(file.rfind("escrow-backup/2\n", 0) == 0); // the v2 files inside
  CHECK(file.find(t.value) == std::string::npos);
  CHECK(file.find("prod/db") == std::string::npos);
  CHECK(file.find("incident 812") == std::string::npos);
  struct stat st{};
  REQUIRE(::stat(t.f.path("team.backup").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // Journaled, in the real journal (an event: the head and keys files are unchanged).
  CHECK(t.f.read("escrow.vault") == vault_before);
  CHECK(t.f.read("escrow.keys") == keys_before);
  const auto entries = journal_of(t.f.journal());
  CHECK(entries.back()["action"] == "backup");
  CHECK(entries.back()["actor"] == "alice");
  // Never over an existing file.
  CHECK(t.f.as("alice", {"backup", "--out", t.f.path("team.backup").string()}).code == 2);

  // A fresh machine (its own state dir): restore, verify, read.
  t.f.set_env("XDG_STATE_HOME", t.f.path("other-machine").string());
  const fs::path to = t.f.path("restored");
  const Result restored = t.f.as("alice", {"restore", t.f.path("team.backup").string(), "--to", to.string()});
  INFO(restored.err);
  REQUIRE(restored.code == 0);
  CHECK(std::regex_search(restored.out, std::regex("restored in [0-9]+\\.[0-9] s")));
  CHECK(slurp(to / "escrow.vault") == vault_before);
  CHECK(slurp(to / "escrow.keys") == keys_before);
  const std::string restored_journal = slurp(to / "escrow.journal");
  CHECK(restored_journal.rfind(journal_before, 0) == 0); // as backed up (with its backup entry), then restore
  const auto restored_entries = journal_of(to / "escrow.journal");
  CHECK(restored_entries.back()["action"] == "restore");
  CHECK(restored_entries[restored_entries.size() - 2]["action"] == "backup");
  CHECK(restored_entries.size() == lines_of(journal_before) + 2);
  const Result verify = t.f.as("alice", {"--vault", (to / "escrow.vault").string(), "verify"});
  INFO(verify.err);
  CHECK(verify.code == 0);
  CHECK(verify.err.empty()); // no warning either (e.g. no entry claims a revision that never landed)
  const Result audit = t.f.as("alice", {"--vault", (to / "escrow.vault").string(), "audit", "verify"});
  CHECK(audit.code == 0);
  const Result get = t.f.as("alice", {"--vault", (to / "escrow.vault").string(), "get", "prod/db", "--reveal"});
  CHECK(get.out == t.value);
  // The grant survived: henry reads it through his approvals.
  const Result henry = t.f.as("henry", {"--vault", (to / "escrow.vault").string(), "get", "prod/db", "--reveal"});
  INFO(henry.err);
  CHECK(henry.out == t.value);
  // Restore never replaces files.
  const Result again = t.f.as("alice", {"restore", t.f.path("team.backup").string(), "--to", to.string()});
  CHECK(again.code == 2);
  CHECK(slurp(to / "escrow.vault") == vault_before);
  t.f.set_env("XDG_STATE_HOME", t.f.path("state").string());
}

TEST_CASE("restore --reconnect runs every connector's verify against the restored values", "[recovery][cli]")
{
  Team t;
  REQUIRE(t.f.as("alice", {"backup", "--out", t.f.path("b").string()}).code == 0);
  spit(t.f.path("calls.log"), "");
  const fs::path to = t.f.path("restored");
  t.f.set_env("XDG_STATE_HOME", t.f.path("other-machine").string());
  const Result r = t.f.as("alice", {"restore", t.f.path("b").string(), "--to", to.string(), "--reconnect"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(std::regex_search(r.out, std::regex("restored in [0-9]+\\.[0-9] s; 1 of 1 connectors verified\n$")));
  CHECK(t.f.read("calls.log") == "app verify reconnect\n"); // verify only: nothing updated
  CHECK(r.out.find(t.value) == std::string::npos);

  // The system lost the value: the connector answers "no", restore says so and exits 1.
  spit(t.f.path("app.value"), "something else");
  const fs::path to2 = t.f.path("restored2");
  t.f.set_env("XDG_STATE_HOME", t.f.path("third-machine").string());
  const Result bad = t.f.as("alice", {"--json", "restore", t.f.path("b").string(), "--to", to2.string(), "--reconnect"});
  INFO(bad.err);
  CHECK(bad.code == 1);
  const Json json = json_of(bad);
  CHECK(json["connectors"][0]["result"] == "failed");
  CHECK(json["summary"].get<std::string>().find("0 of 1 connectors verified, 1 failed") != std::string::npos);
  CHECK(fs::exists(to2 / "escrow.vault")); // the restore itself is done; the integration is not
  t.f.set_env("XDG_STATE_HOME", t.f.path("state").string());
}

TEST_CASE("restore refuses corrupted, truncated, foreign and stale backups: exit 3, nothing written",
          "[recovery][cli]")
{
  Team t;
  const fs::path good = t.f.path("good.backup");
  REQUIRE(t.f.as("alice", {"backup", "--out", good.string()}).code == 0);
  const std::string bytes = slurp(good);
  const auto variant = [&](const std::string& name, const std::string& content) {
    spit(t.f.path(name), content);
    return t.f.path(name).string();
  };
  // Where each line starts.
  const std::size_t l2 = bytes.find('\n') + 1;
  const std::size_t l3 = bytes.find('\n', l2) + 1;
  const std::size_t l4 = bytes.find('\n', l3) + 1;
  const auto flip = [&](std::size_t at) {
    std::string copy = bytes;
    copy[at] = copy[at] == 'A' ? 'B' : 'A';
    return copy;
  };
  SECTION("corrupted")
  {
    expect_refused(t.f, variant("c1", flip(l3 + 100)), 3, "signature does not verify");      // ciphertext
    expect_refused(t.f, variant("c2", flip(l4 + 10)), 3, "signature does not verify");       // signature
    std::string header = bytes;
    header.replace(header.find("\"entries\":"), 10, "\"entries\":1"); // one more digit
    expect_refused(t.f, variant("c3", header), 3, "");                                      // header
    expect_refused(t.f, variant("c4", "escrow-backup/3\n" + bytes.substr(l2)), 3, "unsupported backup format");
    expect_refused(t.f, variant("c5", "hello world\n"), 3, "not an escrow backup");
    expect_refused(t.f, variant("c6", bytes + "extra\n"), 3, "unexpected bytes");
  }
  SECTION("truncated")
  {
    expect_refused(t.f, variant("t1", bytes.substr(0, bytes.size() / 2)), 3, "truncated");
    expect_refused(t.f, variant("t2", bytes.substr(0, bytes.size() - 1)), 3, "truncated");
    expect_refused(t.f, variant("t3", bytes.substr(0, 10)), 3, "truncated");
    expect_refused(t.f, variant("t4", ""), 3, "");
  }
  SECTION("foreign: not encrypted to the restorer")
  {
    const fs::path other = t.f.path("to-bob.backup");
    REQUIRE(t.f.as("alice", {"backup", "--out", other.string(), "--to", t.f.path("bob.pub").string()}).code == 0);
    expect_refused(t.f, other.string(), 3, "foreign: not encrypted to alice");
    // bob can open it: it restores for him.
    const Result bob = t.f.as("bob", {"restore", other.string(), "--to", t.f.path("bob-restore").string()});
    INFO(bob.err);
    CHECK(bob.code == 0);
  }
  SECTION("foreign: a recipient who is not a member of that vault")
  {
    t.f.identity("stranger");
    const fs::path other = t.f.path("to-stranger.backup");
    REQUIRE(t.f.as("alice", {"backup", "--out", other.string(), "--to", t.f.path("stranger.pub").string()}).code == 0);
    expect_refused(t.f, other.string(), 3, "foreign: stranger .* is not an active member", "stranger");
  }
  SECTION("foreign: the destination holds another vault")
  {
    Fixture other;
    other.init("zoe");
    const fs::path dir = t.f.path("restored-refused");
    fs::create_directories(dir);
    fs::copy_file(other.vault(), dir / "escrow.vault");
    const std::string before = slurp(dir / "escrow.vault");
    t.f.set_env("HOME", t.f.dir().string());
    t.f.set_env("XDG_STATE_HOME", t.f.path("state").string());
    t.f.set_env("ESCROW_VAULT", t.f.vault().string());
    const Result r = t.f.as("alice", {"restore", good.string(), "--to", dir.string()});
    CHECK(r.code == 3);
    CHECK(r.err.find("foreign") != std::string::npos);
    CHECK(slurp(dir / "escrow.vault") == before);
    CHECK_FALSE(fs::exists(dir / "escrow.journal"));
  }
  SECTION("stale: older than this machine has seen, unless --allow-rollback")
  {
    t.f.add("alice", "prod/newer", "newer-value"); // revision + 1, pinned here
    // This machine verified an entry the backup lacks: restoring it would be a loss.
    expect_refused(t.f, good.string(), 3, "stale: a backup made .* that lacks 1 journal entry this machine has verified");
    const fs::path to = t.f.path("rolled-back");
    const Result r = t.f.as("alice", {"restore", good.string(), "--to", to.string(), "--allow-rollback"});
    INFO(r.err);
    CHECK(r.code == 0);
    const auto entries = journal_of(to / "escrow.journal");
    CHECK(entries[entries.size() - 2]["action"] == "rollback-accepted"); // journaled
    CHECK(entries.back()["action"] == "restore");
    // The restored vault opens on this machine (its own place: no loss reported there).
    const Result verify = t.f.as("alice", {"--vault", (to / "escrow.vault").string(), "verify"});
    INFO(verify.err);
    CHECK(verify.code == 0);
  }
  SECTION("a damaged journal is not backed up")
  {
    std::string journal = t.f.read("escrow.journal");
    const std::size_t second = journal.find('\n') + 1;
    const std::size_t third = journal.find('\n', second) + 1;
    journal.erase(second, third - second); // delete an entry
    spit(t.f.journal(), journal);
    const Result r = t.f.as("alice", {"backup", "--out", t.f.path("bad.backup").string()});
    CHECK(r.code == 3);
    CHECK_FALSE(fs::exists(t.f.path("bad.backup")));
  }
}

TEST_CASE("parse_backup: the file round-trips byte for byte", "[recovery]")
{
  Team t;
  REQUIRE(t.f.as("alice", {"backup", "--out", t.f.path("b").string()}).code == 0);
  const std::string bytes = t.f.read("b");
  const hb::BackupFile file = hb::parse_backup(bytes, "b");
  CHECK(hb::serialize_backup(file) == bytes);
  CHECK(file.header.maker == "alice");
  CHECK(file.header.recipients.size() == 1);
  CHECK(file.header.head.name == "escrow.vault");
  CHECK(file.header.keys.name == "escrow.keys");
  const hb::Payload payload{"head text\n", "", "keys\n"};
  const hb::Payload back = hb::parse_payload(hb::serialize_payload(payload), "p");
  CHECK(back.head == "head text\n");
  CHECK(back.journal.empty());
  CHECK(back.keys == "keys\n");
  CHECK_THROWS_AS(hb::parse_payload("escrow-backup-payload/2\nhead 99\nabc\n", "p"), Error);
  CHECK_THROWS_AS(hb::parse_payload("escrow-backup-payload/1\nvault 3\nabc\njournal 0\n\n", "p"), Error);
}

TEST_CASE("rehearse: rotation and rollback on a staging twin; the real vault and system untouched", "[recovery][cli]")
{
  Team t;
  REQUIRE(t.f.as("alice", file_connector(t.f, "app-staging", "staging.value")).code == 0);
  // Name the twin: remove and re-add app with --rehearse-with (after unbinding).
  REQUIRE(t.f.as("alice", {"disconnect", "prod/db", "app"}).code == 0);
  REQUIRE(t.f.as("alice", {"connector", "remove", "app"}).code == 0);
  REQUIRE(t.f.as("alice", file_connector(t.f, "app", "app.value", {"--rehearse-with", "app-staging"})).code == 0);
  REQUIRE(t.f.as("alice", {"connect", "prod/db", "app"}).code == 0);
  const Result list = t.f.as("alice", {"--json", "connector", "list"});
  REQUIRE(list.code == 0);

  const std::string vault_before = t.f.read("escrow.vault");
  const std::string journal_before = t.f.read("escrow.journal");
  const std::string keys_before = t.f.read("escrow.keys");
  // This machine's cache of the vault (escrow-vault/2: state/escrow/vaults/<id>/<place>/).
  const auto places = [&t] {
    std::map<std::string, std::int64_t> out; // place → entries verified
    for (const auto& item : fs::recursive_directory_iterator(t.f.path("state/escrow/vaults"))) {
      if (item.path().filename() == "verified.json") {
        out[item.path().parent_path().string()] = Json::parse(slurp(item.path()))["log"]["count"].get<std::int64_t>();
      }
    }
    return out;
  };
  const auto places_before = places();
  REQUIRE(places_before.size() == 1);
  spit(t.f.path("calls.log"), "");
  const Result r = t.f.as("alice", {"rehearse", "prod/db"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("rehearsed v3 → v4 and back") != std::string::npos);
  // Real: the vault byte-identical, the real connector never ran, its value untouched.
  CHECK(t.f.read("escrow.vault") == vault_before);
  CHECK(t.f.read("app.value") == t.value);
  CHECK(t.f.read("calls.log").find("app ") == std::string::npos);
  // The twin saw the whole rotation and the rollback: it holds the current value again.
  CHECK(t.f.read("calls.log")
        == "app-staging update rotate\napp-staging verify rotate\napp-staging update rollback\napp-staging verify rollback\n");
  CHECK(t.f.read("staging.value") == t.value);
  // ONE signed entry in the real journal; the vault pins unchanged.
  const std::string journal_after = t.f.read("escrow.journal");
  REQUIRE(journal_after.rfind(journal_before, 0) == 0);
  CHECK(lines_of(journal_after.substr(journal_before.size())) == 1);
  const auto entries = journal_of(t.f.journal());
  CHECK(entries.back()["action"] == "rehearsal");
  CHECK(entries.back()["result"] == "ok");
  CHECK(entries.back()["detail"]["secret"] == "prod/db");
  CHECK(entries.back()["detail"]["plan"] == Json::array({"app twin app-staging"}));
  CHECK(entries.back()["detail"]["version"] == 3);
  CHECK(entries.back()["detail"]["sandbox_version"] == 4);
  // The cache saw the real journal's one new entry and nothing of the sandbox's (no other place).
  const auto places_after = places();
  REQUIRE(places_after.size() == 1);
  CHECK(places_after.begin()->first == places_before.begin()->first);
  CHECK(places_after.begin()->second == places_before.begin()->second + 1);
  CHECK(t.f.read("escrow.keys") == keys_before);
  CHECK(t.f.as("alice", {"audit", "verify"}).code == 0);
  CHECK(t.f.as("alice", {"verify"}).code == 0);
  CHECK(journal_after.find(t.value) == std::string::npos);
  CHECK(r.out.find(t.value) == std::string::npos);
}

TEST_CASE("rehearse: a failing twin is reported, journaled, listed by audit report; nothing real changes",
          "[recovery][cli]")
{
  Team t;
  REQUIRE(t.f.as("alice", {"connector", "add", "broken-staging", "--env", "prod", "--update", "true", "--verify",
                           "echo 'staging db refused the login' >&2; exit 3"})
            .code == 0);
  REQUIRE(t.f.as("alice", {"disconnect", "prod/db", "app"}).code == 0);
  REQUIRE(t.f.as("alice", {"connector", "remove", "app"}).code == 0);
  REQUIRE(t.f.as("alice", file_connector(t.f, "app", "app.value", {"--rehearse-with", "broken-staging"})).code == 0);
  REQUIRE(t.f.as("alice", {"connect", "prod/db", "app"}).code == 0);
  const std::string vault_before = t.f.read("escrow.vault");
  const std::string journal_before = t.f.read("escrow.journal");
  const Result r = t.f.as("alice", {"rehearse", "prod/db"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("staging db refused the login") != std::string::npos);
  CHECK(t.f.read("escrow.vault") == vault_before);
  CHECK(t.f.read("app.value") == t.value);
  CHECK(lines_of(t.f.read("escrow.journal").substr(journal_before.size())) == 1);
  const auto entries = journal_of(t.f.journal());
  CHECK(entries.back()["action"] == "rehearsal");
  CHECK(entries.back()["result"] == "failed");

  const Json report = json_of(t.f.as("alice", {"--json", "audit", "report"}));
  REQUIRE(report["failed_rehearsals"].size() == 1);
  CHECK(report["failed_rehearsals"][0]["secret"] == "prod/db");
  CHECK(report["failed_rehearsals"][0]["error"].get<std::string>().find("refused the login") != std::string::npos);
  REQUIRE(report["never_rehearsed"].size() == 1);
  CHECK(report["never_rehearsed"][0]["secret"] == "prod/other");
  const Result text = t.f.as("alice", {"audit", "report"});
  CHECK(text.out.find("Rehearsals that failed") != std::string::npos);
  CHECK(text.out.find("Secrets never rehearsed") != std::string::npos);
}

TEST_CASE("rehearse: without a twin only the real verify runs; a future clock never reaches the real journal",
          "[recovery][cli]")
{
  Team t;
  spit(t.f.path("calls.log"), "");
  const std::string vault_before = t.f.read("escrow.vault");
  t.f.set_env("ESCROW_NOW", "2031-01-01T00:00:00Z");
  const Result r = t.f.as("alice", {"--json", "rehearse", "prod/db"});
  t.f.unset_env("ESCROW_NOW");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const Json json = json_of(r);
  CHECK(json["rehearsals"][0]["connectors"][0]["mode"] == "verify-only");
  CHECK(json["rehearsals"][0]["at"] == "2031-01-01T00:00:00Z"); // the sandbox's time
  CHECK(t.f.read("calls.log") == "app verify rehearse\n");        // the real system: verify only
  CHECK(t.f.read("escrow.vault") == vault_before);
  const auto entries = journal_of(t.f.journal());
  CHECK(entries.back()["action"] == "rehearsal");
  CHECK(*parse_time(entries.back()["ts"].get<std::string>()) < *parse_time("2030-01-01T00:00:00Z")); // the real time
}

TEST_CASE("rehearse --due rehearses what would be due at --at", "[recovery][cli]")
{
  Team t;
  t.f.add("alice", "prod/monthly", "monthly-value", {"--every", "30d"});
  const Result none = t.f.as("alice", {"--json", "rehearse", "--due"});
  INFO(none.err);
  REQUIRE(none.code == 0);
  CHECK(json_of(none)["rehearsals"].empty());
  const Result later = t.f.as("alice", {"--json", "rehearse", "--due", "--at", "+31d"});
  INFO(later.err);
  REQUIRE(later.code == 0);
  const Json json = json_of(later);
  REQUIRE(json["rehearsals"].size() == 1);
  CHECK(json["rehearsals"][0]["secret"] == "prod/monthly");
  CHECK(json["rehearsals"][0]["result"] == "ok");
  // Usage errors.
  CHECK(t.f.as("alice", {"rehearse"}).code == 2);
  CHECK(t.f.as("alice", {"rehearse", "prod/db", "--due"}).code == 2);
  CHECK(t.f.as("alice", {"rehearse", "--due", "--at", "soon"}).code == 2);
  // Who may not rotate it may not rehearse it.
  CHECK(t.f.as("henry", {"rehearse", "prod/db"}).code == 4);
}

TEST_CASE("drill compromise: the who-could-read list matches the vault and the journal; nothing changes",
          "[recovery][cli]")
{
  Team t;
  t.f.member("frank", {"requester"}, {"prod"});
  REQUIRE(t.f.as("alice", {"share", "prod/db", "--with", "frank"}).code == 0);
  REQUIRE(t.f.as("frank", {"get", "prod/db", "--reveal"}).code == 0);
  const std::string vault_before = t.f.read("escrow.vault");
  const std::string journal_before = t.f.read("escrow.journal");
  const Result r = t.f.as("alice", {"--json", "drill", "compromise", "prod/db"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Json book = json_of(r);
  CHECK(t.f.read("escrow.vault") == vault_before);
  CHECK(lines_of(t.f.read("escrow.journal").substr(journal_before.size())) == 1);
  const auto entries = journal_of(t.f.journal());
  CHECK(entries.back()["action"] == "drill");

  // Against the vault (its state, replayed from the journal): for each version, the members
  // holding its generation's reader key, a carried grant or a share are exactly the playbook's
  // readers (by way of standing access, grant, custodian).
  const history::ReplayResult replayed = history::replay(t.f.read("escrow.journal"));
  REQUIRE(replayed.ok());
  const history::Secret& secret = *replayed.state.secret("prod/db");
  std::vector<const history::Version*> versions;
  for (const auto& [vid, version] : secret.versions) {
    versions.push_back(&version);
  }
  std::sort(versions.begin(), versions.end(), [](const auto* a, const auto* b) { return a->v < b->v; });
  REQUIRE(book["versions"].size() == versions.size());
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const history::Version& version = *versions[i];
    const Json& v = book["versions"][i];
    CHECK(v["v"] == version.v);
    std::set<std::string> standing;
    std::set<std::string> custodians;
    std::set<std::string> grants;
    for (const auto& access : v["could_read"]) {
      const std::string via = access["via"];
      if (via == "custodian") {
        custodians.insert(access["member"]);
      } else if (via == "grant" || via == "approvals") {
        grants.insert(access["member"]);
      } else if (via != "shared-ended") {
        standing.insert(access["member"]);
      }
    }
    std::set<std::string> wrapped;
    for (const auto& [member, key] : secret.gens.at(version.gen).holders) {
      wrapped.insert(member);
    }
    std::set<std::string> shares;
    for (const auto& [member, key] : version.shares) {
      shares.insert(member);
    }
    CHECK(standing == wrapped);
    CHECK(custodians == shares);
    if (version.state == VersionState::current) {
      CHECK(wrapped.count("frank") == 1);
      CHECK(grants == std::set<std::string>{"henry"});
    }
  }
  // Against the journal: every successful reveal of a version is listed under it.
  std::size_t reads = 0;
  for (const auto& entry : journal_of(t.f.journal())) {
    if (entry["action"] == "reveal" && entry["result"] == "ok" && entry["detail"]["secret"] == "prod/db") {
      ++reads;
    }
  }
  std::size_t listed = 0;
  bool frank_read = false;
  for (const auto& v : book["versions"]) {
    listed += v["reads"].size();
    for (const auto& read : v["reads"]) {
      frank_read = frank_read || read["member"] == "frank";
    }
  }
  CHECK(listed == reads);
  CHECK(frank_read);
  // Connectors in order, members to notify, the commands, the last real rotation.
  CHECK(book["connectors"][0]["name"] == "app");
  std::set<std::string> notified;
  for (const auto& contact : book["notify"]) {
    notified.insert(contact["member"]);
  }
  for (const char* member : {"alice", "bob", "carol", "henry", "ci", "frank"}) {
    CHECK(notified.count(member) == 1);
  }
  CHECK(book["commands"][0] == "escrow compromise prod/db --why \"WHAT HAPPENED\"");
  CHECK(book["last_rotation"]["version"] == 3);

  const Result text = t.f.as("alice", {"drill", "compromise", "prod/db"});
  CHECK(text.code == 0);
  CHECK(text.out.find("Who could read each version") != std::string::npos);
  CHECK(text.out.find(t.value) == std::string::npos);
  CHECK(t.f.as("alice", {"drill", "compromise", "prod/nope"}).code == 2);
}

TEST_CASE("notify: backup, restore, rehearsal and drill outcomes reach the hook, never a value", "[recovery][cli]")
{
  Team t;
  const std::string log = t.f.path("notify.log").string();
  REQUIRE(t.f.as("alice", {"policy", "set", "*", "--notify", "{ echo \"$ESCROW_EVENT\"; cat; } >> '" + log + "'"})
            .code == 0);
  REQUIRE(t.f.as("alice", {"backup", "--out", t.f.path("b").string()}).code == 0);
  REQUIRE(t.f.as("alice", {"rehearse", "prod/db"}).code == 0);
  REQUIRE(t.f.as("alice", {"drill", "compromise", "prod/db"}).code == 0);
  t.f.set_env("XDG_STATE_HOME", t.f.path("other-machine").string());
  REQUIRE(t.f.as("alice", {"restore", t.f.path("b").string(), "--to", t.f.path("r").string(), "--reconnect"}).code == 0);
  t.f.set_env("XDG_STATE_HOME", t.f.path("state").string());
  const std::string events = t.f.read("notify.log");
  for (const char* event : {"backup\n", "rehearsal\n", "drill\n", "restore\n"}) {
    CHECK(events.find(event) != std::string::npos);
  }
  // The sandbox's own rotation sent nothing.
  CHECK(events.find("rotated") == std::string::npos);
  CHECK(events.find(t.value) == std::string::npos);
}

namespace {

// A backup re-made by a member from edited contents: validly encrypted and signed, so only the
// checks of what is inside can catch it.
std::string forge(const Fixture& f, const std::string& bytes, const std::function<void(hb::Payload&)>& edit)
{
  SessionOptions options = f.options("alice");
  const Identity alice = load_identity(options);
  hb::BackupFile file = hb::parse_backup(bytes, "forge");
  const std::string associated = std::string(hb::k_format) + "\n" + file.header_line + "\n";
  const auto key = crypto::seal_open(file.header.recipients.at(0).sealed_key, alice.pub.box_pk, alice.box_sk);
  REQUIRE(key);
  const auto plain = crypto::aead_decrypt(file.nonce, file.ciphertext, as_bytes(associated), *key);
  REQUIRE(plain);
  hb::Payload payload = hb::parse_payload(
    std::string_view(reinterpret_cast<const char*>(plain->expose().data()), plain->size()), "forge");
  edit(payload);
  // The header must still match the sizes: rebuild it with the new ones.
  Json header = Json::parse(file.header_line);
  header["head"]["size"] = payload.head.size();
  header["journal"]["size"] = payload.journal.size();
  header["keys"]["size"] = payload.keys.size();
  file.header_line = canonical::dump(header);
  const std::string new_associated = std::string(hb::k_format) + "\n" + file.header_line + "\n";
  const std::string text = hb::serialize_payload(payload);
  crypto::Sealed sealed = crypto::aead_encrypt(as_bytes(text), as_bytes(new_associated), *key);
  file.nonce = sealed.nonce;
  file.ciphertext = sealed.ciphertext;
  const std::string out = hb::serialize_backup(file);
  file.signature = crypto::sign(hb::k_signature_label, as_bytes(hb::signed_part(out)), alice.sign_sk);
  return hb::serialize_backup(file);
}

} // namespace

TEST_CASE("restore checks what a validly signed backup holds: every entry, key line and head, the journal chain",
          "[recovery][cli]")
{
  Team t;
  REQUIRE(t.f.as("alice", {"backup", "--out", t.f.path("good").string()}).code == 0);
  const std::string bytes = t.f.read("good");
  t.f.set_env("XDG_STATE_HOME", t.f.path("fresh-machine").string());
  // The forger's round trip alone is accepted (the test would prove nothing otherwise).
  spit(t.f.path("same"), forge(t.f, bytes, [](hb::Payload&) {}));
  const Result same = t.f.as("alice", {"restore", t.f.path("same").string(), "--to", t.f.path("ok").string()});
  INFO(same.err);
  CHECK(same.code == 0);
  t.f.set_env("XDG_STATE_HOME", t.f.path("fresh-machine-2").string());
  SECTION("an operation edited inside")
  {
    spit(t.f.path("edited"), forge(t.f, bytes, [](hb::Payload& p) {
           const std::size_t at = p.journal.find("\"purpose\":\"test\"");
           REQUIRE(at != std::string::npos);
           p.journal.replace(at, 16, "\"purpose\":\"TEST\"");
         }));
    expect_refused(t.f, t.f.path("edited").string(), 3, "");
  }
  SECTION("a key line edited inside")
  {
    spit(t.f.path("edited-key"), forge(t.f, bytes, [](hb::Payload& p) {
           // The last line's sealed bytes (its base64 text before the final newline).
           REQUIRE(p.keys.size() > 20);
           char& c = p.keys[p.keys.size() - 10];
           c = c == 'A' ? 'B' : 'A';
         }));
    expect_refused(t.f, t.f.path("edited-key").string(), 3, "escrow.keys");
  }
  SECTION("the head file naming an entry the journal lacks")
  {
    spit(t.f.path("other-head"), forge(t.f, bytes, [](hb::Payload& p) {
           const std::size_t list = p.head.find("\"heads\": [");
           REQUIRE(list != std::string::npos);
           const std::size_t at = p.head.find('"', list + 10); // the first head's opening quote
           REQUIRE(at != std::string::npos);
           char& c = p.head[at + 5];
           c = c == 'A' ? 'B' : 'A';
         }));
    expect_refused(t.f, t.f.path("other-head").string(), 3, "");
  }
  SECTION("a journal entry deleted inside")
  {
    spit(t.f.path("cut"), forge(t.f, bytes, [](hb::Payload& p) {
           const std::size_t second = p.journal.find('\n') + 1;
           const std::size_t third = p.journal.find('\n', second) + 1;
           p.journal.erase(second, third - second);
         }));
    expect_refused(t.f, t.f.path("cut").string(), 3, "journal");
  }
  SECTION("the journal cut before the vault's anchor")
  {
    spit(t.f.path("short"), forge(t.f, bytes, [](hb::Payload& p) {
           p.journal = p.journal.substr(0, p.journal.find('\n') + 1);
         }));
    expect_refused(t.f, t.f.path("short").string(), 3, "");
  }
  t.f.set_env("XDG_STATE_HOME", t.f.path("state").string());
}

TEST_CASE("restore and this machine's cache: the newest backup is no loss, an older one is one", "[recovery][cli]")
{
  // No rotation here: a vault of two secrets and a few reads, backed up by its admin.
  Fixture f;
  f.init();
  f.member("bob", {"requester"}, {"prod"});
  f.add("alice", "prod/db", "db-value-1");
  f.add("alice", "prod/api", "api-value-1");
  REQUIRE(f.as("alice", {"get", "prod/db", "--reveal"}).code == 0);
  const fs::path newest = f.path("newest.backup");
  REQUIRE(f.as("alice", {"backup", "--out", newest.string()}).code == 0);
  const std::string head = f.read("escrow.vault");
  const std::string journal = f.read("escrow.journal");
  const std::string keys = f.read("escrow.keys");
  // bob is no recipient (not an admin): his own restore is foreign.
  expect_refused(f, newest.string(), 3, "foreign: not encrypted to bob", "bob");

  SECTION("the checkout lost, the newest backup restored where it was: no loss, same bytes")
  {
    for (const char* name : {"escrow.vault", "escrow.journal", "escrow.keys"}) {
      fs::remove(f.path(name));
    }
    const Result r = f.as("alice", {"restore", newest.string(), "--to", f.dir().string()});
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(f.read("escrow.vault") == head);
    CHECK(f.read("escrow.keys") == keys);
    CHECK(f.read("escrow.journal").rfind(journal, 0) == 0); // + the restore event
    CHECK(journal_of(f.journal()).back()["action"] == "restore");
    const Result verify = f.as("alice", {"verify"});
    INFO(verify.err);
    CHECK(verify.code == 0);
    const Result get = f.as("alice", {"get", "prod/api", "--reveal"});
    CHECK(get.out == "api-value-1");
  }
  SECTION("a later operation, then the older backup: stale on this machine; never at the place that saw it")
  {
    f.add("alice", "prod/later", "later-value");
    expect_refused(f, newest.string(), 3, "stale: a backup made .* that lacks 1 journal entry");
    for (const char* name : {"escrow.vault", "escrow.journal", "escrow.keys"}) {
      fs::rename(f.path(name), f.path(std::string(name) + ".moved"));
    }
    // Where the cache saw the lost entry, even --allow-rollback refuses: every command would
    // report the restored vault there as a loss.
    const Result here = f.as("alice", {"restore", newest.string(), "--to", f.dir().string(), "--allow-rollback"});
    CHECK(here.code == 3);
    CHECK(here.err.find("at this very place") != std::string::npos);
    CHECK_FALSE(fs::exists(f.path("escrow.vault")));
    CHECK_FALSE(fs::exists(f.path("escrow.journal")));
    CHECK_FALSE(fs::exists(f.path("escrow.keys")));
    // The loss is real: the older files put back by hand are refused by every command here.
    const fs::path elsewhere = f.path("elsewhere");
    const Result there = f.as("alice", {"restore", newest.string(), "--to", elsewhere.string(), "--allow-rollback"});
    INFO(there.err);
    REQUIRE(there.code == 0);
    CHECK(there.out.find("accepted the loss of 1 journal entries") != std::string::npos);
    for (const char* name : {"escrow.vault", "escrow.journal", "escrow.keys"}) {
      fs::copy_file(elsewhere / name, f.path(name));
    }
    const Result lost = f.as("alice", {"list"});
    CHECK(lost.code == 3);
    CHECK(lost.err.find("prod/later") == std::string::npos); // the message names entries, never values
    // The restored copy itself opens (its own place) and holds no trace of the later secret.
    const Result list = f.as("alice", {"--vault", (elsewhere / "escrow.vault").string(), "list"});
    INFO(list.err);
    CHECK(list.code == 0);
    CHECK(list.out.find("prod/later") == std::string::npos);
    CHECK(list.out.find("prod/api") != std::string::npos);
  }
  SECTION("nothing of a value in the backup's header, and the backup event holds no value either")
  {
    const std::string bytes = f.read("newest.backup");
    CHECK(bytes.find("db-value-1") == std::string::npos);
    CHECK(bytes.find("prod/db") == std::string::npos);
    const Json event = journal_of(f.journal()).back();
    CHECK(event["action"] == "backup");
    CHECK(event.dump().find("db-value-1") == std::string::npos);
  }
}
