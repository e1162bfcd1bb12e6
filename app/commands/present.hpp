// How results look, shared by the commands that print the same things (a secret's summary,
// rotation outcomes). Presentation only: no rule and no vault access lives here.
#pragma once

#include <commands/context.hpp>

#include <escrow/history/state.hpp>
#include <escrow/rotation/git_lock.hpp>
#include <escrow/rotation/outcome.hpp>

#include <functional>
#include <string>
#include <vector>

namespace escrow::cli {

// "a,b,c" → {"a", "b", "c"} (empty items dropped).
std::vector<std::string> split_list(const std::string& text);

// One secret as `list --json`, `show --json` and `add --json` print it.
Json secret_summary(const history::State& state, const history::Secret& secret, Timestamp now);

// Per-step lines on a terminal (stderr), so a person sees where a slow connector is.
std::function<void(const std::string&)> progress_for(Context& context);
// One rotation outcome for people.
void print_outcome(Context& context, const rotation::Outcome& outcome);
// A failed notify hook, as a note (the operation itself is unaffected).
void note_notify(Context& context, const Json& notify);
// Prints the outcomes (one JSON document, or a line each) and turns failures into exit 1.
void report_outcomes(Context& context, const std::string& command, const std::vector<rotation::Outcome>& outcomes,
                     bool dry_run);

// The git lock of rotation (rotation/git_lock.hpp) for this command's vault and session.
rotation::GitLockOptions git_lock_options(Context& context, bool no_push);
// Its notes and the session's warnings on stderr, before the outcomes.
void note_lock(Context& context, const rotation::LockedRun& run);
// After the outcomes: a finish that could not be pushed is exit 5 (the rotation itself stands).
void fail_unpublished(const rotation::LockedRun& run);

} // namespace escrow::cli
