// What `escrow list` prints, from this machine's verified-state cache without reading a record
// (docs/FORMAT.md §7, docs/PERFORMANCE.md issue 12 target 2). Implemented by history/cache.cpp.
//
// An escrow-state/5 snapshot ends with a listing section: one line per secret, in the index's
// order, of tab-separated columns: "ENV/NAME", the b64 record hash, then the ListedSecret below
// (env, owner, purpose, connectors, custodian count, threshold, then its StatusFacts: every,
// state, pending v, current v, current created_at, live, due), text escaped so that a row holds no
// tab or newline. The snapshot's first line (which verified.json names by its hash) names the
// section's hash and size; a row is used only when its record hash is the one the checked index
// gives for that secret, and the rows name exactly the index's secrets.
#pragma once

#include <escrow/history/state.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace escrow::history {

// One secret as `list` shows it: its columns, and what its status line depends on.
struct ListedSecret
{
  std::string name; // ENV/NAME
  std::string owner;
  std::string purpose;
  std::string connectors; // in rotation order, joined by ","
  std::size_t custodians = 0;
  std::int64_t threshold = 0;
  StatusFacts facts; // facts.env is the secret's environment

  bool operator==(const ListedSecret&) const = default;
};

// What the record gives (status_facts: secrets.hpp).
ListedSecret listed_secret(const Secret& secret);

// Every secret of `state` as `list` shows it, in name order, from the listing section of the
// snapshot `place` holds; a secret changed since that snapshot (an entry ahead of it, or this
// session's own write) from its record. nullopt when the place holds no listing (no place, or an
// escrow-state/3 or /4 snapshot: read the records). A listing that is damaged or names other
// records than the index: Error(integrity) naming the snapshot, with the hint to remove the place.
std::optional<std::vector<ListedSecret>> cached_listing(const std::filesystem::path& place, const VaultId& vault_id,
                                                        const State& state);

} // namespace escrow::history
