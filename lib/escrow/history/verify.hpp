// escrow verify on escrow-vault/2 (vault-2-plan.md step 5b): the whole vault from its bytes
// (replay.hpp verify_vault: head file, every journal entry authorised by the state before it,
// every key line against the state), then this machine's verified state (its cache place, which
// the session continued) compared with the full replay's.
#pragma once

#include <escrow/history/vault_session.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace escrow::history {

struct VaultCheck
{
  std::uint64_t entries = 0;
  std::size_t signatures = 0;
  std::size_t key_lines = 0;
  std::size_t members = 0; // active
  std::size_t secrets = 0;
  // The digest of the state the journal replays to (docs/FORMAT.md §7): two clones at the same
  // heads print the same one, whatever their caches hold.
  Hash state{};
  std::vector<std::string> warnings; // findings of severity warning, one line each
};

// Error(integrity) naming the file and entry of the first problem (exit 3); Error(failed) for an
// unsealed merge (exit 1); Error(integrity) when this machine's cached state differs from the
// replay's (with a hint to remove the cache place).
VaultCheck verify(VaultSession& session);

} // namespace escrow::history
