// Commands while a merge is unresolved (unresolved.hpp).
#include <escrow/history/unresolved.hpp>

#include <escrow/history/resolve.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace escrow::history {

namespace {

std::string complete_lines(std::string_view text)
{
  const std::size_t nl = text.rfind('\n');
  return nl == std::string_view::npos ? std::string() : std::string(text.substr(0, nl + 1));
}

std::string side_list(const std::vector<ConflictOp>& ops)
{
  std::string out;
  for (const ConflictOp& op : ops) {
    out += fmt::format("{}line {} ({} by {})", out.empty() ? "" : ", ", op.line, op.action, op.actor);
  }
  return out.empty() ? "nothing" : out;
}

} // namespace

std::string Unresolved::summary() const
{
  if (problem) {
    return fmt::format("{}: unresolved merge (theirs refused: {})", journal, problem->what());
  }
  return fmt::format("{}: unresolved merge ({} conflict{})", journal, conflicts(), conflicts() == 1 ? "" : "s");
}

std::string Unresolved::warning() const
{
  return summary() + ": escrow resolve";
}

Error Unresolved::refusal(std::string_view what) const
{
  return Error(ErrorKind::failed, fmt::format("{}: {}", summary(), what),
               {"escrow resolve lists the conflicts and settles them (or git merge --abort gives the merge up)"});
}

std::optional<std::size_t> Unresolved::conflict_of(std::string_view path) const
{
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (objects[i].count(std::string(path)) > 0) {
      return i + 1;
    }
  }
  return std::nullopt;
}

std::optional<Unresolved> assess_unresolved(std::string_view ours_text, const UnresolvedMerge& merge, std::string_view name)
{
  const std::string ours = complete_lines(ours_text);
  Unresolved out;
  out.journal = std::string(name);
  const std::set<Hash> in_ours = entry_hashes(ours);
  for (const Hash& h : entry_hashes(merge.theirs)) {
    if (in_ours.count(h) == 0) {
      out.theirs_only.insert(h);
    }
  }
  if (out.theirs_only.empty()) {
    return std::nullopt;
  }
  try {
    const MergeAnalysis analysis = analyse_merge(ours, merge.theirs, merge.voids, "", name);
    for (std::size_t i = 0; i < analysis.conflicts.size(); ++i) {
      const MergeConflict& c = analysis.conflicts[i];
      out.objects.emplace_back(c.objects.begin(), c.objects.end());
      std::string objects;
      for (const std::string& o : c.objects) {
        objects += (objects.empty() ? "" : ", ") + o;
      }
      out.listed.push_back(fmt::format("conflict {}: {}: ours {}; theirs {}", i + 1,
                                       objects.empty() ? "(no record named)" : objects, side_list(c.ours),
                                       side_list(c.theirs)));
    }
  } catch (const Error& error) {
    out.problem = error;
  }
  return out;
}

} // namespace escrow::history
