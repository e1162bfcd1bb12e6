// The library operations behind the commands on escrow-vault/2 (lib/escrow/history/secrets.hpp,
// roster.hpp, requests.hpp, admin.hpp, refusal.hpp), called directly on a history::VaultSession
// the way the CLI calls them (the vault set up through the CLI fixture).
#include "../cli/fixture.hpp"
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/history/admin.hpp>
#include <escrow/history/requests.hpp>
#include <escrow/history/roster.hpp>
#include <escrow/identity.hpp> // the public identity file (read_public_identity), as member add reads it
#include <escrow/history/secrets.hpp>

#include <catch2/catch.hpp>

#include <sstream>

using namespace escrow;
using escrow::test::Fixture;
using escrow::test::require_error;
namespace h = escrow::history;

namespace {

std::vector<h::Entry> journal(const Fixture& f)
{
  std::vector<h::Entry> out;
  std::istringstream lines(f.read("escrow.journal"));
  for (std::string line; std::getline(lines, line);) {
    out.push_back(h::parse_entry(line, "escrow.journal"));
  }
  return out;
}

// A session as the CLI opens it for `who` ("" = no identity: a public read).
h::VaultSession open(const Fixture& f, const std::string& who, h::Access access)
{
  h::VaultSessionOptions o;
  o.vault_path = f.vault();
  o.state_home = f.dir() / "state";
  o.clock = Clock::from_setting(f.env("ESCROW_NOW"));
  o.host = "test";
  o.lock_wait = std::chrono::seconds(5);
  if (!who.empty()) {
    const std::filesystem::path path = f.path(who + ".id");
    o.identity = [path] {
      return open_identity(canonical::parse(escrow::test::slurp(path), path.string()), nullptr, path.string());
    };
  }
  return h::VaultSession::open(std::move(o), access);
}

std::string detail_of(const h::Entry& entry, const std::string& key)
{
  REQUIRE(entry.detail.has_value());
  return entry.detail->at(key).get<std::string>();
}

// alice (genesis admin), bob (approver, prod), dave (requester, prod), ann (auditor, prod).
void team(const Fixture& f)
{
  f.set_env("ESCROW_NOW", "2030-01-01T00:00:00Z");
  f.init();
  f.member("bob", {"approver"}, {"prod"});
  f.member("dave", {"requester"}, {"prod"});
  f.member("ann", {"auditor"}, {"prod"});
}

} // namespace

TEST_CASE("secrets: add_secret seals v1 for its readers and journals it; reveal reads it", "[secrets]")
{
  Fixture f;
  team(f);
  {
    h::VaultSession session = open(f, "alice", h::Access::write);
    h::SecretSpec spec;
    spec.name = "prod/db";
    spec.purpose = "the database";
    spec.custodians = {"bob"};
    spec.threshold = 1;
    const h::Secret& secret = h::add_secret(session, spec, SecretBytes::from("s3cret-value"));
    CHECK(secret.name == "prod/db");
    CHECK(secret.owner == "alice");
    CHECK(secret.find_state(VersionState::current)->v == 1);
  }
  CHECK(journal(f).back().action == h::Action{h::OpKind::secret_add});
  CHECK(f.read("escrow.keys").find("\"prod/db:g1:rk:alice#") != std::string::npos);
  {
    h::VaultSession session = open(f, "alice", h::Access::read);
    const h::Revealed revealed = h::reveal(session, "prod/db", 0);
    CHECK(revealed.secret == "prod/db");
    CHECK(revealed.version == 1);
    CHECK(revealed.via == "reader");
    CHECK(revealed.value.expose_view() == "s3cret-value");
  }
  const h::Entry last = journal(f).back();
  CHECK(last.action == h::Action{h::EventKind::reveal});
  CHECK(last.result == h::Result::ok);
  CHECK(detail_of(last, "via") == "reader");
  // The value never reaches the three files.
  for (const char* name : {"escrow.vault", "escrow.journal", "escrow.keys"}) {
    CHECK(f.read(name).find("s3cret-value") == std::string::npos);
  }
}

TEST_CASE("secrets: check_secret_spec refuses bad arguments before any vault is opened", "[secrets]")
{
  h::SecretSpec spec;
  spec.name = "prod/db";
  (void)require_error(ErrorKind::usage, [&] { h::check_secret_spec(spec); }); // no purpose
  spec.purpose = "ok";
  spec.custodians = {"bob", "bob"};
  spec.threshold = 1;
  CHECK(require_error(ErrorKind::usage, [&] { h::check_secret_spec(spec); }) == "add: a custodian is listed twice");
  spec.custodians = {"bob"};
  spec.threshold = 2;
  (void)require_error(ErrorKind::usage, [&] { h::check_secret_spec(spec); });
  spec.threshold = 1;
  spec.purpose = "bell\a";
  (void)require_error(ErrorKind::usage, [&] { h::check_secret_spec(spec); });
  // The same checks for an update and for custodians.
  h::SecretUpdate update;
  update.name = "prod/db";
  (void)require_error(ErrorKind::usage, [&] { h::check_secret_update(update); }); // nothing to change
  update.tier = "bell\a";
  (void)require_error(ErrorKind::usage, [&] { h::check_secret_update(update); });
  (void)require_error(ErrorKind::usage, [] { h::check_custodians({"bob", "bob"}, 1); });
  (void)require_error(ErrorKind::usage, [] { h::check_custodians({}, 1); });
  h::check_custodians({}, 0);
}

TEST_CASE("secrets: a refused reveal is journaled once as denied, the vault untouched", "[secrets][journal]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "s3cret-value");
  const std::string head_before = f.read("escrow.vault");
  const std::string keys_before = f.read("escrow.keys");
  const std::size_t entries = journal(f).size();
  std::string message;
  {
    h::VaultSession session = open(f, "ann", h::Access::read);
    message = require_error(ErrorKind::access, [&] { (void)h::reveal(session, "prod/db", 0); });
    CHECK(message.find("ann may not read v1") != std::string::npos);
  }
  const auto after = journal(f);
  REQUIRE(after.size() == entries + 1);
  CHECK(after.back().action == h::Action{h::EventKind::reveal});
  CHECK(after.back().result == h::Result::denied);
  CHECK(after.back().actor == "ann");
  CHECK(detail_of(after.back(), "reason") == message);
  CHECK(f.read("escrow.vault") == head_before);
  CHECK(f.read("escrow.keys") == keys_before);
}

TEST_CASE("secrets: load_values journals every use before returning, and refuses as a whole", "[secrets]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "db-value");
  f.add("alice", "prod/api", "api-value");
  {
    h::VaultSession session = open(f, "alice", h::Access::read);
    const auto values = h::load_values(session, {{"DB", "prod/db", 0, ""}, {"API", "prod/api", 0, ""}}, "env");
    REQUIRE(values.size() == 2);
    CHECK(values[0].expose_view() == "db-value");
    CHECK(values[1].expose_view() == "api-value");
  }
  auto entries = journal(f);
  CHECK(entries[entries.size() - 2].action == h::Action{h::EventKind::exec});
  CHECK(detail_of(entries.back(), "variable") == "API");
  CHECK(detail_of(entries.back(), "program") == "env");
  const std::size_t count = entries.size();
  {
    h::VaultSession session = open(f, "ann", h::Access::read);
    (void)require_error(ErrorKind::access,
                        [&] { (void)h::load_values(session, {{"API", "prod/api", 0, ""}, {"DB", "prod/db", 0, ""}}, "env"); });
  }
  entries = journal(f);
  REQUIRE(entries.size() == count + 1); // one refusal, no use of prod/api journaled
  CHECK(entries.back().result == h::Result::denied);
  CHECK(entries.back().action == h::Action{h::EventKind::exec});
}

TEST_CASE("secrets: an after_access grant is marked used through ONE upgraded session", "[secrets][session]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "db-value", {"--custodians", "bob", "--threshold", "1", "--after-access"});
  std::string id;
  {
    h::VaultSession session = open(f, "dave", h::Access::write);
    id = h::file_request(session, "prod/db", 3600, "incident 1").id;
  }
  {
    h::VaultSession session = open(f, "bob", h::Access::write);
    CHECK(h::approve(session, "prod/db", id).granted());
  }
  {
    h::VaultSession session = open(f, "dave", h::Access::read);
    CHECK_FALSE(session.writable());
    const h::Revealed revealed = h::reveal(session, "prod/db", 0);
    CHECK(revealed.value.expose_view() == "db-value");
    CHECK(revealed.via == "approvals");
    CHECK(session.writable()); // upgraded in place: the identity was unlocked once
    const h::Secret& secret = *session.state().secret("prod/db");
    CHECK(secret.requests.at(id).used_at.has_value());
    CHECK_FALSE(secret.due.empty());
  }
  const auto entries = journal(f);
  CHECK(entries[entries.size() - 2].action == h::Action{h::EventKind::reveal});
  CHECK(entries.back().action == h::Action{h::OpKind::grant_used});
}

TEST_CASE("secrets: share wraps for the member, unshare removes them and makes the secret due", "[secrets]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "db-value");
  {
    h::VaultSession session = open(f, "alice", h::Access::write);
    CHECK(h::share(session, "prod/db", "dave") == std::vector<std::string>{"prod/db"});
  }
  CHECK(f.read("escrow.keys").find("\"prod/db:g1:rk:dave#") != std::string::npos);
  {
    h::VaultSession session = open(f, "dave", h::Access::read);
    CHECK(h::reveal(session, "prod/db", 0).value.expose_view() == "db-value");
  }
  {
    h::VaultSession session = open(f, "bob", h::Access::write);
    (void)require_error(ErrorKind::access, [&] { (void)h::unshare(session, "prod/db", "dave"); });
  }
  CHECK(journal(f).back().result == h::Result::denied);
  {
    h::VaultSession session = open(f, "alice", h::Access::write);
    CHECK(h::unshare(session, "prod/db", "dave"));
    CHECK_FALSE(session.state().secret("prod/db")->due.empty());
  }
  h::VaultSession session = open(f, "dave", h::Access::read);
  (void)require_error(ErrorKind::access, [&] { (void)h::reveal(session, "prod/db", 0); });
}

TEST_CASE("members: add_member and remove_member with its cascade", "[members]")
{
  Fixture f;
  team(f);
  f.identity("erin");
  f.add("alice", "prod/db", "db-value", {"--custodians", "bob", "--threshold", "1"});
  {
    h::VaultSession session = open(f, "alice", h::Access::write);
    const PublicIdentity pub = read_public_identity(f.path("erin.pub"));
    const h::Entry entry = h::add_member(session, pub, h::parse_grants({"requester"}, {"prod"}, "member add"));
    CHECK(entry.actor == "alice");
    CHECK(session.state().member("erin") != nullptr);
    // escrow-vault/2: a taken name is refused by the rules (authorize.cpp), a journaled denial.
    const std::string message = require_error(
      ErrorKind::access, [&] { (void)h::add_member(session, pub, h::parse_grants({"requester"}, {"prod"}, "member add")); });
    CHECK(message.find("erin") != std::string::npos);
  }
  CHECK(journal(f).back().action == h::Action{h::OpKind::member_add});
  (void)require_error(ErrorKind::usage, [] { (void)h::parse_grants({"wizard"}, {"prod"}, "member add"); });
  (void)require_error(ErrorKind::usage, [&] { (void)parse_public_identity(f.read("erin.id"), "erin.id"); });
  {
    h::VaultSession session = open(f, "alice", h::Access::write);
    const h::Removal removal = h::remove_member(session, "bob");
    CHECK(removal.member == "bob");
    // bob was prod/db's only custodian: the secret is due (its shares must be re-split).
    CHECK(std::find(removal.due.begin(), removal.due.end(), "prod/db") != removal.due.end());
    (void)require_error(ErrorKind::access, [&] { (void)h::remove_member(session, "alice"); });
  }
  const auto entries = journal(f);
  CHECK(entries.back().result == h::Result::denied); // the last admin's removal, refused and journaled
  CHECK(entries[entries.size() - 2].action == h::Action{h::OpKind::member_remove});
}

TEST_CASE("escrow: the session operations journal a refusal once, through the one path", "[escrow][journal]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "db-value", {"--custodians", "bob", "--threshold", "1"});
  const std::string head_before = f.read("escrow.vault");
  const std::string keys_before = f.read("escrow.keys");
  {
    h::VaultSession session = open(f, "bob", h::Access::write); // an approver, not a requester
    (void)require_error(ErrorKind::access, [&] { (void)h::file_request(session, "prod/db", 3600, "why"); });
  }
  CHECK(f.read("escrow.vault") == head_before);
  CHECK(f.read("escrow.keys") == keys_before);
  auto entries = journal(f);
  CHECK(entries.back().action == h::Action{h::OpKind::request});
  CHECK(entries.back().result == h::Result::denied);
  std::size_t count = entries.size();
  {
    h::VaultSession session = open(f, "dave", h::Access::write);
    h::PolicySetArgs change;
    change.env = "prod";
    change.keep = 3;
    (void)require_error(ErrorKind::access, [&] { (void)h::set_policy(session, change); });
  }
  entries = journal(f);
  REQUIRE(entries.size() == count + 1); // once
  CHECK(entries.back().action == h::Action{h::OpKind::policy_set});
  CHECK(entries.back().result == h::Result::denied);
  CHECK_FALSE(entries.back().op.has_value());
  {
    h::VaultSession session = open(f, "alice", h::Access::write);
    h::PolicySetArgs change;
    change.env = "prod";
    change.keep = 3;
    CHECK(h::set_policy(session, change).for_env("prod").keep == 3);
  }
  CHECK(journal(f).back().result == h::Result::ok);
  CHECK(f.read("escrow.vault") != head_before);
}

TEST_CASE("secrets: key debts — a standing reader lacking a live generation, paid by the owner only", "[secrets]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "db-value");
  f.add("alice", "prod/api", "api-value");
  {
    h::VaultSession session = open(f, "alice", h::Access::read);
    CHECK(h::key_debts(session.state(), "alice").empty());
  }
  // A rotator added since the last rotation reads standing and holds no key yet.
  f.member("rita", {"rotator"}, {"prod"});
  {
    h::VaultSession session = open(f, "rita", h::Access::read);
    const std::string why = require_error(ErrorKind::access, [&] { (void)h::reveal(session, "prod/db", 0); });
    CHECK_THAT(why, Catch::Contains("rita reads prod/db but holds no key of v1's generation yet"));
    CHECK_THAT(why, Catch::Contains("escrow share prod/db --with rita"));
    CHECK_THAT(why, !Catch::Contains("db-value"));
  }
  {
    h::VaultSession session = open(f, "alice", h::Access::read);
    const auto debts = h::key_debts(session.state(), "alice");
    REQUIRE(debts.size() == 1);
    CHECK(debts.at("rita") == std::vector<std::string>{"prod/api", "prod/db"});
    CHECK(h::key_debts(session.state(), "bob").empty()); // bob owns nothing: nothing he could pay
    CHECK(h::key_debts(session.state(), "") == debts);    // every owner's: alice's only
  }
  {
    h::VaultSession session = open(f, "bob", h::Access::write);
    CHECK(h::pay_key_debts(session).empty());
  }
  const std::size_t entries = journal(f).size();
  {
    h::VaultSession session = open(f, "alice", h::Access::write);
    const auto paid = h::pay_key_debts(session);
    CHECK(paid == std::vector<std::pair<std::string, std::string>>{{"prod/api", "rita"}, {"prod/db", "rita"}});
    CHECK(h::key_debts(session.state(), "alice").empty());
  }
  const std::vector<h::Entry> after = journal(f);
  REQUIRE(after.size() == entries + 1); // one share operation for both secrets
  CHECK(after.back().actor == "alice");
  CHECK(f.read("escrow.journal").find("db-value") == std::string::npos);
  {
    h::VaultSession session = open(f, "rita", h::Access::read);
    CHECK(h::reveal(session, "prod/db", 0).value.expose_view() == "db-value");
    CHECK(h::reveal(session, "prod/api", 0).value.expose_view() == "api-value");
  }
  const std::size_t read = journal(f).size(); // rita's two reads journaled
  {
    h::VaultSession session = open(f, "alice", h::Access::write);
    CHECK(h::pay_key_debts(session).empty()); // nothing left: no entry
  }
  CHECK(journal(f).size() == read);
}
