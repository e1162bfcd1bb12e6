// The named attack classes of vault-2-plan.md §1.3 that need neither git nor the CLI, each forged
// with the Forger against the insider team (insider_support.hpp: lines 1-16 of its journal are
// init, nine member-adds, rma's connector-add (11), member-remove rma (12), connector-add prod-cmd
// (13), secret-add prod/db by owner (14), secret-add prod/api by other (15), request r1 by req
// (16)). Those that need git or the CLI are listed as pending in vault-2-plan.md §2.6.
#include "expected.hpp"
#include "insider_support.hpp"

using namespace insider;

namespace {

// The template's lines.
constexpr std::size_t k_member_remove_rma = 12;
constexpr std::size_t k_secret_add_api = 15;
constexpr std::size_t k_request_r1 = 16;

std::string describe(const Entry& e, std::size_t line)
{
  return fmt::format("escrow.journal: line {}: entry {} ({} by {}): ", line, short_hash(e.hash), action_name(e.action),
                     e.actor);
}

// Opening on this machine (the warm cache place) fails with Error(integrity) containing `expect`,
// for reads and writes, and nothing changes.
std::string require_refused_warm(Team& t, const std::string& expect)
{
  const Files vault_before = snapshot(t.vault_dir);
  const Files warm_before = snapshot(t.state_home);
  std::string first;
  for (const Access access : {Access::read, Access::write}) {
    const std::string message = error_of([&] { (void)VaultSession::open(t.options("a", true), access); }, ErrorKind::integrity);
    CHECK_THAT(message, Catch::Contains(expect));
    if (first.empty()) {
      first = message;
    }
  }
  CHECK(snapshot(t.vault_dir) == vault_before);
  CHECK(snapshot(t.state_home) == warm_before);
  return first;
}

// A forged operation refused everywhere with `kind`, naming its line, entry, action and actor.
void require_forgery_refused(Team& t, const std::string& signer, Args args, const Material& material = {},
                             std::optional<std::string> why = std::nullopt,
                             FindingKind kind = FindingKind::unauthorised_operation, const std::string& rule = "")
{
  test::Forger f = t.forger();
  const Entry e = f.append_op(t.id(signer), std::move(args), material, std::move(why));
  f.save();
  const std::optional<Finding> problem = verify_bytes(t);
  REQUIRE(problem.has_value());
  INFO(format_finding(*problem));
  CHECK(problem->kind == kind);
  const std::string message = require_refused_everywhere(t, describe(e, f.lines().size()));
  CHECK_THAT(message, Catch::Contains(rule));
}

// Damage refused everywhere: the fresh replay (empty state directory) names the finding of
// verify_vault (`kind`); this machine (warm cache place) names it too, or the loss it sees first
// (the loss check comes before the replay's findings). Nothing changes.
void require_damage_refused_everywhere(Team& t, FindingKind kind)
{
  const std::optional<Finding> problem = verify_bytes(t);
  REQUIRE(problem.has_value());
  const std::string finding = format_finding(*problem);
  INFO(finding);
  CHECK(problem->kind == kind);
  const Files vault_before = snapshot(t.vault_dir);
  const Files warm_before = snapshot(t.state_home);
  const Files empty_before = snapshot(t.empty_state);
  for (const bool warm : {true, false}) {
    for (const Access access : {Access::read, Access::write}) {
      const std::string message =
        error_of([&] { (void)VaultSession::open(t.options("a", warm), access); }, ErrorKind::integrity);
      if (warm && message.find("this machine verified") != std::string::npos) {
        CHECK_THAT(message, Catch::Contains("missing (lost or rolled back)"));
      } else {
        CHECK_THAT(message, Catch::Contains(finding));
      }
    }
  }
  CHECK(snapshot(t.vault_dir) == vault_before);
  CHECK(snapshot(t.state_home) == warm_before);
  CHECK(snapshot(t.empty_state) == empty_before);
}

// A fresh machine (empty state directory) cannot tell a cut tail from a shorter history: this is
// what the git first-parent check (plan step 9) is for. Documented, and asserted so that a change
// here is noticed.
void fresh_machine_cannot_tell(Team& t)
{
  CHECK_NOTHROW(VaultSession::open(t.options("a", false), Access::read));
}

MemberAddArgs mallory(Team& t)
{
  MemberAddArgs m;
  m.name = "mallory";
  m.sign_pk = t.id("mallory").pub.sign_pk;
  m.box_pk = t.id("mallory").pub.box_pk;
  m.roles = {Role::requester};
  m.envs = {"prod"};
  return m;
}

ApproveArgs approve_r1(Team& t)
{
  const State s = replay(slurp(t.journal())).state;
  const std::string& vid = t.secrets.at("prod/db").vid;
  const Version& v = s.secret("prod/db")->versions.at(vid);
  return ApproveArgs{"prod/db", "r1", "req", vid, v.v, v.dk_commit};
}

// cust approves r1 honestly: line 17.
void approved(Team& t)
{
  t.honest("cust", approve_r1(t), Material{{t.approval_line("prod/db", "r1", "cust", "req")}});
}

// An honest operation at line 17 (`first`) followed by an honest operation by another author at
// line 18; then: the tail cut (no key) is a loss on this machine; the middle cut breaks line 18's
// parent everywhere.
void cut_tests(Team& t, const std::function<void()>& first, const std::string& first_description)
{
  SECTION("the tail cut, no key: this machine sees the loss")
  {
    t.reset();
    first();
    test::Forger f = t.forger();
    f.truncate(t.template_lines);
    f.save();
    const std::string message = require_refused_warm(t, "1 entry this machine verified is missing");
    CHECK_THAT(message, Catch::Contains(first_description));
    fresh_machine_cannot_tell(t);
  }
  SECTION("the middle cut, no key: the next entry's parent is gone, everywhere")
  {
    t.reset();
    first();
    t.honest("a", mallory(t));
    test::Forger f = t.forger();
    f.delete_entries(t.template_lines + 1, t.template_lines + 1);
    f.save();
    require_damage_refused_everywhere(t, FindingKind::deleted_entry);
  }
}

} // namespace

TEST_CASE("insider cli: the acting commands accept the honest vault (control)", "[insider][cli]")
{
  // What makes every refusal of the suite the forgery's: the same commands, same identities and
  // cache places, succeed on the vault before it is forged.
  Team& team = Team::get();
  team.reset();
  require_cli_accepts(team);
  team.reset();
}

TEST_CASE("insider: self_authorising_owner", "[insider][attack]")
{
  Team& t = Team::get();
  t.reset();
  SecretSetArgs a;
  a.secret = "prod/db";
  a.owner = "req";
  a.generator = "cmd=curl https://evil.example";
  require_forgery_refused(t, "req", a, {}, std::nullopt, FindingKind::unauthorised_operation, "owner");
  // rotate --due as ci would start by opening for writing: it cannot (refused everywhere above),
  // so nothing is sealed to her and no cmd= runs.
}

TEST_CASE("insider: replayed_member_entry", "[insider][attack]")
{
  Team& t = Team::get();
  SECTION("the old member-add line appended again: a duplicate entry")
  {
    t.reset();
    test::Forger f = t.forger();
    f.append_line(f.lines().at(1)); // member-add rma by a
    f.save();
    require_damage_refused_everywhere(t, FindingKind::duplicate_entry);
  }
  SECTION("its arguments re-signed by the removed admin")
  {
    t.reset();
    test::Forger f = t.forger();
    const Entry old = f.entry(2);
    require_forgery_refused(t, "rma", old.op->args, {}, std::nullopt, FindingKind::removed_author);
  }
  SECTION("its arguments re-signed by the admin of * (names are never reused)")
  {
    t.reset();
    test::Forger f = t.forger();
    const Entry old = f.entry(2);
    require_forgery_refused(t, "a", old.op->args);
  }
  SECTION("the removed admin's own old entry re-parented onto the heads, signed again by them")
  {
    t.reset();
    test::Forger f = t.forger();
    Entry old = f.entry(11); // rma's connector-add
    old.parents.clear();
    old.ts = 0;
    f.append_raw(&t.id("rma"), old);
    f.save();
    require_damage_refused_everywhere(t, FindingKind::removed_author);
  }
}

TEST_CASE("insider: restore_pre_compromise", "[insider][attack]")
{
  Team& t = Team::get();
  cut_tests(
    t,
    [&] { t.honest("owner", CompromiseArgs{"prod/db", t.secrets.at("prod/db").vid}, {}, std::string("leaked")); },
    "(compromise by owner");
  SECTION("the compromise cut with cust's key: cust cannot re-sign the entries after it")
  {
    t.reset();
    t.honest("owner", CompromiseArgs{"prod/db", t.secrets.at("prod/db").vid}, {}, std::string("leaked"));
    t.honest("a", mallory(t));
    test::Forger f = t.forger();
    f.delete_entries(17, 17);
    f.edit_entry(17, [&](Entry& e) { e.parents = {f.entry(16).hash}; }, &t.id("cust"));
    f.save();
    // the re-signed member-add is now cust's: unauthorised (or a loss, on this machine)
    require_damage_refused_everywhere(t, FindingKind::unauthorised_operation);
  }
}

TEST_CASE("insider: restore_old_policy", "[insider][attack]")
{
  Team& t = Team::get();
  PolicySetArgs p;
  p.env = "prod";
  p.max_ttl = 3600;
  cut_tests(t, [&] { t.honest("a", p); }, "(policy-set by a");
  SECTION("the old policy's entry cannot be appended again")
  {
    t.reset();
    t.honest("a", p);
    PolicySetArgs loose;
    loose.env = "prod";
    loose.max_ttl = 8 * 3600;
    t.honest("a", loose);
    t.honest("a", p);
    test::Forger f = t.forger();
    f.append_line(f.lines().at(17)); // the looser policy-set, again
    f.save();
    require_damage_refused_everywhere(t, FindingKind::duplicate_entry);
  }
}

TEST_CASE("insider: restore_removed_connector", "[insider][attack]")
{
  Team& t = Team::get();
  cut_tests(t, [&] { t.honest("a", ConnectorRemoveArgs{"prod-cmd"}); }, "(connector-remove by a");
}

TEST_CASE("insider: deleted_secret", "[insider][attack]")
{
  Team& t = Team::get();
  t.reset();
  test::Forger f = t.forger();
  f.delete_entries(k_secret_add_api, k_secret_add_api);
  f.save();
  require_damage_refused_everywhere(t, FindingKind::deleted_entry);
}

TEST_CASE("insider: deleted_versions", "[insider][attack]")
{
  Team& t = Team::get();
  auto rotate = [&] {
    const Team::NewSecret n = t.seal_new("prod/db", 2, {"owner", "ci"}, {"cust"}, 1);
    RotateItem item;
    item.secret = "prod/db";
    item.vid = n.version.vid;
    item.v = 2;
    item.gen = 2;
    item.new_gen_rk_commit = n.version.rk_commit;
    item.dk_commit = n.version.dk_commit;
    item.custodians = {"cust"};
    item.threshold = 1;
    item.why = "scheduled";
    t.honest("owner", RotateStartArgs{{item}}, n.material);
  };
  cut_tests(t, rotate, "(rotate-start by owner");
}

TEST_CASE("insider: deleted_member_remove", "[insider][attack]")
{
  Team& t = Team::get();
  SECTION("no key")
  {
    t.reset();
    test::Forger f = t.forger();
    f.delete_entries(k_member_remove_rma, k_member_remove_rma);
    f.save();
    require_damage_refused_everywhere(t, FindingKind::deleted_entry);
  }
  SECTION("the author's own key: a re-parents her next entry, the entries of others still break")
  {
    t.reset();
    test::Forger f = t.forger();
    f.delete_entries(k_member_remove_rma, k_member_remove_rma);
    f.edit_entry(k_member_remove_rma, [&](Entry& e) { e.parents = {f.entry(k_member_remove_rma - 1).hash}; }, &t.id("a"));
    f.save();
    require_damage_refused_everywhere(t, FindingKind::deleted_entry);
  }
}

TEST_CASE("insider: deleted_denial", "[insider][attack]")
{
  Team& t = Team::get();
  cut_tests(t, [&] { t.honest("cust", DenyArgs{"prod/db", "r1"}, {}, std::string("no")); }, "(deny by cust");
}

TEST_CASE("insider: unbound_approval", "[insider][attack]")
{
  Team& t = Team::get();
  SECTION("appr re-authors the approved request with its id")
  {
    t.reset();
    approved(t);
    require_forgery_refused(t, "appr", RequestArgs{"prod/db", "r1", 3600}, {}, std::string("mine now"));
  }
  SECTION("other re-authors it")
  {
    t.reset();
    approved(t);
    require_forgery_refused(t, "other", RequestArgs{"prod/db", "r1", 3600}, {}, std::string("mine now"));
  }
  SECTION("other uses req's approved grant")
  {
    t.reset();
    approved(t);
    require_forgery_refused(t, "other", GrantUsedArgs{"prod/db", "r1"});
  }
  SECTION("control: req uses her own approved grant")
  {
    t.reset();
    approved(t);
    test::Forger f = t.forger();
    f.append_op(t.id("req"), GrantUsedArgs{"prod/db", "r1"});
    f.save();
    CHECK_FALSE(verify_bytes(t).has_value());
    require_opens_everywhere(t);
  }
}

TEST_CASE("insider: self_extended_grant", "[insider][attack]")
{
  Team& t = Team::get();
  SECTION("req re-signs her request with a larger ttl after the approval")
  {
    t.reset();
    approved(t);
    test::Forger f = t.forger();
    f.edit_entry(k_request_r1, [](Entry& e) { std::get<RequestArgs>(e.op->args).ttl = 8 * 3600; }, &t.id("req"));
    f.save();
    require_damage_refused_everywhere(t, FindingKind::deleted_entry);
  }
  SECTION("req appends a second request with the same id and a larger ttl")
  {
    t.reset();
    approved(t);
    require_forgery_refused(t, "req", RequestArgs{"prod/db", "r1", 8 * 3600}, {}, std::string("longer"));
  }
  SECTION("a ttl over the policy's cap")
  {
    t.reset();
    require_forgery_refused(t, "req", RequestArgs{"prod/db", "r2", 9 * 3600}, {}, std::string("longer"));
  }
}

TEST_CASE("insider: rules_the_reader_missed", "[insider][attack]")
{
  Team& t = Team::get();
  SECTION("an auditor requests")
  {
    t.reset();
    require_forgery_refused(t, "auditor", RequestArgs{"prod/db", "x1", 3600}, {}, std::string("audit"));
  }
  SECTION("the rotator requests")
  {
    t.reset();
    require_forgery_refused(t, "ci", RequestArgs{"prod/db", "x1", 3600}, {}, std::string("rotate"));
  }
  SECTION("any member denies")
  {
    t.reset();
    require_forgery_refused(t, "appr", DenyArgs{"prod/db", "r1"}, {}, std::string("no"));
  }
  SECTION("the rotator adds a recipient")
  {
    t.reset();
    const SecretRef ref{read_head_file(t.head()).vault_id, "prod/db"};
    const SealedLine line = seal_reader_key(ref, t.secrets.at("prod/db").generation, t.recipient("appr"));
    require_forgery_refused(t, "ci", ShareArgs{"appr", {ShareItem{"prod/db", {1}}}}, Material{{line}});
  }
}

TEST_CASE("insider: journal_laundering", "[insider][attack]")
{
  Team& t = Team::get();
  SECTION("the journal deleted")
  {
    t.reset();
    fs::remove(t.journal());
    const Files before = snapshot(t.vault_dir);
    const Files warm = snapshot(t.state_home);
    for (const Access access : {Access::read, Access::write}) {
      const std::string message = error_of([&] { (void)VaultSession::open(t.options("a", true), access); }, ErrorKind::io);
      CHECK_THAT(message, Catch::Contains("escrow.journal: no such file"));
    }
    CHECK(snapshot(t.vault_dir) == before);
    CHECK(snapshot(t.state_home) == warm);
  }
  SECTION("replaced by an older copy, then one honest write from a fresh machine")
  {
    t.reset();
    test::Forger f = t.forger();
    f.truncate(12);
    f.save();
    (void)require_refused_warm(t, "4 entries this machine verified are missing");
    // An honest member on another machine (which never saw the longer journal) writes.
    {
      VaultSessionOptions o = t.options("a", false);
      VaultSession s = VaultSession::open(o, Access::write);
      s.submit(mallory(t));
    }
    // This machine is not re-anchored: every read and write still refuses, naming the loss.
    (void)require_refused_warm(t, "4 entries this machine verified are missing");
    // And an honest write attempted here refuses before anything is written.
    const Files before = snapshot(t.vault_dir);
    CHECK_THROWS_AS(t.honest("a", ConnectorRemoveArgs{"prod-cmd"}), Error);
    CHECK(snapshot(t.vault_dir) == before);
  }
}

TEST_CASE("insider: acknowledged_loss_hides_an_operation", "[insider][attack]")
{
  // An admin of * cuts someone else's operation (the compromise) and acknowledges it as a lost
  // event: the rule is that a lost operation must be restored, never acknowledged.
  Team& t = Team::get();
  t.reset();
  const Entry compromise =
    t.honest("owner", CompromiseArgs{"prod/db", t.secrets.at("prod/db").vid}, {}, std::string("leaked"));
  SECTION("declared as what it was")
  {
    test::Forger f = t.forger();
    f.truncate(t.template_lines);
    f.save();
    JournalLossArgs loss;
    loss.lost.push_back(LostEntry{compromise.hash, compromise.ts, "owner", "compromise"});
    test::Forger g = t.forger();
    g.append_op(t.id("a"), loss, {}, std::string("lost"));
    g.save();
    const std::optional<Finding> problem = verify_bytes(t);
    REQUIRE(problem.has_value());
    CHECK_THAT(problem->reason, Catch::Contains("is an operation: a lost operation cannot be acknowledged"));
    // a fresh machine names the rule; this machine names the loss it sees first
    require_damage_refused_everywhere(t, FindingKind::unauthorised_operation);
  }
  SECTION("declared as an event: this machine saw an operation")
  {
    test::Forger f = t.forger();
    f.truncate(t.template_lines);
    JournalLossArgs loss;
    loss.lost.push_back(LostEntry{compromise.hash, compromise.ts, "owner", "reveal"});
    f.append_op(t.id("a"), loss, {}, std::string("lost"));
    f.save();
    const std::string message = require_refused_warm(t, "compromise by owner");
    CHECK_THAT(message, Catch::Contains("cannot be acknowledged"));
    fresh_machine_cannot_tell(t);
  }
}

TEST_CASE("insider: removed_member_forks_from_the_past", "[insider][attack]")
{
  Team& t = Team::get();
  t.reset();
  test::Forger f = t.forger();
  f.branch_from(k_member_remove_rma - 1); // rma's connector-add, before the removal
  f.append_op(t.id("rma"), [&] {
    MemberAddArgs m = mallory(t);
    m.roles = {Role::admin};
    return m;
  }());
  f.save();
  // The team is not blocked: both sides merge, the removal voids the removed admin's operations.
  const KeysFile keys = KeysFile::open(t.keys());
  const VerifiedVault v = verify_vault(slurp(t.head()), slurp(t.journal()), &keys);
  INFO((v.replay.first_problem() ? format_finding(*v.replay.first_problem()) : std::string("ok")));
  for (const bool warm : {true, false}) {
    VaultSession s = VaultSession::open(t.options("a", warm), Access::read);
    CHECK(s.state().member("mallory") == nullptr);
    CHECK(s.state().member("rma")->removed_at.has_value());
  }
  // The next honest write seals the merge; a fresh machine agrees.
  t.honest("a", ConnectorRemoveArgs{"prod-cmd"});
  VaultSession fresh = VaultSession::open(t.options("a", false), Access::read);
  CHECK(fresh.state().member("mallory") == nullptr);
  CHECK(fresh.heads().size() == 1);
}

// ---- Keybase-style hostile chains ----

TEST_CASE("insider: hostile chains", "[insider][attack][chains]")
{
  Team& t = Team::get();
  SECTION("hole_in_chain")
  {
    t.reset();
    test::Forger f = t.forger();
    f.delete_entries(8, 8);
    f.save();
    require_damage_refused_everywhere(t, FindingKind::deleted_entry);
  }
  SECTION("omit_latest, the head file fixed: a loss on this machine")
  {
    t.reset();
    test::Forger f = t.forger();
    f.truncate(t.template_lines - 1);
    f.save();
    (void)require_refused_warm(t, "(request by req");
    fresh_machine_cannot_tell(t);
  }
  SECTION("omit_latest, the head file left: truncated tail everywhere")
  {
    t.reset();
    test::Forger f = t.forger();
    f.truncate(t.template_lines - 1);
    f.replace_head(slurp(t.head()));
    f.save();
    const std::optional<Finding> problem = verify_bytes(t);
    REQUIRE(problem.has_value());
    CHECK(problem->kind == FindingKind::truncated_tail);
    for (const bool warm : {true, false}) {
      CHECK_THROWS_AS(VaultSession::open(t.options("a", warm), Access::read), Error);
    }
  }
  SECTION("wrong_parent: req re-signs her request onto the genesis")
  {
    t.reset();
    test::Forger f = t.forger();
    f.edit_entry(k_request_r1, [&](Entry& e) { e.parents = {f.entry(1).hash}; }, &t.id("req"));
    f.save();
    const std::optional<Finding> problem = verify_bytes(t);
    REQUIRE(problem.has_value());
    for (const bool warm : {true, false}) {
      for (const Access access : {Access::read, Access::write}) {
        (void)error_of([&] { (void)VaultSession::open(t.options("a", warm), access); }, ErrorKind::integrity);
      }
    }
  }
  SECTION("duplicate_member: a name again")
  {
    t.reset();
    MemberAddArgs m = mallory(t);
    m.name = "req";
    require_forgery_refused(t, "a", m);
  }
  SECTION("duplicate_member: a key again")
  {
    t.reset();
    MemberAddArgs m = mallory(t);
    m.sign_pk = t.id("req").pub.sign_pk;
    m.box_pk = t.id("req").pub.box_pk;
    require_forgery_refused(t, "a", m);
  }
  SECTION("admin_promotes_self")
  {
    t.reset();
    require_forgery_refused(t, "stg", MemberSetArgs{"stg", {Role::admin}, {"*"}});
  }
  SECTION("not_admin")
  {
    t.reset();
    require_forgery_refused(t, "req", mallory(t));
  }
  SECTION("foreign_vault_entry")
  {
    t.reset();
    test::Forger f = t.forger();
    f.append_op(t.id("a"), mallory(t));
    f.edit_entry(f.lines().size(), [](Entry& e) { e.vault[0] ^= 1; }, &t.id("a"));
    f.save();
    require_damage_refused_everywhere(t, FindingKind::foreign_entry);
  }
  SECTION("dated_before_parent")
  {
    t.reset();
    test::Forger f = t.forger();
    Entry e;
    e.action = EventKind::reveal;
    e.ts = t.now - 86400;
    e.actor = "a";
    f.append_raw(&t.id("a"), e);
    f.save();
    require_damage_refused_everywhere(t, FindingKind::dated_before_parent);
  }
  SECTION("reordered")
  {
    t.reset();
    test::Forger f = t.forger();
    f.move_entry(k_request_r1, 14);
    f.save();
    require_damage_refused_everywhere(t, FindingKind::reordered_entries);
  }
  SECTION("modified_entry: no key, the hash recomputed, the old signature kept")
  {
    t.reset();
    test::Forger f = t.forger();
    f.edit_entry(k_request_r1, [](Entry& e) { std::get<RequestArgs>(e.op->args).ttl = 7200; }, nullptr);
    f.save();
    require_damage_refused_everywhere(t, FindingKind::forged_signature);
  }
  SECTION("modified_entry: no key, the text edited in place")
  {
    t.reset();
    test::Forger f = t.forger();
    std::string line = f.lines().at(k_request_r1 - 1);
    const std::size_t at = line.find("\"ttl\":3600");
    REQUIRE(at != std::string::npos);
    line.replace(at, 10, "\"ttl\":7200");
    f.set_line(k_request_r1, line);
    f.replace_head(slurp(t.head()));
    f.save();
    const std::optional<Finding> problem = verify_bytes(t);
    REQUIRE(problem.has_value());
    CHECK(problem->kind == FindingKind::modified_entry);
    // this machine's fast path checks only the last verified line: it is the one edited here
    for (const bool warm : {true, false}) {
      CHECK_THROWS_AS(VaultSession::open(t.options("a", warm), Access::read), Error);
    }
  }
  SECTION("torn_last_line is a warning, not an error")
  {
    t.reset();
    spit(t.journal(), slurp(t.journal()) + "{\"action\":\"reve");
    const Files before = snapshot(t.vault_dir);
    for (const bool warm : {true, false}) {
      VaultSession s = VaultSession::open(t.options("a", warm), Access::read);
      REQUIRE_FALSE(s.warnings().empty());
      CHECK_THAT(s.warnings().back(), Catch::Contains("last line is incomplete"));
    }
    CHECK(snapshot(t.vault_dir) == before);
  }
}
