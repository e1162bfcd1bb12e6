// `escrow audit verify` on escrow-vault/2 (docs/AUDIT.md, vault-2-replay.md §2, §6): the whole
// vault from its bytes — the head file, every journal entry replayed and authorised by the state
// before it (hash, signature, author, parents, dates, writes, merges), every key line against the
// state (history::verify_vault) — and this machine's record of the entries it verified before
// (its cache place): every one of them must still be in the journal, unless a journal-loss
// operation acknowledged it.
//
// Unlike a command's session, which refuses at the first problem (a loss first), the check lists
// every problem it finds: each replay finding (typed, history::format_finding's one line), then
// the loss. Nothing is written; the cache is advanced only by a clean check (the session it then
// opens).
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/history/cache.hpp>
#include <escrow/history/replay.hpp>
#include <escrow/history/vault_session.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace escrow::audit {

struct JournalCheck
{
  history::FileNames names;
  std::vector<history::Finding> findings; // the replay's, by file then line
  std::vector<history::VerifiedEntry> lost; // entries this machine verified that the journal lacks
  std::uint64_t entries = 0;
  std::size_t signatures = 0;
  std::size_t key_lines = 0;
  std::vector<history::Hash> heads; // the journal's heads, in linearization order

  std::size_t errors() const;   // findings of severity error or conflict, and the loss (one)
  std::size_t warnings() const; // findings of severity warning
  bool ok() const { return errors() == 0; }
  // One line per problem, "<kind>: <format_finding>", and the loss as "lost-entries: …".
  std::vector<std::string> lines(bool with_info = false) const;
  // Throws the first problem: a replay error (Error(integrity), or Error(failed) for an unsealed
  // merge) with format_finding's message, else the loss (history::loss_error). No-op when ok().
  void require_ok() const;
  canonical::Json to_json() const;
};

// Checks the vault at options.vault_path and this machine's cache place for it (state_home,
// branch; an empty state_home checks the bytes only). No identity is needed and nothing is
// written.
//
// The journal is read and replayed in batches of `batch_lines` lines (history::replay_from from the
// previous batch's state): the memory held is the state, the heads, one batch and, with a cache
// place, one block of its log, walked beside the journal for the loss check (32 bytes per entry
// only after the two differ: another order, a missing entry). A journal the batches cannot judge alone (any
// problem, a journal-loss entry, a fork across a batch boundary, a head file naming an entry it
// lacks) is replayed whole, so what is reported is always the whole replay's.
inline constexpr std::size_t k_batch_lines = 4096;
JournalCheck check_journal(const history::VaultSessionOptions& options);
JournalCheck check_journal(const history::VaultSessionOptions& options, std::size_t batch_lines);

} // namespace escrow::audit
