// Commands while a merge is unresolved (lib/escrow/history/unresolved.hpp, vault_session.cpp;
// docs/design/vault-2-merge.md §3) and a resolve entry's voids after a snapshot continuation (the
// replay's replay_from, the session's fast path).
//
// The scene is what `git pull` leaves when the journal driver finds a conflict: the same field of
// prod/db set on both sides; the work tree's journal is ours (the driver wrote nothing), the head
// and keys files merged by their drivers, theirs' journal in git's index (handed to the session as
// VaultSessionOptions::unresolved_merge, as git/resolve.hpp does).
#include "replay_support.hpp"
#include "vault_session_support.hpp"

#include <escrow/history/merge_files.hpp>
#include <escrow/history/resolve.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/history/unresolved.hpp>
#include <escrow/history/verify.hpp>

using namespace v2_test;

namespace {

template<typename Body>
Error error_of(Body&& body)
{
  try {
    body();
  } catch (const Error& error) {
    return error;
  }
  FAIL("no error");
  return Error(ErrorKind::failed, "unreachable");
}

bool contains(std::string_view text, std::string_view part)
{
  return text.find(part) != std::string_view::npos;
}

SecretSetArgs purpose_of(const std::string& secret, const std::string& purpose)
{
  SecretSetArgs a;
  a.secret = secret;
  a.purpose = purpose;
  return a;
}

struct Scene
{
  Fixture f;
  fs::path theirs_vault;
  fs::path carol_state; // a machine that verified the common history only
  std::string base_head, base_keys, base_journal;
  std::string theirs_journal;
  std::vector<Hash> ours_heads;
  Hash theirs_head{};

  Scene()
  {
    {
      VaultSession s = f.init();
      s.submit(member(f, "bob", {Role::approver}, {"prod"}));
      const SecretAdd db = secret_add(f, s.vault_id(), "prod/db", "db-value");
      s.submit(db.args, db.material);
      const SecretAdd api = secret_add(f, s.vault_id(), "prod/api", "api-value");
      s.submit(api.args, api.material);
      (void)share(s, "prod/api", "bob");
    }
    base_head = slurp(f.head());
    base_keys = slurp(f.keys());
    base_journal = slurp(f.journal());
    carol_state = f.root / "state-carol";
    {
      VaultSessionOptions o = f.options("");
      o.state_home = carol_state;
      (void)VaultSession::open(o, Access::read);
    }
    // Theirs: a clone of the common history that sets prod/db's purpose its way.
    const fs::path theirs_dir = f.root / "theirs";
    fs::create_directories(theirs_dir);
    theirs_vault = theirs_dir / "escrow.vault";
    spit(theirs_vault, base_head);
    spit(theirs_dir / "escrow.journal", base_journal);
    spit(theirs_dir / "escrow.keys", base_keys);
    {
      VaultSessionOptions o = f.options();
      o.vault_path = theirs_vault;
      o.state_home = f.root / "state-theirs";
      VaultSession t = VaultSession::open(o, Access::write);
      (void)unshare(t, "prod/api", "bob"); // commutes with ours; its key line leaves theirs' keys file
      theirs_head = t.submit(purpose_of("prod/db", "theirs")).hash;
    }
    theirs_journal = slurp(theirs_dir / "escrow.journal");
    // Ours.
    {
      VaultSession s = VaultSession::open(f.options(), Access::write);
      ours_heads = {s.submit(purpose_of("prod/db", "ours")).hash};
    }
    // git's merge: the journal driver found the conflict and wrote nothing; the other two merged.
    const MergeOutcome head = merge_head_texts(base_head, slurp(f.head()), slurp(theirs_vault), "escrow.vault");
    const MergeOutcome keys = merge_keys_texts(base_keys, slurp(f.keys()), slurp(theirs_dir / "escrow.keys"), "escrow.keys");
    REQUIRE(merge_journal_texts(base_journal, slurp(f.journal()), theirs_journal, "escrow.journal").conflicts.size() == 1);
    spit(f.head(), head.text);
    spit(f.keys(), keys.text);
  }

  // As the CLI opens a session in a git work tree with the merge in progress.
  VaultSessionOptions options(const std::string& actor = "alice", std::set<Hash> voids = {})
  {
    VaultSessionOptions o = f.options(actor);
    o.unresolved_merge = [theirs = theirs_journal, voids] { return std::optional<UnresolvedMerge>(UnresolvedMerge{theirs, voids}); };
    return o;
  }

  // `escrow resolve N --keep side` by alice, written out as git/resolve.cpp does.
  Entry resolve(MergeSide keep)
  {
    const std::string ours = slurp(f.journal());
    const MergeAnalysis listed = analyse_merge(ours, theirs_journal, {}, "", "escrow.journal");
    REQUIRE(listed.conflicts.size() == 1);
    const std::set<Hash> voids = keep_side(listed, 0, keep);
    const MergeAnalysis chosen = analyse_merge(ours, theirs_journal, voids, "alice", "escrow.journal");
    REQUIRE(chosen.conflicts.empty());
    REQUIRE(chosen.refusals.empty());
    const KeysFile keys = KeysFile::open(f.keys());
    SealedResolution sealed = seal_resolution(chosen, keys, f.id("alice"), f.now, "test");
    spit(f.keys(), sealed.keys);
    spit(f.journal(), sealed.journal);
    spit(f.head(), sealed.head);
    return sealed.entry;
  }

  std::map<std::string, std::string> everything() const
  {
    std::map<std::string, std::string> out;
    for (const auto& [name, bytes] : f.vault_files()) {
      out["repo/" + name] = bytes;
    }
    for (const auto& [name, bytes] : f.cache_files()) {
      out["state/" + name] = bytes;
    }
    return out;
  }
};

} // namespace

TEST_CASE("unresolved: without the merge's word the head file names an entry the journal lacks", "[unresolved]")
{
  Scene s;
  const Error error = error_of([&] { (void)VaultSession::open(s.f.options(""), Access::read); });
  CHECK(error.kind() == ErrorKind::integrity);
}

TEST_CASE("unresolved: a session acts on ours and says so once", "[unresolved]")
{
  Scene s;
  VaultSession r = VaultSession::open(s.options(""), Access::read);
  REQUIRE(r.unresolved().has_value());
  CHECK(r.unresolved()->conflicts() == 1);
  CHECK(r.unresolved()->theirs_only.size() == 2);
  CHECK(r.unresolved()->theirs_only.count(s.theirs_head) == 1);
  REQUIRE_FALSE(r.warnings().empty());
  CHECK(r.warnings().front() == s.f.journal().string() + ": unresolved merge (1 conflict): escrow resolve");
  CHECK(std::count_if(r.warnings().begin(), r.warnings().end(),
                      [](const std::string& w) { return contains(w, "unresolved merge"); })
        == 1);
  CHECK(r.heads() == s.ours_heads);
  CHECK(r.state().secret("prod/db")->purpose == "ours");
  // The head file keeps theirs' head beside ours.
  CHECK(read_head_file(s.f.head()).heads == std::vector<Hash>{s.ours_heads.at(0), s.theirs_head});
  // The next open continues ours from this machine's cache.
  CHECK(VaultSession::open(s.options(""), Access::read).fast_path());
}

TEST_CASE("unresolved: every write is refused, every file and the cache place byte-identical", "[unresolved]")
{
  Scene s;
  const auto check_refusal = [](const Error& error) {
    CHECK(error.kind() == ErrorKind::failed);
    CHECK(contains(error.what(), "escrow.journal: unresolved merge (1 conflict): no write until it is resolved"));
    REQUIRE(error.hints().size() == 1);
    CHECK(contains(error.hints().front(), "escrow resolve"));
  };
  SECTION("the first command after the pull")
  {
    const auto before = s.everything();
    check_refusal(error_of([&] { (void)VaultSession::open(s.options(), Access::write); }));
    CHECK(s.everything() == before);
  }
  SECTION("after a read verified ours")
  {
    (void)VaultSession::open(s.options(""), Access::read);
    const auto before = s.everything();
    check_refusal(error_of([&] { (void)VaultSession::open(s.options(), Access::write); }));
    VaultSession r = VaultSession::open(s.options(), Access::read);
    check_refusal(error_of([&] { r.upgrade(); }));
    CHECK_FALSE(r.writable());
    CHECK(s.everything() == before);
  }
}

TEST_CASE("unresolved: reads of other secrets are served, their events name ours' head only", "[unresolved]")
{
  Scene s;
  VaultSession r = VaultSession::open(s.options(), Access::read);
  const std::string head_before = slurp(s.f.head());
  const std::size_t lines_before = line_count(slurp(s.f.journal()));

  const Revealed api = reveal(r, "prod/api", 0);
  CHECK(api.value.expose_view() == "api-value");
  CHECK(line_count(slurp(s.f.journal())) == lines_before + 1);
  const std::string journal = slurp(s.f.journal());
  const std::string last = journal.substr(journal.rfind('\n', journal.size() - 2) + 1);
  const Entry event = parse_entry(last.substr(0, last.size() - 1), "escrow.journal");
  CHECK(action_name(event.action) == "reveal");
  CHECK(event.parents == s.ours_heads);
  CHECK(slurp(s.f.head()) == head_before); // theirs' head still beside ours
  CHECK(r.heads() == std::vector<Hash>{event.hash});

  // prod/db is in the conflict: neither its value nor its record is served; nothing appended.
  const auto before = s.everything();
  const Error value = error_of([&] { (void)reveal(r, "prod/db", 0); });
  CHECK(value.kind() == ErrorKind::failed);
  CHECK(contains(value.what(), "unresolved merge (1 conflict): prod/db is in conflict 1"));
  const Error record = error_of([&] { r.require_readable("prod/db", ReadKind::record); });
  CHECK(contains(record.what(), "prod/db is in conflict 1"));
  r.require_readable("prod/api", ReadKind::record);
  CHECK(s.everything() == before);

  // bob reads prod/api on ours, but theirs unshared it: his key line left the merged keys file.
  VaultSession bob = VaultSession::open(s.options("bob"), Access::read);
  const Error gone = error_of([&] { (void)reveal(bob, "prod/api", 0); });
  CHECK(gone.kind() == ErrorKind::failed);
  CHECK(contains(gone.what(), "prod/api: not served until the merge is resolved (theirs removed a key line ours reads"));
  CHECK(s.everything() == before);

  // The next session continues ours (the event included), still unresolved.
  VaultSession again = VaultSession::open(s.options(""), Access::read);
  CHECK(again.fast_path());
  CHECK(again.heads() == std::vector<Hash>{event.hash});
  REQUIRE(again.unresolved().has_value());
}

TEST_CASE("unresolved: verify checks ours and lists the conflicts (exit 1)", "[unresolved]")
{
  Scene s;
  VaultSession r = VaultSession::open(s.options(""), Access::read);
  const Error error = error_of([&] { (void)verify(r); });
  CHECK(error.kind() == ErrorKind::failed);
  CHECK(contains(error.what(), "unresolved merge (1 conflict): ours verifies"));
  REQUIRE(error.hints().size() == 2);
  CHECK(contains(error.hints().at(0), "conflict 1: s:prod/db: ours line"));
  CHECK(contains(error.hints().at(0), "secret-set by alice"));
  CHECK(contains(error.hints().at(1), "escrow resolve"));
}

TEST_CASE("unresolved: the choices made so far are counted; theirs forged is reported", "[unresolved]")
{
  Scene s;
  SECTION("a forged theirs: reads of ours go on, writes are refused")
  {
    // theirs' last entry with another signature (its hash, which the sig is not part of, stays).
    std::string forged = s.theirs_journal;
    const std::size_t sig = forged.rfind("\"sig\":\"") + 10;
    forged[sig] = forged[sig] == 'A' ? 'B' : 'A';
    VaultSessionOptions o = s.f.options("");
    o.unresolved_merge = [forged] { return std::optional<UnresolvedMerge>(UnresolvedMerge{forged, {}}); };
    VaultSession r = VaultSession::open(o, Access::read);
    REQUIRE(r.unresolved().has_value());
    REQUIRE(r.unresolved()->problem.has_value());
    CHECK(contains(r.warnings().front(), "unresolved merge (theirs refused: "));
    CHECK(r.state().secret("prod/db")->purpose == "ours");
    CHECK(error_of([&] { (void)verify(r); }).kind() == ErrorKind::integrity);
  }
  SECTION("theirs adds nothing to ours: no merge to resolve")
  {
    VaultSessionOptions o = s.f.options("");
    o.unresolved_merge = [base = s.base_journal] { return std::optional<UnresolvedMerge>(UnresolvedMerge{base, {}}); };
    CHECK(error_of([&] { (void)VaultSession::open(o, Access::read); }).kind() == ErrorKind::integrity);
  }
}

TEST_CASE("unresolved: resolved, writes work again and every machine reaches one state", "[unresolved][resolve]")
{
  Scene s;
  {
    VaultSession r = VaultSession::open(s.options(), Access::read);
    (void)reveal(r, "prod/api", 0); // an event on ours during the merge
  }
  for (const MergeSide keep : {MergeSide::theirs, MergeSide::ours}) {
    DYNAMIC_SECTION("keep " << merge_side_name(keep))
    {
      const Entry resolved = s.resolve(keep);
      const std::string want = keep == MergeSide::theirs ? "theirs" : "ours";
      // The resolver's machine: its cache is ours (with the event); theirs' entries fork before it.
      VaultSession alice = VaultSession::open(s.f.options(), Access::write);
      CHECK_FALSE(alice.unresolved().has_value());
      CHECK(alice.heads() == std::vector<Hash>{resolved.hash});
      CHECK(alice.state().secret("prod/db")->purpose == want);
      // A machine that verified the common history only continues from its cache (fast path)...
      VaultSessionOptions carol = s.f.options("");
      carol.state_home = s.carol_state;
      const VaultSession continued = VaultSession::open(carol, Access::read);
      CHECK(continued.fast_path());
      // ... and a fresh one replays from the genesis entry: one state.
      VaultSessionOptions fresh_options = s.f.options("");
      fresh_options.state_home = s.f.root / "state-fresh";
      const VaultSession fresh = VaultSession::open(fresh_options, Access::read);
      CHECK_FALSE(fresh.fast_path());
      CHECK(continued.state().digest() == fresh.state().digest());
      CHECK(alice.state().digest() == fresh.state().digest());
      CHECK(continued.state().secret("prod/db")->purpose == want);
      CHECK(continued.heads() == fresh.heads());
      // The voids hold on: the next write builds on the resolved state everywhere.
      const Entry next = alice.submit(purpose_of("prod/api", "after the merge"));
      CHECK(next.parents == std::vector<Hash>{resolved.hash});
      VaultSession continued_again = VaultSession::open(carol, Access::read);
      CHECK(continued_again.fast_path());
      fs::remove_all(fresh_options.state_home);
      const VaultSession fresh_again = VaultSession::open(fresh_options, Access::read);
      CHECK(continued_again.state().digest() == fresh_again.state().digest());
      CHECK(continued_again.state().secret("prod/db")->purpose == want);
      CHECK(verify(continued_again).entries == line_count(slurp(s.f.journal())));
    }
  }
}

// The same at the replay's level: replay_from a snapshot of the common history (where a cached
// machine continues) gives the full replay's state and findings for a resolved merge, whichever
// side the resolve keeps; a snapshot of one side's head needs the full replay.
TEST_CASE("unresolved: a resolve entry's voids hold when the replay continues from a snapshot", "[unresolved][resolve]")
{
  using namespace replay_test;
  const std::string req = "0123456789abcdef";
  World base = team();
  base.run("dave", RequestArgs{k_db, req, 3600}, {}, std::string("debugging"));
  World a = base;
  World b = base;
  b.now += 30;
  const Entry carol_ok = a.run("carol", approval_of_dave(req), {ap(k_db, k_v1, req, "carol")});
  const Entry bob_ok = a.run("bob", approval_of_dave(req), {ap(k_db, k_v1, req, "bob")});
  const Entry used = a.run("dave", GrantUsedArgs{k_db, req});
  const Entry denied = b.run("olive", DenyArgs{k_db, req}, {}, std::string("not on call"));

  struct Choice
  {
    std::string resolver;
    std::set<Hash> voids;
    bool denied;
  };
  for (const Choice& choice : {Choice{"olive", {denied.hash}, false},
                               Choice{"bob", {carol_ok.hash, bob_ok.hash, used.hash}, true}}) {
    DYNAMIC_SECTION("resolved by " << choice.resolver)
    {
      World j = a;
      j.log = union_of(a.log, b.log);
      j.now = std::max(a.now, b.now) + 60;
      j.heads = {a.heads.at(0), b.heads.at(0)};
      const Entry r = j.entry(choice.resolver, ResolveArgs{choice.voids, {}, {}});
      j.log.push_back(r);
      j.heads = {r.hash};
      j.now += 60;
      // Later work on top of the resolved merge: two branches, merged again.
      World left = j;
      World right = j;
      right.now += 30;
      left.add_member("alice", "zed", {Role::requester}, {"dev"});
      ConnectorAddArgs hook;
      hook.name = "hook";
      hook.env = "prod";
      hook.kind = ConnectorKind::manual;
      hook.instructions = "paste it";
      right.run("alice", hook);
      const std::vector<Entry> after_merge = union_of(left.log, right.log);
      World sealed = left;
      sealed.log = after_merge;
      sealed.now = std::max(left.now, right.now) + 60;
      sealed.heads = {left.heads.at(0), right.heads.at(0)};
      sealed.log.push_back(event(sealed, "alice", EventKind::merge, sealed.heads));

      const std::string whole_text = journal_of(sealed.log);
      const ReplayResult whole = replay(whole_text);
      INFO(describe(whole));
      REQUIRE(whole.ok());
      const auto request = whole.state.secret(k_db)->requests.find(req);
      CHECK(request->second.denial.has_value() == choice.denied);
      CHECK(request->second.approvals.empty() == choice.denied);

      const auto from = [&](std::size_t common_lines) {
        const std::vector<std::string> lines = lines_of(whole_text);
        const std::vector<std::string> head_lines(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(common_lines));
        const std::vector<std::string> tail_lines(lines.begin() + static_cast<std::ptrdiff_t>(common_lines), lines.end());
        const ReplayResult prefix = replay(join(head_lines));
        REQUIRE(prefix.ok());
        return replay_from(prefix.snapshot(), join(tail_lines));
      };
      SECTION("from the common history (before either side)")
      {
        const ReplayResult continued = from(base.log.size());
        INFO(describe(continued));
        REQUIRE(continued.ok());
        CHECK(continued.state.digest() == whole.state.digest());
        CHECK(continued.heads == whole.heads);
        CHECK(kinds_of(continued, false) == kinds_of(whole, false));
        CHECK(std::vector<Hash>(whole.order.end() - static_cast<std::ptrdiff_t>(continued.order.size()), whole.order.end())
              == continued.order);
      }
      SECTION("from the resolve entry")
      {
        const std::size_t upto = static_cast<std::size_t>(
          std::find_if(j.log.begin(), j.log.end(), [&](const Entry& e) { return e.hash == r.hash; }) - j.log.begin() + 1);
        const ReplayResult continued = from(upto);
        INFO(describe(continued));
        REQUIRE(continued.ok());
        CHECK(continued.state.digest() == whole.state.digest());
      }
      SECTION("from ours' head: theirs forks before it, the whole journal is replayed")
      {
        CHECK(from(a.log.size()).needs_full_replay);
      }
    }
  }
}
