#include <commands/cli.hpp>

#if defined(ESCROW_MIMALLOC)
#include <mimalloc.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace {

// The commands that read or rewrite a whole vault (every record, the whole journal or keys file):
// their heaps reach tens to hundreds of MiB.
bool whole_vault_command(int argc, char** argv)
{
  static constexpr std::array<std::string_view, 13> k_whole{
    "audit", "backup", "diff", "import", "list", "member", "merge", "resolve", "restore", "rotate", "share", "sync",
    "verify"};
  const std::string_view command = escrow::cli::invoked_command(argc, argv);
  return std::find(k_whole.begin(), k_whole.end(), command) != k_whole.end();
}

// A whole-vault command takes its memory from the system in 2 MiB pages where the kernel has them
// (transparent huge pages, madvise): one fault each instead of 512 (app/CMakeLists.txt). mimalloc
// decides it per segment when it maps one, so this runs before anything in the binary allocates
// (constructors run after the libraries', before the binary's own; glibc passes them the command
// line). The one-record commands (get, add, exec, ...) touch a few MiB: a 2 MiB page would zero
// more than they use and raise their peak memory. A misread command line only changes the pages.
__attribute__((constructor(101))) void use_large_pages(int argc, char** argv, char**)
{
  if (whole_vault_command(argc, argv)) {
    mi_option_enable(mi_option_large_os_pages);
  }
}

} // namespace
#endif

int main(int argc, char* argv[])
{
  return escrow::cli::main(argc, argv);
}
