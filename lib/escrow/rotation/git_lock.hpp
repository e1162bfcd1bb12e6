// Git is the lock for rotation (issue 9 item 4; docs/design/vault-2-merge.md §6; docs/TEAM.md).
//
// When the vault's repository has an upstream — and neither `--no-push` nor the git setting
// `escrow.push = false` says otherwise — `rotate`, `rotate --due`, `rotate --resume`, `rollback`
// and `compromise` run under it:
//
//   before the session opens   fetch; an interrupted phase 1 left by a crash (a *tentative* marker
//                              in this machine's cache place) is resolved: published upstream →
//                              kept (rotate --resume finishes it), else undone; then, when the
//                              upstream has new commits, they are merged first, exactly as
//                              `escrow sync` does (commit, pull through the driver, seal, push)
//   phase 1 (create)           the marker is written BEFORE the rotate-start exists; the entry is
//                              appended, the three files committed and pushed — the push is the
//                              compare-and-swap of the branch. Rejected → phase 1 undone exactly
//                              (the journal cut back to its size, the keys and head bytes put
//                              back, the commit dropped with `git reset --soft`, the index entries
//                              of the three files put back, the undone entries dropped from the
//                              cache place), Error(io), exit 5: no connector ran
//                              (rotate --due: one rotate-start for every due secret, so one
//                              commit and one push per run, and a lost push undoes all of it)
//   phases 2-3                 the connectors, then the finish (rotation/v2.hpp)
//   after the run              the finish is committed and pushed like `escrow sync` (a rejected
//                              push: pull through the merge driver, push again, up to 5 times),
//                              when the run wrote anything; after an error, only when a phase 1
//                              was published (what follows it must reach the team too)
//   rotate --due               leaves alone a pending rotation younger than an hour (it may be
//                              running in another clone), instead of resuming it
//
// Without an upstream (or with --no-push / escrow.push=false) nothing here runs: the rotation is
// exactly the local one. Git is run as sync runs it (git/repo.hpp): argv only, never a value in an
// argument, the environment or a commit message (messages name secrets, versions and reasons).
#pragma once

#include <escrow/error.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/rotation/v2.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace escrow::rotation {

struct GitLockOptions
{
  std::filesystem::path vault_path;
  std::filesystem::path state_home; // this machine's (VaultSessionOptions::state_home)
  std::string branch;               // the cache place's branch (VaultSessionOptions::branch)
  std::chrono::milliseconds lock_wait{30000};
  bool no_push = false;  // --no-push: no lock, no commit, no push (a rotation as without git)
  int finish_attempts = 5;
  // Opens the command's session (the CLI's: its identity, the git history check): Access::write for
  // the run, Access::read for the pull's checks and the merge seal (as `escrow sync`).
  std::function<history::VaultSession(history::Access)> open;
};

struct LockedRun
{
  bool locked = false;               // the run took the git lock
  std::string upstream;              // "origin/main" when locked
  std::vector<std::string> notes;    // one line each, for stderr (resolved, pulled, pushed)
  std::vector<std::string> warnings; // the session's
  bool start_pushed = false;         // a phase 1 was published
  bool finish_pushed = false;        // the finish (or anything after phase 1) was pushed
  // The run finished but publishing it failed (the push rejected 5 times, the network): the
  // outcomes stand (the connectors hold what the local vault says); `escrow sync` publishes it.
  std::optional<Error> finish_error;
};

// Whether a rotation of the vault at `vault_path` takes the git lock (an upstream, and pushing not
// turned off); what `rotate --dry-run` reports.
bool git_lock_applies(const std::filesystem::path& vault_path, bool no_push);

// Runs `body` with a Rotator on a write session opened by `options.open`, under the git lock when
// it applies (`rotate_options.publisher` is set for it), else as a plain local run. A lost phase-1
// push throws Error(io) after undoing phase 1 ("someone else pushed first"); every other error of
// `body` is rethrown after what was published is pushed (best effort).
LockedRun run_rotation(const GitLockOptions& options, Options rotate_options,
                       const std::function<void(v2::Rotator&)>& body);

} // namespace escrow::rotation
