// `escrow sync` (issue 9 item 3; docs/TEAM.md): commit escrow's own changed files with a
// generated message, pull the upstream, push, and retry a push the remote rejected because
// someone pushed first — a bounded number of times.
//
// The whole run holds the vault lock, so no escrow command of this clone writes in between.
// Statuses (Error kinds; docs/TEAM.md lists them):
//   no upstream         Error(usage) → 2, before anything is committed
//   conflict            Error(failed) → 1: git could not merge the upstream; the merge is
//                       aborted, so the work tree is as after the commit (nothing lost: the
//                       commit stays local, unpushed)
//   push rejected       Error(io) → 5, after `attempts` rejected pushes
//   other git failures  Error(io) → 5 (network, authentication, a hook refusing)
// Pulling is `git fetch` then `git merge --no-edit` of the upstream: a fast-forward, or a merge
// git makes cleanly. escrow's merge driver (escrow-vault/2) will make concurrent vault writes
// merge; until then two clones that both wrote the vault conflict, and docs/TEAM.md says how
// to redo one side's change.
#pragma once

#include <escrow/git/repo.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::git {

struct SyncOptions
{
  std::vector<std::string> files;            // escrow's own files, relative to the top
  std::filesystem::path lock;                // the vault's lock file
  std::chrono::milliseconds lock_wait{30000};
  std::string message;                       // the commit message
  int attempts = 3;                          // pushes tried before giving up
  // Run after each pull that changed something, before pushing (the freshness check): an
  // Error stops the sync with nothing pushed. Run WITHOUT the vault lock (it may open an escrow
  // session, which takes the lock itself to append); the lock is taken again afterwards.
  std::function<void()> check;
  // How a conflict is explained (the hint of the exit-1 error); "" = the escrow-vault/1 text.
  std::string conflict_hint;
};

struct SyncReport
{
  std::string upstream;                 // "origin/main"
  std::optional<std::string> committed; // the commit made, if anything changed
  std::size_t pulled = 0;               // commits brought in from the upstream
  bool pushed = false;                  // something was pushed (false: already up to date)
  int push_attempts = 0;
  // escrow-vault/2: the signed merge entries sync appended (and committed) to seal a pull that
  // merged two lines of history; 0 when nothing needed sealing or no identity could sign.
  std::size_t sealed = 0;
  std::vector<std::string> notes; // one line each, for stderr
};

SyncReport sync(const Repo& repo, const SyncOptions& options);

} // namespace escrow::git
