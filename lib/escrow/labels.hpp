// Every context label escrow signs, hashes or derives under, in one place (STYLE: "every
// derivation and signature has its own context label", as age's "age-encryption.org/v1/X25519").
// A signature or hash made for one purpose can never be replayed as another, and a new purpose
// gets a new label here, never a reused one. docs/FORMAT.md lists the same strings.
#pragma once

#include <string_view>

namespace escrow::labels {

// A passphrase-protected identity: associated data, and the key check (identity.hpp).
inline constexpr std::string_view k_identity = "escrow/v1/identity";
inline constexpr std::string_view k_identity_check = "escrow/v1/identity-check";

// escrow-vault/2 (docs/design/vault-2.md §4) keeps its labels beside its code, in
// lib/escrow/history/labels.hpp (escrow::history::labels, "escrow/v2/…"). The escrow-vault/1
// library's own labels ("escrow/v1/record", "/head", "/vault-id", "/journal", "/value",
// "/dk-commit") went with it: they stay reserved, never reused for another purpose.

} // namespace escrow::labels
