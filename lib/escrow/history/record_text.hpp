#pragma once

// The canonical text of one record of a state: canonical::dump(*state.record(path)), a secret's
// written without the JSON DOM (state.cpp). Apart from state.hpp so that the few writers of record
// text (the cache's snapshot) include it without every user of State rebuilding.

#include <escrow/history/state.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace escrow::history {

// nullopt when the state holds no record at `path` (or `path` names none).
std::optional<std::string> record_text(const State& state, std::string_view path);
// The canonical text of one secret record (what record_text gives for its path). Reads nothing
// but `secret`: safe on any thread while the record lives.
std::string secret_record_text(const Secret& secret);

} // namespace escrow::history
