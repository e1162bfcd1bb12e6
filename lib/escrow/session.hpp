// Opening a vault for a command: the ONE place that locates the files, takes the lock, cleans up
// after killed writers, reads and verifies the vault, checks it against this machine's pins
// (trust on first use of the genesis admin, and rollback), unlocks the identity and checks that
// it is a member. Every command goes through it; none re-implements it.
//
// Write order (DESIGN §7): append the journal entry (fsync), then atomically replace the vault
// whose "journal_head" names that entry.
#pragma once

#include <escrow/clock.hpp>
#include <escrow/error.hpp>
#include <escrow/identity.hpp>
#include <escrow/journal.hpp>
#include <escrow/lock.hpp>
#include <escrow/session_options.hpp>
#include <escrow/vault.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace escrow {

enum class Mode { read, write };

class Session
{
public:
  static Session open(const SessionOptions& options, Mode mode);
  // init: creates a new vault and journal (refuses to overwrite).
  static Session create(const SessionOptions& options);

  Session(Session&&) = default;
  ~Session();

  Vault& vault() { return *m_vault; }
  const Vault& vault() const { return *m_vault; }
  const Identity& identity() const { return m_identity; }
  const MemberRecord& me() const;
  Timestamp now() const { return m_now; }
  const Journal& journal() const { return m_journal; }
  const SessionOptions& options() const { return m_options; }
  const std::filesystem::path& vault_path() const { return m_options.vault_path; }

  // Journals an event that does not change the vault (a reveal, an exec, a denied access).
  // Takes the lock for the append if this session does not hold it.
  std::string record(JournalEntry entry);
  // Journals `entry` and writes the vault's next revision (write sessions only). In a git work
  // tree, the first commit of a session runs check_history() first.
  void commit(JournalEntry entry);

  // In a git work tree: the vault's first-parent history only moves forward, the working vault
  // is not older than HEAD's, the working journal keeps every entry HEAD's has
  // (escrow/git/history.hpp). Error(integrity) naming the commit otherwise. Runs once per
  // session (write sessions run it when opened); returns warnings (healed rollbacks), one line
  // each. Outside a work tree, or before the first commit, it checks nothing.
  std::vector<std::string> check_history();

  // The key of this machine's pins for this vault in known.json: the vault id, and in a git
  // work tree the place too (escrow/git/repo.hpp, Place), so that each clone and branch has its
  // own rollback pin.
  const std::string& pin_key() const { return m_pin_key; }

  // THE way to journal a refusal: `entry` with result "denied" and the reason in its detail,
  // through record(). The vault is not written.
  void record_refusal(JournalEntry entry, const Error& error);
  // Runs `body`; an access refusal (Error(access)) is journaled with record_refusal before it
  // propagates. Other errors (usage, integrity) are not journaled.
  template<typename Body>
  decltype(auto) refusing(const JournalEntry& entry, Body&& body)
  {
    try {
      return body();
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::access) {
        record_refusal(entry, error);
      }
      throw;
    }
  }

  // Makes a read session a write session: takes the vault lock and re-reads and re-verifies the
  // vault under it (references into the old vault are invalid afterwards). The identity stays
  // unlocked: a reader that turns out to need a write (a grant's first use) unlocks once.
  void upgrade();
  bool writable() const { return m_lock.has_value(); }

private:
  Session(SessionOptions options);
  void check_pins();
  void check_membership();
  // With journal_head: the journal pin too, in the same write (pin_journal's fields).
  void update_pins(std::int64_t revision, const std::string& head, const std::string& journal_head = {},
                   std::uint64_t journal_size = 0);

  SessionOptions m_options;
  std::optional<FileLock> m_lock;
  std::optional<Vault> m_vault;
  Identity m_identity;
  Journal m_journal;
  Timestamp m_now = 0;
  std::optional<std::int64_t> m_rollback_from; // the pinned revision --allow-rollback went below
  std::string m_pin_key;
  bool m_detached = false; // a detached HEAD: history, not a pin, says what is fresh
  std::optional<std::vector<std::string>> m_history; // check_history() ran (its warnings)
};

// escrow init: a new vault and journal with the identity as genesis admin (refuses to overwrite
// either), journaled "init". Returns the write session on it.
Session create_vault(const SessionOptions& options);

// The pins kept per vault in <state_dir>/known.json.
struct Pin
{
  std::string genesis; // fingerprint
  std::int64_t revision = 0;
  std::string head;
  std::string journal_head;       // the newest journal entry appended (or verified) here; "" = none
  std::uint64_t journal_size = 0; // the journal's size in bytes just after it
};
std::optional<Pin> read_pin(const std::filesystem::path& state_dir, const std::string& vault_id);
// Records the journal's newest entry seen on this machine (after each append, and after a clean
// `audit verify`), so that cutting off the newest entries is detected. No-op for an unpinned vault.
void pin_journal(const std::filesystem::path& state_dir,
                 const std::string& vault_id,
                 const std::string& head,
                 std::uint64_t size);

} // namespace escrow
