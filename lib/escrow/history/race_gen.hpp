// Which generation a shared reader key goes to when a settled rotation race left two generations
// of one number (docs/design/vault-2-merge.md §5 "Two generations of one number"): the secret's
// own `gens[G]` and a kept version's `race_gen` (Version::race_gen). A key line names the
// generation by number only (`prod/db:g2:rk:dave`), so `share` (and its top-ups) hand them over in
// a fixed order, one line per number per entry:
//   1. the secret's own generation G, when a live version uses it and the member lacks it;
//   2. else the race generation of number G of the one live version that keeps one and whose
//      key the member lacks;
//   3. else the secret's own generation G, when only versions no longer live (retired, failed)
//      use it and the member lacks it: a share merged after a concurrent rotation retired them.
// So a member lacking both gets two share entries (the share command writes them in that order),
// and every verifier sends each line where the writer meant it. Used by authorize (may_share),
// apply (share's effects) and the share command: one rule.
#pragma once

#include <escrow/history/authorize.hpp>
#include <escrow/history/state.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace escrow::history {

struct ShareTarget
{
  const Generation* generation = nullptr; // nullptr: no generation of that number the member lacks
  std::string race_vid;                   // the version whose race_gen it is ("": the secret's own)
};

inline ShareTarget share_target(const Secret& secret, std::int64_t gen, std::string_view member)
{
  ShareTarget out;
  const auto own = secret.gens.find(gen);
  bool own_live = false;
  for (const auto& [vid, v] : secret.versions) {
    own_live = own_live || (live(v) && v.gen == gen && !v.race_gen);
  }
  if (own != secret.gens.end() && own_live && own->second.holders.count(std::string(member)) == 0) {
    out.generation = &own->second;
    return out;
  }
  for (const auto& [vid, v] : secret.versions) {
    if (!live(v) || v.gen != gen || !v.race_gen || v.race_gen->holders.count(std::string(member)) > 0) {
      continue;
    }
    if (out.generation != nullptr) {
      return ShareTarget{}; // two race generations of one number: never guessed
    }
    out.generation = &*v.race_gen;
    out.race_vid = vid;
  }
  if (out.generation != nullptr || own == secret.gens.end() || own_live
      || own->second.holders.count(std::string(member)) > 0) {
    return out;
  }
  //   3. else the secret's own generation G when only versions no longer live use it: a share
  //      merged after a concurrent rotation that retired them (the share named it while live).
  for (const auto& [vid, v] : secret.versions) {
    if (v.gen == gen && !v.race_gen) {
      out.generation = &own->second;
      return out;
    }
  }
  return out;
}

} // namespace escrow::history
