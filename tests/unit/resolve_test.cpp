// escrow resolve's library (lib/escrow/history/resolve.hpp) and the replay of a resolve entry
// (replay.cpp, merge_check.cpp, authorize.cpp may_void): the conflicts listed and grouped, the
// voids a choice makes (closure included), and a resolve entry honoured at its merge point only
// when it is at a merge, voids operations of that merge, is signed by someone with the authority
// (the author of a voided operation, or who could have done it) and leaves a merge that passes
// the check; every forged variant is an error (exit 3 in verify).
#include "foundation_support.hpp"
#include "replay_support.hpp"

#include <escrow/history/resolve.hpp>
#include <escrow/history/vault_session.hpp>

using namespace replay_test;
using escrow::test::require_error;

namespace {

// The merge of `x` and `y` as the tests join them: both logs, both heads as the parents, a minute
// after the later side.
World merge_of(const World& x, const World& y)
{
  World j = x;
  j.log = union_of(x.log, y.log);
  j.now = std::max(x.now, y.now) + 60;
  j.heads = {x.heads.at(0), y.heads.at(0)};
  return j;
}

// The journal of that merge with a resolve entry by `actor` carrying `args`.
std::string resolved_journal(const World& x, const World& y, const std::string& actor, ResolveArgs args)
{
  World j = merge_of(x, y);
  j.log.push_back(j.entry(actor, std::move(args)));
  return journal_of(j.log);
}

// Every conflict of the merge of `a` and `b` kept exposed (each listed as such), one choice at a
// time since a choice can leave another, as `resolver` would: the choices once none is left,
// none refused.
ResolveArgs all_kept_exposed(const World& a, const World& b, const std::string& resolver)
{
  const MergeAnalysis m = analyse_merge(journal_of(a.log), journal_of(b.log), {}, "");
  REQUIRE_FALSE(m.conflicts.empty());
  CHECK(m.conflicts.front().suggestion == SuggestionKind::keep_exposed);
  ResolveArgs choice = keep_exposed(m, 0);
  for (std::size_t n = 0; n < 8; ++n) {
    const MergeAnalysis step = analyse_choices(journal_of(a.log), journal_of(b.log), choice, resolver);
    if (step.conflicts.empty()) {
      CHECK(step.refusals.empty());
      return choice;
    }
    choice = keep_exposed(step, 0);
  }
  FAIL("conflicts left after 8 choices");
  return choice;
}

const std::string k_req = "0123456789abcdef";

// The common history: dave's request. Ours (a): carol and bob approve, dave uses the grant.
// Theirs (b): olive (the owner) denies.
struct Race
{
  World base;
  World a;
  World b;
  Entry carol_ok;
  Entry bob_ok;
  Entry used;
  Entry denied;

  Race()
  {
    base = team();
    base.run("dave", RequestArgs{k_db, k_req, 3600}, {}, std::string("debugging"));
    a = base;
    b = base;
    b.now += 30;
    carol_ok = a.run("carol", approval_of_dave(k_req), {ap(k_db, k_v1, k_req, "carol")});
    bob_ok = a.run("bob", approval_of_dave(k_req), {ap(k_db, k_v1, k_req, "bob")});
    used = a.run("dave", GrantUsedArgs{k_db, k_req});
    denied = b.run("olive", DenyArgs{k_db, k_req}, {}, std::string("not on call"));
  }

  // The union with a resolve entry by `actor` voiding `voids`, naming `parents` (default: both heads).
  std::string resolved(const std::string& actor, std::set<Hash> voids, std::optional<std::vector<Hash>> parents = {})
  {
    World j = merge_of(a, b);
    if (parents) {
      j.heads = *parents;
    }
    j.log.push_back(j.entry(actor, ResolveArgs{std::move(voids), {}, {}}));
    return journal_of(j.log);
  }
};

bool has_finding(const ReplayResult& r, FindingKind kind)
{
  return std::any_of(r.findings.begin(), r.findings.end(), [kind](const Finding& f) { return f.kind == kind; });
}

} // namespace

TEST_CASE("resolve: the conflicts of a merge, grouped and suggested", "[history][resolve]")
{
  Race r;
  const MergeAnalysis m = analyse_merge(journal_of(r.a.log), journal_of(r.b.log), {}, "");
  REQUIRE(m.conflicts.size() == 1);
  const MergeConflict& c = m.conflicts.front();
  CHECK(c.ours.size() == 3);
  REQUIRE(c.theirs.size() == 1);
  CHECK(c.theirs.front().hash == r.denied.hash);
  CHECK(c.theirs.front().actor == "olive");
  CHECK(c.theirs.front().action == "deny");
  CHECK(std::find(c.objects.begin(), c.objects.end(), "s:" + k_db) != c.objects.end());
  CHECK(c.suggestion == SuggestionKind::keep);
  CHECK(c.keep == MergeSide::theirs); // keep the denial
  CHECK(m.heads == std::vector<Hash>{r.a.heads.at(0), r.b.heads.at(0)});

  SECTION("the same from the other side: the suggestion follows the denial")
  {
    const MergeAnalysis n = analyse_merge(journal_of(r.b.log), journal_of(r.a.log), {}, "");
    REQUIRE(n.conflicts.size() == 1);
    CHECK(n.conflicts.front().keep == MergeSide::ours);
  }
  SECTION("no merge: theirs adds nothing")
  {
    CHECK_THROWS_AS(analyse_merge(journal_of(r.a.log), journal_of(r.base.log), {}, ""), Error);
  }
}

TEST_CASE("resolve: keeping a side voids the other's operations and their closure", "[history][resolve]")
{
  Race r;
  const MergeAnalysis m = analyse_merge(journal_of(r.a.log), journal_of(r.b.log), {}, "");
  REQUIRE(m.conflicts.size() == 1);

  SECTION("keep theirs: both approvals and the grant's use are void")
  {
    const std::set<Hash> voids = keep_side(m, 0, MergeSide::theirs);
    CHECK(voids == std::set<Hash>{r.carol_ok.hash, r.bob_ok.hash, r.used.hash});
    const MergeAnalysis after = analyse_merge(journal_of(r.a.log), journal_of(r.b.log), voids, "bob");
    CHECK(after.conflicts.empty());
    CHECK(after.refusals.empty()); // bob: his own approval, carol's he could have made, dave's use is closure
    const MergeAnalysis olive = analyse_merge(journal_of(r.a.log), journal_of(r.b.log), voids, "olive");
    CHECK_FALSE(olive.refusals.empty()); // the owner may deny but not approve: she may not void approvals
  }
  SECTION("keep ours: the denial is void")
  {
    const std::set<Hash> voids = keep_side(m, 0, MergeSide::ours);
    CHECK(voids == std::set<Hash>{r.denied.hash});
    const MergeAnalysis after = analyse_merge(journal_of(r.a.log), journal_of(r.b.log), voids, "carol");
    CHECK(after.conflicts.empty());
    CHECK(after.refusals.empty()); // carol, a custodian, may deny: she may undo a denial
    const MergeAnalysis erin = analyse_merge(journal_of(r.a.log), journal_of(r.b.log), voids, "erin");
    REQUIRE(erin.refusals.size() == 1);
    CHECK_THAT(erin.refusals.front(), Catch::Contains("erin may not void entry"));
  }
  SECTION("a void without its closure leaves a conflict")
  {
    // carol's approval void, dave's use of the grant it made kept: fails without it.
    const MergeAnalysis partial =
      analyse_merge(journal_of(r.a.log), journal_of(r.b.log), {r.carol_ok.hash, r.denied.hash}, "carol");
    CHECK_FALSE(partial.conflicts.empty());
  }
  SECTION("a number out of range is a usage error")
  {
    (void)require_error(ErrorKind::usage, [&] { (void)keep_side(m, 1, MergeSide::ours); });
  }
}

TEST_CASE("resolve: a resolve entry replayed at its merge point", "[history][resolve]")
{
  Race r;
  SECTION("the author of the voided denial: the merge is sealed, the approval stands")
  {
    const ReplayResult rr = replay(r.resolved("olive", {r.denied.hash}));
    INFO(describe(rr));
    REQUIRE(rr.ok());
    const auto request = rr.state.secret(k_db)->requests.find(k_req);
    REQUIRE(request != rr.state.secret(k_db)->requests.end());
    CHECK_FALSE(request->second.denial.has_value());
    CHECK(request->second.used_at.has_value());
  }
  SECTION("who could have done it (carol, a custodian, may deny) may undo it")
  {
    const ReplayResult rr = replay(r.resolved("carol", {r.denied.hash}));
    INFO(describe(rr));
    CHECK(rr.ok());
  }
  SECTION("keeping the denial: the approvals and the grant's use void, the request denied")
  {
    // bob: his own approval; carol's he could have made; dave's use is their closure (no authority needed).
    const ReplayResult rr = replay(r.resolved("bob", {r.carol_ok.hash, r.bob_ok.hash, r.used.hash}));
    INFO(describe(rr));
    REQUIRE(rr.ok());
    const auto request = rr.state.secret(k_db)->requests.find(k_req);
    CHECK(request->second.denial.has_value());
    CHECK(request->second.approvals.empty());
    CHECK_FALSE(request->second.used_at.has_value());
  }
  SECTION("forged: dave may withdraw his use of the grant but not the approvals")
  {
    const ReplayResult rr = replay(r.resolved("dave", {r.carol_ok.hash, r.bob_ok.hash, r.used.hash}));
    CHECK(rr.has_errors());
    CHECK(has_finding(rr, FindingKind::unauthorised_operation));
  }
  SECTION("forged: a resolver without the authority (erin may not deny)")
  {
    const ReplayResult rr = replay(r.resolved("erin", {r.denied.hash}));
    CHECK(rr.has_errors());
    CHECK(has_finding(rr, FindingKind::unauthorised_operation));
  }
  SECTION("forged: voids that leave the conflict (the closure missing)")
  {
    const ReplayResult rr = replay(r.resolved("carol", {r.carol_ok.hash, r.denied.hash}));
    CHECK(rr.has_errors());
    CHECK(has_finding(rr, FindingKind::unresolved_conflict));
  }
  SECTION("forged: a void of an entry that is not an operation of the merge")
  {
    const Hash common_request = r.base.log.back().hash;
    const ReplayResult rr = replay(r.resolved("olive", {r.denied.hash, common_request}));
    CHECK(rr.has_errors());
    CHECK(has_finding(rr, FindingKind::unauthorised_operation));
  }
  SECTION("forged: a resolve entry that is not at a merge point")
  {
    World j = r.a;
    j.log.push_back(j.entry("carol", ResolveArgs{{r.carol_ok.hash}, {}, {}}));
    const ReplayResult rr = replay(journal_of(j.log));
    CHECK(rr.has_errors());
    CHECK(has_finding(rr, FindingKind::unauthorised_operation));
  }
  SECTION("a rotate-start is never voided unless its side cancelled it")
  {
    Race q;
    q.b = q.base;
    q.b.now += 30;
    const Entry start = q.b.run("erin", RotateStartArgs{{next_version(q.b, k_v2)}},
                                {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
    q.denied = start;
    World j = merge_of(q.a, q.b);
    j.log.push_back(j.entry("erin", ResolveArgs{{start.hash}, {}, {}}));
    const ReplayResult rr = replay(journal_of(j.log));
    CHECK(rr.has_errors());
  }
}

namespace {

// A rotation race on prod/db (vault-2-merge.md §5): ours (a) erin rotates to k_v2, theirs (b) olive
// rotates to k_v3, both v2, each finished. With `new_generation` each side starts generation 2
// with its own reader key (what the rotation engine does); otherwise both reuse generation 1.
struct RotationRace
{
  World base;
  World a;
  World b;
  Entry start_a;
  Entry finish_a;
  Entry start_b;
  Entry finish_b;

  explicit RotationRace(bool new_generation)
  {
    base = team();
    a = base;
    b = base;
    b.now += 30;
    b.key_hash = [](const KeyLine& line) { return fake_k(line, 1); }; // another sealing, another K
    start_a = a.run("erin", RotateStartArgs{{item(a, k_v2, "rk-a", new_generation)}}, lines(k_v2, new_generation));
    finish_a = a.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
    start_b = b.run("olive", RotateStartArgs{{item(b, k_v3, "rk-b", new_generation)}}, lines(k_v3, new_generation));
    finish_b = b.run("olive", RotateFinishArgs{{FinishItem{k_db, k_v3}}});
  }

  static RotateItem item(const World& w, const std::string& vid, const std::string& rk_label, bool new_generation)
  {
    RotateItem i = next_version(w, vid);
    i.dk_commit = commit("dk-" + vid);
    if (new_generation) {
      i.gen = 2;
      i.new_gen_rk_commit = commit(rk_label);
    }
    return i;
  }

  static std::vector<KeyLine> lines(const std::string& vid, bool new_generation)
  {
    std::vector<KeyLine> out{vline(k_db, vid), sh(k_db, vid, "bob"), sh(k_db, vid, "carol")};
    if (new_generation) {
      out.push_back(rk(k_db, 2, "erin"));
      out.push_back(rk(k_db, 2, "olive"));
    }
    return out;
  }

  MergeAnalysis analysis(const ResolveArgs& choices = {}, const std::string& resolver = "") const
  {
    return analyse_choices(journal_of(a.log), journal_of(b.log), choices, resolver);
  }

  // The union with a resolve entry by `actor` carrying `args` at the merge of both heads.
  std::string resolved(const std::string& actor, ResolveArgs args) const
  {
    return resolved_journal(a, b, actor, std::move(args));
  }
};

ResolveArgs race_choice(std::string current, std::string other, std::int64_t renumbered)
{
  ResolveArgs args;
  args.rotations.push_back(RaceResolution{k_db, std::move(current), {{std::move(other), renumbered}}});
  return args;
}

// ours (a): olive rotates prod/db to a new generation sealed to erin and herself; theirs (b):
// alice removes erin. In theirs-then-ours the rotation seals to a removed member.
struct ExposedRotation
{
  World base;
  World a;
  World b;
  Entry start;
  Entry finish;
  Entry removal;

  ExposedRotation()
  {
    base = team();
    a = base;
    b = base;
    b.now += 30;
    RotateItem i = next_version(a, k_v2);
    i.gen = 2;
    i.new_gen_rk_commit = commit("rk2");
    start = a.run("olive", RotateStartArgs{{i}},
                  {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol"), rk(k_db, 2, "erin"),
                   rk(k_db, 2, "olive")});
    finish = a.run("olive", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
    removal = b.run("alice", MemberRemoveArgs{"erin"});
  }

  std::string resolved(const std::string& actor, ResolveArgs args) const
  {
    return resolved_journal(a, b, actor, std::move(args));
  }
};

} // namespace

TEST_CASE("resolve --current: a rotation race listed, chosen and checked", "[history][resolve]")
{
  const RotationRace r(false);
  const MergeAnalysis m = r.analysis();
  REQUIRE(m.conflicts.size() == 1);
  const MergeConflict& c = m.conflicts.front();
  CHECK(c.suggestion == SuggestionKind::rotation_race);
  CHECK(c.secret == k_db);
  REQUIRE(c.race.size() == 2);
  CHECK(c.race[0].vid == k_v2);
  CHECK(c.race[1].vid == k_v3);
  CHECK(c.race[0].v == 2);
  CHECK(c.race[0].ended);
  CHECK(c.current == k_v3); // both finished: the one finished most recently (theirs, later)

  SECTION("choosing ours' version: the other renumbered 1 + max v, nothing left")
  {
    const ResolveArgs choice = choose_current(m, k_db, k_v2);
    REQUIRE(choice.rotations.size() == 1);
    CHECK(choice.rotations[0].current == k_v2);
    CHECK(choice.rotations[0].renumber == std::map<std::string, std::int64_t>{{k_v3, 3}});
    CHECK(choice.voided.empty());
    const MergeAnalysis after = r.analysis(choice, "erin");
    CHECK(after.conflicts.empty());
    CHECK(after.refusals.empty());
    const MergeAnalysis olive = r.analysis(choice, "olive"); // the owner may too
    CHECK(olive.refusals.empty());
    const MergeAnalysis dave = r.analysis(choice, "dave"); // neither owner nor rotator
    REQUIRE_FALSE(dave.refusals.empty());
    CHECK_THAT(dave.refusals.front(), Catch::Contains("dave may not settle the rotation race of prod/db"));
  }
  SECTION("a secret without a race, a version not in it: usage errors")
  {
    const auto kind_of = [&](const std::string& secret, const std::string& vid) {
      try {
        (void)choose_current(m, secret, vid);
      } catch (const Error& error) {
        return error.kind();
      }
      return ErrorKind::io; // no error at all
    };
    CHECK(kind_of("prod/other", k_v2) == ErrorKind::usage);
    CHECK(kind_of(k_db, k_v1) == ErrorKind::usage);
    CHECK(kind_of(k_db, "0123456789abcdef") == ErrorKind::usage);
  }
  SECTION("keeping a side is refused: a rotation is never voided")
  {
    CHECK_THAT(require_error(ErrorKind::failed, [&] { (void)keep_side(m, 0, MergeSide::ours); }),
               !Catch::Contains("not available"));
  }
}

TEST_CASE("resolve --current: the resolve entry replayed", "[history][resolve]")
{
  for (const bool new_generation : {false, true}) {
    DYNAMIC_SECTION((new_generation ? "each side a new generation" : "one generation"))
    {
      const RotationRace r(new_generation);
      SECTION("by a rotator: both versions kept, the chosen one previous, the other current and renumbered")
      {
        const ReplayResult rr = replay(r.resolved("erin", race_choice(k_v2, k_v3, 3)));
        INFO(describe(rr));
        REQUIRE(rr.ok());
        const Secret& s = *rr.state.secret(k_db);
        REQUIRE(s.find(k_v2) != nullptr);
        REQUIRE(s.find(k_v3) != nullptr);
        CHECK(s.find(k_v2)->state == VersionState::previous);
        CHECK(s.find(k_v2)->v == 2);
        CHECK(s.find(k_v3)->state == VersionState::current);
        CHECK(s.find(k_v3)->v == 3);
        CHECK(s.find(k_v1)->state == VersionState::previous);
        CHECK_FALSE(s.rotation.has_value());
        CHECK(s.due.count("rotation race resolved: the connectors may hold either version") == 1);
        // Both versions keep their lines: every reader of one can read the other.
        for (const std::string& vid : {k_v2, k_v3}) {
          const Generation* g = s.generation_of(*s.find(vid));
          REQUIRE(g != nullptr);
          CHECK(g->holders.count("olive") == 1);
        }
        if (new_generation) {
          CHECK(s.gens.at(2).rk_commit == commit("rk-a")); // the chosen side's generation 2
          REQUIRE(s.find(k_v3)->race_gen.has_value());
          CHECK(s.find(k_v3)->race_gen->rk_commit == commit("rk-b")); // theirs' own generation 2
          // The record round-trips (the cache's snapshot) with the race generation.
          const Json record = to_json(s);
          CHECK(to_json(secret_from_json(record, k_db, "test")) == record);
        } else {
          CHECK_FALSE(s.find(k_v3)->race_gen.has_value());
        }
        const std::set<std::string> keys = referenced_line_keys(rr.state);
        CHECK(keys.count(line_key(vline(k_db, k_v2), fake_k(vline(k_db, k_v2)))) == 1);
        CHECK(keys.count(line_key(vline(k_db, k_v3), fake_k(vline(k_db, k_v3), 1))) == 1);
        if (new_generation) {
          CHECK(keys.count(line_key(rk(k_db, 2, "olive"), fake_k(rk(k_db, 2, "olive"), 1))) == 1);
          CHECK(keys.count(line_key(rk(k_db, 2, "olive"), fake_k(rk(k_db, 2, "olive")))) == 1);
        }
      }
      SECTION("the same merge sealed without a resolve entry is an unresolved conflict")
      {
        World j = merge_of(r.a, r.b);
        j.log.push_back(event(j, "erin", EventKind::merge, j.heads));
        const ReplayResult rr = replay(journal_of(j.log));
        CHECK(has_finding(rr, FindingKind::unresolved_conflict));
      }
      SECTION("forged: by a member who may not rotate prod/db")
      {
        const ReplayResult rr = replay(r.resolved("dave", race_choice(k_v2, k_v3, 3)));
        CHECK(rr.has_errors());
        CHECK(has_finding(rr, FindingKind::unauthorised_operation));
      }
      SECTION("forged: a renumbering that is not 1 + max v")
      {
        const ReplayResult rr = replay(r.resolved("erin", race_choice(k_v2, k_v3, 7)));
        CHECK(has_finding(rr, FindingKind::unauthorised_operation));
      }
      SECTION("forged: a current version that is not one of the race's")
      {
        const ReplayResult rr = replay(r.resolved("erin", race_choice(k_v1, k_v3, 3)));
        CHECK(has_finding(rr, FindingKind::unauthorised_operation));
      }
      SECTION("forged: a race of a secret the merge did not rotate")
      {
        ResolveArgs args = race_choice(k_v2, k_v3, 3);
        args.rotations.insert(args.rotations.begin(), RaceResolution{"dev/none", k_v2, {{k_v3, 3}}});
        const ReplayResult rr = replay(r.resolved("erin", args));
        CHECK(has_finding(rr, FindingKind::unauthorised_operation));
      }
    }
  }
}

TEST_CASE("resolve --keep-exposed: a rotation sealed to a member removed concurrently", "[history][resolve]")
{
  const ExposedRotation r;
  const MergeAnalysis m = analyse_merge(journal_of(r.a.log), journal_of(r.b.log), {}, "");
  REQUIRE(m.conflicts.size() == 1);
  const MergeConflict& c = m.conflicts.front();
  CHECK(c.suggestion == SuggestionKind::keep_exposed);

  SECTION("keep exposed: the rotation's operations, the merge passes, the owner may")
  {
    const ResolveArgs choice = keep_exposed(m, 0);
    CHECK(choice.exposed == std::set<Hash>{r.start.hash, r.finish.hash});
    CHECK(choice.voided.empty());
    const MergeAnalysis after = analyse_choices(journal_of(r.a.log), journal_of(r.b.log), choice, "olive");
    CHECK(after.conflicts.empty());
    CHECK(after.refusals.empty());
    const MergeAnalysis carol = analyse_choices(journal_of(r.a.log), journal_of(r.b.log), choice, "carol");
    CHECK_FALSE(carol.refusals.empty()); // a custodian may not rotate
  }
  SECTION("the resolve entry replayed: the version stays, the secret is due")
  {
    ResolveArgs args;
    args.exposed = {r.start.hash, r.finish.hash};
    const ReplayResult rr = replay(r.resolved("olive", args));
    INFO(describe(rr));
    REQUIRE(rr.ok());
    const Secret& s = *rr.state.secret(k_db);
    REQUIRE(s.find(k_v2) != nullptr);
    CHECK(s.find(k_v2)->state == VersionState::current);
    CHECK(s.due.count("exposed to erin by a concurrent rotation") == 1);
    CHECK(s.gens.at(2).ever.count("erin") == 1); // the next rotation starts a new generation
    CHECK_FALSE(rr.state.member("erin")->active());
  }
  SECTION("forged: kept exposed by someone who may not rotate it")
  {
    ResolveArgs args;
    args.exposed = {r.start.hash, r.finish.hash};
    const ReplayResult rr = replay(r.resolved("carol", args));
    CHECK(has_finding(rr, FindingKind::unauthorised_operation));
  }
  SECTION("forged: an exposed entry that is not a rotation")
  {
    ResolveArgs args;
    args.exposed = {r.start.hash, r.finish.hash, r.removal.hash};
    const ReplayResult rr = replay(r.resolved("olive", args));
    CHECK(has_finding(rr, FindingKind::unauthorised_operation));
  }
}

TEST_CASE("resolve --keep-exposed: the removed member's own rotation (strong remove)", "[history][resolve]")
{
  World base = team();
  World a = base;
  World b = base;
  b.now += 30;
  RotateItem i = next_version(a, k_v2);
  const Entry start = a.run("erin", RotateStartArgs{{i}}, {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
  const Entry finish = a.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
  b.run("alice", MemberRemoveArgs{"erin"});
  const ResolveArgs choice = all_kept_exposed(a, b, "");
  CHECK(choice.exposed == std::set<Hash>{start.hash, finish.hash});
  const ReplayResult rr = replay(resolved_journal(a, b, "olive", choice));
  INFO(describe(rr));
  REQUIRE(rr.ok());
  const Secret& s = *rr.state.secret(k_db);
  CHECK(s.find(k_v2)->state == VersionState::current);
  CHECK(s.due.count("rotated by erin concurrently with their removal") == 1);
}

TEST_CASE("resolve --current: a second race over a settled one replays the same from a snapshot", "[history][resolve]")
{
  // A later merge's common state starts from the settled race (replay.cpp m_settled), not from a
  // re-fold of both sides' rotations: the full replay and the replay from a snapshot agree.
  const RotationRace r(false);
  const std::string first = r.resolved("erin", race_choice(k_v2, k_v3, 3));
  const ReplayResult full_first = replay(first);
  INFO(describe(full_first));
  REQUIRE(full_first.ok());
  World j = r.a;
  j.log = union_of(r.a.log, r.b.log);
  j.log.push_back(parse_entry(lines_of(first).back(), "resolve"));
  j.state = full_first.state;
  j.heads = {j.log.back().hash};
  j.now = std::max(r.a.now, r.b.now) + 120;
  World a2 = j;
  World b2 = j;
  b2.now += 30;
  const std::string k_v4 = "00000000000000d4";
  const std::string k_v5 = "00000000000000e5";
  RotateItem ia = next_version(a2, k_v4);
  ia.dk_commit = commit("dk-v4");
  a2.run("erin", RotateStartArgs{{ia}}, {vline(k_db, k_v4), sh(k_db, k_v4, "bob"), sh(k_db, k_v4, "carol")});
  a2.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v4}}});
  RotateItem ib = next_version(b2, k_v5);
  ib.dk_commit = commit("dk-v5");
  b2.run("olive", RotateStartArgs{{ib}}, {vline(k_db, k_v5), sh(k_db, k_v5, "bob"), sh(k_db, k_v5, "carol")});
  b2.run("olive", RotateFinishArgs{{FinishItem{k_db, k_v5}}});
  World m = merge_of(a2, b2);
  m.log.push_back(m.entry("erin", race_choice(k_v4, k_v5, 5)));
  const std::string second = journal_of(m.log);
  REQUIRE(second.compare(0, first.size(), first) == 0);
  const ReplayResult full = replay(second);
  INFO(describe(full));
  REQUIRE(full.ok());
  const ReplayResult from = replay_from(full_first.snapshot(), std::string_view(second).substr(first.size()));
  INFO(describe(from));
  REQUIRE(from.ok());
  CHECK(full.state.digest() == from.state.digest());
  const Secret& s = *full.state.secret(k_db);
  CHECK(s.find(k_v3)->v == 3); // the first race's renumbering survives the second merge
  CHECK(s.find(k_v5)->state == VersionState::current);
  CHECK(s.find(k_v5)->v == 5);
  CHECK(s.find(k_v4)->state == VersionState::previous);
}

TEST_CASE("resolve --current: unsharing takes the member's key of the race's own generation too", "[history][resolve]")
{
  World base = team();
  base.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
  World a = base;
  World b = base;
  b.now += 30;
  b.key_hash = [](const KeyLine& line) { return fake_k(line, 1); };
  const auto rotate = [](World& w, const std::string& actor, const std::string& vid, const std::string& rk_label) {
    RotateItem i = next_version(w, vid);
    i.dk_commit = commit("dk-" + vid);
    i.gen = 2;
    i.new_gen_rk_commit = commit(rk_label);
    w.run(actor, RotateStartArgs{{i}},
          {vline(k_db, vid), sh(k_db, vid, "bob"), sh(k_db, vid, "carol"), rk(k_db, 2, "dave"), rk(k_db, 2, "erin"),
           rk(k_db, 2, "olive")});
    w.run(actor, RotateFinishArgs{{FinishItem{k_db, vid}}});
  };
  rotate(a, "erin", k_v2, "rk-a");
  rotate(b, "olive", k_v3, "rk-b");
  World j = merge_of(a, b);
  j.log.push_back(j.entry("erin", race_choice(k_v2, k_v3, 3)));
  const ReplayResult settled = replay(journal_of(j.log));
  INFO(describe(settled));
  REQUIRE(settled.ok());
  j.state = settled.state;
  j.heads = {j.log.back().hash};
  j.now += 60;
  {
    const Secret& s = *j.state.secret(k_db);
    REQUIRE(s.find(k_v3)->race_gen.has_value());
    CHECK(s.find(k_v3)->race_gen->holders.count("dave") == 1);
    CHECK(can_read(j.state, "dave", s, k_v3, j.now));
  }
  j.run("olive", UnshareArgs{k_db, "dave"});
  const Secret& s = *j.state.secret(k_db);
  CHECK(s.find(k_v3)->race_gen->holders.count("dave") == 0);
  CHECK(s.gens.at(2).holders.count("dave") == 0);
  CHECK_FALSE(can_read(j.state, "dave", s, k_v3, j.now));
  CHECK_FALSE(can_read(j.state, "dave", s, k_v2, j.now));
  CHECK(s.due.count("unshared from dave") == 1);
  const ReplayResult rr = replay(journal_of(j.log));
  INFO(describe(rr));
  REQUIRE(rr.ok());
  CHECK(rr.state.digest() == j.state.digest());
}

TEST_CASE("resolve --current: new work merged with a settled race the other side lacks", "[history][resolve]")
{
  // Ours resolved the race; theirs (the other side of the race) went on without the resolution
  // (a member added). The merge takes ours' settled part as a fixed prefix (MergeInput::ours_settled).
  const RotationRace r(false);
  const std::string first = r.resolved("erin", race_choice(k_v2, k_v3, 3));
  REQUIRE(replay(first).ok());
  std::vector<Entry> ours;
  for (const std::string& line : lines_of(first)) {
    ours.push_back(parse_entry(line, "ours"));
  }
  World c = r.b;
  c.add_member("alice", "zoe", {Role::requester}, {"prod"});
  World j = c;
  j.log = union_of(ours, c.log);
  j.now = std::max(c.now, r.a.now) + 120;
  const Entry m = event(j, "alice", EventKind::merge, {ours.back().hash, c.heads.at(0)});
  j.log.push_back(m);
  const ReplayResult rr = replay(journal_of(j.log));
  INFO(describe(rr));
  REQUIRE(rr.ok());
  CHECK(rr.state.member("zoe") != nullptr);
  const Secret& s = *rr.state.secret(k_db);
  CHECK(s.find(k_v3)->state == VersionState::current);
  CHECK(s.find(k_v3)->v == 3);
  CHECK(s.find(k_v2)->state == VersionState::previous);
  // The same from theirs' side (their journal first): the same state.
  World k = c;
  k.log = union_of(c.log, ours);
  k.now = j.now;
  k.log.push_back(event(k, "alice", EventKind::merge, {c.heads.at(0), ours.back().hash}));
  const ReplayResult rk_ = replay(journal_of(k.log));
  INFO(describe(rk_));
  REQUIRE(rk_.ok());
  CHECK(rk_.state.digest() == rr.state.digest());
}

namespace {

// A rotation race in which each side rotated prod/db more than once since the common history
// (vault-2-merge.md §5 "As built"): ours (a) erin rotates to k_a2 then k_a3; theirs (b) olive
// rotates to k_b2, then (`twice_b`) to k_b3; every rotation finished. With `new_generation` each
// rotation starts its own generation (2, then 3) with its own reader key, as the engine does.
const std::string k_a2 = "00000000000000a2";
const std::string k_a3 = "00000000000000a3";
const std::string k_b2 = "00000000000000b2";
const std::string k_b3 = "00000000000000b3";

struct MultiRace
{
  World base;
  World a;
  World b;
  std::vector<Entry> rotations_a;
  std::vector<Entry> rotations_b;

  MultiRace(bool new_generation, bool twice_b)
  {
    base = team();
    a = base;
    b = base;
    b.now += 30;
    b.key_hash = [](const KeyLine& line) { return fake_k(line, 1); };
    rotate(a, "erin", k_a2, "rk-a2", new_generation, rotations_a);
    rotate(a, "erin", k_a3, "rk-a3", new_generation, rotations_a);
    rotate(b, "olive", k_b2, "rk-b2", new_generation, rotations_b);
    if (twice_b) {
      rotate(b, "olive", k_b3, "rk-b3", new_generation, rotations_b);
    }
  }

  static void rotate(World& w, const std::string& actor, const std::string& vid, const std::string& rk_label,
                     bool new_generation, std::vector<Entry>& made)
  {
    RotateItem i = next_version(w, vid);
    i.dk_commit = commit("dk-" + vid);
    std::vector<KeyLine> lines{vline(k_db, vid), sh(k_db, vid, "bob"), sh(k_db, vid, "carol")};
    if (new_generation) {
      i.gen = w.state.secret(k_db)->current_gen() + 1;
      i.new_gen_rk_commit = commit(rk_label);
      lines.push_back(rk(k_db, i.gen, "erin"));
      lines.push_back(rk(k_db, i.gen, "olive"));
    }
    made.push_back(w.run(actor, RotateStartArgs{{i}}, lines));
    made.push_back(w.run(actor, RotateFinishArgs{{FinishItem{k_db, vid}}}));
  }

  MergeAnalysis analysis(const ResolveArgs& choices = {}, const std::string& resolver = "") const
  {
    return analyse_choices(journal_of(a.log), journal_of(b.log), choices, resolver);
  }

  World joined() const
  {
    return merge_of(a, b);
  }

  std::string resolved(const std::string& actor, ResolveArgs args) const
  {
    return resolved_journal(a, b, actor, std::move(args));
  }
};

ResolveArgs multi_choice(std::string current, std::map<std::string, std::int64_t> renumber)
{
  ResolveArgs args;
  args.rotations.push_back(RaceResolution{k_db, std::move(current), std::move(renumber)});
  return args;
}

} // namespace

TEST_CASE("resolve --current: a race in which both sides rotated more than once", "[history][resolve][merge]")
{
  const MultiRace r(false, true);
  const MergeAnalysis m = r.analysis();
  INFO(m.conflicts.size());
  REQUIRE(m.conflicts.size() == 1); // one conflict per race, however many rotations
  const MergeConflict& c = m.conflicts.front();
  CHECK(c.suggestion == SuggestionKind::rotation_race);
  CHECK(c.secret == k_db);
  REQUIRE(c.race.size() == 4);
  CHECK(c.race[0].vid == k_a2);
  CHECK(c.race[1].vid == k_a3);
  CHECK(c.race[2].vid == k_b2);
  CHECK(c.race[3].vid == k_b3);
  CHECK(c.race[1].v == 3);
  CHECK(c.race[2].side == MergeSide::theirs);
  for (const RaceVersion& v : c.race) {
    CHECK(v.ended);
  }
  CHECK(c.current == k_b3); // finished most recently (theirs, 30 s later)

  SECTION("theirs' first version chosen: ours' versions renumbered after theirs, in ours' order")
  {
    const ResolveArgs choice = choose_current(m, k_db, k_b2);
    REQUIRE(choice.rotations.size() == 1);
    CHECK(choice.rotations[0].current == k_b2);
    CHECK(choice.rotations[0].renumber == std::map<std::string, std::int64_t>{{k_a2, 4}, {k_a3, 5}});
    const MergeAnalysis after = r.analysis(choice, "erin");
    CHECK(after.conflicts.empty());
    CHECK(after.refusals.empty());
    const MergeAnalysis dave = r.analysis(choice, "dave");
    REQUIRE_FALSE(dave.refusals.empty());
    CHECK_THAT(dave.refusals.front(), Catch::Contains("dave may not settle the rotation race of prod/db"));
  }
  SECTION("ours' first version chosen: theirs renumbered")
  {
    const ResolveArgs choice = choose_current(m, k_db, k_a2);
    CHECK(choice.rotations[0].renumber == std::map<std::string, std::int64_t>{{k_b2, 4}, {k_b3, 5}});
    CHECK(r.analysis(choice, "olive").conflicts.empty());
  }
  SECTION("a version that is not the race's, a rotation voided: refused")
  {
    CHECK_THAT(require_error(ErrorKind::usage, [&] { (void)choose_current(m, k_db, k_v1); }),
               Catch::Contains("is not one of the versions of its rotation race"));
    (void)require_error(ErrorKind::failed, [&] { (void)keep_side(m, 0, MergeSide::theirs); });
  }
}

TEST_CASE("resolve --current: a multi-rotation race replayed, re-applied, and forged", "[history][resolve][merge]")
{
  for (const bool new_generation : {false, true}) {
    DYNAMIC_SECTION((new_generation ? "a generation per rotation" : "one generation"))
    {
      const MultiRace r(new_generation, true);
      SECTION("every version either side made stays with its lines; theirs' first chosen")
      {
        const std::string text = r.resolved("erin", multi_choice(k_b2, {{k_a2, 4}, {k_a3, 5}}));
        const ReplayResult rr = replay(text);
        INFO(describe(rr));
        REQUIRE(rr.ok());
        const Secret& s = *rr.state.secret(k_db);
        for (const std::string& vid : {k_a2, k_a3, k_b2, k_b3}) {
          REQUIRE(s.find(vid) != nullptr);
          const Generation* g = s.generation_of(*s.find(vid));
          REQUIRE(g != nullptr);
          CHECK(g->holders.count("olive") == 1);
        }
        CHECK(s.find(k_b2)->v == 2);
        CHECK(s.find(k_b3)->v == 3);
        CHECK(s.find(k_a2)->v == 4);
        CHECK(s.find(k_a3)->v == 5);
        CHECK(s.find(k_b2)->state == VersionState::previous); // chosen: re-applied next
        CHECK(s.find(k_a3)->state == VersionState::current);  // ours' current, until the re-apply
        CHECK(s.find(k_b3)->state == VersionState::previous);
        CHECK(s.find(k_a2)->state == VersionState::previous);
        CHECK(s.due.count("rotation race resolved: the connectors may hold either version") == 1);
        if (new_generation) {
          CHECK(s.gens.at(2).rk_commit == commit("rk-b2"));
          CHECK(s.gens.at(3).rk_commit == commit("rk-b3"));
          REQUIRE(s.find(k_a2)->race_gen.has_value());
          CHECK(s.find(k_a2)->race_gen->rk_commit == commit("rk-a2"));
          REQUIRE(s.find(k_a3)->race_gen.has_value());
          CHECK(s.find(k_a3)->race_gen->rk_commit == commit("rk-a3"));
        }
        const std::set<std::string> keys = referenced_line_keys(rr.state);
        for (const std::string& vid : {k_a2, k_a3}) {
          CHECK(keys.count(line_key(vline(k_db, vid), fake_k(vline(k_db, vid)))) == 1);
        }
        for (const std::string& vid : {k_b2, k_b3}) {
          CHECK(keys.count(line_key(vline(k_db, vid), fake_k(vline(k_db, vid), 1))) == 1);
        }
        // The re-apply (a rollback to the chosen version) is valid on top of it.
        World j = r.joined();
        j.log.push_back(j.entry("erin", multi_choice(k_b2, {{k_a2, 4}, {k_a3, 5}})));
        j.state = rr.state;
        j.heads = {j.log.back().hash};
        j.now += 60;
        j.run("erin", RotateStartArgs{{rollback_item(k_b2)}});
        j.run("erin", RotateFinishArgs{{FinishItem{k_db, k_b2}}});
        const ReplayResult after = replay(journal_of(j.log));
        INFO(describe(after));
        REQUIRE(after.ok());
        const Secret& t = *after.state.secret(k_db);
        CHECK(t.find(k_b2)->state == VersionState::current);
        CHECK(t.find(k_a3)->state == VersionState::previous);
        CHECK(t.due.empty());
      }
      SECTION("forged: by a member who may not rotate prod/db")
      {
        const ReplayResult rr = replay(r.resolved("dave", multi_choice(k_b2, {{k_a2, 4}, {k_a3, 5}})));
        CHECK(has_finding(rr, FindingKind::unauthorised_operation));
      }
      SECTION("forged: only the last version renumbered")
      {
        const ReplayResult rr = replay(r.resolved("erin", multi_choice(k_b2, {{k_a3, 4}})));
        CHECK(has_finding(rr, FindingKind::unauthorised_operation));
      }
      SECTION("forged: renumbered out of their side's order")
      {
        const ReplayResult rr = replay(r.resolved("erin", multi_choice(k_b2, {{k_a2, 5}, {k_a3, 4}})));
        CHECK(has_finding(rr, FindingKind::unauthorised_operation));
      }
      SECTION("forged: a chosen side's version renumbered too")
      {
        const ReplayResult rr = replay(r.resolved("erin", multi_choice(k_b2, {{k_a2, 4}, {k_a3, 5}, {k_b3, 6}})));
        CHECK(has_finding(rr, FindingKind::unauthorised_operation));
      }
      SECTION("forged: a current version that is not the race's")
      {
        const ReplayResult rr = replay(r.resolved("erin", multi_choice(k_v1, {{k_a2, 4}, {k_a3, 5}})));
        CHECK(has_finding(rr, FindingKind::unauthorised_operation));
      }
    }
  }
}

TEST_CASE("resolve --current: ours rotated twice, theirs once", "[history][resolve][merge]")
{
  const MultiRace r(true, false);
  const MergeAnalysis m = r.analysis();
  REQUIRE(m.conflicts.size() == 1);
  REQUIRE(m.conflicts.front().race.size() == 3);
  const ResolveArgs choice = choose_current(m, k_db, k_a2); // ours' first: theirs' one version renumbered
  CHECK(choice.rotations[0].renumber == std::map<std::string, std::int64_t>{{k_b2, 4}});
  const ReplayResult rr = replay(r.resolved("erin", choice));
  INFO(describe(rr));
  REQUIRE(rr.ok());
  const Secret& s = *rr.state.secret(k_db);
  CHECK(s.find(k_b2)->state == VersionState::current);
  CHECK(s.find(k_b2)->v == 4);
  REQUIRE(s.find(k_b2)->race_gen.has_value()); // generation 2 is ours' a2's
  CHECK(s.find(k_b2)->race_gen->rk_commit == commit("rk-b2"));
  CHECK(s.find(k_a2)->state == VersionState::previous);
  CHECK(s.find(k_a3)->state == VersionState::previous);
}

TEST_CASE("resolve --keep-exposed: a side that rotated twice, sealed to a member removed concurrently",
          "[history][resolve][merge]")
{
  World base = team();
  World a = base;
  World b = base;
  b.now += 30;
  std::vector<Entry> made;
  MultiRace::rotate(a, "olive", k_a2, "rk-a2", true, made);
  MultiRace::rotate(a, "olive", k_a3, "rk-a3", true, made);
  b.run("alice", MemberRemoveArgs{"erin"});
  const ResolveArgs choice = all_kept_exposed(a, b, "olive");
  CHECK(choice.exposed == std::set<Hash>{made[0].hash, made[1].hash, made[2].hash, made[3].hash});
  World j = merge_of(a, b);
  j.log.push_back(j.entry("olive", choice));
  const ReplayResult rr = replay(journal_of(j.log));
  INFO(describe(rr));
  REQUIRE(rr.ok());
  const Secret& s = *rr.state.secret(k_db);
  CHECK(s.find(k_a3)->state == VersionState::current);
  CHECK(s.find(k_a2)->state == VersionState::previous);
  CHECK(s.due.count("exposed to erin by a concurrent rotation") == 1);
  // Forged: kept exposed by a member who may not rotate prod/db.
  World f = merge_of(a, b);
  f.now = j.now;
  f.log.push_back(f.entry("carol", choice));
  CHECK(has_finding(replay(journal_of(f.log)), FindingKind::unauthorised_operation));
}

namespace {

// Two resolutions made apart (vault-2-merge.md §5 "As built"): a rotation race settled on one
// line of history and another settlement on another, then the two lines merged.
const std::string k_cache = "prod/cache";

RotateItem rotation_of(const World& w, const std::string& secret, const std::string& vid)
{
  const Secret& s = *w.state.secret(secret);
  RotateItem item;
  item.kind = RotationKind::rotate;
  item.secret = secret;
  item.vid = vid;
  item.v = s.max_v() + 1;
  item.gen = s.current_gen();
  item.dk_commit = commit("dk-" + vid);
  item.custodians = s.custodians;
  item.threshold = s.threshold;
  item.why = "scheduled";
  return item;
}

// A rollback of `secret` to `vid` started (the re-apply of a chosen settlement; `escrow resolve`
// runs it before it finishes or fails it).
RotateStartArgs rollback_to(const std::string& secret, const std::string& vid)
{
  RotateItem back;
  back.kind = RotationKind::rollback;
  back.secret = secret;
  back.vid = vid;
  return RotateStartArgs{{back}};
}

// The re-apply of `vid` by `actor`: the rollback started and finished.
void reapply_version(World& w, const std::string& actor, const std::string& secret, const std::string& vid)
{
  w.run(actor, rollback_to(secret, vid));
  w.run(actor, RotateFinishArgs{{FinishItem{secret, vid}}});
}

void rotate_once(World& w, const std::string& actor, const std::string& secret, const std::string& vid)
{
  w.run(actor, RotateStartArgs{{rotation_of(w, secret, vid)}},
        {vline(secret, vid), sh(secret, vid, "bob"), sh(secret, vid, "carol")});
  w.run(actor, RotateFinishArgs{{FinishItem{secret, vid}}});
}

// p and q joined with a resolve entry by `actor` settling `secret`'s race with `chosen` current
// (`other` renumbered `renumbered`), then (`reapply`) the re-apply: a rollback to `chosen`.
World settled(const World& p, const World& q, const std::string& actor, const std::string& secret,
              const std::string& chosen, const std::string& other, std::int64_t renumbered, bool reapply)
{
  World j = merge_of(p, q);
  const Entry r = j.entry(actor, ResolveArgs{{}, {}, {RaceResolution{secret, chosen, {{other, renumbered}}}}});
  j.log.push_back(r);
  const ReplayResult rr = replay(journal_of(j.log));
  INFO(describe(rr));
  REQUIRE(rr.ok());
  j.state = rr.state;
  j.heads = {r.hash};
  j.now += 60;
  if (reapply) {
    reapply_version(j, actor, secret, chosen);
  }
  return j;
}

World with_cache()
{
  World w = team();
  w.run("alice", db_args(k_cache, "00000000000000f1"), db_lines(k_cache, "00000000000000f1"), std::string("cache"));
  return w;
}

// The union of two lines of history sealed by a merge event (what sync writes).
std::string sealed_union(const World& p, const World& q)
{
  World m = merge_of(p, q);
  m.log.push_back(event(m, "alice", EventKind::merge, m.heads));
  return journal_of(m.log);
}

// The sealed union of `x` and `y` replayed in both orders: each accepted, and to the same state;
// returns the first.
ReplayResult sealed_both_orders(const World& x, const World& y)
{
  ReplayResult xy = replay(sealed_union(x, y));
  INFO(describe(xy));
  REQUIRE(xy.ok());
  const ReplayResult yx = replay(sealed_union(y, x));
  INFO(describe(yx));
  REQUIRE(yx.ok());
  CHECK(xy.state.digest() == yx.state.digest());
  return xy;
}

} // namespace

TEST_CASE("resolve: two settlements of different secrets made apart merge with both", "[history][resolve][merge]")
{
  const World base = with_cache();
  World a1 = base;
  World a2 = base;
  World b1 = base;
  World b2 = base;
  a2.now += 30;
  b1.now += 300;
  b2.now += 330;
  a2.key_hash = [](const KeyLine& line) { return fake_k(line, 1); };
  b2.key_hash = [](const KeyLine& line) { return fake_k(line, 1); };
  rotate_once(a1, "erin", k_db, "00000000000000d1");
  rotate_once(a2, "olive", k_db, "00000000000000d2");
  rotate_once(b1, "erin", k_cache, "00000000000000e1");
  rotate_once(b2, "olive", k_cache, "00000000000000e2");
  const World a = settled(a1, a2, "erin", k_db, "00000000000000d1", "00000000000000d2", 3, true);
  const World b = settled(b1, b2, "olive", k_cache, "00000000000000e2", "00000000000000e1", 3, true);

  const ReplayResult ab = sealed_both_orders(a, b); // the other way round: the same state
  const Secret& db = *ab.state.secret(k_db);
  const Secret& cache = *ab.state.secret(k_cache);
  CHECK(db.find("00000000000000d1")->state == VersionState::current); // each re-apply stands
  CHECK(db.find("00000000000000d2")->v == 3);
  CHECK(cache.find("00000000000000e2")->state == VersionState::current);
  CHECK(cache.find("00000000000000e1")->v == 3);
  CHECK(db.due.empty());
  CHECK(cache.due.empty());
  // escrow resolve sees no conflict in the unsealed merge.
  const MergeAnalysis m = analyse_merge(journal_of(a.log), journal_of(b.log), {}, "");
  CHECK(m.conflicts.empty());

  SECTION("new work on top of both, merged with a side that has only one of them")
  {
    World c = merge_of(a, b);
    const Entry seal = event(c, "alice", EventKind::merge, c.heads);
    c.log.push_back(seal);
    c.state = ab.state;
    c.heads = {seal.hash};
    c.add_member("alice", "zoe", {Role::requester}, {"prod"});
    World d = b;
    d.now = c.now + 30;
    d.add_member("alice", "yves", {Role::requester}, {"prod"});
    const ReplayResult cd = replay(sealed_union(c, d));
    INFO(describe(cd));
    REQUIRE(cd.ok());
    CHECK(cd.state.member("zoe") != nullptr);
    CHECK(cd.state.member("yves") != nullptr);
    CHECK(cd.state.secret(k_db)->find("00000000000000d1")->state == VersionState::current);
  }
}

TEST_CASE("resolve: the same race settled the same way on both sides merges", "[history][resolve][merge]")
{
  const RotationRace r(true);
  // ours settles it (k_v2 current), theirs settles it the same way a minute later, apart.
  World a = settled(r.a, r.b, "erin", k_db, k_v2, k_v3, 3, false);
  World b = settled(r.b, r.a, "olive", k_db, k_v2, k_v3, 3, false);
  const ReplayResult ab = sealed_both_orders(a, b);
  const Secret& s = *ab.state.secret(k_db);
  CHECK(s.find(k_v3)->state == VersionState::current);
  CHECK(s.find(k_v2)->state == VersionState::previous);

  SECTION("each clone also re-applied it: the second identical re-apply is the first again")
  {
    const World ra = settled(r.a, r.b, "erin", k_db, k_v2, k_v3, 3, true);
    World rb = settled(r.b, r.a, "olive", k_db, k_v2, k_v3, 3, true);
    const ReplayResult xy = sealed_both_orders(ra, rb);
    CHECK(xy.state.secret(k_db)->find(k_v2)->state == VersionState::current);
    CHECK(xy.state.secret(k_db)->due.empty());
    CHECK(analyse_merge(journal_of(ra.log), journal_of(rb.log), {}, "").conflicts.empty());
  }
  SECTION("one clone's re-apply failed: the two re-applies do not commute (listed)")
  {
    const World ra = settled(r.a, r.b, "erin", k_db, k_v2, k_v3, 3, true);
    World rb = settled(r.b, r.a, "olive", k_db, k_v2, k_v3, 3, false);
    rb.run("olive", rollback_to(k_db, k_v2));
    rb.run("olive", RotateFailArgs{{FailItem{k_db, k_v2, FailResult::rolled_back}}});
    CHECK_FALSE(analyse_merge(journal_of(ra.log), journal_of(rb.log), {}, "").conflicts.empty());
  }
}

TEST_CASE("resolve --current: the same race settled differently apart, then chosen", "[history][resolve][merge]")
{
  const RotationRace r(false);
  // ours chose k_v2 and re-applied it; theirs chose k_v3 and re-applied it: a connector may hold either.
  const World a = settled(r.a, r.b, "erin", k_db, k_v2, k_v3, 3, true);
  World b = settled(r.b, r.a, "olive", k_db, k_v3, k_v2, 3, true);
  const MergeAnalysis m = analyse_merge(journal_of(a.log), journal_of(b.log), {}, "");
  REQUIRE_FALSE(m.conflicts.empty());
  const auto race = std::find_if(m.conflicts.begin(), m.conflicts.end(),
                                 [](const MergeConflict& c) { return c.why.find("settled differently") != std::string::npos; });
  REQUIRE(race != m.conflicts.end());
  CHECK(race->suggestion == SuggestionKind::rotation_race);
  CHECK(race->secret == k_db);
  REQUIRE(race->race.size() == 2);
  CHECK(race->race[0].vid == k_v2);
  CHECK(race->race[1].vid == k_v3);
  CHECK((race->current == k_v2 || race->current == k_v3)); // the settlement made last (here: at once)
  CHECK_THROWS_AS(keep_side(m, static_cast<std::size_t>(race - m.conflicts.begin()), MergeSide::ours), Error);

  SECTION("sealed without a choice: an unresolved conflict")
  {
    CHECK(has_finding(replay(sealed_union(a, b)), FindingKind::unresolved_conflict));
  }
  for (const std::string& chosen : {k_v2, k_v3}) {
    DYNAMIC_SECTION("chosen " << chosen)
    {
      const ResolveArgs choice = choose_current(m, k_db, chosen);
      REQUIRE(choice.rotations.size() == 1);
      CHECK(choice.rotations[0].renumber.empty());
      const MergeAnalysis after = analyse_choices(journal_of(a.log), journal_of(b.log), choice, "erin");
      CHECK(after.conflicts.empty());
      CHECK(after.refusals.empty());
      const MergeAnalysis dave = analyse_choices(journal_of(a.log), journal_of(b.log), choice, "dave");
      CHECK_FALSE(dave.refusals.empty());

      World j = merge_of(a, b);
      const Entry resolve = j.entry("erin", choice);
      j.log.push_back(resolve);
      const ReplayResult rr = replay(journal_of(j.log));
      INFO(describe(rr));
      REQUIRE(rr.ok());
      const Secret& s = *rr.state.secret(k_db);
      const std::string other = chosen == k_v2 ? k_v3 : k_v2;
      CHECK(s.find(chosen)->state == VersionState::previous); // re-applied next
      CHECK(s.find(other)->state == VersionState::current);
      CHECK(s.due.count("rotation race resolved: the connectors may hold either version") == 1);
      // The command's re-apply on top.
      j.state = rr.state;
      j.heads = {resolve.hash};
      j.now += 60;
      reapply_version(j, "erin", k_db, chosen);
      const ReplayResult done = replay(journal_of(j.log));
      INFO(describe(done));
      REQUIRE(done.ok());
      CHECK(done.state.secret(k_db)->find(chosen)->state == VersionState::current);
    }
  }
  SECTION("forged: by a member who may not rotate, a version neither chose, a renumbering")
  {
    const auto forged = [&](const std::string& actor, RaceResolution res) {
      World j = merge_of(a, b);
      j.log.push_back(j.entry(actor, ResolveArgs{{}, {}, {std::move(res)}}));
      return replay(journal_of(j.log));
    };
    CHECK(has_finding(forged("dave", RaceResolution{k_db, k_v3, {}}), FindingKind::unauthorised_operation));
    CHECK(has_finding(forged("erin", RaceResolution{k_db, k_v1, {}}), FindingKind::unauthorised_operation));
    CHECK(has_finding(forged("erin", RaceResolution{k_db, k_v3, {{k_v2, 4}}}), FindingKind::unauthorised_operation));
  }
}

TEST_CASE("share: a reader gets the kept race version's own generation", "[history][resolve][merge]")
{
  // After the race, generation 2 is two keys: gens[2] (k_v2's side) and k_v3's race_gen. A key
  // line names the number only, so a share hands over the secret's own generation 2 first and
  // the race's in a second entry (race_gen.hpp).
  const RotationRace r(true);
  World j = settled(r.a, r.b, "erin", k_db, k_v2, k_v3, 3, false);
  {
    const Secret& s = *j.state.secret(k_db);
    REQUIRE(s.find(k_v3)->race_gen.has_value());
    CHECK_FALSE(can_read(j.state, "dave", s, k_v3, j.now));
  }
  const auto variant = [](int n) { return [n](const KeyLine& line) { return fake_k(line, n); }; };
  j.key_hash = variant(10);
  j.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1, 2}}}}, {rk(k_db, 1, "dave"), rk(k_db, 2, "dave")});
  {
    const Secret& s = *j.state.secret(k_db);
    CHECK(s.gens.at(2).holders.at("dave") == fake_k(rk(k_db, 2, "dave"), 10));
    CHECK(s.find(k_v3)->race_gen->holders.count("dave") == 0);
    CHECK(can_read(j.state, "dave", s, k_v2, j.now));
    CHECK_FALSE(can_read(j.state, "dave", s, k_v3, j.now));
  }
  SECTION("the second line of generation 2 is the race's: dave reads every version")
  {
    j.key_hash = variant(11);
    j.run("olive", ShareArgs{"dave", {ShareItem{k_db, {2}}}}, {rk(k_db, 2, "dave")});
    const Secret& s = *j.state.secret(k_db);
    CHECK(s.find(k_v3)->race_gen->holders.at("dave") == fake_k(rk(k_db, 2, "dave"), 11));
    CHECK(s.find(k_v3)->race_gen->ever.count("dave") == 1);
    CHECK(s.gens.at(2).holders.at("dave") == fake_k(rk(k_db, 2, "dave"), 10));
    for (const std::string& vid : {k_v1, k_v2, k_v3}) {
      CHECK(can_read(j.state, "dave", s, vid, j.now));
    }
    CHECK(referenced_line_keys(j.state).count(line_key(rk(k_db, 2, "dave"), fake_k(rk(k_db, 2, "dave"), 11))) == 1);
    const ReplayResult rr = replay(journal_of(j.log));
    INFO(describe(rr));
    REQUIRE(rr.ok());
    CHECK(rr.state.digest() == j.state.digest());
    // A third line of generation 2: dave holds both keys of that number.
    j.key_hash = variant(12);
    const Verdict third = j.judge(j.entry("olive", ShareArgs{"dave", {ShareItem{k_db, {2}}}}, {rk(k_db, 2, "dave")}));
    REQUIRE(third.has_value());
    CHECK_THAT(third->reason, Catch::Contains("dave reads prod/db already"));
    // Unsharing takes both lines.
    j.run("olive", UnshareArgs{k_db, "dave"});
    const Secret& t = *j.state.secret(k_db);
    CHECK(t.find(k_v3)->race_gen->holders.count("dave") == 0);
    CHECK(t.gens.at(2).holders.count("dave") == 0);
  }
  SECTION("refused: by someone who does not own it, and forged in the replay (exit 3)")
  {
    j.key_hash = variant(11);
    const Entry forged = j.entry("erin", ShareArgs{"dave", {ShareItem{k_db, {2}}}}, {rk(k_db, 2, "dave")});
    REQUIRE(j.judge(forged).has_value());
    j.log.push_back(forged);
    CHECK(has_finding(replay(journal_of(j.log)), FindingKind::unauthorised_operation));
  }
}

// A rotation kept exposed on two lines of history apart (docs/TEAM.md "Two settlements made
// apart"): olive's rotation of prod/db (sealed to erin) on one side, erin's removal on the other.
namespace {

// p and q joined as `escrow resolve` would settle them for `actor`: each conflict by its kind
// (a rotation race with `race_vid` current, an exposed rotation kept exposed), then the resolve
// entry; and when a race was settled, its re-apply (a rollback to `race_vid`, finished).
World settle_apart(const World& p, const World& q, const std::string& actor, const std::string& race_vid = {})
{
  const std::string lp = journal_of(p.log);
  const std::string lq = journal_of(q.log);
  ResolveArgs choice;
  for (std::size_t n = 0; n < 8; ++n) {
    const MergeAnalysis step = analyse_choices(lp, lq, choice, actor);
    if (step.conflicts.empty()) {
      CHECK(step.refusals.empty());
      break;
    }
    const MergeConflict& c = step.conflicts.front();
    REQUIRE(c.suggestion != SuggestionKind::keep);
    choice = c.suggestion == SuggestionKind::rotation_race ? choose_current(step, c.secret, race_vid)
                                                           : keep_exposed(step, 0);
  }
  World j = merge_of(p, q);
  const Entry r = j.entry(actor, choice);
  j.log.push_back(r);
  const ReplayResult rr = replay(journal_of(j.log));
  INFO(describe(rr));
  REQUIRE(rr.ok());
  j.state = rr.state;
  j.heads = {r.hash};
  j.now += 60;
  if (!choice.rotations.empty()) {
    reapply_version(j, actor, k_db, race_vid);
  }
  return j;
}

// Theirs after erin's removal: olive rotates prod/db to k_v3, a new generation 2 without erin, at `now`.
World rotated_after_removal(const ExposedRotation& r, Timestamp now)
{
  World b = r.b;
  b.now = now;
  b.key_hash = [](const KeyLine& line) { return fake_k(line, 1); };
  RotateItem i = next_version(b, k_v3);
  i.dk_commit = commit("dk-v3");
  i.gen = 2;
  i.new_gen_rk_commit = commit("rk-b");
  b.run("olive", RotateStartArgs{{i}}, {vline(k_db, k_v3), sh(k_db, k_v3, "bob"), sh(k_db, k_v3, "carol"), rk(k_db, 2, "olive")});
  b.run("olive", RotateFinishArgs{{FinishItem{k_db, k_v3}}});
  return b;
}

} // namespace

TEST_CASE("resolve: the same rotation kept exposed on both sides apart merges", "[history][resolve][merge]")
{
  const ExposedRotation r;
  World a = settle_apart(r.a, r.b, "olive");
  World b = r.b;
  b.now = a.now + 60; // theirs kept it exposed later, from the other side of the same merge
  b = settle_apart(b, r.a, "olive");
  CHECK(a.log.back().hash != b.log.back().hash);
  const ReplayResult ab = sealed_both_orders(a, b);
  const Secret& s = *ab.state.secret(k_db);
  CHECK(s.find(k_v2)->state == VersionState::current);
  REQUIRE(s.due.count("exposed to erin by a concurrent rotation") == 1);
  // The earlier resolution's record: the due reason since the first one.
  CHECK(s.due.at("exposed to erin by a concurrent rotation") == a.state.secret(k_db)->due.at("exposed to erin by a concurrent rotation"));
  CHECK(analyse_merge(journal_of(a.log), journal_of(b.log), {}, "").conflicts.empty());
}

TEST_CASE("resolve --current: a rotation kept exposed on one side, raced on the other, then chosen",
          "[history][resolve][merge]")
{
  const ExposedRotation r;
  // ours: olive's rotation (k_v2) kept exposed. theirs: olive rotated again after erin's removal
  // (k_v3), merged k_v2 in (a race, and k_v2 sealed to erin), chose k_v3 and re-applied it.
  const World a = settle_apart(r.a, r.b, "olive");
  const World b = settle_apart(rotated_after_removal(r, a.now + 60), r.a, "olive", k_v3);

  const MergeAnalysis m = analyse_merge(journal_of(a.log), journal_of(b.log), {}, "");
  REQUIRE(m.conflicts.size() == 1);
  const MergeConflict& c = m.conflicts.front();
  CHECK(c.suggestion == SuggestionKind::rotation_race);
  CHECK(c.why.find("settled differently") != std::string::npos);
  CHECK(c.secret == k_db);
  REQUIRE(c.race.size() == 2);
  CHECK(c.race[0].vid == k_v2); // ours: the exposed rotation's version, current after it
  CHECK(c.race[1].vid == k_v3); // theirs: the race's choice
  CHECK(c.current == k_v3);     // the settlement made last
  CHECK_THROWS_AS(keep_side(m, 0, MergeSide::ours), Error);
  CHECK_THROWS_AS(keep_exposed(m, 0), Error);
  (void)require_error(ErrorKind::usage, [&] { (void)choose_current(m, k_db, k_v1); });
  CHECK(has_finding(replay(sealed_union(a, b)), FindingKind::unresolved_conflict));

  for (const std::string& chosen : {k_v2, k_v3}) {
    DYNAMIC_SECTION("chosen " << chosen)
    {
      const ResolveArgs choice = choose_current(m, k_db, chosen);
      const MergeAnalysis after = analyse_choices(journal_of(a.log), journal_of(b.log), choice, "olive");
      CHECK(after.conflicts.empty());
      CHECK(after.refusals.empty());
      CHECK_FALSE(analyse_choices(journal_of(a.log), journal_of(b.log), choice, "dave").refusals.empty());
      World j = merge_of(a, b);
      j.log.push_back(j.entry("olive", choice));
      const ReplayResult rr = replay(journal_of(j.log));
      INFO(describe(rr));
      REQUIRE(rr.ok());
      const Secret& s = *rr.state.secret(k_db);
      const std::string other = chosen == k_v2 ? k_v3 : k_v2;
      REQUIRE(s.find(chosen) != nullptr); // no version a connector may hold is lost
      REQUIRE(s.find(other) != nullptr);
      CHECK(s.find(chosen)->state == VersionState::previous); // re-applied next
      CHECK(s.find(other)->state == VersionState::current);
      CHECK(s.due.count("exposed to erin by a concurrent rotation") == 1);
      CHECK(s.due.count("rotation race resolved: the connectors may hold either version") == 1);
    }
  }
}

namespace {

// Every key line an entry of `logs` wrote and none deleted since, as referenced_line_keys names them.
std::set<std::string> written_line_keys(std::initializer_list<const std::vector<Entry>*> logs)
{
  std::set<std::string> out;
  for (const std::vector<Entry>* log : logs) {
    for (const Entry& e : *log) {
      if (!e.op) {
        continue;
      }
      for (const Write& w : e.op->writes) {
        if (w.path.rfind("k:", 0) == 0 && w.after) {
          out.insert(w.path.substr(2));
        }
      }
    }
  }
  return out;
}

} // namespace

namespace {

// Clone A rotated prod/db to k_a2 (a1), clone B to k_b2 (b1); then each rotated again: A to k_a3
// (a2), B to k_b3 (b2). Each first rotation alone is what the other clone merges.
struct RotatedAgain
{
  World a1;
  World b1;
  World a2;
  World b2;

  explicit RotatedAgain(bool new_generation)
  {
    a1 = team();
    b1 = a1;
    b1.now += 30;
    b1.key_hash = [](const KeyLine& line) { return fake_k(line, 1); };
    std::vector<Entry> made;
    MultiRace::rotate(a1, "erin", k_a2, "rk-a2", new_generation, made);
    MultiRace::rotate(b1, "olive", k_b2, "rk-b2", new_generation, made);
    a2 = a1;
    b2 = b1;
    MultiRace::rotate(a2, "erin", k_a3, "rk-a3", new_generation, made);
    MultiRace::rotate(b2, "olive", k_b3, "rk-b3", new_generation, made);
  }
};

} // namespace

TEST_CASE("resolve: the same race settled the same way apart after each side rotated again merges every version",
          "[history][resolve][merge]")
{
  // Clone A rotated prod/db to k_a2, clone B to k_b2. A rotated again (k_a3) and merged B's first
  // head; B rotated again (k_b3) and merged A's first head. Each chose k_a2 and re-applied it:
  // A's record numbers k_b2 as v4, B's as v3, and each lacks the other's second rotation. Every
  // connector holds k_a2 (each clone's last push was its re-apply), so the two settlements are
  // one: the merged record keeps every version both clones' heads still keep, the earlier
  // settlement's numbers first, the other's versions after them, k_a2 current, nothing due.
  for (const bool new_generation : {false, true}) {
    DYNAMIC_SECTION((new_generation ? "a generation per rotation" : "one generation"))
    {
      const RotatedAgain r(new_generation);
      const World a = settle_apart(r.a2, r.b1, "erin", k_a2);
      World b2_later = r.b2;
      b2_later.now = a.now + 60;
      const World b = settle_apart(b2_later, r.a1, "olive", k_a2);
      CHECK(a.state.secret(k_db)->find(k_b2)->v == 4);
      CHECK(b.state.secret(k_db)->find(k_b2)->v == 3);

      CHECK(analyse_merge(journal_of(a.log), journal_of(b.log), {}, "").conflicts.empty());
      const ReplayResult ab = sealed_both_orders(a, b);
      const Secret& s = *ab.state.secret(k_db);
      std::map<std::string, std::int64_t> numbers;
      for (const auto& [vid, version] : s.versions) {
        numbers[vid] = version.v;
      }
      // A's settlement is the earlier: its numbers stand; B's k_b3 comes after them. k_v1 is gone:
      // each clone's re-apply kept two older versions (the policy's keep) and dropped its lines.
      CHECK(numbers == std::map<std::string, std::int64_t>{{k_a2, 2}, {k_a3, 3}, {k_b2, 4}, {k_b3, 5}});
      CHECK(a.state.secret(k_db)->find(k_v1) == nullptr);
      CHECK(b.state.secret(k_db)->find(k_v1) == nullptr);
      REQUIRE(s.find(k_a2) != nullptr);
      CHECK(s.find(k_a2)->state == VersionState::current);
      for (const std::string& vid : {k_a3, k_b2, k_b3}) {
        REQUIRE(s.find(vid) != nullptr);
        CHECK(s.find(vid)->state == VersionState::previous);
      }
      CHECK(s.due.empty());
      CHECK_FALSE(s.rotation.has_value());
      // Each version opens with a line some entry wrote: nothing the merged keys file lacks.
      const std::set<std::string> written = written_line_keys({&a.log, &b.log});
      for (const std::string& key : referenced_line_keys(ab.state)) {
        INFO(key);
        CHECK(written.count(key) == 1);
      }
      for (const std::string& vid : {k_a2, k_a3, k_b2, k_b3}) {
        const Generation* g = s.generation_of(*s.find(vid));
        REQUIRE(g != nullptr);
        CHECK(g->holders.count("olive") == 1);
      }

      SECTION("new work on the merged vault: the next rotation is v6")
      {
        World c = merge_of(a, b);
        const Entry seal = event(c, "alice", EventKind::merge, c.heads);
        c.log.push_back(seal);
        c.state = ab.state;
        c.heads = {seal.hash};
        c.now += 60;
        rotate_once(c, "erin", k_db, "00000000000000c6");
        const ReplayResult rr = replay(journal_of(c.log));
        INFO(describe(rr));
        REQUIRE(rr.ok());
        CHECK(rr.state.secret(k_db)->find("00000000000000c6")->v == 6);
      }
    }
  }
}

TEST_CASE("resolve: settlements made apart whose re-applies did not both finish stay listed",
          "[history][resolve][merge]")
{
  const RotatedAgain r(false);
  const World a = settle_apart(r.a2, r.b1, "erin", k_a2);
  // B settles the same way but its re-apply fails: its connectors got k_b3 back.
  World b = r.b2;
  b.now = a.now + 60;
  {
    const MergeAnalysis m = analyse_merge(journal_of(b.log), journal_of(r.a1.log), {}, "");
    REQUIRE(m.conflicts.size() == 1);
    World j = merge_of(b, r.a1);
    const Entry resolve = j.entry("olive", choose_current(m, k_db, k_a2));
    j.log.push_back(resolve);
    const ReplayResult rr = replay(journal_of(j.log));
    REQUIRE(rr.ok());
    j.state = rr.state;
    j.heads = {resolve.hash};
    j.now += 60;
    j.run("olive", rollback_to(k_db, k_a2));
    j.run("olive", RotateFailArgs{{FailItem{k_db, k_a2, FailResult::rolled_back}}});
    b = j;
  }
  const MergeAnalysis m = analyse_merge(journal_of(a.log), journal_of(b.log), {}, "");
  REQUIRE_FALSE(m.conflicts.empty());
  CHECK(has_finding(replay(sealed_union(a, b)), FindingKind::unresolved_conflict));
}

TEST_CASE("resolve: a rotation kept exposed on one side, the same version chosen in a race on the other, "
          "neither keeping all the other's versions, merges",
          "[history][resolve][merge]")
{
  // ours: olive's rotation to k_v2 (sealed to erin), then a rotation of olive's that failed
  // (k_v4, kept as failed), then erin's removal merged in: k_v2 kept exposed, current. theirs:
  // erin's removal, olive's rotation to k_v3, then ours' first rotation merged in: a race settled
  // with k_v2 and re-applied. Each record lacks the other's version.
  const ExposedRotation r;
  const std::string k_v4 = "00000000000000c4";
  World a1 = r.a;
  RotateItem failed = next_version(a1, k_v4);
  failed.dk_commit = commit("dk-v4");
  a1.run("olive", RotateStartArgs{{failed}}, {vline(k_db, k_v4), sh(k_db, k_v4, "bob"), sh(k_db, k_v4, "carol")});
  a1.run("olive", RotateFailArgs{{FailItem{k_db, k_v4, FailResult::rolled_back}}});
  const World a = settle_apart(a1, r.b, "olive");
  REQUIRE(a.state.secret(k_db)->find(k_v4) != nullptr);
  CHECK(a.state.secret(k_db)->find(k_v4)->state == VersionState::failed);

  const World b = settle_apart(rotated_after_removal(r, a.now + 60), r.a, "olive", k_v2);
  REQUIRE(b.state.secret(k_db)->find(k_v3) != nullptr);
  CHECK(b.state.secret(k_db)->find(k_v4) == nullptr);

  CHECK(analyse_merge(journal_of(a.log), journal_of(b.log), {}, "").conflicts.empty());
  const ReplayResult ab = sealed_both_orders(a, b);
  const Secret& s = *ab.state.secret(k_db);
  for (const std::string& vid : {k_v1, k_v2, k_v3, k_v4}) {
    INFO(vid);
    REQUIRE(s.find(vid) != nullptr);
  }
  CHECK(s.find(k_v2)->state == VersionState::current);
  CHECK(s.find(k_v4)->state == VersionState::failed);
  CHECK(s.find(k_v4)->v == 3); // ours settled first: its numbers stand
  CHECK(s.find(k_v3)->v == 4); // theirs' version after them
  CHECK(s.due.count("exposed to erin by a concurrent rotation") == 1);
  CHECK(s.due.count("rotation race resolved: the connectors may hold either version") == 0);
  // erin, removed, holds no reader key of any generation; olive reads every live version.
  for (const auto& [g, generation] : s.gens) {
    CHECK(generation.holders.count("erin") == 0);
  }
  for (const auto& [vid, version] : s.versions) {
    if (version.race_gen) {
      CHECK(version.race_gen->holders.count("erin") == 0);
    }
  }
  for (const std::string& vid : {k_v2, k_v3}) {
    const Generation* g = s.generation_of(*s.find(vid));
    REQUIRE(g != nullptr);
    CHECK(g->holders.count("olive") == 1);
  }
  const std::set<std::string> written = written_line_keys({&a.log, &b.log});
  for (const std::string& key : referenced_line_keys(ab.state)) {
    INFO(key);
    CHECK(written.count(key) == 1);
  }
}
