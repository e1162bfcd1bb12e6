// Reading a file's first-parent history, and the freshness check built on it (issue 9 item 5;
// docs/TEAM.md "Rollbacks").
//
// First-parent history is the branch's own line: the commits made on it and the merges into it,
// not the commits of the branches merged. Along it, escrow's files only ever move forward:
//   - the vault's "revision" never decreases (a decrease is a commit that put an older vault back:
//     `git revert`, `git checkout OLD -- escrow.vault` committed, a hand-picked side of a merge);
//   - the working vault is not older than HEAD's (an uncommitted `git checkout HEAD~3 --
//     escrow.vault`);
//   - the working journal still holds every entry HEAD's journal holds (as a byte prefix: the
//     journal is append-only).
// A decrease that a later commit undid (revision back to the highest seen) is "healed": reported
// as a warning, not an error, so a team that reverted the revert can go on.
//
// A branch made from an older commit, or a second clone on the same machine, has a history of
// its own that only moves forward: it is work, not a rollback.
//
// Cost: one `git log --first-parent -p -U0` over the vault (git diffs each commit's vault against
// its first parent in C; escrow reads only the changed "revision" lines) and one read of HEAD's
// journal. docs/PERFORMANCE.md has the figure on 1,000 commits.
#pragma once

#include <escrow/git/repo.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace escrow::git {

// The commits of HEAD's first-parent history that changed `rel`, newest first (`git log
// --first-parent --format=%H -- rel`).
std::vector<std::string> first_parent_commits(const Repo& repo, const std::string& rel, const std::string& rev = "HEAD");
// `git show REV:rel`; nullopt when the file is not in that commit.
std::optional<std::string> show(const Repo& repo, const std::string& rev, const std::string& rel);

// A place in first-parent history where the revision went down.
struct Rollback
{
  std::string commit;     // the commit that put the older vault in place
  std::string subject;    // its subject line (for messages)
  std::int64_t revision = 0;
  std::int64_t highest = 0;     // the highest revision before it
  std::string highest_commit;   // where that was committed
  std::string healed_by;        // the commit that brought the revision back ("" = not healed)
};

// The vault's first-parent history folded up to a commit: a pure function of (commit, path), so
// it is cached per machine (history.json in the state folder) and the next check reads only the
// commits made since (one `git rev-list --first-parent` finds the newest cached one).
struct VaultHistory
{
  std::string at;                  // the commit folded up to ("" = none yet)
  std::size_t commits = 0;         // commits that changed the revision
  std::vector<Rollback> rollbacks; // healed ones
  std::optional<Rollback> open;    // a rollback not (yet) healed
  std::optional<std::int64_t> highest;
  std::string highest_commit;
  std::optional<std::int64_t> head_revision;
  std::string head_commit; // the newest commit that changed the vault
};

// Reads the vault's revisions along HEAD's first-parent history (commits where the vault was
// replaced by another vault, a new vault_id, start over). `cache` is a folder for the folded
// history ("" = no cache).
VaultHistory read_vault_history(const Repo& repo, const std::string& vault_rel, const std::filesystem::path& cache = {});

struct FreshnessInput
{
  std::string vault_rel;
  std::string journal_rel;
  std::int64_t working_revision = 0;
  std::string working_vault_id;
  std::string working_journal; // the journal's bytes as on disk
  std::filesystem::path cache;  // this machine's state folder ("" = no cache)
};

struct FreshnessReport
{
  std::optional<std::string> head;     // HEAD's commit (nullopt: no commit yet)
  std::size_t commits = 0;             // vault commits read
  std::vector<std::string> warnings;   // healed rollbacks, one line each
};

// Throws Error(integrity) naming the commit when the vault's first-parent history went back, the
// working vault is older than HEAD's, or the working journal lost an entry HEAD's journal has.
FreshnessReport check_freshness(const Repo& repo, const FreshnessInput& input);

} // namespace escrow::git
