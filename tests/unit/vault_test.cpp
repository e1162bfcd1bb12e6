// vault: the escrow-vault/1 document. Writing and reading back, the one layout, lazy and full
// verification, what a writer without the right keys cannot do, records copied from another
// vault, invalid names, and a deterministic malformed-mutation run over the golden vault:
// every mutation is a clean Error(integrity), never a crash and never another exception.
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/vault.hpp>
#include <escrow/versions.hpp>

#include <random>
#include <sstream>

using namespace escrow;
using escrow::test::require_error;

namespace {

constexpr Timestamp k_t0 = 1768467600; // 2026-01-15T09:00:00Z

Vault reparse(Vault& vault, const Identity& signer, const std::string& journal_head = "")
{
  return Vault::parse(vault.serialize(signer, journal_head), "test.vault");
}

Vault new_vault(const Identity& admin)
{
  Vault created = Vault::create(admin, k_t0);
  return reparse(created, admin);
}

void add_member(Vault& vault, const Identity& admin, const Identity& who, std::set<Role> roles,
                std::set<std::string> envs)
{
  MemberRecord record;
  record.name = who.pub.name;
  record.sign_pk = who.pub.sign_pk;
  record.box_pk = who.pub.box_pk;
  record.roles = std::move(roles);
  record.envs = std::move(envs);
  record.added_by = admin.pub.name;
  record.added_at = k_t0 + 60;
  vault.sign(record, admin);
  vault.put_member(record);
}

void add_secret(Vault& vault, const Identity& owner, const std::string& full_name, std::string_view value)
{
  const auto [env, name] = split_secret_name(full_name);
  SecretRecord secret;
  secret.env = env;
  secret.name = name;
  secret.owner = owner.pub.name;
  secret.purpose = "test";
  secret.created_at = k_t0 + 120;
  VersionPlan plan;
  plan.why = "added";
  plan.readers = {owner.pub.name};
  VersionRecord version = seal_version(vault, secret, SecretBytes::from(value), plan, k_t0 + 120, owner.pub.name);
  vault.sign(secret, version, owner);
  secret.versions.push_back(std::move(version));
  vault.sign_meta(secret, owner);
  vault.put_secret(std::move(secret));
}

std::string reveal(const Vault& vault, const Identity& who, const std::string& full_name)
{
  const SecretRecord& secret = vault.secret(full_name);
  const OpenedKey key = open_data_key(vault, secret, *secret.current(), who, k_t0 + 200);
  return std::string(decrypt_version(vault, secret, *secret.current(), key.data_key).expose_view());
}

// The span of the value of `key` inside the object that starts at `begin` (a top-level field
// when begin is the file's '{').
canonical::Span span_of(const std::string& text, std::size_t begin, const std::string& key)
{
  std::size_t end = 0;
  for (const auto& span : canonical::scan_object(text, begin, end, "t")) {
    if (span.key == key) {
      return span;
    }
  }
  FAIL("no field " << key);
  return {};
}

std::string record_text(const std::string& text, const std::string& section, const std::string& key)
{
  const auto outer = span_of(text, 0, section);
  const auto inner = span_of(text, outer.begin, key);
  return text.substr(inner.begin, inner.end - inner.begin);
}

std::string replace_record(const std::string& text, const std::string& section, const std::string& key,
                           const std::string& replacement)
{
  const auto outer = span_of(text, 0, section);
  const auto inner = span_of(text, outer.begin, key);
  return text.substr(0, inner.begin) + replacement + text.substr(inner.end);
}

std::string replace_once(std::string text, const std::string& from, const std::string& to)
{
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// What a member with a signing key but no say over a record can do: rewrite the manifest over
// the bytes as they now are, and sign the head. (docs/FORMAT.md: head signature.)
std::string resign_head(const std::string& text, const Identity& signer)
{
  std::size_t end = 0;
  const auto top = canonical::scan_object(text, 0, end, "t");
  std::map<std::string, std::string> manifest;
  manifest["policy"] = canonical::b64(crypto::hash_raw(as_bytes(std::string_view(text).substr(top[7].begin, top[7].end - top[7].begin))));
  for (const auto& [index, prefix] : {std::pair{8, "members/"}, std::pair{9, "connectors/"}, std::pair{10, "secrets/"}}) {
    std::size_t section_end = 0;
    for (const auto& span : canonical::scan_object(text, top[index].begin, section_end, "t")) {
      manifest[prefix + span.key] =
        canonical::b64(crypto::hash_raw(as_bytes(std::string_view(text).substr(span.begin, span.end - span.begin))));
    }
  }
  std::string out = text.substr(0, top[5].begin);
  canonical::dump_pretty(Json(manifest), 1, out);
  const auto signature = crypto::sign("escrow/v1/head", as_bytes(out), signer.sign_sk);
  out += ",\n  \"head_sig\": ";
  canonical::dump_pretty(Json{{"by", signer.pub.name}, {"sig", canonical::b64(signature)}}, 1, out);
  out += text.substr(top[6].end);
  return out;
}

struct Team
{
  Identity alice = generate_identity("alice");
  Identity bob = generate_identity("bob");
  Vault vault = new_vault(alice);

  Team()
  {
    add_member(vault, alice, bob, {Role::approver, Role::requester}, {"dev", "prod"});
    add_secret(vault, alice, "dev/db", "dev-db-value");
    add_secret(vault, bob, "prod/api", "prod-api-value");
    vault = reparse(vault, alice);
  }
};

Identity golden_identity(const std::string& name)
{
  const auto path = escrow::test::golden_dir() / (name + ".id");
  return open_identity(canonical::parse(escrow::test::slurp(path), path.string()), nullptr, path.string());
}

} // namespace

TEST_CASE("vault: create, write, read back, and reveal", "[vault]")
{
  Team team;
  Vault& vault = team.vault;
  CHECK(vault.revision() == 2);
  CHECK(vault.members().size() == 2);
  CHECK(vault.genesis().name == "alice");
  CHECK(vault.genesis().has_role(Role::admin));
  CHECK(vault.secret_names() == std::vector<std::string>{"dev/db", "prod/api"});
  CHECK(vault.has_secret("dev/db"));
  CHECK_FALSE(vault.has_secret("dev/nope"));
  CHECK(vault.parents().size() == 1);
  CHECK(vault.head_signer() == "alice");
  CHECK(reveal(vault, team.alice, "dev/db") == "dev-db-value");
  CHECK(reveal(vault, team.bob, "prod/api") == "prod-api-value");
  CHECK_THAT(require_error(ErrorKind::access, [&] { (void)reveal(vault, team.bob, "dev/db"); }),
             Catch::Contains("bob has no access to dev/db"));
  CHECK_THAT(require_error(ErrorKind::usage, [&] { (void)vault.secret("dev/nope"); }), Catch::Contains("no secret named"));
  CHECK_NOTHROW(vault.verify_all());
  // No value in the file.
  CHECK(vault.text().find("dev-db-value") == std::string::npos);
  CHECK(vault.text().find("prod-api-value") == std::string::npos);
  // The head digest of one revision is the next one's parent.
  const std::string head = vault.head();
  Vault next = reparse(vault, team.alice);
  REQUIRE(next.parents().size() == 1);
  CHECK(next.parents()[0] == head);
  CHECK(next.revision() == vault.revision() + 1);
}

TEST_CASE("vault: an unchanged vault round-trips byte for byte except revision, parents and head", "[vault]")
{
  const std::string text = escrow::test::slurp(escrow::test::golden_dir() / "escrow.vault");
  Vault vault = Vault::parse(text, "golden");
  const std::string again = vault.serialize(golden_identity("alice"), vault.journal_head());
  // Line by line: only "revision", the parent hash and the head signature differ.
  std::vector<std::string> before;
  std::vector<std::string> after;
  for (auto [source, lines] : {std::pair{&text, &before}, std::pair{&again, &after}}) {
    std::istringstream stream(*source);
    for (std::string line; std::getline(stream, line);) {
      lines->push_back(line);
    }
  }
  REQUIRE(before.size() == after.size());
  std::vector<std::string> changed;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (before[i] != after[i]) {
      changed.push_back(before[i]);
    }
  }
  REQUIRE(changed.size() == 3);
  CHECK(changed[0] == "  \"revision\": 11,");
  CHECK(changed[1] == "    \"" + vault.parents()[0] + "\"");
  CHECK_THAT(changed[2], Catch::StartsWith("    \"sig\": \""));
  // Every record's bytes are identical, and dump_pretty(parse(record)) gives them back.
  for (const auto& section : {"members", "secrets"}) {
    std::size_t end = 0;
    const auto outer = span_of(text, 0, section);
    for (const auto& span : canonical::scan_object(text, outer.begin, end, "t")) {
      const std::string record = text.substr(span.begin, span.end - span.begin);
      CHECK(record_text(again, section, span.key) == record);
      std::string pretty;
      canonical::dump_pretty(canonical::parse(record, "r"), 2, pretty);
      CHECK(pretty == record);
    }
  }
  CHECK(Vault::parse(again, "again").revision() == vault.revision() + 1);
}

TEST_CASE("vault: only escrow's layout is read", "[vault]")
{
  Team team;
  const std::string text = team.vault.text();
  const auto layout_error = [&](const std::string& changed) {
    return require_error(ErrorKind::integrity, [&] { (void)Vault::parse(changed, "test.vault"); });
  };
  CHECK_THAT(layout_error(text + "\n"), Catch::Contains("not in escrow's layout"));
  CHECK_THAT(layout_error(text.substr(0, text.size() - 1)), Catch::Contains("not in escrow's layout"));
  CHECK_THAT(layout_error(replace_once(text, "\n  \"members\": {\n    \"alice\"", "\n  \"members\": {\n\t\"alice\"")),
             Catch::Contains("not in escrow's layout"));
  CHECK_THAT(layout_error(replace_once(text, "\"members\": {\n    \"alice\"", "\"members\": {\n    \"\\u0061lice\"")),
             Catch::Contains("not in escrow's layout"));
  CHECK_THAT(layout_error(replace_once(text, "  \"connectors\": {}", "  \"connectors\": { }")),
             Catch::Contains("not in escrow's layout"));
  CHECK_THAT(layout_error(" " + text), Catch::Contains("head signature"));
  // Sections are sorted: swapping two records is refused before any signature is checked.
  const std::string db = record_text(text, "secrets", "dev/db");
  const std::string api = record_text(text, "secrets", "prod/api");
  const std::string swapped = replace_once(text, "\"dev/db\": " + db + ",\n    \"prod/api\": " + api,
                                           "\"prod/api\": " + api + ",\n    \"dev/db\": " + db);
  CHECK_THAT(layout_error(swapped), Catch::Contains("not in sorted order"));
}

TEST_CASE("vault: a changed byte anywhere is caught, and says where", "[vault]")
{
  Team team;
  const std::string text = team.vault.text();
  const auto error = [&](const std::string& changed, bool full = true) {
    return require_error(ErrorKind::integrity, [&] {
      Vault vault = Vault::parse(changed, "test.vault");
      if (full) {
        vault.verify_all();
      }
    });
  };
  const VersionRecord& version = team.vault.secret("dev/db").versions[0];
  const std::string flipped_ct = version.ciphertext.substr(0, 4) + (version.ciphertext[4] == 'A' ? "B" : "A")
                                 + version.ciphertext.substr(5);
  CHECK(error(replace_once(text, version.ciphertext, flipped_ct))
        == "test.vault: secrets/dev/db: record does not match the signed manifest (modified outside escrow)");
  const std::string wrapped = version.wrapped.at("alice");
  CHECK_THAT(error(replace_once(text, wrapped, wrapped.substr(0, 10) + (wrapped[10] == 'x' ? "y" : "x") + wrapped.substr(11))),
             Catch::Contains("secrets/dev/db: record does not match the signed manifest"));
  const std::string bob_pk = canonical::b64(team.bob.pub.sign_pk);
  CHECK_THAT(error(replace_once(text, bob_pk, bob_pk.substr(0, 3) + (bob_pk[3] == 'x' ? "y" : "x") + bob_pk.substr(4)), false),
             Catch::Contains("members/bob: record does not match the signed manifest"));
  CHECK_THAT(error(replace_once(text, "\"owner\": \"bob\"", "\"owner\": \"ali\""), true),
             Catch::Contains("secrets/prod/api: record does not match the signed manifest"));
  CHECK_THAT(error(replace_once(text, "\"revision\": 2", "\"revision\": 9"), false),
             Catch::Contains("head signature does not verify"));
  CHECK_THAT(error(replace_once(text, "escrow-vault/1", "escrow-vault/2"), false),
             Catch::Contains("unsupported format \"escrow-vault/2\" (this escrow reads escrow-vault/1)"));
  CHECK_THAT(error(text.substr(0, text.size() / 2), false), Catch::Contains("truncated"));
  CHECK_THAT(error("", false), Catch::Contains("empty file"));
  CHECK_THAT(error("[]", false), Catch::Contains("not an escrow vault"));
  CHECK_THAT(error(replace_once(text, "\"purpose\": \"test\"", "\"purpose\": \"te\xFF\""), false),
             Catch::Contains("invalid UTF-8"));
  CHECK_THAT(error(replace_once(text, "\"connectors\": {}", "\"connectors\": {},\n  \"connectors\": {}"), false),
             Catch::Contains("duplicate key"));
  // The lazy reader finds a tampered secret on first use; verify_all finds it without use.
  Vault lazy = Vault::parse(replace_once(text, version.ciphertext, flipped_ct), "test.vault");
  CHECK_NOTHROW(lazy.secret("prod/api"));
  require_error(ErrorKind::integrity, [&] { (void)lazy.secret("dev/db"); });
}

TEST_CASE("vault: a member who re-signs the head still cannot change others' records", "[vault]")
{
  Team team;
  const std::string text = team.vault.text();
  // bob (a member, not an admin, not the owner of dev/db) edits alice's record and re-signs.
  const VersionRecord& version = team.vault.secret("dev/db").versions[0];
  const std::string flipped_ct = version.ciphertext.substr(0, 4) + (version.ciphertext[4] == 'A' ? "B" : "A")
                                 + version.ciphertext.substr(5);
  {
    Vault forged = Vault::parse(resign_head(replace_once(text, version.ciphertext, flipped_ct), team.bob), "test.vault");
    CHECK(require_error(ErrorKind::integrity, [&] { (void)forged.secret("dev/db"); })
          == "test.vault: secrets/dev/db#v1: signature by \"alice\" does not verify (tampered, or copied from another vault)");
  }
  {
    const std::string owner = replace_once(text, "\"owner\": \"alice\"", "\"owner\": \"bob\"");
    Vault forged = Vault::parse(resign_head(owner, team.bob), "test.vault");
    CHECK_THAT(require_error(ErrorKind::integrity, [&] { forged.verify_all(); }),
               Catch::Contains("secrets/dev/db: signature by \"alice\" does not verify"));
  }
  {
    // Giving himself admin.
    const std::string bob = record_text(text, "members", "bob");
    const std::string roles = replace_record(
      text, "members", "bob", replace_once(bob, "\"approver\",\n        \"requester\"", "\"admin\",\n        \"approver\""));
    CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)Vault::parse(resign_head(roles, team.bob), "test.vault"); }),
               Catch::Contains("members/bob: signature by \"alice\" does not verify"));
  }
  {
    // Signing a record as himself that only alice may sign.
    Vault copy = Vault::parse(text, "test.vault");
    SecretRecord& secret = copy.secret_mut("dev/db");
    secret.purpose = "mine now";
    copy.sign_meta(secret, team.bob);
    CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)copy.serialize(team.bob, ""); }),
               Catch::Contains("signed by \"bob\", who may not write this secret"));
  }
  {
    // A non-member's head signature.
    const Identity eve = generate_identity("alice");
    CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)Vault::parse(resign_head(text, eve), "test.vault"); }),
               Catch::Contains("head signature does not verify"));
  }
}

TEST_CASE("vault: a record copied in from another vault is refused", "[vault]")
{
  Team first;
  Team second; // another vault: alice again, but a different genesis, so a different vault id
  // Same identity in both vaults.
  Vault other = new_vault(first.alice);
  add_member(other, first.alice, first.bob, {Role::approver, Role::requester}, {"dev", "prod"});
  add_secret(other, first.alice, "dev/db", "other-vault-value");
  other = reparse(other, first.alice);
  REQUIRE(other.id_b64() != first.vault.id_b64());

  const std::string copied =
    replace_record(first.vault.text(), "secrets", "dev/db", record_text(other.text(), "secrets", "dev/db"));
  // Without the head re-signed: the manifest catches it.
  CHECK_THAT(require_error(ErrorKind::integrity, [&] { Vault::parse(copied, "test.vault").verify_all(); }),
             Catch::Contains("secrets/dev/db: record does not match the signed manifest"));
  // Even a member of both vaults who re-signs the head cannot: the record signs the vault id.
  Vault forged = Vault::parse(resign_head(copied, first.alice), "test.vault");
  CHECK(require_error(ErrorKind::integrity, [&] { (void)forged.secret("dev/db"); })
        == "test.vault: secrets/dev/db: signature by \"alice\" does not verify (tampered, or copied from another vault)");
  // A member record copied from another vault does not verify either.
  const std::string member = replace_record(first.vault.text(), "members", "bob", record_text(second.vault.text(), "members", "bob"));
  CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)Vault::parse(resign_head(member, first.alice), "test.vault"); }),
             Catch::Contains("members/bob"));
  // Nor does the genesis record (it derives the vault id).
  const std::string genesis =
    replace_record(first.vault.text(), "members", "alice", record_text(other.text(), "members", "alice"));
  CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)Vault::parse(resign_head(genesis, first.alice), "test.vault"); }),
             Catch::Contains("genesis record does not match the vault id"));
}

TEST_CASE("vault: the order of checks makes tampering, a wrong key and corruption three messages", "[vault]")
{
  Team team;
  // The owner signs a version whose ciphertext is corrupted: signatures pass, AEAD fails.
  {
    Vault copy = Vault::parse(team.vault.text(), "test.vault");
    SecretRecord& secret = copy.secret_mut("dev/db");
    std::string& ciphertext = secret.versions[0].ciphertext;
    ciphertext[2] = ciphertext[2] == 'A' ? 'B' : 'A';
    copy.sign(secret, secret.versions[0], team.alice);
    copy.sign_meta(secret, team.alice);
    Vault written = reparse(copy, team.alice);
    CHECK_NOTHROW(written.verify_all());
    CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)reveal(written, team.alice, "dev/db"); }),
               Catch::EndsWith("secrets/dev/db#v1: the ciphertext does not decrypt (corrupted)"));
  }
  // A wrapped key that is not sealed to its member: wrong key.
  {
    Vault copy = Vault::parse(team.vault.text(), "test.vault");
    SecretRecord& secret = copy.secret_mut("dev/db");
    secret.versions[0].wrapped["alice"] = canonical::b64(crypto::seal(Bytes(32, 1), team.bob.pub.box_pk));
    copy.sign(secret, secret.versions[0], team.alice);
    copy.sign_meta(secret, team.alice);
    Vault written = reparse(copy, team.alice);
    CHECK_THAT(require_error(ErrorKind::access, [&] { (void)reveal(written, team.alice, "dev/db"); }),
               Catch::Contains("does not open with this identity (wrong key)"));
  }
  // A key sealed to the member that is not the version's key: the commitment catches it.
  {
    Vault copy = Vault::parse(team.vault.text(), "test.vault");
    SecretRecord& secret = copy.secret_mut("dev/db");
    secret.versions[0].wrapped["alice"] = canonical::b64(crypto::seal(Bytes(32, 1), team.alice.pub.box_pk));
    copy.sign(secret, secret.versions[0], team.alice);
    copy.sign_meta(secret, team.alice);
    Vault written = reparse(copy, team.alice);
    CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)reveal(written, team.alice, "dev/db"); }),
               Catch::Contains("fails the key commitment"));
  }
  // A version moved to another secret: the AEAD's associated data names the secret.
  {
    Vault copy = Vault::parse(team.vault.text(), "test.vault");
    add_secret(copy, team.alice, "dev/other", "x");
    SecretRecord& other = copy.secret_mut("dev/other");
    other.versions[0] = copy.secret("dev/db").versions[0];
    copy.sign(other, other.versions[0], team.alice);
    copy.sign_meta(other, team.alice);
    Vault written = reparse(copy, team.alice);
    CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)reveal(written, team.alice, "dev/other"); }),
               Catch::Contains("does not decrypt"));
  }
}

TEST_CASE("vault: names with NUL, '..' or empty segments are refused by the reader", "[vault]")
{
  for (const std::string& name : {std::string("dev/a\0b", 7), std::string("dev/../x"), std::string("dev/a//b"),
                                  std::string("dev/."), std::string("Dev/x")}) {
    INFO(name);
    Team team;
    SecretRecord secret = team.vault.secret("dev/db");
    const auto slash = name.find('/');
    secret.env = name.substr(0, slash);
    secret.name = name.substr(slash + 1);
    secret.versions.clear();
    team.vault.sign_meta(secret, team.alice);
    team.vault.put_secret(std::move(secret));
    std::string text;
    try {
      text = team.vault.serialize(team.alice, "");
    } catch (const Error& error) {
      CHECK(error.kind() == ErrorKind::integrity); // refused before writing is fine too
      continue;
    }
    const std::string message = require_error(ErrorKind::integrity, [&] { (void)Vault::parse(text, "test.vault"); });
    CHECK((message.find("invalid name") != std::string::npos || message.find("NUL") != std::string::npos));
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("vault: malformed mutations of a real vault are clean integrity errors", "[vault][mutation]")
{
  const std::string original = escrow::test::slurp(escrow::test::golden_dir() / "escrow.vault");
  REQUIRE_NOTHROW(Vault::parse(original, "golden").verify_all());
  std::mt19937_64 random(20260115); // fixed: the same mutations every run
  const auto pick = [&](std::size_t bound) { return static_cast<std::size_t>(random() % bound); };
  std::map<std::string, int> outcomes;
  constexpr int k_mutations = 3000;
  for (int i = 0; i < k_mutations; ++i) {
    std::string text = original;
    const std::size_t at = pick(text.size());
    std::string kind;
    switch (i % 6) {
    case 0: // flip one bit
      text[at] = static_cast<char>(text[at] ^ (1 << pick(8)));
      kind = "flip";
      break;
    case 1: // truncate
      text.resize(at);
      kind = "truncate";
      break;
    case 2: { // duplicate a run of bytes
      const std::size_t length = 1 + pick(std::min<std::size_t>(64, text.size() - at));
      text.insert(at, text.substr(at, length));
      kind = "duplicate";
      break;
    }
    case 3: { // delete a run of bytes
      const std::size_t length = 1 + pick(std::min<std::size_t>(64, text.size() - at));
      text.erase(at, length);
      kind = "delete";
      break;
    }
    case 4: // a random byte
      text[at] = static_cast<char>(pick(256));
      kind = "byte";
      break;
    case 5: { // swap two bytes
      std::swap(text[at], text[pick(text.size())]);
      kind = "swap";
      break;
    }
    }
    std::optional<Error> error;
    try {
      Vault vault = Vault::parse(text, "golden");
      vault.verify_all();
    } catch (const Error& caught) {
      error = caught;
    } catch (const std::exception& other) {
      FAIL("mutation " << i << " (" << kind << " at " << at << "): not an escrow::Error: " << other.what());
    }
    if (!error) {
      // Only a mutation that changed nothing may succeed.
      INFO("mutation " << i << " (" << kind << " at " << at << ") was accepted");
      CHECK(text == original);
      ++outcomes["unchanged"];
      continue;
    }
    INFO("mutation " << i << " (" << kind << " at " << at << "): " << error->what());
    CHECK(error->kind() == ErrorKind::integrity);
    CHECK(std::string(error->what()).rfind("golden: ", 0) == 0);
    CHECK(std::string(error->what()).find('\n') == std::string::npos);
    ++outcomes[kind];
  }
  int total = 0;
  for (const auto& [kind, count] : outcomes) {
    total += count;
  }
  CHECK(total == k_mutations);
}
