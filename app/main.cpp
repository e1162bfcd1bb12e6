#include <commands/cli.hpp>

#if defined(ESCROW_MIMALLOC)
#include <mimalloc.h>

namespace {

// Memory from the system in 2 MiB pages where the kernel has them (transparent huge pages,
// madvise), one fault each instead of 512 (app/CMakeLists.txt). mimalloc decides it per segment
// when it maps one, so this runs before anything in the binary allocates (constructors run
// after the libraries', before the binary's own); it falls back to 4 KiB pages by itself.
__attribute__((constructor(101))) void use_large_pages()
{
  mi_option_enable(mi_option_large_os_pages);
}

} // namespace
#endif

int main(int argc, char* argv[])
{
  return escrow::cli::main(argc, argv);
}
