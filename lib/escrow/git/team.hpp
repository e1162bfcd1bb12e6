// The team commands' library operations (issue 9; docs/TEAM.md): what `escrow git-setup`,
// `escrow sync`, `escrow diff --textconv`, `escrow merge` and every command's set-up hint do,
// given the vault's path. None needs an identity: nothing here signs.
#pragma once

#include <escrow/git/setup.hpp>
#include <escrow/git/sync.hpp>

#include <chrono>
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
};
// Commits the vault and journal (message from the journal's new entries), pulls, checks the
// merged files' freshness (history.hpp), pushes, retries a lost push (sync.hpp has the statuses).
SyncReport sync_vault(const VaultSyncOptions& options);

// `escrow diff --textconv FILE`: the summary of FILE (summary.hpp).
std::string textconv(const std::filesystem::path& file);

// `escrow merge BASE OURS THEIRS [PATH]`: the driver arrives with escrow-vault/2. Until then it
// touches none of the files and throws Error(failed) saying how to resolve by hand, so git
// marks the path unmerged with OURS (a valid file, never conflict markers) in the work tree.
[[noreturn]] void merge_driver(const std::filesystem::path& base,
                               const std::filesystem::path& ours,
                               const std::filesystem::path& theirs);

} // namespace escrow::git
