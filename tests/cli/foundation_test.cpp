// The foundation's bad-input contract, in process (issue 2): each bad input gets a one-line
// error naming the file and the problem, its exit code from DESIGN §8, and leaves every file
// byte-identical. A valid member's refused access appends exactly one "denied" journal entry
// (failed checks are journaled by design) and leaves the vault byte-identical.
// Also: --help of every subcommand, and no value in any output or file.
#include "../unit/foundation_support.hpp"
#include "fixture.hpp"

#include <escrow/canonical.hpp>
#include <escrow/journal.hpp>

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
  const auto before = escrow::test::snapshot(f.dir());
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
    const escrow::JournalEntry entry =
      escrow::journal_entry_from_json(escrow::canonical::parse(lines_of(added)[0], "entry"), "entry");
    CHECK(entry.result == escrow::JournalResult::denied);
    CHECK(escrow::journal_entry_hash(entry) == entry.hash);
    after["escrow.journal"] = old_journal;
    // The pin file may note the journal's new head (audit); the vault pins stay as they were.
    const std::string pins = "state/escrow/known.json";
    if (before.count(pins) == 1 && after.count(pins) == 1) {
      const auto strip = [](const std::string& text) {
        Json json = escrow::canonical::parse(text, "known.json");
        for (auto& [id, pin] : json["vaults"].items()) {
          pin.erase("journal_head");
          pin.erase("journal_size");
        }
        return json;
      };
      CHECK(strip(after.at(pins)) == strip(before.at(pins)));
      after[pins] = before.at(pins);
    }
  }
  for (const auto& [name, bytes] : after) {
    INFO("changed: " << name);
    CHECK((before.count(name) == 1 && before.at(name) == bytes));
  }
  CHECK(after.size() == before.size());
  return result;
}

void edit_vault(Fixture& f, const std::function<std::string(std::string)>& change)
{
  const std::string text = slurp(f.vault());
  const std::string changed = change(text);
  REQUIRE(changed != text);
  spit(f.vault(), changed);
}

std::string replace_once(std::string text, const std::string& from, const std::string& to)
{
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Flips one base64 character of the first string value of `field` in the record `key`.
std::string flip_field(const std::string& text, const std::string& key, const std::string& field)
{
  const auto record = text.find("\"" + key + "\": {");
  REQUIRE(record != std::string::npos);
  const auto at = text.find("\"" + field + "\": ", record);
  REQUIRE(at != std::string::npos);
  std::size_t quote = text.find('"', at + field.size() + 4);
  if (text[at + field.size() + 4] == '{') { // a map: the first value in it
    quote = text.find('"', text.find(':', text.find('"', at + field.size() + 4)) + 1);
  }
  REQUIRE(quote != std::string::npos);
  std::string out = text;
  char& c = out[quote + 5];
  c = c == 'A' ? 'B' : 'A';
  return out;
}

} // namespace

TEST_CASE("foundation cli: a truncated vault", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  edit_vault(f, [](std::string text) { return text.substr(0, text.size() * 2 / 3); });
  refused(f, "alice", {"list"}, 3, f.vault().string() + ": ");
  const Result result = refused(f, "bob", {"get", "prod/db", "--reveal"}, 3, "truncated");
  CHECK_THAT(result.err, Catch::Contains(f.vault().string()));
}

TEST_CASE("foundation cli: one flipped byte in a ciphertext, a wrapped key, a signature, a public key, an owner", "[foundation][bad-input]")
{
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
    {"prod/db", "ciphertext", "secrets/prod/db: record does not match the signed manifest"},
    {"prod/db", "wrapped", "secrets/prod/db: record does not match the signed manifest"},
    {"dev/token", "sig", "secrets/dev/token: record does not match the signed manifest"},
    {"bob", "sign_pk", "members/bob: record does not match the signed manifest"},
    {"alice", "sig", "members/alice: record does not match the signed manifest"},
  };
  for (const auto& [key, field, message] : cases) {
    Fixture f;
    team(f);
    INFO(key << " " << field);
    edit_vault(f, [&, &key = key, &field = field](const std::string& text) { return flip_field(text, key, field); });
    refused(f, "alice", {"list"}, 3, message);
    refused(f, "alice", {"verify"}, 3, message);
  }
  Fixture f;
  team(f);
  edit_vault(f, [](const std::string& text) {
    return replace_once(text, "\"owner\": \"alice\",\n      \"purpose\": \"test\"", "\"owner\": \"carol\",\n      \"purpose\": \"test\"");
  });
  refused(f, "carol", {"show", "dev/token"}, 3, "secrets/dev/token: record does not match the signed manifest (modified outside escrow)");
  CHECK(f.as("carol", {"show", "prod/db"}).code == 0); // lazy: an untouched record still serves
  // The head signature too.
  Fixture g;
  team(g);
  edit_vault(g, [](const std::string& text) {
    const auto at = text.find("\"head_sig\"");
    const auto sig = text.find("\"sig\": \"", at) + 9;
    std::string out = text;
    out[sig] = out[sig] == 'A' ? 'B' : 'A';
    return out;
  });
  refused(g, "alice", {"list"}, 3, "the head signature does not verify");
}

TEST_CASE("foundation cli: a record copied in from another vault", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  const std::string other = (f.dir() / "other.vault").string();
  REQUIRE(f.as("alice", {"--vault", other, "init"}).code == 0);
  const std::string value = "other-vault-value";
  REQUIRE(f.as("alice", {"--vault", other, "add", "dev/token", "--purpose", "test"}, &value).code == 0);
  const std::string donor = slurp(other);
  const auto record_of = [](const std::string& text) {
    const auto start = text.find("\"dev/token\": {") + std::string("\"dev/token\": ").size();
    const auto end = text.find("\n    }", start) + 6;
    return std::pair{start, end};
  };
  edit_vault(f, [&](std::string text) {
    const auto [start, end] = record_of(text);
    const auto [donor_start, donor_end] = record_of(donor);
    return text.replace(start, end - start, donor.substr(donor_start, donor_end - donor_start));
  });
  refused(f, "alice", {"get", "dev/token", "--reveal"}, 3, "secrets/dev/token: record does not match the signed manifest");
  refused(f, "alice", {"verify"}, 3, "secrets/dev/token");
}

TEST_CASE("foundation cli: a vault rolled back to an older revision, --allow-rollback accepts it", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  const std::string older = slurp(f.vault());
  f.add("alice", "dev/newer", "n3wer-value");
  spit(f.vault(), older);
  const Result result = refused(f, "bob", {"list"}, 3, "rolled back: this is revision 6, this machine has already seen revision 7");
  CHECK_THAT(result.err, Catch::Contains("escrow: hint: ") && Catch::Contains("--allow-rollback"));
  refused(f, "alice", {"add", "dev/x", "--purpose", "p"}, 3, "rolled back", Effect::nothing, &k_dev_value);
  // The pins live in $XDG_STATE_HOME/escrow/known.json.
  const Json pins = escrow::canonical::parse(slurp(f.dir() / "state/escrow/known.json"), "known.json");
  CHECK(pins["vaults"].begin().value()["revision"] == 7);

  const std::string journal = slurp(f.journal());
  const Result accepted = f.as("bob", {"--allow-rollback", "list"});
  INFO(accepted.err);
  CHECK(accepted.code == 0);
  CHECK(slurp(f.vault()) == older);
  const auto added = lines_of(slurp(f.journal()).substr(journal.size()));
  REQUIRE(added.size() == 1);
  CHECK_THAT(added[0], Catch::Contains("\"action\":\"allow-rollback\"") && Catch::Contains("\"seen\":7"));
  CHECK(f.as("bob", {"list"}).code == 0);
}

TEST_CASE("foundation cli: an unknown major format version", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  edit_vault(f, [](const std::string& text) { return replace_once(text, "escrow-vault/1", "escrow-vault/2"); });
  refused(f, "alice", {"list"}, 3, "unsupported format \"escrow-vault/2\" (this escrow reads escrow-vault/1)");
  refused(f, "alice", {"add", "dev/x", "--purpose", "p"}, 3, "escrow-vault/2", Effect::nothing, &k_dev_value);
}

TEST_CASE("foundation cli: duplicate JSON keys", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  edit_vault(f, [](const std::string& text) {
    return replace_once(text, "\n  \"connectors\": {},", "\n  \"connectors\": {},\n  \"connectors\": {},");
  });
  refused(f, "alice", {"list"}, 3, "escrow.vault: duplicate key at byte");
  Fixture g;
  team(g);
  edit_vault(g, [](const std::string& text) { return replace_once(text, "\"tier\": \"standard\",", "\"tier\": \"standard\", \"tier\": \"x\","); });
  // Inside a record, the changed bytes fail the signed manifest before anything is parsed.
  refused(g, "alice", {"get", "dev/token", "--reveal"}, 3, "secrets/dev/token: record does not match the signed manifest");
}

TEST_CASE("foundation cli: invalid UTF-8, in the vault and in arguments", "[foundation][bad-input]")
{
  Fixture f;
  team(f);
  edit_vault(f, [](const std::string& text) { return replace_once(text, "\"purpose\": \"test\"", "\"purpose\": \"t\xC3\x28st\""); });
  refused(f, "alice", {"list"}, 3, "escrow.vault: invalid UTF-8 at byte");

  Fixture g;
  team(g);
  refused(g, "alice", {"add", "dev/x", "--purpose", "p\xFF"}, 2, "--purpose must be UTF-8 text", Effect::nothing, &k_dev_value);
  refused(g, "alice", {"add", "dev/x", "--purpose", "p", "--tier", "\xC0\xAF"}, 2, "--tier must be UTF-8", Effect::nothing,
          &k_dev_value);
  refused(g, "alice", {"add", "dev/x", "--purpose", "red \x1b[31m"}, 2, "without control characters", Effect::nothing,
          &k_dev_value);
  refused(g, "alice", {"get", "dev/t\xFFoken", "--reveal"}, 2, "invalid secret name: not valid UTF-8");
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
    refused(f, "mallory", args, 4, "mallory is not a member of this vault");
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
  refused(f, "dave", {"get", "prod/db", "--reveal"}, 4, "get: dave is not assigned to the prod environment", Effect::denied_entry);
  refused(f, "bob", {"get", "dev/token", "--reveal"}, 4, "not assigned to the dev environment", Effect::denied_entry);
  refused(f, "bob", {"exec", "--set", "X=dev/token", "--", "true"}, 4, "not assigned to the dev environment", Effect::denied_entry);
  refused(f, "bob", {"show", "dev/token"}, 4, "not assigned to the dev environment");
  refused(f, "bob", {"add", "dev/x", "--purpose", "p"}, 4, "not assigned to the dev environment", Effect::nothing, &k_dev_value);
  // A member who reaches the environment but holds no key: denied, journaled.
  refused(f, "carol", {"get", "dev/token", "--reveal"}, 4, "carol has no access to dev/token v1", Effect::denied_entry);
  const Result list = f.as("bob", {"list"});
  CHECK(list.code == 0);
  CHECK_THAT(list.out, Catch::Contains("prod/db") && !Catch::Contains("dev/token"));
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
  refused(f, "alice", {"list"}, 5, "escrow.vault: no such file");
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
    {"add", {"--owner", "--purpose", "--connector", "--custodians", "--threshold", "--every", "--generate", "--tier", "--after-access"}},
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
