// history::apply: the one function that changes a State (docs/design/vault-2-operations.md §4,
// §5 "effect" columns), and the writes check (§1.2).
//
// apply() computes the operation's effect on a copy of the state (copy-on-write of the records
// it touches), then compares the entry's signed `writes` with what it computed: every record
// path whose hash changed with its exact before and after hash, every key line the effect
// deletes, and the key lines the entry adds (which authorize() has judged). Any difference is
// Error(integrity) "wrong writes", and the state is left unchanged. A command calls
// compute_writes() to fill `writes` before signing, so what it appends is what the replay
// recomputes.
#pragma once

#include <escrow/history/authorize.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/state.hpp>

#include <set>
#include <string>
#include <vector>

namespace escrow::history {

// What an effect did besides changing records.
struct Trace
{
  std::set<std::string> touched; // record paths the effect may have changed
  std::vector<KeyWrite> deleted; // key lines the effect removed from the state
};

// The effect of `args` (as written by ctx) on `state`, applied in place (copy-on-write: records
// are replaced, never modified through a shared pointer). Key lines added are taken from
// ctx.keys. Throws Error(integrity) when the operation's object does not exist; callers run
// authorize() first.
void run_effects(State& state, const Context& ctx, const Args& args, Trace& trace);

// The complete, sorted `writes` of the entry's op applied to `before` (its own key-line
// additions included).
std::vector<Write> compute_writes(const State& before, const Entry& entry);

// Applies an ok operation entry to `state` after checking its writes (Error(integrity) naming
// `what` and the first path that differs; state unchanged). Events change nothing.
void apply(State& state, const Entry& entry, std::string_view what = "entry");

} // namespace escrow::history
