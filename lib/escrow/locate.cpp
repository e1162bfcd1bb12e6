#include <escrow/locate.hpp>

#include <system_error>

namespace escrow {

namespace fs = std::filesystem;

namespace {

bool present(const fs::path& path)
{
  std::error_code ignored;
  return fs::exists(fs::symlink_status(path, ignored));
}

} // namespace

std::optional<fs::path> git_work_tree_root(const fs::path& start)
{
  for (fs::path folder = start;; folder = folder.parent_path()) {
    if (present(folder / ".git")) {
      return folder;
    }
    if (folder == folder.parent_path()) {
      return std::nullopt;
    }
  }
}

std::optional<fs::path> find_vault(const fs::path& start)
{
  if (present(start / k_default_vault_name)) {
    return fs::path(k_default_vault_name);
  }
  const std::optional<fs::path> root = git_work_tree_root(start);
  if (!root) {
    return std::nullopt;
  }
  fs::path up;
  for (fs::path folder = start; folder != *root && folder != folder.parent_path();) {
    folder = folder.parent_path();
    up /= "..";
    if (present(folder / k_default_vault_name)) {
      return up / k_default_vault_name;
    }
  }
  return std::nullopt;
}

} // namespace escrow
