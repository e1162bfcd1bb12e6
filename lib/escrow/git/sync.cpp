#include <escrow/git/sync.hpp>

#include <escrow/canonical.hpp>
#include <escrow/error.hpp>
#include <escrow/lock.hpp>
#include <escrow/util/escape.hpp>

#include <random>
#include <set>
#include <thread>

namespace escrow::git {

namespace {

std::string trim(std::string text)
{
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

std::size_t count_behind(const Repo& repo)
{
  const Run run = repo.run_checked({"rev-list", "--count", "HEAD..@{upstream}"});
  return static_cast<std::size_t>(std::stoull(trim(run.out).empty() ? "0" : trim(run.out)));
}

std::size_t count_ahead(const Repo& repo)
{
  const Run run = repo.run_checked({"rev-list", "--count", "@{upstream}..HEAD"});
  return static_cast<std::size_t>(std::stoull(trim(run.out).empty() ? "0" : trim(run.out)));
}

// Merges the fetched upstream: a fast-forward or a clean merge. Returns the commits brought in.
std::size_t integrate(const Repo& repo, const SyncOptions& options, const std::string& upstream,
                      std::optional<FileLock>& lock)
{
  const std::size_t behind = count_behind(repo);
  if (behind == 0) {
    return 0;
  }
  const Run merge = repo.run({"merge", "--no-edit", "--no-stat", "-q", "@{upstream}"});
  if (!merge.ok()) {
    const bool conflicted = repo.merging();
    if (conflicted) {
      (void)repo.run({"merge", "--abort"});
      // The merge driver's own lines (escrow-vault/2: the operations that conflict), as hints.
      std::vector<std::string> conflicts;
      std::size_t start = 0;
      while (start < merge.err.size()) {
        std::size_t end = merge.err.find('\n', start);
        if (end == std::string::npos) {
          end = merge.err.size();
        }
        const std::string line = merge.err.substr(start, end - start);
        if (line.rfind("escrow: conflict: ", 0) == 0 || line.rfind("escrow: error: ", 0) == 0) {
          conflicts.push_back(line.substr(line.find(": ") + 2));
        }
        start = end + 1;
      }
      std::string files;
      for (const auto& file : options.files) {
        files += (files.empty() ? "" : ", ") + file;
      }
      Error error(ErrorKind::failed,
                  fmt::format("{}: git could not merge {} into this clone's commits (both sides changed them); "
                              "the merge was undone and nothing was pushed",
                              files, upstream));
      for (const std::string& conflict : conflicts) {
        error.hint(conflict);
      }
      error.hint(!options.conflict_hint.empty()
                   ? options.conflict_hint
                   : std::string("the merge driver merges escrow-vault/2 files only; redo this clone's change on top "
                                 "of theirs: docs/TEAM.md, \"When sync reports a conflict\""));
      throw error;
    }
    throw Error(ErrorKind::failed, fmt::format("git merge {}: {}", upstream, merge.first_error()))
      .hint("commit or stash your own changes to the files git names, then run escrow sync again");
  }
  if (options.check) {
    lock.reset();
    options.check();
    lock.emplace(options.lock, options.lock_wait);
  }
  return behind;
}

std::string upstream_commit(const Repo& repo)
{
  return trim(repo.run_checked({"rev-parse", "@{upstream}"}).out);
}

void pause_before_retry(int attempt)
{
  // Two clones that raced once would race again in lockstep: wait a random while first.
  std::random_device random;
  std::uniform_int_distribution<int> jitter(100, 400);
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random) * attempt));
}

} // namespace

SyncReport sync(const Repo& repo, const SyncOptions& options)
{
  SyncReport report;
  const std::optional<std::string> branch = repo.branch();
  const std::optional<Upstream> upstream = repo.upstream();
  const std::optional<std::string> merge_ref = branch ? repo.config_get("branch." + *branch + ".merge") : std::nullopt;
  if (!branch || !upstream || !merge_ref) {
    throw Error(ErrorKind::usage,
                fmt::format("{}: {} has no upstream to pull from and push to", repo.top().string(),
                            branch ? "branch " + *branch : std::string("a detached HEAD")))
      .hint(branch ? fmt::format("publish the branch once: git push -u origin {}", *branch)
                   : std::string("check out a branch first: git switch BRANCH"));
  }
  report.upstream = upstream->ref;
  if (options.attempts < 1) {
    fail(ErrorKind::usage, "--attempts: at least 1");
  }
  std::optional<FileLock> lock;
  lock.emplace(options.lock, options.lock_wait);
  if (repo.merging()) {
    throw Error(ErrorKind::failed, fmt::format("{}: a git merge is in progress", repo.top().string()))
      .hint("finish it (git commit) or abort it (git merge --abort), then run escrow sync again");
  }
  report.committed = repo.commit(options.files, options.message);
  for (int attempt = 1;; ++attempt) {
    const Run fetch = repo.run({"fetch", "--quiet", upstream->remote});
    if (!fetch.ok()) {
      fail(ErrorKind::io, "git fetch {}: {}", upstream->remote, fetch.first_error());
    }
    report.pulled += integrate(repo, options, upstream->ref, lock);
    if (count_ahead(repo) == 0) {
      return report; // nothing of ours to publish
    }
    report.push_attempts = attempt;
    const std::string before = upstream_commit(repo);
    const Run push = repo.run({"push", "--porcelain", upstream->remote, "HEAD:" + *merge_ref});
    if (push.ok()) {
      report.pushed = true;
      return report;
    }
    // Lost the race (someone pushed between our fetch and our push: "[rejected] (fetch first)",
    // or a remote that saw the ref move under it: "failed to lock")? Then the upstream has moved:
    // fetch and look. Anything else (authentication, a hook's refusal) is final.
    const Run again = repo.run({"fetch", "--quiet", upstream->remote});
    const bool lost_race = again.ok() && upstream_commit(repo) != before;
    if (!lost_race) {
      const std::size_t refused = push.out.find("[remote rejected]");
      fail(ErrorKind::io, "git push {}: {}", upstream->remote,
           refused != std::string::npos ? trim(push.out.substr(refused, push.out.find('\n', refused) - refused))
                                        : push.first_error());
    }
    if (attempt >= options.attempts) {
      throw Error(ErrorKind::io,
                  fmt::format("git push {}: rejected {} times (others pushed first each time); this clone's commits "
                              "are kept, unpushed",
                              upstream->remote, attempt))
        .hint("run escrow sync again (--attempts N tries more times)");
    }
    pause_before_retry(attempt);
  }
}

} // namespace escrow::git
