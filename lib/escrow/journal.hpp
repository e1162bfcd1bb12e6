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

// What an entry records. The names (journal.cpp) exist only in the journal's JSON and in the
// output of `audit log`; an unknown name in a journal is Error(integrity) naming the line.
enum class JournalAction {
  init,
  add,
  reveal,
  exec,
  grant_used,
  share,
  unshare,
  member_add,
  member_remove,
  request,
  approve,
  deny,
  policy_set,
  connector_add,
  connector_remove,
  connect,
  disconnect,
  rotate_start,
  rotate,
  rotate_failed,
  rollback_start,
  rollback,
  rollback_failed,
  confirm,
  compromise,
  retire,
  allow_rollback,
  audit_compare,
  backup,         // escrow backup (docs/RECOVERY.md)
  restore,        // escrow restore, in the restored journal
  rehearsal,      // escrow rehearse: one entry per rehearsal, in the real journal
  rehearse_setup, // written only in a rehearsal's throwaway sandbox
  drill,          // escrow drill compromise
  import_secrets, // escrow import ("import")
  merge,          // written by `escrow merge` (DESIGN §6)
  connector_auth, // a connector's own credential read by whoever rotates (docs/CONNECTORS.md)
};
std::string_view journal_action_name(JournalAction action);
std::optional<JournalAction> parse_journal_action(std::string_view name);
// Every action, in declaration order.
const std::vector<JournalAction>& journal_actions();

enum class JournalResult { ok, denied, failed, pending, rolling_back, rolled_back, rollback_incomplete };
std::string_view journal_result_name(JournalResult result);
std::optional<JournalResult> parse_journal_result(std::string_view name);
const std::vector<JournalResult>& journal_results();
// JSON output writes the names.
void to_json(Json& json, JournalAction action);
void to_json(Json& json, JournalResult result);

struct JournalEntry
{
  Timestamp ts = 0;
  std::string actor;
  JournalAction action = JournalAction::init;
  std::string secret; // ENV/NAME or ""
  std::string env;
  std::optional<std::int64_t> version;
  std::string request;
  std::string why;
  JournalResult result = JournalResult::ok;
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

  // The same in two steps, so that a command can check everything it will write before the
  // journal grows (Session::commit): prepare() completes and signs the next entry (and cuts a
  // torn tail) without appending; append(sealed) appends it durably and returns the journal's
  // size before it, which undo() cuts back to when the vault write then fails. A failed append
  // leaves no fragment.
  struct Sealed
  {
    std::string hash;
    std::string line; // with its newline
  };
  Sealed prepare(JournalEntry entry, const Identity& actor, const std::string& vault_id) const;
  std::uint64_t append(const Sealed& sealed) const;
  void undo(std::uint64_t size) const;
  // Completes and signs an entry without writing it.
  static std::string seal(JournalEntry& entry, const Identity& actor);

  // Every entry, strictly parsed (not verified). Error(integrity) names the line.
  std::vector<JournalEntry> read_all() const;

private:
  std::filesystem::path m_path;
};

} // namespace escrow

template<>
struct fmt::formatter<escrow::JournalAction> : fmt::formatter<std::string_view>
{
  auto format(escrow::JournalAction value, fmt::format_context& ctx) const
  {
    return fmt::formatter<std::string_view>::format(escrow::journal_action_name(value), ctx);
  }
};
template<>
struct fmt::formatter<escrow::JournalResult> : fmt::formatter<std::string_view>
{
  auto format(escrow::JournalResult value, fmt::format_context& ctx) const
  {
    return fmt::formatter<std::string_view>::format(escrow::journal_result_name(value), ctx);
  }
};
