// The cryptography of a secret in escrow-vault/2 (docs/design/vault-2.md §4): reader keys with
// generations (RK), versions named by a random vid, the data key boxed under RK (dk_box), the
// commitments, and the sealing and opening paths of the three ways to a value — standing reader,
// grant, k approvals. Every piece is a key line of the keys file (keys_file.hpp); what the state
// says about it (generation, vid, commitments, line hashes) comes in the small *Ref values below,
// so this module depends on no entry or state type.
//
//   generation G of a secret:  RK_G = 32 random bytes;
//     rk_commit = BLAKE2b-256 keyed by RK_G over
//                 "escrow/v2/rk-commit" || 0x00 || vault_id || ENV/NAME || 0x00 || decimal(G);
//     line ENV/NAME:g<G>:rk:<member> = crypto_box_seal(RK_G, box_pk(member)) per holder.
//   version vid under generation G:  DK = 32 random bytes; dk_commit = BLAKE2b-256 keyed by DK
//     over "escrow/v2/dk-commit";
//     ciphertext = XChaCha20-Poly1305(value, nonce, DK,
//                  AD = "escrow/v2/value" || 0x00 || vault_id || ENV/NAME || 0x00 || vid);
//     dk_box = XChaCha20-Poly1305(DK, dk_nonce, RK_G,
//              AD = "escrow/v2/dk-box" || 0x00 || vault_id || ENV/NAME || 0x00 || vid || decimal(G));
//     line ENV/NAME:<vid>:v = nonce || dk_nonce || dk_box || ciphertext.
//   custodians:  Shamir k-of-n of DK (shamir.hpp, unchanged from v1); line
//     ENV/NAME:<vid>:sh:<custodian> = crypto_box_seal(x || y, box_pk(custodian)).
//   a grant carried by a version:  ENV/NAME:<vid>:gr:<member> = crypto_box_seal(DK).
//   an approval:  the approver opens their sh line and re-seals the share to the requester:
//     ENV/NAME:<vid>:ap:<request>:<approver>.
//
// Opening checks, in order: the line is present (else KeyError missing) and hashes to the
// state's K (modified) → the box opens with this identity (wrong_key, exit 4) → the key opened
// matches its commitment (commitment: a writer sealed another key) → dk_box and the ciphertext
// open (corrupted). All but wrong_key are integrity (exit 3). Keys and shares live only in
// SecretBytes.
#pragma once

#include <escrow/crypto.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/identity.hpp>
#include <escrow/secret_bytes.hpp>
#include <escrow/history/labels.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

constexpr std::string_view k_value_label = labels::k_value; // "escrow/v2/value"
constexpr std::string_view k_dk_box_label = labels::k_dk_box; // "escrow/v2/dk-box"
constexpr std::string_view k_dk_commit_label = labels::k_dk_commit; // "escrow/v2/dk-commit"
constexpr std::string_view k_rk_commit_label = labels::k_rk_commit; // "escrow/v2/rk-commit"

using Commit = crypto::Hash;

// Which secret of which vault: the context every label binds.
struct SecretRef
{
  VaultId vault_id{};
  std::string secret; // ENV/NAME
};

// Someone a key is sealed to: a member's name and box public key (from the state).
struct Recipient
{
  std::string name;
  crypto::BoxPublicKey box_pk{};
};

Commit dk_commit(const SecretBytes& data_key);
Commit rk_commit(const SecretRef& ref, std::uint32_t gen, const SecretBytes& reader_key);
Bytes value_ad(const SecretRef& ref, const Vid& vid);
Bytes dk_box_ad(const SecretRef& ref, const Vid& vid, std::uint32_t gen);

// --- sealing (the writer's side) ----------------------------------------------------------------

// A reader-key generation: fresh RK_G and its commitment (what the operation records).
struct ReaderKey
{
  std::uint32_t gen = 0;
  SecretBytes reader_key;
  Commit commit{};
};
ReaderKey new_generation(const SecretRef& ref, std::uint32_t gen);
// An opened generation (a holder reusing it: a share, a rotation on a clean generation).
ReaderKey known_generation(const SecretRef& ref, std::uint32_t gen, SecretBytes reader_key);
// The rk line of `generation` for `member`.
SealedLine seal_reader_key(const SecretRef& ref, const ReaderKey& generation, const Recipient& member);

// A new version: fresh DK, its commitment, the v line (the value encrypted under DK, DK boxed under
// the generation's RK). `vid` defaults to a fresh random one. Error(usage) for a value larger than
// k_max_value_size.
struct SealedVersion
{
  Vid vid;
  std::uint32_t gen = 0;
  SecretBytes data_key;
  Commit commit{};
  SealedLine value_line;
};
SealedVersion seal_value(const SecretRef& ref, const ReaderKey& generation, const SecretBytes& value);
SealedVersion seal_value(const SecretRef& ref, const ReaderKey& generation, const SecretBytes& value, const Vid& vid);

// One sh line per custodian (x = 1..n in the given order), any `threshold` of which rebuild DK.
std::vector<SealedLine> seal_shares(const SecretRef& ref,
                                 const Vid& vid,
                                 const SecretBytes& data_key,
                                 unsigned threshold,
                                 std::span<const Recipient> custodians);
// The gr line carrying a grant on version `vid` to `member`.
SealedLine seal_grant(const SecretRef& ref, const Vid& vid, const SecretBytes& data_key, const Recipient& member);
// The ap line: the approver's share (as open_own_share gives it) re-sealed to the requester.
SealedLine seal_approval(const SecretRef& ref,
                      const Vid& vid,
                      std::string_view request,
                      std::string_view approver,
                      const SecretBytes& share,
                      const Recipient& requester);

// --- opening (the reader's side) ----------------------------------------------------------------

// What the state says about a version and a generation (vault-2-operations.md §3: versions[vid]
// {gen, dk_commit, material}, gens[G] {rk_commit, holders}).
struct VersionRef
{
  Vid vid;
  std::uint32_t gen = 0;
  Commit dk_commit{};
  LineHash material{}; // K of the v line
};
struct GenerationRef
{
  std::uint32_t gen = 0;
  Commit rk_commit{};
};
// An approval that counts, as the state records it: approver and the K of their ap line.
struct ApprovalRef
{
  std::string approver;
  LineHash line{};
};

// Standing reader: the identity's rk line of the version's generation (K = holders[me]) → RK
// (rk_commit) → DK from dk_box (dk_commit).
SecretBytes open_reader_key(const KeysFile& keys,
                            const SecretRef& ref,
                            const GenerationRef& generation,
                            const LineHash& holder_line,
                            const Identity& identity);
// The same from the line already read (keys.get checked its K); `keys_what` names the file in
// errors. Touches no KeysFile, so a bulk share runs it on worker threads (libsodium is
// thread-safe after sodium_init; the identity must hold its keys itself, not through an agent).
SecretBytes open_reader_key(const SealedLine& line,
                            std::string_view keys_what,
                            const SecretRef& ref,
                            const GenerationRef& generation,
                            const Identity& identity);
// The same into `out`, which a bulk share reuses for every key a thread opens (one locked
// buffer per thread instead of a sodium_malloc mapping per key): the same checks and errors; on
// success `out` is the generation (gen, its key, its commitment), ready for seal_reader_key.
void open_reader_key_into(const SealedLine& line,
                          std::string_view keys_what,
                          const SecretRef& ref,
                          const GenerationRef& generation,
                          const Identity& identity,
                          ReaderKey& out);
SecretBytes open_data_key(const KeysFile& keys, const SecretRef& ref, const VersionRef& version, const SecretBytes& reader_key);
SecretBytes open_as_reader(const KeysFile& keys,
                           const SecretRef& ref,
                           const VersionRef& version,
                           const GenerationRef& generation,
                           const LineHash& holder_line,
                           const Identity& identity);
// Grant holder: the identity's gr line of the version → DK (dk_commit).
SecretBytes open_grant(const KeysFile& keys, const SecretRef& ref, const VersionRef& version, const LineHash& grant_line,
                       const Identity& identity);
// Custodian: the identity's sh line of the version → their share (x || y), to re-seal on approval.
SecretBytes open_own_share(const KeysFile& keys, const SecretRef& ref, const VersionRef& version,
                           const LineHash& share_line, const Identity& identity);
// Requester: the ap lines of `request` (at least `threshold` of them; Error(access) otherwise) →
// shares → DK (dk_commit).
SecretBytes open_approvals(const KeysFile& keys,
                           const SecretRef& ref,
                           const VersionRef& version,
                           std::string_view request,
                           std::span<const ApprovalRef> approvals,
                           unsigned threshold,
                           const Identity& identity);
// The value of the version, given a DK that matched its commitment.
SecretBytes decrypt_value(const KeysFile& keys, const SecretRef& ref, const VersionRef& version, const SecretBytes& data_key);

} // namespace escrow::history
