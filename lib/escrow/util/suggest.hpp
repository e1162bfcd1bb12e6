// "Did you mean …?": the candidates closest to a mistyped word, by edit distance.
// Knows nothing of escrow: commands, secrets, members and connectors all use it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::util {

// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
// two adjacent characters each cost 1 (so "pasword" → "password" and "lsit" → "list" are 1).
// ASCII letters compare case-insensitively.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidates close enough to `word` to be what was meant, nearest first (ties in the
// candidates' order), at most `limit` of them. "Close enough" grows with the word's length:
// 1 edit up to 4 characters, 2 up to 8, then 3. A candidate that starts with `word` (at least
// 2 characters) also counts, so "conn" finds "connector".
std::vector<std::string> closest(std::string_view word, const std::vector<std::string>& candidates,
                                 std::size_t limit = 3);

// "did you mean 'a'?" / "did you mean 'a' or 'b'?" ; "" when nothing is close.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

} // namespace escrow::util
