// Value generators for `add --generate` and rotation:
//   "len=32,alphabet=base62"   random, uniform over the alphabet (rejection sampling);
//                              alphabets: base62, base64url, hex, ascii (printable, no space)
//   "cmd=COMMAND"              an external command whose stdout is the new value (for credentials
//                              a provider mints); one trailing newline is removed.
#pragma once

#include <escrow/secret_bytes.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace escrow {

struct GeneratorSpec
{
  std::size_t length = 32;
  std::string alphabet = "base62";
  std::string command; // non-empty for cmd=
};

// Error(usage) naming the problem.
GeneratorSpec parse_generator(std::string_view spec);
std::string describe(const GeneratorSpec& spec);
// Random generators only; see rotation for cmd=.
SecretBytes generate_random(const GeneratorSpec& spec);

} // namespace escrow
