// Settling an unresolved merge (docs/design/vault-2-merge.md §5, vault-2-operations.md §5.5):
// what `escrow resolve` decides, from the two versions of the journal git left (ours: this
// clone's, `:2:`; theirs: `:3:`), without git (git/resolve.hpp reads and writes the work tree).
//
//   analyse_merge   the union (ours' bytes, then theirs' entries ours lacks), each side checked
//                   causally (a forgery: Error(integrity)), and the merge check (merge_check.hpp)
//                   with the voids chosen so far; its conflicts grouped (operations that fail
//                   only together form one conflict), numbered from 1, each with its objects,
//                   both sides' operations and a suggestion (the table of vault-2-merge.md §3);
//   keep_side       the voids that keep one side of a conflict: the other side's operations in
//                   it, and their closure (that side's operations that pass only with a voided
//                   one), checked against the resolver's authority (may_void: Error(access));
//   seal_resolution once no conflict is left: one signed `resolve` entry whose parents are the
//                   union's heads, proved by a full replay of the result (verify_vault with the
//                   head and keys files that will be written: the merge check with the voids
//                   must pass, else Error(failed) explaining it); the keys file loses the lines
//                   no operation of the result references (the voided operations' lines).
//
//   keep_exposed    the choices that keep conflict N's rotations (a rotation that sealed to someone
//                   who lost access concurrently, or by a member the other side removes) exposed;
//   choose_current  the choices that settle the rotation race of one secret with a version current
//                   (§5: no version voided; each side may have rotated it more than once, the
//                   other side's versions renumbered 1 + max v onwards; or, for a race the two
//                   sides settled differently apart, one of the two settlements' versions).
// keep_side refuses to void a rotate-start that was not cancelled (§5 rule 1): a rotation race is
// settled by choose_current, an exposed rotation by keep_exposed.
#pragma once

#include <escrow/history/entry.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/history/merge_check.hpp>
#include <escrow/history/state.hpp>
#include <escrow/identity.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

// One operation of a conflict, as listed.
struct ConflictOp
{
  Hash hash{};
  MergeSide side = MergeSide::ours;
  std::size_t line = 0;  // its line in its side's journal
  std::string actor;
  Timestamp ts = 0;
  std::string action;    // "approve"
  std::string summary;   // the value-free summary of the entry (textconv.hpp), time and actor included
};

enum class SuggestionKind {
  keep,            // --keep <side>
  rotation_race,   // ENV/NAME --current VID (never applied by --suggested)
  keep_exposed,    // --keep-exposed
};

// One version of a rotation race: created by a rotate-start on one side.
struct RaceVersion
{
  std::string vid;
  std::int64_t v = 0;
  MergeSide side = MergeSide::ours;
  bool ended = false; // its side recorded rotate-finish or rotate-fail (rolled-back, cancelled) for it
};

struct MergeConflict
{
  std::vector<std::string> objects; // record paths: "s:prod/db", "m:dave"
  std::vector<ConflictOp> ours;     // in ours' order
  std::vector<ConflictOp> theirs;   // in theirs' order
  std::vector<std::string> reasons; // the merge check's, one line each
  SuggestionKind suggestion = SuggestionKind::keep;
  MergeSide keep = MergeSide::theirs; // the suggested side (SuggestionKind::keep)
  std::string secret;                 // rotation_race: the secret
  std::string current;                // rotation_race: the suggested current version's vid
  std::vector<RaceVersion> race;      // rotation_race: every version either side created (ours first,
                                      //   each side in its order); settled apart: each settlement's choice
  std::string why;                    // the suggestion's reason, one line
};

struct MergeAnalysis
{
  std::string union_text;            // ours' bytes, then theirs' entries ours lacks
  std::vector<Hash> heads;           // the union's heads, in L order (ours first)
  VaultId vault{};
  Timestamp ts = 0;                  // the largest ts of the heads
  std::uint64_t entries = 0;         // entries of the union
  std::set<Hash> voids;              // the voids the analysis applied (closure included)
  std::set<Hash> exposed;            // the rotations kept exposed so far
  std::vector<RaceResolution> rotations; // the rotation races settled so far (by secret)
  std::vector<MergeConflict> conflicts; // what is left to settle, numbered 1..n
  std::vector<std::string> refusals; // may_void's refusals of `voids` for the resolver given
  std::vector<std::string> warnings; // strong remove's voids and seniority decisions

  struct Impl;
  std::shared_ptr<const Impl> impl; // the parsed sides and the common state (keep_side)
};

// Error(integrity) when a side is malformed or forged (the file and side named); Error(usage)
// when theirs adds nothing to ours (no merge to resolve). `voids`: the choices made so far;
// `resolver`: whose authority the refusals are judged for ("" = none judged).
MergeAnalysis analyse_merge(std::string_view ours, std::string_view theirs, const std::set<Hash>& voids,
                            std::string_view resolver, std::string_view name = "escrow.journal");
// The same with every kind of choice (voids, exposed rotations, rotation races: a resolve entry's
// arguments).
MergeAnalysis analyse_choices(std::string_view ours, std::string_view theirs, const ResolveArgs& choices,
                              std::string_view resolver, std::string_view name = "escrow.journal");
// The choices made so far (analysis.voids, exposed, rotations), as a resolve entry's arguments.
ResolveArgs choices_of(const MergeAnalysis& analysis);

// The voids that keep `keep` of conflict `index` (0-based in analysis.conflicts): analysis.voids,
// the other side's operations of that conflict, and the closure of each side. Error(failed) for
// a rotation race or an exposed rotation (the message names --current / --keep-exposed);
// Error(usage) for an index out of range.
std::set<Hash> keep_side(const MergeAnalysis& analysis, std::size_t index, MergeSide keep);

// The choices with conflict `index`'s rotations kept exposed: its rotation operations and the
// later rotation operations of their side on the same secrets. Error(usage) for an index out of
// range; Error(failed) for a conflict that is not an exposed rotation (its suggestion is named).
ResolveArgs keep_exposed(const MergeAnalysis& analysis, std::size_t index);

// The choices with the rotation race of `secret` settled, `vid` current: any version either side
// created that its side still keeps, the other side's kept versions renumbered 1 + max v onwards
// in their order; for a race the two sides settled differently apart, one of the two
// settlements' versions (nothing renumbered). Error(usage) when the merge has no rotation race of
// `secret` or `vid` is not one of its versions; Error(failed) when a side's rotation has not
// ended (finish or fail it first).
ResolveArgs choose_current(const MergeAnalysis& analysis, std::string_view secret, std::string_view vid);

// The resolve entry and the three files' new bytes, proved (see above). `keys` is the work
// tree's keys file (the keys driver's union). Error(access) when `author` is not an active member
// of the merged state with its keys, or a void is beyond their authority; Error(failed) when
// conflicts remain or the proof fails (the first finding named).
struct SealedResolution
{
  Entry entry;
  std::string journal;
  std::string keys;
  std::string head;
  std::size_t garbage_lines = 0; // key lines removed
};
SealedResolution seal_resolution(const MergeAnalysis& analysis, const KeysFile& keys, const Identity& author,
                                 Timestamp now, std::string_view host);

} // namespace escrow::history
