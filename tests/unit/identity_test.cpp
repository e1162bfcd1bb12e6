// identity: the private file (encrypted or clear), the public identity, names, fingerprints,
// and the difference between a wrong passphrase (access) and a modified file (integrity).
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/identity.hpp>

#include <algorithm>
#include <cctype>

using namespace escrow;
using escrow::test::require_error;
using escrow::canonical::Json;

namespace {

const crypto::KdfLimits k_fast = crypto::kdf_limits(crypto::KdfStrength::fast);

Json parsed(const std::string& text)
{
  return canonical::parse(text, "id.json");
}

std::string with_field(const std::string& text, const std::string& key, const Json& value)
{
  Json json = parsed(text);
  json[key] = value;
  return canonical::dump_pretty(json) + "\n";
}

std::string flip_b64(const std::string& b64, std::size_t at)
{
  std::string out = b64;
  out[at] = out[at] == 'A' ? 'B' : 'A';
  return out;
}

} // namespace

TEST_CASE("identity: generate, serialize and open, with and without a passphrase", "[identity]")
{
  const Identity alice = generate_identity("alice");
  CHECK(alice.pub.name == "alice");
  CHECK(alice.sign_sk.size() == crypto::k_sign_secret_size);
  CHECK(alice.box_sk.size() == crypto::k_box_secret_size);

  const std::string clear = serialize_identity(alice, Protection::none, nullptr, k_fast);
  CHECK_FALSE(identity_needs_passphrase(parsed(clear)));
  const Identity opened = open_identity(parsed(clear), nullptr, "id.json");
  CHECK(opened.pub.sign_pk == alice.pub.sign_pk);
  CHECK(opened.box_sk.equals(alice.box_sk));
  CHECK(opened.sign_sk.equals(alice.sign_sk));

  const SecretBytes passphrase = SecretBytes::from("correct horse battery staple");
  const std::string locked = serialize_identity(alice, Protection::passphrase, &passphrase, k_fast);
  CHECK(identity_needs_passphrase(parsed(locked)));
  CHECK(locked.find("\"secret\"") == std::string::npos);
  const Identity unlocked = open_identity(parsed(locked), &passphrase, "id.json");
  CHECK(unlocked.sign_sk.equals(alice.sign_sk));
  // The stored limits are the ones used.
  CHECK(parsed(locked)["kdf"]["opslimit"].get<std::uint64_t>() == k_fast.opslimit);
  CHECK(parsed(locked)["kdf"]["memlimit"].get<std::uint64_t>() == k_fast.memlimit);
  // Files are written in the canonical pretty layout with a final newline.
  CHECK(canonical::dump_pretty(parsed(locked)) + "\n" == locked);
  CHECK(canonical::dump_pretty(parsed(clear)) + "\n" == clear);
  require_error(ErrorKind::usage, [&] { (void)serialize_identity(alice, Protection::passphrase, nullptr, k_fast); });
}

TEST_CASE("identity: wrong passphrase is access (4), a modified file is integrity (3)", "[identity]")
{
  const Identity alice = generate_identity("alice");
  const SecretBytes passphrase = SecretBytes::from("right");
  const std::string locked = serialize_identity(alice, Protection::passphrase, &passphrase, k_fast);
  const SecretBytes wrong = SecretBytes::from("wrong");

  CHECK(require_error(ErrorKind::access, [&] { (void)open_identity(parsed(locked), &wrong, "id.json"); })
        == "id.json: wrong passphrase");
  CHECK_THAT(require_error(ErrorKind::access, [&] { (void)open_identity(parsed(locked), nullptr, "id.json"); }),
             Catch::Contains("passphrase is required"));

  const Json json = parsed(locked);
  const std::string ciphertext = json["ciphertext"].get<std::string>();
  CHECK_THAT(require_error(ErrorKind::integrity,
                           [&] {
                             (void)open_identity(parsed(with_field(locked, "ciphertext", flip_b64(ciphertext, 5))),
                                                 &passphrase, "id.json");
                           }),
             Catch::Contains("file modified"));
  // The public keys are the AEAD's associated data: swapping them is caught too.
  const Identity mallory = generate_identity("alice");
  CHECK_THAT(require_error(ErrorKind::integrity,
                           [&] {
                             (void)open_identity(parsed(with_field(locked, "sign_pk", canonical::b64(mallory.pub.sign_pk))),
                                                 &passphrase, "id.json");
                           }),
             Catch::Contains("file modified"));
  CHECK_THAT(require_error(ErrorKind::integrity,
                           [&] { (void)open_identity(parsed(with_field(locked, "name", "bob")), &passphrase, "id.json"); }),
             Catch::Contains("file modified"));
  CHECK_THAT(require_error(ErrorKind::integrity,
                           [&] {
                             (void)open_identity(parsed(with_field(locked, "nonce", "AAAA")), &passphrase, "id.json");
                           }),
             Catch::Contains("file modified"));
  // Raised limits make the reader refuse instead of running for minutes.
  Json huge = json;
  huge["kdf"]["opslimit"] = 1000000;
  CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)open_identity(huge, &passphrase, "id.json"); }),
             Catch::Contains("limits are out of range"));
  huge = json;
  huge["kdf"]["memlimit"] = std::int64_t{1} << 40;
  require_error(ErrorKind::integrity, [&] { (void)open_identity(huge, &passphrase, "id.json"); });
  Json no_check = json;
  no_check["kdf"].erase("check");
  CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)open_identity(no_check, &passphrase, "id.json"); }),
             Catch::Contains("\"check\""));
  Json other_alg = json;
  other_alg["kdf"]["alg"] = "scrypt";
  require_error(ErrorKind::integrity, [&] { (void)open_identity(other_alg, &passphrase, "id.json"); });
}

TEST_CASE("identity: clear identities are checked for consistency and strictness", "[identity]")
{
  const Identity alice = generate_identity("alice");
  const std::string clear = serialize_identity(alice, Protection::none, nullptr, k_fast);
  const Identity bob = generate_identity("bob");
  CHECK_THAT(require_error(ErrorKind::integrity,
                           [&] {
                             (void)open_identity(parsed(with_field(clear, "sign_pk", canonical::b64(bob.pub.sign_pk))),
                                                 nullptr, "id.json");
                           }),
             Catch::Contains("do not match the public keys"));
  CHECK_THAT(require_error(ErrorKind::integrity,
                           [&] { (void)open_identity(parsed(with_field(clear, "secret", "AAAA")), nullptr, "id.json"); }),
             Catch::Contains("wrong length"));
  CHECK_THAT(require_error(ErrorKind::integrity,
                           [&] { (void)open_identity(parsed(with_field(clear, "extra", 1)), nullptr, "id.json"); }),
             Catch::Contains("unexpected field \"extra\""));
  CHECK_THAT(require_error(ErrorKind::integrity,
                           [&] { (void)open_identity(parsed(with_field(clear, "format", "escrow-identity/2")), nullptr, "id.json"); }),
             Catch::Contains("unknown format"));
  CHECK_THAT(require_error(ErrorKind::integrity,
                           [&] { (void)open_identity(parsed(with_field(clear, "sign_pk", "AAAA")), nullptr, "id.json"); }),
             Catch::Contains("wrong length"));
  require_error(ErrorKind::integrity, [&] { (void)open_identity(Json::array(), nullptr, "id.json"); });
  // A public identity holds no private keys.
  const Json pub = alice.pub.to_json();
  CHECK_THAT(require_error(ErrorKind::access, [&] { (void)open_identity(pub, nullptr, "alice.pub"); }),
             Catch::Contains("public identity"));
}

TEST_CASE("identity: public identity and fingerprint", "[identity]")
{
  const Identity alice = generate_identity("alice");
  const Json pub = alice.pub.to_json();
  CHECK(pub["format"] == "escrow-public-identity/1");
  CHECK(pub.size() == 4);
  const PublicIdentity back = PublicIdentity::from_json(pub, "alice.pub");
  CHECK(back.name == "alice");
  CHECK(back.sign_pk == alice.pub.sign_pk);
  CHECK(back.box_pk == alice.pub.box_pk);
  const std::string fingerprint = alice.pub.fingerprint();
  CHECK(fingerprint.size() == 39); // 8 groups of 4 hex digits
  for (std::size_t i = 0; i < fingerprint.size(); ++i) {
    CHECK((i % 5 == 4 ? fingerprint[i] == ' ' : std::isxdigit(static_cast<unsigned char>(fingerprint[i])) != 0));
  }
  // BLAKE2b-256(sign_pk || box_pk), first 16 bytes.
  Bytes both(alice.pub.sign_pk.begin(), alice.pub.sign_pk.end());
  both.insert(both.end(), alice.pub.box_pk.begin(), alice.pub.box_pk.end());
  std::string digits = fingerprint;
  digits.erase(std::remove(digits.begin(), digits.end(), ' '), digits.end());
  CHECK(digits == canonical::hex(ByteView(crypto::hash_raw(both).data(), 16)));

  Json bad = pub;
  bad["name"] = "bad name";
  CHECK_THAT(require_error(ErrorKind::integrity, [&] { (void)PublicIdentity::from_json(bad, "x.pub"); }),
             Catch::Contains("invalid member name"));
  bad = pub;
  bad["format"] = "something/1";
  require_error(ErrorKind::integrity, [&] { (void)PublicIdentity::from_json(bad, "x.pub"); });
  bad = pub;
  bad.erase("box_pk");
  require_error(ErrorKind::integrity, [&] { (void)PublicIdentity::from_json(bad, "x.pub"); });
  require_error(ErrorKind::integrity, [&] { (void)PublicIdentity::from_json(Json("x"), "x.pub"); });
}

TEST_CASE("identity: member names", "[identity]")
{
  for (const char* good : {"a", "alice", "Bob.Smith", "ci-rotator_2", "0day"}) {
    CHECK(valid_member_name(good));
  }
  CHECK(valid_member_name(std::string(64, 'a')));
  CHECK_FALSE(valid_member_name(std::string(65, 'a')));
  for (const char* bad : {"", "-alice", ".alice", "_x", "al ice", "al/ice", "al\xC3\xA9", "a\n"}) {
    CHECK_FALSE(valid_member_name(bad));
  }
  CHECK_FALSE(valid_member_name(std::string("a\0b", 3)));
  require_error(ErrorKind::usage, [] { (void)generate_identity("not valid"); });
}

TEST_CASE("identity: default path", "[identity]")
{
  CHECK(default_identity_path("/x/id.json", "/cfg", "/home/u") == "/x/id.json");
  CHECK(default_identity_path("", "/cfg", "/home/u") == "/cfg/escrow/identity.json");
  CHECK(default_identity_path("", "", "/home/u") == "/home/u/.config/escrow/identity.json");
}
