// Opening a sealed box into a buffer the caller reuses. A bulk share opens thousands of 32-byte
// reader keys, and a sodium_malloc'd (locked, guarded) mapping per key cost more than the X25519
// work (docs/PERFORMANCE.md); these open into one buffer per thread instead. Kept apart from
// crypto.hpp and identity.hpp, which nearly every file includes, because one caller needs them.
#pragma once

#include <escrow/crypto.hpp>
#include <escrow/identity.hpp>
#include <escrow/secret_bytes.hpp>

namespace escrow {

namespace crypto {
// seal_open() into `out`, the caller's locked buffer: true when the box opens and its plaintext is
// exactly out.size() bytes; otherwise false and `out` is wiped.
[[nodiscard]] bool seal_open_into(ByteView ciphertext,
                                  ByteView public_key,
                                  const SecretBytes& secret_key,
                                  SecretBytes& out);
} // namespace crypto

// Identity::seal_open() into the caller's buffer (crypto::seal_open_into with local keys; through
// the holder, its answer copied). false (and `out` wiped) unless it opens to exactly out.size()
// bytes.
[[nodiscard]] bool seal_open_into(const Identity& identity, ByteView sealed, SecretBytes& out);

} // namespace escrow
