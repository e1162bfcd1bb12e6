// The per-machine verified-state cache of escrow-vault/2 (docs/design/vault-2-replay.md §3, §6).
//
// What THIS machine has verified of one vault, at one place (a journal file and a git branch):
// the journal position it reached, the state it folded, and every entry it verified. Never
// committed, never read from another machine; trusted only to skip work this machine already
// did, and to notice when history it saw has gone (a journal shortened, replaced by an older copy,
// or cut in the middle): a loss, refused until restored or acknowledged by a `journal-loss`
// operation.
//
// Where: <state_home>/escrow/vaults/<vault id hex>/<place hex>/, place =
// H16("escrow/v2/cache-place", absolute journal path || 0x00 || branch). The state home is passed
// in (the CLI gives $XDG_STATE_HOME or ~/.local/state); the library reads no environment.
//
// Files of a place (written atomically or appended then committed; verified.json last, it is the
// commit point):
//   verified.json   {"format":"escrow-verified/5","git"?:{"checked_through"},
//                   "log":{"ahead"?,"chain","count","size","tail"?:[line without its "\n"…]},
//                   "position":{"entries","heads","last_hash","last_line"?,"last_offset","lines",
//                   "size","ts"},
//                   "snapshot":H("escrow/v2/cache-snapshot", the snapshot's first line),
//                   "state":digest,"vault_id"}
//   state3-<digest hex>.snap  escrow-state/5 (/3, /4 read too): line 1 {"blocks":[{"first","hash","lines",
//                   "records","size"}…],"format","genesis","index":BYTES,"listing","lost","vault_id"}; the index,
//                   one line per record sorted by path: PATH "\t" b64 record hash "\t" LENGTH, in
//                   blocks of 256 lines (each block: its first path, H("escrow/v2/cache-index-block",
//                   its bytes), its line count, its bytes of index and of records); then the
//                   records, each its canonical text and "\n", in the index's order (a record's
//                   offset = the sum of the lengths + 1 before it), then the listing (listing.hpp)
//   entries.log     one line per verified entry, in order: b64 hash, ts, action, actor (only the
//                   first log.size − tail bytes, log.count − tail lines: a longer file is the
//                   rest of an interrupted save), then log.tail's lines; log.chain = c(count) over
//                   all of them, c(0) = 32 zero bytes,
//                   c(i) = H("escrow/v2/cache-log", c(i-1) || line i with its "\n")
//
// Lazy reading (what keeps an open's cost independent of the journal and of the number of
// records): load() reads verified.json and the snapshot's first line (checked against the hash
// verified.json names), and reads the policy; a lookup reads the one index block that can hold
// its path (checked against its hash) and then the record (its text checked against the index's
// hash, parsed strictly; a save copies unchanged ones). Once every block is read (list, verify, a write), the index's
// (path, hash) pairs must hash to the state digest. entries.log is read only by entries() — the
// slow path's loss check, `audit verify`, `audit restore`, backup — which checks its count, size
// and chain. An escrow-verified/4 place is read as /5 with nothing ahead, an /3 one as /4 without
// a tail. A place in an older format
// (escrow-verified/1 or /2) is read for its log only: the session replays the journal and
// rewrites the place.
// Flushes: an event's save (the state unchanged, room in the tail) writes verified.json alone,
// synced but without the folder's fsync — a crash leaves it as it was or as it became, and an
// older cache is only behind the journal (the entry was flushed there first). So does a small
// write's save (the state changed by at most k_max_log_ahead entries since the snapshot): the
// snapshot and the position stay, and the new entries join the log's tail as entries verified
// AHEAD of the position; the next open replays them from the snapshot and requires each of them
// (vault-2-replay.md §3, "A snapshot that lags"). Every other save appends to entries.log durably,
// writes the snapshot of the state, and commits verified.json with the folder synced.
// A malformed or inconsistent cache file is Error(integrity) naming it (hint: remove the place to
// verify the vault from its journal again, which forgets what this machine saw).
#pragma once

#include <escrow/history/entry.hpp>
#include <escrow/history/state.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace escrow::history {

// One entry this machine verified (what a loss message names).
struct VerifiedEntry
{
  Hash hash{};
  Timestamp ts = 0;
  std::string action;
  std::string actor;
  // How many records (not key lines) the entry's operation writes, when known (verified_entry):
  // not kept in the log (an entry read back from it says 0) and not part of what it is. A save
  // leaves only entries that write at most k_max_ahead_writes records ahead of the snapshot, so
  // that what an open replays again stays small (a bulk share or a batched rotation writes it).
  std::size_t writes = 0;

  friend bool operator==(const VerifiedEntry& a, const VerifiedEntry& b)
  {
    return a.hash == b.hash && a.ts == b.ts && a.action == b.action && a.actor == b.actor;
  }
};
VerifiedEntry verified_entry(const Entry& entry);

// Where the verification reached.
struct Position
{
  std::uint64_t size = 0;        // bytes of complete lines verified
  std::uint64_t last_offset = 0; // where the last verified line starts
  Hash last_hash{};              // and its entry hash
  std::vector<Hash> heads;       // the journal's heads there, in linearization order
  std::uint64_t entries = 0;     // entries verified (the replay's count)
  std::uint64_t lines = 0;       // complete lines of the journal up to `size`
  Timestamp ts = 0;              // the largest ts of the heads
  // H("escrow/v2/cache-last-line", the last verified line without its "\n"): the fast path finds
  // that line unchanged, signature included, by this hash alone. Zero when unknown (a place
  // written as escrow-verified/3): the line's signature is checked instead.
  Hash last_line{};

  friend bool operator==(const Position&, const Position&) = default;
};

// The log of verified entries as verified.json names it: `count` lines, `size` bytes, and the
// chain hash over them (a log edited, truncated or swapped is detected when it is read). Its last
// lines, `tail` (each with its "\n", at most k_max_log_tail), are held in verified.json itself;
// the others are the first size − (the tail's bytes) bytes of entries.log. A reader's event (a
// reveal, an exec) adds its line to the tail, so it costs one file written, not three flushes;
// the tail is moved to entries.log when it is full or when the state changes.
struct LogSummary
{
  std::uint64_t count = 0;
  std::uint64_t size = 0;
  Hash chain{};
  std::vector<std::string> tail;
  // The log's last `ahead` entries were verified past the position: the snapshot does not hold
  // their effects yet. The next open replays the journal from the position and must meet each of
  // them there (else it is a loss, found by the slow path); they are not logged twice.
  std::uint64_t ahead = 0;

  std::uint64_t tail_bytes() const;
  std::uint64_t file_size() const { return size - tail_bytes(); }  // bytes of entries.log

  friend bool operator==(const LogSummary&, const LogSummary&) = default;
};
inline constexpr std::size_t k_max_log_tail = 64;
// At most this many entries ahead of the snapshot: what every open replays again until a save
// writes the snapshot anew (a save that would go past it does).
inline constexpr std::size_t k_max_log_ahead = 16;
inline constexpr std::size_t k_max_ahead_writes = 8;

// The next chain hash after `line` (one line of entries.log with its "\n").
Hash log_chain(const Hash& previous, std::string_view line);

struct Verified
{
  Position position;
  State state; // lazily read from the snapshot (RecordMap)
  Hash state_digest{}; // verified.json's "state": the digest of `state`
  LogSummary log;
  // An escrow-verified/1 place (before lazy reading): only its log is read (its chain is not
  // known: log.chain is unchecked); the session replays the journal and rewrites the place.
  bool legacy = false;
  // The git first-parent check (vault-2-replay.md §7): the HEAD commit through which this place
  // checked that the journal only grew along first-parent history ("" = never checked, or not
  // in a git work tree).
  std::string git_checked_through;
};

class Cache
{
public:
  // The place of a vault's journal on a branch ("" outside git).
  static std::filesystem::path place(const std::filesystem::path& state_home, const VaultId& vault_id,
                                     const std::filesystem::path& journal, std::string_view branch);

  Cache(std::filesystem::path dir, VaultId vault_id);

  const std::filesystem::path& dir() const { return m_dir; }

  // nullopt when the place holds nothing yet. Reads verified.json and the snapshot's index
  // (checked against the state digest); the records are read on first use.
  std::optional<Verified> load() const;

  // Every entry of the log `log` names (load()'s or save()'s summary), checked against it.
  std::vector<VerifiedEntry> entries(const LogSummary& log) const;
  // The same, one entry at a time, read by blocks (the memory held is one block): `each` sees every
  // entry before the log's count, size and chain are checked at its end (then this throws), so
  // what it gathered counts only when this returns.
  void for_each_entry(const LogSummary& log, const std::function<void(VerifiedEntry&&)>& each) const;

  // Saves the position, the state and the git check, with the log `base` (a summary this place
  // holds: load()'s or an earlier save()'s; {} = write the whole log anew) followed by `added`,
  // the entries verified after the position `base` was saved with and its entries ahead, in the
  // journal's order. `digest` = the state's digest when the caller knows it. When `base` is the
  // place's log, the state is not one the place has a snapshot of, base.ahead + added fit
  // (k_max_log_ahead, k_max_log_tail), and no entry of `added` writes more than
  // k_max_ahead_writes records or changes the roster or the acknowledged losses (the snapshot
  // keeps every member key this machine verified), the place
  // keeps its position and snapshot and `added` joins the entries ahead of them (verified.json
  // alone is written). `ahead` (forget() only): how many of
  // the log's last entries lie past `position`. Returns the new summary, or nullopt when another
  // process changed the place's log since `base` (its save stands; nothing written).
  std::optional<LogSummary> save(const Position& position, const State& state, const std::string& git_checked_through,
                                 const LogSummary& base, const std::vector<VerifiedEntry>& added,
                                 std::optional<Hash> digest = std::nullopt, std::uint64_t ahead = 0) const;

  // The hashes of the log's entries ahead of its position (its last log.ahead), oldest first.
  // From verified.json's tail when they are there, else from entries.log (checked as entries()).
  std::vector<Hash> ahead_entries(const LogSummary& log) const;

  // Forgets the entries `hashes` (the git lock's undo of a phase 1 a crash interrupted,
  // vault-2-merge.md §6: entries never published, about to be cut from the journal): they leave the
  // log, and a position on one of them names the last entry kept, so the next open replays the journal (slow path) instead of
  // continuing past them. Nothing when the place holds none of them.
  void forget(const std::set<Hash>& hashes) const;

private:
  std::filesystem::path m_dir;
  VaultId m_vault_id{};
  // The snapshot load() or save() last saw: (state digest, hash of its first line), so that an
  // event's save does not read the snapshot's first line again.
  mutable std::optional<std::pair<Hash, Hash>> m_snapshot;
};

// The entries of `verified` absent from `present` and not acknowledged lost (`acknowledged`: the
// state's `lost`), oldest first.
std::vector<VerifiedEntry> missing_entries(const std::vector<VerifiedEntry>& verified, const std::set<Hash>& present,
                                           const std::set<Hash>& acknowledged);

// The refusal of a loss (vault-2-replay.md §6): Error(integrity) naming the journal, how many
// entries and the newest, with the restore and acknowledge hints.
Error loss_error(const std::filesystem::path& journal, const std::vector<VerifiedEntry>& missing);

} // namespace escrow::history
