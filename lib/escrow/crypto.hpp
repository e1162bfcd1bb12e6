// The single wrapper over libsodium. crypto.cpp is the only file that includes <sodium.h>.
//
// Every signature and keyed hash takes a context label ("escrow/v1/record", ...) so that
// nothing signed for one purpose verifies as another.
#pragma once

#include <escrow/secret_bytes.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace escrow {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view text)
{
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

namespace crypto {

constexpr std::size_t k_sign_public_size = 32;
constexpr std::size_t k_sign_secret_size = 64;
constexpr std::size_t k_signature_size = 64;
constexpr std::size_t k_box_public_size = 32;
constexpr std::size_t k_box_secret_size = 32;
constexpr std::size_t k_seal_overhead = 48;
constexpr std::size_t k_key_size = 32;   // AEAD and data keys
constexpr std::size_t k_nonce_size = 24; // XChaCha20-Poly1305
constexpr std::size_t k_tag_size = 16;
constexpr std::size_t k_salt_size = 16;

using Hash = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, k_signature_size>;
using SignPublicKey = std::array<std::uint8_t, k_sign_public_size>;
using BoxPublicKey = std::array<std::uint8_t, k_box_public_size>;

// Calls sodium_init() once; throws if libsodium cannot start. Safe to call repeatedly.
void init();

Bytes random_bytes(std::size_t size);
SecretBytes random_secret(std::size_t size);
// Uniform in [0, upper_bound).
std::uint32_t random_uniform(std::uint32_t upper_bound);

// BLAKE2b-256 of label || 0x00 || data.
Hash hash(std::string_view label, ByteView data);
// BLAKE2b-256 of data alone (record and manifest hashes).
Hash hash_raw(ByteView data);
// BLAKE2b-128, for identifiers.
std::array<std::uint8_t, 16> hash16(std::string_view label, ByteView data);
// BLAKE2b-256 keyed by `key` over `label` (the data-key commitment).
Hash keyed_hash(ByteView key, std::string_view label);

// Incremental BLAKE2b-256 (journal and file hashing without copies).
class Hasher
{
public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void update(ByteView data);
  Hash finish();

private:
  alignas(64) std::uint8_t m_state[384];
};

struct SignKeypair
{
  SignPublicKey public_key{};
  SecretBytes secret_key; // 64 bytes (seed || public key)
};
struct BoxKeypair
{
  BoxPublicKey public_key{};
  SecretBytes secret_key; // 32 bytes
};

SignKeypair sign_keypair();
BoxKeypair box_keypair();
// Recomputes the public halves from the secret halves (identity consistency checks).
SignPublicKey sign_public_from_secret(const SecretBytes& secret_key);
BoxPublicKey box_public_from_secret(const SecretBytes& secret_key);

// Ed25519 over label || 0x00 || message.
Signature sign(std::string_view label, ByteView message, const SecretBytes& secret_key);
[[nodiscard]] bool verify(std::string_view label,
                          ByteView message,
                          ByteView signature,
                          ByteView public_key);
// verify() for a message whose digest the caller has already computed with hash(label, message)
// (the vault head: its digest is also the revision's name), so the bytes are hashed once.
[[nodiscard]] bool verify_digest(const Hash& digest, ByteView signature, ByteView public_key);
// Plain Ed25519 verification of a raw message (test vectors only).
[[nodiscard]] bool verify_raw(ByteView message, ByteView signature, ByteView public_key);

// Anonymous sealed boxes (crypto_box_seal).
Bytes seal(ByteView plaintext, ByteView recipient_public_key);
[[nodiscard]] std::optional<SecretBytes> seal_open(ByteView ciphertext,
                                                   ByteView public_key,
                                                   const SecretBytes& secret_key);

// XChaCha20-Poly1305-IETF. The nonce is random, 24 bytes.
struct Sealed
{
  Bytes nonce;
  Bytes ciphertext; // includes the 16-byte tag
};
Sealed aead_encrypt(ByteView plaintext, ByteView associated_data, const SecretBytes& key);
[[nodiscard]] std::optional<SecretBytes> aead_decrypt(ByteView nonce,
                                                      ByteView ciphertext,
                                                      ByteView associated_data,
                                                      const SecretBytes& key);

// Argon2id (crypto_pwhash).
struct KdfLimits
{
  std::uint64_t opslimit = 0;
  std::uint64_t memlimit = 0;
};
enum class KdfStrength { fast, interactive, moderate, sensitive };
KdfLimits kdf_limits(KdfStrength strength);
SecretBytes derive_key(const SecretBytes& passphrase, ByteView salt, const KdfLimits& limits);

// Constant-time comparison of equal-length buffers.
[[nodiscard]] bool equal(ByteView a, ByteView b);

// Best-effort zeroing of ordinary memory that briefly held secret bytes.
void wipe(void* data, std::size_t size);

} // namespace crypto
} // namespace escrow
