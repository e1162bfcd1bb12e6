// connectors/template: placeholders are parsed strictly, values are escaped for where they go
// (inside a JSON string, a header line, a form body) and rendered into locked memory.
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/connectors/template.hpp>

using namespace escrow;
using escrow::test::require_error;

namespace {

std::string rendered(std::string_view text, std::string_view value, connector::Escape escape, std::string_view auth = "")
{
  const auto parts = connector::parse_template(text, "test");
  const SecretBytes v = SecretBytes::from(value);
  const SecretBytes a = SecretBytes::from(auth);
  connector::SecretWriter out;
  std::string refused;
  REQUIRE(connector::render(parts, &v, &a, escape, out, refused));
  return std::string(out.take().expose_view());
}

} // namespace

TEST_CASE("connector templates: placeholders are {{value}} and {{auth}}, nothing else", "[connector][template]")
{
  const auto parts = connector::parse_template("{\"a\": \"{{value}}\", \"b\": \"{{auth}}\"}", "body");
  REQUIRE(parts.size() == 5);
  CHECK(parts[0].literal);
  CHECK(parts[0].text == "{\"a\": \"");
  CHECK_FALSE(parts[1].literal);
  CHECK(parts[1].placeholder == connector::Placeholder::value);
  CHECK(parts[3].placeholder == connector::Placeholder::auth);
  CHECK(connector::uses(parts, connector::Placeholder::value));
  CHECK(connector::uses(parts, connector::Placeholder::auth));
  CHECK_FALSE(connector::uses(connector::parse_template("plain", "x"), connector::Placeholder::value));
  CHECK(require_error(ErrorKind::usage, [] { (void)connector::parse_template("x {{valeu}} y", "connector c: --body"); })
        == "connector c: --body: unknown placeholder {{valeu}} (placeholders are {{value}}, {{auth}} and {{role}})");
  CHECK(require_error(ErrorKind::usage, [] { (void)connector::parse_template("x {{value y", "connector c: --body"); })
        == "connector c: --body: \"{{\" without \"}}\" (placeholders are {{value}}, {{auth}} and {{role}})");
  // A control character in an unknown placeholder is not echoed.
  CHECK_THAT(require_error(ErrorKind::usage, [] { (void)connector::parse_template("{{a\x1b[2Jb}}", "t"); }),
             Catch::Contains("{{a?[2Jb}}"));
}

TEST_CASE("connector templates: a value is JSON-escaped inside a JSON string", "[connector][template]")
{
  const std::string value = "q\"b\\s\nl\tt\x01" "é€";
  const std::string body = rendered("{\"password\": \"{{value}}\"}", value, connector::Escape::json);
  CHECK(body == "{\"password\": \"q\\\"b\\\\s\\u000Al\\u0009t\\u0001é€\"}");
  // ... and parses back to exactly the value.
  CHECK(canonical::Json::parse(body)["password"] == value);
  // Not UTF-8: refused, nothing rendered.
  const auto parts = connector::parse_template("\"{{value}}\"", "t");
  const SecretBytes bad = SecretBytes::from("\xff\xfe");
  connector::SecretWriter out;
  std::string refused;
  CHECK_FALSE(connector::render(parts, &bad, nullptr, connector::Escape::json, out, refused));
  CHECK(refused == "value");
}

TEST_CASE("connector templates: headers take a value as is but never a line break", "[connector][template]")
{
  CHECK(rendered("Authorization: Bearer {{auth}}", "", connector::Escape::header, "t0k/en=") ==
        "Authorization: Bearer t0k/en=");
  const auto parts = connector::parse_template("X-Key: {{auth}}", "t");
  for (const std::string_view bad : {std::string_view("a\r\nX-Evil: 1"), std::string_view("a\nb"),
                                     std::string_view("a\0b", 3)}) {
    const SecretBytes auth = SecretBytes::from(bad);
    connector::SecretWriter out;
    std::string refused;
    CHECK_FALSE(connector::render(parts, nullptr, &auth, connector::Escape::header, out, refused));
    CHECK(refused == "auth");
  }
  // A placeholder without a value (the auth secret was not read) is refused, not left empty.
  connector::SecretWriter out;
  std::string refused;
  CHECK_FALSE(connector::render(parts, nullptr, nullptr, connector::Escape::header, out, refused));
  CHECK(refused == "auth");
}

TEST_CASE("connector templates: form escaping and the writer's growth", "[connector][template]")
{
  connector::SecretWriter form;
  REQUIRE(form.append_escaped("a b&c=d+é*~._-", connector::Escape::form));
  CHECK(std::string(form.take().expose_view()) == "a%20b%26c%3Dd%2B%C3%A9%2A~._-");
  connector::SecretWriter big;
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    big.append("0123456789");
    expected += "0123456789";
  }
  CHECK(big.size() == 10000);
  const SecretBytes taken = big.take();
  CHECK(taken.expose_view() == expected);
  CHECK(big.size() == 0);
  CHECK(connector::json_escape("a\"b") == "a\\\"b");
}
