// The policy's notify hook on escrow-vault/2 (the `p` record's "notify"; docs/RECOVERY.md,
// docs/ROTATION.md): one JSON event on the hook's stdin, ESCROW_EVENT set to its "event", never a
// value. The hook runs with the connectors' scrubbed environment and a 30 s limit.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/history/state.hpp>

namespace escrow::history {

// Runs the hook of `state`'s policy with `event`. Returns null when there is no hook, else
// {"ran", "ok", "error"} (a failing hook never fails the command that sent the event).
Json notify(const State& state, const Json& event);

} // namespace escrow::history
