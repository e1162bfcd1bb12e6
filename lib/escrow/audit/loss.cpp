#include <escrow/audit/loss.hpp>

#include <escrow/error.hpp>

#include <algorithm>

namespace escrow::audit {

using namespace escrow::history;

AcknowledgedLoss acknowledge_loss(VaultSessionOptions options, const std::string& why)
{
  if (why.empty()) {
    fail(ErrorKind::usage, "audit ack-loss: --why must say why the entries are gone");
  }
  options.acknowledging_loss = true;
  VaultSession session = VaultSession::open(std::move(options), Access::write);
  AcknowledgedLoss out;
  out.lost = session.lost();
  if (out.lost.empty()) {
    throw Error(ErrorKind::usage,
                fmt::format("audit ack-loss: {}: no entry this machine verified is missing: nothing to acknowledge",
                            session.paths().journal.string()))
      .hint("escrow audit verify says what is wrong with the journal, if anything");
  }
  JournalLossArgs args;
  for (const VerifiedEntry& e : out.lost) {
    args.lost.push_back(LostEntry{e.hash, e.ts, e.actor, e.action});
  }
  std::sort(args.lost.begin(), args.lost.end(), [](const LostEntry& a, const LostEntry& b) { return a.hash < b.hash; });
  // A refusal is not journaled: nothing may be appended to a journal with a loss but its
  // acknowledgement.
  out.entry = session.submit(std::move(args), {}, why);
  return out;
}

} // namespace escrow::audit
