// Shamir secret sharing over GF(2^8), for splitting a version's data key among custodians
// (DESIGN §3 "Cryptography of a secret version").
//
// Field: GF(2^8) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11B); addition is XOR.
// Split: each secret byte s is the constant term of its own polynomial
//   f(x) = s + c_1 x + ... + c_{k-1} x^{k-1}
// with uniformly random coefficients (from libsodium, kept in SecretBytes; a zero leading
// coefficient is allowed, as in Shamir's scheme, so coefficients are never re-drawn). Share i
// is (x = i, y = f(i) for every byte), i = 1..count. Any k shares give f(0) = s by Lagrange
// interpolation; k - 1 shares are uniformly distributed whatever the secret.
// Combine: interpolation at x = 0. It cannot know the threshold, so too few shares give a
// wrong value without error; the caller detects it with the data-key commitment (dk_commit).
// Wire form (the plaintext sealed to a custodian): one byte x, then y (the secret's length).
//
// All arithmetic on secret bytes is constant-time: multiplication is a fixed 8-round
// shift-and-xor with masks, inversion is a^254 by a fixed square-and-multiply chain; there are
// no log/exp tables and no branch or early exit on secret data. Checks only look at x and at
// lengths, which are public.
#pragma once

#include <escrow/secret_bytes.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace escrow::shamir {

constexpr std::size_t k_max_secret_size = 1024;
constexpr unsigned k_max_shares = 255;

struct Share
{
  std::uint8_t x = 0;
  SecretBytes y; // as long as the secret
};

// Splits `secret` (1..k_max_secret_size bytes) into `count` shares (x = 1..count), any
// `threshold` of which reconstruct it. 1 <= threshold <= count <= k_max_shares.
// Throws Error(ErrorKind::usage) on bad parameters.
std::vector<Share> split(const SecretBytes& secret, unsigned threshold, unsigned count);

// Lagrange interpolation at x = 0. Throws Error(ErrorKind::integrity) on no shares, x == 0,
// a duplicate x, shares of different lengths or an empty y. Fewer shares than the threshold
// give a wrong value, not an error: check the key commitment.
SecretBytes combine(std::span<const Share> shares);

// Wire form: x then y. encode throws Error(ErrorKind::integrity) on x == 0 or an empty y (so it
// never writes what decode refuses); decode throws it on fewer than 2 bytes or x == 0.
SecretBytes encode(const Share& share);
Share decode(std::span<const std::uint8_t> bytes);

// Constant-time field arithmetic, exposed for tests.
std::uint8_t gf_mul(std::uint8_t a, std::uint8_t b);
std::uint8_t gf_inv(std::uint8_t a); // gf_inv(0) == 0

namespace detail {

// split() with caller-chosen coefficients, for known-answer tests. `coefficients` holds
// threshold - 1 rows of secret.size() bytes; row d - 1 is the degree-d coefficient of every
// secret byte. Same checks as split(), plus Error(usage) on a wrong coefficient count.
std::vector<Share> split_with_coefficients(const SecretBytes& secret,
                                           std::span<const std::uint8_t> coefficients,
                                           unsigned threshold,
                                           unsigned count);

} // namespace detail
} // namespace escrow::shamir
