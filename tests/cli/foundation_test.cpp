// The foundation's bad-input contract, in process (issue 2): each bad input gets a one-line
// error naming the file and the problem, its exit code from DESIGN §8, and leaves every file
// byte-identical. A valid member's refused access appends exactly one "denied" journal entry
// (failed checks are journaled by design) and leaves the vault byte-identical.
// Also: --help of every subcommand, and no value in any output or file.
#include "../unit/foundation_support.hpp"
#include "fixture.hpp"

#include <escrow/canonical.hpp>
#include <escrow/history/entry.hpp>

#include <functional>
#include <set>
#include <tuple>

using escrow::test::Fixture;
using escrow::test::Result;
using escrow::test::slurp;
using escrow::test::spit;
namespace fs = std::filesystem;
using Json = escrow::canonical::Json;

namespace {

const std::string k_db_value = "pr0d-db-Value!";
const std::string k_dev_value = "dev-t0ken-Value";

// A team: alice (genesis admin), bob (approver, requester; prod), carol (approver; all envs),
// dave (requester; dev). prod/db has custodians bob, carol (k=2); dev/token is alice's.
void team(Fixture& f)
{
  f.init();
  f.member("bob", {"approver", "requester"}, {"prod"});
  f.member("carol", {"approver"}, {"*"});
  f.member("dave", {"requester"}, {"dev"});
  f.add("alice", "prod/db", k_db_value, {"--custodians", "bob,carol", "--threshold", "2"});
  f.add("alice", "dev/token", k_dev_value);
}

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    lines.push_back(line);
  }
  return lines;
}

// stderr is exactly one "escrow: error: ..." line (plus optional hints) containing `part`.
void check_one_line_error(const Result& result, const std::string& part)
{
  INFO("stderr: " << result.err);
  const auto lines = lines_of(result.err);
  REQUIRE_FALSE(lines.empty());
  CHECK_THAT(lines[0], Catch::StartsWith("escrow: error: ") && Catch::Contains(part));
  for (std::size_t i = 1; i < lines.size(); ++i) {
    CHECK_THAT(lines[i], Catch::StartsWith("escrow: hint: "));
  }
}

enum class Effect { nothing, denied_entry };

// Runs `args` as `who`, and checks the exit code, the error line and what changed on disk.
Result refused(Fixture& f, const std::string& who, std::vector<std::string> args, int code, const std::string& part,
               Effect effect = Effect::nothing, const std::string* stdin_text = nullptr)
{
  auto before = escrow::test::snapshot(f.dir());
  const Result result = who.empty() ? f.run(std::move(args), stdin_text) : f.as(who, std::move(args), stdin_text);
  INFO("stdout: " << result.out);
  CHECK(result.code == code);
  check_one_line_error(result, part);
  CHECK(result.out.empty());
  auto after = escrow::test::snapshot(f.dir());
  if (effect == Effect::denied_entry) {
    // The vault is byte-identical; the journal grew by exactly one valid "denied" entry.
    const std::string& old_journal = before.at("escrow.journal");
    const std::string& new_journal = after.at("escrow.journal");
    REQUIRE(new_journal.size() > old_journal.size());
    CHECK(new_journal.compare(0, old_journal.size(), old_journal) == 0);
    const std::string added = new_journal.substr(old_journal.size());
    REQUIRE(lines_of(added).size() == 1);
    const escrow::history::Entry entry = escrow::history::parse_entry(lines_of(added)[0], "entry");
    CHECK(entry.result == escrow::history::Result::denied);
    CHECK_FALSE(entry.op.has_value()); // an event: no operation, no writes
    after["escrow.journal"] = old_journal;
    // This machine's cache place (under state/) follows the journal it verified: left out.
    for (auto it = after.begin(); it != after.end();) {
      it = it->first.rfind("state/", 0) == 0 ? after.erase(it) : std::next(it);
    }
    for (auto it = before.begin(); it != before.end();) {
      it = it->first.rfind("state/", 0) == 0 ? before.erase(it) : std::next(it);
    }
  }
  for (const auto& [name, bytes] : after) {
    INFO("changed: " << name);
    CHECK((before.count(name) == 1 && before.at(name) == bytes));
  }
  CHECK(after.size() == before.size());
  return result;
}

void edit_file(Fixture& f, const std::string& name, const std::function<std::string(std::string)>& change)
{
  const std::string text = slurp(f.dir() / name);
  const std::string changed = change(text);
  REQUIRE(changed != text);
  spit(f.dir() / name, changed);
}

// This machine forgets what it verified (its cache place under $XDG_STATE_HOME): a fresh clone.
void fresh_machine(Fixture& f)
{
  fs::remove_all(f.dir() / "state");
}

// Flips one base64 character of the value of the first key line starting with `prefix` whose
// key contains `part` (escrow.keys: `    "LOGICAL#H24": "<b64>"`).
std::string flip_value(const std::string& text, const std::string& prefix, const std::string& part)
{
  std::size_t at = text.find(prefix);
  while (at != std::string::npos && text.substr(at, text.find('"', at + 1) - at).find(part) == std::string::npos) {
    at = text.find(prefix, at + 1);
  }
  REQUIRE(at != std::string::npos);
  const auto quote = text.find(": \"", at) + 3;
  std::string out = text;
  char& c = out[quote + 5];
  c = c == 'A' ? 'B' : 'A';
  return out;
}

// Flips one base64 character after the first `field` (e.g. "sig":") of journal line `line` (1-based).
std::string flip_in_line(const std::string& text, std::size_t line, const std::string& field)
{
  std::size_t start = 0;
  for (std::size_t i = 1; i < line; ++i) {
    start = text.find('\n', start) + 1;
  }
  const auto end = text.find('\n', start);
  const auto at = text.find(field, start);
  REQUIRE(at < end);
  std::string out = text;
  char& c = out[at + field.size() + 5];
  c = c == 'A' ? 'B' : 'A';
  return out;
}

std::string replace_once(std::string text, const std::string& from, const std::string& to)
{
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

} // namespace

// escrow-vault/2 (vault-2.md §3): three files. A command reads the head file and the journal
// (only the lines after what this machine verified: the per-machine cache, D8) and the keys file
// only to decrypt or seal; `verify` and a machine with no cache (a fresh clone) read everything.
// So a byte changed inside a line this machine already verified is caught by `verify` and by a
// fresh machine, and the newest line, the head file and the key lines by every command.

TEST_CASE("foundation cli: a truncated vault", "[foundation][bad-input]")
{
  {
    Fixture f;
    team(f);
    edit_file(f, "escrow.vault", [](std::string text) { return text.substr(0, text.size() * 2 / 3); });
    const Result result = refused(f, "alice", {"list"}, 3, f.vault().string() + ": ");
    CHECK_THAT(result.err, Catch::Contains("truncated"));
    refused(f, "bob", {"get", "prod/db", "--reveal"}, 3, "escrow.vault: ");
  }
  {
    Fixture f;
    team(f);
    edit_file(f, "escrow.journal", [](std::string text) { return text.substr(0, text.size() * 2 / 3); });
    // This machine verified the entries now gone: a loss, named, with the way out.
    const Result result = refused(f, "alice", {"list"}, 3, f.journal().string() + ": ");
    CHECK_THAT(result.err, Catch::Contains("this machine verified are missing (lost or rolled back)")
                             && Catch::Contains("escrow: hint: ") && Catch::Contains("audit ack-loss"));
    // A fresh machine: the head file names an entry the journal lacks.
    fresh_machine(f);
    refused(f, "alice", {"list"}, 3, "escrow.vault: names entry");
  }
  {
    Fixture f;
    team(f);
    edit_file(f, "escrow.keys", [](std::string text) { return text.substr(0, text.size() * 2 / 3); });
    refused(f, "alice", {"get", "dev/token", "--reveal"}, 3, "escrow.keys: not an escrow-keys/2 file as escrow writes it");
    refused(f, "alice", {"verify"}, 3, "escrow.keys: ");
  }
}

TEST_CASE("foundation cli: one flipped byte in a ciphertext, a wrapped key, a signature, a public key, an owner", "[foundation][bad-input]")
{
  // Key lines: every command that uses one recomputes its hash (the journal names it).
  for (const std::string& logical : {std::string("dev/token:g1:rk:alice"), std::string(":v#")}) {
    Fixture f;
    team(f);
    INFO(logical);
    edit_file(f, "escrow.keys", [&](const std::string& text) { return flip_value(text, "\"dev/token:", logical); });
    refused(f, "alice", {"get", "dev/token", "--reveal"}, 3, "escrow.keys: line ");
    const Result result = refused(f, "alice", {"get", "dev/token", "--reveal"}, 3, "(modified outside escrow)");
    CHECK_THAT(result.err, Catch::Contains("dev/token:"));
    refused(f, "alice", {"verify"}, 3, "escrow.keys: ");
    CHECK(f.as("alice", {"get", "prod/db", "--reveal"}).out == k_db_value); // the other lines still serve
  }
  {
    // A custodian's share (only the custodian opens it).
    Fixture f;
    team(f);
    edit_file(f, "escrow.keys", [&](const std::string& text) { return flip_value(text, "\"prod/db:", ":sh:bob#"); });
    refused(f, "alice", {"verify"}, 3, "escrow.keys: ");
  }
  // Journal lines: the newest line is checked by every command (hash and signature); an older one
  // by verify and by a machine without this one's cache.
  const std::vector<std::tuple<std::string, std::size_t, std::string, std::string>> lines = {
    {"the signature of the newest entry", 6, "\"sig\":\"", "the signature is not alice's"},
    {"a member's public key", 2, "\"sign_pk\":\"", "its hash is not the hash of its content"},
    {"the genesis signature", 1, "\"sig\":\"", "the signature is not alice's"},
  };
  for (const auto& [what, line, field, message] : lines) {
    Fixture f;
    team(f);
    INFO(what);
    edit_file(f, "escrow.journal", [&, &line = line, &field = field](const std::string& text) {
      return flip_in_line(text, line, field);
    });
    refused(f, "alice", {"verify"}, 3, "escrow.journal: line " + std::to_string(line) + ": ");
    refused(f, "alice", {"verify"}, 3, message);
    if (line == 6) {
      refused(f, "alice", {"list"}, 3, message);
    }
    fresh_machine(f);
    refused(f, "alice", {"list"}, 3, "escrow.journal: line " + std::to_string(line) + ": ");
    refused(f, "bob", {"get", "prod/db", "--reveal"}, 3, message);
  }
  {
    // The owner of dev/token changed in its secret-add: the entry's hash no longer matches.
    Fixture f;
    team(f);
    edit_file(f, "escrow.journal", [](const std::string& text) {
      return replace_once(text, "\"owner\":\"alice\",\"purpose\":\"test\",\"secret\":\"dev/token\"",
                          "\"owner\":\"carol\",\"purpose\":\"test\",\"secret\":\"dev/token\"");
    });
    // This machine verified that entry; the line in its place is the one named (not a loss).
    refused(f, "carol", {"show", "dev/token"}, 3, "escrow.journal: line 6: ");
    fresh_machine(f);
    refused(f, "carol", {"show", "dev/token"}, 3, "escrow.journal: line 6: ");
    refused(f, "carol", {"get", "dev/token", "--reveal"}, 3, "its hash is not the hash of its content");
  }
  {
    // The head file's journal head.
    Fixture g;
    team(g);
    edit_file(g, "escrow.vault", [](const std::string& text) {
      const auto at = text.find("\"heads\": [\n      \"") + 18;
      std::string out = text;
      out[at] = out[at] == 'A' ? 'B' : 'A';
      return out;
    });
    refused(g, "alice", {"list"}, 3, "escrow.vault: names journal entry");
    refused(g, "alice", {"list"}, 3, "(the journal lost its tail)");
  }
}

TEST_CASE("foundation cli: a record copied in from another vault", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  const std::string other = (f.dir() / "other" / "escrow.vault").string();
  fs::create_directories(f.dir() / "other");
  REQUIRE(f.as("alice", {"--vault", other, "init"}).code == 0);
  const std::string value = "other-vault-value";
  REQUIRE(f.as("alice", {"--vault", other, "add", "dev/token", "--purpose", "test"}, &value).code == 0);
  const auto snapshot_before = escrow::test::snapshot(f.dir());
  const std::string donor_keys = slurp(f.dir() / "other" / "escrow.keys");
  const std::string donor_journal = slurp(f.dir() / "other" / "escrow.journal");
  {
    // alice's sealed reader key of dev/token from the other vault, under this vault's line key.
    const std::string keys = slurp(f.dir() / "escrow.keys");
    const auto value_of = [](const std::string& text) {
      const auto at = text.find("\"dev/token:g1:rk:alice#");
      const auto start = text.find(": \"", at) + 3;
      return std::pair{start, text.find('"', start)};
    };
    const auto [start, end] = value_of(keys);
    const auto [donor_start, donor_end] = value_of(donor_keys);
    std::string changed = keys;
    changed.replace(start, end - start, donor_keys.substr(donor_start, donor_end - donor_start));
    REQUIRE(changed != keys);
    spit(f.dir() / "escrow.keys", changed);
    refused(f, "alice", {"get", "dev/token", "--reveal"}, 3, "escrow.keys: line ");
    refused(f, "alice", {"get", "dev/token", "--reveal"}, 3, "does not hash to what the journal recorded");
    refused(f, "alice", {"verify"}, 3, "escrow.keys: ");
    spit(f.dir() / "escrow.keys", keys);
  }
  {
    // The other vault's whole keys file.
    const std::string keys = slurp(f.dir() / "escrow.keys");
    spit(f.dir() / "escrow.keys", donor_keys);
    refused(f, "alice", {"get", "dev/token", "--reveal"}, 3, "escrow.keys: belongs to another vault");
    spit(f.dir() / "escrow.keys", keys);
  }
  {
    // The other vault's secret-add line appended to this journal.
    const std::string journal = slurp(f.journal());
    const auto last = donor_journal.rfind('\n', donor_journal.size() - 2) + 1;
    spit(f.journal(), journal + donor_journal.substr(last));
    refused(f, "alice", {"list"}, 3, "escrow.journal: line 7: ");
    refused(f, "alice", {"get", "dev/token", "--reveal"}, 3, "escrow.journal: line 7: ");
    spit(f.journal(), journal);
  }
  CHECK(escrow::test::snapshot(f.dir()) == snapshot_before);
}

TEST_CASE("foundation cli: a vault rolled back to an older revision, --allow-rollback accepts it", "[foundation][bad-input]")
{
  // escrow-vault/2 replaces v1's revision pins and --allow-rollback with loss detection
  // (vault-2-replay.md §6): an older copy of the files is refused on every machine that verified
  // the newer entries, whatever the options; only `escrow audit ack-loss` (a signed, journaled
  // operation by an admin) lets the vault go on without them.
  Fixture f;
  team(f);
  const std::map<std::string, std::string> older = {
    {"escrow.vault", slurp(f.vault())}, {"escrow.journal", slurp(f.journal())}, {"escrow.keys", f.read("escrow.keys")}};
  f.add("alice", "dev/newer", "n3wer-value");
  // The journal alone, then all three files, put back as they were.
  spit(f.journal(), older.at("escrow.journal"));
  Result result = refused(f, "bob", {"list"}, 3, "escrow.journal: 1 entry this machine verified is missing (lost or rolled back)");
  CHECK_THAT(result.err, Catch::Contains("(secret-add by alice, ") && Catch::Contains("escrow: hint: ")
                           && Catch::Contains("escrow audit ack-loss"));
  for (const auto& [name, bytes] : older) {
    spit(f.dir() / name, bytes);
  }
  refused(f, "bob", {"list"}, 3, "escrow.journal: 1 entry this machine verified is missing");
  refused(f, "alice", {"add", "dev/x", "--purpose", "p"}, 3, "lost or rolled back", Effect::nothing, &k_dev_value);
  refused(f, "bob", {"--allow-rollback", "list"}, 3, "lost or rolled back");
  refused(f, "alice", {"verify"}, 3, "lost or rolled back");
}

TEST_CASE("foundation cli: an unknown major format version", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  const auto bump = [&](const std::string& name, const std::string& from, const std::string& to) {
    const std::string before = f.read(name);
    edit_file(f, name, [&](const std::string& text) { return replace_once(text, from, to); });
    return before;
  };
  std::string saved = bump("escrow.vault", "escrow-vault/2", "escrow-vault/3");
  refused(f, "alice", {"list"}, 3, "escrow.vault: format \"escrow-vault/3\" is not escrow-vault/2 (this escrow reads escrow-vault/2)");
  refused(f, "alice", {"add", "dev/x", "--purpose", "p"}, 3, "escrow-vault/3", Effect::nothing, &k_dev_value);
  spit(f.vault(), saved);
  saved = bump("escrow.keys", "escrow-keys/2", "escrow-keys/3");
  refused(f, "alice", {"get", "dev/token", "--reveal"}, 3, "escrow.keys: format \"escrow-keys/3\" is not escrow-keys/2");
  spit(f.dir() / "escrow.keys", saved);
  bump("escrow.journal", "escrow-journal/2", "escrow-journal/3");
  refused(f, "alice", {"verify"}, 3, "escrow.journal: line 1: ");
  fresh_machine(f);
  refused(f, "alice", {"list"}, 3, "not escrow-journal/2 (a journal of another format or version)");
}

TEST_CASE("foundation cli: duplicate JSON keys", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  edit_file(f, "escrow.vault", [](const std::string& text) {
    return replace_once(text, "\n  \"format\": \"escrow-vault/2\",", "\n  \"format\": \"escrow-vault/2\",\n  \"format\": \"escrow-vault/2\",");
  });
  refused(f, "alice", {"list"}, 3, "escrow.vault: duplicate key at byte");
  Fixture g;
  team(g);
  edit_file(g, "escrow.journal", [](const std::string& text) {
    return replace_once(text, "\"tier\":\"standard\"", "\"tier\":\"standard\",\"tier\":\"x\"");
  });
  refused(g, "alice", {"verify"}, 3, "duplicate key at byte");
  fresh_machine(g);
  refused(g, "alice", {"get", "dev/token", "--reveal"}, 3, "escrow.journal: line ");
  refused(g, "alice", {"list"}, 3, "duplicate key at byte");
  Fixture h;
  team(h);
  edit_file(h, "escrow.keys", [](const std::string& text) {
    return replace_once(text, "\n  \"format\": \"escrow-keys/2\",", "\n  \"format\": \"escrow-keys/2\",\n  \"format\": \"escrow-keys/2\",");
  });
  refused(h, "alice", {"get", "dev/token", "--reveal"}, 3, "escrow.keys: not an escrow-keys/2 file as escrow writes it");
}

TEST_CASE("foundation cli: invalid UTF-8, in the vault and in arguments", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  edit_file(f, "escrow.vault", [](const std::string& text) { return replace_once(text, "\"journal\"", "\"jo\xC3\x28urnal\""); });
  refused(f, "alice", {"list"}, 3, "escrow.vault: invalid UTF-8 at byte");
  Fixture h;
  team(h);
  edit_file(h, "escrow.journal", [](const std::string& text) { return replace_once(text, "\"purpose\":\"test\"", "\"purpose\":\"t\xC3\x28st\""); });
  refused(h, "alice", {"verify"}, 3, "invalid UTF-8 at byte");
  fresh_machine(h);
  refused(h, "alice", {"list"}, 3, "escrow.journal: line ");
  refused(h, "alice", {"list"}, 3, "invalid UTF-8 at byte");
  Fixture k;
  team(k);
  edit_file(k, "escrow.keys", [](const std::string& text) { return replace_once(text, "\"escrow-keys/2\"", "\"escrow-keys/2\xC3\x28\""); });
  refused(k, "alice", {"get", "dev/token", "--reveal"}, 3, "escrow.keys: ");

  Fixture g;
  team(g);
  refused(g, "alice", {"add", "dev/x", "--purpose", "p\xFF"}, 2, "--purpose must be UTF-8 text", Effect::nothing, &k_dev_value);
  refused(g, "alice", {"add", "dev/x", "--purpose", "p", "--tier", "\xC0\xAF"}, 2, "--tier must be UTF-8", Effect::nothing,
          &k_dev_value);
  refused(g, "alice", {"add", "dev/x", "--purpose", "red \x1b[31m"}, 2, "without control characters", Effect::nothing,
          &k_dev_value);
  refused(g, "alice", {"get", "dev/t\xFFoken", "--reveal"}, 2, "invalid secret name: not valid UTF-8");
  refused(g, "alice", {"add", "dev/token", "--update", "--purpose", "p\xFF"}, 2, "--purpose must be UTF-8 text");
  refused(g, "alice", {"custodians", "prod/db", "--custodians", "bob,\xFF", "--threshold", "1"}, 2,
          "--custodians must be UTF-8 text");
}

TEST_CASE("foundation cli: a NUL, '/..' or an empty segment in a secret name", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  const std::vector<std::pair<std::string, std::string>> names = {
    {std::string("dev/to\0ken", 10), "contains a NUL byte"},
    {"dev/a/../token", "'.' and '..' segments are not allowed"},
    {"dev/..", "'.' and '..' segments are not allowed"},
    {"dev//token", "empty path segment"},
    {"dev/a/", "empty path segment"},
    {"/token", "the environment must be"},
  };
  for (const auto& [name, reason] : names) {
    INFO(name);
    refused(f, "alice", {"add", name, "--purpose", "p"}, 2, "invalid secret name: " + reason, Effect::nothing, &k_dev_value);
    refused(f, "alice", {"get", name, "--reveal"}, 2, reason);
    refused(f, "alice", {"show", name}, 2, reason);
    refused(f, "alice", {"exec", "--set", "X=" + name, "--", "true"}, 2, reason);
  }
}

TEST_CASE("foundation cli: a value over the documented 64 KiB limit", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  const std::string too_big(64 * 1024 + 1, 'v');
  refused(f, "alice", {"add", "dev/big", "--purpose", "p"}, 2, "value larger than the limit of 65536 bytes", Effect::nothing,
          &too_big);
  const std::string largest(64 * 1024, 'v');
  REQUIRE(f.as("alice", {"add", "dev/big", "--purpose", "p"}, &largest).code == 0);
  const Result get = f.as("alice", {"get", "dev/big", "--reveal"});
  CHECK(get.code == 0);
  CHECK(get.out == largest);
  const std::string empty;
  refused(f, "alice", {"add", "dev/empty", "--purpose", "p"}, 2, "the value is empty", Effect::nothing, &empty);
}

TEST_CASE("foundation cli: the wrong passphrase", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  spit(f.dir() / "right.pass", "correct horse\n");
  spit(f.dir() / "wrong.pass", "incorrect horse\n");
  f.set_env("ESCROW_PASSPHRASE_FILE", (f.dir() / "right.pass").string());
  REQUIRE(f.run({"identity", "new", "--name", "erin", "--out", (f.dir() / "erin.id").string()}).code == 0);
  const Result pub = f.as("erin", {"identity", "show", "--public"});
  spit(f.dir() / "erin.pub", pub.out);
  REQUIRE(f.as("alice", {"member", "add", (f.dir() / "erin.pub").string(), "--role", "requester", "--env", "dev"}).code == 0);
  // escrow-vault/2: list, show and verify are public reads (no identity); grants needs one.
  CHECK(f.as("erin", {"grants"}).code == 0);
  f.set_env("ESCROW_PASSPHRASE_FILE", (f.dir() / "wrong.pass").string());
  refused(f, "erin", {"grants"}, 4, "erin.id: wrong passphrase");
  refused(f, "erin", {"add", "dev/x", "--purpose", "p"}, 4, "wrong passphrase", Effect::nothing, &k_dev_value);
  f.unset_env("ESCROW_PASSPHRASE_FILE");
}

TEST_CASE("foundation cli: a non-member's identity", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  f.identity("mallory");
  // escrow-vault/2: list, show and verify are public reads; what needs a member refuses.
  for (const auto& args : std::vector<std::vector<std::string>>{
         {"grants"}, {"get", "dev/token", "--reveal"}, {"exec", "--set", "X=dev/token", "--", "true"}}) {
    refused(f, "mallory", args, 4, "mallory (");
    refused(f, "mallory", args, 4, ") is not a member of this vault");
  }
  refused(f, "mallory", {"add", "dev/x", "--purpose", "p"}, 4, "is not a member of this vault", Effect::nothing, &k_dev_value);
  refused(f, "mallory", {"member", "add", (f.dir() / "mallory.pub").string(), "--role", "admin", "--env", "*"}, 4,
          "is not a member");
}

TEST_CASE("foundation cli: a removed member's identity", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  REQUIRE(f.as("alice", {"member", "remove", "dave"}).code == 0);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"grants"}, {"get", "dev/token", "--reveal"}, {"exec", "--set", "X=dev/token", "--", "true"}}) {
    refused(f, "dave", args, 4, "dave was removed from this vault on");
  }
  refused(f, "dave", {"add", "dev/x", "--purpose", "p"}, 4, "dave was removed", Effect::nothing, &k_dev_value);
}

TEST_CASE("foundation cli: a member outside the secret's environment is denied, and journaled", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  // dave reaches dev only; bob reaches prod only.
  refused(f, "dave", {"get", "prod/db", "--reveal"}, 4, "get: prod/db: dave may not read v1: dave is not assigned to the prod environment",
          Effect::denied_entry);
  refused(f, "bob", {"get", "dev/token", "--reveal"}, 4, "not assigned to the dev environment", Effect::denied_entry);
  refused(f, "bob", {"exec", "--set", "X=dev/token", "--", "true"}, 4, "not assigned to the dev environment", Effect::denied_entry);
  // A write outside the member's environments: refused by the rules, journaled (secret-add, denied).
  refused(f, "bob", {"add", "dev/x", "--purpose", "p"}, 4, "dev", Effect::denied_entry, &k_dev_value);
  // A member who reaches the environment but holds no key: denied, journaled.
  refused(f, "carol", {"get", "dev/token", "--reveal"}, 4, "get: dev/token: carol may not read v1: not a reader, no request, no grant",
          Effect::denied_entry);
  // escrow-vault/2: list and show are public reads of the journal's state (every member reads the
  // journal; vault-2.md §3.5): no value, no key line, nothing written.
  const auto before = escrow::test::snapshot(f.dir());
  CHECK(f.as("bob", {"show", "dev/token"}).code == 0);
  const Result list = f.as("bob", {"list"});
  CHECK(list.code == 0);
  CHECK_THAT(list.out, Catch::Contains("prod/db") && Catch::Contains("dev/token"));
  CHECK(escrow::test::snapshot(f.dir()) == before);
}

TEST_CASE("foundation cli: get without --reveal", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  const Result result = refused(f, "alice", {"get", "prod/db"}, 2, "get: refusing to print a secret value without --reveal");
  CHECK_THAT(result.err, Catch::Contains("escrow: hint: to use a value without seeing it: escrow exec --set VAR=prod/db"));
}

TEST_CASE("foundation cli: a missing vault and a missing identity", "[foundation][bad-input]")
{
  Fixture f;
  f.identity("alice");
  refused(f, "alice", {"list"}, 5, "escrow.vault: no such vault");
  REQUIRE(f.as("alice", {"init"}).code == 0);
  refused(f, "nobody", {"grants"}, 4, "nobody.id: no identity file");
  refused(f, "alice", {"init"}, 2, "escrow.journal: already exists (a vault is there)");
}

TEST_CASE("foundation cli: no value reaches an output, the journal or the vault", "[foundation]")
{
  Fixture f;
  team(f);
  REQUIRE(f.as("alice", {"share", "prod/db", "--with", "bob"}).code == 0);
  std::string outputs;
  for (const auto& [who, args] : std::vector<std::pair<std::string, std::vector<std::string>>>{
         {"alice", {"list"}}, {"alice", {"list", "--json"}}, {"alice", {"show", "prod/db", "--json"}},
         {"bob", {"show", "prod/db"}}, {"alice", {"member", "list", "--json"}}, {"alice", {"verify", "--json"}},
         {"alice", {"exec", "--set", "X=dev/token", "--", "true"}},
         {"bob", {"get", "dev/token", "--reveal"}}, {"carol", {"get", "prod/db", "--reveal"}}}) {
    const Result result = f.as(who, args);
    outputs += result.out + result.err;
  }
  CHECK(f.as("bob", {"get", "prod/db", "--reveal"}).out == k_db_value);
  for (const auto& value : {k_db_value, k_dev_value}) {
    INFO(value);
    CHECK(outputs.find(value) == std::string::npos);
    for (const auto& [name, bytes] : escrow::test::snapshot(f.dir())) {
      INFO(name);
      CHECK(bytes.find(value) == std::string::npos);
    }
  }
}

TEST_CASE("foundation cli: --help of every subcommand exits 0 and mentions its options", "[foundation][help]")
{
  Fixture f;
  const Result top = f.run({"--help"});
  CHECK(top.code == 0);
  CHECK_THAT(top.out, Catch::Contains("Exit codes: 0 ok, 1 operation failed, 2 usage, 3 integrity, 4 access denied, 5 lock or I/O"));
  // Every subcommand listed, and every sub-subcommand, has a help that exits 0.
  const auto subcommands = [](const std::string& help) {
    std::vector<std::string> names;
    bool in_list = false;
    for (const auto& line : lines_of(help)) {
      if (line == "Subcommands:") {
        in_list = true;
        continue;
      }
      if (in_list && line.rfind("  ", 0) == 0 && line.size() > 2 && line[2] != ' ') {
        names.push_back(line.substr(2, line.find(' ', 2) - 2));
      } else if (in_list && line.empty()) {
        break;
      }
    }
    return names;
  };
  std::map<std::string, std::string> helps;
  for (const auto& name : subcommands(top.out)) {
    const Result help = f.run({name, "--help"});
    INFO(name << ": " << help.err);
    CHECK(help.code == 0);
    CHECK_THAT(help.out, Catch::Contains("Usage: escrow " + name));
    helps[name] = help.out;
    for (const auto& nested : subcommands(help.out)) {
      const Result inner = f.run({name, nested, "--help"});
      INFO(name << " " << nested << ": " << inner.err);
      CHECK(inner.code == 0);
      CHECK_THAT(inner.out, Catch::Contains("Usage: escrow " + name + " " + nested));
      helps[name + " " + nested] = inner.out;
    }
  }
  const std::map<std::string, std::vector<std::string>> options = {
    {"identity new", {"--name", "--no-passphrase", "--out", "--kdf", "interactive,moderate,sensitive"}},
    {"identity show", {"--public"}},
    {"init", {"--help"}},
    {"member add", {"pubfile", "--role", "--env"}},
    {"member remove", {"name"}},
    {"member list", {"--help"}},
    {"add", {"--owner", "--purpose", "--connector", "--custodians", "--threshold", "--every", "--generate", "--tier", "--after-access", "--update", "--no-after-access"}},
    {"custodians", {"name", "--custodians", "--threshold", "--none"}},
    {"list", {"--env"}},
    {"show", {"name"}},
    {"get", {"--reveal", "--version"}},
    {"share", {"--with"}},
    {"unshare", {"--with"}},
    {"exec", {"--set", "-- CMD ARGS"}},
    {"verify", {"--help"}},
  };
  for (const auto& [command, wanted] : options) {
    INFO(command);
    REQUIRE(helps.count(command) == 1);
    for (const auto& option : wanted) {
      CHECK_THAT(helps[command], Catch::Contains(option));
    }
  }
  // A bad option is a usage error naming it.
  const Result bad = f.run({"list", "--colour"});
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("--colour"));
}
