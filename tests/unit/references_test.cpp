#include <escrow/error.hpp>
#include <escrow/references.hpp>

#include <catch2/catch.hpp>

#include <string>

using escrow::find_references;
using escrow::parse_reference;

namespace {

int exit_of(std::string_view text)
{
  try {
    (void)find_references(text, "t");
  } catch (const escrow::Error& error) {
    return error.exit_code();
  }
  return 0;
}

} // namespace

TEST_CASE("references: a whole value")
{
  CHECK_FALSE(parse_reference("plain", "v"));
  const auto current = parse_reference("escrow://prod/db", "v");
  REQUIRE(current);
  CHECK(current->secret == "prod/db");
  CHECK(current->version == 0);
  const auto pinned = parse_reference("escrow://prod/app/db.main@v12", "v");
  REQUIRE(pinned);
  CHECK(pinned->secret == "prod/app/db.main");
  CHECK(pinned->version == 12);
  CHECK(pinned->text() == "escrow://prod/app/db.main@v12");
  CHECK_THROWS_AS(parse_reference("escrow://prod/db extra", "v"), escrow::Error);
  CHECK_THROWS_AS(parse_reference("escrow://prod", "v"), escrow::Error);
  CHECK_THROWS_AS(parse_reference("escrow://PROD/db", "v"), escrow::Error);
}

TEST_CASE("references: found in a template with offsets and lines")
{
  const std::string text = "a = escrow://prod/db\nurl=pg://u:escrow://prod/db@v2@host/x\nend escrow://prod/stripe.\n";
  const auto found = find_references(text, "t");
  REQUIRE(found.size() == 3);
  CHECK(found[0].line == 1);
  CHECK(text.substr(found[0].begin, found[0].end - found[0].begin) == "escrow://prod/db");
  CHECK(found[1].line == 2);
  CHECK(found[1].reference.version == 2);
  CHECK(text.substr(found[1].end, 6) == "@host/");
  CHECK(found[2].reference.secret == "prod/stripe");
  CHECK(text[found[2].end] == '.');
}

TEST_CASE("references: malformed ones are usage errors")
{
  CHECK(exit_of("x escrow://prod/../etc") == 2);
  CHECK(exit_of("x escrow://nope") == 2);
  CHECK(exit_of("x escrow://prod/db@v0") == 2);
  CHECK(exit_of("x escrow://prod/db@v99999999999") == 2);
  CHECK(exit_of("no references at all") == 0);
  CHECK(exit_of("x escrow://prod/db@vx") == 0); // "@vx" is text after the reference
}
