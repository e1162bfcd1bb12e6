// escrow resolve's library (lib/escrow/history/resolve.hpp) and the replay of a resolve entry
// (replay.cpp, merge_check.cpp, authorize.cpp may_void): the conflicts listed and grouped, the
// voids a choice makes (closure included), and a resolve entry honoured at its merge point only
// when it is at a merge, voids operations of that merge, is signed by someone with the authority
// (the author of a voided operation, or who could have done it) and leaves a merge that passes
// the check; every forged variant is an error (exit 3 in verify).
#include "replay_support.hpp"

#include <escrow/history/resolve.hpp>

using namespace replay_test;

namespace {

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
    World j = a;
    j.log = union_of(a.log, b.log);
    j.now = std::max(a.now, b.now) + 60;
    j.heads = parents ? *parents : std::vector<Hash>{a.heads.at(0), b.heads.at(0)};
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
    try {
      (void)keep_side(m, 1, MergeSide::ours);
      FAIL("no error");
    } catch (const Error& error) {
      CHECK(error.kind() == ErrorKind::usage);
    }
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
    World j = q.a;
    j.log = union_of(q.a.log, q.b.log);
    j.now = std::max(q.a.now, q.b.now) + 60;
    j.heads = {q.a.heads.at(0), q.b.heads.at(0)};
    j.log.push_back(j.entry("erin", ResolveArgs{{start.hash}, {}, {}}));
    const ReplayResult rr = replay(journal_of(j.log));
    CHECK(rr.has_errors());
  }
}
