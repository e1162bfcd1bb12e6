// Identities (DESIGN §2): a member name and two keypairs, Ed25519 for signing and X25519 for
// sealing. The private file ("escrow-identity/1", mode 0600) keeps the secret keys encrypted
// with XChaCha20-Poly1305 under an Argon2id key whose limits are stored in the file, or in
// clear for CI identities created with --no-passphrase.
//
//   { "format": "escrow-identity/1", "name", "sign_pk", "box_pk",
//     "kdf": { "alg": "argon2id13", "opslimit", "memlimit", "salt", "check" }, -- encrypted only
//     "nonce", "ciphertext"                                             -- encrypted only
//     "secret"                                                          -- unencrypted only }
// The plaintext of "ciphertext"/"secret" is sign_sk (64 bytes) || box_sk (32 bytes); the AEAD's
// associated data is "escrow/v1/identity" || 0x00 || name || 0x00 || sign_pk || box_pk.
// "check" = BLAKE2b-256 keyed by the derived key over "escrow/v1/identity-check": a wrong
// passphrase (check differs, Error(access)) is told apart from a modified file (Error(integrity)).
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/crypto.hpp>
#include <escrow/secret_bytes.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace escrow {

struct PublicIdentity
{
  std::string name;
  crypto::SignPublicKey sign_pk{};
  crypto::BoxPublicKey box_pk{};

  // First 16 bytes of BLAKE2b-256(sign_pk || box_pk), hex in groups of 4.
  std::string fingerprint() const;
  canonical::Json to_json() const; // "escrow-public-identity/1"
  static PublicIdentity from_json(const canonical::Json& json, std::string_view what);
};

// Private-key operations done elsewhere: the agent (lib/escrow/agent.hpp) holds the keys and
// signs or opens sealed boxes on request, so they never enter this process.
class KeyHolder
{
public:
  virtual ~KeyHolder() = default;
  virtual crypto::Signature sign(std::string_view label, ByteView message) const = 0;
  virtual std::optional<SecretBytes> seal_open(ByteView sealed) const = 0;
};

struct Identity
{
  PublicIdentity pub;
  SecretBytes sign_sk; // empty when `holder` is set
  SecretBytes box_sk;  // empty when `holder` is set
  std::shared_ptr<const KeyHolder> holder;

  // Every private-key operation goes through these two (local keys, or the holder's).
  crypto::Signature sign(std::string_view label, ByteView message) const;
  std::optional<SecretBytes> seal_open(ByteView sealed) const;
};

enum class Protection { passphrase, none };

// A fresh identity (keys only; nothing written).
Identity generate_identity(std::string name);

// The private file's text. With Protection::passphrase the key is derived from `passphrase`
// with `limits`.
std::string serialize_identity(const Identity& identity,
                               Protection protection,
                               const SecretBytes* passphrase,
                               const crypto::KdfLimits& limits);

// Whether the text (already strictly parsed) needs a passphrase to open.
bool identity_needs_passphrase(const canonical::Json& json);

// Opens a private identity. Throws Error(access) for a wrong passphrase, Error(integrity) for a
// malformed or inconsistent file; messages name `what`.
Identity open_identity(const canonical::Json& json,
                       const SecretBytes* passphrase,
                       std::string_view what);

// Argon2id limits for a new identity: "interactive" (the default), "moderate" or "sensitive";
// `fast` (the CLI's ESCROW_KDF=fast, test suites only) takes the cheapest limits instead.
crypto::KdfLimits identity_kdf(std::string_view strength, bool fast);

// Writes a new private identity file (mode 0600, O_EXCL: never overwrites; parent directories
// made 0700). The serialised text is wiped, on error too.
void write_identity_file(const std::filesystem::path& path,
                         const Identity& identity,
                         Protection protection,
                         const SecretBytes* passphrase,
                         const crypto::KdfLimits& limits);

// Member names: 1-64 of [A-Za-z0-9._-], starting with a letter or digit.
[[nodiscard]] bool valid_member_name(std::string_view name);

// Where an identity is looked for, given the CLI's settings: `escrow_identity` ($ESCROW_IDENTITY)
// when set, else <xdg_config_home>/escrow/identity.json, else <home>/.config/escrow/identity.json.
std::filesystem::path default_identity_path(std::string_view escrow_identity, std::string_view xdg_config_home,
                                            std::string_view home);

// A member's public identity from the text of `escrow identity show --public` (`what` names
// its source). Error(usage) for a private identity file.
PublicIdentity parse_public_identity(std::string_view text, const std::string& what);
// The same, from a file (at most 64 KiB).
PublicIdentity read_public_identity(const std::filesystem::path& path);

} // namespace escrow
