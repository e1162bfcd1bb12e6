// session: opening a vault (lock, stale temps, verify, pins, identity, membership) and the
// write order (journal entry, then the vault naming it). Rollback pins, --allow-rollback
// (journaled), a vault changed under a writer, and the recovery of a torn journal line.
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/session.hpp>

#include <sstream>

using namespace escrow;
using escrow::test::require_error;
using escrow::test::slurp;
using escrow::test::spit;
namespace fs = std::filesystem;

namespace {

constexpr Timestamp k_t0 = 1768467600; // 2026-01-15T09:00:00Z

struct Setup
{
  escrow::test::TempDir dir;
  SessionOptions options;

  Setup()
  {
    options.vault_path = dir / "team.vault";
    options.state_dir = dir / "state";
    options.clock = Clock::fixed(k_t0);
    options.passphrase = [](std::string_view) -> std::optional<SecretBytes> { return std::nullopt; };
    identity("alice");
    Session session = Session::create(as("alice"));
    JournalEntry entry;
    entry.action = JournalAction::init;
    session.commit(std::move(entry));
  }

  Identity identity(const std::string& name)
  {
    Identity made = generate_identity(name);
    spit(dir / (name + ".id"), serialize_identity(made, Protection::none, nullptr, crypto::kdf_limits(crypto::KdfStrength::fast)));
    return made;
  }

  SessionOptions as(const std::string& name) const
  {
    SessionOptions copy = options;
    copy.identity_path = dir / (name + ".id");
    return copy;
  }

  void touch(const std::string& who = "alice", JournalAction action = JournalAction::policy_set)
  {
    Session session = Session::open(as(who), Mode::write);
    JournalEntry entry;
    entry.action = action;
    session.commit(std::move(entry));
  }

  fs::path journal() const { return dir / "team.journal"; }
  std::string vault_text() const { return slurp(options.vault_path); }
};

std::vector<canonical::Json> journal_lines(const fs::path& path)
{
  std::vector<canonical::Json> lines;
  std::istringstream stream(slurp(path));
  for (std::string line; std::getline(stream, line);) {
    lines.push_back(canonical::parse(line, "journal line"));
  }
  return lines;
}

} // namespace

TEST_CASE("session: create writes revision 1 and its journal entry, never over an existing vault", "[session]")
{
  Setup setup;
  const Session session = Session::open(setup.as("alice"), Mode::read);
  CHECK(session.vault().revision() == 1);
  CHECK(session.me().name == "alice");
  const auto lines = journal_lines(setup.journal());
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["action"] == "init");
  CHECK(lines[0]["detail"]["revision"] == 1);
  CHECK(lines[0]["hash"] == session.vault().journal_head());
  // The journal line is in canonical compact form; the pin file in the pretty layout.
  CHECK(canonical::dump(lines[0]) + "\n" == slurp(setup.journal()));
  const std::string known = slurp(setup.options.state_dir / "known.json");
  CHECK(canonical::dump_pretty(canonical::parse(known, "known.json")) + "\n" == known);

  CHECK_THAT(require_error(ErrorKind::usage, [&] { (void)Session::create(setup.as("alice")); }),
             Catch::Contains("team.vault: already exists; refusing to overwrite"));
  SessionOptions other = setup.as("alice");
  other.vault_path = setup.dir / "team2.vault";
  spit(setup.dir / "team2.journal", "{}\n");
  CHECK_THAT(require_error(ErrorKind::usage, [&] { (void)Session::create(other); }),
             Catch::Contains("a journal already exists here"));
  other.vault_path = setup.dir / "missing.vault";
  CHECK_THAT(require_error(ErrorKind::io, [&] { (void)Session::open(other, Mode::read); }),
             Catch::Contains("missing.vault: no such vault"));
}

TEST_CASE("session: identities: non-members, removed members, missing passphrases", "[session]")
{
  Setup setup;
  const Identity bob = setup.identity("bob");
  setup.identity("eve");
  CHECK_THAT(require_error(ErrorKind::access, [&] { (void)Session::open(setup.as("eve"), Mode::read); }),
             Catch::Contains("eve (") && Catch::Contains("is not a member of this vault"));
  {
    Session session = Session::open(setup.as("alice"), Mode::write);
    MemberRecord record;
    record.name = "bob";
    record.sign_pk = bob.pub.sign_pk;
    record.box_pk = bob.pub.box_pk;
    record.roles = {Role::requester};
    record.envs = {"dev"};
    record.added_by = "alice";
    record.added_at = k_t0;
    session.vault().sign(record, session.identity());
    session.vault().put_member(record);
    record.removed_at = k_t0 + 10;
    record.removed_by = "alice";
    session.vault().sign(record, session.identity());
    session.vault().put_member(record);
    JournalEntry entry;
    entry.action = JournalAction::member_remove;
    session.commit(std::move(entry));
  }
  CHECK_THAT(require_error(ErrorKind::access, [&] { (void)Session::open(setup.as("bob"), Mode::read); }),
             Catch::Contains("bob was removed from this vault on 2026-01-15T09:00:10Z"));
  // A same-named identity with other keys is not the member.
  Identity impostor = generate_identity("alice");
  spit(setup.dir / "impostor.id", serialize_identity(impostor, Protection::none, nullptr, crypto::kdf_limits(crypto::KdfStrength::fast)));
  require_error(ErrorKind::access, [&] { (void)Session::open(setup.as("impostor"), Mode::read); });
  CHECK_THAT(require_error(ErrorKind::access, [&] { (void)Session::open(setup.as("nobody"), Mode::read); }),
             Catch::Contains("nobody.id: no identity file"));

  // ESCROW_IDENTITY_DATA: the identity's text, no file.
  SessionOptions data = setup.options;
  data.identity_data = SecretBytes::from(slurp(setup.dir / "alice.id"));
  CHECK(Session::open(data, Mode::read).me().name == "alice");

  // An encrypted identity with no way to ask for the passphrase.
  const SecretBytes passphrase = SecretBytes::from("pw");
  spit(setup.dir / "locked.id", serialize_identity(generate_identity("locked"), Protection::passphrase, &passphrase,
                                                   crypto::kdf_limits(crypto::KdfStrength::fast)));
  CHECK_THAT(require_error(ErrorKind::access, [&] { (void)Session::open(setup.as("locked"), Mode::read); }),
             Catch::Contains("a passphrase is needed"));
  SessionOptions with_passphrase = setup.as("locked");
  with_passphrase.passphrase = [](std::string_view) -> std::optional<SecretBytes> { return SecretBytes::from("no"); };
  CHECK_THAT(require_error(ErrorKind::access, [&] { (void)Session::open(with_passphrase, Mode::read); }),
             Catch::Contains("wrong passphrase"));
}

TEST_CASE("session: pins catch a rollback, --allow-rollback accepts it and journals it", "[session]")
{
  Setup setup;
  const std::string old_text = setup.vault_text();
  setup.touch();
  setup.touch();
  const auto pin = read_pin(setup.options.state_dir, Session::open(setup.as("alice"), Mode::read).vault().id_b64());
  REQUIRE(pin.has_value());
  CHECK(pin->revision == 3);

  const std::string new_text = setup.vault_text();
  spit(setup.options.vault_path, old_text);
  const std::string journal_before = slurp(setup.journal());
  const std::string message = require_error(ErrorKind::integrity, [&] { (void)Session::open(setup.as("alice"), Mode::read); });
  CHECK_THAT(message, Catch::EndsWith("team.vault: rolled back: this is revision 1, this machine has already seen revision 3"));
  CHECK(slurp(setup.journal()) == journal_before);
  CHECK(setup.vault_text() == old_text);
  require_error(ErrorKind::integrity, [&] { (void)Session::open(setup.as("alice"), Mode::write); });

  SessionOptions allow = setup.as("alice");
  allow.allow_rollback = true;
  const Session accepted = Session::open(allow, Mode::read);
  CHECK(accepted.vault().revision() == 1);
  CHECK(setup.vault_text() == old_text);
  const auto lines = journal_lines(setup.journal());
  REQUIRE(lines.size() == 4);
  CHECK(lines.back()["action"] == "allow-rollback");
  CHECK(lines.back()["detail"]["revision"] == 1);
  CHECK(lines.back()["detail"]["seen"] == 3);
  CHECK(read_pin(setup.options.state_dir, accepted.vault().id_b64())->revision == 1);
  // Once accepted, the older revision opens normally and is not journaled again.
  (void)Session::open(setup.as("alice"), Mode::read);
  CHECK(journal_lines(setup.journal()).size() == 4);
  // Moving forward again is fine.
  spit(setup.options.vault_path, new_text);
  CHECK(Session::open(setup.as("alice"), Mode::read).vault().revision() == 3);
}

TEST_CASE("session: the same revision with other content, a replaced genesis, a broken pin file", "[session]")
{
  Setup setup;
  const std::string before = setup.vault_text();
  setup.touch();
  const std::string first = setup.vault_text();
  spit(setup.options.vault_path, before);
  SessionOptions allow = setup.as("alice");
  allow.allow_rollback = true;
  {
    Session session = Session::open(allow, Mode::write);
    JournalEntry entry;
    entry.action = JournalAction::policy_set;
    session.commit(std::move(entry)); // another revision 2
  }
  REQUIRE(setup.vault_text() != first);
  spit(setup.options.vault_path, first);
  CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)Session::open(setup.as("alice"), Mode::read); }),
             Catch::Contains("revision 2 with different content"));

  const fs::path known = setup.options.state_dir / "known.json";
  canonical::Json pins = canonical::parse(slurp(known), "known.json");
  for (auto& [id, entry] : pins["vaults"].items()) {
    entry["genesis"] = "0000 0000 0000 0000 0000 0000 0000 0000";
  }
  spit(known, canonical::dump_pretty(pins) + "\n");
  CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)Session::open(setup.as("alice"), Mode::read); }),
             Catch::Contains("was first seen here with genesis admin 0000"));

  spit(known, "{\"format\":\"escrow-known/1\",\"vaults\":{},\"vaults\":{}}");
  CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)Session::open(setup.as("alice"), Mode::read); }),
             Catch::Contains("known.json: duplicate key"));
  spit(known, "[]");
  CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)Session::open(setup.as("alice"), Mode::read); }),
             Catch::Contains("known.json: not an escrow pin file"));
  fs::remove(known);
  CHECK_NOTHROW(Session::open(setup.as("alice"), Mode::read)); // first use again: pinned anew
  CHECK(fs::exists(known));
}

TEST_CASE("session: a writer refuses to save over a vault that changed on disk", "[session]")
{
  Setup setup;
  Session session = Session::open(setup.as("alice"), Mode::write);
  const std::string journal_before = slurp(setup.journal());
  // Someone bypassing the lock (e.g. git checkout) replaced the file meanwhile.
  const std::string text = setup.vault_text();
  spit(setup.options.vault_path, text + "\n");
  JournalEntry entry;
  entry.action = JournalAction::policy_set;
  CHECK_THAT(require_error(ErrorKind::io, [&] { session.commit(std::move(entry)); }),
             Catch::Contains("changed on disk while this command ran; nothing was written"));
  CHECK(slurp(setup.journal()) == journal_before);
}

TEST_CASE("session: a write session cleans up temp files a killed writer left", "[session]")
{
  Setup setup;
  spit(setup.dir / ".team.vault.tmp.4242.deadbeef", "half a vault");
  (void)Session::open(setup.as("alice"), Mode::read);
  CHECK(fs::exists(setup.dir / ".team.vault.tmp.4242.deadbeef")); // readers hold no lock: hands off
  (void)Session::open(setup.as("alice"), Mode::write);
  CHECK_FALSE(fs::exists(setup.dir / ".team.vault.tmp.4242.deadbeef"));
  spit(setup.options.state_dir / ".known.json.tmp.1.2", "half a pin file");
  setup.touch();
  CHECK_FALSE(fs::exists(setup.options.state_dir / ".known.json.tmp.1.2"));
}

TEST_CASE("session: a torn last journal line is cut off by the next writer", "[session]")
{
  Setup setup;
  const std::string intact = slurp(setup.journal());
  append_durably(setup.journal(), "{\"action\":\"add\",\"actor\":\"alice\",\"det"); // killed mid-append
  // Readers and verification see the fragment; the next locked append removes it.
  setup.touch("alice", JournalAction::retire);
  const auto lines = journal_lines(setup.journal());
  REQUIRE(lines.size() == 2);
  CHECK(lines[1]["action"] == "retire");
  CHECK(lines[1]["parents"][0] == lines[0]["hash"]);
  CHECK(slurp(setup.journal()).rfind(intact, 0) == 0);
  const Session session = Session::open(setup.as("alice"), Mode::read);
  CHECK(session.vault().journal_head() == lines[1]["hash"]);

  // A complete entry that only lacks its newline is kept, and gets one.
  std::string text = slurp(setup.journal());
  text.pop_back();
  spit(setup.journal(), text);
  setup.touch("alice", JournalAction::compromise);
  const auto kept = journal_lines(setup.journal());
  REQUIRE(kept.size() == 3);
  CHECK(kept[1]["action"] == "retire");
  CHECK(kept[2]["parents"][0] == kept[1]["hash"]);
}

TEST_CASE("session: record() journals an event without touching the vault", "[session]")
{
  Setup setup;
  const std::string vault_before = setup.vault_text();
  Session session = Session::open(setup.as("alice"), Mode::read);
  JournalEntry entry;
  entry.action = JournalAction::reveal;
  entry.secret = "dev/db";
  entry.result = JournalResult::denied;
  const std::string hash = session.record(std::move(entry));
  CHECK(setup.vault_text() == vault_before);
  const auto lines = journal_lines(setup.journal());
  REQUIRE(lines.size() == 2);
  CHECK(lines[1]["hash"] == hash);
  CHECK(lines[1]["result"] == "denied");
  CHECK(lines[1]["ts"] == "2026-01-15T09:00:00Z");
  CHECK(lines[1]["parents"][0] == lines[0]["hash"]);
  JournalEntry parsed = journal_entry_from_json(lines[1], "line 2");
  CHECK(journal_entry_hash(parsed) == hash);
}
