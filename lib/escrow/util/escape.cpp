#include <escrow/util/escape.hpp>

#include <cstdint>

namespace escrow::util {

namespace {

// Length of the valid UTF-8 sequence at text[pos] and its code point, or 0 when invalid.
std::size_t decode(std::string_view text, std::size_t pos, char32_t& code)
{
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t lead = byte(pos);
  std::size_t length = 0;
  if (lead < 0x80) {
    code = lead;
    return 1;
  }
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (pos + length > text.size()) {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) {
      return 0;
    }
    code = (code << 6) | (byte(pos + i) & 0x3F);
  }
  // No overlong forms, no surrogates, nothing past U+10FFFF.
  if ((length == 3 && code < 0x800) || (length == 4 && (code < 0x10000 || code > 0x10FFFF))
      || (code >= 0xD800 && code <= 0xDFFF)) {
    return 0;
  }
  return length;
}

bool escaped(char32_t code, Layout layout)
{
  if (layout == Layout::keep_lines && (code == '\n' || code == '\t')) {
    return false;
  }
  return code < 0x20 || (code >= 0x7F && code <= 0x9F) || code == 0x061C || code == 0x200E || code == 0x200F
         || (code >= 0x2028 && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069);
}

constexpr char k_hex[] = "0123456789abcdef";

} // namespace

std::string escape_controls(std::string_view text, Layout layout)
{
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    char32_t code = 0;
    const std::size_t length = decode(text, pos, code);
    if (length == 0) {
      const auto b = static_cast<std::uint8_t>(text[pos]);
      out += "\\x";
      out.push_back(k_hex[b >> 4]);
      out.push_back(k_hex[b & 15]);
      ++pos;
      continue;
    }
    if (escaped(code, layout)) {
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) {
        out.push_back(k_hex[(code >> shift) & 15]);
      }
    } else {
      out.append(text.substr(pos, length));
    }
    pos += length;
  }
  return out;
}

bool has_controls(std::string_view text, Layout layout)
{
  std::size_t pos = 0;
  while (pos < text.size()) {
    char32_t code = 0;
    const std::size_t length = decode(text, pos, code);
    if (length == 0 || escaped(code, layout)) {
      return true;
    }
    pos += length;
  }
  return false;
}

} // namespace escrow::util
