// Commands while a merge is unresolved (docs/design/vault-2-merge.md §3 "Commands while a merge is
// unresolved"; docs/TEAM.md "While a merge is unresolved").
//
// git stopped a merge on the journal: the journal driver found operations that do not commute (or
// refused theirs), so the work tree's journal is ours (git's index stage :2:, plus the events
// appended since), the head file names both sides' heads (its driver merged them) and the keys
// file holds both sides' lines. Until `escrow resolve` settles it, a session (vault_session.hpp)
//   - acts on this machine's verified state of ours (the head file's heads that only theirs has
//     are set aside, not taken for a truncated journal);
//   - says once: "escrow.journal: unresolved merge (N conflicts): escrow resolve";
//   - refuses every write (open for writing, upgrade, submit): Error(failed), exit 1, nothing
//     written (`escrow resolve` writes without a session; `escrow sync` refuses too);
//   - serves reads of secrets no conflict touches; a read of a secret in a conflict, or by a
//     member whose own record is in one, is refused the same way;
//   - appends the events of reads to ours (their parents: ours' heads only), so an event never
//     seals the conflicted merge; the head file keeps theirs' heads beside ours'.
// The session learns of the merge from VaultSessionOptions::unresolved_merge, which the CLI gives
// in a git work tree (git/resolve.hpp unresolved_merge_source): nothing here runs git.
#pragma once

#include <escrow/error.hpp>
#include <escrow/history/entry.hpp>

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

// What git holds of a merge it stopped on the journal.
struct UnresolvedMerge
{
  std::string theirs;   // theirs' journal (index stage :3:)
  std::set<Hash> voids; // the choices `escrow resolve` recorded so far (escrow-resolve.json)
};

// The merge as every command sees it.
struct Unresolved
{
  std::string journal;        // what messages call the journal ("escrow.journal")
  std::set<Hash> theirs_only; // theirs' entries ours lacks (the head file may name some of them)
  // The conflicts left (with the voids chosen so far), in resolve's numbering: each one's record
  // paths ("s:prod/db", "m:dave") and a line naming both sides' operations.
  std::vector<std::set<std::string>> objects;
  std::vector<std::string> listed;
  // Theirs could not be analysed (a forged or malformed side): the error, else nullopt. Reads of
  // ours go on; writes are refused; verify reports it.
  std::optional<Error> problem;

  std::size_t conflicts() const { return objects.size(); }
  // "escrow.journal: unresolved merge (2 conflicts)" (or "(theirs refused: …)").
  std::string summary() const;
  // The warning every command says once: summary() + ": escrow resolve".
  std::string warning() const;
  // Error(failed): summary() + ": " + what, with the hint (escrow resolve; git merge --abort).
  Error refusal(std::string_view what) const;
  // The conflict (1-based) whose records include `path` ("s:prod/db"), else nullopt.
  std::optional<std::size_t> conflict_of(std::string_view path) const;
};

// `ours`: the work tree's journal (complete lines; a torn last line is ignored), `name` what
// messages call it. nullopt when theirs has no entry ours lacks (no merge to resolve: the journal
// is handled as usual). Never throws for what the journals hold: an analysis that fails is
// `problem`.
std::optional<Unresolved> assess_unresolved(std::string_view ours, const UnresolvedMerge& merge, std::string_view name);

} // namespace escrow::history
