#include <escrow/shamir.hpp>

#include <escrow/crypto.hpp>
#include <escrow/error.hpp>

#include <array>
#include <cstring>

namespace escrow::shamir {

namespace {

// x^8 = x^4 + x^3 + x + 1 modulo 0x11B.
constexpr unsigned k_reduction = 0x1B;

// 0x00 when bit is 0, 0xFF when it is 1: a mask instead of a branch.
constexpr unsigned mask_of(unsigned bit)
{
  return (0u - (bit & 1u)) & 0xFFu;
}

void check_split_parameters(const SecretBytes& secret, unsigned threshold, unsigned count)
{
  if (secret.empty() || secret.size() > k_max_secret_size) {
    fail(ErrorKind::usage,
         "cannot split a secret of {} bytes with Shamir: it must be 1 to {} bytes",
         secret.size(),
         k_max_secret_size);
  }
  if (count == 0 || count > k_max_shares) {
    fail(ErrorKind::usage,
         "cannot split into {} Shamir shares: there must be 1 to {}",
         count,
         k_max_shares);
  }
  if (threshold == 0 || threshold > count) {
    fail(ErrorKind::usage,
         "Shamir threshold {} is out of range: it must be 1 to the number of shares ({})",
         threshold,
         count);
  }
}

} // namespace

std::uint8_t gf_mul(std::uint8_t a, std::uint8_t b)
{
  unsigned product = 0;
  unsigned multiplicand = a;
  unsigned multiplier = b;
  // Fixed 8 rounds: add the multiplicand when the multiplier's low bit is set, then multiply
  // the multiplicand by x, reducing when bit 7 falls out. Masks, never branches.
  for (int round = 0; round < 8; ++round) {
    product ^= multiplicand & mask_of(multiplier);
    multiplier >>= 1;
    const unsigned overflow = mask_of(multiplicand >> 7);
    multiplicand = ((multiplicand << 1) ^ (overflow & k_reduction)) & 0xFFu;
  }
  return static_cast<std::uint8_t>(product);
}

std::uint8_t gf_inv(std::uint8_t a)
{
  // a^254 = a^-1 for a != 0 (the multiplicative group has order 255), and 0^254 = 0.
  // Fixed chain: r <- r^2 * a six times gives a^127, one more squaring gives a^254.
  std::uint8_t result = a;
  for (int step = 0; step < 6; ++step) {
    result = gf_mul(gf_mul(result, result), a);
  }
  return gf_mul(result, result);
}

namespace detail {

std::vector<Share> split_with_coefficients(const SecretBytes& secret,
                                           std::span<const std::uint8_t> coefficients,
                                           unsigned threshold,
                                           unsigned count)
{
  check_split_parameters(secret, threshold, count);
  const std::size_t length = secret.size();
  const std::size_t degree = threshold - 1;
  if (coefficients.size() != degree * length) {
    fail(ErrorKind::usage,
         "Shamir split needs {} coefficient bytes, got {}",
         degree * length,
         coefficients.size());
  }

  const auto constant = secret.expose();
  std::vector<Share> shares;
  shares.reserve(count);
  for (unsigned index = 1; index <= count; ++index) {
    Share share;
    share.x = static_cast<std::uint8_t>(index);
    share.y = SecretBytes(length);
    auto y = share.y.expose_mut();
    for (std::size_t byte = 0; byte < length; ++byte) {
      // Horner's rule from the highest degree down to the constant term.
      std::uint8_t value = 0;
      for (std::size_t d = degree; d >= 1; --d) {
        value = static_cast<std::uint8_t>(gf_mul(value, share.x) ^
                                          coefficients[(d - 1) * length + byte]);
      }
      y[byte] = static_cast<std::uint8_t>(gf_mul(value, share.x) ^ constant[byte]);
    }
    shares.push_back(std::move(share));
  }
  return shares;
}

} // namespace detail

std::vector<Share> split(const SecretBytes& secret, unsigned threshold, unsigned count)
{
  check_split_parameters(secret, threshold, count);
  const SecretBytes coefficients = crypto::random_secret((threshold - 1) * secret.size());
  return detail::split_with_coefficients(secret, coefficients.expose(), threshold, count);
}

SecretBytes combine(std::span<const Share> shares)
{
  if (shares.empty()) {
    fail(ErrorKind::integrity, "cannot combine Shamir shares: none were given");
  }
  const std::size_t length = shares.front().y.size();
  std::array<bool, 256> seen{};
  for (std::size_t i = 0; i < shares.size(); ++i) {
    const Share& share = shares[i];
    if (share.x == 0) {
      fail(ErrorKind::integrity, "cannot combine Shamir shares: share {} has x = 0", i + 1);
    }
    if (seen[share.x]) {
      fail(ErrorKind::integrity,
           "cannot combine Shamir shares: x = {} appears more than once",
           share.x);
    }
    seen[share.x] = true;
    if (share.y.empty()) {
      fail(ErrorKind::integrity, "cannot combine Shamir shares: share x = {} is empty", share.x);
    }
    if (share.y.size() != length) {
      fail(ErrorKind::integrity,
           "cannot combine Shamir shares: share x = {} is {} bytes, share x = {} is {}",
           share.x,
           share.y.size(),
           shares.front().x,
           length);
    }
  }

  // Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_i + x_j). Depends only on the public x.
  std::vector<std::uint8_t> basis(shares.size());
  for (std::size_t i = 0; i < shares.size(); ++i) {
    std::uint8_t numerator = 1;
    std::uint8_t denominator = 1;
    for (std::size_t j = 0; j < shares.size(); ++j) {
      if (j != i) {
        numerator = gf_mul(numerator, shares[j].x);
        denominator = gf_mul(denominator, static_cast<std::uint8_t>(shares[i].x ^ shares[j].x));
      }
    }
    basis[i] = gf_mul(numerator, gf_inv(denominator));
  }

  SecretBytes secret(length);
  auto out = secret.expose_mut();
  for (std::size_t byte = 0; byte < length; ++byte) {
    std::uint8_t value = 0;
    for (std::size_t i = 0; i < shares.size(); ++i) {
      value ^= gf_mul(basis[i], shares[i].y.expose()[byte]);
    }
    out[byte] = value;
  }
  return secret;
}

SecretBytes encode(const Share& share)
{
  if (share.x == 0 || share.y.empty()) {
    fail(ErrorKind::integrity, "cannot encode a Shamir share with x = 0 or no bytes");
  }
  SecretBytes wire(share.y.size() + 1);
  auto out = wire.expose_mut();
  out[0] = share.x;
  std::memcpy(out.data() + 1, share.y.expose().data(), share.y.size());
  return wire;
}

Share decode(std::span<const std::uint8_t> bytes)
{
  if (bytes.size() < 2) {
    fail(ErrorKind::integrity,
         "Shamir share is {} bytes: it needs an x byte and at least one y byte",
         bytes.size());
  }
  if (bytes[0] == 0) {
    fail(ErrorKind::integrity, "Shamir share has x = 0");
  }
  Share share;
  share.x = bytes[0];
  share.y = SecretBytes(bytes.data() + 1, bytes.size() - 1);
  return share;
}

} // namespace escrow::shamir
