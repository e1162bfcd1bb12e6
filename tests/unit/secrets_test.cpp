// The library operations behind the commands (lib/escrow/secrets.hpp, members.hpp, escrow.hpp
// session operations, Session::record_refusal / refusing / upgrade), called directly on a
// Session the way the CLI calls them.
#include "../cli/fixture.hpp"
#include "foundation_support.hpp"

#include <escrow/escrow.hpp>
#include <escrow/members.hpp>
#include <escrow/secrets.hpp>

#include <catch2/catch.hpp>

using namespace escrow;
using escrow::test::Fixture;
using escrow::test::require_error;

namespace {

std::vector<JournalEntry> journal(const Fixture& f)
{
  return Journal(f.journal()).read_all();
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
    Session session = Session::open(f.options("alice"), Mode::write);
    NewSecret spec;
    spec.name = "prod/db";
    spec.purpose = "the database";
    spec.custodians = {"bob"};
    spec.threshold = 1;
    const SecretRecord& secret = add_secret(session, spec, SecretBytes::from("s3cret-value"));
    CHECK(secret.full_name() == "prod/db");
    CHECK(secret.owner == "alice");
    CHECK(secret.current()->v == 1);
  }
  CHECK(journal(f).back().action == JournalAction::add);
  {
    Session session = Session::open(f.options("alice"), Mode::read);
    const Revealed revealed = reveal(session, "prod/db", 0);
    CHECK(revealed.secret == "prod/db");
    CHECK(revealed.version == 1);
    CHECK(revealed.value.expose_view() == "s3cret-value");
  }
  const JournalEntry last = journal(f).back();
  CHECK(last.action == JournalAction::reveal);
  CHECK(last.result == JournalResult::ok);
  CHECK(last.detail.at("via") == "standing");
  // The value never reaches the journal.
  CHECK(f.read("escrow.journal").find("s3cret-value") == std::string::npos);
}

TEST_CASE("secrets: check_new_secret refuses bad arguments before any vault is opened", "[secrets]")
{
  NewSecret spec;
  spec.name = "prod/db";
  (void)require_error(ErrorKind::usage, [&] { check_new_secret(spec); }); // no purpose
  spec.purpose = "ok";
  spec.custodians = {"bob", "bob"};
  spec.threshold = 1;
  CHECK(require_error(ErrorKind::usage, [&] { check_new_secret(spec); }) == "add: a custodian is listed twice");
  spec.custodians = {"bob"};
  spec.threshold = 2;
  (void)require_error(ErrorKind::usage, [&] { check_new_secret(spec); });
  spec.threshold = 1;
  spec.purpose = "bell\a";
  (void)require_error(ErrorKind::usage, [&] { check_new_secret(spec); });
}

TEST_CASE("secrets: a refused reveal is journaled once as denied, the vault untouched", "[secrets][journal]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "s3cret-value");
  const std::string vault_before = f.read("escrow.vault");
  const std::size_t entries = journal(f).size();
  {
    Session session = Session::open(f.options("ann"), Mode::read);
    CHECK(require_error(ErrorKind::access, [&] { (void)reveal(session, "prod/db", 0); })
          == "get: ann is an auditor and may not read values");
  }
  const auto after = journal(f);
  REQUIRE(after.size() == entries + 1);
  CHECK(after.back().action == JournalAction::reveal);
  CHECK(after.back().result == JournalResult::denied);
  CHECK(after.back().actor == "ann");
  CHECK(after.back().detail.at("reason") == "get: ann is an auditor and may not read values");
  CHECK(f.read("escrow.vault") == vault_before);
}

TEST_CASE("secrets: load_values journals every use before returning, and refuses as a whole", "[secrets]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "db-value");
  f.add("alice", "prod/api", "api-value");
  {
    Session session = Session::open(f.options("alice"), Mode::read);
    const auto values = load_values(session, {{"DB", "prod/db"}, {"API", "prod/api"}}, "env");
    REQUIRE(values.size() == 2);
    CHECK(values[0].expose_view() == "db-value");
    CHECK(values[1].expose_view() == "api-value");
  }
  auto entries = journal(f);
  CHECK(entries[entries.size() - 2].action == JournalAction::exec);
  CHECK(entries.back().detail.at("variable") == "API");
  CHECK(entries.back().detail.at("program") == "env");
  {
    Session session = Session::open(f.options("ann"), Mode::read);
    (void)require_error(ErrorKind::access, [&] { (void)load_values(session, {{"DB", "prod/db"}}, "env"); });
  }
  entries = journal(f);
  CHECK(entries.back().result == JournalResult::denied);
  CHECK(entries.back().detail.at("reason") == "exec: ann is an auditor and may not use values");
}

TEST_CASE("secrets: an after_access grant is marked used through ONE upgraded session", "[secrets][session]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "db-value", {"--custodians", "bob", "--threshold", "1", "--after-access"});
  std::string id;
  {
    Session session = Session::open(f.options("dave"), Mode::write);
    id = file_request(session, "prod/db", 3600, "incident 1").id;
  }
  {
    Session session = Session::open(f.options("bob"), Mode::write);
    CHECK(approve(session, "prod/db", id).granted());
  }
  {
    Session session = Session::open(f.options("dave"), Mode::read);
    CHECK_FALSE(session.writable());
    const Revealed revealed = reveal(session, "prod/db", 0);
    CHECK(revealed.value.expose_view() == "db-value");
    CHECK(session.writable()); // upgraded in place: the identity was unlocked once
    const SecretRecord& secret = session.vault().secret("prod/db");
    CHECK(secret.requests.front().used_at.has_value());
  }
  const JournalEntry last = journal(f).back();
  CHECK(last.action == JournalAction::reveal);
  CHECK(last.request == id);
  CHECK(last.detail.at("revision").is_number_integer()); // committed with the vault write
}

TEST_CASE("secrets: share wraps for the member, unshare removes them and makes the secret due", "[secrets]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "db-value");
  {
    Session session = Session::open(f.options("alice"), Mode::write);
    share_secret(session, "prod/db", "dave");
  }
  {
    Session session = Session::open(f.options("dave"), Mode::read);
    CHECK(reveal(session, "prod/db", 0).value.expose_view() == "db-value");
  }
  {
    Session session = Session::open(f.options("bob"), Mode::write);
    CHECK(require_error(ErrorKind::access, [&] { unshare_secret(session, "prod/db", "dave"); })
          == "unshare: only the owner of prod/db (alice) may unshare it");
  }
  {
    Session session = Session::open(f.options("alice"), Mode::write);
    unshare_secret(session, "prod/db", "dave");
    CHECK(session.vault().secret("prod/db").due == "unshared from dave");
  }
  Session session = Session::open(f.options("dave"), Mode::read);
  (void)require_error(ErrorKind::access, [&] { (void)reveal(session, "prod/db", 0); });
}

TEST_CASE("members: add_member and remove_member with its cascade", "[members]")
{
  Fixture f;
  team(f);
  f.identity("erin");
  f.add("alice", "prod/db", "db-value", {"--custodians", "bob", "--threshold", "1"});
  {
    Session session = Session::open(f.options("alice"), Mode::write);
    const PublicIdentity pub = read_public_identity(f.path("erin.pub"));
    const MemberRecord& erin = add_member(session, pub, {"requester"}, {"prod"});
    CHECK(erin.name == "erin");
    CHECK(erin.added_by == "alice");
    const std::string message =
      require_error(ErrorKind::usage, [&] { (void)add_member(session, pub, {"requester"}, {"prod"}); });
    CHECK(message.find("already exists") != std::string::npos);
  }
  CHECK(journal(f).back().action == JournalAction::member_add);
  (void)require_error(ErrorKind::usage, [] { check_member_grants({"rotator", "approver"}, {"prod"}); });
  (void)require_error(ErrorKind::usage, [] { check_member_grants({"wizard"}, {"prod"}); });
  (void)require_error(ErrorKind::usage, [&] { (void)parse_public_identity(f.read("erin.id"), "erin.id"); });
  {
    Session session = Session::open(f.options("alice"), Mode::write);
    const Removal removal = remove_member(session, "bob");
    CHECK(removal.member == "bob");
    const SecretRecord& db = session.vault().secret("prod/db");
    CHECK(db.custodians.empty());
    CHECK(db.threshold == 0);
    const std::string message = require_error(ErrorKind::usage, [&] { (void)remove_member(session, "alice"); });
    CHECK(message.find("last admin") != std::string::npos);
  }
  CHECK(journal(f).back().action == JournalAction::member_remove);
}

TEST_CASE("escrow: the session operations journal a refusal once, through the one path", "[escrow][journal]")
{
  Fixture f;
  team(f);
  f.add("alice", "prod/db", "db-value", {"--custodians", "bob", "--threshold", "1"});
  const std::string vault_before = f.read("escrow.vault");
  {
    Session session = Session::open(f.options("bob"), Mode::write); // an approver, not a requester
    (void)require_error(ErrorKind::access, [&] { (void)file_request(session, "prod/db", 3600, "why"); });
  }
  CHECK(f.read("escrow.vault") == vault_before);
  auto entries = journal(f);
  CHECK(entries.back().action == JournalAction::request);
  CHECK(entries.back().result == JournalResult::denied);
  {
    Session session = Session::open(f.options("dave"), Mode::write);
    PolicyChange change;
    change.keep = 3;
    (void)require_error(ErrorKind::access, [&] { (void)set_policy(session, "prod", change); });
  }
  entries = journal(f);
  CHECK(entries.back().action == JournalAction::policy_set);
  CHECK(entries.back().result == JournalResult::denied);
  CHECK(entries.back().detail.at("keep") == 3);
  {
    Session session = Session::open(f.options("alice"), Mode::write);
    PolicyChange change;
    change.keep = 3;
    CHECK(set_policy(session, "prod", change).for_env("prod").keep == 3);
  }
  CHECK(journal(f).back().result == JournalResult::ok);
}
