#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/seal_into.hpp>

#include <sodium.h>

#include <cstring>

namespace escrow::crypto {

static_assert(crypto_sign_PUBLICKEYBYTES == k_sign_public_size);
static_assert(crypto_sign_SECRETKEYBYTES == k_sign_secret_size);
static_assert(crypto_sign_BYTES == k_signature_size);
static_assert(crypto_box_PUBLICKEYBYTES == k_box_public_size);
static_assert(crypto_box_SECRETKEYBYTES == k_box_secret_size);
static_assert(crypto_box_SEALBYTES == k_seal_overhead);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == k_key_size);
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == k_nonce_size);
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == k_tag_size);
static_assert(crypto_pwhash_SALTBYTES == k_salt_size);
static_assert(sizeof(crypto_generichash_state) <= 384);

namespace {

// label || 0x00 || message, hashed first so that signing cost does not grow with the
// message and no message can be confused with another label's.
Hash signing_digest(std::string_view label, ByteView message)
{
  return hash(label, message);
}

} // namespace

void init()
{
  if (sodium_init() < 0) {
    throw Error(ErrorKind::failed, "libsodium could not be initialised");
  }
}

Bytes random_bytes(std::size_t size)
{
  Bytes out(size);
  if (size > 0) {
    randombytes_buf(out.data(), size);
  }
  return out;
}

SecretBytes random_secret(std::size_t size)
{
  SecretBytes out(size);
  if (size > 0) {
    randombytes_buf(out.expose_mut().data(), size);
  }
  return out;
}

std::uint32_t random_uniform(std::uint32_t upper_bound)
{
  return randombytes_uniform(upper_bound);
}

Hasher::Hasher()
{
  crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(m_state), nullptr, 0, 32);
}

Hasher::~Hasher()
{
  sodium_memzero(m_state, sizeof(m_state));
}

void Hasher::update(ByteView data)
{
  crypto_generichash_update(
    reinterpret_cast<crypto_generichash_state*>(m_state), data.data(), data.size());
}

Hash Hasher::finish()
{
  Hash out{};
  crypto_generichash_final(
    reinterpret_cast<crypto_generichash_state*>(m_state), out.data(), out.size());
  return out;
}

Hash hash(std::string_view label, ByteView data)
{
  Hasher hasher;
  hasher.update(as_bytes(label));
  const std::uint8_t zero = 0;
  hasher.update({&zero, 1});
  hasher.update(data);
  return hasher.finish();
}

Hash hash_raw(ByteView data)
{
  Hash out{};
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr, 0);
  return out;
}

std::array<std::uint8_t, 16> hash16(std::string_view label, ByteView data)
{
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, 16);
  crypto_generichash_update(&state, reinterpret_cast<const std::uint8_t*>(label.data()), label.size());
  const std::uint8_t zero = 0;
  crypto_generichash_update(&state, &zero, 1);
  crypto_generichash_update(&state, data.data(), data.size());
  std::array<std::uint8_t, 16> out{};
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

Hash keyed_hash(ByteView key, std::string_view label)
{
  Hash out{};
  crypto_generichash(out.data(),
                     out.size(),
                     reinterpret_cast<const std::uint8_t*>(label.data()),
                     label.size(),
                     key.data(),
                     key.size());
  return out;
}

SignKeypair sign_keypair()
{
  SignKeypair pair;
  pair.secret_key = SecretBytes(k_sign_secret_size);
  crypto_sign_keypair(pair.public_key.data(), pair.secret_key.expose_mut().data());
  return pair;
}

BoxKeypair box_keypair()
{
  BoxKeypair pair;
  pair.secret_key = SecretBytes(k_box_secret_size);
  crypto_box_keypair(pair.public_key.data(), pair.secret_key.expose_mut().data());
  return pair;
}

SignPublicKey sign_public_from_secret(const SecretBytes& secret_key)
{
  SignPublicKey out{};
  if (secret_key.size() == k_sign_secret_size) {
    crypto_sign_ed25519_sk_to_pk(out.data(), secret_key.expose().data());
  }
  return out;
}

BoxPublicKey box_public_from_secret(const SecretBytes& secret_key)
{
  BoxPublicKey out{};
  if (secret_key.size() == k_box_secret_size) {
    crypto_scalarmult_base(out.data(), secret_key.expose().data());
  }
  return out;
}

Signature sign(std::string_view label, ByteView message, const SecretBytes& secret_key)
{
  if (secret_key.size() != k_sign_secret_size) {
    throw Error(ErrorKind::failed, "signing key has the wrong size");
  }
  const Hash digest = signing_digest(label, message);
  Signature signature{};
  crypto_sign_detached(
    signature.data(), nullptr, digest.data(), digest.size(), secret_key.expose().data());
  return signature;
}

bool verify(std::string_view label, ByteView message, ByteView signature, ByteView public_key)
{
  if (signature.size() != k_signature_size || public_key.size() != k_sign_public_size) {
    return false;
  }
  const Hash digest = signing_digest(label, message);
  return crypto_sign_verify_detached(
           signature.data(), digest.data(), digest.size(), public_key.data())
         == 0;
}

bool verify_digest(const Hash& digest, ByteView signature, ByteView public_key)
{
  if (signature.size() != k_signature_size || public_key.size() != k_sign_public_size) {
    return false;
  }
  return crypto_sign_verify_detached(signature.data(), digest.data(), digest.size(), public_key.data()) == 0;
}

bool verify_raw(ByteView message, ByteView signature, ByteView public_key)
{
  if (signature.size() != k_signature_size || public_key.size() != k_sign_public_size) {
    return false;
  }
  return crypto_sign_verify_detached(
           signature.data(), message.data(), message.size(), public_key.data())
         == 0;
}

Bytes seal(ByteView plaintext, ByteView recipient_public_key)
{
  if (recipient_public_key.size() != k_box_public_size) {
    throw Error(ErrorKind::failed, "recipient key has the wrong size");
  }
  Bytes out(plaintext.size() + k_seal_overhead);
  if (crypto_box_seal(out.data(), plaintext.data(), plaintext.size(), recipient_public_key.data())
      != 0) {
    throw Error(ErrorKind::failed, "sealing to a recipient key failed (invalid public key)");
  }
  return out;
}

std::optional<SecretBytes> seal_open(ByteView ciphertext,
                                     ByteView public_key,
                                     const SecretBytes& secret_key)
{
  if (ciphertext.size() < k_seal_overhead || public_key.size() != k_box_public_size
      || secret_key.size() != k_box_secret_size) {
    return std::nullopt;
  }
  SecretBytes out(ciphertext.size() - k_seal_overhead);
  if (crypto_box_seal_open(out.expose_mut().data(),
                           ciphertext.data(),
                           ciphertext.size(),
                           public_key.data(),
                           secret_key.expose().data())
      != 0) {
    return std::nullopt;
  }
  return out;
}

bool seal_open_into(ByteView ciphertext, ByteView public_key, const SecretBytes& secret_key, SecretBytes& out)
{
  const std::span<std::uint8_t> target = out.expose_mut();
  if (ciphertext.size() != target.size() + k_seal_overhead || public_key.size() != k_box_public_size
      || secret_key.size() != k_box_secret_size
      || crypto_box_seal_open(target.data(), ciphertext.data(), ciphertext.size(), public_key.data(),
                              secret_key.expose().data())
           != 0) {
    sodium_memzero(target.data(), target.size());
    return false;
  }
  return true;
}

Sealed aead_encrypt(ByteView plaintext, ByteView associated_data, const SecretBytes& key)
{
  if (key.size() != k_key_size) {
    throw Error(ErrorKind::failed, "data key has the wrong size");
  }
  Sealed sealed;
  sealed.nonce = random_bytes(k_nonce_size);
  sealed.ciphertext.resize(plaintext.size() + k_tag_size);
  unsigned long long length = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.ciphertext.data(),
                                             &length,
                                             plaintext.data(),
                                             plaintext.size(),
                                             associated_data.data(),
                                             associated_data.size(),
                                             nullptr,
                                             sealed.nonce.data(),
                                             key.expose().data());
  sealed.ciphertext.resize(length);
  return sealed;
}

std::optional<SecretBytes> aead_decrypt(ByteView nonce,
                                        ByteView ciphertext,
                                        ByteView associated_data,
                                        const SecretBytes& key)
{
  if (nonce.size() != k_nonce_size || ciphertext.size() < k_tag_size || key.size() != k_key_size) {
    return std::nullopt;
  }
  SecretBytes out(ciphertext.size() - k_tag_size);
  unsigned long long length = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.expose_mut().data(),
                                                 &length,
                                                 nullptr,
                                                 ciphertext.data(),
                                                 ciphertext.size(),
                                                 associated_data.data(),
                                                 associated_data.size(),
                                                 nonce.data(),
                                                 key.expose().data())
      != 0) {
    return std::nullopt;
  }
  return out;
}

KdfLimits kdf_limits(KdfStrength strength)
{
  switch (strength) {
  case KdfStrength::fast:
    return {crypto_pwhash_OPSLIMIT_MIN, 8192 * 8}; // test suites only (ESCROW_KDF=fast)
  case KdfStrength::interactive:
    return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
  case KdfStrength::moderate:
    return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
  case KdfStrength::sensitive:
    return {crypto_pwhash_OPSLIMIT_SENSITIVE, crypto_pwhash_MEMLIMIT_SENSITIVE};
  }
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

SecretBytes derive_key(const SecretBytes& passphrase, ByteView salt, const KdfLimits& limits)
{
  if (salt.size() != k_salt_size || limits.opslimit < crypto_pwhash_OPSLIMIT_MIN
      || limits.opslimit > crypto_pwhash_OPSLIMIT_MAX || limits.memlimit < crypto_pwhash_MEMLIMIT_MIN
      || limits.memlimit > crypto_pwhash_MEMLIMIT_MAX) {
    throw Error(ErrorKind::integrity, "key derivation parameters are out of range");
  }
  SecretBytes key(k_key_size);
  if (crypto_pwhash(key.expose_mut().data(),
                    key.size(),
                    passphrase.empty() ? "" : reinterpret_cast<const char*>(passphrase.expose().data()),
                    passphrase.size(),
                    salt.data(),
                    limits.opslimit,
                    static_cast<std::size_t>(limits.memlimit),
                    crypto_pwhash_ALG_ARGON2ID13)
      != 0) {
    throw Error(ErrorKind::failed, "key derivation ran out of memory");
  }
  return key;
}

bool equal(ByteView a, ByteView b)
{
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void wipe(void* data, std::size_t size)
{
  if (data != nullptr && size > 0) {
    sodium_memzero(data, size);
  }
}

} // namespace escrow::crypto
