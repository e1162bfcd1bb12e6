// history::apply: effects of each kind, the writes check, and order independence of commuting
// operations (docs/design/vault-2-operations.md §1.2, §3, §5).
#include "history_support.hpp"

#include <functional>

using namespace history_test;

namespace {

const std::string k_req = "0123456789abcdef";

std::vector<std::string> paths_of(const Entry& e)
{
  std::vector<std::string> out;
  for (const Write& w : e.op->writes) {
    out.push_back(w.path);
  }
  return out;
}

const Write* write_at(const Entry& e, std::string_view path)
{
  for (const Write& w : e.op->writes) {
    if (w.path == path) {
      return &w;
    }
  }
  return nullptr;
}

std::string kp(const KeyLine& line)
{
  return key_path(line, fake_k(line));
}

void approved(World& w)
{
  w.run("dave", RequestArgs{k_db, k_req, 3600}, {}, std::string("incident"));
  w.run("bob", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, k_req, "bob")});
  w.run("carol", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, k_req, "carol")});
}

void rotate(World& w, const std::string& vid, std::vector<GrantRef> grants = {})
{
  RotateItem item = next_version(w, vid);
  item.grants = grants;
  std::vector<KeyLine> lines = {vline(k_db, vid), sh(k_db, vid, "bob"), sh(k_db, vid, "carol")};
  for (const GrantRef& g : grants) {
    lines.push_back(gr(k_db, vid, g.member));
  }
  w.run("erin", RotateStartArgs{{item}}, lines);
  w.run("erin", RotateFinishArgs{{FinishItem{k_db, vid}}});
}

} // namespace

TEST_CASE("history apply: genesis and roster", "[history][apply]")
{
  World w;
  const Entry genesis = [&] {
    InitArgs init;
    init.member.name = "alice";
    init.member.sign_pk = w.id("alice").pub.sign_pk;
    init.member.box_pk = w.id("alice").pub.box_pk;
    init.policy = default_policy();
    return w.run("alice", init);
  }();
  CHECK(w.state.initialised);
  CHECK(w.state.vault_id == genesis.vault);
  CHECK(w.state.genesis_name == "alice");
  const Member& alice = *w.state.member("alice");
  CHECK(alice.roles == std::set<Role>{Role::admin});
  CHECK(alice.envs == std::set<std::string>{"*"});
  CHECK(alice.added_by == "alice");
  CHECK(alice.added_at == genesis.ts);
  CHECK(paths_of(genesis) == std::vector<std::string>{"m:alice", "p"});
  CHECK_FALSE(write_at(genesis, "p")->before.has_value());
  CHECK(*write_at(genesis, "p")->after == *w.state.record_hash("p"));

  w = team();
  const Entry removal = w.run("alice", MemberRemoveArgs{"carol"});
  const Member& carol = *w.state.member("carol");
  CHECK_FALSE(carol.active());
  CHECK(carol.removed_by == std::optional<std::string>("alice"));
  CHECK(carol.removed_at == removal.ts);
  const Secret& db = *w.state.secret(k_db);
  // carol leaves the custodians; the threshold is clamped to what remains.
  CHECK(db.custodians == std::set<std::string>{"bob"});
  CHECK(db.threshold == 1);
  // She held a share of a live version: the secret is due.
  CHECK(db.due.at("member carol removed") == removal.ts);
  // The version keeps the custodians it was split for.
  CHECK(db.find(k_v1)->custodians == std::set<std::string>{"bob", "carol"});
  CHECK(paths_of(removal) == std::vector<std::string>{"m:carol", "s:prod/db"});

  // A role change that costs a standing reader makes the secret due.
  World x = team();
  const Entry set = x.run("alice", MemberSetArgs{"erin", {Role::requester}, {"prod"}});
  CHECK(x.state.secret(k_db)->due.at("access of erin changed") == set.ts);
  CHECK(x.state.member("erin")->roles == std::set<Role>{Role::requester});
}

TEST_CASE("history apply: a removed member's requests are void and approvals stop counting", "[history][apply]")
{
  World w = team();
  approved(w);
  w.run("alice", MemberRemoveArgs{"dave"});
  const RequestOf& r = w.state.secret(k_db)->requests.at(k_req);
  CHECK(r.voided);
  CHECK_FALSE(grant_active(w.state, *w.state.secret(k_db), r, w.now));

  World v = team();
  approved(v);
  CHECK(counted(v.state, *v.state.secret(k_db), v.state.secret(k_db)->requests.at(k_req), k_v1)
        == std::set<std::string>{"bob", "carol"});
  v.run("alice", MemberRemoveArgs{"bob"});
  CHECK(counted(v.state, *v.state.secret(k_db), v.state.secret(k_db)->requests.at(k_req), k_v1)
        == std::set<std::string>{"carol"});
}

TEST_CASE("history apply: secret-add, share, unshare", "[history][apply]")
{
  World w = team();
  const Secret& db = *w.state.secret(k_db);
  CHECK(db.owner == "olive");
  CHECK(db.state == SecretState::active);
  CHECK(db.gens.at(1).holders == std::map<std::string, Hash>{{"erin", fake_k(rk(k_db, 1, "erin"))},
                                                            {"olive", fake_k(rk(k_db, 1, "olive"))}});
  CHECK(db.gens.at(1).ever == std::set<std::string>{"erin", "olive"});
  CHECK(db.gens.at(1).rk_commit == commit("rk1"));
  const Version& v1 = *db.find(k_v1);
  CHECK(v1.v == 1);
  CHECK(v1.state == VersionState::current);
  CHECK(v1.why == "initial value");
  CHECK(v1.material == fake_k(vline(k_db, k_v1)));
  CHECK(v1.shares.size() == 2);
  CHECK(v1.dk_commit == commit("dk1"));

  const Entry share = w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
  CHECK(paths_of(share) == std::vector<std::string>{kp(rk(k_db, 1, "dave")), "s:prod/db"});
  const Secret& shared = *w.state.secret(k_db);
  CHECK(shared.shared_with == std::set<std::string>{"dave"});
  CHECK(shared.gens.at(1).holders.count("dave") == 1);
  CHECK(shared.gens.at(1).ever.count("dave") == 1);
  CHECK(standing_readers(w.state, shared) == std::set<std::string>{"dave", "erin", "olive"});

  const Entry unshare = w.run("olive", UnshareArgs{k_db, "dave"});
  const Write* deleted = write_at(unshare, kp(rk(k_db, 1, "dave")));
  REQUIRE(deleted != nullptr);
  CHECK(*deleted->before == fake_k(rk(k_db, 1, "dave")));
  CHECK_FALSE(deleted->after.has_value());
  const Secret& after = *w.state.secret(k_db);
  CHECK(after.shared_with.empty());
  CHECK(after.gens.at(1).holders.count("dave") == 0);
  CHECK(after.gens.at(1).ever.count("dave") == 1); // ever remembers: generation 1 is no longer clean
  CHECK_FALSE(generation_clean(w.state, after, 1));
  CHECK(after.due.at("unshared from dave") == unshare.ts);
}

TEST_CASE("history apply: rotation, retention and generations", "[history][apply]")
{
  World w = team();
  const Entry start = w.run("erin", RotateStartArgs{{next_version(w)}},
                            {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
  {
    const Secret& s = *w.state.secret(k_db);
    REQUIRE(s.rotation.has_value());
    CHECK(s.rotation->vid == k_v2);
    CHECK(s.rotation->kind == RotationKind::rotate);
    CHECK(s.rotation->started_by == "erin");
    CHECK(s.rotation->since == start.ts);
    CHECK(s.find(k_v2)->state == VersionState::pending);
    CHECK(s.find(k_v2)->v == 2);
    CHECK(s.find(k_v2)->gen == 1);
    CHECK(s.find(k_v1)->state == VersionState::current);
  }
  w.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
  {
    const Secret& s = *w.state.secret(k_db);
    CHECK_FALSE(s.rotation.has_value());
    CHECK(s.find(k_v2)->state == VersionState::current);
    CHECK(s.find(k_v1)->state == VersionState::previous);
  }
  // keep = 2 (the default policy): after v3 and v4, v1 is the third non-current version and
  // loses its lines (value, shares, approvals) and its record.
  approved(w); // dave's request, approved on v1 (now the previous version)
  rotate(w, k_v3);
  CHECK(w.state.secret(k_db)->find(k_v1)->state == VersionState::retired);
  const std::string v4 = "00000000000000d4";
  RotateItem item = next_version(w, v4);
  w.run("erin", RotateStartArgs{{item}}, {vline(k_db, v4), sh(k_db, v4, "bob"), sh(k_db, v4, "carol")});
  const Entry finish = w.run("erin", RotateFinishArgs{{FinishItem{k_db, v4}}});
  const std::vector<std::string> expected = {kp(ap(k_db, k_v1, k_req, "bob")), kp(ap(k_db, k_v1, k_req, "carol")),
                                             kp(sh(k_db, k_v1, "bob")),         kp(sh(k_db, k_v1, "carol")),
                                             kp(vline(k_db, k_v1)),             "s:prod/db"};
  CHECK(paths_of(finish) == expected);
  const Secret& s = *w.state.secret(k_db);
  CHECK(s.find(k_v1) == nullptr);
  CHECK(s.find(k_v2)->state == VersionState::retired);
  CHECK(s.find(k_v3)->state == VersionState::previous);
  CHECK(s.find(v4)->state == VersionState::current);
  CHECK(s.requests.at(k_req).approvals.empty());
  CHECK(s.gens.count(1) == 1); // still used by v2..v4
}

TEST_CASE("history apply: a new generation, and the old one's reader keys go with its last version", "[history][apply]")
{
  World w = team();
  PolicySetArgs keep0;
  keep0.env = "prod";
  keep0.keep = 0;
  w.run("alice", keep0);
  w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
  w.run("olive", UnshareArgs{k_db, "dave"});
  RotateItem item = next_version(w);
  item.gen = 2;
  item.new_gen_rk_commit = commit("rk2");
  w.run("erin", RotateStartArgs{{item}},
        {rk(k_db, 2, "erin"), rk(k_db, 2, "olive"), vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
  const Secret& pending = *w.state.secret(k_db);
  CHECK(pending.gens.at(2).ever == std::set<std::string>{"erin", "olive"});
  CHECK(pending.gens.at(2).rk_commit == commit("rk2"));
  CHECK(pending.due.count("unshared from dave") == 1);
  const Entry finish = w.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
  // keep 0: v1 goes, and generation 1 (no version left) loses olive's and erin's reader keys.
  const std::vector<std::string> expected = {kp(sh(k_db, k_v1, "bob")), kp(sh(k_db, k_v1, "carol")),
                                             kp(vline(k_db, k_v1)),     kp(rk(k_db, 1, "erin")),
                                             kp(rk(k_db, 1, "olive")),  "s:prod/db"};
  CHECK(paths_of(finish) == expected);
  const Secret& s = *w.state.secret(k_db);
  CHECK(s.gens.count(1) == 0);
  CHECK(s.versions.size() == 1);
  CHECK(s.due.empty()); // rotate-finish clears the due reasons
}

TEST_CASE("history apply: failures and rollback", "[history][apply]")
{
  World w = team();
  w.run("erin", RotateStartArgs{{next_version(w)}}, {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
  w.run("erin", RotateFailArgs{{FailItem{k_db, k_v2, FailResult::rolling_back}}});
  CHECK(w.state.secret(k_db)->rotation->rolling_back);
  w.run("erin", RotateFailArgs{{FailItem{k_db, k_v2, FailResult::rollback_incomplete}}});
  CHECK(w.state.secret(k_db)->rotation.has_value());
  CHECK(w.state.secret(k_db)->due.count("rollback incomplete") == 1);
  w.run("erin", RotateFailArgs{{FailItem{k_db, k_v2, FailResult::rolled_back}}});
  CHECK_FALSE(w.state.secret(k_db)->rotation.has_value());
  CHECK(w.state.secret(k_db)->find(k_v2)->state == VersionState::failed);
  CHECK(w.state.secret(k_db)->find(k_v1)->state == VersionState::current);

  World r = team();
  rotate(r, k_v2);
  r.run("erin", RotateStartArgs{{rollback_item(k_v1)}});
  CHECK(r.state.secret(k_db)->rotation->kind == RotationKind::rollback);
  r.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v1}}});
  CHECK(r.state.secret(k_db)->find(k_v1)->state == VersionState::current);
  CHECK(r.state.secret(k_db)->find(k_v2)->state == VersionState::previous);
}

TEST_CASE("history apply: a rollback's finish keeps every reason about who knows a value", "[history][apply]")
{
  World w = team();
  rotate(w, k_v2);
  w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
  const Entry unshare = w.run("olive", UnshareArgs{k_db, "dave"});
  REQUIRE(w.state.secret(k_db)->due.at("unshared from dave") == unshare.ts);

  // dave held generation 1, which v1 is sealed to as well: putting v1 back is no remedy.
  w.run("erin", RotateStartArgs{{rollback_item(k_v1)}});
  w.run("erin", RotateFailArgs{{FailItem{k_db, k_v1, FailResult::rollback_incomplete}}});
  CHECK(w.state.secret(k_db)->due.count("rollback incomplete") == 1);
  w.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v1}}});
  const Secret& back = *w.state.secret(k_db);
  CHECK(back.find(k_v1)->state == VersionState::current);
  CHECK(back.due.count("rollback incomplete") == 0); // about the connectors: the finish settles it
  CHECK(back.due.at("unshared from dave") == unshare.ts);
  CHECK(back.due.size() == 1);

  // A rotation's finish (a value dave never held) clears every reason.
  RotateItem item = next_version(w, k_v3);
  item.gen = 2;
  item.new_gen_rk_commit = commit("rk2");
  w.run("erin", RotateStartArgs{{item}},
        {rk(k_db, 2, "erin"), rk(k_db, 2, "olive"), vline(k_db, k_v3), sh(k_db, k_v3, "bob"), sh(k_db, k_v3, "carol")});
  w.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v3}}});
  CHECK(w.state.secret(k_db)->due.empty());
}

TEST_CASE("history apply: escrow effects, grants carried and dropped", "[history][apply]")
{
  World w = team();
  SecretSetArgs after_access;
  after_access.secret = k_db;
  after_access.after_access = true;
  w.run("olive", after_access);
  const Entry request = w.run("dave", RequestArgs{k_db, k_req, 3600}, {}, std::string("incident"));
  {
    const RequestOf& r = w.state.secret(k_db)->requests.at(k_req);
    CHECK(r.by == "dave");
    CHECK(r.why == "incident");
    CHECK(r.created_at == request.ts);
    CHECK(r.until == request.ts + 3600); // until = t + ttl, never an argument
  }
  const Entry approve = w.run("bob", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, k_req, "bob")});
  w.run("carol", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, k_req, "carol")});
  {
    const ApprovalOf& a = w.state.secret(k_db)->requests.at(k_req).approvals.at("bob");
    CHECK(a.vid == k_v1);
    CHECK(a.v == 1);
    CHECK(a.at == approve.ts);
    CHECK(a.share == fake_k(ap(k_db, k_v1, k_req, "bob")));
    CHECK(can_read(w.state, "dave", *w.state.secret(k_db), k_v1, w.now));
    CHECK_FALSE(can_read(w.state, "dave", *w.state.secret(k_db), k_v1, request.ts + 3600));
  }
  const Entry used = w.run("dave", GrantUsedArgs{k_db, k_req});
  CHECK(w.state.secret(k_db)->requests.at(k_req).used_at == used.ts);
  CHECK(w.state.secret(k_db)->due.at("accessed via grant") == used.ts);

  // A rotation carries the grant; its end is the request's, copied from the state.
  RotateItem item = next_version(w);
  item.grants = {GrantRef{"dave", k_req}};
  w.run("erin", RotateStartArgs{{item}},
        {gr(k_db, k_v2, "dave"), vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
  const GrantKey& g = w.state.secret(k_db)->find(k_v2)->grants.at("dave");
  CHECK(g.request == k_req);
  CHECK(g.until == request.ts + 3600);
  CHECK(g.key == fake_k(gr(k_db, k_v2, "dave")));

  // A compromise of that version drops the grant (its line is deleted) and voids open requests.
  w.run("alice", MemberAddArgs{"ivy", w.id("ivy").pub.sign_pk, w.id("ivy").pub.box_pk, {Role::requester}, {"prod"}});
  w.run("ivy", RequestArgs{k_db, "fedcba9876543210", 3600}, {}, std::string("x"));
  const Entry compromise = w.run("olive", CompromiseArgs{k_db, k_v2}, {}, std::string("seen in a log"));
  CHECK(paths_of(compromise) == std::vector<std::string>{kp(gr(k_db, k_v2, "dave")), "s:prod/db"});
  const Secret& s = *w.state.secret(k_db);
  CHECK(s.find(k_v2)->state == VersionState::compromised);
  CHECK(s.find(k_v2)->grants.empty());
  CHECK(s.requests.at("fedcba9876543210").voided);
  CHECK(s.requests.at(k_req).voided);
}

TEST_CASE("history apply: denial, retirement, policy, connectors, journal loss", "[history][apply]")
{
  World w = team();
  w.run("dave", RequestArgs{k_db, k_req, 3600}, {}, std::string("incident"));
  const Entry deny = w.run("carol", DenyArgs{k_db, k_req}, {}, std::string("not on call"));
  const DenialOf& d = *w.state.secret(k_db)->requests.at(k_req).denial;
  CHECK(d.by == "carol");
  CHECK(d.why == "not on call");
  CHECK(d.at == deny.ts);

  World r = team();
  r.run("dave", RequestArgs{k_db, k_req, 3600}, {}, std::string("incident"));
  r.run("olive", RetireArgs{k_db});
  CHECK(r.state.secret(k_db)->state == SecretState::retired);
  CHECK(r.state.secret(k_db)->requests.at(k_req).voided);
  // The last current version and its readers' keys stay (dependents may still need the value).
  CHECK(r.state.secret(k_db)->find(k_v1)->state == VersionState::current);
  CHECK(r.state.secret(k_db)->gens.at(1).holders.size() == 2);

  World p = team();
  PolicySetArgs ps;
  ps.env = "prod";
  ps.max_ttl = 3600;
  const Entry policy = p.run("alice", ps);
  CHECK(paths_of(policy) == std::vector<std::string>{"p"});
  CHECK(p.state.policy->envs.at("prod").max_ttl == 3600);
  // The new environment starts from the default's other values.
  CHECK(p.state.policy->envs.at("prod").keep == p.state.policy->envs.at("*").keep);
  CHECK(p.state.policy->envs.at("*").max_ttl == 8 * 3600);

  World c = team();
  const Entry removal = c.run("alice", ConnectorRemoveArgs{"crm"});
  CHECK(c.state.connector("crm") == nullptr);
  REQUIRE(paths_of(removal) == std::vector<std::string>{"c:crm"});
  CHECK_FALSE(removal.op->writes[0].after.has_value());

  World j = team();
  const Hash before = j.state.digest();
  const Entry loss = j.run("alice", JournalLossArgs{{LostEntry{commit("lost"), at("2026-11-30T08:00:00Z"), "bob", "reveal"}}},
                           {}, std::string("laptop died"));
  CHECK(j.state.lost.count(commit("lost")) == 1);
  CHECK(j.state.digest() == before); // history, not records
  CHECK(loss.op->writes.empty());
}

TEST_CASE("history apply: the writes check", "[history][apply]")
{
  World w = team();
  w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
  const Entry honest = w.entry("olive", UnshareArgs{k_db, "dave"});
  REQUIRE_FALSE(w.judge(honest).has_value());
  const Hash digest = w.state.digest();
  const auto refused = [&](Entry e, const char* expect) {
    State s = w.state;
    try {
      apply(s, e, "escrow.journal: line 42");
      FAIL("applied");
    } catch (const Error& error) {
      CHECK(error.kind() == ErrorKind::integrity);
      INFO(error.what());
      CHECK(std::string(error.what()).find(expect) != std::string::npos);
      CHECK(std::string(error.what()).rfind("escrow.journal: line 42: wrong writes: ", 0) == 0);
    }
    CHECK(s.digest() == digest); // nothing applied
  };
  {
    Entry e = honest; // the record write left out
    e.op->writes.pop_back();
    refused(e, "s:prod/db is changed");
  }
  {
    Entry e = honest; // the key line deletion left out (a reader key kept)
    e.op->writes.erase(e.op->writes.begin());
    refused(e, "is changed");
  }
  {
    Entry e = honest; // a write the operation does not make
    e.op->writes.push_back(Write{"s:prod/zz", std::nullopt, commit("x")});
    refused(e, "s:prod/zz is listed but the operation does not change it");
  }
  {
    Entry e = honest; // a wrong after hash
    e.op->writes.back().after = commit("forged");
    refused(e, "the entry says");
  }
  {
    Entry e = honest; // a before hash of another state (an old record restored)
    e.op->writes.back().before = commit("old");
    refused(e, "the entry says");
  }
  {
    Entry e = honest; // an extra key line deleted
    e.op->writes.insert(e.op->writes.begin() + 1, Write{kp(rk(k_db, 1, "erin")), fake_k(rk(k_db, 1, "erin")), std::nullopt});
    refused(e, "is listed but the operation does not change it");
  }
  // And the honest one applies.
  State s = w.state;
  apply(s, honest);
  CHECK(s.digest() != digest);
  CHECK(compute_writes(w.state, honest) == honest.op->writes);
}

namespace {

struct Step
{
  std::string actor;
  std::function<Args(World&)> args;
  std::vector<KeyLine> keys;
  std::optional<std::string> why;
};

Hash run_in_order(World w, const std::vector<Step>& steps)
{
  const Timestamp t = w.now;
  for (const Step& step : steps) {
    w.run(step.actor, step.args(w), step.keys, step.why);
    w.now = t; // one time for both, so only order differs
  }
  return w.state.digest();
}

void commutes(const World& base, const Step& a, const Step& b)
{
  CHECK(run_in_order(base, {a, b}) == run_in_order(base, {b, a}));
}

} // namespace

TEST_CASE("history apply: commuting operations give the same state in either order", "[history][apply]")
{
  World base = team();
  base.run("alice", MemberAddArgs{"ivy", base.id("ivy").pub.sign_pk, base.id("ivy").pub.box_pk, {Role::requester}, {"prod"}});
  const Step dave_requests{"dave", [](World&) { return Args{RequestArgs{k_db, "d1", 3600}}; }, {}, std::string("a")};
  const Step ivy_requests{"ivy", [](World&) { return Args{RequestArgs{k_db, "i1", 3600}}; }, {}, std::string("b")};
  const Step share_dave{"olive", [](World&) { return Args{ShareArgs{"dave", {ShareItem{k_db, {1}}}}}; }, {rk(k_db, 1, "dave")}, {}};
  const Step share_ivy{"olive", [](World&) { return Args{ShareArgs{"ivy", {ShareItem{k_db, {1}}}}}; }, {rk(k_db, 1, "ivy")}, {}};
  const Step custodians{"olive", [](World&) { return Args{CustodiansSetArgs{k_db, {"bob", "carol"}, 1}}; }, {}, {}};
  const Step rotate_start{"erin", [](World& w) { return Args{RotateStartArgs{{next_version(w)}}}; },
                          {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")}, {}};
  const Step add_quinn{"alice", [](World& w) {
                         return Args{MemberAddArgs{"quinn", w.id("quinn").pub.sign_pk, w.id("quinn").pub.box_pk,
                                                   {Role::requester}, {"dev"}}};
                       }, {}, {}};
  const Step add_cache{"olive", [](World&) { return Args{db_args("prod/cache", "00000000000000d4")}; },
                       db_lines("prod/cache", "00000000000000d4"), std::string("x")};
  const auto policy = [](std::string env) {
    return Step{"alice", [env](World&) {
                  PolicySetArgs p;
                  p.env = env;
                  p.max_ttl = 1800;
                  return Args{p};
                }, {}, {}};
  };
  SECTION("two requests on one secret") { commutes(base, dave_requests, ivy_requests); }
  SECTION("two shares of one secret") { commutes(base, share_dave, share_ivy); }
  SECTION("a share and a custodians change") { commutes(base, share_dave, custodians); }
  SECTION("a share and a rotation (the generation is shared, not resealed)") { commutes(base, share_dave, rotate_start); }
  SECTION("a member and a secret") { commutes(base, add_quinn, add_cache); }
  SECTION("policies of two environments") { commutes(base, policy("prod"), policy("dev")); }
  SECTION("two approvals of one request")
  {
    World w = base;
    w.run("dave", RequestArgs{k_db, k_req, 3600}, {}, std::string("incident"));
    const Step bob{"bob", [](World&) { return Args{ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}}; },
                   {ap(k_db, k_v1, k_req, "bob")}, {}};
    const Step carol{"carol", [](World&) { return Args{ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}}; },
                     {ap(k_db, k_v1, k_req, "carol")}, {}};
    commutes(w, bob, carol);
  }
  SECTION("two unshares (due reasons are a map)")
  {
    World w = base;
    w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
    w.run("olive", ShareArgs{"ivy", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "ivy")});
    commutes(w, Step{"olive", [](World&) { return Args{UnshareArgs{k_db, "dave"}}; }, {}, {}},
             Step{"olive", [](World&) { return Args{UnshareArgs{k_db, "ivy"}}; }, {}, {}});
  }
  SECTION("operations that do not commute are told apart")
  {
    // A request then the compromise voids it; the other order refuses the request (no current
    // version). The digests differ, so the merge check can see it.
    const Step compromise{"olive", [](World&) { return Args{CompromiseArgs{k_db, k_v1}}; }, {}, std::string("x")};
    World first = base;
    first.run("dave", RequestArgs{k_db, "d1", 3600}, {}, std::string("a"));
    first.run("olive", CompromiseArgs{k_db, k_v1}, {}, std::string("x"));
    World second = base;
    second.run("olive", CompromiseArgs{k_db, k_v1}, {}, std::string("x"));
    CHECK(second.judge(second.entry("dave", RequestArgs{k_db, "d1", 3600}, {}, std::string("a"))).has_value());
    CHECK(first.state.digest() != second.state.digest());
  }
}
