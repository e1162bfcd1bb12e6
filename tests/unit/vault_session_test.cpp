// The escrow-vault/2 storage and session layer (vault-2-plan.md step 5a): history::Store (the
// three files, D7's write order, crash points), history::Cache (the verified-state place, loss
// detection) and history::VaultSession (open: fast path / slow path; submit; record).
#include "vault_session_support.hpp"
#include "threads_support.hpp"

#include <escrow/crypto.hpp>
#include <escrow/history/cache.hpp>
#include <escrow/history/labels.hpp>
#include <escrow/history/listing.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/history/replay.hpp>
#include <escrow/history/store.hpp>

using namespace v2_test;

namespace {

struct Crash
{
  WriteStep step;
};

// Runs `body` expecting Error of `kind` whose message contains `text`.
template<typename Body>
void require_error(Body&& body, ErrorKind kind, const std::string& text)
{
  try {
    body();
    FAIL("no error; expected: " << text);
  } catch (const Error& error) {
    INFO(error.what());
    CHECK(error.kind() == kind);
    CHECK(std::string(error.what()).find(text) != std::string::npos);
  }
}

// alice (admin *) and bob (approver, prod), as a team the tests start from.
// The place caught up with the journal: a full replay writes the snapshot of the whole state (a
// small write leaves its entries ahead of the snapshot, Cache::save), so that a test starts from
// a place whose snapshot is the state.
void settle(Fixture& f)
{
  VaultSessionOptions o = f.options("");
  o.replay_all = true;
  (void)VaultSession::open(o, Access::read);
}

void team(Fixture& f)
{
  {
    VaultSession s = f.init();
    s.submit(member(f, "bob", {Role::approver}, {"prod"}));
  }
  settle(f);
}

} // namespace

TEST_CASE("v2 store: file names follow the head file", "[v2][store]")
{
  const VaultPaths p = VaultPaths::of("dir/escrow.vault");
  CHECK(p.journal == fs::path("dir/escrow.journal"));
  CHECK(p.keys == fs::path("dir/escrow.keys"));
  CHECK(p.lock == fs::path("dir/escrow.vault.lock"));
  const VaultPaths q = VaultPaths::of("team");
  CHECK(q.journal == fs::path("team.journal"));
  CHECK(q.keys == fs::path("team.keys"));
}

TEST_CASE("v2 init writes the three files and opens", "[v2][store][session]")
{
  Fixture f;
  {
    VaultSession s = f.init();
    CHECK(s.writable());
    CHECK(s.state().member("alice") != nullptr);
    CHECK(s.heads().size() == 1);
  }
  const HeadFile head = read_head_file(f.head());
  CHECK(line_count(slurp(f.journal())) == 1);
  CHECK(head.heads.size() == 1);
  CHECK(head.entries == 1);
  const KeysFile keys = KeysFile::open(f.keys());
  CHECK(keys.vault_id() == head.vault_id);
  CHECK(keys.verify_all() == 0);
  // A public read: no identity is loaded, and the cache place says nothing is new.
  int loaded = 0;
  VaultSessionOptions o = f.options();
  auto load = o.identity;
  o.identity = [&loaded, load] {
    ++loaded;
    return load();
  };
  CHECK(VaultSession::open(o, Access::read).state().members.size() == 1);
  CHECK(loaded == 0);
  VaultSession r = VaultSession::open(f.options(""), Access::read);
  CHECK(r.fast_path());
  CHECK_FALSE(r.writable());
  CHECK(r.state().member("alice")->has_role(Role::admin));
  CHECK(fs::exists(r.cache_place() / "verified.json"));
  require_error([&] { (void)r.identity(); }, ErrorKind::access, "needs an identity");
}

TEST_CASE("v2 init refuses to overwrite a vault", "[v2][store][session]")
{
  Fixture f;
  f.init();
  const auto before = f.vault_files();
  require_error([&] { f.init(); }, ErrorKind::usage, "escrow.journal: already exists");
  CHECK(f.vault_files() == before);
}

TEST_CASE("v2 init stopped before its journal leaves files a new init replaces", "[v2][store][crash]")
{
  for (const WriteStep step : {WriteStep::keys_written, WriteStep::head_written}) {
    Fixture f;
    VaultSessionOptions o = f.options();
    o.after_step = [step](WriteStep s) {
      if (s == step) {
        throw Crash{step};
      }
    };
    CHECK_THROWS_AS(VaultSession::create(o, star_policy()), Crash);
    CHECK_FALSE(fs::exists(f.journal()));
    // Nothing was committed: opening says the journal is missing, and init works.
    require_error([&] { VaultSession::open(f.options(), Access::read); }, ErrorKind::io, "");
    VaultSession s = f.init();
    CHECK(line_count(slurp(f.journal())) == 1);
  }
}

TEST_CASE("v2 init refuses files that are not its own leftovers", "[v2][store]")
{
  Fixture f;
  spit(f.keys(), "not a keys file\n");
  require_error([&] { f.init(); }, ErrorKind::usage, "escrow.keys: already exists");
  CHECK(slurp(f.keys()) == "not a keys file\n");
  CHECK_FALSE(fs::exists(f.head()));
}

TEST_CASE("v2 session refuses a v1 vault file", "[v2][store][session]")
{
  Fixture f;
  const std::string v1 = "{\n  \"format\": \"escrow-vault/1\",\n  \"journal_head\": \"x\"\n}\n";
  spit(f.head(), v1);
  require_error([&] { VaultSession::open(f.options(), Access::write); }, ErrorKind::integrity,
                "escrow-vault/1 is no longer supported; this escrow reads escrow-vault/2");
  require_error([&] { f.init(); }, ErrorKind::integrity, "escrow-vault/1 is no longer supported");
  CHECK(slurp(f.head()) == v1);
  CHECK_FALSE(fs::exists(f.journal()));
  CHECK_FALSE(fs::exists(f.keys()));
  CHECK_FALSE(fs::exists(f.vault_dir / "escrow.vault.lock")); // refused before locking
}

TEST_CASE("v2 store: strict, bounded reading names the file", "[v2][store]")
{
  Fixture f;
  team(f);
  SECTION("a missing journal")
  {
    fs::remove(f.journal());
    require_error([&] { Store::open(f.head(), false); }, ErrorKind::io, "escrow.journal: no such file");
  }
  SECTION("a missing head names the journal that is there")
  {
    fs::remove(f.head());
    try {
      Store::open(f.head(), false);
      FAIL("opened");
    } catch (const Error& error) {
      CHECK(std::string(error.what()).find("escrow.vault: no such vault") != std::string::npos);
      REQUIRE(error.hints().size() == 1);
      CHECK(error.hints()[0].find("exists without its head file") != std::string::npos);
    }
  }
  SECTION("a malformed head file")
  {
    spit(f.head(), "{}\n");
    require_error([&] { Store::open(f.head(), false); }, ErrorKind::integrity, "escrow.vault");
  }
  SECTION("a line over the limit")
  {
    std::string text = slurp(f.journal());
    text += std::string(k_max_journal_line + 1, 'x') + "\n";
    spit(f.journal(), text);
    Store store = Store::open(f.head(), false);
    require_error([&] { store.read_journal(); }, ErrorKind::integrity, "longer than");
  }
  SECTION("keys of another vault")
  {
    spit(f.keys(), serialize_keys(VaultId{}, {}));
    Store store = Store::open(f.head(), false);
    require_error([&] { (void)store.keys(); }, ErrorKind::integrity, "escrow.keys: belongs to another vault");
  }
}

// The fast path reads the last verified line by its offset: a short one in one small read, a
// long one (a batched entry) whole, wherever it ends.
TEST_CASE("v2 store: read_line_at reads short, long and unterminated lines", "[v2][store]")
{
  Fixture f;
  team(f);
  const std::string before = slurp(f.journal());
  const std::string big(300 * 1024, 'b');
  const std::string huge(1536 * 1024, 'h');
  spit(f.journal(), before + "short\n" + big + "\n" + huge + "\n" + "torn");
  Store store = Store::open(f.head(), false);
  const std::uint64_t at = before.size();
  CHECK(store.read_line_at(at) == std::optional<std::string>("short"));
  CHECK(store.read_line_at(at + 2) == std::optional<std::string>("ort"));
  CHECK(store.read_line_at(at + 6) == std::optional<std::string>(big));
  CHECK(store.read_line_at(at + 6 + big.size() + 1) == std::optional<std::string>(huge));
  CHECK(store.read_line_at(at + 6 + big.size() + 1 + huge.size() + 1) == std::nullopt); // no newline
  CHECK(store.read_line_at(before.size() + 1000000000) == std::nullopt);
}

TEST_CASE("v2 store: a torn final line is reported, never read, and cut by the next write", "[v2][store][crash]")
{
  Fixture f;
  team(f);
  const std::string clean = slurp(f.journal());
  spit(f.journal(), clean + "{\"action\":\"reve");
  {
    VaultSession s = VaultSession::open(f.options(), Access::read);
    CHECK(s.fast_path());
    REQUIRE_FALSE(s.warnings().empty());
    CHECK(s.warnings().back().find("last line is incomplete") != std::string::npos);
  }
  VaultSession s = VaultSession::open(f.options(), Access::write);
  s.submit(member(f, "carol", {Role::requester}, {"prod"}));
  const std::string after = slurp(f.journal());
  CHECK(after.substr(0, clean.size()) == clean);
  CHECK(line_count(after) == line_count(clean) + 1);
  CHECK(after.back() == '\n');
  CHECK(after.find("reve\"") == std::string::npos);
  CHECK(after.find("{\"action\":\"reve{") == std::string::npos);
}

TEST_CASE("v2 submit writes the operation: journal, keys, head, cache", "[v2][session]")
{
  Fixture f;
  team(f);
  VaultSession s = VaultSession::open(f.options(), Access::write);
  const SecretAdd add = secret_add(f, s.vault_id(), "prod/db", "hunter2");
  const Entry e = s.submit(add.args, add.material, std::string("first"));
  CHECK(s.state().secret("prod/db") != nullptr);
  const HeadFile head = read_head_file(f.head());
  CHECK(head.heads == std::vector<Hash>{e.hash});
  CHECK(head.entries == 3);
  const KeysFile keys = KeysFile::open(f.keys());
  CHECK(keys.verify_all() == 3);
  for (const SealedLine& line : add.material.lines) {
    CHECK(keys.find(line.key()).has_value());
  }
  // The value never reaches the journal, the head or the cache.
  CHECK(slurp(f.journal()).find("hunter2") == std::string::npos);
  for (const auto& [name, bytes] : f.cache_files()) {
    INFO(name);
    CHECK(bytes.find("hunter2") == std::string::npos);
  }
  // And the committed line opens to it (the material is what the state names).
  const Secret& secret = *s.state().secret("prod/db");
  const Version& version = secret.versions.begin()->second;
  const SecretRef ref{s.vault_id(), "prod/db"};
  const VersionRef vref{*Vid::from_hex(secret.versions.begin()->first), 1, version.dk_commit, version.material};
  const GenerationRef gref{1, secret.gens.at(1).rk_commit};
  const SecretBytes dk = open_as_reader(keys, ref, vref, gref, secret.gens.at(1).holders.at("alice"), f.id("alice"));
  CHECK(decrypt_value(keys, ref, vref, dk).expose_view() == "hunter2");
}

TEST_CASE("v2 submit refused by the rules leaves every file byte-identical", "[v2][session]")
{
  Fixture f;
  team(f);
  const auto files = f.vault_files();
  VaultSession s = VaultSession::open(f.options("bob"), Access::write);
  const auto cache = f.cache_files();
  // bob (approver of prod) may not add members.
  require_error([&] { s.submit(member(f, "mallory", {Role::admin}, {"*"})); }, ErrorKind::access,
                "escrow.vault: member-add: bob is not an admin of *");
  // nor add a secret with a line sealed to himself.
  SecretAdd add = secret_add(f, s.vault_id(), "prod/db", "v");
  add.args.owner = "bob";
  require_error([&] { s.submit(add.args, add.material); }, ErrorKind::access, "secret-add");
  CHECK(f.vault_files() == files);
  CHECK(f.cache_files() == cache);
  CHECK(s.state().member("mallory") == nullptr);
}

TEST_CASE("v2 session: an identity whose keys are not the member's is refused", "[v2][session]")
{
  Fixture f;
  team(f);
  const auto files = f.vault_files();
  VaultSessionOptions o = f.options();
  o.identity = [] { return generate_identity("alice"); };
  {
    VaultSession s = VaultSession::open(o, Access::write);
    require_error([&] { s.submit(member(f, "carol", {Role::requester}, {"prod"})); }, ErrorKind::access,
                  "not those of member alice");
  }
  VaultSessionOptions outsider = f.options("zoe");
  VaultSession z = VaultSession::open(outsider, Access::write);
  // Named with the identity's fingerprint (e8af861: "NAME (FINGERPRINT) is not a member of this vault").
  require_error([&] { z.submit(member(f, "carol", {Role::requester}, {"prod"})); }, ErrorKind::access, ": zoe (");
  require_error([&] { z.submit(member(f, "carol", {Role::requester}, {"prod"})); }, ErrorKind::access,
                ") is not a member of this vault");
  CHECK(f.vault_files() == files);
}

TEST_CASE("v2 submit crash points: every step leaves a vault that opens", "[v2][session][crash]")
{
  for (const WriteStep step : {WriteStep::keys_written, WriteStep::journal_appended, WriteStep::head_written}) {
    Fixture f;
    team(f);
    const std::string journal_before = slurp(f.journal());
    const std::string head_before = slurp(f.head());
    VaultId vault{};
    {
      VaultSessionOptions o = f.options();
      o.after_step = [step](WriteStep s) {
        if (s == step) {
          throw Crash{step};
        }
      };
      VaultSession s = VaultSession::open(o, Access::write);
      vault = s.vault_id();
      const SecretAdd add = secret_add(f, vault, "prod/db", "v1");
      CHECK_THROWS_AS(s.submit(add.args, add.material), Crash);
    }
    const bool committed = step != WriteStep::keys_written;
    INFO("crash after step " << static_cast<int>(step));
    CHECK(line_count(slurp(f.journal())) == line_count(journal_before) + (committed ? 1 : 0));
    // The head is behind after a crash between the append and its rename: allowed.
    if (step != WriteStep::head_written) {
      CHECK(slurp(f.head()) == head_before);
    }
    // Opens, read and write, from the cache place (the crash came before the cache step) and
    // from nothing.
    {
      VaultSession r = VaultSession::open(f.options(""), Access::read);
      CHECK((r.state().secret("prod/db") != nullptr) == committed);
    }
    fs::remove_all(f.state_home);
    VaultSession w = VaultSession::open(f.options(), Access::write);
    CHECK((w.state().secret("prod/db") != nullptr) == committed);
    // The next write: garbage key lines (a crash before the append) are removed, a head that is
    // behind is rewritten.
    const SecretAdd next = secret_add(f, vault, "prod/api", "v2");
    const Entry e = w.submit(next.args, next.material);
    const KeysFile keys = KeysFile::open(f.keys());
    CHECK(keys.verify_all() == (committed ? 6u : 3u));
    CHECK(referenced_line_keys(w.state()).size() == keys.verify_all());
    CHECK(read_head_file(f.head()).heads == std::vector<Hash>{e.hash});
  }
}

TEST_CASE("v2 events append to the journal only", "[v2][session]")
{
  Fixture f;
  team(f);
  const std::string head = slurp(f.head());
  const std::string keys = slurp(f.keys());
  const std::size_t lines = line_count(slurp(f.journal()));
  VaultSession s = VaultSession::open(f.options("bob"), Access::read);
  const Entry e = s.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}});
  CHECK_FALSE(s.writable()); // took the lock for the append only
  CHECK(line_count(slurp(f.journal())) == lines + 1);
  CHECK(slurp(f.head()) == head);
  CHECK(slurp(f.keys()) == keys);
  // The head is now behind the journal: allowed; the next operation's parent is the event.
  VaultSession w = VaultSession::open(f.options(), Access::write);
  CHECK(w.fast_path());
  CHECK(w.heads() == std::vector<Hash>{e.hash});
  const Entry op = w.submit(member(f, "carol", {Role::requester}, {"prod"}));
  CHECK(op.parents == std::vector<Hash>{e.hash});
  w = VaultSession::open(f.options(""), Access::read); // releases the lock
  // A refusal is an event too.
  VaultSession b = VaultSession::open(f.options("bob"), Access::read);
  const Entry denied = b.record(OpKind::member_add, Result::denied, Json{{"reason", "not an admin"}});
  CHECK(denied.result == Result::denied);
  CHECK(line_count(slurp(f.journal())) == lines + 3);
}

TEST_CASE("v2 open: the fast path gives the state the slow path gives", "[v2][session][cache]")
{
  Fixture f;
  team(f);
  {
    VaultSession s = VaultSession::open(f.options(), Access::write);
    const SecretAdd add = secret_add(f, s.vault_id(), "prod/db", "x");
    s.submit(add.args, add.material);
  }
  // Another machine's writes (no cache here) appended after this one's position.
  const fs::path other_state = f.root / "other-state";
  {
    VaultSessionOptions o = f.options("bob");
    o.state_home = other_state;
    VaultSession b = VaultSession::open(o, Access::read);
    CHECK_FALSE(b.fast_path());
    b.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}});
    VaultSessionOptions oa = f.options();
    oa.state_home = other_state;
    VaultSession a = VaultSession::open(oa, Access::write);
    a.submit(member(f, "dave", {Role::requester}, {"prod"}));
    CHECK(a.fast_path());
  }
  VaultSession fast = VaultSession::open(f.options(""), Access::read);
  CHECK(fast.fast_path());
  CHECK(fast.state().member("dave") != nullptr);
  // The keys-clean hint is not what was verified: only a full replay (records all in memory) or
  // a write knows the keys file holds exactly what the state references, so the two paths may
  // differ in it alone.
  const auto verified_files = [&f] {
    auto files = f.cache_files();
    std::erase_if(files, [](const auto& file) { return file.first.find("keys-clean") != std::string::npos; });
    return files;
  };
  const auto cache_after_fast = verified_files();
  // Nothing new: nothing rewritten.
  CHECK(VaultSession::open(f.options(""), Access::read).fast_path());
  CHECK(verified_files() == cache_after_fast);
  const auto log_now = [&] {
    const Cache cache(fast.cache_place(), fast.vault_id());
    return cache.entries(cache.load()->log);
  };
  const std::vector<VerifiedEntry> fast_log = log_now();
  fs::remove_all(f.state_home);
  VaultSession slow = VaultSession::open(f.options(""), Access::read);
  CHECK_FALSE(slow.fast_path());
  CHECK(fast.state().digest() == slow.state().digest());
  CHECK(fast.heads() == slow.heads());
  // Both leave the same log. The fast path's place keeps the few entries it replayed ahead of its
  // snapshot (Cache::save); the slow path's holds a snapshot of the whole state.
  CHECK(log_now() == fast_log);
  const auto cache_after_slow = verified_files();
  CHECK(VaultSession::open(f.options(""), Access::read).fast_path());
  CHECK(verified_files() == cache_after_slow);
}

TEST_CASE("v2 open: a forged tail entry is refused on the fast path and the cache does not move", "[v2][session][cache]")
{
  Fixture f;
  team(f);
  VaultSession first = VaultSession::open(f.options(""), Access::read);
  const auto cache = f.cache_files();
  // bob appends a member-add he may not make, signed by himself (a modified escrow).
  Entry e;
  e.vault = first.vault_id();
  e.actor = "bob";
  e.ts = f.now;
  e.host = "test";
  e.parents = first.heads();
  e.action = OpKind::member_add;
  e.op = Op{member(f, "mallory", {Role::admin}, {"*"}), {}};
  e.op->writes = compute_writes(first.state(), e);
  seal_entry(e, f.id("bob"));
  spit(f.journal(), slurp(f.journal()) + dump_entry(e) + "\n");
  const auto files = f.vault_files();
  require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity, "member-add");
  require_error([&] { VaultSession::open(f.options(), Access::write); }, ErrorKind::integrity, "member-add");
  CHECK(f.vault_files() == files);
  CHECK(f.cache_files() == cache);
}

TEST_CASE("v2 loss: a journal shorter than what this machine verified is refused until acknowledged", "[v2][session][loss]")
{
  Fixture f;
  team(f);
  const std::string older = slurp(f.journal());
  const std::string older_head = slurp(f.head());
  std::vector<Entry> reads;
  {
    VaultSession b = VaultSession::open(f.options("bob"), Access::read);
    reads.push_back(b.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}}));
    reads.push_back(b.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}}));
  }
  SECTION("replaced by an older copy (head and journal together): every command refuses, files unchanged")
  {
    spit(f.journal(), older);
    spit(f.head(), older_head);
    const auto files = f.vault_files();
    const auto cache = f.cache_files();
    for (int i = 0; i < 2; ++i) { // and keeps refusing
      require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                    "2 entries this machine verified are missing");
      require_error([&] { VaultSession::open(f.options(), Access::write); }, ErrorKind::integrity,
                    "are missing (lost or rolled back): the newest is " + short_hash(reads[1].hash) + " (reveal by bob");
    }
    CHECK(f.vault_files() == files);
    CHECK(f.cache_files() == cache);

    // An admin acknowledges exactly what was lost; then work resumes.
    VaultSessionOptions o = f.options();
    o.acknowledging_loss = true;
    VaultSession a = VaultSession::open(o, Access::write);
    REQUIRE(a.lost().size() == 2);
    require_error([&] { a.submit(member(f, "carol", {Role::requester}, {"prod"})); }, ErrorKind::integrity,
                  "missing");
    JournalLossArgs ack;
    for (const VerifiedEntry& l : a.lost()) {
      ack.lost.push_back(LostEntry{l.hash, l.ts, l.actor, l.action});
    }
    std::sort(ack.lost.begin(), ack.lost.end(), [](const LostEntry& x, const LostEntry& y) { return x.hash < y.hash; });
    JournalLossArgs partial = ack;
    partial.lost.pop_back();
    require_error([&] { a.submit(partial, {}, std::string("lost in a bad rebase")); }, ErrorKind::usage,
                  "exactly the 2 entries");
    a.submit(ack, {}, std::string("lost in a bad rebase"));
    CHECK(a.state().lost.size() == 2);
    a = VaultSession::open(f.options(""), Access::read); // releases the lock
    VaultSession again = VaultSession::open(f.options(), Access::write);
    CHECK(again.fast_path());
    again.submit(member(f, "carol", {Role::requester}, {"prod"}));
    again = VaultSession::open(f.options(""), Access::read);
    fs::remove_all(f.state_home); // a fresh machine agrees
    VaultSession fresh = VaultSession::open(f.options(""), Access::read);
    CHECK(fresh.state().digest() == again.state().digest());
  }
  SECTION("an entry cut from the middle: the loss is what is reported, not the broken parent link")
  {
    const std::string full = slurp(f.journal());
    const std::size_t start = older.size();
    const std::size_t end = full.find('\n', start) + 1; // the first reveal
    spit(f.journal(), full.substr(0, start) + full.substr(end));
    const auto files = f.vault_files();
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  "1 entry this machine verified is missing (lost or rolled back): the newest is " +
                    short_hash(reads[0].hash));
    CHECK(f.vault_files() == files);
    // A machine that never saw it finds the hole from the journal alone.
    fs::remove_all(f.state_home);
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity, "escrow.journal");
  }
  SECTION("the journal cut but the head left: the loss is what is reported")
  {
    spit(f.journal(), older);
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity, "missing");
  }
  SECTION("a lost operation cannot be acknowledged")
  {
    {
      VaultSession a = VaultSession::open(f.options(), Access::write);
      a.submit(member(f, "carol", {Role::requester}, {"prod"}));
    }
    spit(f.journal(), older);
    spit(f.head(), older_head);
    const auto files = f.vault_files();
    VaultSessionOptions o = f.options();
    o.acknowledging_loss = true;
    VaultSession a = VaultSession::open(o, Access::write);
    REQUIRE(a.lost().size() == 3);
    JournalLossArgs ack;
    for (const VerifiedEntry& l : a.lost()) {
      ack.lost.push_back(LostEntry{l.hash, l.ts, l.actor, l.action});
    }
    std::sort(ack.lost.begin(), ack.lost.end(), [](const LostEntry& x, const LostEntry& y) { return x.hash < y.hash; });
    require_error([&] { a.submit(ack, {}, std::string("x")); }, ErrorKind::integrity,
                  "(member-add by alice, 2026-12-01T");
    CHECK(f.vault_files() == files);
  }
  SECTION("a non-admin cannot acknowledge")
  {
    spit(f.journal(), older);
    spit(f.head(), older_head);
    const auto files = f.vault_files();
    VaultSessionOptions o = f.options("bob");
    o.acknowledging_loss = true;
    VaultSession b = VaultSession::open(o, Access::write);
    JournalLossArgs ack;
    for (const VerifiedEntry& l : b.lost()) {
      ack.lost.push_back(LostEntry{l.hash, l.ts, l.actor, l.action});
    }
    std::sort(ack.lost.begin(), ack.lost.end(), [](const LostEntry& x, const LostEntry& y) { return x.hash < y.hash; });
    require_error([&] { b.submit(ack, {}, std::string("x")); }, ErrorKind::access, "journal-loss");
    CHECK(f.vault_files() == files);
  }
  SECTION("a head naming an entry the journal lacks, on a machine that never saw it")
  {
    fs::remove_all(f.state_home);
    spit(f.journal(), older.substr(0, older.find('\n') + 1)); // the genesis alone
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  "which the journal lacks");
  }
}

namespace {

fs::path snapshot_of(const fs::path& place)
{
  for (const auto& entry : fs::directory_iterator(place)) {
    if (entry.path().extension() == ".snap") {
      return entry.path();
    }
  }
  FAIL("no snapshot in " << place);
  return {};
}

// Opens (a read session) and reads every record of its state.
void open_all(Fixture& f, bool replay_all = false)
{
  VaultSessionOptions o = f.options("");
  o.replay_all = replay_all;
  VaultSession s = VaultSession::open(o, Access::read);
  s.state().load_all();
}

// alice's team with two secrets (a state whose records are not all read by a lookup).
void team_with_secrets(Fixture& f)
{
  team(f);
  {
    VaultSession s = VaultSession::open(f.options(), Access::write);
    for (const char* name : {"prod/db", "prod/api"}) {
      const SecretAdd add = secret_add(f, s.vault_id(), name, "x");
      s.submit(add.args, add.material);
    }
  }
  settle(f);
}

} // namespace

TEST_CASE("v2 cache: a damaged place is an error naming its file", "[v2][cache]")
{
  Fixture f;
  team_with_secrets(f);
  VaultSession s = VaultSession::open(f.options(""), Access::read);
  const fs::path place = s.cache_place();
  const auto vault = f.vault_files();
  SECTION("verified.json")
  {
    spit(place / "verified.json", "{}\n");
    require_error([&] { open_all(f); }, ErrorKind::integrity, "verified.json");
  }
  SECTION("verified.json cut short")
  {
    const std::string text = slurp(place / "verified.json");
    spit(place / "verified.json", text.substr(0, text.size() / 2));
    require_error([&] { open_all(f); }, ErrorKind::integrity, "verified.json: not a complete file");
  }
  SECTION("a record of the state snapshot edited (read when first used)")
  {
    const fs::path snap = snapshot_of(place);
    std::string text = slurp(snap);
    // The last record (the listing section follows the records: escrow-state/4).
    const std::size_t listing = Json::parse(text.substr(0, text.find('\n'))).at("listing").at("size").get<std::size_t>();
    const std::size_t at = text.rfind("\"prod\"", text.size() - listing);
    REQUIRE(at != std::string::npos);
    text.replace(at, 6, "\"test\"");
    spit(snap, text);
    require_error([&] { open_all(f); }, ErrorKind::integrity, "does not hash to the hash its index names");
    require_error([&] { open_all(f); }, ErrorKind::integrity, snap.filename().string());
  }
  SECTION("a record of the state snapshot replaced, its index hash with it")
  {
    // Each index block must hash to the hash the first line names (which verified.json names): a
    // record and its index line changed together are caught when the block is read — at open
    // here, where the policy's block is the only one.
    const fs::path snap = snapshot_of(place);
    std::string text = slurp(snap);
    const std::size_t line = text.find("\ns:prod/db\t");
    REQUIRE(line != std::string::npos);
    const std::size_t hash = line + std::string("\ns:prod/db\t").size();
    text[hash] = text[hash] == 'A' ? 'B' : 'A';
    spit(snap, text);
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  "block 1 of its index does not hash to the hash its first line names");
  }
  SECTION("the snapshot's first line edited (its block list)")
  {
    const fs::path snap = snapshot_of(place);
    std::string text = slurp(snap);
    const std::size_t at = text.find("\"lines\":");
    REQUIRE(at != std::string::npos);
    text.insert(at + 8, "1");
    spit(snap, text);
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  "its first line is not the one verified.json names");
  }
  SECTION("the state snapshot cut short")
  {
    const fs::path snap = snapshot_of(place);
    const std::string text = slurp(snap);
    spit(snap, text.substr(0, text.size() - 10));
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  snap.filename().string());
  }
  SECTION("the state snapshot missing")
  {
    fs::remove(snapshot_of(place));
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity, "missing");
  }
  SECTION("the place of another vault")
  {
    Fixture other;
    team(other);
    VaultSession o = VaultSession::open(other.options(""), Access::read);
    const fs::path mine = snapshot_of(place);
    const fs::path theirs = snapshot_of(o.cache_place());
    fs::remove(mine);
    fs::copy_file(theirs, mine);
    // Another snapshot under this one's name: its first line is not the one verified.json names.
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  "its first line is not the one verified.json names");
    fs::copy_file(o.cache_place() / "verified.json", place / "verified.json", fs::copy_options::overwrite_existing);
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  "verified.json: belongs to another vault");
  }
  SECTION("the entries log: not read by the fast path, checked by the slow path")
  {
    const std::string log = slurp(place / "entries.log");
    // The same size, one byte changed: the fast path never reads it...
    std::string edited = log;
    edited[edited.find(" member-add ") + 1] = 'M';
    spit(place / "entries.log", edited);
    {
      VaultSession fast = VaultSession::open(f.options(""), Access::read);
      CHECK(fast.fast_path());
    }
    // ...the slow path (and audit restore, audit verify, backup) reads it, and its chain hash
    // names the change.
    require_error([&] { open_all(f, true); }, ErrorKind::integrity, "entries.log: its entries are not the ones");
    spit(place / "entries.log", "x\n");
    require_error([&] { open_all(f); }, ErrorKind::integrity, "entries.log: shorter than verified.json says");
    spit(place / "entries.log", std::string(log.size(), 'x'));
    require_error([&] { open_all(f, true); }, ErrorKind::integrity, "entries.log");
  }
  // Whatever was damaged, the vault's files are untouched.
  CHECK(f.vault_files() == vault);
}

TEST_CASE("v2 cache: an open reads only the records the command looks up", "[v2][cache]")
{
  Fixture f;
  team_with_secrets(f);
  VaultSession slow = VaultSession::open(f.options(""), Access::read);
  VaultSession s = VaultSession::open(f.options(""), Access::read);
  REQUIRE(s.fast_path());
  CHECK(s.state().secrets.pending_count() == 2);
  // No member read: the fast path finds the last verified line unchanged by its hash, without
  // checking its author's signature again.
  CHECK(s.state().members.pending_count() == s.state().members.names().size());
  // The digest from the index alone, and the same as the replay's.
  CHECK(s.state().digest() == slow.state().digest());
  CHECK(s.state().secrets.pending_count() == 2);
  const Secret* db = s.state().secret("prod/db");
  REQUIRE(db != nullptr);
  CHECK(db->name == "prod/db");
  CHECK(s.state().secrets.pending_count() == 1);
  CHECK(s.state().secret("prod/none") == nullptr);
  CHECK(s.state().secrets.pending_count() == 1);
  CHECK(s.state().secrets.names() == std::vector<std::string>{"prod/api", "prod/db"});
  // Iterating reads the rest.
  std::size_t n = 0;
  for (const auto& item : s.state().secrets) {
    n += item.second != nullptr ? 1 : 0;
  }
  CHECK(n == 2);
  CHECK(s.state().secrets.pending_count() == 0);
  CHECK(s.state().digest() == slow.state().digest());
  // A copy that changes a record computes that record's hash; the others keep theirs.
  State copy = s.state();
  copy.secrets.erase("prod/api");
  CHECK(copy.secrets.names() == std::vector<std::string>{"prod/db"});
  CHECK(copy.digest() != slow.state().digest());
  CHECK(s.state().digest() == slow.state().digest());
}

namespace {

// verified.json's log: (count, lines held in its tail).
std::pair<std::uint64_t, std::size_t> log_of(const fs::path& place)
{
  const canonical::Json json = canonical::Json::parse(slurp(place / "verified.json"));
  const canonical::Json& log = json.at("log");
  return {log.at("count").get<std::uint64_t>(), log.contains("tail") ? log.at("tail").size() : 0};
}

// verified.json's log.ahead (0 when absent).
std::uint64_t ahead_of(const fs::path& place)
{
  const canonical::Json json = canonical::Json::parse(slurp(place / "verified.json"));
  return json.at("log").value("ahead", std::uint64_t{0});
}

} // namespace

TEST_CASE("v2 cache: a reader's event adds one log line to verified.json, without reading the log or writing entries.log", "[v2][cache]")
{
  Fixture f;
  team_with_secrets(f);
  VaultSession first = VaultSession::open(f.options(""), Access::read);
  const fs::path place = first.cache_place();
  const std::string log_before = slurp(place / "entries.log");
  const auto [count_before, tail_before] = log_of(place);
  CHECK(tail_before == 0);
  {
    VaultSession s = VaultSession::open(f.options(), Access::read);
    REQUIRE(s.fast_path());
    s.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}});
    // The secrets were never read: the save named the state by the digest it loaded.
    CHECK(s.state().secrets.pending_count() == 2);
  }
  CHECK(slurp(place / "entries.log") == log_before);
  CHECK(log_of(place) == std::pair<std::uint64_t, std::size_t>{count_before + 1, 1});
  // Two sessions from the same cache each record an event: the second finds the place changed
  // since it loaded and leaves the first one's save; the next open continues from it.
  {
    VaultSession a = VaultSession::open(f.options(), Access::read);
    VaultSession b = VaultSession::open(f.options(), Access::read);
    a.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}});
    b.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/api"}});
  }
  CHECK(log_of(place) == std::pair<std::uint64_t, std::size_t>{count_before + 2, 2});
  VaultSession next = VaultSession::open(f.options(""), Access::read);
  CHECK(next.fast_path());
  CHECK(log_of(place).first == count_before + 3);
  CHECK(slurp(place / "entries.log") == log_before);
  // And the slow path agrees with what the place holds (the chain over every line checks).
  VaultSessionOptions o = f.options("");
  o.replay_all = true;
  VaultSession all = VaultSession::open(o, Access::read);
  CHECK_FALSE(all.fast_path());
  CHECK(all.state().digest() == next.state().digest());
}

TEST_CASE("v2 cache: a full tail moves to entries.log, and so does a write that does not fit", "[v2][cache]")
{
  Fixture f;
  team_with_secrets(f);
  const fs::path place = VaultSession::open(f.options(""), Access::read).cache_place();
  const std::string log_before = slurp(place / "entries.log");
  const auto count_before = log_of(place).first;
  for (std::size_t i = 0; i < k_max_log_tail; ++i) {
    VaultSession s = VaultSession::open(f.options(), Access::read);
    s.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}});
  }
  CHECK(log_of(place) == std::pair<std::uint64_t, std::size_t>{count_before + k_max_log_tail, k_max_log_tail});
  CHECK(slurp(place / "entries.log") == log_before);
  {
    VaultSession s = VaultSession::open(f.options(), Access::read);
    s.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/api"}});
  }
  // The 65th line did not fit: the tail and it went to entries.log.
  CHECK(log_of(place) == std::pair<std::uint64_t, std::size_t>{count_before + k_max_log_tail + 1, 0});
  CHECK(line_count(slurp(place / "entries.log")) == line_count(log_before) + k_max_log_tail + 1);
  {
    VaultSession s = VaultSession::open(f.options(), Access::read);
    s.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/api"}});
  }
  CHECK(log_of(place).second == 1);
  // A write changes the state: its line joins the tail, ahead of the snapshot (the next test).
  {
    VaultSession w = VaultSession::open(f.options(), Access::write);
    const SecretAdd add = secret_add(f, w.vault_id(), "prod/web", "w");
    w.submit(add.args, add.material);
  }
  CHECK(log_of(place).second == 2);
  CHECK(ahead_of(place) == 1);
  // The events after it wait ahead of the snapshot too, until k_max_log_ahead of them: then the
  // tail, the new line and the snapshot are written.
  for (std::size_t i = 1; i < k_max_log_ahead; ++i) {
    VaultSession s = VaultSession::open(f.options(), Access::read);
    s.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}});
  }
  CHECK(log_of(place).second == k_max_log_ahead + 1);
  CHECK(ahead_of(place) == k_max_log_ahead);
  {
    VaultSession s = VaultSession::open(f.options(), Access::read);
    s.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}});
  }
  CHECK(log_of(place).second == 0);
  CHECK(ahead_of(place) == 0);
  CHECK(line_count(slurp(place / "entries.log")) == line_count(log_before) + k_max_log_tail + 1 + k_max_log_ahead + 2);
  VaultSessionOptions o = f.options("");
  o.replay_all = true;
  CHECK(VaultSession::open(o, Access::read).state().secret("prod/web") != nullptr);
}

TEST_CASE("v2 cache: the tail is checked like the rest of the log; a verified.json a crash left older is only behind", "[v2][cache][crash]")
{
  Fixture f;
  team_with_secrets(f);
  const fs::path place = VaultSession::open(f.options(""), Access::read).cache_place();
  const std::string older = slurp(place / "verified.json");
  for (int i = 0; i < 3; ++i) {
    VaultSession s = VaultSession::open(f.options(), Access::read);
    s.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}});
  }
  const std::string newer = slurp(place / "verified.json");
  REQUIRE(log_of(place).second == 3);
  SECTION("the rename of the last saves lost in a crash: the next open continues from the older place")
  {
    spit(place / "verified.json", older);
    VaultSession again = VaultSession::open(f.options(""), Access::read);
    CHECK(again.fast_path());
    CHECK(log_of(place).first == canonical::Json::parse(newer).at("log").at("count").get<std::uint64_t>());
    VaultSessionOptions o = f.options("");
    o.replay_all = true;
    CHECK_NOTHROW(VaultSession::open(o, Access::read)); // no entry reported lost
  }
  SECTION("a line of the tail edited: the slow path's chain check names the log")
  {
    std::string edited = newer;
    const std::size_t at = edited.find(" reveal ");
    REQUIRE(at != std::string::npos);
    edited.replace(at, 8, " revEal ");
    spit(place / "verified.json", edited);
    require_error([&] { open_all(f, true); }, ErrorKind::integrity, "its entries are not the ones");
  }
  SECTION("a tail longer than the log it belongs to")
  {
    canonical::Json json = canonical::Json::parse(newer);
    json["log"]["count"] = 2;
    spit(place / "verified.json", json.dump() + "\n");
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity, "verified.json");
  }
}

namespace {

// The snapshot files of a place.
std::set<std::string> snapshots_of(const fs::path& place)
{
  std::set<std::string> out;
  for (const auto& item : fs::directory_iterator(place)) {
    if (item.path().extension() == ".snap") {
      out.insert(item.path().filename().string());
    }
  }
  return out;
}

// The place's log, every entry, and whether each is there once.
bool logged_once(const fs::path& place, const VaultId& vault)
{
  const Cache cache(place, vault);
  const std::optional<Verified> v = cache.load();
  REQUIRE(v);
  std::set<Hash> seen;
  for (const VerifiedEntry& e : cache.entries(v->log)) {
    if (!seen.insert(e.hash).second) {
      return false;
    }
  }
  return true;
}

} // namespace

// Issue 12 target 3: a small write's save writes verified.json alone. Its entries join the log
// ahead of the place's snapshot and position; every open replays them from there (as it does what
// another writer appended) and must meet each one, and a save past k_max_log_ahead of them writes
// the snapshot anew.
TEST_CASE("v2 cache: a small write's entries wait ahead of the snapshot; each open replays them and logs them once",
          "[v2][cache]")
{
  Fixture f;
  team_with_secrets(f);
  VaultId vault{};
  fs::path place;
  {
    // A full save first: the slow path writes the place anew.
    VaultSessionOptions o = f.options("");
    o.replay_all = true;
    const VaultSession s = VaultSession::open(o, Access::read);
    place = s.cache_place();
    vault = s.vault_id();
  }
  REQUIRE(ahead_of(place) == 0);
  const std::set<std::string> snaps = snapshots_of(place);
  const std::string log_file = slurp(place / "entries.log");
  const Position position = Cache(place, vault).load()->position;
  {
    VaultSession w = VaultSession::open(f.options(), Access::write);
    const SecretAdd add = secret_add(f, vault, "prod/web", "w");
    w.submit(add.args, add.material);
  }
  CHECK(ahead_of(place) == 1);
  CHECK(snapshots_of(place) == snaps);
  CHECK(slurp(place / "entries.log") == log_file);
  CHECK(Cache(place, vault).load()->position == position);
  const std::string verified = slurp(place / "verified.json");
  {
    // A read replays the entry from the snapshot and writes nothing.
    VaultSession r = VaultSession::open(f.options(""), Access::read);
    CHECK(r.fast_path());
    CHECK(r.state().secret("prod/web") != nullptr);
    CHECK(slurp(place / "verified.json") == verified);
    // list: the rows the snapshot holds, and the record of the secret it does not.
    const std::optional<std::vector<ListedSecret>> listed = cached_listing(place, vault, r.state());
    REQUIRE(listed);
    REQUIRE(listed->size() == 3);
    CHECK((*listed)[2] == listed_secret(*r.state().secret("prod/web")));
    CHECK((*listed)[0] == listed_secret(*r.state().secret("prod/api")));
  }
  // An event after them waits ahead too (the position cannot pass entries the snapshot lacks).
  {
    VaultSession r = VaultSession::open(f.options(), Access::read);
    r.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/web"}});
  }
  CHECK(ahead_of(place) == 2);
  CHECK(logged_once(place, vault));
  // Writes until the next would pass k_max_log_ahead: then the snapshot is written anew.
  std::size_t written = 0;
  while (ahead_of(place) > 0) {
    REQUIRE(written <= k_max_log_ahead);
    VaultSession w = VaultSession::open(f.options(), Access::write);
    CHECK(w.fast_path());
    const SecretAdd add = secret_add(f, vault, "prod/w" + std::to_string(written++), "w");
    w.submit(add.args, add.material);
  }
  CHECK(written == k_max_log_ahead - 1);
  CHECK(snapshots_of(place) != snaps);
  CHECK(logged_once(place, vault));
  CHECK(line_count(slurp(place / "entries.log")) == Cache(place, vault).load()->log.count);
  // The fast path's state is the slow path's.
  VaultSession fast = VaultSession::open(f.options(""), Access::read);
  CHECK(fast.fast_path());
  VaultSessionOptions o = f.options("");
  o.replay_all = true;
  CHECK(VaultSession::open(o, Access::read).state().digest() == fast.state().digest());
}

TEST_CASE("v2 cache: an entry ahead of the snapshot cut from the journal is a loss; a save a crash lost is only behind",
          "[v2][cache][loss][crash]")
{
  Fixture f;
  team_with_secrets(f);
  VaultSessionOptions all = f.options("");
  all.replay_all = true;
  const fs::path place = VaultSession::open(all, Access::read).cache_place();
  const std::string journal = slurp(f.journal());
  const std::string head = slurp(f.head());
  const std::string older = slurp(place / "verified.json");
  Hash added{};
  const VaultId vault = read_head_file(f.head()).vault_id;
  {
    VaultSession w = VaultSession::open(f.options(), Access::write);
    const SecretAdd add = secret_add(f, vault, "prod/web", "w");
    added = w.submit(add.args, add.material).hash;
  }
  REQUIRE(ahead_of(place) == 1);
  SECTION("the journal and head put back as they were: the fast path finds nothing past the position")
  {
    spit(f.journal(), journal);
    spit(f.head(), head);
    const auto files = f.vault_files();
    const auto cache = f.cache_files();
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  "1 entry this machine verified is missing (lost or rolled back): the newest is " + short_hash(added));
    CHECK(f.vault_files() == files);
    CHECK(f.cache_files() == cache);
  }
  SECTION("another entry in its place: the fast path does not meet it")
  {
    spit(f.journal(), journal);
    spit(f.head(), head);
    {
      VaultSessionOptions other = f.options(); // another machine writes another entry after the same position
      other.state_home = f.root / "other-machine";
      fs::create_directories(other.state_home);
      VaultSession w = VaultSession::open(other, Access::write);
      const SecretAdd add = secret_add(f, vault, "prod/other", "o");
      w.submit(add.args, add.material);
    }
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  "1 entry this machine verified is missing");
  }
  SECTION("verified.json of the save lost in a crash: the next open replays the entry as new, once")
  {
    spit(place / "verified.json", older);
    VaultSession r = VaultSession::open(f.options(""), Access::read);
    CHECK(r.fast_path());
    CHECK(r.state().secret("prod/web") != nullptr);
    CHECK(ahead_of(place) == 1);
    CHECK(logged_once(place, r.vault_id()));
    CHECK_NOTHROW(VaultSession::open(all, Access::read));
  }
  SECTION("a forged count ahead is refused as a damaged place")
  {
    Json json = Json::parse(slurp(place / "verified.json"));
    json["log"]["ahead"] = json["log"]["count"];
    spit(place / "verified.json", canonical::dump(json) + "\n");
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  "log.ahead is not less than the log's entries");
    json["log"]["ahead"] = k_max_log_ahead + 1;
    spit(place / "verified.json", canonical::dump(json) + "\n");
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity, "verified.json");
  }
}

TEST_CASE("v2 cache: places differ by journal and branch; missing entries are listed oldest first", "[v2][cache]")
{
  const VaultId id{};
  CHECK(Cache::place("/s", id, "/a/escrow.journal", "") != Cache::place("/s", id, "/b/escrow.journal", ""));
  CHECK(Cache::place("/s", id, "/a/escrow.journal", "refs/heads/main") !=
        Cache::place("/s", id, "/a/escrow.journal", "refs/heads/dev"));
  CHECK(Cache::place("/s", id, "/a/escrow.journal", "").parent_path() == fs::path("/s/escrow/vaults") / canonical::hex(id));
  std::vector<VerifiedEntry> log(3);
  for (std::size_t i = 0; i < log.size(); ++i) {
    log[i].hash.fill(static_cast<std::uint8_t>(i));
    log[i].action = "reveal";
    log[i].actor = "bob";
  }
  const std::set<Hash> present{log[0].hash};
  CHECK(missing_entries(log, present, {}) == std::vector<VerifiedEntry>{log[1], log[2]});
  CHECK(missing_entries(log, present, {log[1].hash}) == std::vector<VerifiedEntry>{log[2]});
  const Error e = loss_error("escrow.journal", {log[1], log[2]});
  CHECK(e.kind() == ErrorKind::integrity);
  CHECK(std::string(e.what()).find("escrow.journal: 2 entries this machine verified are missing") == 0);
  CHECK(e.hints().size() == 2);
}

TEST_CASE("v2 cache: an interrupted save is ignored (the log beyond its count)", "[v2][cache][crash]")
{
  Fixture f;
  team(f);
  VaultSession s = VaultSession::open(f.options(""), Access::read);
  const fs::path log = s.cache_place() / "entries.log";
  spit(log, slurp(log) + "garbage of a save that died\n");
  VaultSession again = VaultSession::open(f.options(), Access::write);
  CHECK(again.fast_path());
  const SecretAdd add = secret_add(f, again.vault_id(), "prod/web", "w");
  again.submit(add.args, add.material);
  // That save left entries.log alone (the write waits ahead of the snapshot); the next save that
  // appends to it (a roster change is one) cuts what lies beyond its count first.
  CHECK(ahead_of(s.cache_place()) == 1);
  again.submit(member(f, "carol", {Role::requester}, {"prod"}));
  CHECK(ahead_of(s.cache_place()) == 0);
  CHECK(slurp(log).find("garbage") == std::string::npos);
  CHECK(line_count(slurp(log)) == log_of(s.cache_place()).first);
}

TEST_CASE("v2 submit: an entry is never dated before its parent", "[v2][session]")
{
  Fixture f;
  team(f);
  const Timestamp later = f.now;
  VaultSessionOptions o = f.options();
  o.clock = Clock::fixed(later - 300); // this machine's clock is 5 minutes behind (the replay
                                       // allows 10 minutes of skew into the future)
  VaultSession s = VaultSession::open(o, Access::write);
  const Timestamp parent = s.state().member("bob")->added_at; // the ts of the head entry
  const Entry e = s.submit(member(f, "carol", {Role::requester}, {"prod"}));
  CHECK(e.ts == parent);
  CHECK(VaultSession::open(f.options(""), Access::read).state().member("carol") != nullptr);
}

TEST_CASE("v2 submit: a journal written behind the lock's back is not written over", "[v2][session]")
{
  Fixture f;
  team(f);
  VaultSession s = VaultSession::open(f.options(), Access::write);
  // A foreign program appends a copy of the last line without taking the lock.
  const std::string text = slurp(f.journal());
  const std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  spit(f.journal(), text + last);
  const auto files = f.vault_files();
  require_error([&] { s.submit(member(f, "carol", {Role::requester}, {"prod"})); }, ErrorKind::io,
                "changed on disk");
  CHECK(f.vault_files() == files);
  spit(f.journal(), text.substr(0, text.size() / 2));
  require_error([&] { s.submit(member(f, "carol", {Role::requester}, {"prod"})); }, ErrorKind::io,
                "changed on disk");
}

TEST_CASE("v2 open: a fork appended behind this machine's position takes the slow path; the next write seals the merge",
          "[v2][session][merge]")
{
  Fixture f;
  team(f);
  const std::string journal = slurp(f.journal());
  const std::string genesis_line = journal.substr(0, journal.find('\n'));
  {
    VaultSession seen = VaultSession::open(f.options(""), Access::read);
    CHECK(seen.heads().size() == 1);
  }
  // Another clone's work, forked from the genesis entry (before bob was added), joined by a union.
  const ReplayResult at_genesis = replay(genesis_line + "\n");
  REQUIRE(at_genesis.ok());
  Entry e;
  e.vault = at_genesis.state.vault_id;
  e.actor = "alice";
  e.ts = f.now;
  e.host = "clone";
  e.parents = at_genesis.heads;
  e.action = OpKind::member_add;
  e.op = Op{member(f, "carol", {Role::requester}, {"dev"}), {}};
  e.op->writes = compute_writes(at_genesis.state, e);
  seal_entry(e, f.id("alice"));
  spit(f.journal(), journal + dump_entry(e) + "\n");

  VaultSession w = VaultSession::open(f.options(), Access::write);
  CHECK_FALSE(w.fast_path());
  CHECK(w.state().member("bob") != nullptr);
  CHECK(w.state().member("carol") != nullptr);
  REQUIRE(w.heads().size() == 2);
  const std::vector<Hash> heads = w.heads();
  const Entry sealed = w.submit(member(f, "dave", {Role::requester}, {"prod"}));
  CHECK(sealed.parents == heads);
  CHECK(read_head_file(f.head()).heads == std::vector<Hash>{sealed.hash});
  w = VaultSession::open(f.options(""), Access::read);
  CHECK(w.fast_path());
  CHECK(w.heads() == std::vector<Hash>{sealed.hash});
  fs::remove_all(f.state_home);
  const VaultSession fresh = VaultSession::open(f.options(""), Access::read);
  CHECK(fresh.state().digest() == w.state().digest());
}

TEST_CASE("v2 session: an operation this machine verified cannot be cut out and acknowledged as a lost event",
          "[v2][session][loss]")
{
  // Found by the insider suite (tests/insider, acknowledged_loss_hides_an_operation): an admin of *
  // removes another member's operation from the journal and appends a journal-loss that declares
  // it a lost event. The replay cannot know what the lost entry was; this machine verified it.
  Fixture f;
  team(f);
  Entry removed;
  {
    VaultSession s = VaultSession::open(f.options(), Access::write);
    removed = s.submit(member(f, "carol", {Role::requester}, {"prod"}));
  }
  std::string text = slurp(f.journal());
  text.pop_back();
  text = text.substr(0, text.rfind('\n') + 1); // the member-add cut
  const ReplayResult before = replay(text);
  REQUIRE(before.ok());
  Entry e;
  e.vault = before.state.vault_id;
  e.actor = "alice";
  e.ts = f.now;
  e.host = "forger";
  e.parents = before.heads;
  e.action = OpKind::journal_loss;
  e.why = "lost";
  Op op;
  op.args = JournalLossArgs{{LostEntry{removed.hash, removed.ts, "alice", "reveal"}}};
  e.op = op;
  e.op->writes = compute_writes(before.state, e);
  seal_entry(e, f.id("alice"));
  text += dump_entry(e) + "\n";
  spit(f.journal(), text);
  spit(f.head(), serialize_head_file(HeadFile{e.vault, {e.hash}, line_count(text)}));
  const auto files = f.vault_files();
  const auto cache = f.cache_files();
  for (const Access access : {Access::read, Access::write}) {
    require_error([&] { VaultSession::open(f.options(), access); }, ErrorKind::integrity,
                  "that this machine verified is acknowledged as lost, but it is an operation: a lost operation "
                  "cannot be acknowledged");
    require_error([&] { VaultSession::open(f.options(), access); }, ErrorKind::integrity,
                  fmt::format("entry {} (member-add by alice, ", short_hash(removed.hash)));
  }
  CHECK(f.vault_files() == files);
  CHECK(f.cache_files() == cache);
  // A machine that never saw it cannot tell (the git first-parent check is for that).
  fs::remove_all(f.state_home);
  CHECK_NOTHROW(VaultSession::open(f.options(""), Access::read));
}

// The git lock of rotation (vault-2-merge.md §6): a phase 1 whose push was rejected is undone.
TEST_CASE("v2 undo puts the files, the session and the cache place back to the checkpoint", "[v2][session][gitlock]")
{
  Fixture f;
  team(f);
  const auto files = f.vault_files();
  VaultSession s = VaultSession::open(f.options(), Access::write);
  const VaultSession::Checkpoint checkpoint = s.checkpoint();
  const SecretAdd add = secret_add(f, s.vault_id(), "prod/db", "hunter2");
  const Entry e = s.submit(add.args, add.material);
  s.record(EventKind::merge, Result::ok, Json{{"heads", 1}});
  CHECK(f.vault_files() != files);
  const std::vector<Hash> undone = s.undo(checkpoint);
  REQUIRE(undone.size() == 2);
  CHECK(undone.front() == e.hash);
  CHECK(f.vault_files() == files);
  CHECK(s.state().secret("prod/db") == nullptr);
  // The session writes on from the checkpoint; a new session opens without a loss.
  s.submit(member(f, "carol", {Role::requester}, {"prod"}));
  VaultSession again = VaultSession::open(f.options(), Access::read);
  CHECK(again.fast_path());
  CHECK(again.state().member("carol") != nullptr);
  CHECK(again.state().secret("prod/db") == nullptr);
}

TEST_CASE("v2 cache forget: entries cut from the journal after a crash are no loss", "[v2][session][gitlock]")
{
  Fixture f;
  team(f);
  const std::string journal = slurp(f.journal());
  const std::string head = slurp(f.head());
  Hash added{};
  fs::path place;
  {
    VaultSession s = VaultSession::open(f.options(), Access::write);
    place = s.cache_place();
    added = s.submit(member(f, "carol", {Role::requester}, {"prod"})).hash;
  }
  settle(f); // the position on the entry (a write alone leaves it ahead: the end of this test)
  // Cut without forgetting: this machine reports the loss.
  spit(f.journal(), journal);
  spit(f.head(), head);
  require_error([&] { (void)VaultSession::open(f.options(), Access::read); }, ErrorKind::integrity, "missing");
  // Forgotten first (what the resolution of a tentative marker does): no loss, the slow path.
  const Cache cache(place, read_head_file(f.head()).vault_id);
  cache.forget({added});
  VaultSession s = VaultSession::open(f.options(), Access::read);
  CHECK_FALSE(s.fast_path());
  CHECK(s.state().member("carol") == nullptr);
  // Forgetting before the cut works too: the journal still holding the entry is replayed as new.
  {
    VaultSession w = VaultSession::open(f.options(), Access::write);
    added = w.submit(member(f, "dave", {Role::requester}, {"prod"})).hash;
  }
  settle(f);
  cache.forget({added});
  {
    VaultSession after = VaultSession::open(f.options(), Access::read);
    CHECK_FALSE(after.fast_path());
    CHECK(after.state().member("dave") != nullptr);
  }
  // An entry ahead of the snapshot forgotten: it leaves the log and the entries ahead; the others
  // ahead stay ahead; the journal still holding it, the next open meets it as new.
  Hash first{};
  {
    VaultSession w = VaultSession::open(f.options(), Access::write);
    const SecretAdd one = secret_add(f, w.vault_id(), "prod/one", "1");
    first = w.submit(one.args, one.material).hash;
    const SecretAdd two = secret_add(f, w.vault_id(), "prod/two", "2");
    added = w.submit(two.args, two.material).hash;
  }
  REQUIRE(ahead_of(place) == 2);
  const std::uint64_t count = log_of(place).first;
  cache.forget({added});
  CHECK(ahead_of(place) == 1);
  CHECK(log_of(place).first == count - 1);
  CHECK(cache.ahead_entries(cache.load()->log) == std::vector<Hash>{first});
  VaultSession last = VaultSession::open(f.options(), Access::read);
  CHECK(last.fast_path());
  CHECK(last.state().secret("prod/two") != nullptr);
  CHECK(log_of(place).first == count);
}

TEST_CASE("v2 cache: a large state's index is read a block at a time, each block checked", "[v2][cache]")
{
  Fixture f;
  team_with_secrets(f);
  VaultSession s = VaultSession::open(f.options(""), Access::read);
  const Cache real(s.cache_place(), s.vault_id());
  const std::optional<Verified> verified = real.load();
  REQUIRE(verified);
  // 1,100 more secrets (copies of prod/db under other names): five blocks of 256 index lines
  // (members and the policy sort first, "s:prod/s0000" … "s:prod/s1099" after them).
  State big = s.state();
  big.load_all();
  const std::shared_ptr<const Secret> model = big.secrets.at("prod/db");
  for (int i = 0; i < 1100; ++i) {
    auto copy = std::make_shared<Secret>(*model);
    copy->name = fmt::format("prod/s{:04}", i);
    big.secrets.emplace(copy->name, std::move(copy));
  }
  const Hash digest = big.digest();
  const fs::path place = f.root / "big-place";
  const Cache cache(place, s.vault_id());
  REQUIRE(cache.save(verified->position, big, "", LogSummary{}, real.entries(verified->log), std::nullopt));
  const fs::path snap = snapshot_of(place);
  const std::string text = slurp(snap);
  const std::size_t first_end = text.find('\n');
  const Json meta = Json::parse(text.substr(0, first_end));
  REQUIRE(meta.at("blocks").size() == 5);
  // The byte range of index block `b` (0-based) in the file.
  const auto block_at = [&](std::size_t b) {
    std::size_t at = first_end + 1;
    for (std::size_t i = 0; i < b; ++i) {
      at += meta.at("blocks")[i].at("size").get<std::size_t>();
    }
    return std::make_pair(at, meta.at("blocks")[b].at("size").get<std::size_t>());
  };
  SECTION("intact: lookups, names and the digest")
  {
    Verified v = cache.load().value();
    CHECK(v.state.secret("prod/s0500") != nullptr);
    CHECK(v.state.secret("prod/s0500")->name == "prod/s0500");
    CHECK(v.state.secret("prod/none") == nullptr);
    CHECK(v.state.secret("aaa/none") == nullptr);
    CHECK(v.state.secrets.names().size() == 1102);
    CHECK(v.state.digest() == digest);
  }
  SECTION("a damaged block is caught when it is read, and only then")
  {
    const auto [at, size] = block_at(3);
    std::string damaged = text;
    damaged[at + size / 2] = damaged[at + size / 2] == 'A' ? 'B' : 'A';
    spit(snap, damaged);
    Verified v = cache.load().value(); // the first line is intact
    CHECK(v.state.secret("prod/s0010") != nullptr); // in block 2
    const std::string block3 = meta.at("blocks")[3].at("first").get<std::string>().substr(2);
    require_error([&] { (void)v.state.secret(block3); }, ErrorKind::integrity,
                  "block 4 of its index does not hash to the hash its first line names");
    require_error([&] { cache.load().value().state.load_all(); }, ErrorKind::integrity, "block 4");
  }
  SECTION("an index line and its block hash changed together: caught once every block is read")
  {
    // A consistent forgery of one block (and of the first line, and of verified.json's hash of
    // it) passes the block checks; the (path, hash) pairs then no longer hash to the digest.
    const auto [at, size] = block_at(2);
    std::string block = text.substr(at, size);
    const std::size_t tab = block.find('\t');
    block[tab + 1] = block[tab + 1] == 'A' ? 'B' : 'A';
    Json forged = meta;
    forged["blocks"][2]["hash"] = canonical::b64(crypto::hash(labels::k_cache_block, as_bytes(block)));
    const std::string first = canonical::dump(forged);
    std::string rest = text.substr(first_end);
    rest.replace(at - first_end, size, block);
    spit(snap, first + rest);
    Json v = Json::parse(slurp(place / "verified.json"));
    v["snapshot"] = canonical::b64(crypto::hash(labels::k_cache_snapshot, as_bytes(first)));
    spit(place / "verified.json", canonical::dump(v) + "\n");
    Verified opened = cache.load().value();
    CHECK(opened.state.secret("prod/s1099") != nullptr); // another block
    require_error([&] { opened.state.load_all(); }, ErrorKind::integrity, "do not hash to the digest");
  }
}

// Issue 12 target 3: a write finds its garbage among the secrets it changes when the place's
// keys-clean hint says the keys file held exactly what the state referenced; any other file
// (a crash's garbage lines) is scanned in full.
TEST_CASE("v2 write: the keys-clean hint, and garbage after a crash is still removed", "[v2][session][crash]")
{
  Fixture f;
  team_with_secrets(f); // writes: the place holds the hint
  VaultId vault{};
  {
    VaultSession s = VaultSession::open(f.options(), Access::write);
    vault = s.vault_id();
    CHECK(s.fast_path());
    CHECK(fs::exists(s.cache_place() / "keys-clean"));
    const SecretAdd add = secret_add(f, vault, "prod/web", "w");
    s.submit(add.args, add.material);
    CHECK(referenced_line_keys(s.state()).size() == KeysFile::open(f.keys()).verify_all());
  }
  {
    // A crash after the keys file was written, before the journal append: garbage lines.
    VaultSessionOptions o = f.options();
    o.after_step = [](WriteStep s) {
      if (s == WriteStep::keys_written) {
        throw std::runtime_error("crash");
      }
    };
    VaultSession s = VaultSession::open(o, Access::write);
    const SecretAdd add = secret_add(f, vault, "prod/lost", "l");
    CHECK_THROWS(s.submit(add.args, add.material));
  }
  {
    VaultSession s = VaultSession::open(f.options(), Access::write);
    CHECK(s.fast_path()); // the hint names this state, but the file has more lines than it says
    CHECK(referenced_line_keys(s.state()).size() < KeysFile::open(f.keys()).verify_all());
    const SecretAdd add = secret_add(f, vault, "prod/next", "n");
    s.submit(add.args, add.material);
    CHECK(referenced_line_keys(s.state()).size() == KeysFile::open(f.keys()).verify_all());
  }
  {
    // A forged hint (another position, the old form, garbage text) only sends the write to the
    // full scan.
    VaultSession s = VaultSession::open(f.options(), Access::write);
    const std::string hint = slurp(s.cache_place() / "keys-clean");
    CHECK(hint.rfind("escrow-keys-clean/2 ", 0) == 0);
    CHECK(hint.find(std::to_string(fs::file_size(f.keys()))) != std::string::npos);
    spit(s.cache_place() / "keys-clean", "escrow-keys-clean/2 1 1 AAAA 3\n");
    const SecretAdd add = secret_add(f, vault, "prod/more", "m");
    s.submit(add.args, add.material);
    CHECK(referenced_line_keys(s.state()).size() == KeysFile::open(f.keys()).verify_all());
  }
  fs::remove_all(f.state_home);
  VaultSession fresh = VaultSession::open(f.options(), Access::read);
  CHECK(fresh.state().secret("prod/next") != nullptr);
  CHECK(fresh.state().secret("prod/lost") == nullptr);
}

// Issue 12 target 3: a write's cache save copies the records it did not change from the previous
// snapshot with the hash its index named; a copied record damaged on disk is never laundered: the
// next reader of it refuses it.
TEST_CASE("v2 cache: a write copies unchanged records; a damaged one stays caught", "[v2][cache]")
{
  Fixture f;
  team_with_secrets(f);
  fs::path place;
  {
    VaultSession s = VaultSession::open(f.options(), Access::write);
    place = s.cache_place();
  }
  // Damage prod/db's text in the snapshot, its length unchanged.
  const fs::path snap = snapshot_of(place);
  std::vector<std::string> lines;
  {
    const std::string text = slurp(snap);
    for (std::size_t start = 0; start < text.size();) {
      const std::size_t nl = text.find('\n', start);
      lines.push_back(text.substr(start, nl - start));
      start = nl + 1;
    }
  }
  // Line 0 the metadata, then the index (tab-separated), then one record a line in its order.
  std::size_t index_lines = 0;
  std::size_t db = 0;
  for (std::size_t i = 1; i < lines.size() && lines[i].find('\t') != std::string::npos; ++i) {
    ++index_lines;
    if (lines[i].rfind("s:prod/db\t", 0) == 0) {
      db = index_lines;
    }
  }
  REQUIRE(db > 0);
  std::string& record = lines[index_lines + db];
  const std::size_t at = record.find("\"owner\":\"alice\"");
  REQUIRE(at != std::string::npos);
  record[at + 9] = 'A';
  std::string text;
  for (const std::string& line : lines) {
    text += line + "\n";
  }
  spit(snap, text);
  {
    // Writes that do not touch prod/db: the save that writes the snapshot anew (the one that
    // would pass the entries a snapshot may lag, Cache::save) copies prod/db's bytes as they are.
    VaultSession s = VaultSession::open(f.options(), Access::write);
    for (int i = 0; i == 0 || ahead_of(place) > 0; ++i) {
      const SecretAdd add = secret_add(f, s.vault_id(), "prod/web" + std::to_string(i), "w");
      s.submit(add.args, add.material);
    }
  }
  const fs::path next = snapshot_of(place);
  CHECK(next != snap);
  CHECK(slurp(next).find("\"owner\":\"Alice\"") != std::string::npos);
  VaultSession r = VaultSession::open(f.options(""), Access::read);
  CHECK(r.state().secret("prod/web0") != nullptr);
  require_error([&] { (void)r.state().secret("prod/db"); }, ErrorKind::integrity,
                "does not hash to the hash its index names");
}

namespace {

// A team with secrets, opened once (its verified state cached): the cache place and the vault id.
struct CachedTeam
{
  fs::path place;
  VaultId vault{};
};
CachedTeam cached_team(Fixture& f)
{
  team_with_secrets(f);
  const VaultSession s = VaultSession::open(f.options(""), Access::read);
  return {s.cache_place(), s.vault_id()};
}

// Writes the snapshot `snap` of `place` as first line `meta` then `body` (from its index on), with
// verified.json naming that first line: a place only a forger (or an older escrow) would write.
void write_snapshot(const fs::path& place, const fs::path& snap, const Json& meta, const std::string& body)
{
  const std::string first = canonical::dump(meta);
  spit(snap, first + body);
  Json verified = Json::parse(slurp(place / "verified.json"));
  verified["snapshot"] = canonical::b64(crypto::hash(labels::k_cache_snapshot, as_bytes(first)));
  spit(place / "verified.json", canonical::dump(verified) + "\n");
}

// `meta` naming `rows` as its listing section (hash and size).
Json with_listing(Json meta, const std::string& rows)
{
  meta["listing"]["hash"] = canonical::b64(crypto::hash("escrow/v2/cache-listing", as_bytes(rows)));
  meta["listing"]["size"] = rows.size();
  return meta;
}

} // namespace

// Issue 12 target 2: `list` from the snapshot's listing section, bound to the state's index.
TEST_CASE("v2 cache: the listing gives what the records give, and a damaged or forged one is caught",
          "[v2][cache]")
{
  Fixture f;
  const CachedTeam team = cached_team(f);
  const fs::path& place = team.place;
  const VaultId& vault = team.vault;
  {
    VaultSession s = VaultSession::open(f.options(""), Access::read);
    const std::optional<std::vector<ListedSecret>> listed = cached_listing(place, vault, s.state());
    REQUIRE(listed);
    REQUIRE(listed->size() == 2);
    for (const ListedSecret& row : *listed) {
      const Secret* full = s.state().secret(row.name);
      REQUIRE(full != nullptr);
      // Exactly what the record gives, and so the same status line.
      CHECK(row == listed_secret(*full));
      CHECK(row.facts.env == full->env);
      CHECK(row.owner == full->owner);
      CHECK(status(s.state(), row.facts, s.now()) == status(s.state(), *full, s.now()));
    }
  }
  const fs::path snap = snapshot_of(place);
  const std::string good = slurp(snap);
  const std::size_t first_end = good.find('\n');
  Json meta = Json::parse(good.substr(0, first_end));
  const std::size_t listing_size = meta.at("listing").at("size").get<std::size_t>();
  const std::size_t listing_at = good.size() - listing_size;
  REQUIRE(good.compare(listing_at, 8, "prod/api") == 0);
  SECTION("a byte of the listing changed: exit 3 naming the snapshot")
  {
    std::string bad = good;
    const std::size_t owner = bad.find("\talice\t", listing_at);
    REQUIRE(owner != std::string::npos);
    bad[owner + 1] = 'A';
    spit(snap, bad);
    VaultSession s = VaultSession::open(f.options(""), Access::read);
    require_error([&] { (void)cached_listing(place, vault, s.state()); }, ErrorKind::integrity,
                  "its listing does not hash to the hash its first line names");
  }
  SECTION("a listing forged with its hash and first line, verified.json not: refused")
  {
    std::string rows = good.substr(listing_at);
    const std::size_t owner = rows.find("\talice\t");
    REQUIRE(owner != std::string::npos);
    rows[owner + 1] = 'A';
    spit(snap, canonical::dump(with_listing(meta, rows)) + good.substr(first_end, listing_at - first_end) + rows);
    require_error([&] { (void)VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                  "its first line is not the one verified.json names");
  }
  SECTION("a row naming another record hash than the index: refused")
  {
    // Swap the two rows' hashes, the section hash, the first line and verified.json made
    // consistent: the binding to the index still refuses it.
    std::string rows = good.substr(listing_at);
    const std::size_t nl = rows.find('\n');
    std::string a = rows.substr(0, nl);
    std::string b = rows.substr(nl + 1, rows.size() - nl - 2);
    const std::size_t ha = a.find('\t') + 1;
    const std::size_t hb = b.find('\t') + 1;
    const std::string hash_a = a.substr(ha, 44);
    a.replace(ha, 44, b.substr(hb, 44));
    b.replace(hb, 44, hash_a);
    rows = a + "\n" + b + "\n";
    write_snapshot(place, snap, with_listing(meta, rows), good.substr(first_end, listing_at - first_end) + rows);
    VaultSession s = VaultSession::open(f.options(""), Access::read);
    require_error([&] { (void)cached_listing(place, vault, s.state()); }, ErrorKind::integrity,
                  "row 1 of its listing is not the secret its index names");
  }
  SECTION("a malformed row, with everything else made consistent: refused naming the row")
  {
    // The first row's columns after its key, each mutation written with a matching section hash,
    // first line and verified.json (as only a forger could): the row's own checks refuse it.
    const std::string rows = good.substr(listing_at);
    const std::size_t nl = rows.find('\n');
    const std::string first_row = rows.substr(0, nl);
    const std::size_t key_end = first_row.find('\t', first_row.find('\t') + 1);
    const std::string key = first_row.substr(0, key_end);
    std::vector<std::string> columns;
    for (std::size_t at = key_end + 1;;) {
      const std::size_t tab = first_row.find('\t', at);
      columns.push_back(first_row.substr(at, tab == std::string::npos ? tab : tab - at));
      if (tab == std::string::npos) {
        break;
      }
      at = tab + 1;
    }
    REQUIRE(columns.size() == 13);
    const auto join = [&](const std::vector<std::string>& c) {
      std::string row = key;
      for (const std::string& column : c) {
        row += "\t" + column;
      }
      return row;
    };
    const auto with = [&](std::size_t i, const std::string& text) {
      std::vector<std::string> c = columns;
      c[i] = text;
      return join(c);
    };
    std::vector<std::string> fewer = columns;
    fewer.pop_back();
    std::vector<std::string> more = columns;
    more.push_back("x");
    const std::vector<std::pair<std::string, std::string>> cases = {
      {join(fewer), "fewer columns than a row has"},
      {join(more), "more columns than a row has"},
      {with(2, "a\\qb"), "a malformed escape"},
      {with(2, "dangling\\"), "a malformed escape"},
      {with(4, "01"), "a malformed number"},
      {with(5, "-1"), "a malformed number"},
      {with(6, "1x"), "a malformed number"},
      {with(7, "2"), "a malformed flag"},
      {with(8, "0"), "a malformed version number"},
      {with(9, ""), "a malformed version number"},
      {with(0, "staging"), "its environment is not its name's"},
    };
    for (const auto& [row, problem] : cases) {
      INFO(row);
      const std::string forged = row + rows.substr(nl);
      write_snapshot(place, snap, with_listing(meta, forged), good.substr(first_end, listing_at - first_end) + forged);
      VaultSession s = VaultSession::open(f.options(""), Access::read);
      require_error([&] { (void)cached_listing(place, vault, s.state()); }, ErrorKind::integrity,
                    "row 1 of its listing: " + problem);
    }
  }
  SECTION("a secret changed since the snapshot is listed from its record")
  {
    VaultSession s = VaultSession::open(f.options(), Access::write);
    const SecretAdd add = secret_add(f, vault, "prod/web", "w");
    s.submit(add.args, add.material);
    // The session's own state holds a record it wrote (no known hash), and so does the next
    // session's (the write waits ahead of the snapshot): its row is the record's.
    const auto check = [&](const VaultSession& session) {
      const std::optional<std::vector<ListedSecret>> listed = cached_listing(place, vault, session.state());
      REQUIRE(listed);
      REQUIRE(listed->size() == 3);
      const std::vector<std::string> names{"prod/api", "prod/db", "prod/web"};
      for (std::size_t i = 0; i < names.size(); ++i) {
        CHECK((*listed)[i] == listed_secret(*session.state().secret(names[i])));
      }
    };
    check(s);
    s = VaultSession::open(f.options(""), Access::read);
    check(s);
  }
}

TEST_CASE("v2 cache: an escrow-state/3 (no listing) or /4 (JSON rows) snapshot is read without a listing, and the "
          "next snapshot written adds one", "[v2][cache]")
{
  Fixture f;
  const CachedTeam team = cached_team(f);
  const fs::path& place = team.place;
  const VaultId& vault = team.vault;
  const fs::path snap = snapshot_of(place);
  const std::string good = slurp(snap);
  const std::size_t first_end = good.find('\n');
  Json meta = Json::parse(good.substr(0, first_end));
  REQUIRE(meta.at("format") == "escrow-state/5");
  SECTION("/3: no \"listing\", the records up to the end")
  {
    const std::size_t listing_size = meta.at("listing").at("size").get<std::size_t>();
    meta.erase("listing");
    meta["format"] = "escrow-state/3";
    write_snapshot(place, snap, meta, good.substr(first_end, good.size() - listing_size - first_end));
  }
  SECTION("/4: /5's layout with rows of another form; only the format name tells them apart")
  {
    meta["format"] = "escrow-state/4";
    write_snapshot(place, snap, meta, good.substr(first_end));
  }
  {
    VaultSession s = VaultSession::open(f.options(""), Access::read);
    CHECK(s.fast_path());
    CHECK_FALSE(cached_listing(place, vault, s.state()));
    CHECK(s.state().secret("prod/db") != nullptr);
  }
  {
    // Writes until the snapshot is written anew (a write may first wait ahead of it, Cache::save).
    VaultSession s = VaultSession::open(f.options(), Access::write);
    for (int i = 0; i == 0 || ahead_of(place) > 0; ++i) {
      const SecretAdd add = secret_add(f, vault, "prod/web" + std::to_string(i), "w");
      s.submit(add.args, add.material);
    }
  }
  const std::string written = slurp(snapshot_of(place));
  CHECK(Json::parse(written.substr(0, written.find('\n'))).at("format") == "escrow-state/5");
  VaultSession s = VaultSession::open(f.options(""), Access::read);
  const std::optional<std::vector<ListedSecret>> listed = cached_listing(place, vault, s.state());
  REQUIRE(listed);
  CHECK(listed->size() == 3 + k_max_log_ahead); // 16 writes ahead, the 17th writes the snapshot
}

TEST_CASE("v2 cache: the last verified line is found unchanged by its own hash; a flipped signature byte is caught", "[v2][cache]")
{
  Fixture f;
  team_with_secrets(f);
  const fs::path place = VaultSession::open(f.options(""), Access::read).cache_place();
  const std::string journal = slurp(f.journal());
  REQUIRE(canonical::Json::parse(slurp(place / "verified.json")).at("position").contains("last_line"));
  // The last line's signature changed, its entry hash (which does not cover it) kept.
  std::string forged = journal;
  const std::size_t last = forged.rfind('\n', forged.size() - 2) + 1;
  const std::size_t sig = forged.find("\"sig\":\"", last);
  REQUIRE(sig != std::string::npos);
  char& byte = forged[sig + 7];
  byte = byte == 'A' ? 'B' : 'A';
  const auto forged_open = [&] {
    spit(f.journal(), forged);
    require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity, "signature");
    spit(f.journal(), journal);
  };
  SECTION("a place that kept the line's hash") { forged_open(); }
  SECTION("an escrow-verified/3 place (no line hash): the signature is checked again")
  {
    canonical::Json json = canonical::Json::parse(slurp(place / "verified.json"));
    json["position"].erase("last_line");
    json["format"] = "escrow-verified/3";
    spit(place / "verified.json", json.dump() + "\n");
    forged_open();
    VaultSession again = VaultSession::open(f.options(""), Access::read);
    CHECK(again.fast_path());
  }
}

namespace {

// alice and bob (team), carol (requester, prod), then `count` secrets prod/s000… owned by alice.
void team_with_many(Fixture& f, int count)
{
  team(f);
  VaultSession s = VaultSession::open(f.options(), Access::write);
  s.submit(member(f, "carol", {Role::requester}, {"prod"}));
  for (int i = 0; i < count; ++i) {
    const SecretAdd add = secret_add(f, s.vault_id(), fmt::format("prod/s{:03}", i), "v");
    s.submit(add.args, add.material);
  }
}

} // namespace

// Issue 12 target 1: a bulk write's records are copied, hashed and serialised on two threads (the
// writer keeps each new record's text for its snapshot, history/state.hpp memo_secret_hashes).
// What it writes is what a full replay of the journal on one thread writes, byte for byte.
TEST_CASE("v2 cache: a bulk share's snapshot is the one a full replay writes, on one thread or two", "[v2][cache]")
{
  for (const char* threads : {"1", "2"}) {
    INFO("ESCROW_THREADS=" << threads);
    Fixture f;
    team_with_many(f, 80);
    fs::path place;
    {
      const escrow::test::ScopedThreads scope(threads);
      VaultSession s = VaultSession::open(f.options(), Access::write);
      place = s.cache_place();
      CHECK(share(s, "prod/*", "carol").size() == 80);
    }
    REQUIRE(ahead_of(place) == 0); // the share (80 records) wrote the snapshot anew
    const std::string written = slurp(snapshot_of(place));
    fs::remove_all(f.state_home);
    fs::create_directories(f.state_home);
    {
      const escrow::test::ScopedThreads scope("1");
      VaultSessionOptions o = f.options("");
      o.replay_all = true;
      (void)VaultSession::open(o, Access::read);
    }
    CHECK(slurp(snapshot_of(place)) == written);
    const VaultSession r = VaultSession::open(f.options("carol"), Access::read);
    CHECK(r.state().secret("prod/s079")->shared_with.count("carol") == 1);
  }
}

// Reading every record of a large cached state runs on two threads (state.hpp load_pending_all):
// every record is still checked, and of two damaged ones the first in name order is the one
// reported, on one thread or two.
TEST_CASE("v2 cache: a whole-state read on two threads reports the first damaged record", "[v2][cache]")
{
  Fixture f;
  team_with_many(f, 100);
  fs::path place;
  {
    VaultSessionOptions o = f.options("");
    o.replay_all = true;
    const VaultSession s = VaultSession::open(o, Access::read);
    place = s.cache_place();
  }
  REQUIRE(ahead_of(place) == 0);
  const fs::path snap = snapshot_of(place);
  const std::string intact = slurp(snap);
  // Each record's text holds "owner":"alice"; the records follow the index in path order, so the
  // n-th occurrence after the index belongs to prod/s{n}. Damage prod/s020 and prod/s090.
  std::vector<std::size_t> owners;
  for (std::size_t at = intact.find("\"owner\":\"alice\""); at != std::string::npos;
       at = intact.find("\"owner\":\"alice\"", at + 1)) {
    owners.push_back(at);
  }
  REQUIRE(owners.size() >= 100);
  const std::size_t first = owners.size() - 100; // records before the secrets' (none today)
  std::string damaged = intact;
  damaged[owners[first + 20] + 9] = 'A';
  damaged[owners[first + 90] + 9] = 'A';
  spit(snap, damaged);
  for (const char* threads : {"1", "2"}) {
    INFO("ESCROW_THREADS=" << threads);
    const escrow::test::ScopedThreads scope(threads);
    const VaultSession r = VaultSession::open(f.options(""), Access::read);
    CHECK(r.state().secret("prod/s050") != nullptr); // an intact record reads on its own
    require_error([&] { (void)r.state().secrets.size(); }, ErrorKind::integrity, "prod/s020");
  }
  spit(snap, intact);
  const escrow::test::ScopedThreads scope("2");
  const VaultSession r = VaultSession::open(f.options(""), Access::read);
  CHECK(r.state().secrets.size() == 100);
}
