// Finding things by name in a vault, and a helpful answer when there is no such thing: the
// environments a vault knows, and "did you mean" hints for members, connectors and secrets
// (Vault::secret adds its own). docs/FINDING.md describes the behaviour.
#pragma once

#include <escrow/error.hpp>
#include <escrow/vault.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace escrow {

// Every environment the vault names: secrets' prefixes, connectors', members' (but "*") and the
// policy's (but the default "*"). Sorted, without duplicates.
std::vector<std::string> known_environments(const Vault& vault);

// Throws Error(usage) "<what>: no environment named <env> in <vault>" with a "did you mean" hint
// (or the list of known environments) when the vault does not know `env`.
void require_known_environment(const Vault& vault, std::string_view env, std::string_view what);

std::vector<std::string> member_names(const Vault& vault);    // active members
std::vector<std::string> connector_names(const Vault& vault);

// "did you mean 'x'?" for a name that is not there; "" when nothing is close.
std::string member_hint(const Vault& vault, std::string_view name);
std::string connector_hint(const Vault& vault, std::string_view name);

// The names shell completion offers (`escrow __complete KIND`): "secrets", "members",
// "connectors" or "envs" of the vault at `vault_path`, read from its public metadata (no
// identity, no journal). Error(usage) for another kind.
std::vector<std::string> names_for_completion(const std::filesystem::path& vault_path, std::string_view kind);

// Adds `hint` to `error` unless it is empty; returns the error to throw.
Error with_hint(Error error, const std::string& hint);

} // namespace escrow
