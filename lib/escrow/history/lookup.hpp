// Finding things by name in an escrow-vault/2 state, and a helpful answer when there is no such
// thing (docs/FINDING.md): the secret, member or connector named, else Error(usage) naming it
// with a "did you mean" hint (util/suggest.hpp); the environments a vault knows, and the usage
// error for one it does not. Every v2 command that looks a name up goes through here.
//
// The state is public to every holder of the repository (the journal is plain text), so a hint
// never tells more than `escrow list`, `member list` or `connector list` would.
#pragma once

#include <escrow/history/state.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

// Names, sorted: every secret (ENV/NAME, retired ones too), the active members, every connector.
std::vector<std::string> secret_names(const State& state);
std::vector<std::string> member_names(const State& state);
std::vector<std::string> connector_names(const State& state);

// Every environment the vault names: its secrets', connectors', members' (but "*") and the
// policy's (but the default "*"). Sorted, without duplicates.
std::vector<std::string> known_environments(const State& state);

// "did you mean 'x'?" for a name that is not there; "" when nothing is close.
std::string secret_hint(const State& state, std::string_view name);
std::string member_hint(const State& state, std::string_view name);
std::string connector_hint(const State& state, std::string_view name);

// The secret named, or Error(usage) "<what>: no secret named NAME" with a hint.
const Secret& find_secret(const State& state, std::string_view name, std::string_view what);
// The member named (active or removed: the rules judge a removed one), or Error(usage)
// "<what>: no member named NAME" with a hint among the active members.
const Member& find_member(const State& state, std::string_view name, std::string_view what);
// The connector named, or Error(usage) "<what>: no connector named NAME" with a hint.
const Connector& find_connector(const State& state, std::string_view name, std::string_view what);

// Returns when the vault knows `env`; otherwise Error(usage) "<what>: no environment named ENV
// in VAULT" with a "did you mean" hint, else the list of the vault's environments.
void require_known_environment(const State& state, std::string_view env, std::string_view what,
                               std::string_view vault);

} // namespace escrow::history
