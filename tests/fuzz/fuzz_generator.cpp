// Generator specs (`add --generate`, `rotate --generate`: "len=32,alphabet=base62", "cmd=…").
// Properties: every spec is a GeneratorSpec or an Error(usage); describe() writes what
// parse_generator reads back to the same spec, and is a fixed point; a random spec generates
// exactly its length of characters from its alphabet.
#include "fuzz.hpp"

#include <escrow/generator.hpp>

#include <string_view>

using namespace escrow;

namespace {

bool same_spec(const GeneratorSpec& a, const GeneratorSpec& b)
{
  return a.length == b.length && a.alphabet == b.alphabet && a.command == b.command;
}

// The alphabets of lib/escrow/generator.hpp, written here again (the oracle is independent).
std::string_view expected_alphabet(std::string_view name)
{
  if (name == "base62") {
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  }
  if (name == "base64url") {
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  }
  if (name == "hex") {
    return "0123456789abcdef";
  }
  if (name == "ascii") {
    return "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
  }
  return {};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  GeneratorSpec spec;
  if (!fuzz::accepted({ErrorKind::usage}, [&] { spec = parse_generator(text); })) {
    return 0;
  }
  const std::string written = describe(spec);
  GeneratorSpec again;
  fuzz::must("a described spec parses", [&] { again = parse_generator(written); });
  fuzz::check(same_spec(again, spec), "parse_generator(describe(s)) == s");
  fuzz::check(describe(again) == written, "describe is a fixed point");

  if (spec.command.empty()) {
    SecretBytes value;
    fuzz::must("a random spec generates", [&] { value = generate_random(spec); });
    fuzz::check(value.size() == spec.length, "a generated value has the spec's length");
    const std::string_view alphabet = expected_alphabet(spec.alphabet);
    fuzz::check(!alphabet.empty(), "a spec names a known alphabet");
    for (const std::uint8_t byte : value.expose()) {
      fuzz::check(alphabet.find(static_cast<char>(byte)) != std::string_view::npos,
                  "a generated value is drawn from its alphabet");
    }
  }
  fuzz::round_tripped();
  return 0;
}
