// Backups of a vault and its journal ("escrow-backup/1"; docs/FORMAT.md has the grammar,
// docs/RECOVERY.md the drill, docs/SECURITY.md the threat model).
//
// A backup is four lines of text:
//   escrow-backup/1
//   <header: canonical compact JSON>
//   <b64 of nonce (24 bytes) || XChaCha20-Poly1305(payload, associated data = the first two lines
//    with their "\n")>
//   <b64 of Ed25519 by the maker over the first three lines, under "escrow/v1/backup">
// The header names the vault (id, revision, head digest, journal head and size), the maker
// (name and signing key), when it was made, and one sealed copy of a fresh file
// key per recipient (crypto_box_seal to their X25519 key). The payload is
//   escrow-backup-payload/1\n vault <N>\n <N bytes> \n journal <M>\n <M bytes> \n
// holding the vault and the journal byte for byte.
//
// Checks on restore, in order (nothing is written until all pass; every failure is
// Error(integrity), exit 3): structure → the maker's signature → this machine's pins (genesis,
// rollback) → a recipient slot for the restorer → AEAD → the payload matches the header → the
// vault (every record, Vault::verify_all) → the maker is a member → the journal (chain,
// signatures, anchor; audit::verify_journal) → test-decryption of every version the restorer can
// read. Only then are the files written (journal, then vault; each through AtomicFile).
#pragma once

#include <escrow/connector.hpp>
#include <escrow/crypto.hpp>
#include <escrow/identity.hpp>
#include <escrow/session.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::backup {

constexpr std::string_view k_format = "escrow-backup/1";
constexpr std::string_view k_payload_format = "escrow-backup-payload/1";
constexpr std::string_view k_signature_label = "escrow/v1/backup";
constexpr std::size_t k_max_backup_size = std::size_t{1} << 30;
constexpr std::size_t k_max_recipients = 1024;

struct Recipient
{
  std::string name;
  std::string fingerprint;
  crypto::BoxPublicKey box_pk{};
  Bytes sealed_key; // crypto_box_seal(file key) to box_pk
};

struct Header
{
  std::string vault_id; // b64
  std::int64_t revision = 0;
  std::string vault_head;   // b64 head digest of that revision
  std::string genesis;      // the genesis admin's fingerprint
  std::string journal_head; // b64 hash of the newest journal entry ("" for none)
  std::uint64_t journal_entries = 0;
  std::uint64_t vault_size = 0;
  std::uint64_t journal_size = 0;
  std::string vault_file;   // the files' names when backed up ("escrow.vault", "escrow.journal")
  std::string journal_file;
  Timestamp created_at = 0;
  std::string maker;        // member name
  crypto::SignPublicKey maker_sign_pk{};
  std::string maker_fingerprint;
  std::vector<Recipient> recipients;
};

// A backup file as read: its parts, checked for structure only (no key, no signature yet).
struct BackupFile
{
  Header header;
  std::string header_line; // the header's bytes exactly as stored (associated data, signed)
  Bytes nonce;             // 24 bytes
  Bytes ciphertext;        // with its 16-byte tag
  crypto::Signature signature{};
};

// The fuzzable entry point: splits and strictly parses a backup file's bytes. Error(integrity)
// naming `what` for anything but the one layout (unknown format, truncated, stray bytes, bad
// base64, unknown or missing header fields, wrong key sizes).
BackupFile parse_backup(std::string_view bytes, std::string_view what);
// The file's bytes: parse_backup(serialize_backup(f)) == f, and serialize_backup(parse_backup(b))
// == b for every b that parses.
std::string serialize_backup(const BackupFile& file);

// The payload inside: the vault's and the journal's bytes.
struct Payload
{
  std::string vault;
  std::string journal;
};
std::string serialize_payload(const Payload& payload);
Payload parse_payload(std::string_view bytes, std::string_view what);

// --- escrow backup -----------------------------------------------------------------------------

struct BackupOptions
{
  std::filesystem::path out;
  std::vector<PublicIdentity> to; // empty: the vault's active admins
  bool overwrite = false;         // --force: replace an existing file
};

struct BackupResult
{
  std::filesystem::path out;
  std::int64_t revision = 0;
  std::size_t secrets = 0;
  std::uint64_t journal_entries = 0;
  std::uint64_t bytes = 0;
  std::vector<std::string> recipients; // "name (fingerprint)"
  std::string entry; // the journal entry recording it
  Json notify;
  Json to_json() const;
};

// Reads `escrow identity show --public` files for --to. Error(usage) for a private identity.
std::vector<PublicIdentity> read_recipients(const std::vector<std::filesystem::path>& files);

// Verifies the vault and its journal (everything, as `verify` does), journals a "backup" entry
// (first, so that the backup holds it), encrypts the vault and the journal to the recipients,
// signs the file as the session's member and writes it atomically (0600, never over an existing
// file unless told; a failed write is journaled too). Call with a write session: the vault lock
// makes the vault and journal a consistent pair.
BackupResult make_backup(Session& session, const BackupOptions& options);

// --- escrow restore ----------------------------------------------------------------------------

struct RestoreOptions
{
  std::filesystem::path file;
  std::filesystem::path to;       // directory; created if missing
  bool allow_rollback = false;    // accept a backup older than this machine's pins (journaled)
  bool reconnect = false;         // run every connector's verify against the current values
  // The restorer (its identity, this machine's state dir, the clock, the passphrase source).
  SessionOptions session;
};

struct ConnectorCheck
{
  std::string connector;
  std::string kind;
  std::string result; // verified | failed | unchecked
  std::string detail; // why unchecked, or the first failure (redacted)
  std::size_t secrets = 0;   // bound secrets checked
  std::size_t failed = 0;
  std::size_t unreadable = 0; // bound secrets whose value the restorer cannot read
};

struct RestoreResult
{
  std::filesystem::path vault;
  std::filesystem::path journal;
  std::string vault_id;
  std::int64_t revision = 0;
  std::string maker;
  Timestamp made_at = 0;
  std::size_t secrets = 0;
  std::size_t members = 0;
  std::uint64_t journal_entries = 0;
  std::size_t signatures = 0;
  std::size_t decrypted = 0;    // versions the restorer opened and decrypted
  std::size_t unreadable = 0;   // versions with keys the restorer holds none of
  bool rolled_back = false;     // older than this machine's pins, accepted with allow_rollback
  bool reconnected = false;
  std::vector<ConnectorCheck> connectors;
  std::chrono::milliseconds elapsed{0}; // read → verified → written (→ reconnected)
  Json notify;

  std::size_t connectors_verified() const;
  std::size_t connectors_checked() const; // every connector but the unchecked ones
  // "restored in 1.8 s; 12 of 12 connectors verified"
  std::string summary() const;
  Json to_json() const;
};

// Checks everything, then writes <to>/<vault file> and <to>/<journal file> (refusing to replace
// existing files), pins the restored revision on this machine, journals a "restore" entry in the
// restored journal and, if asked, re-verifies the connectors.
RestoreResult restore(const RestoreOptions& options);

} // namespace escrow::backup
