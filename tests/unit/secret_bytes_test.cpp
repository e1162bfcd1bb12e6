// SecretBytes: move-only, zero-filled, never printed, compared in constant time.
#include <escrow/secret_bytes.hpp>

#include <catch2/catch.hpp>

#include <type_traits>

using escrow::SecretBytes;

static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
static_assert(std::is_nothrow_move_assignable_v<SecretBytes>);

TEST_CASE("secret_bytes: construction, zero fill and exposure", "[secret_bytes]")
{
  const SecretBytes none;
  CHECK(none.empty());
  CHECK(none.size() == 0);
  CHECK(none.expose().empty());
  CHECK(none.expose_view().empty());

  const SecretBytes zeros(5);
  CHECK(zeros.size() == 5);
  for (const auto byte : zeros.expose()) {
    CHECK(byte == 0);
  }
  const SecretBytes empty_sized(0);
  CHECK(empty_sized.empty());

  const SecretBytes text = SecretBytes::from(std::string_view("p\0ss", 4));
  CHECK(text.size() == 4);
  CHECK(text.expose_view() == std::string_view("p\0ss", 4));
  const std::uint8_t raw[] = {1, 2, 3};
  const SecretBytes bytes(raw, 3);
  CHECK(bytes.expose()[2] == 3);
}

TEST_CASE("secret_bytes: moves leave the source empty, clone is independent", "[secret_bytes]")
{
  SecretBytes a = SecretBytes::from("hunter2");
  SecretBytes b = std::move(a);
  CHECK(a.empty()); // NOLINT(bugprone-use-after-move): the moved-from state is specified
  CHECK(b.expose_view() == "hunter2");
  SecretBytes c;
  c = std::move(b);
  CHECK(b.empty()); // NOLINT(bugprone-use-after-move)
  CHECK(c.expose_view() == "hunter2");
  SecretBytes& same = c;
  c = std::move(same); // self-move keeps the value
  CHECK(c.expose_view() == "hunter2");

  SecretBytes copy = c.clone();
  copy.expose_mut()[0] = 'H';
  CHECK(c.expose_view() == "hunter2");
  CHECK(copy.expose_view() == "Hunter2");
}

TEST_CASE("secret_bytes: resize keeps the prefix", "[secret_bytes]")
{
  SecretBytes value = SecretBytes::from("abcdef");
  value.resize(3);
  CHECK(value.expose_view() == "abc");
  value.resize(5);
  CHECK(value.expose_view() == std::string_view("abc\0\0", 5));
  value.resize(0);
  CHECK(value.empty());
  SecretBytes fresh;
  fresh.resize(2);
  CHECK(fresh.size() == 2);
}

TEST_CASE("secret_bytes: equality", "[secret_bytes]")
{
  CHECK(SecretBytes::from("abc").equals(SecretBytes::from("abc")));
  CHECK_FALSE(SecretBytes::from("abc").equals(SecretBytes::from("abd")));
  CHECK_FALSE(SecretBytes::from("abc").equals(SecretBytes::from("ab")));
  CHECK(SecretBytes().equals(SecretBytes(0)));
}

TEST_CASE("secret_bytes: the formatter never prints the bytes", "[secret_bytes]")
{
  const SecretBytes value = SecretBytes::from("sk_live_do_not_print");
  CHECK(fmt::format("{}", value) == "<redacted>");
  CHECK(fmt::format("value={:>12}", value) == "value=  <redacted>");
  const std::string message = fmt::format("failed for {}", value);
  CHECK(message.find("sk_live") == std::string::npos);
}
