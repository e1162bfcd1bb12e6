// Sealing a merge (docs/design/vault-2-merge.md §3 "Sealed and unsealed", §7): after `git pull`
// merged two lines of history through the driver, the journal has several heads; `escrow sync`
// appends one signed `merge` event naming them all, so every later entry builds on the merged
// state and a conflict can no longer be committed unnoticed. An event changes no state: any
// active member may append it.
#pragma once

#include <escrow/history/vault_session.hpp>

namespace escrow::history {

// Appends the merge event when the verified journal has more than one head; false when it has one
// (nothing to seal). Error(access) when the identity cannot sign (not a member, no identity).
bool seal_merge(VaultSession& session);

} // namespace escrow::history
