// The audit journal ("<vault>.journal", JSON Lines beside the vault; DESIGN §6).
//
// One entry per line, its keys sorted (the canonical compact form):
//   { "action", "actor", "env"?, "host", "parents": [b64], "request"?, "result", "secret"?,
//     "ts", "vault", "version"?, "why"?, "detail"?, "hash", "sig" }
// hash = BLAKE2b-256 under "escrow/v1/journal" of the canonical entry without "hash" and "sig";
// sig  = the actor's Ed25519 signature of hash under "escrow/v1/journal".
// parents names the previous entry (two entries after a merge), so the journal is a hash-linked
// DAG; the vault's "journal_head" anchors its newest entry. Values never appear in it.
#pragma once

#include <escrow/clock.hpp>
#include <escrow/identity.hpp>
#include <escrow/records.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace escrow {

constexpr std::size_t k_max_journal_line = 64 * 1024;

struct JournalEntry
{
  Timestamp ts = 0;
  std::string actor;
  std::string action;
  std::string secret; // ENV/NAME or ""
  std::string env;
  std::optional<std::int64_t> version;
  std::string request;
  std::string why;
  std::string result = "ok"; // ok | denied | failed | rolled-back | pending | ...
  std::string host;
  std::string vault; // vault id (b64)
  Json detail = Json::object(); // small, value-free facts (connector names, redacted output)
  std::vector<std::string> parents;
  std::string hash; // b64
  std::string sig;  // b64
};

Json to_json(const JournalEntry& entry);
// Strict: unknown fields, wrong types → Error(integrity) naming `what`.
JournalEntry journal_entry_from_json(const Json& json, std::string_view what);
// The hash an entry must carry (b64).
std::string journal_entry_hash(const JournalEntry& entry);

// THE check of one journal entry, in two halves (used by rotation's replay and by `audit
// verify`, which reports them separately): the hash matches the content, and the signature
// verifies with the author's key under labels::k_journal. `stored_content`, when given, is the
// entry's canonical line without "hash" and "sig" as read from the file (the auditor hashes the
// stored bytes); otherwise the entry is re-serialised. Both throw Error(integrity) when "hash"
// or "sig" is not base64.
[[nodiscard]] bool journal_entry_hash_matches(const JournalEntry& entry,
                                              std::optional<std::string_view> stored_content = std::nullopt);
[[nodiscard]] bool journal_entry_signed_by(const JournalEntry& entry, ByteView sign_pk);
// Both halves; false (never a throw) for a malformed entry.
[[nodiscard]] bool journal_entry_authentic(const JournalEntry& entry, ByteView sign_pk);

// JSON Lines: the lines of `text` (without their '\n'; a last line without one included).
std::vector<std::string_view> split_json_lines(std::string_view text);

class Journal
{
public:
  // The journal beside a vault: "x.vault" → "x.journal" (else "<path>.journal").
  static std::filesystem::path path_for(const std::filesystem::path& vault_path);

  explicit Journal(std::filesystem::path path);
  const std::filesystem::path& path() const { return m_path; }

  // Hash of the newest entry ("" for an empty or missing journal); reads only the tail.
  std::string head() const;
  // Completes (parents = current head, host, vault, hash, sig) and appends one entry durably
  // (O_APPEND + fdatasync). Call under the vault lock. Returns the entry's hash. An unterminated
  // last line left by a killed writer is cut off first (its vault revision never landed).
  std::string append(JournalEntry entry, const Identity& actor, const std::string& vault_id) const;
  // Completes and signs an entry without writing it.
  static std::string seal(JournalEntry& entry, const Identity& actor);

  // Every entry, strictly parsed (not verified). Error(integrity) names the line.
  std::vector<JournalEntry> read_all() const;

private:
  std::filesystem::path m_path;
};

std::string host_name();

} // namespace escrow
