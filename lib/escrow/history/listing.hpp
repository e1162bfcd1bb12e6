// What `escrow list` prints, from this machine's verified-state cache without reading a record
// (docs/FORMAT.md §7, docs/PERFORMANCE.md issue 12 target 2). Implemented by history/cache.cpp.
//
// An escrow-state/4 snapshot ends with a listing section: one line per secret, in the index's
// order, "ENV/NAME" TAB b64 record hash TAB the canonical JSON of the columns `list` shows and the
// inputs of its status (connectors, custodians, due reasons, env, every, owner, purpose, state,
// threshold, versions as [vid, v, state, created_at]). The snapshot's first line (which
// verified.json names by its hash) names the section's hash and size; a row is used only when its
// record hash is the one the checked index gives for that secret, and the rows name exactly the
// index's secrets.
#pragma once

#include <escrow/history/state.hpp>

#include <filesystem>
#include <optional>
#include <vector>

namespace escrow::history {

// Every secret of `state` as a Secret holding only the listing's fields (no generations, keys,
// shares, grants or requests), in name order; nullopt when the place holds no listing for this
// state (an escrow-state/3 snapshot, or a state that moved past the cached one: read the records).
// A listing that is damaged or names other records than the index: Error(integrity) naming the
// snapshot, with the hint to remove the place.
std::optional<std::vector<Secret>> cached_listing(const std::filesystem::path& place, const VaultId& vault_id,
                                                  const State& state);

} // namespace escrow::history
