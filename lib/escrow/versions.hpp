// The cryptography of a secret version (DESIGN §3):
//   - a fresh 32-byte data key DK per version; the value is encrypted with
//     XChaCha20-Poly1305 under DK, associated data
//     "escrow/v1/value" || 0x00 || vault_id || ENV/NAME || 0x00 || v (decimal);
//   - DK sealed (crypto_box_seal) to every standing reader → "wrapped", and to holders of
//     unexpired grants → "granted";
//   - DK split k-of-n (Shamir, GF(256)) into one share per custodian, each sealed to them;
//   - dk_commit = BLAKE2b-256 keyed by DK over "escrow/v1/dk-commit", checked before any
//     decryption so that a wrong, forged or under-threshold key is caught, never used.
#pragma once

#include <escrow/records.hpp>
#include <escrow/secret_bytes.hpp>
#include <escrow/vault.hpp>

#include <map>
#include <set>
#include <string>

namespace escrow {

constexpr std::size_t k_max_value_size = 64 * 1024;

struct VersionPlan
{
  std::int64_t v = 1;
  VersionState state = VersionState::current;
  std::string why;
  std::set<std::string> readers;          // wrapped
  std::map<std::string, Grant> grants;    // key is filled in; until/request kept
};

// A new version record (unsigned) sealing `value` for the secret's readers and custodians.
// `data_key` receives the fresh DK when non-null (rotation re-wraps with it).
VersionRecord seal_version(const Vault& vault,
                           const SecretRecord& secret,
                           const SecretBytes& value,
                           const VersionPlan& plan,
                           Timestamp now,
                           const std::string& creator);

// Adds `member` to an existing version's wrapped set, given the version's DK.
void wrap_for(const Vault& vault, VersionRecord& version, const std::string& member, const SecretBytes& data_key);

// Checks a candidate DK against the version's commitment (constant time).
[[nodiscard]] bool matches_commitment(const VersionRecord& version, const SecretBytes& data_key);

// Decrypts the version's value with a DK that matches its commitment. Error(integrity) when the
// ciphertext is corrupted.
SecretBytes decrypt_version(const Vault& vault,
                            const SecretRecord& secret,
                            const VersionRecord& version,
                            const SecretBytes& data_key);

enum class AccessPath { wrapped, granted, approvals };
std::string_view access_path_name(AccessPath path);

struct OpenedKey
{
  SecretBytes data_key;
  AccessPath path = AccessPath::wrapped;
  std::string request; // the grant or request used, if any
};

// The identity's way to this version's DK: standing access, a grant carried across rotations,
// or k approvals of an unexpired request. Error(access) says why none applies; Error(integrity)
// when a sealed key opens but fails the commitment.
OpenedKey open_data_key(const Vault& vault,
                        const SecretRecord& secret,
                        const VersionRecord& version,
                        const Identity& identity,
                        Timestamp now);

// THE way to read a value (get, exec, share, rotation, the report all come here): the
// identity's key to `version` (open_data_key), then the plaintext (decrypt_version).
struct OpenedValue
{
  SecretBytes value;
  AccessPath path = AccessPath::wrapped;
  std::string request; // the grant or request used, if any
};
OpenedValue open_value(const Vault& vault,
                       const SecretRecord& secret,
                       const VersionRecord& version,
                       const Identity& identity,
                       Timestamp now);

// The requests of `secret` by `member` that are approved (k valid approvals by others for the
// current version), unexpired, not denied.
const Request* active_grant(const Vault& vault, const SecretRecord& secret, const std::string& member, Timestamp now);
// Grants that a new version must carry (DESIGN §4: grants survive rotation until they expire):
// unexpired grants already carried by the current version, and approved, unexpired, undenied
// requests for it. Expired ones are dropped.
std::map<std::string, Grant> carried_grants(const Vault& vault, const SecretRecord& secret, Timestamp now);

// Approvals of `request` that count: by active approving custodians other than the requester,
// for version v, one each.
std::vector<const Approval*> counted_approvals(const Vault& vault,
                                               const SecretRecord& secret,
                                               const Request& request,
                                               std::int64_t v);

} // namespace escrow
