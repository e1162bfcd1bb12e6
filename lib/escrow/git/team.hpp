// The team commands' library operations (issue 9; docs/TEAM.md): what `escrow git-setup`,
// `escrow sync`, `escrow diff --textconv`, `escrow merge` and every command's set-up hint do,
// given the vault's path. None needs an identity: nothing here signs.
#pragma once

#include <escrow/git/setup.hpp>
#include <escrow/git/sync.hpp>
#include <escrow/history/merge_files.hpp>
#include <escrow/history/vault_session.hpp>

#include <chrono>
#include <functional>
#include <filesystem>
#include <optional>
#include <string>

namespace escrow::git {

// git-setup for the vault at `vault_path`: Error(usage) outside a git work tree.
SetupReport setup_vault(const std::filesystem::path& vault_path);
// The same, for `init`: nullopt outside a work tree (nothing to set up).
std::optional<SetupReport> setup_vault_if_in_work_tree(const std::filesystem::path& vault_path);

// The one line a command prints on stderr when the vault is in a work tree that lacks the
// set-up (a fresh clone: .git/config is never cloned); nullopt when set up or outside git.
std::optional<std::string> setup_hint(const std::filesystem::path& vault_path);

struct VaultSyncOptions
{
  std::filesystem::path vault_path;
  std::filesystem::path state_dir; // this machine's (the history cache; "" = none)
  std::chrono::milliseconds lock_wait{30000};
  int attempts = 3;
  // escrow-vault/2 (the three files): `verify` opens the vault as every command does (the loss
  // check, the git first-parent check; throws to stop), before the commit and after each pull;
  // `seal` appends the signed `merge` entry naming the journal's heads when a pull left two
  // (vault-2-merge.md §7): `nothing` when there was nothing to seal, `unsigned_` when no identity
  // could sign (then the next escrow write seals it). Both run without the vault lock held.
  enum class Seal { nothing, sealed, unsigned_ };
  std::function<void()> verify;
  std::function<Seal()> seal;
};
// Commits escrow's files (message from the journal's new entries), pulls (escrow-vault/2: git
// merges through the driver, then sync seals the merge and commits that), checks the merged
// files (v1: freshness, history.hpp; v2: `verify`), pushes, retries a lost push (sync.hpp has the
// statuses).
SyncReport sync_vault(const VaultSyncOptions& options);

// The git first-parent check of an escrow-vault/2 vault at `vault_path` (history.hpp
// check_journal_history), for VaultSessionOptions::history_check; nullopt outside a work tree.
// Asking for HEAD costs one `git rev-parse`; the check itself runs only when HEAD moved.
std::optional<history::VaultSessionOptions::HistoryCheck> journal_history_check(const std::filesystem::path& vault_path);

// `escrow diff --textconv FILE`: the summary of FILE (history/textconv.hpp); one line naming its
// size for a file that is not escrow-vault/2.
std::string textconv(const std::filesystem::path& file);

struct DriverFiles
{
  std::filesystem::path base;   // %O
  std::filesystem::path ours;   // %A: also the result
  std::filesystem::path theirs; // %B
  std::string name;             // %P (the path in the work tree); "" when git did not pass it
};

// `escrow merge BASE OURS THEIRS [PATH]` (history/merge_files.hpp; docs/design/vault-2-merge.md):
// reads the three versions, merges escrow-vault/2 files by their format and, when the merge is
// valid and changes ours, replaces OURS atomically. On a conflict nothing is written (OURS keeps
// this clone's bytes; git marks the path unmerged) and the outcome lists the conflicts. A forged
// or malformed file: Error(integrity); mismatched formats: Error(integrity); escrow-vault/1
// files: Error(failed) saying how to merge by hand. Every error leaves every file byte-identical.
// Needs no identity and signs nothing (D9).
history::MergeOutcome merge_driver(const DriverFiles& files);

} // namespace escrow::git
