// A command's session on an escrow-vault/2 vault (docs/design/vault-2-replay.md §3, vault-2.md
// D4, D7, D8): the one way a command reads the state and the one way it changes it.
//
// open(): head file → this machine's cache place → the fast path (the cached state, and a replay
// of only the journal's lines after the cached position, when the last verified line is intact
// where it was) or the slow path (a full replay, then the loss check: every entry this machine
// verified must still be in the journal, unless a `journal-loss` operation acknowledged it) →
// the cache advanced. A loss is Error(integrity) before anything is handed out: no read and no
// write acts on a journal known to be damaged.
//
// submit(): authorize against the current state (refusal: Error(access), exit 4, nothing
// written) → apply (the writes check) → the store's D7 write (keys, journal, head) → the cache.
// record(): an event (a read, a refusal) appended to the journal alone.
//
// The identity is loaded only when a command needs it (submit, record, identity()): public reads
// (list, show, verify) need none. The session judges nothing itself: history::replay (replay.hpp)
// verifies what it reads, history::authorize and history::apply decide what it writes.
#pragma once

#include <escrow/clock.hpp>
#include <escrow/history/cache.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/history/replay.hpp>
#include <escrow/history/state.hpp>
#include <escrow/history/store.hpp>
#include <escrow/history/unresolved.hpp>
#include <escrow/identity.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace escrow::history {

// The key lines an operation adds (sealed by the command, material.hpp).
struct Material
{
  std::vector<SealedLine> lines;
};

struct VaultSessionOptions
{
  std::filesystem::path vault_path = "escrow.vault";
  // The root of this machine's state ($XDG_STATE_HOME, or ~/.local/state): the CLI passes it.
  std::filesystem::path state_home;
  // The checked-out branch's full ref name in a git work tree, "" elsewhere (cache place).
  std::string branch;
  Clock clock = Clock::fixed(0);
  std::string host = "localhost"; // the entries' "host"
  std::chrono::milliseconds lock_wait = std::chrono::seconds(30);
  // Loads and unlocks the identity (called at most once, when a command first needs it).
  std::function<Identity()> identity;
  // `audit ack-loss` only: open despite a loss (lost() lists it); submit accepts only the
  // journal-loss operation then, and the cache is not advanced until it is acknowledged.
  bool acknowledging_loss = false;
  // `audit restore`: never the fast path. A rewritten journal may hold its last verified line at
  // the same place while lines before it changed: the proof of a restore replays every line.
  bool replay_all = false;
  // Tests: called after each step of a write (throw to simulate a crash there).
  std::function<void(WriteStep)> after_step;
  // The git first-parent check (vault-2-replay.md §7), given by the CLI in a git work tree
  // (git/history.hpp check_journal_history): `head` returns HEAD's commit ("" = no commit yet);
  // `check` gets the verified journal's DAG (b64 entry hash → parents' b64 hashes), its heads and
  // the head file's heads, throws Error(integrity) on a rollback and returns warnings. open() runs it, before the
  // cache advances, unless this place already checked through HEAD's commit
  // (verified.json git.checked_through) and the journal only grew since (fast path).
  struct HistoryCheck
  {
    std::function<std::string()> head;
    std::function<std::vector<std::string>(const std::unordered_map<std::string, std::vector<std::string>>& parents,
                                           const std::vector<std::string>& heads,
                                           const std::vector<std::string>& file_heads)>
      check;
  };
  std::optional<HistoryCheck> history_check;
  // `escrow verify`: run the history check even when this place checked through HEAD already.
  bool full_history_check = false;
  // `escrow verify`: keep the full replay open() made, if it made one (no cache, or the cache not
  // continued), for take_full_replay(): verify then checks the keys file against it instead of
  // replaying the journal a second time.
  bool keep_full_replay = false;
  // A merge git stopped on the journal (unresolved.hpp): what git holds of it while it is in
  // progress, nullopt otherwise. Given by the CLI in a git work tree (git/resolve.hpp
  // unresolved_merge_source); called once, by open().
  std::function<std::optional<UnresolvedMerge>()> unresolved_merge;
};

// The journal's bytes as a full replay read them, and that replay (replay.hpp).
struct FullReplay
{
  std::string journal;
  ReplayResult replay;
};

enum class Access { read, write };
// What a read serves: a secret's record (show) or its value (get, exec, inject).
enum class ReadKind { record, value };

class VaultSession
{
public:
  // Opens an existing vault. Access::write takes the vault lock first. During an unresolved merge
  // (unresolved.hpp) the session is ours' and Access::write is refused: Error(failed), nothing
  // written (neither the files nor this machine's cache place).
  static VaultSession open(VaultSessionOptions options, Access access);
  // escrow init: a new vault whose genesis member is the identity, with `policy` (must hold "*").
  // Refuses to overwrite a vault (Error(usage)). Returns a write session on it.
  static VaultSession create(VaultSessionOptions options, const PolicyValue& policy,
                             std::optional<std::string> why = std::nullopt);

  VaultSession(VaultSession&&) noexcept;
  VaultSession& operator=(VaultSession&&) noexcept;
  ~VaultSession();

  const State& state() const;
  const VaultId& vault_id() const;
  // The journal's heads as verified (the parents of the next entry).
  const std::vector<Hash>& heads() const;
  const HeadFile& head_file() const;
  const VaultPaths& paths() const;
  const std::filesystem::path& cache_place() const;
  // How open() went: true when the cached state was continued (tests, bench).
  bool fast_path() const;
  // Warnings of the replay and of the cache, one line each (an unresolved merge's first).
  const std::vector<std::string>& warnings() const;
  // The merge git left unresolved, when there is one (unresolved.hpp): this session is ours'.
  const std::optional<Unresolved>& unresolved() const;
  // Before a secret's record or value is served: Error(failed) when an unresolved merge has it
  // (`secret`, ENV/NAME) in a conflict; for a value also when it has the identity's own member
  // record in one (the identity is loaded only then).
  void require_readable(std::string_view secret, ReadKind kind = ReadKind::value);
  // With keep_full_replay: the full replay open() made (once; nullopt when it continued the cache).
  std::optional<FullReplay> take_full_replay();
  // With acknowledging_loss: the entries this machine verified that the journal lost.
  const std::vector<VerifiedEntry>& lost() const;
  Timestamp now() const;
  bool writable() const;

  // The identity, loaded on first use; Error(access) unless it is an active member of the state
  // with the keys the state holds for that name.
  const Identity& identity();
  const Member& me();
  // The keys file (opened and mapped on first use).
  const KeysFile& keys();

  // Takes the lock (a read session that must write) and verifies what was appended meanwhile.
  // Refused (Error(failed)) during an unresolved merge.
  void upgrade();

  // Builds, authorises, applies and writes one operation entry by the identity. Returns it.
  // Error(access) when the rules refuse it, Error(usage) when it is malformed, Error(failed)
  // during an unresolved merge; then no file and no cache is touched.
  Entry submit(Args args, const Material& material = {}, std::optional<std::string> why = std::nullopt);

  // Appends an event entry (an EventKind with result ok, or an operation kind with result
  // denied/failed: a refusal) to the journal alone. `detail` must be value-free facts. Its
  // parents are the verified heads: during an unresolved merge, ours' only.
  Entry record(Action action, Result result, std::optional<Json> detail = std::nullopt,
               std::optional<std::string> why = std::nullopt);

  // The git lock of rotation (docs/design/vault-2-merge.md §6): a write session remembers the three
  // files' bytes and what it verified before phase 1 (checkpoint), and undo() puts all of it back —
  // the journal cut to its size then, the keys and head files' bytes, this session's view and this
  // machine's cache place (so the entries undone are not taken for a loss). Both require the lock.
  // The only removal of journal entries escrow ever makes: entries this run appended, never pushed.
  struct Checkpoint
  {
    std::uint64_t journal_size = 0;
    std::string head; // the head file's bytes
    std::string keys; // the keys file's bytes
    Position position;
    State state;
    std::vector<VerifiedEntry> log;
    std::string git_checked_through;
  };
  Checkpoint checkpoint();
  // Returns the hashes of the entries undone.
  std::vector<Hash> undo(const Checkpoint& checkpoint);
  // The hashes of the journal's entries after byte `offset` (a line start), as verified.
  std::vector<Hash> entries_after(std::uint64_t offset) const;
  // Rewrites the keys file without the lines no entry names (what every write does; after a crash
  // undo, the lines of the undone entries). Requires the lock. Returns how many were removed.
  std::size_t drop_garbage_key_lines();

  struct Impl;

private:
  explicit VaultSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

// The line keys ("LOGICAL#H24") of every key line `state` references.
std::set<std::string> referenced_line_keys(const State& state);

} // namespace escrow::history
