// Refusals are journaled (vault-2-plan.md step 5b, DESIGN §5): a member whose read or write the
// rules refuse leaves a denied event in the journal (value-free detail), then gets the refusal.
#pragma once

#include <escrow/error.hpp>
#include <escrow/history/vault_session.hpp>

namespace escrow::history {

// Runs `act`; an Error(access) from it (the rules, or a key that does not open for the member) is
// journaled as `action` with Result::denied and `detail` plus its "reason", then rethrown. Other errors (usage,
// integrity, I/O) are not refusals and pass through untouched. A non-member (whose identity the
// session refuses) cannot journal anything: they get the refusal, and no file changes.
template <typename F>
decltype(auto) journaling_refusal(VaultSession& session, Action action, const Json& detail, F&& act)
{
  try {
    return act();
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::access) {
      throw;
    }
    try {
      // The reason as the member sees it (refusal messages name members and secrets, never a
      // value), bounded as every detail fact is.
      Json facts = detail;
      const std::string reason = error.what();
      facts["reason"] = reason.size() > 1024 ? reason.substr(0, 1024) : reason;
      session.record(action, Result::denied, std::move(facts));
    } catch (const Error&) {
      // Not a member (or the journal cannot take the event): the refusal stands on its own.
    }
    throw;
  }
}

} // namespace escrow::history
