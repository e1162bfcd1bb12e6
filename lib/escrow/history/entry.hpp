// Journal entries of escrow-vault/2 (docs/design/vault-2-operations.md §1.1).
//
// One entry per line of `escrow.journal`, its canonical compact JSON:
//   { "action", "actor", "detail"? (events only), "format"? (genesis only: "escrow-journal/2"),
//     "hash", "host", "op"? ({args, writes}: ok operations only), "parents": [b64 32],
//     "result": "ok"|"denied"|"failed", "sig", "ts": "YYYY-MM-DDTHH:MM:SSZ", "vault": b64 16,
//     "why"? }
//   hash = BLAKE2b-256("escrow/v2/entry" || 0x00 || vault_id(16 raw) || canonical(entry without hash, sig))
//   sig  = Ed25519 by `actor` over BLAKE2b-256("escrow/v2/entry-sig" || 0x00 || hash(32 raw))
//
// parse_entry() is strict: the line must be exactly the canonical form of what it parses to
// (so one entry has one spelling and one hash), every field typed and in range, nothing unknown,
// and the hash must be the hash of the content. Whether the signature verifies, and with whose
// key, depends on the state before the entry: verify_signature() takes the key.
#pragma once

#include <escrow/history/op.hpp>
#include <escrow/identity.hpp>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace escrow::history {

inline constexpr std::string_view k_journal_format = "escrow-journal/2";
constexpr std::size_t k_max_parents = 64;

// Entries that change no state (§1.3), in the order their names sort.
// backup, drill, import, rehearsal, restore, rollback_accepted: the ops group's records (a backup
// made, a compromise drill, a bulk import's summary, a rotation rehearsal, a restore and a stale
// restore accepted with --allow-rollback); value-free facts in detail, like every event.
enum class EventKind {
  audit_compare, backup, drill, exec, import, merge, rehearsal, restore, reveal, rollback_accepted
};
std::string_view event_kind_name(EventKind kind);
std::optional<EventKind> parse_event_kind(std::string_view name);

// An entry's action: an operation kind or an event kind (the names never collide).
using Action = std::variant<OpKind, EventKind>;
std::string action_name(const Action& action);
std::optional<Action> parse_action(std::string_view name);

enum class Result { denied, failed, ok };
std::string_view result_name(Result result);
std::optional<Result> parse_result(std::string_view name);

struct Entry
{
  bool genesis_format = false; // "format": "escrow-journal/2" (the genesis entry, and only it)
  VaultId vault{};
  std::string actor;
  Timestamp ts = 0;
  std::string host;
  std::vector<Hash> parents; // [] for the genesis only
  Action action = EventKind::reveal;
  Result result = Result::ok;
  std::optional<Op> op;        // ok operations only
  std::optional<std::string> why;
  std::optional<Json> detail;  // events and refusals only: value-free facts
  Hash hash{};
  crypto::Signature sig{};

  bool is_operation() const { return op.has_value(); }
};

// The structural rules of an entry and of its operation (check_args), independent of any state.
// Throws Error(`kind`) naming `what`.
void check_entry(const Entry& entry, ErrorKind kind, std::string_view what);

// The canonical JSON of an entry, with or without "hash" and "sig".
Json entry_to_json(const Entry& entry, bool with_seal = true);
// The journal line (no final newline).
std::string dump_entry(const Entry& entry);
// The hash the entry's content determines (its "hash" field is ignored).
Hash compute_hash(const Entry& entry);
// Sets hash and sig, signing as `author` (local keys or the agent). Checks the entry first
// (Error(usage) naming `what`) and that author is the entry's actor.
void seal_entry(Entry& entry, const Identity& author, std::string_view what = "entry");
// Whether sig is the actor's signature of hash, for the actor key the caller found in the state
// before the entry, and hash is the entry's content hash.
[[nodiscard]] bool verify_signature(const Entry& entry, const crypto::SignPublicKey& actor_key);

// Strict parse of one journal line (without its "\n"); Error(integrity) naming `what`.
Entry parse_entry(std::string_view line, std::string_view what);
// The hashes of every complete line of `journal` that parses as an entry (a torn last line and
// the lines that do not parse are left out: they are the replay's findings).
std::set<Hash> entry_hashes(std::string_view journal);

// vault_id = H16("escrow/v2/vault-id", canonical {"added_at","box_pk","name","salt","sign_pk"})
VaultId derive_vault_id(const GenesisMember& member, Timestamp added_at);

// First 12 characters of the b64 hash (messages).
std::string short_hash(const Hash& hash);

} // namespace escrow::history
