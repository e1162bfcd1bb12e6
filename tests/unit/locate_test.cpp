// locate: the vault is found walking up to the git work tree's root, as git finds .git.
#include "foundation_support.hpp"

#include <escrow/locate.hpp>

#include <fstream>

using namespace escrow;
namespace fs = std::filesystem;

namespace {

struct Tree
{
  Tree()
  {
    char pattern[] = "/tmp/escrow-locate-XXXXXX";
    root = ::mkdtemp(pattern);
  }
  ~Tree()
  {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
  void touch(const fs::path& path) const
  {
    fs::create_directories((root / path).parent_path());
    std::ofstream(root / path) << "x";
  }
  fs::path root;
};

} // namespace

TEST_CASE("locate: a vault in the folder itself", "[locate]")
{
  Tree tree;
  tree.touch("escrow.vault");
  CHECK(find_vault(tree.root) == fs::path("escrow.vault"));
}

TEST_CASE("locate: from a subfolder of a git work tree up to its root", "[locate]")
{
  Tree tree;
  fs::create_directories(tree.root / "repo/.git");
  tree.touch("repo/escrow.vault");
  fs::create_directories(tree.root / "repo/services/api/src");
  CHECK(git_work_tree_root(tree.root / "repo/services/api/src") == tree.root / "repo");
  CHECK(find_vault(tree.root / "repo/services/api/src") == fs::path("../../../escrow.vault"));
  CHECK(find_vault(tree.root / "repo/services") == fs::path("../escrow.vault"));
}

TEST_CASE("locate: never above the work tree's root, and a worktree's .git file counts", "[locate]")
{
  Tree tree;
  tree.touch("escrow.vault");   // above the repository: not ours
  tree.touch("repo/.git");      // a worktree: .git is a file
  fs::create_directories(tree.root / "repo/sub");
  CHECK(git_work_tree_root(tree.root / "repo/sub") == tree.root / "repo");
  CHECK_FALSE(find_vault(tree.root / "repo/sub").has_value());
}

TEST_CASE("locate: outside a git work tree only the folder itself", "[locate]")
{
  Tree tree;
  tree.touch("escrow.vault");
  fs::create_directories(tree.root / "sub");
  if (!git_work_tree_root(tree.root)) { // /tmp itself is not in a work tree on test machines
    CHECK_FALSE(find_vault(tree.root / "sub").has_value());
  }
}
