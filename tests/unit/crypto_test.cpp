// crypto: the libsodium wrapper. Known answers for the hashes, label separation for signatures,
// failure paths that return "no" instead of throwing, and the C2SP/CCTV Ed25519 edge cases
// pinned in tests/vectors/ed25519_expected.json (tests/vectors/ed25519_generate.py).
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/crypto.hpp>
#include <escrow/seal_into.hpp>

#include <nlohmann/json.hpp>

#include <set>

using namespace escrow;
using escrow::test::require_error;

namespace {

Bytes unhex(std::string_view hex)
{
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string hex_of(ByteView bytes)
{
  return canonical::hex(bytes);
}

} // namespace

TEST_CASE("crypto: BLAKE2b known answers and labels", "[crypto]")
{
  CHECK(hex_of(crypto::hash_raw({})) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  CHECK(hex_of(crypto::hash_raw(as_bytes("abc"))) == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  // hash(label, data) = BLAKE2b-256(label || 0x00 || data)
  CHECK(hex_of(crypto::hash("escrow/v1/test", as_bytes("abc")))
        == "a019d467ef2ef4be5302f56805bd9dad2a1dd205b500400ac11dcade1a538983");
  CHECK(hex_of(crypto::hash16("escrow/v1/test", as_bytes("abc"))) == "a002ca123406a5d19cb7d168b5f4d67f");
  Bytes key(32);
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<std::uint8_t>(i);
  }
  CHECK(hex_of(crypto::keyed_hash(key, "escrow/v1/dk-commit"))
        == "19ee0f99c5b42285453bbab1df74711fee996ef239480992193777aaafd6691f");
  CHECK(crypto::hash("escrow/v1/a", as_bytes("x")) != crypto::hash("escrow/v1/b", as_bytes("x")));
  // The label separator makes ("ab", "c") and ("a", "bc") different.
  CHECK(crypto::hash("ab", as_bytes("c")) != crypto::hash("a", as_bytes("bc")));

  crypto::Hasher hasher;
  hasher.update(as_bytes("a"));
  hasher.update(as_bytes("bc"));
  CHECK(hasher.finish() == crypto::hash_raw(as_bytes("abc")));
}

TEST_CASE("crypto: signatures are bound to their label, message and key", "[crypto]")
{
  const auto alice = crypto::sign_keypair();
  const auto bob = crypto::sign_keypair();
  const Bytes message = {1, 2, 3};
  const auto sig = crypto::sign("escrow/v1/record", message, alice.secret_key);
  CHECK(crypto::verify("escrow/v1/record", message, sig, alice.public_key));
  CHECK_FALSE(crypto::verify("escrow/v1/head", message, sig, alice.public_key));
  CHECK_FALSE(crypto::verify("escrow/v1/record", Bytes{1, 2, 4}, sig, alice.public_key));
  CHECK_FALSE(crypto::verify("escrow/v1/record", message, sig, bob.public_key));
  auto flipped = sig;
  flipped[10] ^= 1;
  CHECK_FALSE(crypto::verify("escrow/v1/record", message, flipped, alice.public_key));
  // Wrong sizes are a "no", never a crash.
  CHECK_FALSE(crypto::verify("escrow/v1/record", message, ByteView(sig.data(), 63), alice.public_key));
  CHECK_FALSE(crypto::verify("escrow/v1/record", message, sig, ByteView(alice.public_key.data(), 31)));
  CHECK_FALSE(crypto::verify_raw(message, ByteView(), alice.public_key));
  // A labelled signature is not a raw Ed25519 signature of the message.
  CHECK_FALSE(crypto::verify_raw(message, sig, alice.public_key));
  CHECK(crypto::sign_public_from_secret(alice.secret_key) == alice.public_key);
  require_error(ErrorKind::failed, [&] { (void)crypto::sign("x", message, SecretBytes(32)); });
}

TEST_CASE("crypto: RFC 8032 test 1 verifies raw", "[crypto][vectors]")
{
  const Bytes pk = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const Bytes sig = unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  CHECK(crypto::verify_raw({}, sig, pk));
  CHECK_FALSE(crypto::verify_raw(as_bytes("x"), sig, pk));
}

TEST_CASE("crypto: libsodium's verdict on every C2SP/CCTV Ed25519 edge case is pinned", "[crypto][vectors]")
{
  const auto vectors =
    nlohmann::json::parse(escrow::test::slurp(escrow::test::source_path("tests/vectors/cctv-ed25519/ed25519vectors.json")));
  const auto expected = canonical::parse(escrow::test::slurp(escrow::test::source_path("tests/vectors/ed25519_expected.json")),
                                         "ed25519_expected.json");
  REQUIRE(vectors.size() == 914);
  REQUIRE(expected["count"].get<std::size_t>() == vectors.size());
  std::set<std::int64_t> accept;
  std::set<std::int64_t> reject;
  for (const auto& n : expected["accept"]) {
    accept.insert(n.get<std::int64_t>());
  }
  for (const auto& n : expected["reject"]) {
    reject.insert(n.get<std::int64_t>());
  }
  REQUIRE(accept.size() + reject.size() == vectors.size());

  // The README's flags: libsodium rejects low-order A or R, non-canonical encodings and (being
  // cofactorless) a low-order residue; it accepts the other mixed-order cases.
  const std::set<std::string> rejected_flags = {"low_order_A", "low_order_R", "non_canonical_A", "non_canonical_R",
                                                "low_order_residue"};
  std::size_t accepted = 0;
  for (const auto& vector : vectors) {
    const std::int64_t number = vector["number"].get<std::int64_t>();
    INFO("vector " << number);
    const Bytes key = unhex(vector["key"].get<std::string>());
    const Bytes sig = unhex(vector["sig"].get<std::string>());
    const std::string msg = vector["msg"].get<std::string>();
    const bool ok = crypto::verify_raw(as_bytes(msg), sig, key);
    CHECK(ok == (accept.count(number) > 0));
    CHECK(ok != (reject.count(number) > 0));
    bool flagged = false;
    if (vector.contains("flags") && vector["flags"].is_array()) {
      for (const auto& flag : vector["flags"]) {
        flagged = flagged || rejected_flags.count(flag.get<std::string>()) > 0;
      }
    }
    CHECK(ok == !flagged);
    accepted += ok ? 1 : 0;
  }
  CHECK(accepted == 43);
}

TEST_CASE("crypto: sealed boxes open only for their recipient", "[crypto]")
{
  const auto bob = crypto::box_keypair();
  const auto eve = crypto::box_keypair();
  const Bytes plain = {9, 8, 7, 6};
  const Bytes sealed = crypto::seal(plain, bob.public_key);
  CHECK(sealed.size() == plain.size() + crypto::k_seal_overhead);
  const auto opened = crypto::seal_open(sealed, bob.public_key, bob.secret_key);
  REQUIRE(opened.has_value());
  CHECK(Bytes(opened->expose().begin(), opened->expose().end()) == plain);
  CHECK_FALSE(crypto::seal_open(sealed, eve.public_key, eve.secret_key).has_value());
  Bytes tampered = sealed;
  tampered.back() ^= 0x80;
  CHECK_FALSE(crypto::seal_open(tampered, bob.public_key, bob.secret_key).has_value());
  CHECK_FALSE(crypto::seal_open(ByteView(sealed.data(), 47), bob.public_key, bob.secret_key).has_value());
  CHECK_FALSE(crypto::seal_open(sealed, bob.public_key, SecretBytes(31)).has_value());
  CHECK(crypto::box_public_from_secret(bob.secret_key) == bob.public_key);
  require_error(ErrorKind::failed, [&] { (void)crypto::seal(plain, ByteView(bob.public_key.data(), 16)); });
}

TEST_CASE("crypto: a sealed box opened into a reused buffer", "[crypto]")
{
  const auto bob = crypto::box_keypair();
  const auto eve = crypto::box_keypair();
  const Bytes first = {1, 2, 3, 4};
  const Bytes second = {5, 6, 7, 8};
  SecretBytes out(4);
  const auto held = [&out] { return Bytes(out.expose().begin(), out.expose().end()); };
  REQUIRE(crypto::seal_open_into(crypto::seal(first, bob.public_key), bob.public_key, bob.secret_key, out));
  CHECK(held() == first);
  REQUIRE(crypto::seal_open_into(crypto::seal(second, bob.public_key), bob.public_key, bob.secret_key, out));
  CHECK(held() == second);
  const Bytes zero(4, 0);
  // Each refusal wipes the buffer: nothing of the previous key is left in it.
  const Bytes sealed = crypto::seal(first, bob.public_key);
  CHECK_FALSE(crypto::seal_open_into(sealed, eve.public_key, eve.secret_key, out));
  CHECK(held() == zero);
  REQUIRE(crypto::seal_open_into(sealed, bob.public_key, bob.secret_key, out));
  Bytes tampered = sealed;
  tampered.back() ^= 0x80;
  CHECK_FALSE(crypto::seal_open_into(tampered, bob.public_key, bob.secret_key, out));
  CHECK(held() == zero);
  // A box of another size than the buffer is refused without opening it.
  SecretBytes wider(5);
  CHECK_FALSE(crypto::seal_open_into(sealed, bob.public_key, bob.secret_key, wider));
  CHECK_FALSE(crypto::seal_open_into(sealed, bob.public_key, SecretBytes(31), out));
}

TEST_CASE("crypto: AEAD binds the associated data and detects any change", "[crypto]")
{
  const SecretBytes key = crypto::random_secret(crypto::k_key_size);
  const Bytes ad = {'a', 'd'};
  const auto sealed = crypto::aead_encrypt(as_bytes("value"), ad, key);
  CHECK(sealed.nonce.size() == crypto::k_nonce_size);
  CHECK(sealed.ciphertext.size() == 5 + crypto::k_tag_size);
  const auto opened = crypto::aead_decrypt(sealed.nonce, sealed.ciphertext, ad, key);
  REQUIRE(opened.has_value());
  CHECK(opened->expose_view() == "value");
  CHECK_FALSE(crypto::aead_decrypt(sealed.nonce, sealed.ciphertext, Bytes{'a', 'e'}, key).has_value());
  for (std::size_t i = 0; i < sealed.ciphertext.size(); ++i) {
    Bytes flipped = sealed.ciphertext;
    flipped[i] ^= 1;
    CHECK_FALSE(crypto::aead_decrypt(sealed.nonce, flipped, ad, key).has_value());
  }
  Bytes nonce = sealed.nonce;
  nonce[0] ^= 1;
  CHECK_FALSE(crypto::aead_decrypt(nonce, sealed.ciphertext, ad, key).has_value());
  CHECK_FALSE(crypto::aead_decrypt(ByteView(nonce.data(), 12), sealed.ciphertext, ad, key).has_value());
  CHECK_FALSE(crypto::aead_decrypt(sealed.nonce, ByteView(sealed.ciphertext.data(), 15), ad, key).has_value());
  CHECK_FALSE(crypto::aead_decrypt(sealed.nonce, sealed.ciphertext, ad, crypto::random_secret(32)).has_value());
  CHECK(crypto::aead_encrypt(as_bytes("value"), ad, key).nonce != sealed.nonce); // fresh nonces
  require_error(ErrorKind::failed, [&] { (void)crypto::aead_encrypt(as_bytes("v"), ad, SecretBytes(16)); });
}

TEST_CASE("crypto: Argon2id derivation is deterministic and checks its limits", "[crypto]")
{
  const auto limits = crypto::kdf_limits(crypto::KdfStrength::fast);
  const Bytes salt(crypto::k_salt_size, 7);
  const SecretBytes a = crypto::derive_key(SecretBytes::from("correct horse"), salt, limits);
  const SecretBytes b = crypto::derive_key(SecretBytes::from("correct horse"), salt, limits);
  const SecretBytes c = crypto::derive_key(SecretBytes::from("correct horsf"), salt, limits);
  const SecretBytes d = crypto::derive_key(SecretBytes::from("correct horse"), Bytes(crypto::k_salt_size, 8), limits);
  CHECK(a.size() == crypto::k_key_size);
  CHECK(a.equals(b));
  CHECK_FALSE(a.equals(c));
  CHECK_FALSE(a.equals(d));
  CHECK_NOTHROW(crypto::derive_key(SecretBytes(), salt, limits));
  require_error(ErrorKind::integrity, [&] { (void)crypto::derive_key(SecretBytes::from("x"), Bytes(8), limits); });
  require_error(ErrorKind::integrity, [&] { (void)crypto::derive_key(SecretBytes::from("x"), salt, {0, limits.memlimit}); });
  require_error(ErrorKind::integrity, [&] { (void)crypto::derive_key(SecretBytes::from("x"), salt, {limits.opslimit, 1}); });
  const auto interactive = crypto::kdf_limits(crypto::KdfStrength::interactive);
  const auto moderate = crypto::kdf_limits(crypto::KdfStrength::moderate);
  const auto sensitive = crypto::kdf_limits(crypto::KdfStrength::sensitive);
  CHECK(limits.memlimit < interactive.memlimit);
  CHECK(interactive.memlimit < moderate.memlimit);
  CHECK(moderate.memlimit < sensitive.memlimit);
  CHECK(interactive.memlimit == 64u << 20);
}

TEST_CASE("crypto: random helpers and comparisons", "[crypto]")
{
  CHECK(crypto::random_bytes(0).empty());
  CHECK(crypto::random_bytes(33).size() == 33);
  CHECK(crypto::random_bytes(32) != crypto::random_bytes(32));
  for (int i = 0; i < 1000; ++i) {
    CHECK(crypto::random_uniform(3) < 3);
  }
  CHECK(crypto::equal({}, {}));
  CHECK(crypto::equal(as_bytes("abc"), as_bytes("abc")));
  CHECK_FALSE(crypto::equal(as_bytes("abc"), as_bytes("abd")));
  CHECK_FALSE(crypto::equal(as_bytes("abc"), as_bytes("ab")));
  std::string scratch = "secret";
  crypto::wipe(scratch.data(), scratch.size());
  CHECK(scratch == std::string(6, '\0'));
  crypto::wipe(nullptr, 0);
}
