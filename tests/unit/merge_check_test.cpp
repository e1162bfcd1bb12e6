// check_merge (lib/escrow/history/merge_check.hpp): the conflict table of vault-2-merge.md §3 in
// both orders (ours = a, theirs = b, and the sides swapped), the pairs that commute, strong
// remove and seniority. Each case forks one World, runs real operations on both sides, and checks
// the verdict both through check_merge and through the replay of the joined journal.
#include "replay_support.hpp"

using namespace replay_test;

namespace {

const std::string k_req = "0123456789abcdef";

World requested_team()
{
  World w = team();
  w.run("dave", RequestArgs{k_db, k_req, 3600}, {}, std::string("debugging"));
  return w;
}

SecretSetArgs purpose(std::string text)
{
  SecretSetArgs s;
  s.secret = k_db;
  s.purpose = std::move(text);
  return s;
}

struct Fork
{
  World base;
  World a;
  World b;
  std::size_t common = 0;

  explicit Fork(World w) : base(w), a(w), b(std::move(w)) { common = base.log.size(); b.now += 30; }

  MergeCheck check(bool swapped = false) const
  {
    return swapped ? check_merge(base.state, own(b, common), own(a, common))
                   : check_merge(base.state, own(a, common), own(b, common));
  }
  ReplayResult replayed(bool swapped = false) const
  {
    return replay(journal_of(swapped ? union_of(b.log, a.log) : union_of(a.log, b.log)));
  }
};

std::string describe_check(const MergeCheck& m)
{
  std::string out;
  for (const Conflict& c : m.conflicts) {
    out += fmt::format("{} {} {}: {}\n", merge_side_name(c.side), short_hash(c.entry), c.object, c.reason);
  }
  for (const std::string& w : m.warnings) {
    out += "warning: " + w + "\n";
  }
  return out.empty() ? "no conflicts" : out;
}

bool names(const MergeCheck& m, const Entry& e)
{
  return std::any_of(m.conflicts.begin(), m.conflicts.end(),
                     [&e](const Conflict& c) { return c.entry == e.hash || (c.other && *c.other == e.hash); });
}

// The fork conflicts in both orders, through check_merge and through the replay (unsealed: a
// conflict finding, no error), and each listed conflict names `x` (a's) or `y` (b's).
void require_conflict(const Fork& f, const Entry& x, const Entry& y)
{
  for (const bool swapped : {false, true}) {
    const MergeCheck m = f.check(swapped);
    INFO((swapped ? "theirs first: " : "ours first: ") << describe_check(m));
    CHECK_FALSE(m.ok());
    CHECK((names(m, x) || names(m, y)));
    const ReplayResult r = f.replayed(swapped);
    INFO(describe(r));
    CHECK_FALSE(r.has_errors());
    CHECK(r.has_conflicts());
  }
}

void require_commutes(const Fork& f)
{
  const MergeCheck m = f.check(false);
  const MergeCheck n = f.check(true);
  INFO(describe_check(m) << describe_check(n));
  REQUIRE(m.ok());
  REQUIRE(n.ok());
  CHECK(m.merged.digest() == n.merged.digest());
  const ReplayResult r = f.replayed(false);
  const ReplayResult s = f.replayed(true);
  INFO(describe(r) << describe(s));
  CHECK(r.ok());
  CHECK(s.ok());
  CHECK(r.state.digest() == m.merged.digest());
  CHECK(s.state.digest() == m.merged.digest());
}

} // namespace

TEST_CASE("merge check: the same secret rotated on both sides", "[history][merge]")
{
  Fork f(team());
  const Entry x = f.a.run("erin", RotateStartArgs{{next_version(f.a, k_v2)}},
                          {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
  const Entry y = f.b.run("erin", RotateStartArgs{{next_version(f.b, k_v3)}},
                          {vline(k_db, k_v3), sh(k_db, k_v3, "bob"), sh(k_db, k_v3, "carol")});
  require_conflict(f, x, y);
  const MergeCheck m = f.check();
  // theirs' start is refused after ours' (a rotation is in flight), and ours' after theirs'.
  CHECK(names(m, x));
  CHECK(names(m, y));
}

TEST_CASE("merge check: a member removed on one side and given something on the other", "[history][merge]")
{
  SECTION("an approval of the removed member's request")
  {
    Fork f(requested_team());
    const Entry x = f.a.run("alice", MemberRemoveArgs{"dave"});
    const Entry y = f.b.run("carol", approval_of_dave(k_req), {ap(k_db, k_v1, k_req, "carol")});
    require_conflict(f, x, y);
    CHECK(names(f.check(), y));
  }
  SECTION("a share to the removed member")
  {
    Fork f(team());
    const Entry x = f.a.run("alice", MemberRemoveArgs{"dave"});
    const Entry y = f.b.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
    require_conflict(f, x, y);
  }
  SECTION("the removed member made owner")
  {
    Fork f(team());
    const Entry x = f.a.run("alice", MemberRemoveArgs{"dave"});
    SecretSetArgs owner;
    owner.secret = k_db;
    owner.owner = "dave";
    const Entry y = f.b.run("olive", owner);
    require_conflict(f, x, y);
  }
}

TEST_CASE("merge check: approved on one side, denied on the other", "[history][merge]")
{
  Fork f(requested_team());
  const Entry x = f.a.run("carol", approval_of_dave(k_req), {ap(k_db, k_v1, k_req, "carol")});
  const Entry y = f.b.run("bob", DenyArgs{k_db, k_req}, {}, std::string("not on call"));
  require_conflict(f, x, y);
}

TEST_CASE("merge check: a compromise against an approval of the same secret", "[history][merge]")
{
  Fork f(requested_team());
  const Entry x = f.a.run("olive", CompromiseArgs{k_db, k_v1}, {}, std::string("seen in a log"));
  const Entry y = f.b.run("carol", approval_of_dave(k_req), {ap(k_db, k_v1, k_req, "carol")});
  require_conflict(f, x, y);
}

TEST_CASE("merge check: the same field set on both sides", "[history][merge]")
{
  Fork f(team());
  const Entry x = f.a.run("olive", purpose("ours"));
  const Entry y = f.b.run("olive", purpose("theirs"));
  require_conflict(f, x, y);
  const MergeCheck m = f.check();
  REQUIRE(m.conflicts.size() == 1);
  CHECK(m.conflicts[0].object == "s:prod/db");
  CHECK(m.conflicts[0].entry == x.hash);
  REQUIRE(m.conflicts[0].other);
  CHECK(*m.conflicts[0].other == y.hash);
  // The same value on both sides commutes.
  Fork same(team());
  same.a.run("olive", purpose("agreed"));
  same.b.run("olive", purpose("agreed"));
  require_commutes(same);
}

TEST_CASE("merge check: the same name added on both sides", "[history][merge]")
{
  SECTION("a member")
  {
    Fork f(team());
    const Entry x = f.a.run("alice", [&f] {
      MemberAddArgs m;
      m.name = "quinn";
      m.sign_pk = f.a.id("quinn").pub.sign_pk;
      m.box_pk = f.a.id("quinn").pub.box_pk;
      m.roles = {Role::requester};
      m.envs = {"prod"};
      return m;
    }());
    const Entry y = f.b.run("alice", [&f] {
      MemberAddArgs m;
      m.name = "quinn";
      m.sign_pk = f.b.id("quinn2").pub.sign_pk;
      m.box_pk = f.b.id("quinn2").pub.box_pk;
      m.roles = {Role::requester};
      m.envs = {"prod"};
      return m;
    }());
    require_conflict(f, x, y);
  }
  SECTION("a secret")
  {
    Fork f(team());
    SecretAddArgs s = db_args("prod/api", "00000000000000d4");
    s.custodians = {};
    s.threshold = 0;
    SecretAddArgs t = s;
    t.version.vid = "00000000000000e5";
    const Entry x = f.a.run("olive", s, {rk("prod/api", 1, "erin"), rk("prod/api", 1, "olive"), vline("prod/api", s.version.vid)},
                            std::string("api"));
    const Entry y = f.b.run("olive", t, {rk("prod/api", 1, "erin"), rk("prod/api", 1, "olive"), vline("prod/api", t.version.vid)},
                            std::string("api"));
    require_conflict(f, x, y);
  }
}

TEST_CASE("merge check: what commutes", "[history][merge]")
{
  SECTION("adds of different secrets, a member and a connector")
  {
    Fork f(team());
    SecretAddArgs s = db_args("prod/api", "00000000000000d4");
    s.custodians = {};
    s.threshold = 0;
    f.a.run("olive", s, {rk("prod/api", 1, "erin"), rk("prod/api", 1, "olive"), vline("prod/api", s.version.vid)},
            std::string("api"));
    f.b.add_member("alice", "quinn", {Role::requester}, {"prod"});
    require_commutes(f);
  }
  SECTION("requests and reads on both sides")
  {
    Fork f(team());
    f.a.run("dave", RequestArgs{k_db, "1111111111111111", 3600}, {}, std::string("a"));
    f.b.run("dave", RequestArgs{k_db, "2222222222222222", 3600}, {}, std::string("b"));
    const Entry reveal = event(f.b, "olive", EventKind::reveal, f.b.heads);
    f.b.log.push_back(reveal);
    f.b.heads = {reveal.hash};
    require_commutes(f);
  }
  SECTION("a share on one side, a rotation in the same generation on the other")
  {
    Fork f(team());
    f.a.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
    f.b.run("erin", RotateStartArgs{{next_version(f.b, k_v2)}},
            {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
    require_commutes(f);
  }
  SECTION("an approval on one side, a rotation on the other")
  {
    Fork f(requested_team());
    f.a.run("carol", approval_of_dave(k_req), {ap(k_db, k_v1, k_req, "carol")});
    f.b.run("erin", RotateStartArgs{{next_version(f.b, k_v2)}},
            {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
    require_commutes(f);
  }
}

TEST_CASE("merge check: strong remove", "[history][merge]")
{
  SECTION("the removed member's own operations on the other side are void")
  {
    Fork f(team());
    const Entry removal = f.a.run("alice", MemberRemoveArgs{"olive"});
    const Entry hers = f.b.run("olive", purpose("mine now"));
    for (const bool swapped : {false, true}) {
      const MergeCheck m = f.check(swapped);
      INFO(describe_check(m));
      CHECK(m.ok());
      CHECK(m.voided == std::vector<Hash>{hers.hash});
      CHECK(m.merged.secret(k_db)->purpose == "orders database");
      CHECK_FALSE(m.merged.member("olive")->active());
      const ReplayResult r = f.replayed(swapped);
      INFO(describe(r));
      CHECK(r.ok());
      CHECK(r.state.digest() == m.merged.digest());
      CHECK(std::any_of(r.findings.begin(), r.findings.end(), [&hers](const Finding& x) {
        return x.kind == FindingKind::voided_by_removal && x.entry && *x.entry == hers.hash;
      }));
    }
    (void)removal;
  }
  SECTION("a removed rotator's rotation is kept and listed")
  {
    Fork f(team());
    f.a.run("alice", MemberRemoveArgs{"erin"});
    const Entry rotation = f.b.run("erin", RotateStartArgs{{next_version(f.b, k_v2)}},
                                   {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
    const MergeCheck m = f.check();
    INFO(describe_check(m));
    CHECK_FALSE(m.ok());
    CHECK(names(m, rotation));
    CHECK(m.voided.empty());
  }
  SECTION("two admins removing each other: the senior's removal stands")
  {
    World w = team();
    w.add_member("alice", "zack", {Role::admin}, {"*"});
    Fork f(w);
    f.a.run("alice", MemberRemoveArgs{"zack"});
    const Entry junior = f.b.run("zack", MemberRemoveArgs{"alice"});
    const Entry junior_add = f.b.run("zack", [&f] {
      MemberAddArgs m;
      m.name = "mallory";
      m.sign_pk = f.b.id("mallory").pub.sign_pk;
      m.box_pk = f.b.id("mallory").pub.box_pk;
      m.roles = {Role::admin};
      m.envs = {"*"};
      return m;
    }());
    for (const bool swapped : {false, true}) {
      const MergeCheck m = f.check(swapped);
      INFO(describe_check(m));
      CHECK(m.ok());
      REQUIRE(m.warnings.size() == 1);
      CHECK(m.warnings[0].find("the removal by alice (senior) stands, zack's operations are void") != std::string::npos);
      CHECK(m.merged.member("alice")->active());
      CHECK_FALSE(m.merged.member("zack")->active());
      CHECK(m.merged.member("mallory") == nullptr);
      CHECK(std::count(m.voided.begin(), m.voided.end(), junior.hash) == 1);
      CHECK(std::count(m.voided.begin(), m.voided.end(), junior_add.hash) == 1);
    }
  }
}

TEST_CASE("merge check: a forged operation on a side is causal, not a conflict of orders", "[history][merge]")
{
  Fork f(team());
  f.a.add_member("alice", "quinn", {Role::requester}, {"prod"});
  const Entry forged = f.b.entry("dave", MemberRemoveArgs{"carol"});
  f.b.log.push_back(forged);
  f.b.heads = {forged.hash};
  const MergeCheck m = f.check();
  INFO(describe_check(m));
  REQUIRE_FALSE(m.ok());
  CHECK(m.conflicts[0].entry == forged.hash);
  CHECK(m.conflicts[0].reason.rfind("causally: ", 0) == 0);
  // The replay reports it as the forgery it is.
  const ReplayResult r = f.replayed();
  CHECK(kinds_of(r) == std::vector<FindingKind>{FindingKind::unauthorised_operation});
}
