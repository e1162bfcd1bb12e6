// The audit journal's verification, anomalies and HTML page, in-process against the library.
#include "../cli/fixture.hpp"

#include <escrow/atomic_file.hpp>
#include <escrow/audit/anomalies.hpp>
#include <escrow/audit/html.hpp>
#include <escrow/audit/verify.hpp>
#include <escrow/session.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

using namespace escrow;
using escrow::audit::Problem;

namespace {

constexpr Timestamp k_t0 = 1767258000; // 2026-01-01T09:00:00Z

std::vector<std::string> split(const std::string& text)
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

std::string join(const std::vector<std::string>& lines)
{
  std::string text;
  for (const auto& line : lines) {
    text += line + '\n';
  }
  return text;
}

std::string hash_of(const std::string& line)
{
  return journal_entry_from_json(canonical::parse(line, "test"), "test").hash;
}

// A journal written in memory: each entry chained to the previous one and signed.
struct Builder
{
  std::string vault_id;
  std::string text;
  std::string head;

  std::string append(JournalEntry entry, const Identity& who)
  {
    entry.parents.clear();
    if (!head.empty()) {
      entry.parents.push_back(head);
    }
    if (entry.vault.empty()) {
      entry.vault = vault_id;
    }
    if (entry.host.empty()) {
      entry.host = "laptop";
    }
    head = Journal::seal(entry, who);
    text += canonical::dump(to_json(entry)) + '\n';
    return head;
  }
};

JournalEntry access(Timestamp ts, const std::string& secret, JournalAction action = JournalAction::reveal)
{
  JournalEntry entry;
  entry.ts = ts;
  entry.action = action;
  entry.secret = secret;
  entry.env = secret.substr(0, secret.find('/'));
  entry.version = 1;
  return entry;
}

MemberRecord member_record(const Identity& who, const std::string& by, Timestamp at)
{
  MemberRecord record;
  record.name = who.pub.name;
  record.sign_pk = who.pub.sign_pk;
  record.box_pk = who.pub.box_pk;
  record.roles = {Role::approver, Role::requester};
  record.envs = {"*"};
  record.added_by = by;
  record.added_at = at;
  return record;
}

// An in-memory vault: alice (genesis), bob, and dave (removed at k_t0 + 10 days).
struct Roster
{
  Identity alice = generate_identity("alice");
  Identity bob = generate_identity("bob");
  Identity dave = generate_identity("dave");
  Identity mallory = generate_identity("mallory"); // never a member
  Vault vault = Vault::create(alice, k_t0);

  Roster()
  {
    for (const Identity* who : {&bob, &dave}) {
      MemberRecord record = member_record(*who, "alice", k_t0);
      if (who == &dave) {
        record.removed_at = k_t0 + 10 * 86400;
        record.removed_by = "alice";
      }
      vault.sign(record, alice);
      vault.put_member(record);
    }
  }
  Builder builder() const { return Builder{vault.id_b64(), {}, {}}; }
};

audit::Finding only_error(const audit::VerifyReport& report)
{
  INFO(report.to_json().dump(2));
  REQUIRE(report.errors() >= 1);
  return *report.first_error();
}

// A real vault and journal made through the command line with fixed clocks, then a few hundred
// accesses appended through the library by three members, then a last commit and accesses.
struct RealJournal
{
  test::Fixture f;
  std::optional<Vault> vault;
  std::vector<std::string> lines;
  audit::JournalPin pin;

  RealJournal(std::size_t accesses)
  {
    f.set_env("ESCROW_NOW", "2026-01-01T09:00:00Z");
    f.init();
    f.member("bob", {"approver", "requester"}, {"prod"});
    f.member("carol", {"approver"}, {"*"});
    f.member("dave", {"requester"}, {"prod"});
    f.add("alice", "prod/db", "db-value-1", {"--custodians", "bob,carol", "--threshold", "1"});
    f.add("alice", "prod/api", "api-value-2");
    REQUIRE(f.as("alice", {"share", "prod/db", "--with", "bob"}).code == 0);
    REQUIRE(f.as("alice", {"get", "prod/db", "--reveal"}).code == 0);
    const Vault before = Vault::parse(f.read("escrow.vault"), "vault");
    const auto load = [&](const std::string& name) {
      SessionOptions options;
      options.identity_path = f.path(name + ".id");
      return load_identity(options);
    };
    const Identity alice = load("alice");
    const Identity bob = load("bob");
    Builder builder{before.id_b64(), {}, Journal(f.journal()).head()};
    for (std::size_t i = 0; i < accesses; ++i) {
      JournalEntry entry = access(k_t0 + 3600 + static_cast<Timestamp>(i) * 1800, i % 2 == 0 ? "prod/db" : "prod/api",
                                  i % 3 == 0 ? JournalAction::exec : JournalAction::reveal);
      entry.why = i % 5 == 0 ? "incident " + std::to_string(i) : "";
      builder.append(std::move(entry), i % 2 == 0 ? bob : alice);
    }
    append_durably(f.journal(), builder.text);
    f.set_env("ESCROW_NOW", "2026-02-01T09:00:00Z");
    REQUIRE(f.as("alice", {"member", "remove", "dave"}).code == 0);
    REQUIRE(f.as("alice", {"get", "prod/api", "--reveal"}).code == 0);
    REQUIRE(f.as("bob", {"get", "prod/db", "--reveal"}).code == 0);
    f.unset_env("ESCROW_NOW");
    vault.emplace(Vault::parse(f.read("escrow.vault"), "vault"));
    const std::string text = f.read("escrow.journal");
    lines = split(text);
    const auto pinned = read_pin(f.dir() / "state" / "escrow", vault->id_b64());
    REQUIRE(pinned);
    pin = audit::JournalPin{pinned->journal_head, pinned->journal_size};
    REQUIRE(pin.head == hash_of(lines.back()));
    REQUIRE(pin.size == text.size());
  }
};

} // namespace

TEST_CASE("audit verify: a real journal verifies clean", "[audit]")
{
  RealJournal real(40);
  const auto report = audit::verify_journal(join(real.lines), *real.vault, {real.pin});
  INFO(report.to_json().dump(2));
  CHECK(report.ok());
  CHECK(report.findings.empty());
  CHECK(report.entries == real.lines.size());
  CHECK(report.signatures == real.lines.size());
  CHECK(report.head == real.pin.head);
  // Through the file as well.
  CHECK(audit::verify_journal(Journal(real.f.journal()), *real.vault, {real.pin}).ok());
  // No value the journal's commands used is in it.
  for (const char* value : {"db-value-1", "api-value-2"}) {
    CHECK(real.f.read("escrow.journal").find(value) == std::string::npos);
  }
}

TEST_CASE("audit verify: mutation suite over every entry of a real journal", "[audit][mutation]")
{
  RealJournal real(300);
  const std::vector<std::string>& lines = real.lines;
  const std::size_t n = lines.size();
  REQUIRE(n > 300);
  std::vector<std::string> hashes;
  for (const auto& line : lines) {
    hashes.push_back(hash_of(line));
  }
  const Vault& vault = *real.vault;
  audit::LineCache cache;
  audit::VerifyOptions options{real.pin, &cache, 1};
  REQUIRE(audit::verify_journal(join(lines), vault, options).findings.empty());
  const auto verify = [&](const std::vector<std::string>& variant) { return audit::verify_journal(join(variant), vault, options); };

  std::size_t checked = 0;
  for (std::size_t i = 0; i < n; ++i) {
    INFO("entry on line " << i + 1 << " of " << n);
    {
      // Modify: one digit of the time.
      std::vector<std::string> variant = lines;
      const auto at = variant[i].find("\"ts\":\"") + 6 + 18;
      variant[i][at] = variant[i][at] == '9' ? '0' : static_cast<char>(variant[i][at] + 1);
      const auto report = verify(variant);
      const auto& error = only_error(report);
      CHECK(error.problem == Problem::modified);
      CHECK(error.line == i + 1);
      CHECK(error.entry == hashes[i]);
      CHECK_THAT(error.message, Catch::Contains("modified entry") && Catch::Contains("hash does not match"));
    }
    {
      // Modify and re-hash: only the signature can tell.
      std::vector<std::string> variant = lines;
      JournalEntry entry = journal_entry_from_json(canonical::parse(lines[i], "x"), "x");
      entry.why = "nothing to see here";
      entry.hash = journal_entry_hash(entry);
      variant[i] = canonical::dump(to_json(entry));
      const auto& error = only_error(verify(variant));
      CHECK(error.problem == Problem::modified);
      CHECK(error.line == i + 1);
      CHECK_THAT(error.message, Catch::Contains("signature by"));
    }
    {
      // Delete.
      std::vector<std::string> variant = lines;
      variant.erase(variant.begin() + static_cast<std::ptrdiff_t>(i));
      const auto report = verify(variant);
      const auto& error = only_error(report);
      if (i + 1 < n) {
        CHECK(error.problem == Problem::deleted);
        CHECK(error.line == i + 1);
        CHECK(error.entry == hashes[i]);
        CHECK_THAT(error.message, Catch::Contains("deleted entry"));
      } else {
        CHECK(error.problem == Problem::truncated);
      }
    }
    if (i + 1 < n) {
      // Swap with the next one.
      std::vector<std::string> variant = lines;
      std::swap(variant[i], variant[i + 1]);
      const auto& error = only_error(verify(variant));
      CHECK(error.problem == Problem::reordered);
      CHECK(error.line == i + 1);
      CHECK(error.entry == hashes[i + 1]);
      CHECK_THAT(error.message, Catch::Contains("reordered entries") && Catch::Contains(hashes[i].substr(0, 12)));
      // Truncate after it: every error is the truncated tail.
      const std::vector<std::string> cut(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      const auto report = verify(cut);
      REQUIRE(report.errors() >= 1);
      for (const auto& finding : report.findings) {
        CHECK(finding.problem == Problem::truncated);
        CHECK_THAT(finding.message, Catch::Contains("truncated tail"));
      }
    }
    ++checked;
  }
  CHECK(checked == n);
}

TEST_CASE("audit verify: the newest entries cut off are caught by the pin alone", "[audit]")
{
  RealJournal real(10);
  // The last two entries are reveals (no vault revision): the vault's anchor is still present.
  std::vector<std::string> cut = real.lines;
  cut.pop_back();
  const auto without_pin = audit::verify_journal(join(cut), *real.vault);
  CHECK(without_pin.ok());
  const auto with_pin = audit::verify_journal(join(cut), *real.vault, {real.pin});
  const auto& error = only_error(with_pin);
  CHECK(error.problem == Problem::truncated);
  CHECK_THAT(error.message, Catch::Contains("this machine last saw entry"));
}

TEST_CASE("audit verify: authors", "[audit]")
{
  Roster roster;
  Builder builder = roster.builder();
  builder.append(access(k_t0, "prod/db"), roster.alice);
  builder.append(access(k_t0 + 60, "prod/db"), roster.dave); // before removal: fine
  REQUIRE(audit::verify_journal(builder.text, roster.vault).findings.empty());

  SECTION("unknown author")
  {
    const std::string hash = builder.append(access(k_t0 + 120, "prod/db"), roster.mallory);
    const auto& error = only_error(audit::verify_journal(builder.text, roster.vault));
    CHECK(error.problem == Problem::unknown_author);
    CHECK(error.line == 3);
    CHECK(error.entry == hash);
    CHECK_THAT(error.message, Catch::Contains("unknown author") && Catch::Contains("\"mallory\""));
  }
  SECTION("a forged entry in a member's name")
  {
    JournalEntry entry = access(k_t0 + 120, "prod/db");
    builder.append(entry, roster.mallory);
    // Rename the actor to bob and re-hash: the signature is mallory's, not bob's.
    std::vector<std::string> lines = split(builder.text);
    JournalEntry forged = journal_entry_from_json(canonical::parse(lines.back(), "x"), "x");
    forged.actor = "bob";
    forged.hash = journal_entry_hash(forged);
    lines.back() = canonical::dump(to_json(forged));
    const auto& error = only_error(audit::verify_journal(join(lines), roster.vault));
    CHECK(error.problem == Problem::modified);
    CHECK_THAT(error.message, Catch::Contains("signature by bob does not verify"));
  }
  SECTION("signed by a removed member, dated after the removal")
  {
    const std::string hash = builder.append(access(k_t0 + 11 * 86400, "prod/db"), roster.dave);
    const auto& error = only_error(audit::verify_journal(builder.text, roster.vault));
    CHECK(error.problem == Problem::removed_author);
    CHECK(error.line == 3);
    CHECK(error.entry == hash);
    CHECK_THAT(error.message, Catch::Contains("signed by a removed member") && Catch::Contains("dave"));
  }
  SECTION("signed by a removed member, backdated but after the member-remove entry")
  {
    JournalEntry removal;
    removal.ts = k_t0 + 10 * 86400;
    removal.action = JournalAction::member_remove;
    removal.detail = canonical::Json{{"member", "dave"}};
    builder.append(removal, roster.alice);
    builder.append(access(k_t0 + 5 * 86400, "prod/db"), roster.dave);
    const auto& error = only_error(audit::verify_journal(builder.text, roster.vault));
    CHECK(error.problem == Problem::removed_author);
    CHECK(error.line == 4);
    CHECK_THAT(error.message, Catch::Contains("after their removal on line 3"));
  }
  SECTION("written for another vault")
  {
    JournalEntry entry = access(k_t0 + 120, "prod/db");
    entry.vault = "AAAAAAAAAAAAAAAAAAAAAA==";
    builder.append(entry, roster.alice);
    const auto& error = only_error(audit::verify_journal(builder.text, roster.vault));
    CHECK(error.problem == Problem::foreign);
    CHECK(error.line == 3);
  }
}

TEST_CASE("audit verify: malformed lines and replays", "[audit]")
{
  Roster roster;
  Builder builder = roster.builder();
  for (int i = 0; i < 4; ++i) {
    builder.append(access(k_t0 + i * 60, "prod/db"), roster.alice);
  }
  const std::vector<std::string> lines = split(builder.text);
  const auto first_error = [&](const std::string& text) { return only_error(audit::verify_journal(text, roster.vault)); };

  SECTION("not canonical (same content, other spacing)")
  {
    std::vector<std::string> variant = lines;
    variant[1].replace(variant[1].find("\"action\":"), 9, "\"action\": ");
    const auto& error = first_error(join(variant));
    CHECK(error.problem == Problem::modified);
    CHECK(error.line == 2);
    CHECK_THAT(error.message, Catch::Contains("canonical"));
  }
  SECTION("not JSON")
  {
    std::vector<std::string> variant = lines;
    variant[2] = variant[2].substr(0, 40);
    const auto report = audit::verify_journal(join(variant), roster.vault);
    const auto& error = only_error(report);
    CHECK(error.problem == Problem::modified);
    CHECK(error.line == 3);
    // The damaged line's child is not reported as a second, misleading, deletion.
    CHECK(report.errors() == 1);
  }
  SECTION("an empty line")
  {
    std::vector<std::string> variant = lines;
    variant.insert(variant.begin() + 2, "");
    const auto& error = first_error(join(variant));
    CHECK(error.problem == Problem::modified);
    CHECK(error.line == 3);
  }
  SECTION("an entry replayed")
  {
    std::vector<std::string> variant = lines;
    variant.push_back(lines[1]);
    const auto& error = first_error(join(variant));
    CHECK(error.problem == Problem::duplicate);
    CHECK(error.line == 5);
    CHECK_THAT(error.message, Catch::Contains("repeats line 2"));
  }
  SECTION("the last line cut mid-entry: a torn write, a warning; the anchors judge what is missing")
  {
    const std::string text = builder.text.substr(0, builder.text.size() - 30);
    auto report = audit::verify_journal(text, roster.vault);
    INFO(report.to_json().dump(2));
    CHECK(report.ok());
    REQUIRE(report.findings.size() == 1);
    CHECK(report.findings[0].problem == Problem::torn);
    CHECK(report.findings[0].line == 4);
    CHECK(report.entries == 3);
    CHECK(report.head == hash_of(lines[2]));
    // This machine had seen the fourth entry: then it is a truncated tail.
    report = audit::verify_journal(text, roster.vault, {audit::JournalPin{hash_of(lines[3]), builder.text.size()}});
    CHECK(only_error(report).problem == Problem::truncated);
  }
  SECTION("a complete last entry without its newline")
  {
    const std::string text = builder.text.substr(0, builder.text.size() - 1);
    const auto report = audit::verify_journal(text, roster.vault);
    CHECK(report.ok());
    REQUIRE(report.findings.size() == 1);
    CHECK(report.findings[0].problem == Problem::torn);
    CHECK(report.head == hash_of(lines[3]));
  }
  SECTION("an entry that claims to be the first")
  {
    std::vector<std::string> variant = lines;
    Builder other = roster.builder();
    other.append(access(k_t0 + 9999, "prod/db"), roster.alice);
    variant.push_back(split(other.text)[0]);
    const auto& error = first_error(join(variant));
    CHECK(error.problem == Problem::reordered);
    CHECK(error.line == 5);
  }
}

TEST_CASE("audit verify: merges (two parents) are accepted when both exist earlier", "[audit]")
{
  Roster roster;
  Builder builder = roster.builder();
  const std::string base = builder.append(access(k_t0, "prod/db"), roster.alice);
  const std::string ours = builder.append(access(k_t0 + 60, "prod/db"), roster.alice);
  Builder theirs_side{roster.vault.id_b64(), {}, base};
  const std::string theirs = theirs_side.append(access(k_t0 + 90, "prod/db"), roster.bob);
  builder.text += theirs_side.text;
  JournalEntry merge;
  merge.ts = k_t0 + 120;
  merge.action = JournalAction::merge;
  merge.parents = {ours, theirs};
  merge.vault = roster.vault.id_b64();
  merge.host = "laptop";
  Journal::seal(merge, roster.alice);
  builder.text += canonical::dump(to_json(merge)) + '\n';
  const auto report = audit::verify_journal(builder.text, roster.vault);
  INFO(report.to_json().dump(2));
  CHECK(report.findings.empty());

  // A merge whose second parent comes later is reordered.
  std::vector<std::string> lines = split(builder.text);
  std::swap(lines[2], lines[3]);
  const auto& error = only_error(audit::verify_journal(join(lines), roster.vault));
  CHECK(error.problem == Problem::reordered);
  CHECK(error.line == 3);
}

TEST_CASE("audit verify: intent not applied is a warning, not tampering", "[audit]")
{
  test::Fixture f;
  f.set_env("ESCROW_NOW", "2026-01-01T09:00:00Z");
  f.init();
  f.member("bob", {"approver", "requester"}, {"prod"});
  SessionOptions options;
  options.identity_path = f.path("alice.id");
  const Identity alice = load_identity(options);
  Vault vault = Vault::parse(f.read("escrow.vault"), "vault");
  // A crash after the journal append: an entry for the next revision, the vault unchanged.
  JournalEntry crashed;
  crashed.ts = k_t0 + 60;
  crashed.action = JournalAction::member_add;
  crashed.detail = canonical::Json{{"member", "carol"}, {"revision", vault.revision() + 1}};
  const std::string crashed_hash = Journal(f.journal()).append(crashed, alice, vault.id_b64());
  auto report = audit::verify_journal(Journal(f.journal()), vault);
  INFO(report.to_json().dump(2));
  CHECK(report.ok());
  REQUIRE(report.warnings() == 1);
  CHECK(report.findings[0].problem == Problem::not_applied);
  CHECK(report.findings[0].entry == crashed_hash);
  CHECK_THAT(report.findings[0].message, Catch::Contains("intent not applied"));

  // The retry lands the same revision: the first attempt stays "not applied".
  f.member("carol", {"approver"}, {"*"});
  vault = Vault::parse(f.read("escrow.vault"), "vault");
  report = audit::verify_journal(Journal(f.journal()), vault);
  CHECK(report.ok());
  REQUIRE(report.warnings() == 1);
  CHECK(report.findings[0].entry == crashed_hash);

  // The CLI: exit 0, the warning printed.
  const auto result = f.as("bob", {"audit", "verify"});
  CHECK(result.code == 0);
  CHECK_THAT(result.out, Catch::Contains("warning: line") && Catch::Contains("intent not applied"));
  CHECK(f.as("bob", {"verify"}).code == 0);
  f.unset_env("ESCROW_NOW");
}

TEST_CASE("audit verify: the vault's anchor must name an entry of its own revision", "[audit]")
{
  test::Fixture f;
  f.set_env("ESCROW_NOW", "2026-01-01T09:00:00Z");
  f.init();
  f.member("bob", {"approver", "requester"}, {"prod"});
  const std::string first = split(f.read("escrow.journal"))[0];
  {
    SessionOptions options = f.options("alice");
    Session session = Session::open(options, Mode::write);
    AtomicFile file(f.vault(), 0644);
    file.write(session.vault().serialize(session.identity(), hash_of(first)));
    file.commit();
  }
  const Vault vault = Vault::parse(f.read("escrow.vault"), "vault");
  const auto& error = only_error(audit::verify_journal(Journal(f.journal()), vault));
  CHECK(error.problem == Problem::anchor);
  CHECK(error.line == 1);
  CHECK_THAT(error.message, Catch::Contains("anchor mismatch"));
  f.unset_env("ESCROW_NOW");
}

TEST_CASE("audit verify: a 100,000-entry journal", "[audit][large]")
{
  Roster roster;
  constexpr std::size_t k_entries = 100000;
  const std::string vault_id = roster.vault.id_b64();
  // Lines are formatted directly in canonical form (keys sorted), hashed in chain order, then
  // signed on two threads; the verifier checks them like any other.
  std::vector<std::string> bodies(k_entries);
  std::vector<crypto::Hash> digests(k_entries);
  std::string parent;
  for (std::size_t i = 0; i < k_entries; ++i) {
    const std::string actor = i % 2 == 0 ? "alice" : "bob";
    const std::string parents = parent.empty() ? "[]" : "[\"" + parent + "\"]";
    bodies[i] = fmt::format(
      R"({{"action":"reveal","actor":"{}","env":"prod","host":"ci-{}","parents":{},"result":"ok","secret":"prod/s{}","ts":"{}","vault":"{}","version":1}})",
      actor, i % 3, parents, i % 50, format_time(k_t0 + static_cast<Timestamp>(i) * 60), vault_id);
    digests[i] = crypto::hash("escrow/v1/journal", as_bytes(bodies[i]));
    parent = canonical::b64(digests[i]);
  }
  std::vector<std::string> lines(k_entries);
  const auto sign = [&](std::size_t first) {
    for (std::size_t i = first; i < k_entries; i += 2) {
      const Identity& who = i % 2 == 0 ? roster.alice : roster.bob;
      const std::string sig = canonical::b64(crypto::sign("escrow/v1/journal", digests[i], who.sign_sk));
      std::string line = bodies[i];
      line.insert(line.find(",\"ts\":"), ",\"sig\":\"" + sig + "\"");
      line.insert(line.find(",\"host\":"), ",\"hash\":\"" + canonical::b64(digests[i]) + "\"");
      lines[i] = std::move(line);
    }
  };
  std::thread other(sign, 1);
  sign(0);
  other.join();
  bodies.clear();
  const std::string text = join(lines);
  lines.clear();
  const auto report = audit::verify_journal(text, roster.vault);
  INFO((report.findings.empty() ? std::string() : report.findings[0].message));
  CHECK(report.ok());
  CHECK(report.findings.empty());
  CHECK(report.entries == k_entries);
  CHECK(report.signatures == k_entries);
  CHECK(report.head == canonical::b64(digests.back()));
}

TEST_CASE("audit anomalies: each rule, deterministic, naming its entries", "[audit][anomalies]")
{
  Roster roster;
  ConnectorRecord staging;
  staging.name = "stage-hook";
  staging.env = "staging";
  staging.kind = ConnectorKind::manual;
  roster.vault.sign(staging, roster.alice);
  roster.vault.put_connector(staging);

  Builder builder = roster.builder();
  // Twenty days of bob reading prod/db once a day at 10:00 from his laptop.
  for (int day = 0; day < 20; ++day) {
    builder.append(access(k_t0 + day * 86400 + 3600, "prod/db"), roster.bob);
  }
  // Day 20: twelve reads (a burst), one of them at 03:00 from a new host, one of a new secret.
  for (int i = 0; i < 10; ++i) {
    builder.append(access(k_t0 + 20 * 86400 + 3600 + i * 60, "prod/db", JournalAction::exec), roster.bob);
  }
  JournalEntry night = access(k_t0 + 20 * 86400 - 6 * 3600, "prod/db"); // 03:00 on day 20
  builder.append(night, roster.bob);
  JournalEntry elsewhere = access(k_t0 + 20 * 86400 + 7200, "prod/db");
  elsewhere.host = "kiosk-7";
  builder.append(elsewhere, roster.bob);
  builder.append(access(k_t0 + 20 * 86400 + 7300, "prod/payroll"), roster.bob);
  // A rotation of a prod secret that pushed to a staging connector.
  JournalEntry rotate = access(k_t0 + 20 * 86400 + 8000, "prod/db", JournalAction::rotate);
  rotate.detail = canonical::Json{{"connectors", {"stage-hook"}}};
  builder.append(rotate, roster.alice);

  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("escrow-anomalies-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::FILE* file = std::fopen((dir / "x.journal").c_str(), "wb");
    std::fwrite(builder.text.data(), 1, builder.text.size(), file);
    std::fclose(file);
  }
  const auto entries = audit::read_entries(Journal(dir / "x.journal"));
  std::filesystem::remove_all(dir);
  REQUIRE(entries.size() == 34);
  const auto found = audit::find_anomalies(entries, roster.vault);
  std::map<std::string, std::vector<const audit::Anomaly*>> by_kind;
  for (const auto& anomaly : found) {
    by_kind[std::string(audit::anomaly_name(anomaly.kind))].push_back(&anomaly);
  }
  INFO([&] {
    std::string text;
    for (const auto& anomaly : found) {
      text += anomaly.to_json().dump() + "\n";
    }
    return text;
  }());
  const auto lines_of = [](const audit::Anomaly& anomaly) {
    std::vector<std::size_t> lines;
    for (const auto* logged : anomaly.entries) {
      lines.push_back(logged->line);
    }
    return lines;
  };
  // Volume: day 20 has 14 accesses by bob (lines 21-33, without the rotation) and 13 to prod/db.
  REQUIRE(by_kind["actor-volume"].size() == 1);
  CHECK(by_kind["actor-volume"][0]->actor == "bob");
  CHECK(by_kind["actor-volume"][0]->day == "2026-01-21");
  CHECK(by_kind["actor-volume"][0]->entries.size() == 13);
  REQUIRE(by_kind["secret-volume"].size() == 1);
  CHECK(by_kind["secret-volume"][0]->secret == "prod/db");
  CHECK(by_kind["secret-volume"][0]->entries.size() == 12);
  // First access to prod/payroll, after 20 days of history.
  REQUIRE(by_kind["first-access"].size() == 1);
  CHECK(by_kind["first-access"][0]->secret == "prod/payroll");
  CHECK(lines_of(*by_kind["first-access"][0]) == std::vector<std::size_t>{33});
  // 03:00 was never used; 10:00 and 11:00 were (the burst runs 10:00-10:09).
  REQUIRE(by_kind["new-hour"].size() == 2);
  CHECK(lines_of(*by_kind["new-hour"][0]) == std::vector<std::size_t>{31});
  CHECK_THAT(by_kind["new-hour"][0]->message, Catch::Contains("at 03h UTC") && Catch::Contains("usual: 10"));
  CHECK(lines_of(*by_kind["new-hour"][1]) == std::vector<std::size_t>{32}); // 11:00
  REQUIRE(by_kind["new-host"].size() == 1);
  CHECK(lines_of(*by_kind["new-host"][0]) == std::vector<std::size_t>{32});
  CHECK_THAT(by_kind["new-host"][0]->message, Catch::Contains("kiosk-7"));
  REQUIRE(by_kind["cross-env-connector"].size() == 1);
  CHECK(lines_of(*by_kind["cross-env-connector"][0]) == std::vector<std::size_t>{34});
  CHECK_THAT(by_kind["cross-env-connector"][0]->message, Catch::Contains("stage-hook") && Catch::Contains("staging"));

  // Deterministic: the same journal, the same findings in the same order.
  const auto again = audit::find_anomalies(entries, roster.vault);
  REQUIRE(again.size() == found.size());
  for (std::size_t i = 0; i < found.size(); ++i) {
    CHECK(again[i].to_json() == found[i].to_json());
  }

  // A steady history raises nothing; neither does a short one.
  const std::vector<audit::LoggedEntry> steady(entries.begin(), entries.begin() + 20);
  CHECK(audit::find_anomalies(steady, roster.vault).empty());
  audit::AnomalyOptions strict;
  strict.min_history_days = 30;
  for (const auto& anomaly : audit::find_anomalies(entries, roster.vault, strict)) {
    CHECK((anomaly.kind == audit::AnomalyKind::new_host || anomaly.kind == audit::AnomalyKind::cross_env_connector));
  }
}

TEST_CASE("audit html: self-contained, escaped, one mark per access and rotation", "[audit][html]")
{
  Roster roster;
  Builder builder = roster.builder();
  builder.append(access(k_t0, "prod/db"), roster.alice);
  JournalEntry denied = access(k_t0 + 60, "prod/<script>");
  denied.result = JournalResult::denied;
  builder.append(denied, roster.bob);
  builder.append(access(k_t0 + 120, "prod/db", JournalAction::exec), roster.alice);
  builder.append(access(k_t0 + 180, "prod/db", JournalAction::rotate), roster.alice);
  builder.append(access(k_t0 + 240, "prod/db", JournalAction::rotate_failed), roster.alice);
  builder.append(access(k_t0 + 300, "prod/db", JournalAction::add), roster.alice);
  std::vector<audit::LoggedEntry> entries;
  std::size_t line = 0;
  for (const auto& text : split(builder.text)) {
    entries.push_back({++line, journal_entry_from_json(canonical::parse(text, "x"), "x")});
  }
  audit::Report report;
  report.now = k_t0 + 400;
  report.overdue.push_back({"prod/db", "alice", "overdue <1d>", k_t0, 3600});
  const std::string html = audit::render_html(report, {}, entries, {"x.vault", "id", 3, entries.size(), "ok"});
  const auto count = [&](std::string_view needle) {
    std::size_t n = 0;
    for (auto at = html.find(needle); at != std::string::npos; at = html.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  CHECK(count("class=\"mark access") == 3);
  CHECK(count("class=\"mark access denied") == 1);
  CHECK(count("class=\"mark rotation") == 2);
  CHECK(count("class=\"mark rotation failed") == 1);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("prod/&lt;script&gt;") != std::string::npos);
  CHECK(html.find("overdue &lt;1d&gt;") != std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("Content-Security-Policy") != std::string::npos);
}
