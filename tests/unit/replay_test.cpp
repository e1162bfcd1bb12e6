// The replay of escrow-vault/2 journals (lib/escrow/history/replay.hpp): linear histories, forks,
// merges, criss-cross merges, every pass-1 finding, every pass-2 finding, replay from a snapshot.
// Journals are built with the real entry/op/apply APIs and signed by real identities
// (history_support.hpp); forgeries are made by editing those entries as an attacker would.
#include <test_paths.hpp>

#include "replay_support.hpp"

#include <escrow/history/head_file.hpp>
#include <escrow/history/keys_file.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

using namespace replay_test;

namespace {

// The team of history_support.hpp plus a request and an approval, and a reveal event.
World busy_team()
{
  World w = team();
  w.run("dave", RequestArgs{k_db, "0123456789abcdef", 3600}, {}, std::string("debugging"));
  ApproveArgs approve;
  approve.secret = k_db;
  approve.request = "0123456789abcdef";
  approve.requester = "dave";
  approve.vid = k_v1;
  approve.v = 1;
  approve.dk_commit = commit("dk1");
  w.run("bob", approve, {ap(k_db, k_v1, "0123456789abcdef", "bob")});
  return w;
}

ReplayResult replay_text(const std::string& text, const ReplayOptions& options = {})
{
  return replay(text, options);
}

// The one error finding of r (fails the test when there is not exactly one).
Finding only_error(const ReplayResult& r)
{
  INFO(describe(r));
  std::vector<Finding> errors;
  for (const Finding& f : r.findings) {
    if (f.severity() == Severity::error) {
      errors.push_back(f);
    }
  }
  REQUIRE(errors.size() == 1);
  return errors[0];
}

std::size_t line_of(const std::vector<Entry>& log, const Hash& h)
{
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (log[i].hash == h) {
      return i + 1;
    }
  }
  return 0;
}

} // namespace

TEST_CASE("replay: a linear history gives the state its operations built", "[history][replay]")
{
  World w = busy_team();
  const Entry reveal = event(w, "olive", EventKind::reveal, w.heads);
  w.log.push_back(reveal);
  w.heads = {reveal.hash};

  const ReplayResult r = replay_text(journal_of(w.log));
  INFO(describe(r));
  REQUIRE(r.ok());
  CHECK(r.findings.empty());
  CHECK(r.state.digest() == w.state.digest());
  CHECK(r.heads == w.heads);
  CHECK(r.entries == w.log.size());
  CHECK(r.lines == w.log.size());
  REQUIRE(r.order.size() == w.log.size());
  REQUIRE(r.order_lines.size() == w.log.size());
  for (std::size_t i = 0; i < w.log.size(); ++i) {
    CHECK(r.order[i] == w.log[i].hash);
    CHECK(r.order_lines[i] == i + 1);
  }
  CHECK(r.ts == reveal.ts);
  CHECK(r.signatures_checked == w.log.size());
  CHECK_NOTHROW(r.require_ok());

  // A cache that vouches for every line: no signature is checked.
  ReplayOptions options;
  options.signature_known = [](const Entry&, std::string_view) { return true; };
  const ReplayResult cached = replay_text(journal_of(w.log), options);
  CHECK(cached.ok());
  CHECK(cached.signatures_checked == 0);
  CHECK(cached.state.digest() == w.state.digest());
}

TEST_CASE("replay: the finding formatter", "[history][replay]")
{
  Finding f;
  f.kind = FindingKind::unauthorised_operation;
  f.line = 41;
  Hash h{};
  h.fill(0xee);
  f.entry = h;
  f.action = "secret-set";
  f.actor = "req";
  f.reason = "secret-set: only the owner may change the owner";
  CHECK(format_finding(f) == "escrow.journal: line 41: entry " + short_hash(h)
                                 + " (secret-set by req): secret-set: only the owner may change the owner");
  FileNames names;
  names.journal = "/v/escrow.journal";
  CHECK(format_finding(f, names).rfind("/v/escrow.journal: line 41: entry ", 0) == 0);
  Finding head;
  head.kind = FindingKind::truncated_tail;
  head.file = VaultFile::head;
  head.reason = "names entry X, which the journal lacks";
  CHECK(format_finding(head) == "escrow.vault: names entry X, which the journal lacks");
  Finding torn;
  torn.kind = FindingKind::torn_write;
  torn.line = 7;
  torn.reason = "unterminated\nline";
  CHECK(format_finding(torn) == "escrow.journal: line 7: unterminated\\nline");
  CHECK(finding_kind_name(FindingKind::modified_entry) == "modified-entry");
  CHECK(severity_of(FindingKind::torn_write) == Severity::warning);
  CHECK(severity_of(FindingKind::head_behind) == Severity::info);
  CHECK(severity_of(FindingKind::conflict) == Severity::conflict);
  CHECK(severity_of(FindingKind::unresolved_conflict) == Severity::error);
  CHECK(severity_of(FindingKind::forged_signature) == Severity::error);
}

TEST_CASE("replay: pass 1 findings", "[history][replay]")
{
  const World w = busy_team();
  const std::string text = journal_of(w.log);
  std::vector<std::string> lines = lines_of(text);
  const std::size_t n = lines.size();
  REQUIRE(n >= 12);

  SECTION("a torn last line is a warning, not an entry")
  {
    const std::string torn = text.substr(0, text.size() - 1);
    const ReplayResult r = replay_text(torn);
    INFO(describe(r));
    CHECK(r.ok());
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].kind == FindingKind::torn_write);
    CHECK(r.findings[0].line == n);
    CHECK(r.heads == std::vector<Hash>{w.log[n - 2].hash});
    CHECK(r.lines == n - 1);
  }
  SECTION("an entry edited in place (its hash left) is modified, and only it is reported")
  {
    const std::size_t at = 5; // member-add of dave
    const std::string before = lines[at - 1];
    const std::size_t host = lines[at - 1].find("\"host\":\"test\"");
    REQUIRE(host != std::string::npos);
    lines[at - 1].replace(host, 13, "\"host\":\"evil\"");
    const ReplayResult r = replay_text(join(lines));
    const Finding f = only_error(r);
    CHECK(f.kind == FindingKind::modified_entry);
    CHECK(f.line == at);
    REQUIRE(f.entry);
    CHECK(*f.entry == w.log[at - 1].hash);
    CHECK(f.action == "member-add");
    CHECK(f.actor == "alice");
    CHECK_FALSE(r.ok());
    CHECK_THROWS_AS(r.require_ok(), Error);
  }
  SECTION("a line that is not an entry is malformed")
  {
    lines.insert(lines.begin() + 3, "{\"action\":\"reveal\"}");
    const Finding f = only_error(replay_text(join(lines)));
    CHECK(f.kind == FindingKind::malformed_entry);
    CHECK(f.line == 4);
    lines[3] = "not json at all";
    CHECK(only_error(replay_text(join(lines))).kind == FindingKind::malformed_entry);
    lines[3] = "";
    CHECK(only_error(replay_text(join(lines))).kind == FindingKind::malformed_entry);
  }
  SECTION("an operation check_args refuses is a malformed operation")
  {
    const std::size_t at = 10; // connector-add crm (timeout 60)
    REQUIRE(w.log[at - 1].op->kind() == OpKind::connector_add);
    const std::size_t pos = lines[at - 1].find("\"timeout\":60");
    REQUIRE(pos != std::string::npos);
    lines[at - 1].replace(pos, 12, "\"timeout\":999999");
    const Finding f = only_error(replay_text(join(lines)));
    CHECK(f.kind == FindingKind::malformed_operation);
    CHECK(f.line == at);
    CHECK(f.action == "connector-add");
  }
  SECTION("a line repeated is a duplicate")
  {
    lines.push_back(lines[4]);
    const Finding f = only_error(replay_text(join(lines)));
    CHECK(f.kind == FindingKind::duplicate_entry);
    CHECK(f.line == n + 1);
    CHECK(f.reason == "the same entry as line 5");
  }
  SECTION("a deleted line orphans its child")
  {
    lines.erase(lines.begin() + 6);
    const Finding f = only_error(replay_text(join(lines)));
    CHECK(f.kind == FindingKind::deleted_entry);
    CHECK(f.line == 7);
    REQUIRE(f.entry);
    CHECK(*f.entry == w.log[7].hash);
  }
  SECTION("a cut at the start: no genesis")
  {
    lines.erase(lines.begin());
    const Finding f = only_error(replay_text(join(lines)));
    CHECK(f.kind == FindingKind::deleted_entry);
    CHECK(f.line == 1);
    CHECK(only_error(replay_text("")).kind == FindingKind::deleted_entry);
  }
  SECTION("a second genesis entry")
  {
    Entry again = w.log[0];
    again.host = "elsewhere"; // same member, same time: the same vault id, another entry
    seal_entry(again, w.ids->at("alice"));
    lines.push_back(dump_entry(again));
    const Finding f = only_error(replay_text(join(lines)));
    CHECK(f.kind == FindingKind::unauthorised_operation);
    CHECK(f.reason == "a second genesis entry (the first is on line 1)");
  }
  SECTION("two lines swapped are reordered")
  {
    std::swap(lines[5], lines[6]);
    const Finding f = only_error(replay_text(join(lines)));
    CHECK(f.kind == FindingKind::reordered_entries);
    CHECK(f.line == 6);
  }
  SECTION("another vault's entry is foreign")
  {
    World other;
    other.genesis("mallory");
    lines.push_back(dump_entry(other.log[0]));
    const Finding f = only_error(replay_text(join(lines)));
    CHECK(f.kind == FindingKind::foreign_entry);
    CHECK(f.line == n + 1);
    ReplayOptions pinned;
    pinned.vault_id = other.state.vault_id;
    CHECK_FALSE(replay_text(text, pinned).ok());
  }
  SECTION("the head file names an entry the journal lacks: truncated tail")
  {
    HeadFile head;
    head.vault_id = w.state.vault_id;
    head.heads = {w.log.back().hash};
    head.entries = n;
    ReplayOptions options;
    options.head = &head;
    CHECK(replay_text(text, options).ok());
    lines.pop_back();
    const Finding f = only_error(replay_text(join(lines), options));
    CHECK(f.kind == FindingKind::truncated_tail);
    CHECK(f.file == VaultFile::head);
    // An older head file: behind, information only.
    head.heads = {w.log[3].hash};
    const ReplayResult behind = replay_text(text, options);
    CHECK(behind.ok());
    REQUIRE(behind.findings.size() == 1);
    CHECK(behind.findings[0].kind == FindingKind::head_behind);
    // Another vault's head file.
    head.vault_id[0] ^= 1;
    CHECK(only_error(replay_text(text, options)).kind == FindingKind::foreign_entry);
  }
}

TEST_CASE("replay: an unauthorised operation is found wherever it is", "[history][replay]")
{
  // dave (a requester) adds a member with keys he controls, at several positions; honest work
  // continues after it on top of his entry.
  for (const std::size_t position : {std::size_t{2}, std::size_t{6}, std::size_t{11}, std::size_t{13}}) {
    DYNAMIC_SECTION("at line " << position)
    {
      World w;
      w.genesis("alice");
      w.add_member("alice", "bob", {Role::approver, Role::requester}, {"prod"});
      w.add_member("alice", "carol", {Role::approver}, {"prod"});
      w.add_member("alice", "dave", {Role::requester}, {"prod"});
      w.add_member("alice", "erin", {Role::rotator}, {"prod"});
      w.add_member("alice", "olive", {Role::requester}, {"prod"});
      const auto forge = [&w] {
        MemberAddArgs a;
        a.name = "mallory";
        a.sign_pk = w.id("mallory").pub.sign_pk;
        a.box_pk = w.id("mallory").pub.box_pk;
        a.roles = {Role::admin};
        a.envs = {"*"};
        const Entry forged = w.entry("dave", a);
        REQUIRE(w.judge(forged).has_value());
        w.log.push_back(forged);
        w.heads = {forged.hash};
        w.now += 60;
        return forged;
      };
      std::optional<Entry> forged;
      // Fill to the position with honest entries, forge, then continue honestly.
      while (w.log.size() + 1 < position) {
        const Entry e = event(w, "olive", EventKind::reveal, w.heads);
        w.log.push_back(e);
        w.heads = {e.hash};
      }
      if (position == 2) {
        // right after genesis: the state before it has only alice
        World g;
        g.ids = w.ids;
        g.genesis("alice");
        MemberAddArgs a;
        a.name = "mallory";
        a.sign_pk = g.id("mallory").pub.sign_pk;
        a.box_pk = g.id("mallory").pub.box_pk;
        a.roles = {Role::admin};
        a.envs = {"*"};
        // mallory signs as herself: she is not a member at all
        Entry e = g.entry("mallory", a);
        g.log.push_back(e);
        const ReplayResult r = replay_text(journal_of(g.log));
        const Finding f = only_error(r);
        CHECK(f.kind == FindingKind::unknown_author);
        CHECK(f.line == 2);
        continue;
      }
      forged = forge();
      for (int i = 0; i < 3; ++i) {
        const Entry e = event(w, "olive", EventKind::reveal, w.heads);
        w.log.push_back(e);
        w.heads = {e.hash};
      }
      w.add_member("alice", "zoe", {Role::requester}, {"prod"});
      const ReplayResult r = replay_text(journal_of(w.log));
      const Finding f = only_error(r);
      CHECK(f.kind == FindingKind::unauthorised_operation);
      CHECK(f.line == line_of(w.log, forged->hash));
      CHECK(f.actor == "dave");
      CHECK(f.action == "member-add");
      CHECK(f.reason == "member-add: dave is not an admin of *");
      CHECK(format_finding(f) == fmt::format("escrow.journal: line {}: entry {} (member-add by dave): "
                                             "member-add: dave is not an admin of *",
                                             f.line, short_hash(forged->hash)));
      try {
        r.require_ok();
        FAIL("require_ok accepted a forged journal");
      } catch (const Error& error) {
        CHECK(error.kind() == ErrorKind::integrity);
        CHECK(std::string(error.what()) == format_finding(f));
      }
    }
  }
}

TEST_CASE("replay: signatures, authors and time", "[history][replay]")
{
  World w = team();

  SECTION("a signature by someone else is forged")
  {
    Entry e = event(w, "olive", EventKind::reveal, w.heads);
    e.sig = w.id("dave").sign(labels::k_entry_sig, ByteView(e.hash.data(), e.hash.size()));
    w.log.push_back(e);
    const Finding f = only_error(replay_text(journal_of(w.log)));
    CHECK(f.kind == FindingKind::forged_signature);
    CHECK(f.actor == "olive");
    CHECK(f.line == w.log.size());
  }
  SECTION("an operation with a forged signature is forged even when it would be allowed")
  {
    Entry e = w.entry("alice", MemberRemoveArgs{"dave"});
    e.sig = w.id("gina").sign(labels::k_entry_sig, ByteView(e.hash.data(), e.hash.size()));
    w.log.push_back(e);
    CHECK(only_error(replay_text(journal_of(w.log))).kind == FindingKind::forged_signature);
  }
  SECTION("a removed member's entry")
  {
    w.run("alice", MemberRemoveArgs{"dave"});
    const Entry e = event(w, "dave", EventKind::reveal, w.heads);
    w.log.push_back(e);
    const Finding f = only_error(replay_text(journal_of(w.log)));
    CHECK(f.kind == FindingKind::removed_author);
    CHECK(f.reason == "dave was removed by alice before this entry");
  }
  SECTION("an outsider's entry")
  {
    const Entry e = event(w, "zed", EventKind::reveal, w.heads);
    w.log.push_back(e);
    CHECK(only_error(replay_text(journal_of(w.log))).kind == FindingKind::unknown_author);
  }
  SECTION("dated before its parent")
  {
    w.now -= 3600;
    const Entry e = event(w, "olive", EventKind::reveal, w.heads);
    w.log.push_back(e);
    CHECK(only_error(replay_text(journal_of(w.log))).kind == FindingKind::dated_before_parent);
  }
  SECTION("dated in the future")
  {
    ReplayOptions options;
    options.now = w.now;
    CHECK(replay_text(journal_of(w.log), options).ok());
    w.now += 3600;
    const Entry e = event(w, "olive", EventKind::reveal, w.heads);
    w.log.push_back(e);
    CHECK(only_error(replay_text(journal_of(w.log), options)).kind == FindingKind::future_dated);
    options.now = w.now;
    CHECK(replay_text(journal_of(w.log), options).ok());
  }
  SECTION("writes that are not what the operation does")
  {
    Entry e = w.entry("alice", MemberSetArgs{"dave", {Role::requester, Role::approver}, {"prod"}});
    REQUIRE_FALSE(w.judge(e).has_value());
    e.op->writes[0].after = commit("something else");
    seal_entry(e, w.id("alice"));
    w.log.push_back(e);
    const Finding f = only_error(replay_text(journal_of(w.log)));
    CHECK(f.kind == FindingKind::wrong_writes);
    CHECK(f.reason.find("wrong writes") != std::string::npos);
  }
  SECTION("a journal-loss naming an entry the journal has")
  {
    JournalLossArgs loss;
    const Entry& victim = w.log[3];
    // declared an event (a journal-loss declaring an operation is refused before this check)
    loss.lost.push_back(LostEntry{victim.hash, victim.ts, victim.actor, "reveal"});
    const Entry e = w.entry("alice", loss, {}, std::string("lost laptop"));
    w.log.push_back(e);
    const Finding f = only_error(replay_text(journal_of(w.log)));
    CHECK(f.kind == FindingKind::unauthorised_operation);
    CHECK(f.reason.find("is in the journal") != std::string::npos);
  }
}

TEST_CASE("replay: an acknowledged loss lets the next entries verify", "[history][replay]")
{
  World w = team();
  const Entry lost = event(w, "olive", EventKind::reveal, w.heads);
  w.log.push_back(lost);
  w.heads = {lost.hash};
  const Entry after = event(w, "olive", EventKind::reveal, w.heads);
  w.log.push_back(after);
  w.heads = {after.hash};
  std::vector<Entry> damaged = w.log;
  damaged.erase(damaged.end() - 2);
  CHECK(only_error(replay_text(journal_of(damaged))).kind == FindingKind::deleted_entry);

  World ack = w;
  JournalLossArgs loss;
  loss.lost.push_back(LostEntry{lost.hash, lost.ts, "olive", "reveal"});
  ack.run("alice", loss, {}, std::string("the laptop's journal was lost"));
  damaged.push_back(ack.log.back());
  const ReplayResult r = replay_text(journal_of(damaged));
  INFO(describe(r));
  CHECK(r.ok());
  CHECK(r.state.lost.count(lost.hash) == 1);

  // The same acknowledgement by a non-admin does not verify.
  World bad = w;
  const Entry forged = bad.entry("olive", loss, {}, std::string("covering my tracks"));
  std::vector<Entry> covered = w.log;
  covered.erase(covered.end() - 2);
  covered.push_back(forged);
  CHECK(only_error(replay_text(journal_of(covered))).kind == FindingKind::unauthorised_operation);
}

TEST_CASE("replay: fork and merge", "[history][replay]")
{
  World a = team();
  const std::size_t common = a.log.size();
  World b = a;
  // a adds a secret; b adds a member and a connector: they commute.
  a.run("olive", [] {
    SecretAddArgs s = db_args("prod/api", "00000000000000d4");
    s.custodians = {};
    s.threshold = 0;
    return s;
  }(), {rk("prod/api", 1, "erin"), rk("prod/api", 1, "olive"), vline("prod/api", "00000000000000d4")},
        std::string("api key"));
  b.now += 30;
  b.add_member("alice", "quinn", {Role::requester}, {"prod"});
  ConnectorAddArgs c;
  c.name = "vendor";
  c.env = "prod";
  c.kind = ConnectorKind::manual;
  c.instructions = "tell the vendor";
  b.run("alice", c);

  SECTION("unsealed: two heads, ours first, the merged state")
  {
    const std::vector<Entry> joined = union_of(a.log, b.log);
    const ReplayResult r = replay_text(journal_of(joined));
    INFO(describe(r));
    REQUIRE(r.ok());
    CHECK(r.heads == std::vector<Hash>{a.heads[0], b.heads[0]});
    CHECK(r.state.secret("prod/api") != nullptr);
    CHECK(r.state.member("quinn") != nullptr);
    CHECK(r.state.connector("vendor") != nullptr);
    // The same as applying theirs' operations after ours'.
    State expected = a.state;
    for (const Entry* e : own(b, common)) {
      REQUIRE_FALSE(apply_merged(expected, *e).has_value());
    }
    CHECK(r.state.digest() == expected.digest());
    // L: ours' entries, then theirs' new ones in their order.
    REQUIRE(r.order.size() == joined.size());
    for (std::size_t i = 0; i < joined.size(); ++i) {
      CHECK(r.order[i] == joined[i].hash);
    }
  }
  SECTION("sealed by a merge event, then an operation on the merged state")
  {
    const Entry m = join_into(a, b, "alice");
    a.add_member("alice", "rose", {Role::requester}, {"prod"});
    const ReplayResult r = replay_text(journal_of(a.log));
    INFO(describe(r));
    REQUIRE(r.ok());
    CHECK(r.heads == a.heads);
    CHECK(r.state.digest() == a.state.digest());
    CHECK(r.state.member("quinn") != nullptr);
    (void)m;
  }
  SECTION("a forged entry on the other side is found causally")
  {
    World evil = b;
    const Entry forged = evil.entry("dave", MemberRemoveArgs{"carol"});
    evil.log.push_back(forged);
    evil.heads = {forged.hash};
    const ReplayResult r = replay_text(journal_of(union_of(a.log, evil.log)));
    const Finding f = only_error(r);
    CHECK(f.kind == FindingKind::unauthorised_operation);
    CHECK(f.line == a.log.size() + (evil.log.size() - common));
  }
}

TEST_CASE("replay: criss-cross merges", "[history][replay]")
{
  World a = team();
  World b = a;
  a.add_member("alice", "quinn", {Role::requester}, {"prod"});
  b.now += 30;
  b.add_member("alice", "rose", {Role::requester}, {"prod"});
  // Each side merges the other's first entry.
  World a2 = a;
  World b2 = b;
  join_into(a2, b, "alice");
  join_into(b2, a, "alice");
  // More work on each, then the final merge of the two merges.
  a2.add_member("alice", "sam", {Role::requester}, {"prod"});
  b2.run("olive", SecretSetArgs{k_db, std::nullopt, std::string("orders db (primary)"), std::nullopt, std::nullopt,
                                std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  const std::vector<Entry> joined = union_of(a2.log, b2.log);
  const ReplayResult open = replay_text(journal_of(joined));
  INFO(describe(open));
  REQUIRE(open.ok());
  CHECK(open.heads.size() == 2);
  for (const std::string name : {"quinn", "rose", "sam"}) {
    CHECK(open.state.member(name) != nullptr);
  }
  CHECK(open.state.secret(k_db)->purpose == "orders db (primary)");
  join_into(a2, b2, "alice");
  const ReplayResult sealed = replay_text(journal_of(a2.log));
  CHECK(sealed.ok());
  CHECK(sealed.heads.size() == 1);
  CHECK(sealed.state.digest() == open.state.digest());
}

TEST_CASE("replay: merges that do not commute", "[history][replay]")
{
  World a = team();
  World b = a;
  // The same field set to different values on the two sides.
  a.run("olive", SecretSetArgs{k_db, std::nullopt, std::string("ours"), std::nullopt, std::nullopt, std::nullopt,
                               std::nullopt, std::nullopt, std::nullopt});
  b.run("olive", SecretSetArgs{k_db, std::nullopt, std::string("theirs"), std::nullopt, std::nullopt, std::nullopt,
                               std::nullopt, std::nullopt, std::nullopt});
  const std::vector<Entry> joined = union_of(a.log, b.log);
  const ReplayResult open = replay_text(journal_of(joined));
  INFO(describe(open));
  CHECK_FALSE(open.has_errors());
  CHECK(open.has_conflicts());
  CHECK_FALSE(open.ok());
  CHECK(kinds_of(open) == std::vector<FindingKind>{FindingKind::conflict});
  try {
    open.require_ok();
    FAIL("an unsealed conflict passed");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::failed);
  }
  // Sealed over the conflict (a merge entry naming both heads): exit 3.
  World sealer = a;
  sealer.log = joined;
  const Entry m = event(sealer, "alice", EventKind::merge, {a.heads[0], b.heads[0]});
  sealer.log.push_back(m);
  const ReplayResult sealed = replay_text(journal_of(sealer.log));
  INFO(describe(sealed));
  CHECK(sealed.has_errors());
  CHECK(kinds_of(sealed) == std::vector<FindingKind>{FindingKind::unresolved_conflict});
  try {
    sealed.require_ok();
    FAIL("a sealed conflict passed");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::integrity);
  }
}

TEST_CASE("replay: from a snapshot equals the full replay", "[history][replay]")
{
  World w = busy_team();
  const std::size_t cut = w.log.size();
  World b = w;
  w.add_member("alice", "quinn", {Role::requester}, {"prod"});
  b.now += 30;
  b.add_member("alice", "rose", {Role::requester}, {"prod"});
  join_into(w, b, "alice");
  const Entry reveal = event(w, "olive", EventKind::reveal, w.heads);
  w.log.push_back(reveal);
  w.heads = {reveal.hash};
  const std::string text = journal_of(w.log);
  const ReplayResult full = replay_text(text);
  REQUIRE(full.ok());

  const std::string prefix = journal_of(std::vector<Entry>(w.log.begin(), w.log.begin() + static_cast<long>(cut)));
  const ReplayResult first = replay_text(prefix);
  REQUIRE(first.ok());
  const Snapshot snap = first.snapshot();
  CHECK(snap.lines == cut);
  const ReplayResult rest = replay_from(snap, std::string_view(text).substr(prefix.size()));
  INFO(describe(rest));
  REQUIRE(rest.ok());
  CHECK(rest.state.digest() == full.state.digest());
  CHECK(rest.heads == full.heads);
  CHECK(rest.entries == full.entries);
  CHECK(rest.lines == full.lines);
  CHECK(rest.ts == full.ts);
  std::vector<Hash> tail_order(full.order.begin() + static_cast<long>(cut), full.order.end());
  CHECK(rest.order == tail_order);
  CHECK(rest.signatures_checked == w.log.size() - cut);

  SECTION("every split point")
  {
    for (std::size_t k = 1; k < w.log.size(); ++k) {
      const std::string head_text = journal_of(std::vector<Entry>(w.log.begin(), w.log.begin() + static_cast<long>(k)));
      const ReplayResult part = replay_text(head_text);
      REQUIRE(part.ok());
      const ReplayResult tail = replay_from(part.snapshot(), std::string_view(text).substr(head_text.size()));
      INFO("split after line " << k << ": " << describe(tail));
      if (tail.needs_full_replay) {
        // Only inside the fork: a tail entry naming a parent older than the snapshot's heads.
        CHECK(k > cut);
        CHECK(k < w.log.size() - 1);
        continue;
      }
      CHECK(tail.ok());
      CHECK(tail.state.digest() == full.state.digest());
      CHECK(tail.heads == full.heads);
    }
  }
  SECTION("a forged tail entry is found from the snapshot too, at its line")
  {
    World evil = w;
    const Entry forged = evil.entry("dave", MemberRemoveArgs{"carol"});
    const std::string tail = std::string(std::string_view(text).substr(prefix.size())) + dump_entry(forged) + "\n";
    const ReplayResult r = replay_from(snap, tail);
    const Finding f = only_error(r);
    CHECK(f.kind == FindingKind::unauthorised_operation);
    CHECK(f.line == w.log.size() + 1);
    const ReplayResult whole = replay_text(text + dump_entry(forged) + "\n");
    CHECK(only_error(whole).line == f.line);
  }
  SECTION("nothing new")
  {
    const ReplayResult none = replay_from(full.snapshot(), "");
    CHECK(none.ok());
    CHECK(none.state.digest() == full.state.digest());
    CHECK(none.heads == full.heads);
    CHECK(none.order.empty());
  }
}

TEST_CASE("replay: verify_vault checks the head and keys files against the state", "[history][replay]")
{
  // Real key lines: K is the hash of deterministic bytes of the right size.
  std::map<std::string, SealedLine> made;
  World w;
  w.key_hash = [&made](const KeyLine& line) {
    const std::optional<LineName> name = LineName::parse(logical_name(line));
    REQUIRE(name);
    Bytes raw(name->min_size(), static_cast<std::uint8_t>(made.size() + 1));
    SealedLine sealed = SealedLine::make(*name, raw);
    made.insert_or_assign(logical_name(line), sealed);
    return sealed.hash;
  };
  w.genesis("alice");
  w.add_member("alice", "erin", {Role::rotator}, {"prod"});
  w.add_member("alice", "olive", {Role::requester}, {"prod"});
  SecretAddArgs s = db_args();
  s.custodians = {};
  s.threshold = 0;
  w.run("olive", s, {rk(k_db, 1, "erin"), rk(k_db, 1, "olive"), vline(k_db, k_v1)}, std::string("first"));
  std::vector<SealedLine> lines;
  for (const auto& [logical, line] : made) {
    lines.push_back(line);
  }
  const std::string journal = journal_of(w.log);
  HeadFile head{w.state.vault_id, w.heads, w.log.size()};
  const std::string head_text = serialize_head_file(head);
  const KeysFile keys = KeysFile::parse(serialize_keys(w.state.vault_id, lines), "escrow.keys");

  const VerifiedVault ok = verify_vault(head_text, journal, &keys);
  INFO(describe(ok.replay));
  CHECK(ok.ok());
  CHECK(ok.key_lines == 3);
  CHECK(ok.replay.state.digest() == w.state.digest());

  SECTION("a key line missing")
  {
    std::vector<SealedLine> fewer(lines.begin(), lines.end() - 1);
    const KeysFile k = KeysFile::parse(serialize_keys(w.state.vault_id, fewer), "escrow.keys");
    const VerifiedVault r = verify_vault(head_text, journal, &k);
    CHECK(only_error(r.replay).kind == FindingKind::key_line_missing);
    CHECK(only_error(r.replay).file == VaultFile::keys);
  }
  SECTION("a key line no operation wrote")
  {
    std::vector<SealedLine> more = lines;
    more.push_back(SealedLine::make(LineName::reader_key(k_db, 1, "mallory"), Bytes(80, 9)));
    const KeysFile k = KeysFile::parse(serialize_keys(w.state.vault_id, more), "escrow.keys");
    const VerifiedVault r = verify_vault(head_text, journal, &k);
    // Never read (the state names no such line), and what a writer killed before its commit
    // point leaves: a warning, not an error.
    INFO(describe(r.replay));
    CHECK(r.ok());
    CHECK(kinds_of(r.replay).empty());
    REQUIRE(r.replay.findings.size() == 1);
    CHECK(r.replay.findings[0].kind == FindingKind::key_line_unknown);
    CHECK(r.replay.findings[0].severity() == Severity::warning);
  }
  SECTION("a key line an accepted operation wrote that the state no longer names: garbage")
  {
    // olive shares the secret with dave, then unshares it: dave's reader line stays in the file
    // (as a writer killed before its removal leaves it), written by the share, named by nothing:
    // a warning.
    w.add_member("alice", "dave", {Role::requester}, {"prod"});
    w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
    w.run("olive", UnshareArgs{k_db, "dave"});
    std::vector<SealedLine> all;
    for (const auto& [logical, line] : made) {
      all.push_back(line);
    }
    const KeysFile with_garbage = KeysFile::parse(serialize_keys(w.state.vault_id, all), "escrow.keys");
    const std::string longer = journal_of(w.log);
    const std::string longer_head = serialize_head_file(HeadFile{w.state.vault_id, w.heads, w.log.size()});
    const VerifiedVault r = verify_vault(longer_head, longer, &with_garbage);
    INFO(describe(r.replay));
    CHECK(r.ok());
    REQUIRE(r.replay.findings.size() == 1);
    CHECK(r.replay.findings[0].kind == FindingKind::garbage_key_line);
    CHECK(r.replay.findings[0].file == VaultFile::keys);
    CHECK(r.replay.findings[0].reason.find(":rk:dave#") != std::string::npos);
  }
  SECTION("the same check on a replay made already (verify after a session's full replay)")
  {
    const HeadFile parsed = parse_head_file(head_text, "head");
    ReplayOptions options;
    options.head = &parsed;
    const VerifiedVault r = verify_vault(parsed, journal, replay(journal, options), &keys);
    CHECK(r.ok());
    CHECK(r.key_lines == 3);
    std::vector<SealedLine> fewer(lines.begin(), lines.end() - 1);
    const KeysFile k = KeysFile::parse(serialize_keys(w.state.vault_id, fewer), "escrow.keys");
    CHECK(only_error(verify_vault(parsed, journal, replay(journal, options), &k).replay).kind
          == FindingKind::key_line_missing);
  }
  SECTION("a key line of the same name with other bytes")
  {
    std::vector<SealedLine> other = lines;
    other[0] = SealedLine::make(other[0].name, Bytes(other[0].raw.size(), 0xaa));
    const KeysFile k = KeysFile::parse(serialize_keys(w.state.vault_id, other), "escrow.keys");
    const VerifiedVault r = verify_vault(head_text, journal, &k);
    // the state's line is missing (an error) and the file's is unknown (a warning: never read)
    INFO(describe(r.replay));
    CHECK(kinds_of(r.replay) == std::vector<FindingKind>{FindingKind::key_line_missing});
  }
  SECTION("a malformed head file")
  {
    const VerifiedVault r = verify_vault("{}", journal, &keys);
    CHECK_FALSE(r.ok());
    CHECK(only_error(r.replay).kind == FindingKind::malformed_file);
    CHECK(only_error(r.replay).file == VaultFile::head);
  }
  SECTION("a head file ahead of the journal")
  {
    const std::string cut = journal_of(std::vector<Entry>(w.log.begin(), w.log.end() - 1));
    const VerifiedVault r = verify_vault(head_text, cut, &keys);
    INFO(describe(r.replay));
    CHECK(kinds_of(r.replay) == std::vector<FindingKind>{FindingKind::truncated_tail}); // + 3 unknown-line warnings
  }
  SECTION("another vault's keys file")
  {
    VaultId other = w.state.vault_id;
    other[0] ^= 1;
    const KeysFile k = KeysFile::parse(serialize_keys(other, lines), "escrow.keys");
    CHECK(only_error(verify_vault(head_text, journal, &k).replay).kind == FindingKind::foreign_entry);
  }
}

// Writes the fuzz seeds tests/fuzz/corpus/replay/seed-* (run once:
// escrow_tests "[.generate-replay-seeds]"): journals signed by real identities.
TEST_CASE("replay: generate fuzz seeds", "[.generate-replay-seeds]")
{
  const std::filesystem::path dir = std::filesystem::path(ESCROW_SOURCE_DIR) / "tests/fuzz/corpus/replay";
  std::filesystem::create_directories(dir);
  const auto write = [&dir](const std::string& name, const std::string& text) {
    std::ofstream out(dir / name, std::ios::binary);
    out << text;
    REQUIRE(out.good());
  };
  World w = busy_team();
  write("seed-team", journal_of(w.log));
  World b = w;
  World a = w;
  a.add_member("alice", "quinn", {Role::requester}, {"prod"});
  b.now += 30;
  b.run("olive", SecretSetArgs{k_db, std::nullopt, std::string("orders db (primary)"), std::nullopt, std::nullopt,
                               std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  write("seed-unsealed-merge", journal_of(union_of(a.log, b.log)));
  World sealed = a;
  join_into(sealed, b, "alice");
  sealed.run("erin", RotateStartArgs{{next_version(sealed, k_v2)}},
             {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
  write("seed-sealed-merge", journal_of(sealed.log));
  World c = w;
  World d = w;
  c.run("olive", SecretSetArgs{k_db, std::nullopt, std::string("ours"), std::nullopt, std::nullopt, std::nullopt,
                               std::nullopt, std::nullopt, std::nullopt});
  World e = d;
  d.run("olive", SecretSetArgs{k_db, std::nullopt, std::string("theirs"), std::nullopt, std::nullopt, std::nullopt,
                               std::nullopt, std::nullopt, std::nullopt});
  write("seed-conflict", journal_of(union_of(c.log, d.log)));
  e.run("alice", MemberRemoveArgs{"olive"});
  write("seed-strong-remove", journal_of(union_of(c.log, e.log)));
}

TEST_CASE("replay: three parents are left-nested merges, in parent order", "[history][replay]")
{
  World a = team();
  World b = a;
  World c = a;
  a.add_member("alice", "quinn", {Role::requester}, {"prod"});
  b.now += 20;
  b.add_member("alice", "rose", {Role::requester}, {"prod"});
  c.now += 40;
  c.add_member("alice", "sam", {Role::requester}, {"prod"});
  // File order: a's, then c's, then b's new entries; the merge names [a, b, c].
  std::vector<Entry> joined = union_of(union_of(a.log, c.log), b.log);
  World m = a;
  m.now = std::max({a.now, b.now, c.now});
  const Entry merge = event(m, "alice", EventKind::merge, {a.heads[0], b.heads[0], c.heads[0]});
  joined.push_back(merge);
  const ReplayResult r = replay(journal_of(joined));
  INFO(describe(r));
  REQUIRE(r.ok());
  CHECK(r.heads == std::vector<Hash>{merge.hash});
  for (const std::string name : {"quinn", "rose", "sam"}) {
    CHECK(r.state.member(name) != nullptr);
  }
  // L = L(a) ++ new(b) ++ new(c) ++ [merge]: b's entry before c's although c's is earlier in the file.
  REQUIRE(r.order.size() == joined.size());
  const std::size_t n = r.order.size();
  CHECK(r.order[n - 4] == a.heads[0]);
  CHECK(r.order[n - 3] == b.heads[0]);
  CHECK(r.order[n - 2] == c.heads[0]);
  CHECK(r.order[n - 1] == merge.hash);
  // order_lines: a's head, then b's (the last of the new lines), then c's.
  CHECK(r.order_lines[n - 4] == a.log.size());
  CHECK(r.order_lines[n - 3] == n - 1);
  CHECK(r.order_lines[n - 2] == a.log.size() + 1);
  CHECK(r.order_lines[n - 1] == n);
  // Unsealed, the three heads in file order: a, c, b.
  joined.pop_back();
  const ReplayResult open = replay(journal_of(joined));
  REQUIRE(open.ok());
  CHECK(open.heads == std::vector<Hash>{a.heads[0], c.heads[0], b.heads[0]});
  CHECK(open.state.digest() == r.state.digest());
}

TEST_CASE("replay_from: a tail that forks from before the snapshot needs the full replay", "[history][replay]")
{
  World a = team();
  World b = a;
  a.add_member("alice", "quinn", {Role::requester}, {"prod"});
  b.now += 30;
  b.add_member("alice", "rose", {Role::requester}, {"prod"});
  const std::string ours = journal_of(a.log);
  const ReplayResult verified = replay(ours);
  REQUIRE(verified.ok());
  const std::string joined = journal_of(union_of(a.log, b.log));
  REQUIRE(joined.rfind(ours, 0) == 0);
  const ReplayResult tail = replay_from(verified.snapshot(), std::string_view(joined).substr(ours.size()));
  CHECK(tail.needs_full_replay);
  CHECK_FALSE(tail.ok());
  CHECK(tail.findings.empty());
  CHECK_THROWS_AS(tail.require_ok(), Error);
  // A tail entry naming the snapshot's heads in another order also needs it.
  World m = a;
  m.log = union_of(a.log, b.log);
  const ReplayResult open = replay(journal_of(m.log));
  REQUIRE(open.ok());
  REQUIRE(open.heads.size() == 2);
  const Entry swapped = event(m, "alice", EventKind::merge, {open.heads[1], open.heads[0]});
  CHECK(replay_from(open.snapshot(), dump_entry(swapped) + "\n").needs_full_replay);
  const Entry sealing = event(m, "alice", EventKind::merge, open.heads);
  const ReplayResult sealed = replay_from(open.snapshot(), dump_entry(sealing) + "\n");
  CHECK(sealed.ok());
  CHECK(sealed.heads == std::vector<Hash>{sealing.hash});
  CHECK(sealed.state.digest() == open.state.digest());
}

// A rough figure (run by hand: escrow_tests "[.replay-timing]"): a linear journal of reads.
TEST_CASE("replay: timing of a long linear journal", "[.replay-timing]")
{
  World w = busy_team();
  for (int i = 0; i < 20000; ++i) {
    const Entry e = event(w, i % 2 == 0 ? "olive" : "dave", EventKind::reveal, w.heads);
    w.log.push_back(e);
    w.heads = {e.hash};
  }
  const std::string text = journal_of(w.log);
  const auto start = std::chrono::steady_clock::now();
  const ReplayResult r = replay(text);
  const auto middle = std::chrono::steady_clock::now();
  ReplayOptions known;
  known.signature_known = [](const Entry&, std::string_view) { return true; };
  const ReplayResult cached = replay(text, known);
  const auto end = std::chrono::steady_clock::now();
  REQUIRE(r.ok());
  REQUIRE(cached.ok());
  const auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  WARN(w.log.size() << " entries, " << text.size() << " bytes: " << ms(middle - start) << " ms; without signatures "
                    << ms(end - middle) << " ms");
}
