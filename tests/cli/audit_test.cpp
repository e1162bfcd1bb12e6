// escrow audit log | verify | report | anomalies | ack-loss on escrow-vault/2, in-process, with
// fixed clocks (ESCROW_NOW).
#include "fixture.hpp"

#include <escrow/canonical.hpp>
#include <escrow/history/entry.hpp>

#include <algorithm>
#include <set>

using escrow::test::Fixture;
using escrow::test::Result;
using Json = nlohmann::json;

namespace {

void at(const char* when)
{
  escrow::test::Fixture::current().set_env("ESCROW_NOW", when);
}

Json json_of(const Result& result)
{
  INFO(result.err);
  REQUIRE(result.code == 0);
  return Json::parse(result.out);
}

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

void write(const Fixture& f, const std::string& name, const std::string& text)
{
  std::FILE* file = std::fopen(f.path(name).c_str(), "wb");
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);
}

// stderr holds exactly one "escrow: error:" line (plus hints) matching `needle`.
void check_one_error_line(const Result& result, const std::string& needle)
{
  INFO(result.err);
  std::size_t errors = 0;
  for (const auto& line : lines_of(result.err)) {
    if (line.rfind("escrow: hint:", 0) == 0) {
      continue;
    }
    ++errors;
    CHECK(line.rfind("escrow: error: ", 0) == 0);
    CHECK_THAT(line, Catch::Contains(needle));
  }
  CHECK(errors == 1);
}

const std::vector<std::string> k_values = {"same-value-1", "old-value-2", "crm-value-3", "brk-value-4", "dave-value-5",
                                           "api-value-6"};

// A team with history, every date fixed:
//   2026-01-01 setup; 01-02 two rotations (one awaits a manual paste, one fails and rolls back);
//   01-03 dave removed; 02-14 alice reads prod/db; 02-15 08:00 erin's requests.
// "Now" for the report is 2026-02-15T09:00:00Z.
struct Team
{
  Fixture f;

  Team()
  {
    at("2026-01-01T09:00:00Z");
    f.init();
    f.member("bob", {"approver", "requester"}, {"prod"});
    f.member("carol", {"approver"}, {"*"});
    f.member("erin", {"requester"}, {"prod"});
    f.member("dave", {"admin", "requester"}, {"*"});
    f.member("audrey", {"auditor"}, {"*"});
    REQUIRE(f.as("alice", {"connector", "add", "paste", "--env", "prod", "--manual", "--instructions", "CRM admin page"}).code == 0);
    REQUIRE(f.as("alice", {"connector", "add", "picky", "--env", "prod", "--update", "grep -qx 'brk-[v]alue-4'", "--verify", "true"}).code == 0);
    f.add("alice", "prod/db", k_values[0], {"--custodians", "bob,carol", "--threshold", "1", "--every", "30d"});
    f.add("alice", "prod/dup", k_values[0]);
    f.add("alice", "prod/old", k_values[1]);
    f.add("alice", "prod/crm", k_values[2], {"--connector", "paste"});
    f.add("alice", "prod/brk", k_values[3], {"--connector", "picky"});
    f.add("dave", "prod/daves", k_values[4], {"--custodians", "bob,carol", "--threshold", "1"});
    f.add("alice", "prod/api", k_values[5], {"--custodians", "bob,carol", "--threshold", "2"});
    at("2026-01-02T09:00:00Z");
    REQUIRE(f.as("alice", {"rotate", "prod/crm"}).code == 0);
    REQUIRE(f.as("alice", {"rotate", "prod/brk"}).code != 0);
    at("2026-01-03T09:00:00Z");
    REQUIRE(f.as("alice", {"member", "remove", "dave"}).code == 0);
    at("2026-02-14T10:00:00Z");
    REQUIRE(f.as("alice", {"get", "prod/db", "--reveal"}).code == 0);
    at("2026-02-15T08:00:00Z");
    const Result granted = f.as("erin", {"request", "prod/db", "--ttl", "4h", "--why", "incident 812"});
    REQUIRE(granted.code == 0);
    grant_id = lines_of(granted.out).at(0);
    REQUIRE(f.as("bob", {"approve", "prod/db", grant_id}).code == 0);
    const Result pending = f.as("erin", {"request", "prod/api", "--ttl", "4h", "--why", "billing bug"});
    INFO(pending.err);
    REQUIRE(pending.code == 0);
    pending_id = lines_of(pending.out).at(0);
    at("2026-02-15T08:30:00Z");
    REQUIRE(f.as("erin", {"get", "prod/db", "--reveal"}).code == 0);
    REQUIRE(f.as("erin", {"get", "prod/old", "--reveal"}).code == 4);
    at("2026-02-15T09:00:00Z");
  }

  std::string grant_id;
  std::string pending_id;
};

} // namespace

TEST_CASE("audit log: who read what, when and why, with filters", "[audit][cli]")
{
  Team team;
  Fixture& f = team.f;
  // "Who read prod/db this month, and why?"
  const Json reads = json_of(f.as("audrey", {"--json", "audit", "log", "--secret", "prod/db", "--action", "reveal", "--since",
                                             "2026-02-01"}));
  REQUIRE(reads["entries"].size() == 2);
  CHECK(reads["entries"][0]["actor"] == "alice");
  CHECK(reads["entries"][1]["actor"] == "erin");
  CHECK(reads["entries"][1]["request"] == team.grant_id);
  CHECK(reads["entries"][1]["request_why"] == "incident 812");
  CHECK(reads["entries"][1]["line"].get<std::size_t>() > reads["entries"][0]["line"].get<std::size_t>());

  // The table says the same for people.
  const Result table = f.as("audrey", {"audit", "log", "--secret", "prod/db", "--action", "reveal", "--since", "30d"});
  REQUIRE(table.code == 0);
  CHECK_THAT(table.out, Catch::Contains("LINE") && Catch::Contains("WHY"));
  CHECK_THAT(table.out, Catch::Contains("erin") && Catch::Contains("incident 812"));
  CHECK(lines_of(table.out).size() == 3);

  // Each filter.
  const auto count = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--json", "audit", "log"});
    return json_of(f.as("audrey", args))["entries"].size();
  };
  const std::size_t all = count({});
  CHECK(all == lines_of(f.read("escrow.journal")).size());
  CHECK(count({"--actor", "erin"}) == 4); // two requests, a read and a refused read
  CHECK(count({"--action", "member*"}) == 6);
  CHECK(count({"--action", "rotate*"}) >= 3);
  CHECK(count({"--env", "prod"}) > 10);
  // An environment the vault does not know is a usage error, not an empty list (docs/FINDING.md).
  const Result unknown_env = f.as("audrey", {"audit", "log", "--env", "staging"});
  CHECK(unknown_env.code == 2);
  CHECK_THAT(unknown_env.err, Catch::Contains("no environment named staging"));
  CHECK(count({"--secret", "prod/*", "--until", "2026-01-02"}) == 7); // the seven adds
  CHECK(count({"--since", "2026-01-02T00:00:00Z", "--until", "2026-01-03"}) == count({"--action", "rotate*"}));
  const Json refused = json_of(f.as("audrey", {"--json", "audit", "log", "--actor", "erin", "--action", "reveal"}));
  REQUIRE(refused["entries"].size() == 2);
  CHECK(refused["entries"][1]["result"] == "denied");
  CHECK(refused["entries"][1]["secret"] == "prod/old");
}

TEST_CASE("audit log: bad arguments are usage errors and change nothing", "[audit][cli]")
{
  Fixture f;
  f.init();
  const std::string vault = f.read("escrow.vault");
  const std::string journal = f.read("escrow.journal");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"audit", "log", "--since", "yesterday"}, {"audit", "log", "--until", "2026-13-45"},
        {"audit", "log", "--env", "../prod"}, {"audit", "anomalies", "--since", "soon"},
        {"audit", "report", "--dormant-days", "0"}, {"audit", "report", "--expiring", "later"}}) {
    const Result result = f.as("alice", args);
    INFO(args[1] << " " << args[2]);
    CHECK(result.code == 2);
    CHECK(result.out.empty());
    check_one_error_line(result, args[2].substr(2));
  }
  CHECK(f.read("escrow.vault") == vault);
  CHECK(f.read("escrow.journal") == journal);
}

TEST_CASE("audit verify: clean, then every kind of tampering through the command line", "[audit][cli]")
{
  Team team;
  Fixture& f = team.f;
  const Result clean = f.as("audrey", {"audit", "verify"});
  INFO(clean.err);
  REQUIRE(clean.code == 0);
  CHECK_THAT(clean.out, Catch::StartsWith("ok: ") && Catch::Contains("signatures verified"));
  const Json document = json_of(f.as("audrey", {"--json", "audit", "verify"}));
  CHECK(document["ok"] == true);
  CHECK(document["findings"].empty());
  CHECK(document["entries"] == lines_of(f.read("escrow.journal")).size());
  CHECK(f.as("audrey", {"verify"}).code == 0);

  const std::string original = f.read("escrow.journal");
  const std::string vault = f.read("escrow.vault");
  const std::vector<std::string> lines = lines_of(original);
  const auto join = [](const std::vector<std::string>& parts) {
    std::string text;
    for (const auto& part : parts) {
      text += part + '\n';
    }
    return text;
  };
  // v2 (docs/AUDIT.md): each problem is a typed finding printed as "error: <kind>: <file>: line N:
  // entry …: <reason>" on stdout, the first one the one-line error; a loss (an entry this machine
  // verified, gone) is "lost-entries". A v1 edit of "result" to "no" would make the line
  // unparseable (malformed-entry): the modification here keeps the grammar, as an attacker would.
  struct Case
  {
    std::string name;
    std::string text;
    std::string kind;     // the first error's kind
    std::string file;     // the file its one-line error names
    std::string message;  // in that line
  };
  const std::string journal_path = f.journal().string();
  const std::string head_path = f.vault().string();
  std::vector<Case> cases;
  {
    auto variant = lines;
    const auto at = variant[5].find("\"ts\":\"") + 6 + 18;
    variant[5][at] = variant[5][at] == '9' ? '0' : static_cast<char>(variant[5][at] + 1);
    cases.push_back({"modified", join(variant), "modified-entry", journal_path, "line 6: entry"});
  }
  {
    auto variant = lines;
    escrow::history::Entry entry = escrow::history::parse_entry(variant[5], "test");
    entry.why = "nothing to see here";
    entry.hash = escrow::history::compute_hash(entry);
    variant[5] = escrow::history::dump_entry(entry);
    cases.push_back({"modified and re-hashed", join(variant), "forged-signature", journal_path, "line 6: entry"});
  }
  {
    auto variant = lines;
    variant.erase(variant.begin() + 4);
    cases.push_back({"deleted", join(variant), "deleted-entry", journal_path, "line 5: entry"});
  }
  {
    auto variant = lines;
    std::swap(variant[7], variant[8]);
    cases.push_back({"reordered", join(variant), "reordered-entries", journal_path, "line 8: entry"});
  }
  {
    auto variant = lines;
    variant.resize(variant.size() - 3); // erin's last request (an operation) and two reads
    cases.push_back({"truncated", join(variant), "truncated-tail", head_path, "names entry"});
  }
  {
    auto variant = lines;
    variant.pop_back(); // a refused read, after the last operation: only this machine's record knows
    cases.push_back({"truncated (this machine's record)", join(variant), "lost-entries", journal_path,
                     "1 entry this machine verified is missing"});
  }
  for (const auto& item : cases) {
    INFO(item.name);
    write(f, "escrow.journal", item.text);
    const Result result = f.as("audrey", {"audit", "verify"});
    CHECK(result.code == 3);
    check_one_error_line(result, item.file + ": ");
    CHECK_THAT(result.err, Catch::Contains(item.message));
    CHECK_THAT(result.out, Catch::Contains("error: " + item.kind + ": ") && Catch::Contains(item.message));
    const Result json = f.as("audrey", {"--json", "audit", "verify"});
    CHECK(json.code == 3);
    const Json report = Json::parse(json.out);
    CHECK(report["ok"] == false);
    REQUIRE(report["findings"].size() >= 1);
    CHECK(report["findings"][0]["kind"] == item.kind);
    // `escrow verify` catches it too (a loss first: the session refuses before replaying).
    const Result full = f.as("audrey", {"verify"});
    CHECK(full.code == 3);
    CHECK_THAT(full.err, Catch::Contains(item.message) || Catch::Contains("this machine verified"));
    // Verification changes neither file.
    CHECK(f.read("escrow.journal") == item.text);
    CHECK(f.read("escrow.vault") == vault);
  }
  write(f, "escrow.journal", original);
  CHECK(f.as("audrey", {"audit", "verify"}).code == 0);
}

TEST_CASE("audit report: every section, from a journal with fixed dates", "[audit][cli]")
{
  Team team;
  Fixture& f = team.f;
  const std::size_t journal_before = lines_of(f.read("escrow.journal")).size();
  const Json report = json_of(f.as("alice", {"--json", "audit", "report", "--dormant-days", "30", "--expiring", "6h"}));
  INFO(report.dump(2));
  const auto find = [&](const char* section, const std::string& secret) -> Json {
    for (const auto& item : report[section]) {
      if (item.value("secret", "") == secret || item.value("member", "") == secret) {
        return item;
      }
    }
    return nullptr;
  };
  // Overdue: prod/db (every 30d since 2026-01-01 09:00) by 15 days; prod/daves since dave's removal.
  REQUIRE(find("overdue", "prod/db") != nullptr);
  CHECK(find("overdue", "prod/db")["overdue_seconds"] == 15 * 86400);
  CHECK(find("overdue", "prod/db")["overdue_by"] == "15d");
  REQUIRE(find("overdue", "prod/daves") != nullptr);
  CHECK(find("overdue", "prod/daves")["due_since"] == "2026-01-03T09:00:00Z");
  CHECK(find("overdue", "prod/old") == nullptr);
  // Rotations: crm waits for a paste into "paste"; brk failed and was rolled back.
  REQUIRE(find("rotation_problems", "prod/crm") != nullptr);
  CHECK(find("rotation_problems", "prod/crm")["state"] == "awaiting-confirmation");
  CHECK(find("rotation_problems", "prod/crm")["connectors"] == Json::array({"paste"}));
  CHECK(find("rotation_problems", "prod/crm")["entries"].size() >= 1);
  REQUIRE(find("rotation_problems", "prod/brk") != nullptr);
  CHECK(find("rotation_problems", "prod/brk")["state"] == "failed");
  CHECK(find("rotation_problems", "prod/brk")["connectors"] == Json::array({"picky"}));
  // Dormant (30 days): never used since 2026-01-01, but not prod/db (read on 02-14).
  REQUIRE(find("dormant", "prod/old") != nullptr);
  CHECK(find("dormant", "prod/old")["last_used"] == nullptr);
  CHECK(find("dormant", "prod/old")["idle_days"] == 45);
  CHECK(find("dormant", "prod/db") == nullptr);
  // dave: removed owner of prod/daves and author of its current version.
  REQUIRE(report["owner_removed"].size() == 1);
  CHECK(report["owner_removed"][0]["secret"] == "prod/daves");
  CHECK(report["owner_removed"][0]["removed_at"] == "2026-01-03T09:00:00Z");
  REQUIRE(report["removed_authors"].size() == 1);
  CHECK(report["removed_authors"][0]["created_by"] == "dave");
  // erin's pending request (0 of 2) and her grant, which expires at 12:00 (within 6h).
  REQUIRE(report["open_requests"].size() == 2);
  for (const auto& item : report["open_requests"]) {
    if (item["id"] == team.grant_id) {
      CHECK(item["state"] == "granted");
      CHECK(item["expires_in_seconds"] == 3 * 3600);
    } else {
      CHECK(item["id"] == team.pending_id);
      CHECK(item["state"] == "pending");
      CHECK(item["approvals"] == 0);
      CHECK(item["threshold"] == 2);
    }
  }
  // Bus factor: prod/old has one reader and no custodian; prod/db has two custodians of one.
  REQUIRE(find("bus_factor", "prod/old") != nullptr);
  CHECK(find("bus_factor", "prod/old")["bus_factor"] == 1);
  CHECK(find("bus_factor", "prod/old")["readers"] == Json::array({"alice"}));
  CHECK(find("bus_factor", "prod/db") == nullptr);
  // carol was asked (two requests) and never approved; bob approved.
  REQUIRE(find("silent_custodians", "carol") != nullptr);
  CHECK(find("silent_custodians", "carol")["asked"] == 2);
  CHECK(find("silent_custodians", "bob") == nullptr);
  // Duplicates among what alice can read: prod/db and prod/dup.
  REQUIRE(report["duplicates"].size() == 1);
  CHECK(report["duplicates"][0]["secrets"] == Json::array({"prod/db", "prod/dup"}));
  CHECK(report["values_compared"].get<std::size_t>() >= 5);
  // Comparing decrypted values leaves one trace (and no value) in the journal.
  const auto lines = lines_of(f.read("escrow.journal"));
  REQUIRE(lines.size() == journal_before + 1);
  const Json trace = Json::parse(lines.back());
  CHECK(trace["action"] == "audit-compare");
  CHECK(trace["actor"] == "alice");
  CHECK(f.as("alice", {"audit", "verify"}).code == 0);

  // The tables for people.
  const Result text = f.as("alice", {"audit", "report", "--dormant-days", "30", "--no-values"});
  REQUIRE(text.code == 0);
  for (const char* title : {"Rotations overdue", "Rotations failed or awaiting confirmation", "Dormant credentials",
                            "Secrets whose owner was removed", "Current versions authored by removed members",
                            "Pending requests and grants", "bus factor", "Custodians who never approve",
                            "Duplicate values (not compared)"}) {
    CHECK_THAT(text.out, Catch::Contains(title));
  }
  CHECK_THAT(text.out, Catch::Contains("15d") && Catch::Contains("awaiting-confirmation") && Catch::Contains("carol"));
  CHECK(lines_of(f.read("escrow.journal")).size() == journal_before + 1); // --no-values decrypts nothing
}

TEST_CASE("audit report: the auditor runs every audit command and reads no value", "[audit][cli]")
{
  Team team;
  Fixture& f = team.f;
  const std::string journal = f.read("escrow.journal");
  const Json report = json_of(f.as("audrey", {"--json", "audit", "report"}));
  CHECK(report["duplicates"].empty());
  CHECK(report["values_compared"] == 0);
  CHECK(f.read("escrow.journal") == journal); // nothing decrypted, nothing journaled
  CHECK(f.as("audrey", {"audit", "log"}).code == 0);
  CHECK(f.as("audrey", {"audit", "verify"}).code == 0);
  CHECK(f.as("audrey", {"audit", "anomalies"}).code == 0);
  CHECK(f.as("audrey", {"audit", "report", "--html", f.path("r.html").string()}).code == 0);
  CHECK(f.as("audrey", {"get", "prod/db", "--reveal"}).code == 4);
  // Every member may audit; a stranger may not.
  CHECK(f.as("erin", {"audit", "verify"}).code == 0);
  f.identity("stranger");
  CHECK(f.as("stranger", {"audit", "log"}).code == 4);
}

TEST_CASE("audit report --html: a self-contained page, a bad target changes nothing", "[audit][cli]")
{
  Team team;
  Fixture& f = team.f;
  const Result result = f.as("audrey", {"audit", "report", "--html", f.path("report.html").string()});
  INFO(result.err);
  REQUIRE(result.code == 0);
  const std::string html = f.read("report.html");
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK_THAT(html, Catch::Contains("<svg id=\"timeline\"") && Catch::Contains("Journal verification: ok"));
  std::size_t marks = 0;
  for (auto at = html.find("class=\"mark access"); at != std::string::npos; at = html.find("class=\"mark access", at + 1)) {
    ++marks;
  }
  const Json reads = json_of(f.as("audrey", {"--json", "audit", "log", "--action", "reveal"}));
  const Json execs = json_of(f.as("audrey", {"--json", "audit", "log", "--action", "exec"}));
  CHECK(marks == reads["entries"].size() + execs["entries"].size());
  CHECK(marks == 3);
  for (const auto& value : k_values) {
    CHECK(html.find(value) == std::string::npos);
  }

  const std::string vault = f.read("escrow.vault");
  const std::string journal = f.read("escrow.journal");
  for (const std::string& target : {f.path("no/such/dir/r.html").string(), f.dir().string()}) {
    const Result bad = f.as("alice", {"audit", "report", "--html", target});
    CHECK(bad.code == 5);
    check_one_error_line(bad, target);
  }
  CHECK(f.read("escrow.vault") == vault);
  CHECK(f.read("escrow.journal") == journal);
}

TEST_CASE("audit anomalies: from the command line, with --since and --json", "[audit][cli]")
{
  Fixture f;
  at("2026-03-01T10:00:00Z");
  f.init();
  f.add("alice", "prod/db", "anomaly-value-1");
  f.add("alice", "prod/other", "anomaly-value-2");
  for (int day = 2; day <= 12; ++day) {
    at(fmt::format("2026-03-{:02}T10:00:00Z", day).c_str());
    REQUIRE(f.as("alice", {"get", "prod/db", "--reveal"}).code == 0);
  }
  at("2026-03-13T03:00:00Z");
  REQUIRE(f.as("alice", {"get", "prod/other", "--reveal"}).code == 0);
  const Json found = json_of(f.as("alice", {"--json", "audit", "anomalies"}));
  INFO(found.dump(2));
  std::set<std::string> kinds;
  for (const auto& item : found["anomalies"]) {
    kinds.insert(item["kind"].get<std::string>());
    CHECK(item["entries"].size() >= 1);
    CHECK(item["entries"][0]["line"].get<std::size_t>() == lines_of(f.read("escrow.journal")).size());
  }
  CHECK(kinds == std::set<std::string>{"first-access", "new-hour"});
  const Result text = f.as("alice", {"audit", "anomalies"});
  CHECK_THAT(text.out, Catch::Contains("first-access") && Catch::Contains("03h UTC"));
  // Deterministic.
  CHECK(f.as("alice", {"--json", "audit", "anomalies"}).out == f.as("alice", {"--json", "audit", "anomalies"}).out);
  // --since keeps only findings with entries from then on; a longer baseline finds nothing.
  CHECK(json_of(f.as("alice", {"--json", "audit", "anomalies", "--since", "2026-03-14"}))["anomalies"].empty());
  CHECK(json_of(f.as("alice", {"--json", "audit", "anomalies", "--min-history", "30"}))["anomalies"].empty());
}

TEST_CASE("audit: values never reach the journal or any audit output", "[audit][cli]")
{
  Team team;
  Fixture& f = team.f;
  std::string everything = f.read("escrow.journal") + f.read("escrow.vault");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--json", "audit", "log"}, {"audit", "log"}, {"--json", "audit", "report"},
        {"audit", "report"}, {"--json", "audit", "anomalies"}, {"--json", "audit", "verify"}}) {
    const Result result = f.as("alice", args);
    REQUIRE(result.code == 0);
    everything += result.out + result.err;
  }
  REQUIRE(f.as("alice", {"audit", "report", "--html", f.path("r.html").string()}).code == 0);
  everything += f.read("r.html") + f.read("escrow.journal");
  for (const auto& value : k_values) {
    INFO(value);
    CHECK(everything.find(value) == std::string::npos);
  }
}

TEST_CASE("audit: a torn last line (a writer killed mid-append) is a warning, repaired by the next write",
          "[audit][cli]")
{
  Fixture f;
  at("2026-01-01T09:00:00Z");
  f.init();
  f.add("alice", "prod/db", "torn-value-1");
  const std::string whole = f.read("escrow.journal");
  write(f, "escrow.journal", whole + R"({"action":"reveal","actor":"alice","env":"pr)");
  const Result verify = f.as("alice", {"audit", "verify"});
  INFO(verify.err);
  CHECK(verify.code == 0);
  CHECK_THAT(verify.out, Catch::Contains("warning: torn-write: ") && Catch::Contains("escrow.journal: line 3: "));
  CHECK(json_of(f.as("alice", {"--json", "audit", "log"}))["entries"].size() == 2);
  CHECK(f.as("alice", {"verify"}).code == 0);
  // The next append cuts the fragment off; then all is clean.
  REQUIRE(f.as("alice", {"get", "prod/db", "--reveal"}).code == 0);
  const Json clean = json_of(f.as("alice", {"--json", "audit", "verify"}));
  CHECK(clean["findings"].empty());
  CHECK(clean["entries"] == 3);
}

TEST_CASE("audit ack-loss: a lost tail of reads refuses every command until an admin acknowledges it",
          "[audit][cli]")
{
  Fixture f;
  at("2026-01-01T09:00:00Z");
  f.init();
  f.member("bob", {"approver", "requester"}, {"prod"});
  f.add("alice", "prod/db", "loss-value-1");
  REQUIRE(f.as("alice", {"share", "prod/db", "--with", "bob"}).code == 0);
  at("2026-01-02T09:00:00Z");
  REQUIRE(f.as("bob", {"get", "prod/db", "--reveal"}).code == 0);
  REQUIRE(f.as("alice", {"get", "prod/db", "--reveal"}).code == 0);
  const std::string whole = f.read("escrow.journal");
  std::vector<std::string> lines = lines_of(whole);
  // An older copy of the journal comes back (a restore, a checkout): the two reads are gone.
  std::string older;
  for (std::size_t i = 0; i + 2 < lines.size(); ++i) {
    older += lines[i] + '\n';
  }
  write(f, "escrow.journal", older);
  const std::string vault = f.read("escrow.vault");
  const std::string keys = f.read("escrow.keys");
  const auto unchanged = [&] {
    CHECK(f.read("escrow.journal") == older);
    CHECK(f.read("escrow.vault") == vault);
    CHECK(f.read("escrow.keys") == keys);
  };
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"get", "prod/db", "--reveal"}, {"audit", "log"}, {"audit", "verify"}, {"verify"}}) {
    const Result refused = f.as("alice", args);
    INFO(args[0]);
    CHECK(refused.code == 3);
    check_one_error_line(refused, "2 entries this machine verified are missing");
    CHECK_THAT(refused.err, Catch::Contains("reveal by alice") && Catch::Contains("escrow audit ack-loss"));
    unchanged();
  }
  const Json listed = Json::parse(f.as("alice", {"--json", "audit", "verify"}).out);
  REQUIRE(listed["lost"].size() == 2);
  CHECK(listed["lost"][0]["actor"] == "bob");
  CHECK(listed["lost"][1]["actor"] == "alice");
  // Only an admin acknowledges; a reason is required; refusals write nothing.
  const Result usage = f.as("alice", {"audit", "ack-loss"});
  CHECK(usage.code == 2);
  unchanged();
  const Result not_admin = f.as("bob", {"audit", "ack-loss", "--why", "laptop restored from a backup"});
  CHECK(not_admin.code == 4);
  check_one_error_line(not_admin, "journal-loss");
  unchanged();
  const Result acknowledged = f.as("alice", {"audit", "ack-loss", "--why", "laptop restored from a backup"});
  INFO(acknowledged.err);
  REQUIRE(acknowledged.code == 0);
  CHECK_THAT(acknowledged.out, Catch::Contains("acknowledged 2 lost entries"));
  // The acknowledgement is an operation in the history: who accepted which loss, why, when.
  const Json ack = Json::parse(lines_of(f.read("escrow.journal")).back());
  CHECK(ack["action"] == "journal-loss");
  CHECK(ack["actor"] == "alice");
  CHECK(ack["why"] == "laptop restored from a backup");
  CHECK(ack["op"]["args"]["lost"].size() == 2);
  CHECK(f.as("alice", {"audit", "verify"}).code == 0);
  CHECK(f.as("bob", {"get", "prod/db", "--reveal"}).code == 0);
  const Json log = json_of(f.as("alice", {"--json", "audit", "log", "--action", "journal-loss"}));
  CHECK(log["entries"].size() == 1);
  // Nothing left to acknowledge.
  CHECK(f.as("alice", {"audit", "ack-loss", "--why", "again"}).code == 2);
}

TEST_CASE("audit ack-loss: a lost operation cannot be acknowledged", "[audit][cli]")
{
  Fixture f;
  at("2026-01-01T09:00:00Z");
  f.init();
  f.add("alice", "prod/db", "loss-value-2");
  const std::vector<std::string> lines = lines_of(f.read("escrow.journal"));
  const std::string head = f.read("escrow.vault");
  f.add("alice", "prod/other", "loss-value-3");
  // The journal and its head file as they were before the last add: a whole operation is gone.
  std::string older;
  for (const auto& line : lines) {
    older += line + '\n';
  }
  write(f, "escrow.journal", older);
  write(f, "escrow.vault", head);
  const Result refused = f.as("alice", {"audit", "ack-loss", "--why", "gone"});
  CHECK(refused.code == 3);
  CHECK_THAT(refused.err, Catch::Contains("secret-add"));
  CHECK(f.read("escrow.journal") == older);
  CHECK(f.read("escrow.vault") == head);
}
