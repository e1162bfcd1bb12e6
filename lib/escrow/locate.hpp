// Finding the vault when none is named (no --vault, no ESCROW_VAULT), as git finds .git: from the
// current folder up to the root of the git work tree that holds it (the first folder with a
// ".git" entry, a folder or a worktree's file), the first folder holding `escrow.vault`.
// Outside a git work tree only the current folder is looked at, so a vault in some unrelated
// parent folder (a home directory) is never picked up by surprise.
#pragma once

#include <filesystem>
#include <optional>

namespace escrow {

inline constexpr const char* k_default_vault_name = "escrow.vault";

// The root of the git work tree holding `start` (an absolute folder); nullopt outside one.
std::optional<std::filesystem::path> git_work_tree_root(const std::filesystem::path& start);

// The vault found walking up from `start` (an absolute folder), as a path relative to `start`
// ("escrow.vault", "../../escrow.vault"); nullopt when there is none.
std::optional<std::filesystem::path> find_vault(const std::filesystem::path& start);

} // namespace escrow
