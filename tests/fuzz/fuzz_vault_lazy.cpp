// The vault reader, lazy (Vault::read of a file, as every read command opens a vault: the head
// and roster now, a secret's record found by bisection when first used, the rest on demand).
// Properties: the lazy reader never crashes and decides as the eager one does: a file that
// parse(eager) + verify_all accepts, read() + verify_all accepts with the same records
// (and each secret found by bisection before any full scan is the eager one), and a file the
// eager reader refuses, the lazy reader refuses by the time it has checked everything.
#include "vault_support.hpp"

#include <optional>

using namespace escrow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  static fuzz::ScratchFile file("fuzz.vault");
  const std::string text = fuzz::text(data, size);
  const std::filesystem::path& path = file.write(text);

  std::optional<Vault> eager;
  const bool eager_ok = fuzz::accepted({ErrorKind::integrity}, [&] {
    eager.emplace(Vault::parse(text, "fuzz.vault", Vault::Reading::eager));
    eager->verify_all();
  });

  // First use: one secret, found without scanning the others.
  std::optional<Vault> lazy;
  const bool opened = fuzz::accepted({ErrorKind::integrity}, [&] { lazy.emplace(Vault::read(path)); });
  if (eager_ok) {
    fuzz::check(opened, "the lazy reader opens what the eager reader accepts");
    for (const std::string& name : eager->secret_names()) {
      std::optional<Vault> fresh;
      fuzz::must("a secret is read lazily", [&] {
        fresh.emplace(Vault::read(path));
        fuzz::check(to_json(fresh->secret(name)) == to_json(eager->secret(name)), "a lazily read secret is the eager one");
      });
    }
  }

  // Everything, as a command that needs every record does.
  const bool lazy_ok = opened && fuzz::accepted({ErrorKind::integrity}, [&] {
                         for (const std::string& name : lazy->secret_names()) {
                           (void)lazy->secret(name);
                         }
                         lazy->verify_all();
                       });
  fuzz::check(lazy_ok == eager_ok, "lazy and eager readers decide alike");

  // The in-memory lazy reading decides alike too.
  std::optional<Vault> memory;
  const bool memory_ok = fuzz::accepted({ErrorKind::integrity}, [&] {
    memory.emplace(Vault::parse(text, "fuzz.vault", Vault::Reading::lazy));
    memory->verify_all();
  });
  fuzz::check(memory_ok == eager_ok, "parse(lazy) and parse(eager) decide alike");
  if (eager_ok) {
    fuzz::check_same_vault(*eager, *lazy, "read() gives the eager reader's vault");
    fuzz::check_same_vault(*eager, *memory, "parse(lazy) gives the eager reader's vault");
    fuzz::round_tripped();
  }
  return 0;
}
