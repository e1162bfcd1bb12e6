// Backups of an escrow-vault/2 vault ("escrow-backup/2"; docs/FORMAT.md §10 has the grammar,
// docs/RECOVERY.md the drill, docs/SECURITY.md the threat model).
//
// A backup is four lines of text:
//   escrow-backup/2
//   <header: canonical compact JSON>
//   <b64 of nonce (24 bytes) || XChaCha20-Poly1305(payload, associated data = the first two lines
//    with their "\n")>
//   <b64 of Ed25519 by the maker over the first three lines, under "escrow/v2/backup">
// The header names the vault (id, the journal's heads and entry count, the three files' names and
// sizes), the maker (name and signing key), when it was made, and one sealed copy of a fresh file
// key per recipient (crypto_box_seal to their X25519 key). The payload is
//   escrow-backup-payload/2\n head <N>\n <N bytes>\n journal <M>\n <M bytes>\n keys <K>\n <K bytes>\n
// holding the three files of the vault (vault-2.md §3) byte for byte.
//
// Checks on restore, in order (nothing is written until all pass; every failure is
// Error(integrity), exit 3): structure → the maker's signature → the destination (never over a
// file, never over another vault) → a recipient slot for the restorer → AEAD → the payload
// matches the header → the whole vault from its bytes (replay.hpp verify_vault: the head file,
// every journal entry authorised by the state before it, every key line against the state) → the
// maker and the restorer are active members with those keys → this machine's cache: an entry it
// verified of this vault (at any place) that the backup lacks makes the backup stale (a restore
// would be a loss; --allow-rollback accepts it, journaled) → test-decryption of every version the
// restorer can open. Only then are the files written (keys, head, journal: the journal's creation
// is the commit point, as init's), and the restored vault opened as every command opens it (its
// cache place seeded from the full replay) with the restore journaled in it.
#pragma once

#include <escrow/crypto.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/identity.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history::backup {

constexpr std::string_view k_format = "escrow-backup/2";
constexpr std::string_view k_payload_format = "escrow-backup-payload/2";
constexpr std::string_view k_signature_label = "escrow/v2/backup";
constexpr std::size_t k_max_backup_size = std::size_t{1} << 30;
constexpr std::size_t k_max_recipients = 1024;

struct Recipient
{
  std::string name;
  std::string fingerprint;
  crypto::BoxPublicKey box_pk{};
  Bytes sealed_key; // crypto_box_seal(file key) to box_pk
};

struct FileSize
{
  std::string name; // the file's name when backed up ("escrow.vault", "escrow.journal", "escrow.keys")
  std::uint64_t size = 0;
};

struct Header
{
  std::string vault_id;            // b64 of the 16-byte vault id
  std::vector<std::string> heads;  // b64 of the journal's heads (L order)
  std::uint64_t entries = 0;       // journal entries
  FileSize head;
  FileSize journal;
  FileSize keys;
  Timestamp created_at = 0;
  std::string maker; // member name
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
// base64, unknown or missing header fields, wrong key sizes). An escrow-backup/1 file (a v1
// vault's) is refused as an unsupported version.
BackupFile parse_backup(std::string_view bytes, std::string_view what);
// The file's bytes: parse_backup(serialize_backup(f)) == f, and serialize_backup(parse_backup(b))
// == b for every b that parses.
std::string serialize_backup(const BackupFile& file);
// The bytes the signature covers (the first three lines).
std::string_view signed_part(std::string_view bytes);

// The payload inside: the three files' bytes.
struct Payload
{
  std::string head;
  std::string journal;
  std::string keys;
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
  std::size_t secrets = 0;
  std::uint64_t journal_entries = 0;
  std::uint64_t bytes = 0;
  std::vector<std::string> recipients; // "name (fingerprint)"
  std::string entry;                   // b64 hash of the journal entry recording it
  Json notify;
  Json to_json() const;
};

// Reads `escrow identity show --public` files for --to. Error(usage) for a private identity.
std::vector<PublicIdentity> read_recipients(const std::vector<std::filesystem::path>& files);

// With a write session (the lock makes the three files one consistent set): verifies the whole
// vault from its bytes (as `verify`), journals a `backup` event first (so that the backup holds
// it and restoring it on this machine is not a loss), encrypts the three files to the recipients,
// signs as the session's member, writes the file atomically (0600, never over an existing file
// unless told; a failed write is journaled too), and runs the notify hook (`backup`, no value).
BackupResult make_backup(VaultSession& session, const BackupOptions& options);

// --- escrow restore ----------------------------------------------------------------------------

struct RestoreOptions
{
  std::filesystem::path file;
  std::filesystem::path to;    // directory; created if missing
  bool allow_rollback = false; // accept a backup that lacks entries this machine verified (journaled)
  bool reconnect = false;      // run every connector's verify against the current values
  // The restorer's session options (state home, identity, clock, host); vault_path and branch are
  // those of the destination (the restored vault's cache place).
  VaultSessionOptions session;
};

struct ConnectorCheck
{
  std::string connector;
  std::string kind;
  std::string result; // verified | failed | unchecked
  std::string detail; // why unchecked, or the first failure (redacted)
  std::size_t secrets = 0;    // bound secrets checked
  std::size_t failed = 0;
  std::size_t unreadable = 0; // bound secrets whose value the restorer cannot read
};

struct RestoreResult
{
  std::filesystem::path head;
  std::filesystem::path journal;
  std::filesystem::path keys;
  std::string vault_id;
  std::string maker;
  Timestamp made_at = 0;
  std::size_t secrets = 0;
  std::size_t members = 0;
  std::uint64_t journal_entries = 0;
  std::size_t signatures = 0;
  std::size_t decrypted = 0;  // versions the restorer opened and decrypted
  std::size_t unreadable = 0; // versions the restorer holds no key of
  std::size_t lost = 0;       // entries this machine verified that the backup lacks (allow_rollback)
  bool rolled_back = false;
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

// Checks everything, then writes the three files into `to` (refusing to replace any), opens the
// restored vault (this machine's cache place for it), journals a `restore` event in it (after a
// `rollback-accepted` event when allow_rollback was needed), and, if asked, re-verifies the
// connectors; then the notify hook (`restore`).
RestoreResult restore(const RestoreOptions& options);

} // namespace escrow::history::backup
