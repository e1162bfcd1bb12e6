// escrow resolve's analysis of an unsealed merge (resolve.hpp analyse_choices): the journal
// replayed with the choices made so far honoured at the merge of its heads exactly as a resolve
// entry's would be there (voids, exposed rotations, rotation races; the resolver's authority
// judged; `at` the time of the due reasons they add), so the analysis sees each side as every
// replay does — a side carrying a settled race or exposed rotation is its fixed prefix, and two
// settlements made apart are combined (merge_check.hpp) — and that merge's check returned.
#pragma once

#include <escrow/history/merge_check.hpp>
#include <escrow/history/replay.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace escrow::history {

struct OpenChoices
{
  ResolveArgs choices;
  std::string resolver; // "" = no authority judged
  Timestamp at = 0;
};

struct OpenMergeReplay
{
  ReplayResult result;             // as replay(journal)
  std::optional<MergeCheck> check; // every level's conflicts, voids, refusals; merged = result.state
};

OpenMergeReplay replay_open_merge(std::string_view journal, const OpenChoices& choices);

} // namespace escrow::history
