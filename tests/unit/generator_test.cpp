// generator: --generate specs and the random generator (uniform over its alphabet).
#include "foundation_support.hpp"

#include <escrow/generator.hpp>

#include <map>

using namespace escrow;
using escrow::test::require_error;

TEST_CASE("generator: specs", "[generator]")
{
  const GeneratorSpec spec = parse_generator("len=20,alphabet=hex");
  CHECK(spec.length == 20);
  CHECK(spec.alphabet == "hex");
  CHECK(describe(spec) == "len=20,alphabet=hex");
  CHECK(parse_generator("length=8").length == 8);
  CHECK(parse_generator("").alphabet == "base62");
  CHECK(parse_generator("alphabet=ascii").length == 32);
  const GeneratorSpec command = parse_generator("cmd=vault-mint --ttl 1h");
  CHECK(command.command == "vault-mint --ttl 1h");
  CHECK(describe(command) == "cmd=vault-mint --ttl 1h");
  for (const char* bad : {"len=0", "len=4097", "len=-1", "len=x", "len=", "alphabet=emoji", "size=3", "len32", "cmd=",
                          "len=8,,alphabet=hex"}) {
    INFO(bad);
    CHECK_THAT(require_error(ErrorKind::usage, [&] { (void)parse_generator(bad); }), Catch::StartsWith("--generate: "));
  }
  for (const char* spec_text : {"len=1,alphabet=base62", "len=4096,alphabet=base64url", "len=7,alphabet=ascii"}) {
    CHECK(describe(parse_generator(spec_text)) == spec_text);
  }
}

TEST_CASE("generator: random values use exactly their alphabet, uniformly", "[generator]")
{
  const std::map<std::string, std::string> alphabets = {
    {"base62", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"},
    {"base64url", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"},
    {"hex", "0123456789abcdef"},
  };
  for (const auto& [name, chars] : alphabets) {
    GeneratorSpec spec;
    spec.alphabet = name;
    spec.length = 4096;
    const SecretBytes value = generate_random(spec);
    REQUIRE(value.size() == 4096);
    std::map<char, int> counts;
    for (const char c : value.expose_view()) {
      REQUIRE(chars.find(c) != std::string::npos);
      ++counts[c];
    }
    // Every symbol appears, none wildly more than its share (4096 / 64 = 64 at least per symbol).
    CHECK(counts.size() == chars.size());
    for (const auto& [c, count] : counts) {
      CHECK(count < static_cast<int>(4096 / chars.size() * 3));
    }
  }
  GeneratorSpec ascii;
  ascii.alphabet = "ascii";
  ascii.length = 1000;
  const SecretBytes printable = generate_random(ascii);
  for (const char c : printable.expose_view()) {
    CHECK((c > ' ' && c < 0x7f));
  }
  GeneratorSpec a;
  CHECK_FALSE(generate_random(a).equals(generate_random(a)));
  require_error(ErrorKind::usage, [] { (void)generate_random(parse_generator("cmd=echo x")); });
}
