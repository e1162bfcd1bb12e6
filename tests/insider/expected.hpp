// The hand-written expectations of the (signer × operation kind) matrix (vault-2-plan.md §1.2).
// Written from the rules of docs/design/vault-2-operations.md §5 and DESIGN §3a, NOT derived from
// history/authorize.cpp, so the suite cannot agree with a bug there by construction.
#pragma once

#include <escrow/history/replay.hpp>

#include <set>
#include <string>
#include <vector>

namespace insider {

// The variants of the matrix, in the order the table lists them.
const std::vector<std::string>& variants();
// Whether `signer` may author `variant` against the team of insider_support.hpp.
bool expected_allowed(const std::string& variant, const std::string& signer);
// The finding a refused cell must produce: who the author is decides it before any rule does.
escrow::history::FindingKind expected_finding(const std::string& signer);

} // namespace insider
