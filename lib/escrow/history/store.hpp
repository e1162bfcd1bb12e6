// The three files of an escrow-vault/2 vault on disk (docs/design/vault-2.md §3, D7): the head
// `escrow.vault`, the journal `escrow.journal`, the key store `escrow.keys`, and the lock
// `escrow.vault.lock` (lock.hpp, as v1).
//
// Reading is strict and bounded: the head (head_file.hpp, ≤ 64 KiB), the journal (≤
// k_max_journal_size, each line ≤ k_max_journal_line; a final fragment without its "\n" is a torn
// write: reported, never read as an entry, cut off by the next write), the keys file (opened
// lazily, mapped; keys_file.hpp). Every failure is one line naming the file.
//
// Writing is the crash-safe order of D7, under the lock:
//   1. keys: the new keys file (lines added, garbage removed) to a temp file, fsync, rename,
//      fsync the folder;
//   2. journal: the entry's line appended, fdatasync — the COMMIT POINT;
//   3. head: the new head file by rename (AtomicFile).
// A crash before 2 leaves key lines no entry references (ignored by every reader, removed by the
// next write); a crash between 2 and 3 leaves a head file that is behind the journal (allowed,
// rewritten by the next operation). Events (reads, refusals) are step 2 alone.
//
// Nothing here judges an entry: the session (vault_session.hpp) authorises and applies before it
// asks the store to write.
#pragma once

#include <escrow/history/entry.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/lock.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace escrow::history {

constexpr std::uint64_t k_max_journal_size = std::uint64_t{4} << 30; // 4 GiB
constexpr std::size_t k_max_journal_line = 16 * 1024 * 1024;          // vault-2.md §3.2

// Where a vault's files are: the journal and the keys file are named after the head file
// (`X.vault` → `X.journal`, `X.keys`; any other name N → `N.journal`, `N.keys`).
struct VaultPaths
{
  std::filesystem::path head;
  std::filesystem::path journal;
  std::filesystem::path keys;
  std::filesystem::path lock;

  static VaultPaths of(const std::filesystem::path& head);
};

// The steps of a write, in order; a test hook can stop a write after any of them (a crash).
enum class WriteStep { keys_written, journal_appended, head_written };

struct StoreOptions
{
  std::chrono::milliseconds lock_wait = std::chrono::seconds(30);
  // Called after each step of a write (tests throw from it to simulate a crash there).
  std::function<void(WriteStep)> after_step;
};

class Store
{
public:
  // Opens an existing vault. `lock`: take the vault lock first (a writer), so what is read is
  // what the write will follow. A v1 head file is refused (Error(integrity) with a hint).
  static Store open(const std::filesystem::path& head, bool lock, StoreOptions options = {});

  // Creates a new vault whose journal is the genesis entry alone and whose keys file is empty.
  // Refuses (Error(usage)) when any of the three files exists, except leftovers of an init that
  // stopped before its journal existed (a v2 head and an empty keys file of the same vault id,
  // and no journal): those are replaced. Order: keys, head, journal (the journal's creation is the
  // commit point). Holds the lock afterwards.
  static Store create(const std::filesystem::path& head, const Entry& genesis, StoreOptions options = {});

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  const VaultPaths& paths() const;
  const HeadFile& head() const;
  bool locked() const;
  // Takes the lock (a read session that must write) and re-reads the head file.
  void lock();
  // Releases the lock (a read session after journaling an event).
  void unlock();

  // The journal's size in bytes without a torn final fragment, as of the last read.
  std::uint64_t journal_size() const;
  // Whether the journal ended in a fragment without "\n" (a torn write) when last read.
  bool torn_tail() const;
  // The journal's complete lines from `offset` (a line start) to its end; re-reads the file's size
  // first. Error(integrity) naming the journal if it is larger than the limit or a line is longer
  // than k_max_journal_line.
  std::string read_journal(std::uint64_t offset = 0);
  // The one complete line starting at `offset` (without "\n"), or nullopt when the journal holds
  // no complete line there.
  std::optional<std::string> read_line_at(std::uint64_t offset);

  // The keys file, opened (mapped) on first use and after every write.
  const KeysFile& keys();

  // D7: writes the keys file as the current one with `add` inserted and the line keys `remove`
  // deleted (skipped when both are empty), appends the entry's line, then writes `next_head`.
  // Requires the lock. A torn final fragment is cut off before the append. Returns the journal
  // line appended (with its newline), which the caller's cache records rather than dump again.
  std::string append(const Entry& entry, std::span<const SealedLine> add, const std::set<std::string>& remove,
                     const HeadFile& next_head);
  // An event (a read, a refusal): the journal append alone. Requires the lock (so its parents are
  // the journal's heads: the session re-reads what was appended since it opened). Returns the line.
  std::string append_event(const Entry& entry);
  // `escrow audit restore` (vault-2-replay.md §6): replaces the whole journal with `text` (complete
  // lines) by an atomic rename (temp file, fsync, rename, fsync the folder). Requires the lock.
  // Nothing is judged here: the caller proves the result by opening the vault again.
  void replace_journal(std::string_view text);
  // The git lock of rotation (vault-2-merge.md §6): undoes a phase 1 whose push was rejected, or
  // that a crash interrupted before it was published. Cuts the journal back to `journal_size`
  // (durably), then writes `keys` (when given) and `head` back by rename. Requires the lock.
  // Error(io) when the journal is already shorter than `journal_size`.
  void undo_appends(std::uint64_t journal_size, std::string_view head, std::optional<std::string_view> keys);
  // Rewrites the keys file without the line keys `remove` (garbage no entry names). Requires the lock.
  void remove_key_lines(const std::set<std::string>& remove);

  struct Impl;

private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

} // namespace escrow::history
