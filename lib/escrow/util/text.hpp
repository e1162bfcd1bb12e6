// Small text helpers that know nothing of escrow.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace escrow::util {

// "a, b, c" (or with another separator); "" for no items.
inline std::string join(const std::vector<std::string>& items, std::string_view separator = ", ")
{
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += item;
  }
  return out;
}

// A name read from a file, quoted in an error message: control bytes shown as '?', at most
// `limit` bytes (then "...").
inline std::string quoted_name(std::string_view text, std::size_t limit = 64)
{
  std::string out;
  for (const char c : text.substr(0, limit)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  return text.size() > limit ? out + "..." : out;
}

} // namespace escrow::util
