// `escrow audit ack-loss` (vault-2-replay.md §6): an admin acknowledges that journal entries this
// machine verified are gone for good. The session is opened with `acknowledging_loss` (it lists
// the lost entries instead of refusing), and one `journal-loss` operation naming exactly them
// (hash, ts, actor, action, from this machine's cache) is submitted: the rules require an admin
// reaching every environment, and the session refuses it when a lost entry was an operation (a
// lost operation changed the state: it must be restored, not acknowledged). After it, every
// machine's replay accepts those hashes as missing parents, and work resumes.
#pragma once

#include <escrow/history/cache.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/vault_session.hpp>

#include <string>
#include <vector>

namespace escrow::audit {

struct AcknowledgedLoss
{
  std::vector<history::VerifiedEntry> lost; // oldest first
  history::Entry entry;                     // the journal-loss operation written
};

// Error(usage) when nothing is lost (with a hint to run verify), Error(access) when the rules
// refuse the identity, Error(integrity) when a lost entry was an operation or the journal has
// another problem than the loss; then nothing is written.
AcknowledgedLoss acknowledge_loss(history::VaultSessionOptions options, const std::string& why);

} // namespace escrow::audit
