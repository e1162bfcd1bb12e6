// The audit commands' library on escrow-vault/2 journals: `audit verify` (journal_check.hpp: the
// replay from the bytes plus this machine's record of what it verified), the anomalies and the
// HTML page over history::Entry journals (entries.hpp).
//
// The v1 cases "intent not applied" and "the vault's anchor" have no meaning in v2 (no vault
// revision, no journal_head): they are replaced by the v2 attacks of the same class — the crash
// windows of D7 (a head file behind the journal: info; key lines of a write that never committed:
// a warning) and the anchors v2 has (the head file naming an entry the journal lacks, another
// vault's head file, key lines modified, missing or written by no operation).
#include "../cli/fixture.hpp"
#include "replay_support.hpp"

#include <escrow/atomic_file.hpp>
#include <escrow/audit/anomalies.hpp>
#include <escrow/audit/entries.hpp>
#include <escrow/audit/html.hpp>
#include <escrow/audit/journal_check.hpp>
#include <escrow/history/cache_log.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/session_options.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

using namespace escrow;
using namespace escrow::history;
using replay_test::join;
using replay_test::lines_of;

namespace {

constexpr Timestamp k_t0 = 1767258000; // 2026-01-01T09:00:00Z

void write(const std::filesystem::path& path, const std::string& text)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

Hash hash_of(const std::string& line)
{
  return parse_entry(line, "test").hash;
}

VaultSessionOptions session_options(const test::Fixture& f, const std::string& who = {})
{
  VaultSessionOptions options;
  options.vault_path = f.vault();
  options.state_home = f.dir() / "state";
  options.clock = Clock::from_setting(f.env("ESCROW_NOW"));
  options.host = "laptop";
  if (!who.empty()) {
    const SessionOptions v1 = f.options(who);
    options.identity = [v1] { return load_identity(v1); };
  }
  return options;
}

// The first error of a check (journal findings come first, by line), or the loss.
struct FirstError
{
  std::string kind;
  std::size_t line = 0;
  std::optional<Hash> entry;
  std::string message;
};

FirstError first_error(const audit::JournalCheck& check)
{
  INFO(check.to_json().dump(2));
  REQUIRE(check.errors() >= 1);
  for (const Finding& f : check.findings) {
    if (f.severity() == Severity::error) {
      return FirstError{std::string(finding_kind_name(f.kind)), f.line, f.entry, format_finding(f, check.names)};
    }
  }
  REQUIRE(!check.lost.empty());
  return FirstError{"lost-entries", 0, check.lost.back().hash, check.lines().back()};
}

// A real vault made through the command line with fixed clocks, then `accesses` reads journaled
// through the library by alice and bob, then dave removed and two last reads (events: the head
// file does not name them, only this machine's record of what it verified does).
struct RealVault
{
  test::Fixture f;
  std::vector<std::string> lines;
  std::size_t batch = audit::k_batch_lines; // lines per batch of the streamed check

  explicit RealVault(std::size_t accesses)
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
    {
      VaultSession alice = VaultSession::open(session_options(f, "alice"), Access::read);
      VaultSession bob = VaultSession::open(session_options(f, "bob"), Access::read);
      for (std::size_t i = 0; i < accesses; ++i) {
        VaultSession& who = i % 2 == 0 ? bob : alice;
        const Json detail{{"secret", i % 2 == 0 ? "prod/db" : "prod/api"}, {"version", 1}};
        (void)who.record(i % 3 == 0 ? EventKind::exec : EventKind::reveal, Result::ok, detail,
                         i % 5 == 0 ? std::optional<std::string>("incident " + std::to_string(i)) : std::nullopt);
      }
    }
    f.set_env("ESCROW_NOW", "2026-02-01T09:00:00Z");
    REQUIRE(f.as("alice", {"member", "remove", "dave"}).code == 0);
    REQUIRE(f.as("alice", {"get", "prod/api", "--reveal"}).code == 0);
    REQUIRE(f.as("bob", {"get", "prod/db", "--reveal"}).code == 0);
    lines = lines_of(f.read("escrow.journal"));
  }

  audit::JournalCheck check(bool with_cache = true) const
  {
    VaultSessionOptions options = session_options(f);
    if (!with_cache) {
      options.state_home.clear();
    }
    return audit::check_journal(options, batch);
  }
  audit::JournalCheck check(const std::vector<std::string>& variant, bool with_cache = true) const
  {
    write(f.journal(), join(variant));
    return check(with_cache);
  }
};

// An event of `world` by `actor` with its facts in `detail`, at `ts`, from `host`.
Entry event(replay_test::World& w, const std::string& actor, EventKind kind, Timestamp ts, const Json& detail,
            Result result = Result::ok, const std::string& host = "laptop")
{
  Entry e;
  e.actor = actor;
  e.ts = ts;
  e.host = host;
  e.parents = w.heads;
  e.action = kind;
  e.result = result;
  e.vault = w.state.vault_id;
  e.detail = detail;
  seal_entry(e, w.id(actor));
  w.heads = {e.hash};
  w.log.push_back(e);
  return e;
}

// A refusal or failure of an operation kind (journal only), with its facts.
Entry failure(replay_test::World& w, const std::string& actor, OpKind kind, Timestamp ts, const Json& detail,
              Result result)
{
  Entry e;
  e.actor = actor;
  e.ts = ts;
  e.host = "laptop";
  e.parents = w.heads;
  e.action = kind;
  e.result = result;
  e.vault = w.state.vault_id;
  e.detail = detail;
  seal_entry(e, w.id(actor));
  w.heads = {e.hash};
  w.log.push_back(e);
  return e;
}

Json read_of(const std::string& secret)
{
  return Json{{"secret", secret}, {"version", 1}};
}

} // namespace

TEST_CASE("audit verify: a real journal verifies clean", "[audit]")
{
  RealVault real(40);
  const audit::JournalCheck check = real.check();
  INFO(check.to_json().dump(2));
  CHECK(check.ok());
  CHECK(check.errors() == 0);
  CHECK(check.lost.empty());
  CHECK(check.entries == real.lines.size());
  CHECK(check.signatures == real.lines.size());
  REQUIRE(check.heads.size() == 1);
  CHECK(check.heads[0] == hash_of(real.lines.back()));
  CHECK(check.key_lines > 0);
  // No value the journal's commands used is in it.
  for (const char* value : {"db-value-1", "api-value-2"}) {
    CHECK(real.f.read("escrow.journal").find(value) == std::string::npos);
  }
}

TEST_CASE("audit verify: mutation suite over every entry of a real journal", "[audit][mutation]")
{
  // One batch, and batches of 7 lines (every kind of tampering on both sides of a boundary).
  const std::size_t batch = GENERATE(as<std::size_t>{}, 4096, 7);
  RealVault real(60);
  real.batch = batch;
  INFO("batches of " << real.batch << " lines");
  const std::vector<std::string> lines = real.lines;
  const std::size_t n = lines.size();
  REQUIRE(n > 60);
  std::vector<Hash> hashes;
  for (const auto& line : lines) {
    hashes.push_back(hash_of(line));
  }
  REQUIRE(real.check().ok());

  std::size_t checked = 0;
  for (std::size_t i = 0; i < n; ++i) {
    INFO("entry on line " << i + 1 << " of " << n);
    {
      // Modify: one digit of the time.
      std::vector<std::string> variant = lines;
      const auto at = variant[i].find("\"ts\":\"") + 6 + 18;
      variant[i][at] = variant[i][at] == '9' ? '0' : static_cast<char>(variant[i][at] + 1);
      const FirstError error = first_error(real.check(variant));
      CHECK(error.kind == "modified-entry");
      CHECK(error.line == i + 1);
      CHECK(error.entry == hashes[i]);
      CHECK_THAT(error.message, Catch::Contains("hash is not the hash of its content"));
    }
    {
      // Modify and re-hash: only the signature can tell.
      std::vector<std::string> variant = lines;
      Entry entry = parse_entry(lines[i], "x");
      entry.why = "nothing to see here";
      entry.hash = compute_hash(entry);
      variant[i] = dump_entry(entry);
      const FirstError error = first_error(real.check(variant));
      CHECK(error.kind == "forged-signature");
      CHECK(error.line == i + 1);
      CHECK(error.entry == entry.hash);
    }
    {
      // Delete: the orphan names it; the last line (a read, which no head file names) only this
      // machine's record of what it verified knows.
      std::vector<std::string> variant = lines;
      variant.erase(variant.begin() + static_cast<std::ptrdiff_t>(i));
      const audit::JournalCheck check = real.check(variant);
      const FirstError error = first_error(check);
      if (i + 1 < n) {
        CHECK(error.kind == "deleted-entry");
        CHECK(error.line == i + 1);
        CHECK(error.entry == hashes[i + 1]);
        CHECK_THAT(error.message, Catch::Contains(short_hash(hashes[i])) && Catch::Contains("not in the journal"));
      } else {
        CHECK(error.kind == "lost-entries");
        CHECK(real.check(variant, false).ok());
      }
      REQUIRE(check.lost.size() == 1);
      CHECK(check.lost[0].hash == hashes[i]);
    }
    if (i + 1 < n) {
      // Swap with the next one.
      std::vector<std::string> variant = lines;
      std::swap(variant[i], variant[i + 1]);
      const FirstError error = first_error(real.check(variant));
      CHECK(error.kind == "reordered-entries");
      CHECK(error.line == i + 1);
      CHECK(error.entry == hashes[i + 1]);
      CHECK_THAT(error.message, Catch::Contains(short_hash(hashes[i])) && Catch::Contains("later line"));
      // Truncate after it: every error is the tail (the head file's anchor, the key lines the cut
      // operations wrote, or this machine's record).
      const std::vector<std::string> cut(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      const audit::JournalCheck check = real.check(cut);
      REQUIRE(check.errors() >= 1);
      CHECK(check.lost.size() == n - i - 1);
      for (const Finding& finding : check.findings) {
        if (finding.severity() == Severity::error) {
          CHECK((finding.kind == FindingKind::truncated_tail || finding.kind == FindingKind::key_line_unknown));
        }
      }
    }
    ++checked;
  }
  CHECK(checked == n);
  write(real.f.journal(), join(lines));
  CHECK(real.check().ok());
}

TEST_CASE("audit verify: the newest entries cut off are caught by this machine's record alone", "[audit]")
{
  RealVault real(10);
  // The last two entries are reveals: the head file names the operation before them.
  std::vector<std::string> cut = real.lines;
  cut.pop_back();
  CHECK(real.check(cut, false).ok());
  const audit::JournalCheck check = real.check(cut);
  const FirstError error = first_error(check);
  CHECK(error.kind == "lost-entries");
  CHECK_THAT(error.message, Catch::Contains("1 entry this machine verified is missing")
                              && Catch::Contains("reveal by bob")
                              && Catch::Contains(short_hash(hash_of(real.lines.back()))));
  // An acknowledged loss is no longer a finding (audit ack-loss, through the CLI).
  const auto ack = real.f.as("alice", {"audit", "ack-loss", "--why", "the laptop's disk died"});
  INFO(ack.err);
  CHECK(ack.code == 0);
  CHECK(real.check().ok());
}

TEST_CASE("audit verify: this machine's record is read beside the stream, in the journal's order or not", "[audit][stream]")
{
  RealVault real(40);
  VaultSession s = VaultSession::open(session_options(real.f), Access::read);
  const Cache cache(s.cache_place(), s.vault_id());
  const std::optional<Verified> verified = cache.load();
  REQUIRE(verified);
  const std::vector<VerifiedEntry> log = cache.entries(verified->log);
  REQUIRE(log.size() == real.lines.size());
  {
    // Pulled one at a time: what entries() reads.
    LogReader reader(cache, verified->log);
    std::vector<VerifiedEntry> pulled;
    VerifiedEntry e;
    while (reader.next(e)) {
      pulled.push_back(e);
    }
    CHECK(pulled == log);
    CHECK(reader.taken() == log.size());
    CHECK_FALSE(reader.next(e));
  }
  State state = s.state();
  state.load_all();
  const std::set<Hash> present = entry_hashes(join(real.lines));
  VerifiedEntry stranger = log[5];
  stranger.hash[0] = static_cast<std::uint8_t>(stranger.hash[0] ^ 0x5a); // an entry the journal never held
  std::vector<VerifiedEntry> swapped = log;
  std::swap(swapped[3], swapped[4]);
  std::vector<VerifiedEntry> inserted = log;
  inserted.insert(inserted.begin() + 5, stranger);
  std::vector<VerifiedEntry> twice = log;
  twice.push_back(log[2]);
  std::vector<VerifiedEntry> dropped = log;
  dropped.erase(dropped.begin() + 7);
  std::vector<VerifiedEntry> stranger_last = log;
  stranger_last.push_back(stranger);
  for (const auto& [name, variant] : {std::pair{"the journal's order", log}, std::pair{"two entries swapped", swapped},
                                      std::pair{"a stranger in the middle", inserted},
                                      std::pair{"an entry named twice", twice}, std::pair{"an entry left out", dropped},
                                      std::pair{"a stranger at the end", stranger_last}}) {
    REQUIRE(cache.save(verified->position, state, "", LogSummary{}, variant, std::nullopt));
    // missing_entries' rule on the whole journal, as before the walk beside the stream.
    const std::vector<VerifiedEntry> expected = missing_entries(variant, present, {});
    for (const std::size_t batch : {std::size_t(1), std::size_t(7), audit::k_batch_lines}) {
      INFO(name << ", batches of " << batch << " lines");
      real.batch = batch;
      const audit::JournalCheck check = real.check();
      CHECK(check.lost == expected);
      CHECK(check.errors() == (expected.empty() ? 0U : 1U)); // the loss alone
    }
  }
  CHECK(missing_entries(inserted, present, {}) == std::vector<VerifiedEntry>{stranger});

  // A log that does not read: the error for_each_entry gives, in every batch size.
  REQUIRE(cache.save(verified->position, state, "", LogSummary{}, log, std::nullopt));
  const std::filesystem::path entries_log = cache.dir() / "entries.log";
  std::string text;
  {
    std::ifstream in(entries_log, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t second = text.find('\n') + 1;
  REQUIRE(text.size() > second + 60);
  text[second + 50] = text[second + 50] == '1' ? '2' : '1'; // in the second line's timestamp
  write(entries_log, text);
  std::string error;
  try {
    (void)cache.entries(verified->log);
  } catch (const Error& e) {
    error = e.what();
  }
  REQUIRE_THAT(error, Catch::Contains("entries.log"));
  for (const std::size_t batch : {std::size_t(1), std::size_t(7), audit::k_batch_lines}) {
    INFO("batches of " << batch << " lines");
    real.batch = batch;
    CHECK_THROWS_WITH(real.check(), error);
  }
}

TEST_CASE("audit verify: authors", "[audit]")
{
  RealVault real(2);
  std::vector<std::string> lines = real.lines;
  const Entry last = parse_entry(lines.back(), "x");
  const auto appended = [&](Entry e, const Identity& signer) {
    e.parents = {last.hash};
    e.ts = last.ts + 60;
    seal_entry(e, signer);
    std::vector<std::string> variant = lines;
    variant.push_back(dump_entry(e));
    return std::make_pair(real.check(variant), e.hash);
  };
  Entry read = last;
  read.why = std::nullopt;

  SECTION("unknown author")
  {
    read.actor = "mallory";
    const auto [check, hash] = appended(read, generate_identity("mallory"));
    const FirstError error = first_error(check);
    CHECK(error.kind == "unknown-author");
    CHECK(error.line == lines.size() + 1);
    CHECK(error.entry == hash);
    CHECK_THAT(error.message, Catch::Contains("mallory is not a member"));
  }
  SECTION("a forged entry in a member's name")
  {
    read.actor = "bob";
    const auto [check, hash] = appended(read, generate_identity("bob")); // another key named bob
    const FirstError error = first_error(check);
    CHECK(error.kind == "forged-signature");
    CHECK(error.entry == hash);
    CHECK_THAT(error.message, Catch::Contains("the signature is not bob's"));
  }
  SECTION("signed by a removed member, dated after the removal")
  {
    read.actor = "dave";
    const auto [check, hash] = appended(read, load_identity(real.f.options("dave")));
    const FirstError error = first_error(check);
    CHECK(error.kind == "removed-author");
    CHECK(error.line == lines.size() + 1);
    CHECK(error.entry == hash);
    CHECK_THAT(error.message, Catch::Contains("dave"));
  }
  SECTION("signed by a removed member, backdated to before the removal")
  {
    read.actor = "dave";
    read.parents = {last.hash};
    read.ts = k_t0 + 86400; // before the member-remove entry's date: the order of the file decides
    seal_entry(read, load_identity(real.f.options("dave")));
    lines.push_back(dump_entry(read));
    const FirstError error = first_error(real.check(lines));
    CHECK((error.kind == "dated-before-parent" || error.kind == "removed-author"));
    CHECK(error.line == lines.size());
  }
  SECTION("written for another vault")
  {
    read.actor = "alice";
    read.vault.fill(9);
    const auto [check, hash] = appended(read, load_identity(real.f.options("alice")));
    const FirstError error = first_error(check);
    CHECK(error.kind == "foreign-entry");
    CHECK(error.line == lines.size() + 1);
  }
}

TEST_CASE("audit verify: malformed lines and replays", "[audit]")
{
  RealVault real(4);
  const std::vector<std::string> lines = real.lines;
  const std::size_t n = lines.size();

  SECTION("not canonical (same content, other spacing): an edit")
  {
    std::vector<std::string> variant = lines;
    variant[n - 2].replace(variant[n - 2].find("\"action\":"), 9, "\"action\": ");
    const FirstError error = first_error(real.check(variant));
    CHECK(error.kind == "modified-entry");
    CHECK(error.line == n - 1);
    CHECK(error.entry == hash_of(lines[n - 2]));
  }
  SECTION("not JSON")
  {
    std::vector<std::string> variant = lines;
    variant[n - 2] = variant[n - 2].substr(0, 40);
    const audit::JournalCheck check = real.check(variant, false);
    const FirstError error = first_error(check);
    CHECK(error.kind == "malformed-entry");
    CHECK(error.line == n - 1);
    // A line cut before its hash cannot name itself: its child is reported as an orphan (v2's
    // replay; a damaged line whose hash is readable taints its children silently instead).
    REQUIRE(check.errors() == 2);
    CHECK(check.findings[1].kind == FindingKind::deleted_entry);
    CHECK(check.findings[1].line == n);
  }
  SECTION("an empty line")
  {
    std::vector<std::string> variant = lines;
    variant.insert(variant.begin() + 2, "");
    const FirstError error = first_error(real.check(variant));
    CHECK(error.kind == "malformed-entry");
    CHECK(error.line == 3);
  }
  SECTION("an entry replayed")
  {
    std::vector<std::string> variant = lines;
    variant.push_back(lines[n - 2]);
    const FirstError error = first_error(real.check(variant));
    CHECK(error.kind == "duplicate-entry");
    CHECK(error.line == n + 1);
    CHECK_THAT(error.message, Catch::Contains(fmt::format("the same entry as line {}", n - 1)));
  }
  SECTION("the last line cut mid-entry: a torn write, a warning; this machine's record judges what is missing")
  {
    const std::string whole = join(lines);
    write(real.f.journal(), whole.substr(0, whole.size() - 30));
    const audit::JournalCheck bytes = real.check(false);
    INFO(bytes.to_json().dump(2));
    CHECK(bytes.ok());
    REQUIRE(bytes.warnings() == 1);
    CHECK(bytes.findings[0].kind == FindingKind::torn_write);
    CHECK(bytes.findings[0].line == n);
    CHECK(bytes.entries == n - 1);
    CHECK(bytes.heads == std::vector<Hash>{hash_of(lines[n - 2])});
    // This machine had verified the last entry: then it is lost.
    const audit::JournalCheck check = real.check();
    CHECK(first_error(check).kind == "lost-entries");
  }
  SECTION("a complete last entry without its newline: a torn write too, never read as an entry")
  {
    const std::string whole = join(lines);
    write(real.f.journal(), whole.substr(0, whole.size() - 1));
    const audit::JournalCheck bytes = real.check(false);
    CHECK(bytes.ok());
    REQUIRE(bytes.warnings() == 1);
    CHECK(bytes.findings[0].kind == FindingKind::torn_write);
    CHECK(bytes.heads == std::vector<Hash>{hash_of(lines[n - 2])});
  }
  SECTION("an entry that claims to be the first")
  {
    std::vector<std::string> variant = lines;
    variant.push_back(lines[0]);
    Entry second = parse_entry(lines[0], "x");
    second.ts += 9999;
    seal_entry(second, load_identity(real.f.options("alice")));
    variant.back() = dump_entry(second);
    const FirstError error = first_error(real.check(variant));
    CHECK(error.kind == "unauthorised-operation");
    CHECK(error.line == n + 1);
    CHECK_THAT(error.message, Catch::Contains("second genesis"));
  }
}

TEST_CASE("audit verify: the crash windows of a write are not tampering", "[audit]")
{
  // v1's "intent not applied" (the journal appended, the vault not replaced) has no meaning in
  // v2: its crash windows are a head file behind the journal (info) and key lines of a write whose
  // journal append never happened (garbage, a warning). Neither is an error.
  RealVault real(2);
  const std::string head_before = real.f.read("escrow.vault");
  real.f.add("alice", "prod/extra", "extra-value-3");
  // The head file as it was before the last operation: behind the journal.
  write(real.f.vault(), head_before);
  const audit::JournalCheck check = real.check(false);
  INFO(check.to_json().dump(2));
  CHECK(check.ok());
  CHECK(std::any_of(check.findings.begin(), check.findings.end(),
                    [](const Finding& f) { return f.kind == FindingKind::head_behind; }));
  const auto result = real.f.as("bob", {"audit", "verify"});
  INFO(result.err);
  CHECK(result.code == 0);
}

TEST_CASE("audit verify: the head and keys files are anchors too", "[audit]")
{
  RealVault real(2);
  const std::string head = real.f.read("escrow.vault");
  const std::string keys = real.f.read("escrow.keys");
  SECTION("the head file names an entry the journal lacks (its tail was cut)")
  {
    std::vector<std::string> cut = real.lines;
    cut.resize(cut.size() - 3); // the member-remove operation and the reads after it
    const audit::JournalCheck check = real.check(cut, false);
    const FirstError error = first_error(check);
    CHECK(error.kind == "truncated-tail");
    CHECK_THAT(error.message, Catch::Contains("escrow.vault: names entry") && Catch::Contains("lacks"));
  }
  std::vector<std::string> key_lines = lines_of(keys);
  std::size_t first_key = 0;
  while (first_key < key_lines.size() && key_lines[first_key].find("#") == std::string::npos) {
    ++first_key;
  }
  REQUIRE(first_key + 1 < key_lines.size());
  REQUIRE(key_lines[first_key + 1].find("#") != std::string::npos); // not the last key line
  SECTION("a key line modified")
  {
    std::string& line = key_lines[first_key];
    const auto at = line.find("\": \"") + 4 + 10;
    line[at] = line[at] == 'A' ? 'B' : 'A';
    write(real.f.dir() / "escrow.keys", join(key_lines));
    const audit::JournalCheck check = real.check(false);
    INFO(check.to_json().dump(2));
    CHECK_FALSE(check.ok());
    CHECK(std::any_of(check.findings.begin(), check.findings.end(), [](const Finding& f) {
      // The keys file's own check (every line's bytes against the hash in its key) comes first.
      return f.file == VaultFile::keys
             && (f.kind == FindingKind::key_line_modified
                 || (f.kind == FindingKind::malformed_file && f.reason.find("does not match the hash") != std::string::npos));
    }));
  }
  SECTION("a key line removed")
  {
    key_lines.erase(key_lines.begin() + static_cast<std::ptrdiff_t>(first_key));
    write(real.f.dir() / "escrow.keys", join(key_lines));
    const audit::JournalCheck check = real.check(false);
    INFO(check.to_json().dump(2));
    CHECK_FALSE(check.ok());
    CHECK(std::any_of(check.findings.begin(), check.findings.end(), [](const Finding& f) {
      return f.file == VaultFile::keys && f.kind == FindingKind::key_line_missing;
    }));
  }
  SECTION("another vault's head file")
  {
    HeadFile other = parse_head_file(head, "head");
    other.vault_id.fill(3);
    write(real.f.vault(), serialize_head_file(other));
    CHECK_THROWS_AS(real.check(false), Error); // the store refuses a head file of another vault's keys
  }
}

namespace {

// `lines` with the entry on line `n` (1-based) re-hashed after a change: only its signature can
// tell (forged-signature).
std::vector<std::string> forge(std::vector<std::string> lines, std::size_t n)
{
  Entry entry = parse_entry(lines[n - 1], "x");
  entry.why = "nothing to see here";
  entry.hash = compute_hash(entry);
  lines[n - 1] = dump_entry(entry);
  return lines;
}

} // namespace

TEST_CASE("audit verify: streamed in batches, the result does not depend on the batch size", "[audit][stream]")
{
  RealVault real(200); // more than 64 signatures a batch: the second half runs on a second thread
  REQUIRE(real.lines.size() > 200);
  real.batch = real.lines.size() + 1; // one batch: the replay of the whole journal
  const audit::JournalCheck whole = real.check();
  REQUIRE(whole.ok());
  for (const std::size_t batch : {std::size_t(1), std::size_t(2), std::size_t(64), std::size_t(100), audit::k_batch_lines}) {
    INFO("batches of " << batch << " lines");
    real.batch = batch;
    const audit::JournalCheck check = real.check();
    CHECK(check.to_json() == whole.to_json());
    CHECK(check.lines(true) == whole.lines(true));
    CHECK(check.signatures == real.lines.size());
  }
}

TEST_CASE("audit verify: a forged signature on either side of a batch boundary", "[audit][stream]")
{
  RealVault real(200);
  for (const std::size_t line : {std::size_t(63), std::size_t(64), std::size_t(65), std::size_t(128), std::size_t(129)}) {
    const std::vector<std::string> variant = forge(real.lines, line);
    real.batch = real.lines.size() + 1;
    const FirstError whole = first_error(real.check(variant));
    CHECK(whole.kind == "forged-signature");
    CHECK(whole.line == line);
    for (const std::size_t batch : {std::size_t(64), std::size_t(1), audit::k_batch_lines}) {
      INFO("line " << line << ", batches of " << batch << " lines");
      real.batch = batch;
      const audit::JournalCheck check = real.check(variant);
      const FirstError error = first_error(check);
      CHECK(error.kind == "forged-signature");
      CHECK(error.line == line);
      CHECK(error.message == whole.message);
      CHECK_THROWS_WITH(check.require_ok(), Catch::StartsWith(whole.message));
    }
  }
}

TEST_CASE("audit verify: a forged signature in the second thread's half of a batch", "[audit][stream]")
{
  RealVault real(200);
  const std::size_t n = real.lines.size();
  const std::size_t line = n - n / 4; // in the second half of the signature jobs of one batch
  const std::vector<std::string> variant = forge(real.lines, line);
  for (const std::size_t batch : {audit::k_batch_lines, n - 1, n}) {
    INFO("batches of " << batch << " lines");
    real.batch = batch;
    const FirstError error = first_error(real.check(variant));
    CHECK(error.kind == "forged-signature");
    CHECK(error.line == line);
    CHECK_THAT(error.message, Catch::Contains(fmt::format("line {}:", line)));
  }
}

TEST_CASE("audit verify: of two bad lines the earliest is reported first, whatever thread found it", "[audit][stream]")
{
  RealVault real(200);
  const std::size_t n = real.lines.size();
  const std::size_t early = 40;         // the first half of a batch of the whole journal
  const std::size_t late = n - n / 4;   // the second half (the second thread)
  const std::vector<std::string> variant = forge(forge(real.lines, late), early);
  for (const std::size_t batch : {audit::k_batch_lines, std::size_t(64), std::size_t(1)}) {
    INFO("batches of " << batch << " lines");
    real.batch = batch;
    const audit::JournalCheck check = real.check(variant);
    const FirstError error = first_error(check);
    CHECK(error.kind == "forged-signature");
    CHECK(error.line == early);
    CHECK_THAT(check.lines().front(), Catch::Contains(fmt::format("line {}:", early)));
    CHECK_THROWS_WITH(check.require_ok(), Catch::StartsWith(error.message));
    // The late one alone is found (by the second thread): the early one is reported because it
    // is first in the file, not because the late one went unseen. (On one chain, the entries
    // after a rejected one are its descendants: skipped, not reported again.)
    const FirstError alone = first_error(real.check(forge(real.lines, late)));
    CHECK(alone.kind == "forged-signature");
    CHECK(alone.line == late);
  }
}

TEST_CASE("audit verify: a truncated last line is a torn write in every batch size", "[audit][stream]")
{
  RealVault real(100);
  std::string text = join(real.lines);
  // The last entry cut in its middle: no "\n" at the end of the file.
  text.resize(text.size() - real.lines.back().size() / 2 - 1);
  write(real.f.journal(), text);
  std::optional<std::vector<std::string>> first;
  for (const std::size_t batch : {std::size_t(1), std::size_t(7), real.lines.size() - 1, real.lines.size(), audit::k_batch_lines}) {
    INFO("batches of " << batch << " lines");
    real.batch = batch;
    const audit::JournalCheck check = real.check(false); // the bytes only (the record would miss it)
    INFO(check.to_json().dump(2));
    CHECK(check.ok());
    CHECK(check.warnings() == 1);
    CHECK(check.entries == real.lines.size() - 1);
    REQUIRE(!check.findings.empty());
    CHECK(check.findings[0].kind == FindingKind::torn_write);
    CHECK(check.findings[0].line == real.lines.size());
    if (!first) {
      first = check.lines(true);
    }
    CHECK(check.lines(true) == *first);
  }
}

TEST_CASE("audit verify: a fork, open or merged, gives the same result in every batch size", "[audit][stream]")
{
  RealVault real(20);
  const Entry last = parse_entry(real.lines.back(), "x");
  const Identity alice = load_identity(real.f.options("alice"));
  const Identity bob = load_identity(real.f.options("bob"));
  const auto read = [&](const Identity& who, std::vector<Hash> parents, Timestamp ts) {
    Entry e;
    e.actor = who.pub.name;
    e.ts = ts;
    e.host = "laptop";
    e.parents = std::move(parents);
    e.action = EventKind::reveal;
    e.result = Result::ok;
    e.vault = last.vault;
    e.detail = read_of("prod/db");
    seal_entry(e, who);
    return e;
  };
  // Two reads on two sides of a fork after the last line, then (second variant) a read merging them.
  const Entry a = read(alice, {last.hash}, last.ts + 1);
  const Entry b = read(bob, {last.hash}, last.ts + 2);
  const Entry m = read(alice, {a.hash, b.hash}, last.ts + 3);
  for (const bool merged : {false, true}) {
    std::vector<std::string> lines = real.lines;
    lines.push_back(dump_entry(a));
    lines.push_back(dump_entry(b));
    if (merged) {
      lines.push_back(dump_entry(m));
    }
    real.batch = lines.size() + 1;
    const audit::JournalCheck whole = real.check(lines);
    INFO("merged: " << merged << "\n" << whole.to_json().dump(2));
    REQUIRE(whole.ok());
    CHECK(whole.heads.size() == (merged ? 1U : 2U));
    CHECK(whole.entries == lines.size());
    for (std::size_t batch = 1; batch <= lines.size(); ++batch) {
      INFO("batches of " << batch << " lines");
      real.batch = batch;
      const audit::JournalCheck check = real.check(lines);
      CHECK(check.to_json() == whole.to_json());
      CHECK(check.lines(true) == whole.lines(true));
    }
  }
}

TEST_CASE("audit verify: a large journal (100,000 entries; 20,000 under the sanitizers)", "[audit][large]")
{
  replay_test::World w = replay_test::team();
#ifdef ESCROW_TEST_SANITIZED
  constexpr std::size_t k_entries = 20000; // tests/CMakeLists.txt: ~10x slower per entry there
#else
  constexpr std::size_t k_entries = 100000;
#endif
  for (std::size_t i = 0; i < k_entries; ++i) {
    (void)event(w, i % 2 == 0 ? "olive" : "erin", i % 3 == 0 ? EventKind::exec : EventKind::reveal,
                w.now + static_cast<Timestamp>(i), read_of(replay_test::k_db), Result::ok,
                "ci-" + std::to_string(i % 3));
  }
  const std::string text = replay_test::journal_of(w.log);
  const VerifiedVault verified = verify_vault(serialize_head_file(HeadFile{w.state.vault_id, w.heads, w.log.size()}), text,
                                              nullptr);
  CHECK(verified.ok());
  CHECK(verified.replay.entries == w.log.size());
  CHECK(verified.replay.signatures_checked == w.log.size());
  CHECK(verified.replay.heads == w.heads);
  const std::vector<audit::AuditEntry> entries = audit::read_journal(text, &verified.replay.state, "x.journal");
  CHECK(entries.size() == w.log.size());
  CHECK(std::count_if(entries.begin(), entries.end(), [](const audit::AuditEntry& e) { return audit::is_access(e); })
        == static_cast<std::ptrdiff_t>(k_entries));
}

TEST_CASE("audit anomalies: each rule, deterministic, naming its entries", "[audit][anomalies]")
{
  replay_test::World w = replay_test::team(); // 11 entries; the connector "crm" is in prod
  ConnectorAddArgs staging;
  staging.name = "stage-hook";
  staging.env = "staging";
  staging.kind = ConnectorKind::manual;
  staging.instructions = "paste it";
  w.run("alice", staging);
  const std::size_t base = w.log.size(); // 12
  const Timestamp day0 = history_test::at("2027-01-01T00:00:00Z");
  // Twenty days of olive reading prod/db once a day at 10:00 from her laptop.
  for (int day = 0; day < 20; ++day) {
    event(w, "olive", EventKind::reveal, day0 + day * 86400 + 10 * 3600, read_of(replay_test::k_db));
  }
  // Day 20: a burst of ten execs at 10:00, a read at 03:00 (a new hour), one from a new host at
  // 11:00, one of a secret she never read.
  const Timestamp day20 = day0 + 20 * 86400;
  for (int i = 0; i < 10; ++i) {
    event(w, "olive", EventKind::exec, day20 + 10 * 3600 + i * 60, read_of(replay_test::k_db));
  }
  // (03:00 comes after 10:09 in the file: a clock behind is dated before its parent, so it is
  // the next day's 03:00.)
  event(w, "olive", EventKind::reveal, day20 + 10 * 3600 + 700, read_of(replay_test::k_db), Result::ok, "kiosk-7");
  event(w, "olive", EventKind::reveal, day20 + 11 * 3600, read_of("prod/payroll"));
  event(w, "olive", EventKind::reveal, day20 + 27 * 3600, read_of(replay_test::k_db));
  // A prod rotation whose failure names a staging connector.
  failure(w, "erin", OpKind::rotate_start, day20 + 28 * 3600,
          Json{{"secret", replay_test::k_db}, {"connector", "stage-hook"}, {"reason", "verify failed"}}, Result::failed);
  const std::string text = replay_test::journal_of(w.log);
  const ReplayResult r = replay(text);
  INFO(replay_test::describe(r));
  REQUIRE(r.ok());
  const auto entries = audit::read_journal(text, &r.state, "x.journal");
  REQUIRE(entries.size() == base + 34);
  const auto found = audit::find_anomalies(entries, r.state);
  std::map<std::string, std::vector<const audit::Anomaly*>> by_kind;
  for (const auto& anomaly : found) {
    by_kind[std::string(audit::anomaly_name(anomaly.kind))].push_back(&anomaly);
  }
  INFO([&] {
    std::string out;
    for (const auto& anomaly : found) {
      out += anomaly.to_json().dump() + "\n";
    }
    return out;
  }());
  const auto lines_in = [](const audit::Anomaly& anomaly) {
    std::vector<std::size_t> lines;
    for (const auto* logged : anomaly.entries) {
      lines.push_back(logged->line);
    }
    return lines;
  };
  // Volume: day 20 has 12 accesses by olive (the burst, kiosk-7, payroll), 11 to prod/db.
  REQUIRE(by_kind["actor-volume"].size() == 1);
  CHECK(by_kind["actor-volume"][0]->actor == "olive");
  CHECK(by_kind["actor-volume"][0]->day == "2027-01-21");
  CHECK(by_kind["actor-volume"][0]->entries.size() == 12);
  REQUIRE(by_kind["secret-volume"].size() == 1);
  CHECK(by_kind["secret-volume"][0]->secret == "prod/db");
  CHECK(by_kind["secret-volume"][0]->entries.size() == 11);
  // First access to prod/payroll, after 20 days of history.
  REQUIRE(by_kind["first-access"].size() == 1);
  CHECK(by_kind["first-access"][0]->secret == "prod/payroll");
  CHECK(lines_in(*by_kind["first-access"][0]) == std::vector<std::size_t>{base + 32});
  // 03:00 was never used; 10:00 was, 11:00 was not.
  REQUIRE(by_kind["new-hour"].size() == 2);
  CHECK(lines_in(*by_kind["new-hour"][0]) == std::vector<std::size_t>{base + 32}); // 11:00
  CHECK(lines_in(*by_kind["new-hour"][1]) == std::vector<std::size_t>{base + 33});
  CHECK_THAT(by_kind["new-hour"][1]->message, Catch::Contains("at 03h UTC") && Catch::Contains("usual: 10-11"));
  REQUIRE(by_kind["new-host"].size() == 1);
  CHECK(lines_in(*by_kind["new-host"][0]) == std::vector<std::size_t>{base + 31});
  CHECK_THAT(by_kind["new-host"][0]->message, Catch::Contains("kiosk-7"));
  REQUIRE(by_kind["cross-env-connector"].size() == 1);
  CHECK(lines_in(*by_kind["cross-env-connector"][0]) == std::vector<std::size_t>{base + 34});
  CHECK_THAT(by_kind["cross-env-connector"][0]->message, Catch::Contains("stage-hook") && Catch::Contains("staging"));

  // Deterministic: the same journal, the same findings in the same order.
  const auto again = audit::find_anomalies(entries, r.state);
  REQUIRE(again.size() == found.size());
  for (std::size_t i = 0; i < found.size(); ++i) {
    CHECK(again[i].to_json() == found[i].to_json());
  }

  // A steady history raises nothing; neither does a short one.
  const std::vector<audit::AuditEntry> steady(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(base + 20));
  CHECK(audit::find_anomalies(steady, r.state).empty());
  audit::AnomalyOptions strict;
  strict.min_history_days = 30;
  for (const auto& anomaly : audit::find_anomalies(entries, r.state, strict)) {
    CHECK((anomaly.kind == audit::AnomalyKind::new_host || anomaly.kind == audit::AnomalyKind::cross_env_connector));
  }
}

TEST_CASE("audit html: self-contained, escaped, one mark per access and rotation", "[audit][html]")
{
  replay_test::World w = replay_test::team();
  event(w, "olive", EventKind::reveal, w.now, read_of(replay_test::k_db));
  event(w, "dave", EventKind::reveal, w.now + 60, Json{{"secret", "prod/<script>"}, {"reason", "no"}}, Result::denied);
  event(w, "olive", EventKind::exec, w.now + 120, read_of(replay_test::k_db));
  w.now += 180;
  using replay_test::k_db;
  using replay_test::k_v2;
  using replay_test::k_v3;
  w.run("erin", RotateStartArgs{{replay_test::next_version(w)}},
        {replay_test::vline(k_db, k_v2), replay_test::sh(k_db, k_v2, "bob"), replay_test::sh(k_db, k_v2, "carol")});
  w.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
  w.run("erin", RotateStartArgs{{replay_test::next_version(w, k_v3)}},
        {replay_test::vline(k_db, k_v3), replay_test::sh(k_db, k_v3, "bob"), replay_test::sh(k_db, k_v3, "carol")});
  w.run("erin", RotateFailArgs{{FailItem{replay_test::k_db, replay_test::k_v3, FailResult::rolling_back}}});
  w.run("erin", RotateFailArgs{{FailItem{replay_test::k_db, replay_test::k_v3, FailResult::rolled_back}}});
  const std::string text = replay_test::journal_of(w.log);
  const ReplayResult r = replay(text);
  INFO(replay_test::describe(r));
  REQUIRE(r.ok());
  const auto entries = audit::read_journal(text, &r.state, "x.journal");
  audit::Report report;
  report.now = w.now + 400;
  report.overdue.push_back({"prod/db", "olive", "overdue <1d>", w.now, 3600});
  const std::string html = audit::render_html(report, {}, entries, {"x.vault", "id", entries.size(), "ok"});
  const auto count = [&](std::string_view needle) {
    std::size_t n = 0;
    for (auto pos = html.find(needle); pos != std::string::npos; pos = html.find(needle, pos + 1)) {
      ++n;
    }
    return n;
  };
  CHECK(count("class=\"mark access") == 3);
  CHECK(count("class=\"mark access denied") == 1);
  CHECK(count("class=\"mark rotation") == 2); // the finish, and the rollback's outcome (not its intent)
  CHECK(count("class=\"mark rotation failed") == 1);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("prod/&lt;script&gt;") != std::string::npos);
  CHECK(html.find("overdue &lt;1d&gt;") != std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("Content-Security-Policy") != std::string::npos);
}
