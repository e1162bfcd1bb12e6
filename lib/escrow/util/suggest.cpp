#include <escrow/util/suggest.hpp>

#include <algorithm>
#include <utility>

namespace escrow::util {

namespace {

char fold(char c)
{
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::size_t allowed_edits(std::size_t length)
{
  if (length <= 4) {
    return 1;
  }
  return length <= 8 ? 2 : 3;
}

} // namespace

std::size_t edit_distance(std::string_view a, std::string_view b)
{
  // Three rows of the dynamic-programming table: two back (for transpositions), one back, this one.
  const std::size_t n = b.size();
  std::vector<std::size_t> before(n + 1);
  std::vector<std::size_t> previous(n + 1);
  std::vector<std::size_t> current(n + 1);
  for (std::size_t j = 0; j <= n; ++j) {
    previous[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= n; ++j) {
      const bool same = fold(a[i - 1]) == fold(b[j - 1]);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
      if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1])) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[n];
}

std::vector<std::string> closest(std::string_view word, const std::vector<std::string>& candidates, std::size_t limit)
{
  std::vector<std::pair<std::size_t, std::size_t>> scored; // (distance, index)
  const std::size_t allowed = allowed_edits(word.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::string& candidate = candidates[i];
    if (candidate == word) {
      continue;
    }
    const std::size_t distance = edit_distance(word, candidate);
    const bool prefix = word.size() >= 2 && candidate.size() > word.size() &&
                        edit_distance(word, std::string_view(candidate).substr(0, word.size())) == 0;
    if (distance <= allowed || prefix) {
      scored.emplace_back(prefix ? std::min(distance, allowed) : distance, i);
    }
  }
  std::stable_sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (const auto& [distance, index] : scored) {
    if (out.size() == limit) {
      break;
    }
    out.push_back(candidates[index]);
  }
  return out;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates)
{
  const std::vector<std::string> near = closest(word, candidates);
  if (near.empty()) {
    return {};
  }
  std::string text = "did you mean ";
  for (std::size_t i = 0; i < near.size(); ++i) {
    if (i > 0) {
      text += i + 1 == near.size() ? " or " : ", ";
    }
    text += "'" + near[i] + "'";
  }
  return text + "?";
}

} // namespace escrow::util
