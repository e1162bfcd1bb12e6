#include <escrow/git/repo.hpp>

#include <escrow/error.hpp>
#include <escrow/locate.hpp>
#include <escrow/util/file.hpp>
#include <escrow/util/process.hpp>

#include <fcntl.h>

#include <system_error>

namespace escrow::git {

namespace fs = std::filesystem;

namespace {

constexpr std::chrono::minutes k_git_timeout{10};

std::string trim_newline(std::string text)
{
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

// The nearest existing folder at or above `path`.
fs::path existing_folder(const fs::path& path)
{
  std::error_code ignored;
  fs::path folder = fs::absolute(path, ignored);
  if (!fs::is_directory(folder, ignored)) {
    folder = folder.parent_path();
  }
  while (!folder.empty() && !fs::is_directory(folder, ignored) && folder != folder.parent_path()) {
    folder = folder.parent_path();
  }
  return folder;
}

} // namespace

std::string Run::first_error() const
{
  std::size_t start = 0;
  while (start < err.size()) {
    std::size_t end = err.find('\n', start);
    if (end == std::string::npos) {
      end = err.size();
    }
    std::string line = err.substr(start, end - start);
    if (!line.empty() && line.rfind("hint:", 0) != 0) {
      return line;
    }
    start = end + 1;
  }
  return fmt::format("exit status {}", status);
}

bool FileStatus::unmerged() const
{
  return index == 'U' || work == 'U' || (index == 'A' && work == 'A') || (index == 'D' && work == 'D');
}

Run run_git_in(const fs::path& folder, const std::vector<std::string>& args, std::size_t limit)
{
  util::ProcessSpec spec;
  spec.argv = {"git", "-C", folder.string()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.extra_env = {{"LC_ALL", "C"}, {"GIT_TERMINAL_PROMPT", "0"}, {"GIT_LITERAL_PATHSPECS", "1"}};
  spec.capture_limit = limit;
  spec.timeout = k_git_timeout;
  util::ProcessResult result = util::run_process(spec);
  if (result.out.size() > limit || result.err.size() > limit) {
    fail(ErrorKind::io, "git {}: more than {} bytes of output", args.empty() ? "" : args[0], limit);
  }
  if (result.timed_out) {
    fail(ErrorKind::io, "git {}: no answer within {} minutes", args.empty() ? "" : args[0], k_git_timeout.count());
  }
  return Run{result.exit_code, std::move(result.out), std::move(result.err)};
}

std::optional<Repo> Repo::find(const fs::path& path)
{
  const fs::path folder = existing_folder(path);
  // No git process at all outside a work tree (the common case of a vault in a plain folder).
  if (folder.empty() || !git_work_tree_root(folder)) {
    return std::nullopt;
  }
  Run run;
  try {
    run = run_git_in(folder, {"rev-parse", "--show-toplevel"});
  } catch (const Error&) {
    return std::nullopt; // git is not installed
  }
  if (!run.ok()) {
    return std::nullopt;
  }
  const std::string top = trim_newline(run.out);
  if (top.empty()) {
    return std::nullopt; // a bare repository or the inside of .git
  }
  return Repo(fs::path(top));
}

std::string Repo::relative(const fs::path& path) const
{
  std::error_code ignored;
  const fs::path absolute = fs::weakly_canonical(fs::absolute(path, ignored), ignored);
  const fs::path top = fs::weakly_canonical(m_top, ignored);
  const fs::path rel = absolute.lexically_relative(top);
  if (rel.empty() || *rel.begin() == "..") {
    fail(ErrorKind::usage, "{}: not inside the git work tree {}", path.string(), m_top.string());
  }
  return rel.generic_string();
}

Run Repo::run(const std::vector<std::string>& args, std::size_t limit) const
{
  return run_git_in(m_top, args, limit);
}

Run Repo::run_checked(const std::vector<std::string>& args, std::size_t limit) const
{
  Run result = run(args, limit);
  if (!result.ok()) {
    fail(ErrorKind::io, "git {}: {}", args.empty() ? "" : args[0], result.first_error());
  }
  return result;
}

std::optional<std::string> Repo::head() const
{
  Run result = run({"rev-parse", "-q", "--verify", "HEAD^{commit}"});
  if (!result.ok()) {
    return std::nullopt;
  }
  return trim_newline(result.out);
}

std::optional<std::string> Repo::branch() const
{
  Run result = run({"symbolic-ref", "-q", "--short", "HEAD"});
  if (!result.ok()) {
    return std::nullopt;
  }
  return trim_newline(result.out);
}

std::optional<Upstream> Repo::upstream() const
{
  Run ref = run({"rev-parse", "-q", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"});
  if (!ref.ok() || trim_newline(ref.out).empty()) {
    return std::nullopt;
  }
  Upstream upstream;
  upstream.ref = trim_newline(ref.out);
  const std::optional<std::string> name = branch();
  if (name) {
    upstream.remote = config_get("branch." + *name + ".remote").value_or("");
  }
  if (upstream.remote.empty() || upstream.remote == ".") {
    return std::nullopt; // a local branch as upstream: nothing to fetch or push
  }
  return upstream;
}

bool Repo::in_head(const std::string& rel) const
{
  return run({"cat-file", "-e", "HEAD:" + rel}).ok();
}

std::vector<FileStatus> Repo::status(const std::vector<std::string>& rels) const
{
  std::vector<std::string> args{"status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=all", "--"};
  args.insert(args.end(), rels.begin(), rels.end());
  const Run result = run_checked(args);
  std::vector<FileStatus> found;
  std::size_t start = 0;
  while (start < result.out.size()) {
    std::size_t end = result.out.find('\0', start);
    if (end == std::string::npos) {
      end = result.out.size();
    }
    const std::string_view record(result.out.data() + start, end - start);
    if (record.size() > 3) {
      FileStatus status;
      status.index = record[0];
      status.work = record[1];
      status.path = std::string(record.substr(3));
      found.push_back(std::move(status));
    }
    start = end + 1;
  }
  return found;
}

bool Repo::merging() const
{
  return run({"rev-parse", "-q", "--verify", "MERGE_HEAD"}).ok();
}

std::optional<std::string> Repo::commit(const std::vector<std::string>& rels, const std::string& message) const
{
  std::vector<std::string> changed;
  for (const FileStatus& status : this->status(rels)) {
    if (status.unmerged()) {
      fail(ErrorKind::failed, "{}: unmerged (a merge is unfinished); nothing was committed", status.path);
    }
    if (status.changed()) {
      changed.push_back(status.path);
    }
  }
  if (changed.empty()) {
    return std::nullopt;
  }
  if (merging()) {
    fail(ErrorKind::failed, "{}: a git merge is in progress; finish it (git commit) or abort it (git merge --abort) first",
         m_top.string());
  }
  std::vector<std::string> add{"add", "--"};
  add.insert(add.end(), changed.begin(), changed.end());
  run_checked(add);
  // `git commit -- PATHS` commits exactly these paths; whatever else the user staged stays staged.
  std::vector<std::string> commit{"commit", "-q", "-m", message, "--"};
  commit.insert(commit.end(), changed.begin(), changed.end());
  run_checked(commit);
  return head();
}

std::optional<std::string> Repo::config_get(const std::string& key) const
{
  Run result = run({"config", "--local", "--get", key});
  if (!result.ok()) {
    return std::nullopt;
  }
  return trim_newline(result.out);
}

void Repo::config_set(const std::string& key, const std::string& value) const
{
  run_checked({"config", "--local", key, value});
}

} // namespace escrow::git

namespace escrow::git {

namespace {

std::string read_small(const fs::path& path)
{
  std::string text;
  try {
    const auto file = util::open_regular_if_exists(path, O_RDONLY, util::Links::follow);
    if (file) {
      text = util::read_all(*file, path, 64 * 1024);
    }
  } catch (const Error&) {
    text.clear();
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

} // namespace

std::string Place::key() const
{
  return top.string() + "@" + (branch ? *branch : std::string("(detached)"));
}

std::optional<Place> place_of(const fs::path& vault_path)
{
  std::error_code ignored;
  fs::path folder = fs::absolute(vault_path, ignored).parent_path();
  folder = fs::weakly_canonical(folder, ignored);
  const std::optional<fs::path> top = git_work_tree_root(folder);
  if (!top) {
    return std::nullopt;
  }
  // ".git" is the repository folder, or (a linked worktree, a submodule) a file "gitdir: PATH".
  fs::path git_dir = *top / ".git";
  if (!fs::is_directory(git_dir, ignored)) {
    const std::string link = read_small(git_dir);
    if (link.rfind("gitdir: ", 0) != 0) {
      return std::nullopt;
    }
    git_dir = fs::path(link.substr(8));
    if (git_dir.is_relative()) {
      git_dir = *top / git_dir;
    }
  }
  Place place;
  place.top = *top;
  place.git_dir = git_dir;
  const std::string head = read_small(git_dir / "HEAD");
  if (head.empty()) {
    return std::nullopt; // not a repository git would recognise
  }
  if (head.rfind("ref: refs/heads/", 0) == 0) {
    place.branch = head.substr(16);
  } else if (head.rfind("ref: ", 0) == 0) {
    place.branch = head.substr(5);
  }
  return place;
}

} // namespace escrow::git
