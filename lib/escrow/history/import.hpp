// escrow import on escrow-vault/2 (the sources and their reading: lib/escrow/import.hpp,
// read_import_source; docs/IMPORT.md).
//
// escrow-vault/2 has no bulk secret-add (vault-2-operations.md §2: `secret-add` names one secret),
// so an import is one `secret-add` operation per new secret, submitted in source order through
// VaultSession::submit, then ONE `import` event listing them (never a value). Everything that can
// be checked without the rules is checked for every item before the first write (names, twice in
// the source, already in the vault, empty or oversized values, the owner); the rules then judge the
// first secret-add (a refusal is journaled as a denied secret-add and nothing is added), and the
// others are the same kind of operation by the same member in the same environment.
#pragma once

#include <escrow/history/vault_session.hpp>
#include <escrow/import.hpp>

#include <string_view>
#include <vector>

namespace escrow::history {

struct ImportOutcome
{
  std::vector<ImportedSecret> secrets;
  std::size_t added = 0;   // secret-add operations written
  std::string entry;       // b64 hash of the import event ("" for a dry run or nothing added)
};

// Maps, checks and (unless dry_run) adds every item. `source_label` names the source in the
// default purpose and in the import event.
ImportOutcome import_secrets(VaultSession& session, std::vector<ImportItem>& items, const ImportOptions& options,
                             std::string_view source_label, ImportFormat format);

} // namespace escrow::history
