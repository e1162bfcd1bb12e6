// The git merge driver of escrow-vault/2 (docs/design/vault-2-merge.md §1-§4; docs/TEAM.md):
// `escrow merge %O %A %B [%P]` merges ONE of the three files from its three versions only, by
// the file's `format`:
//
//   journal (escrow-journal/2)  ours' bytes, then theirs' entries ours lacks, in theirs' file
//                               order (a union of entry sets: never conflict markers); the
//                               result is replayed (replay.hpp: every entry checked causally,
//                               both-order merge check at the new merge point), so a merge is
//                               valid by exactly the rules a single write is. A forged or
//                               malformed entry on either side: Error(integrity), exit 3. A
//                               conflict (operations that do not commute): MergeOutcome with
//                               the conflicts, nothing written (exit 1).
//   keys (escrow-keys/2)        3-way set merge of the key lines (keys_file.hpp merge_keys);
//                               fails only on a line key with two contents (forged: exit 3).
//   head (escrow-vault/2)       ours' heads, then theirs' that ours lacks (head_file.hpp); the
//                               next escrow write normalises heads that are ancestors of others.
//
// Each file is self-sufficient, because git calls the driver once per path, in no promised
// order, with temporary files: the journal merge needs no keys (the replay folds operations, and
// an operation names each key line by its full hash K, checked against escrow.keys by the next
// command's verify), and the keys merge needs no journal (line keys end with their content's
// hash, so two honest sides can never hold one key with two contents; whether the merged lines
// are exactly the ones the merged state names is checked by verify_vault, key-line-missing /
// garbage). The base (%O) is checked to be of the same format (or empty: git's base for two
// sides that created the file independently); the journal needs no base (entries carry their
// own ancestry), the keys merge uses it (a deletion on one side), the head merge does not.
//
// The driver adds no entry and needs no identity (D9): nothing here signs. The next escrow write
// (or `escrow sync`'s merge entry) names both heads and seals the merge.
#pragma once

#include <escrow/history/replay.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

enum class MergedFormat {
  head,    // escrow-vault/2
  journal, // escrow-journal/2
  keys,    // escrow-keys/2
  other,   // anything else (an escrow-vault/1 file, a v1 journal, not escrow's)
};
std::string_view merged_format_name(MergedFormat format); // "escrow-vault/2", …, "not an escrow-vault/2 file"

// The format of a file's bytes, from its first bytes (the strict parse comes later).
MergedFormat detect_format(std::string_view bytes);
// The file's usual name ("escrow.vault", "escrow.journal", "escrow.keys"; "" for other): what
// messages call it when git did not pass %P.
std::string_view usual_file_name(MergedFormat format);

// How the merge went, for one file.
struct MergeOutcome
{
  MergedFormat format = MergedFormat::other;
  std::string name;                   // what messages call the file
  std::string text;                   // the merged bytes (meaningful when ok())
  bool changed = false;               // text differs from ours' bytes
  std::vector<std::string> conflicts; // one line each, naming both operations (journal only)
  std::vector<std::string> warnings;  // e.g. operations voided by strong remove
  bool ok() const { return conflicts.empty(); }
};

// The three versions' bytes; `name` is what messages call the file (git's %P, else "escrow.journal").
// Throws Error(integrity) for a malformed or forged file on either side (message: the file, the
// side, the line).
MergeOutcome merge_journal_texts(std::string_view base, std::string_view ours, std::string_view theirs,
                                 std::string_view name);
MergeOutcome merge_keys_texts(std::string_view base, std::string_view ours, std::string_view theirs,
                              std::string_view name);
MergeOutcome merge_head_texts(std::string_view base, std::string_view ours, std::string_view theirs,
                              std::string_view name);

// The three versions' bytes of one file, any format: checks that ours and theirs (and the base,
// unless it is empty) are of one escrow-vault/2 format, then merges by it. Mismatched formats:
// Error(integrity) naming the file that differs. None of them escrow-vault/2 (a v1 file): an
// outcome of format `other`, nothing merged (git::merge_driver says how to merge it by hand).
MergeOutcome merge_texts(std::string_view base, std::string_view ours, std::string_view theirs,
                         std::string_view name);

} // namespace escrow::history
