// libFuzzer target over the two readers of untrusted bytes: canonical::parse (every JSON file
// escrow reads) and Vault::parse + verify_all (the vault). Every input must end in success or
// an escrow::Error of kind integrity: any other exception, a crash or a sanitizer report is a
// bug. A document that parses must also round-trip through the canonical form.
//
// Built only with clang and -DESCROW_FUZZ=ON (tests/fuzz/README.md):
//   CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DESCROW_FUZZ=ON && ninja -C build-fuzz escrow_fuzz_vault
//   build-fuzz/tests/fuzz/escrow_fuzz_vault -max_len=65536 /tmp/corpus tests/data/escrow-vault-1
#include <escrow/canonical.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/vault.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

void require_integrity(const escrow::Error& error)
{
  if (error.kind() != escrow::ErrorKind::integrity) {
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  static const bool started = [] {
    escrow::crypto::init();
    return true;
  }();
  (void)started;
  const std::string text(reinterpret_cast<const char*>(data), size);

  try {
    const escrow::canonical::Json json = escrow::canonical::parse(text, "fuzz");
    const std::string compact = escrow::canonical::dump(json);
    if (escrow::canonical::parse(compact, "fuzz") != json || escrow::canonical::dump(escrow::canonical::parse(compact, "fuzz")) != compact) {
      std::abort();
    }
    const std::string pretty = escrow::canonical::dump_pretty(json);
    if (escrow::canonical::parse(pretty, "fuzz") != json) {
      std::abort();
    }
  } catch (const escrow::Error& error) {
    require_integrity(error);
  }

  if (!text.empty() && text[0] == '{') {
    try {
      std::size_t end = 0;
      (void)escrow::canonical::scan_object(text, 0, end, "fuzz");
    } catch (const escrow::Error& error) {
      require_integrity(error);
    }
  }

  try {
    escrow::Vault vault = escrow::Vault::parse(text, "fuzz");
    vault.verify_all();
  } catch (const escrow::Error& error) {
    require_integrity(error);
  }
  return 0;
}
