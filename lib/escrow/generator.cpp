#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/generator.hpp>

#include <charconv>

namespace escrow {

namespace {

std::string_view alphabet_chars(std::string_view name)
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

GeneratorSpec parse_generator(std::string_view spec)
{
  GeneratorSpec out;
  if (spec.rfind("cmd=", 0) == 0) {
    out.command = std::string(spec.substr(4));
    if (out.command.empty()) {
      fail(ErrorKind::usage, "--generate: cmd= needs a command");
    }
    return out;
  }
  std::size_t start = 0;
  while (start < spec.size()) {
    auto end = spec.find(',', start);
    if (end == std::string_view::npos) {
      end = spec.size();
    }
    const std::string_view item = spec.substr(start, end - start);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      fail(ErrorKind::usage, "--generate: expected KEY=VALUE items such as len=32,alphabet=base62");
    }
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    if (key == "len" || key == "length") {
      std::size_t length = 0;
      const auto [ptr, error] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (error != std::errc() || ptr != value.data() + value.size() || length < 1 || length > 4096) {
        fail(ErrorKind::usage, "--generate: len must be a number from 1 to 4096");
      }
      out.length = length;
    } else if (key == "alphabet") {
      if (alphabet_chars(value).empty()) {
        fail(ErrorKind::usage, "--generate: unknown alphabet (use base62, base64url, hex or ascii)");
      }
      out.alphabet = std::string(value);
    } else {
      fail(ErrorKind::usage, "--generate: unknown item (use len=N, alphabet=A or cmd=COMMAND)");
    }
    start = end + 1;
  }
  return out;
}

std::string describe(const GeneratorSpec& spec)
{
  if (!spec.command.empty()) {
    return "cmd=" + spec.command;
  }
  return "len=" + std::to_string(spec.length) + ",alphabet=" + spec.alphabet;
}

SecretBytes generate_random(const GeneratorSpec& spec)
{
  const std::string_view chars = alphabet_chars(spec.alphabet);
  if (chars.empty() || !spec.command.empty()) {
    fail(ErrorKind::usage, "not a random generator");
  }
  SecretBytes out(spec.length);
  for (std::size_t i = 0; i < spec.length; ++i) {
    out.expose_mut()[i] = static_cast<std::uint8_t>(chars[crypto::random_uniform(static_cast<std::uint32_t>(chars.size()))]);
  }
  return out;
}

} // namespace escrow
