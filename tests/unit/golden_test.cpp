// The golden files of format escrow-vault/1 (tests/data/escrow-vault-1, written once by
// tests/data/generate.sh and kept forever): the v1 library must open them, verify every signature
// and hash, read their journal, and reveal the known values exactly. The CLI refuses them
// (tests/cli/golden_v2_test.cpp: "golden escrow-vault/1: refused with exit 3, one line, nothing written").
#include "../cli/fixture.hpp"
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/journal.hpp>
#include <escrow/vault.hpp>
#include <escrow/versions.hpp>

using namespace escrow;
namespace fs = std::filesystem;

namespace {

Identity golden(const std::string& name, const SecretBytes* passphrase = nullptr)
{
  const auto path = escrow::test::golden_dir() / (name + ".id");
  return open_identity(canonical::parse(escrow::test::slurp(path), path.string()), passphrase, path.string());
}

std::string reveal(const Vault& vault, const Identity& who, const std::string& name)
{
  const SecretRecord& secret = vault.secret(name);
  const OpenedKey key = open_data_key(vault, secret, *secret.current(), who, 1770000000);
  return std::string(decrypt_version(vault, secret, *secret.current(), key.data_key).expose_view());
}

} // namespace

TEST_CASE("golden escrow-vault/1: the library opens, verifies and decrypts it", "[golden]")
{
  const std::string text = escrow::test::slurp(escrow::test::golden_dir() / "escrow.vault");
  const Vault vault = Vault::parse(text, "golden escrow.vault");
  vault.verify_all();
  CHECK(vault.id_b64() == "vZBCrRIMEN0YDv+ZKuTZog==");
  CHECK(vault.revision() == 11);
  CHECK(vault.genesis().name == "alice");
  CHECK(vault.members().size() == 4);
  CHECK_FALSE(vault.member("dave")->active());
  CHECK(vault.secret_names() == std::vector<std::string>{"dev/multi/line", "dev/token", "prod/db", "staging/api-key"});
  CHECK(vault.secret("prod/db").threshold == 2);
  CHECK(vault.secret("prod/db").every == 30 * 86400);
  CHECK(vault.secret("dev/token").due == "member dave removed");

  const Identity alice = golden("alice");
  const Identity bob = golden("bob");
  CHECK(reveal(vault, alice, "prod/db") == "golden-prod-db-password");
  CHECK(reveal(vault, bob, "prod/db") == "golden-prod-db-password");
  CHECK(reveal(vault, bob, "staging/api-key") == "golden-staging-api-key");
  CHECK(reveal(vault, alice, "dev/multi/line") == "line one\nline two\n");
  CHECK(reveal(vault, alice, "dev/token") == "golden-dev-token");
  escrow::test::require_error(ErrorKind::access, [&] { (void)reveal(vault, golden("dave"), "dev/token"); });

  const SecretBytes passphrase = SecretBytes::from("golden passphrase");
  CHECK(golden("carol", &passphrase).pub.fingerprint() == vault.member("carol")->fingerprint());
  const SecretBytes wrong = SecretBytes::from("golden passphrasE");
  escrow::test::require_error(ErrorKind::access, [&] { (void)golden("carol", &wrong); });

  // Every journal entry parses strictly, hashes to its "hash", is signed by its actor and
  // links to the previous one; the vault is anchored to the last.
  const std::vector<JournalEntry> entries = Journal(escrow::test::golden_dir() / "escrow.journal").read_all();
  REQUIRE(entries.size() == 11);
  std::string previous;
  for (const auto& entry : entries) {
    CHECK(journal_entry_hash(entry) == entry.hash);
    const Bytes digest = canonical::unb64(entry.hash, "hash");
    CHECK(crypto::verify("escrow/v1/journal", digest, canonical::unb64(entry.sig, "sig"), vault.member(entry.actor)->sign_pk));
    CHECK(entry.parents == (previous.empty() ? std::vector<std::string>{} : std::vector<std::string>{previous}));
    CHECK(entry.vault == vault.id_b64());
    previous = entry.hash;
  }
  CHECK(vault.journal_head() == previous);
  // Each journal line is the canonical compact form of its entry.
  std::istringstream lines(escrow::test::slurp(escrow::test::golden_dir() / "escrow.journal"));
  for (std::string line; std::getline(lines, line);) {
    CHECK(canonical::dump(canonical::parse(line, "line")) == line);
  }
  // Identity and public identity files are in the canonical pretty layout.
  for (const char* name : {"alice.id", "carol.id", "alice.pub", "dave.pub"}) {
    const std::string file = escrow::test::slurp(escrow::test::golden_dir() / name);
    CHECK(canonical::dump_pretty(canonical::parse(file, name)) + "\n" == file);
  }
}
