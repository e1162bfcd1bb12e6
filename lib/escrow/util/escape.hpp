// Text from files shown to people: control characters made visible. Knows nothing of escrow.
//
// Names, purposes, justifications, journal fields and connector output come from files anyone
// who can push may edit. Printed raw, "\x1b]..." or "\x1b[2J" would rewrite the terminal (hide a
// line, fake an approval count, retitle the window). Every human output passes such text
// through escape_controls(); --json output stays exact (JSON escapes control characters itself).
#pragma once

#include <string>
#include <string_view>

namespace escrow::util {

enum class Layout {
  one_line,  // everything below, '\n' and '\t' included, is escaped
  keep_lines // '\n' and '\t' are kept (text composed of several lines)
};

// Escapes, as "\u00XX" / "\uXXXX": C0 controls (U+0000-U+001F), DEL, C1 controls
// (U+0080-U+009F), and the invisible format characters that reorder or break lines (bidi
// embeddings, overrides and isolates U+202A-U+202E, U+2066-U+2069, marks U+200E, U+200F,
// U+061C, separators U+2028, U+2029). A byte that is not part of valid UTF-8 becomes "\xNN" (a
// lone 0x9B is CSI to some terminals). Everything else, other languages included, is unchanged.
std::string escape_controls(std::string_view text, Layout layout = Layout::one_line);

// Whether escape_controls would change `text`.
bool has_controls(std::string_view text, Layout layout = Layout::one_line);

} // namespace escrow::util
