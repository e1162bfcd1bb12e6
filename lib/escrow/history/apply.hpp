// history::apply: the one function that changes a State (docs/design/vault-2-operations.md §4,
// §5 "effect" columns), and the writes check (§1.2).
//
// apply() computes the operation's effect on the state in place (copy-on-write of the records
// it touches, each saved once in the trace's undo log), then compares the entry's signed
// `writes` with what it computed: every record path whose hash changed with its exact before
// and after hash, every key line the effect deletes, and the key lines the entry adds (which
// authorize() has judged). Any difference is Error(integrity) "wrong writes", and the state is
// put back as it was. A command calls compute_writes() to fill `writes` before signing, so what
// it appends is what the replay recomputes.
#pragma once

#include <escrow/history/authorize.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/state.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

// The due reasons about what the connectors hold, not about who knows a value. A rollback's
// finish (a re-apply of an existing version) clears only these: every other reason (a member
// removed, an unshare, an access change, a grant used, an exposure by a concurrent rotation) was
// recorded after the last rotation's finish, so the version a rollback puts back was known to the
// same people, and only a rotation's finish (a new value) clears it.
inline constexpr std::string_view k_due_rollback_incomplete = "rollback incomplete";
inline constexpr std::string_view k_due_race_resolved = "rotation race resolved: the connectors may hold either version";

// What an effect did besides changing records, and how to take it back.
struct Trace
{
  std::set<std::string> touched; // record paths the effect may have changed
  std::vector<KeyWrite> deleted; // key lines the effect removed from the state

  // The undo log: each record as it was before the effect first replaced or removed it (nullptr:
  // it did not exist), and the state's other fields it changed. apply() runs an effect on the
  // state itself (no copy of the state per operation: vault-2-plan.md step 8) and compares
  // against these; undo() puts them back.
  struct Undo
  {
    std::map<std::string, std::shared_ptr<const Member>> members;
    std::map<std::string, std::shared_ptr<const Connector>> connectors;
    std::map<std::string, std::shared_ptr<const Secret>> secrets;
    std::optional<std::shared_ptr<const Policy>> policy;
    bool head = false; // init changed initialised, vault_id, genesis_name (saved below)
    bool initialised = false;
    VaultId vault_id{};
    std::string genesis_name;
    std::vector<Hash> lost; // added to State::lost
  } undo;
};

// Puts back in `state` everything the effect traced in `trace` changed (the state is then what
// it was before run_effects).
void undo(State& state, const Trace& trace);

// The effect of `args` (as written by ctx) on `state`, applied in place (copy-on-write: records
// are replaced, never modified through a shared pointer; each replaced or removed record and
// every other change is saved in trace.undo). Key lines added are taken from ctx.keys. Throws Error(integrity) when the operation's object does not exist; callers run
// authorize() first.
void run_effects(State& state, const Context& ctx, const Args& args, Trace& trace);

// The complete, sorted `writes` of the entry's op applied to `before` (its own key-line
// additions included). The first form copies the state; the second applies the op to `state`
// and undoes it (the state is left as it was, also when it throws).
std::vector<Write> compute_writes(const State& before, const Entry& entry);
std::vector<Write> compute_writes(State& state, const Entry& entry);

// A writer's own operation, not yet signed: applies its effect to `state` (left changed; as it
// was when it throws) and returns the complete, sorted writes to sign. compute_writes() followed
// by apply() on the same state would run the same effect twice and compare the writes with
// themselves: the effect depends only on the state, the args, actor, ts, why, vault and the key
// lines the entry adds (context_of), none of which signing changes. Every other entry (replay,
// merge, another writer's) goes through apply().
std::vector<Write> apply_own(State& state, const Entry& entry);

// Applies an ok operation entry to `state` after checking its writes (Error(integrity) naming
// `what` and the first path that differs; state unchanged). Events change nothing.
void apply(State& state, const Entry& entry, std::string_view what = "entry");

} // namespace escrow::history
