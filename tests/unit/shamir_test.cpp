// Shamir over GF(2^8): known answers from tests/vectors/shamir (derived by generate.py there,
// cross-checked against FIPS-197, codahale/shamir and hashicorp/vault test data), properties
// of the field and of the threshold, and the integrity and usage failures.
#include <test_paths.hpp>

#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/shamir.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <bit>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using escrow::ErrorKind;
using escrow::SecretBytes;
using escrow::shamir::Share;
using nlohmann::json;

namespace {

json load_vectors(const std::string& name)
{
  const std::string path = std::string(ESCROW_SOURCE_DIR) + "/tests/vectors/shamir/" + name;
  std::ifstream in(path);
  REQUIRE(in.good());
  return json::parse(in);
}

std::vector<std::uint8_t> from_hex(const std::string& text)
{
  REQUIRE(text.size() % 2 == 0);
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(text.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes)
{
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t byte : bytes) {
    out += k_digits[byte >> 4];
    out += k_digits[byte & 0x0F];
  }
  return out;
}

std::uint8_t hex_byte(const json& value)
{
  const auto bytes = from_hex(value.get<std::string>());
  REQUIRE(bytes.size() == 1);
  return bytes[0];
}

SecretBytes secret_from_hex(const std::string& text)
{
  const auto bytes = from_hex(text);
  return SecretBytes(bytes.data(), bytes.size());
}

std::vector<Share> shares_from_json(const json& list)
{
  std::vector<Share> shares;
  for (const auto& item : list) {
    Share share;
    share.x = item.at("x").get<std::uint8_t>();
    share.y = secret_from_hex(item.at("y").get<std::string>());
    shares.push_back(std::move(share));
  }
  return shares;
}

std::vector<Share> clone_shares(const std::vector<Share>& shares)
{
  std::vector<Share> out;
  for (const Share& share : shares) {
    out.push_back(Share{share.x, share.y.clone()});
  }
  return out;
}

template<typename F>
std::optional<ErrorKind> thrown_kind(F&& action)
{
  try {
    action();
  } catch (const escrow::Error& error) {
    return error.kind();
  }
  return std::nullopt;
}

// Reference product, written differently from gf_mul: carry-less multiply, then long division.
std::uint8_t reference_mul(std::uint8_t a, std::uint8_t b)
{
  unsigned product = 0;
  for (unsigned bit = 0; bit < 8; ++bit) {
    if ((b >> bit) & 1u) {
      product ^= static_cast<unsigned>(a) << bit;
    }
  }
  for (unsigned bit = 14; bit >= 8; --bit) {
    if ((product >> bit) & 1u) {
      product ^= 0x11Bu << (bit - 8);
    }
  }
  return static_cast<std::uint8_t>(product);
}

} // namespace

TEST_CASE("gf_mul and gf_inv give the published products", "[shamir]")
{
  using escrow::shamir::gf_inv;
  using escrow::shamir::gf_mul;
  const json vectors = load_vectors("gf256.json");

  REQUIRE(vectors.at("mul").size() >= 10);
  for (const auto& v : vectors.at("mul")) {
    INFO(v.at("source").get<std::string>());
    CHECK(gf_mul(hex_byte(v.at("a")), hex_byte(v.at("b"))) == hex_byte(v.at("product")));
  }
  REQUIRE(vectors.at("div").size() >= 4);
  for (const auto& v : vectors.at("div")) {
    INFO(v.at("source").get<std::string>());
    CHECK(gf_mul(hex_byte(v.at("a")), gf_inv(hex_byte(v.at("b")))) ==
          hex_byte(v.at("quotient")));
  }

  const auto inverses = from_hex(vectors.at("inverse_table").at("hex").get<std::string>());
  REQUIRE(inverses.size() == 256);
  for (unsigned a = 0; a < 256; ++a) {
    INFO("a = " << a);
    CHECK(gf_inv(static_cast<std::uint8_t>(a)) == inverses[a]);
  }
  CHECK(gf_inv(0x53) == 0xCA);
}

TEST_CASE("the full gf_mul table matches the reference hash", "[shamir]")
{
  const json vectors = load_vectors("gf256.json");
  std::vector<std::uint8_t> table;
  table.reserve(65536);
  for (unsigned a = 0; a < 256; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      table.push_back(escrow::shamir::gf_mul(static_cast<std::uint8_t>(a),
                                             static_cast<std::uint8_t>(b)));
    }
  }
  const auto digest = escrow::crypto::hash_raw(table);
  CHECK(to_hex(digest) == vectors.at("mul_table_blake2b256").at("hex").get<std::string>());
}

TEST_CASE("GF(2^8) field axioms hold", "[shamir]")
{
  using escrow::shamir::gf_inv;
  using escrow::shamir::gf_mul;

  SECTION("every product equals the reference product, and multiplication commutes")
  {
    unsigned mismatches = 0;
    for (unsigned a = 0; a < 256; ++a) {
      for (unsigned b = 0; b < 256; ++b) {
        const auto x = static_cast<std::uint8_t>(a);
        const auto y = static_cast<std::uint8_t>(b);
        const std::uint8_t product = gf_mul(x, y);
        if (product != reference_mul(x, y) || product != gf_mul(y, x)) {
          ++mismatches;
        }
      }
    }
    CHECK(mismatches == 0);
  }

  SECTION("identities, zero and inverses")
  {
    CHECK(gf_inv(0) == 0);
    for (unsigned a = 0; a < 256; ++a) {
      const auto x = static_cast<std::uint8_t>(a);
      INFO("a = " << a);
      CHECK(gf_mul(x, 1) == x);
      CHECK(gf_mul(x, 0) == 0);
      if (a != 0) {
        CHECK(gf_mul(x, gf_inv(x)) == 1);
        CHECK(gf_inv(gf_inv(x)) == x);
      }
    }
  }

  SECTION("associativity and distributivity on samples")
  {
    const std::uint8_t samples[] = {0x00, 0x01, 0x02, 0x03, 0x1B, 0x53, 0x80, 0xCA, 0xFF};
    unsigned failures = 0;
    for (unsigned a = 0; a < 256; ++a) {
      for (unsigned b = 0; b < 256; ++b) {
        for (const std::uint8_t c : samples) {
          const auto x = static_cast<std::uint8_t>(a);
          const auto y = static_cast<std::uint8_t>(b);
          if (gf_mul(gf_mul(x, y), c) != gf_mul(x, gf_mul(y, c))) {
            ++failures;
          }
          if (gf_mul(x, static_cast<std::uint8_t>(y ^ c)) !=
              (gf_mul(x, y) ^ gf_mul(x, c))) {
            ++failures;
          }
        }
      }
    }
    CHECK(failures == 0);
  }
}

TEST_CASE("split with fixed coefficients gives the known shares", "[shamir]")
{
  const json vectors = load_vectors("split.json");
  REQUIRE(vectors.at("vectors").size() >= 5);
  for (const auto& v : vectors.at("vectors")) {
    INFO(v.at("name").get<std::string>());
    const SecretBytes secret = secret_from_hex(v.at("secret").get<std::string>());
    const auto threshold = v.at("threshold").get<unsigned>();
    const auto count = v.at("count").get<unsigned>();
    std::vector<std::uint8_t> coefficients;
    for (const auto& row : v.at("coefficients")) {
      const auto bytes = from_hex(row.get<std::string>());
      REQUIRE(bytes.size() == secret.size());
      coefficients.insert(coefficients.end(), bytes.begin(), bytes.end());
    }

    const auto shares =
      escrow::shamir::detail::split_with_coefficients(secret, coefficients, threshold, count);
    const auto& expected = v.at("shares");
    REQUIRE(shares.size() == expected.size());
    REQUIRE(shares.size() == count);
    for (std::size_t i = 0; i < shares.size(); ++i) {
      CHECK(shares[i].x == expected[i].at("x").get<unsigned>());
      CHECK(to_hex(shares[i].y.expose()) == expected[i].at("y").get<std::string>());
    }

    // The last `threshold` shares give the secret back.
    std::vector<Share> last;
    for (std::size_t i = count - threshold; i < count; ++i) {
      last.push_back(Share{shares[i].x, shares[i].y.clone()});
    }
    CHECK(to_hex(escrow::shamir::combine(last).expose()) == to_hex(secret.expose()));
  }
}

TEST_CASE("combine gives the known secrets and refuses malformed share sets", "[shamir]")
{
  const json vectors = load_vectors("combine.json");
  REQUIRE(vectors.at("cases").size() >= 10);
  for (const auto& c : vectors.at("cases")) {
    INFO(c.at("name").get<std::string>());
    const auto shares = shares_from_json(c.at("shares"));
    const auto expect = c.at("expect").get<std::string>();
    if (expect == "ok") {
      const SecretBytes secret = escrow::shamir::combine(shares);
      CHECK(to_hex(secret.expose()) == c.at("secret").get<std::string>());
    } else {
      REQUIRE(expect == "integrity");
      CHECK(thrown_kind([&] { (void)escrow::shamir::combine(shares); }) ==
            ErrorKind::integrity);
    }
  }
}

TEST_CASE("the wire form round-trips and refuses short or x = 0 input", "[shamir]")
{
  const json vectors = load_vectors("wire.json");
  for (const auto& c : vectors.at("cases")) {
    const auto wire = from_hex(c.at("wire").get<std::string>());
    INFO("wire = " << c.at("wire").get<std::string>());
    if (c.at("expect").get<std::string>() == "ok") {
      const Share share = escrow::shamir::decode(wire);
      CHECK(share.x == c.at("x").get<unsigned>());
      CHECK(to_hex(share.y.expose()) == c.at("y").get<std::string>());
      CHECK(to_hex(escrow::shamir::encode(share).expose()) == to_hex(wire));
    } else {
      CHECK(thrown_kind([&] { (void)escrow::shamir::decode(wire); }) == ErrorKind::integrity);
    }
  }

  SECTION("encode refuses what decode would refuse")
  {
    const Share zero_x{0, SecretBytes::from("k")};
    CHECK(thrown_kind([&] { (void)escrow::shamir::encode(zero_x); }) == ErrorKind::integrity);
    const Share empty_y{3, SecretBytes()};
    CHECK(thrown_kind([&] { (void)escrow::shamir::encode(empty_y); }) == ErrorKind::integrity);
  }
}

TEST_CASE("any threshold of shares reconstructs and fewer do not", "[shamir]")
{
  const SecretBytes secret = escrow::crypto::random_secret(32);
  const std::string secret_hex = to_hex(secret.expose());

  for (unsigned count = 1; count <= 7; ++count) {
    for (unsigned threshold = 1; threshold <= count; ++threshold) {
      INFO(threshold << "-of-" << count);
      const auto shares = escrow::shamir::split(secret, threshold, count);
      REQUIRE(shares.size() == count);
      for (unsigned i = 0; i < count; ++i) {
        CHECK(shares[i].x == i + 1);
        CHECK(shares[i].y.size() == secret.size());
        // With threshold 1 a share is the secret; otherwise random coefficients hide it.
        CHECK((to_hex(shares[i].y.expose()) == secret_hex) == (threshold == 1));
      }

      unsigned reconstructed = 0;
      unsigned wrongly_reconstructed = 0;
      unsigned expected_reconstructions = 0;
      for (unsigned mask = 1; mask < (1u << count); ++mask) {
        const auto size = static_cast<unsigned>(std::popcount(mask));
        if (size + 1 < threshold) {
          continue;
        }
        std::vector<Share> subset;
        for (unsigned i = 0; i < count; ++i) {
          if ((mask >> i) & 1u) {
            subset.push_back(Share{shares[i].x, shares[i].y.clone()});
          }
        }
        const bool equal = escrow::shamir::combine(subset).equals(secret);
        if (size >= threshold) {
          ++expected_reconstructions;
          reconstructed += equal ? 1 : 0;
        } else {
          wrongly_reconstructed += equal ? 1 : 0;
        }
      }
      CHECK(reconstructed == expected_reconstructions);
      CHECK(wrongly_reconstructed == 0);
    }
  }
}

TEST_CASE("split draws fresh coefficients every time", "[shamir]")
{
  const SecretBytes secret = SecretBytes::from("the same 32-byte data key value!");
  const auto first = escrow::shamir::split(secret, 2, 3);
  const auto second = escrow::shamir::split(secret, 2, 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK_FALSE(first[i].y.equals(second[i].y));
  }
  CHECK(escrow::shamir::combine(clone_shares(first)).equals(secret));
  CHECK(escrow::shamir::combine(clone_shares(second)).equals(secret));
}

TEST_CASE("split refuses bad parameters", "[shamir]")
{
  using escrow::shamir::split;
  const SecretBytes secret = SecretBytes::from("data key");

  CHECK(thrown_kind([&] { (void)split(secret, 0, 3); }) == ErrorKind::usage);
  CHECK(thrown_kind([&] { (void)split(secret, 4, 3); }) == ErrorKind::usage);
  CHECK(thrown_kind([&] { (void)split(secret, 1, 0); }) == ErrorKind::usage);
  CHECK(thrown_kind([&] { (void)split(secret, 2, 256); }) == ErrorKind::usage);
  CHECK(thrown_kind([&] { (void)split(secret, 256, 256); }) == ErrorKind::usage);
  CHECK(thrown_kind([&] { (void)split(SecretBytes(), 1, 1); }) == ErrorKind::usage);
  CHECK(thrown_kind([&] { (void)split(SecretBytes(1025), 2, 3); }) == ErrorKind::usage);

  // The limits themselves are accepted.
  CHECK(split(SecretBytes(1024), 2, 3).size() == 3);
  CHECK(split(SecretBytes(1), 255, 255).size() == 255);

  SECTION("split_with_coefficients checks the coefficient count")
  {
    const std::vector<std::uint8_t> one_row(secret.size(), 0x42);
    using escrow::shamir::detail::split_with_coefficients;
    CHECK(thrown_kind([&] { (void)split_with_coefficients(secret, one_row, 3, 3); }) ==
          ErrorKind::usage);
    CHECK(thrown_kind([&] { (void)split_with_coefficients(secret, one_row, 1, 3); }) ==
          ErrorKind::usage);
    CHECK(split_with_coefficients(secret, one_row, 2, 3).size() == 3);
  }
}

TEST_CASE("combine refuses malformed shares built in code", "[shamir]")
{
  using escrow::shamir::combine;
  const SecretBytes secret = SecretBytes::from("0123456789abcdef0123456789abcdef");
  const auto shares = escrow::shamir::split(secret, 2, 3);

  CHECK(thrown_kind([&] { (void)combine(std::span<const Share>()); }) == ErrorKind::integrity);

  auto duplicate = clone_shares(shares);
  duplicate[1].x = duplicate[0].x;
  CHECK(thrown_kind([&] { (void)combine(duplicate); }) == ErrorKind::integrity);

  auto zero = clone_shares(shares);
  zero[2].x = 0;
  CHECK(thrown_kind([&] { (void)combine(zero); }) == ErrorKind::integrity);

  auto mismatched = clone_shares(shares);
  mismatched[1].y.resize(31);
  CHECK(thrown_kind([&] { (void)combine(mismatched); }) == ErrorKind::integrity);

  auto empty = clone_shares(shares);
  empty[0].y = SecretBytes();
  empty[1].y = SecretBytes();
  empty[2].y = SecretBytes();
  CHECK(thrown_kind([&] { (void)combine(empty); }) == ErrorKind::integrity);

  // The unmodified set still combines, so the failures above come from the damage.
  CHECK(combine(shares).equals(secret));
}
