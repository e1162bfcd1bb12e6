// `escrow audit restore [--from REV|FILE]` (vault-2-replay.md §6 "Restoring"): puts back journal
// entries this machine verified that the journal no longer holds (a line deleted, a truncated
// tail, an older copy put in place, `git checkout HEAD~1 -- escrow.journal`).
//
// The missing entries are those this place's cache (history/cache.hpp, entries.log) lists as
// verified that no line of the journal holds and no journal-loss acknowledges, plus the heads the
// head file names that the journal lacks. Their exact lines are taken from a source: a git
// revision's journal (`git cat-file blob REV:<journal>`, argv, no shell) or a journal file (a
// backup, a copy). A source line counts only when it parses, hashes to its content, and is a
// missing entry or a parent (an ancestor, through hashes) of one that the journal lacks; every
// other source line is ignored. Nothing is signed: the lines are the history as it was.
//
// The journal is rewritten atomically under the vault lock, in an order that keeps every present
// line's relative order and puts each restored entry after its parents and before its first
// child (a restored tail goes at the end). Then the vault is opened again, replaying every line
// (no fast path), to prove the result: when that fails for any reason but entries still missing
// (a restored line with a forged signature: the hash does not cover it; another damage of the
// journal), the original journal is put back byte-identical and the error is thrown. When some
// missing entries were not in the source, the restored ones are kept and the loss error names
// what remains.
//
// (`ops.jsonl`, the per-place copy of every verified operation line the design names as a third
// source, is not implemented: a source must be given, or be HEAD in a git work tree.)
#pragma once

#include <escrow/history/cache.hpp>
#include <escrow/history/vault_session.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace escrow::audit {

struct RestoreSource
{
  enum class Kind { git, file };
  Kind kind = Kind::file;
  std::string rev;            // git: as given ("HEAD")
  std::string commit;         // git: the commit it names
  std::filesystem::path path; // file: the file read; git: the journal's path in the tree

  // "HEAD (commit 1a2b3c4d5e6f)" or the file's path (messages).
  std::string describe() const;
};

struct Restored
{
  RestoreSource source;
  std::filesystem::path journal;
  std::vector<history::VerifiedEntry> restored; // in the journal's new order
  std::vector<std::string> warnings;            // of the proving open
};

// `from`: a file when such a file exists, else a git revision (the vault must be in a git work
// tree); nullopt: HEAD in a git work tree. Errors, each naming the file or thing, files unchanged:
//   usage (2)     nothing is missing; no --from outside git; a file that is not there; a rev that
//                 is not a revision, or whose tree holds no journal at that path
//   integrity (3) the source holds none of the missing entries; the proving open failed (the
//                 journal was put back); some entries are still missing (the restored ones kept)
//   io (5)        the lock, reading or writing
Restored restore_entries(history::VaultSessionOptions options, const std::optional<std::string>& from);

} // namespace escrow::audit
