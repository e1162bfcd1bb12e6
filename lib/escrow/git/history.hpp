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
#include <unordered_map>
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

// ---- escrow-vault/2 (docs/design/vault-2-replay.md §7) ----
//
// Along HEAD's first-parent history the journal is append-only: every commit's journal holds
// every entry of the commit before it. Reading every commit's journal would be slow; the head
// file is the anchor: each commit that changed `escrow.vault` names the journal heads its write
// saw, and the work tree's journal (verified by the session) gives the DAG. A commit whose heads
// do not reach the heads of the last good commit before it dropped entries (a pushed `git revert`,
// an old file committed): Error(integrity) naming it, unless a later commit reaches them again
// (healed: a warning). A work tree whose journal does not reach HEAD's heads is older than HEAD
// (`git checkout HEAD~3 -- escrow.vault escrow.journal escrow.keys`, uncommitted): Error(integrity)
// naming HEAD. A commit naming heads the work tree's journal lacks is judged by the commits after
// it (and by the work tree, last). A branch made from an older commit has a first-parent history
// of its own that only grows: it is work, not a rollback.
//
// Cost: one `git log --first-parent -p -U0` of the head file (git diffs each commit's head file
// against its first parent; only the changed head lines are read) and one walk over the DAG:
// O(commits + entries).

// The work tree's journal, verified: each entry's parents (b64 hashes).
using JournalParents = std::unordered_map<std::string, std::vector<std::string>>;

struct JournalHistoryReport
{
  std::size_t commits = 0;           // head-file commits read
  std::vector<std::string> warnings; // healed rollbacks, one line each
};

// `head_rel`, `journal_rel`: the head file and the journal relative to the top (messages);
// `heads`: the work tree's journal heads; `file_heads`: the work tree's head file's heads (a head
// file put back alone, `git checkout HEAD~3 -- escrow.vault`, is older than HEAD's too).
JournalHistoryReport check_journal_history(const Repo& repo, const std::string& head_rel,
                                           const std::string& journal_rel, const JournalParents& parents,
                                           const std::vector<std::string>& heads,
                                           const std::vector<std::string>& file_heads);

} // namespace escrow::git
