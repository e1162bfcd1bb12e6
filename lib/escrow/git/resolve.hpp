// `escrow resolve` in a git work tree (docs/design/vault-2-merge.md §5; docs/TEAM.md "Conflicts"):
// the merge `git pull` / `git merge` left unmerged because the journal driver found operations
// that do not commute. The driver wrote nothing: the work tree's escrow.journal is this clone's
// (ours, index stage :2:, plus any event appended since), theirs is stage :3:; escrow.keys and
// escrow.vault were merged by their drivers. history/resolve.hpp decides; this reads the sides,
// keeps the choices made so far (in the git folder, `escrow-resolve.json`, bound to MERGE_HEAD),
// and once every conflict has a choice writes the three files (D7 order, under the vault lock) and
// `git add`s them; `git commit` then finishes the merge. The choices are voids (--keep), exposed
// rotations (--keep-exposed) and settled rotation races (ENV/NAME --current VID).
#pragma once

#include <escrow/clock.hpp>
#include <escrow/history/resolve.hpp>
#include <escrow/history/unresolved.hpp>
#include <escrow/identity.hpp>
#include <escrow/rotation/git_lock.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace escrow::git {

struct ResolveOptions
{
  enum class Action { list, keep, suggested, keep_exposed, current };
  std::filesystem::path vault_path;
  std::chrono::milliseconds lock_wait{30000};
  Action action = Action::list;
  std::size_t number = 0;                         // keep: 1-based conflict number
  history::MergeSide keep = history::MergeSide::theirs;
  std::string secret;                             // current: ENV/NAME of the rotation race
  std::string vid;                                // current: the version to make current
  std::function<Identity()> identity;             // loads (and unlocks) the resolver's identity
  Timestamp now = 0;
  std::string host = "localhost";
};

struct ResolveReport
{
  history::MergeAnalysis analysis;  // the merge after this run's choice (what is left)
  std::vector<history::Hash> voided_now; // the operations this run's choice voids (closure included)
  std::vector<history::Hash> exposed_now; // the rotations this run's choice keeps exposed
  std::vector<history::RaceResolution> settled_now; // the rotation races this run's choice settles
  std::optional<history::Entry> entry;   // the resolve entry, when this run settled the merge
  std::size_t garbage_lines = 0;
  std::vector<std::string> staged;       // the files `git add`ed (relative to the work tree's top)
};

// Error(usage) outside a work tree, with no merge in progress, or when the journal is not
// unmerged (nothing to resolve); Error(integrity) for a forged side; keep: Error(usage) for a
// conflict number out of range, Error(access) for a void beyond the resolver's authority,
// Error(failed) for what cannot be settled here (a rotation race under --suggested) or a proof
// that fails; current: Error(usage) for a secret without a race or a version not in it. Every
// error leaves every file byte-identical (the choices file included).
ResolveReport resolve_merge(const ResolveOptions& options);

// For every command's session while a merge is unresolved (history/unresolved.hpp): a function
// returning what git holds of a merge it stopped on the journal of `vault_path` (theirs' journal,
// stage :3:, and the choices recorded so far), nullopt when no merge is in progress (one stat of
// `git_dir`/MERGE_HEAD: no git process then) or the journal is not unmerged.
std::function<std::optional<history::UnresolvedMerge>()> unresolved_merge_source(const std::filesystem::path& vault_path,
                                                                                 const std::filesystem::path& git_dir);

// After a resolve entry settled a rotation race: `git add` of the three files again (what the
// re-apply wrote), and `git commit --no-edit` finishing the merge in progress (before the re-apply
// runs under the git lock: its fetch and push need no merge in progress). Error(io) naming git's
// first line of error.
void stage_vault(const std::filesystem::path& vault_path);
void commit_merge(const std::filesystem::path& vault_path);

struct Reapplied
{
  std::vector<rotation::Outcome> outcomes; // one per race, in order; a failed one is !ok()
  rotation::LockedRun run;                 // what the git lock did (notes, warnings, publishing)
};

// A settled rotation race's chosen version re-applied to every connector (rotation/v2.hpp
// `reapply`, one per race of the resolve entry), under the git lock when it applies
// (rotation::git_lock_applies of `lock.vault_path`, `lock.no_push`): the merge is committed first
// (commit_merge) and `note` told so; else in the work tree of the merge, whose files are `git
// add`ed again afterwards (stage_vault), also when the run throws (what it wrote belongs to the
// merge too). A connector's failure is an Outcome that is not ok(); errors of the run are rethrown.
Reapplied reapply_races(const rotation::GitLockOptions& lock, rotation::Options rotate_options,
                        const std::vector<history::RaceResolution>& races,
                        const std::function<void(const std::string&)>& note);

} // namespace escrow::git
