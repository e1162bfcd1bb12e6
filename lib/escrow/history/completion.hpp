// The names shell completion offers (`escrow __complete KIND`) on escrow-vault/2: "secrets",
// "members" (active), "connectors" or "envs" of a verified state. The state is public to every
// holder of the repository (the journal is plain text): no identity is needed, nothing is
// journaled.
#pragma once

#include <escrow/history/state.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

// Error(usage) for another kind (checked before the vault is opened).
void check_completion_kind(std::string_view kind);
// Sorted names of `kind`; environments are those of secrets, connectors, members (but "*") and
// the policy (but the default "*").
std::vector<std::string> names_for_completion(const State& state, std::string_view kind);

} // namespace escrow::history
