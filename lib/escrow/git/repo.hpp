// The git work tree a vault lives in, driven through the `git` program (issue 9).
//
// escrow runs `git` as a child process (util::run_process: an argv vector, never a shell string,
// so no path or message taken from a user or a file is ever interpreted) rather than linking
// libgit2: the user's own git then applies the user's own configuration (hooks, credentials,
// signing, the merge driver and textconv escrow installs), exactly as at the terminal.
//
// Every run: `git -C <top> <args>`, with LC_ALL=C (stable output to parse), GIT_TERMINAL_PROMPT=0
// (a sync in CI fails instead of waiting for a user name), GIT_LITERAL_PATHSPECS=1 (a path is a
// path, never a glob) and a 10-minute timeout. Paths given to git are relative to the work
// tree's top, with '/' separators.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::git {

struct Run
{
  int status = -1;
  std::string out;
  std::string err;

  bool ok() const { return status == 0; }
  // git's first stderr line that says something ("fatal: ...", "error: ..."), for messages.
  std::string first_error() const;
};

// The upstream of the current branch (`git rev-parse --abbrev-ref @{upstream}`).
struct Upstream
{
  std::string remote; // "origin"
  std::string ref;    // "origin/main"
};

// A path's state in `git status --porcelain` terms.
struct FileStatus
{
  std::string path; // relative to the top
  char index = ' '; // X of XY ('?' untracked, 'U' unmerged, ...)
  char work = ' ';  // Y of XY
  bool unmerged() const;
  bool changed() const { return index != ' ' || work != ' '; }
};

class Repo
{
public:
  // The work tree holding `path` (a file or a folder, which need not exist yet: its nearest
  // existing folder is asked). nullopt outside a work tree, or when git is not installed.
  static std::optional<Repo> find(const std::filesystem::path& path);

  const std::filesystem::path& top() const { return m_top; }
  // `path` relative to the top ("escrow.vault", "ops/escrow.vault"); Error(usage) when it is
  // outside the work tree.
  std::string relative(const std::filesystem::path& path) const;

  // `git -C top args...`; output captured (at most `limit` bytes per stream, else Error(io)).
  Run run(const std::vector<std::string>& args, std::size_t limit = std::size_t{64} << 20) const;
  // The same, Error(io) "git ARGS[0]: <git's message>" unless it exits 0.
  Run run_checked(const std::vector<std::string>& args, std::size_t limit = std::size_t{64} << 20) const;

  // HEAD's commit id; nullopt on an unborn branch (no commit yet).
  std::optional<std::string> head() const;
  // The current branch ("main"); nullopt when HEAD is detached.
  std::optional<std::string> branch() const;
  std::optional<Upstream> upstream() const;
  // Whether `rel` is in HEAD's tree.
  bool in_head(const std::string& rel) const;
  // The state of these paths (those not listed are unchanged and tracked).
  std::vector<FileStatus> status(const std::vector<std::string>& rels) const;
  // A merge is in progress (MERGE_HEAD exists).
  bool merging() const;

  // Stages `rels` (git add) and commits exactly them with `message` (other staged changes of
  // the user stay staged and uncommitted). Returns the new commit, or nullopt when none of them
  // changed.
  std::optional<std::string> commit(const std::vector<std::string>& rels, const std::string& message) const;

  // Repository-local configuration.
  std::optional<std::string> config_get(const std::string& key) const;
  void config_set(const std::string& key, const std::string& value) const;

private:
  explicit Repo(std::filesystem::path top) : m_top(std::move(top)) {}
  std::filesystem::path m_top;
};

// Runs git in `folder` (no work tree needed), for Repo::find and tests.
Run run_git_in(const std::filesystem::path& folder, const std::vector<std::string>& args,
               std::size_t limit = std::size_t{64} << 20);

} // namespace escrow::git

namespace escrow::git {

// Where a vault file is checked out, read from the files alone (no git process: every command
// asks): the work tree's top and its branch. This machine's pins (session.hpp) are kept per
// place, so a second clone, or a branch made from an older commit, is not taken for a rollback
// of another (issue 9 item 5). nullopt outside a work tree.
struct Place
{
  std::filesystem::path top;
  std::optional<std::string> branch; // nullopt: a detached HEAD
  std::filesystem::path git_dir;     // the work tree's git folder (.git, or a linked worktree's)
  std::string key() const;           // "TOP@BRANCH", "TOP@(detached)"
};
std::optional<Place> place_of(const std::filesystem::path& vault_path);

} // namespace escrow::git
