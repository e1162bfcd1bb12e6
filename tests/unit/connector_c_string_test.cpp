// connectors/c_string.hpp: the NUL-terminated copy the native kinds hand to libpq and Connector/C.
#include <escrow/connectors/c_string.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

using escrow::SecretBytes;
using escrow::connector::c_str;
using escrow::connector::c_string;

TEST_CASE("connectors c_string: the value's bytes, then one NUL, in a copy of its own", "[connectors]")
{
  const SecretBytes value = SecretBytes::from("s3cr3t-Pa55");
  const SecretBytes copy = c_string(value);
  REQUIRE(copy.size() == value.size() + 1);
  CHECK(std::strlen(c_str(copy)) == value.size());
  CHECK(std::string(c_str(copy)) == "s3cr3t-Pa55");
  CHECK(copy.expose().data() != value.expose().data());
  CHECK(value.size() == 11); // the original is untouched

  const SecretBytes empty = c_string(SecretBytes::from(""));
  REQUIRE(empty.size() == 1);
  CHECK(c_str(empty)[0] == '\0');
}
