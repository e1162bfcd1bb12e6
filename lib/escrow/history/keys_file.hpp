// The key store of escrow-vault/2: `escrow.keys`, format "escrow-keys/2" (docs/design/vault-2.md
// §3.3). Key material only: sealed reader keys, version ciphertexts, Shamir shares, grants and
// re-sealed approval shares, one line each. Metadata lives in the journal; the state names the
// full hash K of every line it uses, and a reader recomputes it.
//
// Layout, exactly (a section `"lines": {}` when empty):
//
//   {
//     "format": "escrow-keys/2",
//     "lines": {
//       "prod/db:g1:rk:alice#0c7d1e55a3b4f601e2c99a10": "<b64>",
//       "prod/db:5f3a9c0e12ab34cd:v#77e0…": "<b64>"
//     },
//     "vault_id": "<b64 16 bytes>"
//   }
//
// - one line per key, 4-space indent, keys in strictly increasing byte order, `": "`, standard
//   base64 (canonical padding), `,` between lines, `\n` after each; nothing else anywhere;
// - a line key is LOGICAL#H24: H24 is the first 12 bytes, lower-case hex, of
//   K = BLAKE2b-256("escrow/v2/key" || 0x00 || LOGICAL || 0x00 || raw bytes);
// - LOGICAL is one of (`:` separates; no secret, member or request name contains it):
//     ENV/NAME:g<G>:rk:<member>               crypto_box_seal(RK_G)                 80 bytes
//     ENV/NAME:<vid>:v                        nonce ‖ dk_nonce ‖ dk_box ‖ ciphertext  112 + len
//     ENV/NAME:<vid>:sh:<custodian>           crypto_box_seal(Shamir share of DK)   81 bytes
//     ENV/NAME:<vid>:gr:<member>              crypto_box_seal(DK)                   80 bytes
//     ENV/NAME:<vid>:ap:<request>:<approver>  crypto_box_seal(share) to the requester 81 bytes
//   <vid> is 8 bytes in lower-case hex (16 characters); <G> is decimal, 1-1000000000, no
//   leading zero.
//
// Reading is lazy: opening a file checks only its first and last lines (format, vault id);
// a lookup bisects the mapped (or owned) bytes and parses strictly only the lines it probes,
// then checks the found line's bytes against its hash. verify_all() checks every line (the
// grammar above, the order, each line's hash suffix, each kind's size): `verify`, the writer
// and the merge call it. Every malformed line is Error(integrity) naming the file and the line
// number, never quoting the line (a key line names no secret bytes, but a forged one may hold
// anything).
#pragma once

#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/history/labels.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

constexpr std::string_view k_keys_format = "escrow-keys/2";
constexpr std::string_view k_key_line_label = labels::k_key; // "escrow/v2/key"
// The largest value a version holds (64 KiB, as escrow-vault/1's).
constexpr std::size_t k_max_value_size = 64 * 1024;
// Bounds a hostile file cannot exceed: the whole file, one line key.
constexpr std::size_t k_max_keys_file_size = std::size_t{1} << 30;
constexpr std::size_t k_max_line_key_size = 512;
constexpr std::uint32_t k_max_line_generation = 1'000'000'000;

using VaultId = std::array<std::uint8_t, 16>;
// K: the full hash of a key line, as the state names it.
using LineHash = crypto::Hash;

// A version's random identifier (vault-2.md D6), bound into the AEAD associated data.
struct Vid
{
  std::array<std::uint8_t, 8> bytes{};

  static Vid random();
  // 16 lower-case hex characters; nullopt for anything else.
  static std::optional<Vid> from_hex(std::string_view text);
  std::string hex() const;
  auto operator<=>(const Vid&) const = default;
};

enum class LineKind { reader_key, value, share, grant, approval };
std::string_view line_kind_name(LineKind kind); // "rk", "v", "sh", "gr", "ap"

// The logical name of a key line. Which fields are set depends on the kind: `gen` for
// reader_key; `vid` for the others; `holder` for all but value (the member an rk or gr line is
// sealed to, the custodian of an sh line, the approver of an ap line); `request` for approval.
struct LineName
{
  LineKind kind = LineKind::value;
  std::string secret; // ENV/NAME
  std::uint32_t gen = 0;
  Vid vid;
  std::string holder;
  std::string request;

  static LineName reader_key(std::string secret, std::uint32_t gen, std::string member);
  static LineName value(std::string secret, Vid vid);
  static LineName share(std::string secret, Vid vid, std::string custodian);
  static LineName grant(std::string secret, Vid vid, std::string member);
  static LineName approval(std::string secret, Vid vid, std::string request, std::string approver);

  // The LOGICAL text. Throws Error(failed) when a field is invalid (a programming error: names
  // come from the state, which only holds valid ones).
  std::string logical() const;
  // Strict parse of a LOGICAL text; nullopt when it is not one.
  static std::optional<LineName> parse(std::string_view logical);
  // The raw size a line of this kind must have (the value line: its minimum).
  std::size_t min_size() const;
  std::size_t max_size() const;

  bool operator==(const LineName&) const = default;
};

LineHash line_hash(std::string_view logical, ByteView raw);
// LOGICAL#H24.
std::string line_key(std::string_view logical, const LineHash& hash);

// One key line: its name, its bytes (never secret: sealed or encrypted) and its hash K.
struct SealedLine
{
  LineName name;
  Bytes raw;
  LineHash hash{};

  static SealedLine make(LineName name, Bytes raw);
  std::string key() const;
};

// Why a key line could not give what the state says it holds. Distinct findings, distinct
// messages (vault-2.md §4 "Reading"): a wrong key is access (exit 4); everything else is
// integrity (exit 3).
enum class KeyFailure {
  missing,    // the state names a line the file lacks (key-line-missing)
  modified,   // the line's bytes do not hash to the state's K (key-line-modified)
  wrong_key,  // the sealed box does not open with this identity
  commitment, // it opens, but the key fails rk_commit / dk_commit (forged by a writer)
  corrupted,  // a box or ciphertext under a committed key does not open (written corrupted)
};
std::string_view key_failure_name(KeyFailure failure);

class KeyError : public Error
{
public:
  KeyError(KeyFailure failure, std::string message)
    : Error(failure == KeyFailure::wrong_key ? ErrorKind::access : ErrorKind::integrity, std::move(message)),
      m_failure(failure)
  {
  }
  KeyFailure failure() const { return m_failure; }

private:
  KeyFailure m_failure;
};

// A read-only keys file: mapped from disk (open) or owned (parse).
class KeysFile
{
public:
  // Opens and maps `path` (never through a symbolic link, never blocking on a FIFO), checks its
  // first and last lines. Error(io) when it cannot be opened, Error(integrity) when it is not an
  // escrow-keys/2 file or is larger than k_max_keys_file_size.
  static KeysFile open(const std::filesystem::path& path);
  // The same over bytes held in memory; `what` names them in messages.
  static KeysFile parse(std::string text, std::string what);

  KeysFile(KeysFile&&) noexcept;
  KeysFile& operator=(KeysFile&&) noexcept;
  ~KeysFile();

  const std::string& what() const;
  const VaultId& vault_id() const;
  // The whole file as read.
  std::string_view bytes() const;
  bool empty() const;

  // The line with exactly this key, by bisection: its bytes are decoded and checked against the
  // key's hash suffix. nullopt when absent.
  std::optional<SealedLine> find(std::string_view key) const;
  // The line the state names (its logical name and full hash K). KeyError(missing) when absent,
  // KeyError(modified) when its bytes do not hash to K.
  SealedLine get(const LineName& name, const LineHash& expected) const;
  // Every line whose key starts with `prefix` (e.g. "prod/db:" or "prod/db:g1:rk:"), in order,
  // each checked as find() checks.
  std::vector<SealedLine> with_prefix(std::string_view prefix) const;

  // Checks every line (see the header comment); returns how many there are.
  std::size_t verify_all() const;
  // Every line, in file order, checked as verify_all checks them: key and base64 text.
  void for_each(const std::function<void(std::string_view key, std::string_view b64)>& visit) const;
  // The same, with each line's full hash K (computed by the check): `verify` compares it with the
  // state's K without hashing the line again.
  void for_each_hash(const std::function<void(std::string_view key, const LineHash& hash)>& visit) const;

  // The canonical bytes of this file with `add` inserted and the lines keyed `remove` deleted.
  // Every line's layout and order are checked on the way (Error(integrity) naming the line); the
  // contents of the lines carried over are not (verify_all does, and every reader checks a line
  // against the state's K before using it). Adding a line already present with the same bytes is a
  // no-op; Error(integrity) if its key is present with other bytes. Removing an absent key is
  // Error(failed) (the caller's state said it was there).
  std::string rewrite(std::span<const SealedLine> add, const std::set<std::string>& remove) const;
  // The same bytes as parts in order, written with AtomicFile::write(parts) without joining them:
  // the runs of lines carried over are views of this file's bytes (valid while it lives, moved or
  // not), the rest is held in `owned`. An add to a large file then costs no copy of it in memory.
  struct Parts
  {
    std::deque<std::string> owned; // a deque: its strings never move
    std::vector<std::string_view> views;
    std::size_t size() const;
    std::string joined() const;
  };
  Parts rewrite_parts(std::span<const SealedLine> add, const std::set<std::string>& remove) const;

  struct Source;

private:
  explicit KeysFile(std::unique_ptr<Source> source);
  std::unique_ptr<Source> m_source;
};

// The canonical bytes of a keys file holding `lines` (any order; sorted here). Error(failed) on
// two lines with one key.
std::string serialize_keys(const VaultId& vault_id, std::span<const SealedLine> lines);

// The keys merge driver (vault-2-merge.md §4): a 3-way set merge by line key. `base` may be null
// (a plain union). Every file is verified in full first; the vault ids must agree. A key both
// sides hold with different bytes is Error(integrity) ("line KEY has two different contents").
std::string merge_keys(const KeysFile* base, const KeysFile& ours, const KeysFile& theirs);

} // namespace escrow::history
