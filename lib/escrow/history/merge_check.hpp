// The merge check of escrow-vault/2 (docs/design/vault-2-merge.md §3): when two sides of the
// journal's DAG may be joined, and the state they join to.
//
// Given each side's state (the fold of the common history B and of its own operations, every one
// already checked causally — the replay does that, or check_merge(base, …) folds them here) and
// each side's own operations in its order:
//   1. strong remove: an operation authored by a member the other side removes is void (not
//      applied in either order), except the rotation operations (rotate-start, confirm,
//      rotate-finish, rotate-fail: their value may be in a connector), which are kept and listed as
//      conflicts; two members removing each other: the removal by the senior (whose member-add is
//      earlier; the genesis member first) stands, the junior's operations are void (a warning);
//   2. both orders: S_XY = fold(S_X', Y') and S_YX = fold(S_Y', X'), each operation authorised
//      (authorize) against the state before it in that order and applied (effects; the signed
//      `writes` are not compared: they were made against the causal state);
//   3. ok iff every operation passes in both orders and digest(S_XY) == digest(S_YX). Otherwise
//      the conflicts: each operation refused in an order (with the refusal's reason), and for each
//      record the two orders leave different, the operations of both sides that wrote it.
//
// A resolve entry at the merge point (MergeInput::voids, exposed, races) settles what does not
// commute: voided operations are left out, exposed rotations applied in the order that refuses
// them, rotation races settled on the merged state (vault-2-merge.md §5 "As built"). A side with
// no operation merges to the other side's state; a side carrying a settling resolve the other
// lacks is a fixed prefix (MergeInput::ours_settled).
//
// The pairs this finds are the table of vault-2-merge.md §3 (same secret rotated on both sides,
// a member removed on one side and given something on the other, approve vs deny, compromise vs
// request/approve, the same field set on both sides, the same name added on both sides, …); the
// check is mechanical, so it finds exactly the pairs that do not commute.
//
// Pure: no I/O, no clock, no identity. Used by the replay at every merge point and by the journal
// merge driver (step 9).
#pragma once

#include <escrow/history/entry.hpp>
#include <escrow/history/state.hpp>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace escrow::history {

enum class MergeSide { ours, theirs };
std::string_view merge_side_name(MergeSide side); // "ours", "theirs"

struct Conflict
{
  Hash entry{};               // the operation refused in one order, or ours' operation of a pair
  MergeSide side = MergeSide::ours;
  std::optional<Hash> other;  // theirs' operation of a pair (same record, different results)
  std::string object;         // the record path concerned ("s:prod/db", "m:dave"), when known
  std::string reason;         // one line, value-free
};

// A secret two resolutions made apart settled differently (a race settled with different
// versions, or a rotation kept exposed on one side and settled otherwise on the other): each
// settlement's choice (the version current after it; a race's: the version it chose), and the
// side whose resolution was made last (time, then hash).
struct SettledApart
{
  std::string secret;
  std::string ours;
  std::string theirs;
  MergeSide last = MergeSide::theirs;
};

struct MergeCheck
{
  State merged;                    // S_X'Y': ours' state with theirs' surviving operations applied
  std::vector<Conflict> conflicts; // empty: the merge is valid
  std::vector<Hash> voided;        // operations voided by strong remove (both sides)
  std::vector<std::string> warnings; // mutual removals decided by seniority
  std::vector<Hash> resolved;        // operations of the sides a resolve entry voids (MergeInput::voids)
  std::vector<std::string> void_refusals; // may_void's, may_expose's, may_settle_race's refusals and the
                                          // malformed choices: the resolve entry is unauthorised
  std::vector<Hash> exposed;               // operations of the sides a resolve entry keeps exposed
  std::vector<std::string> races;          // secrets whose rotation race a resolve entry settled
  std::vector<SettledApart> settled_apart; // the conflicts of two settlements made apart (also in conflicts)
  bool ok() const { return conflicts.empty(); }
};

struct MergeInput
{
  const State* ours = nullptr;       // S_X: B and ours' operations, each checked causally
  std::vector<const Entry*> x;       // ours' own entries (not in theirs), in ours' order
  const State* theirs = nullptr;     // S_Y
  std::vector<const Entry*> y;       // theirs' own entries, in theirs' order
  // S_B, the state of the common history: called only when strong remove voids an operation.
  std::function<State()> base;
  // A resolve entry at this merge point (vault-2-merge.md §5): the operations it voids are left
  // out of both orders (after strong remove, which needs no one), each side re-folded from the
  // common state without them. A voided operation the re-fold could have applied is judged by
  // may_void (authorize.hpp) for `resolver` against the state it meets there; one that fails
  // anyway depends on another void (its closure) and needs no authority. An operation that is
  // not voided and fails without the voided ones is a conflict (the closure was incomplete).
  const std::set<Hash>* voids = nullptr;
  std::string resolver;
  // Its exposed rotations (vault-2-merge.md §3, "--keep-exposed"): each may be refused in an order
  // only because someone lost access on the other side; it is applied anyway (effects without
  // authorize), the merged state is the order in which its side comes first, and its secret is
  // due: "exposed to NAME by a concurrent rotation" for a recipient who lost access, "rotated by
  // NAME concurrently with their removal" for an author the other side removes (may_expose).
  const std::set<Hash>* exposed = nullptr;
  // Its rotation races (vault-2-merge.md §5): the rotation operations of each race's secret are
  // left out of both orders; then the secret gets both sides' versions: the one not chosen becomes
  // current, renumbered 1 + max v, the chosen one previous (the command re-applies it to the
  // connectors as a rollback to it, rotation/v2.hpp `reapply`), with its generation and key lines
  // (a second generation of the same number is kept as the version's race_gen), and is due
  // (may_settle_race). Neither version loses a line. Each side may have rotated the secret more
  // than once: every version either side made and keeps stays, the other side's renumbered
  // 1 + max v onwards in their order, the other side's current one current until the re-apply.
  const std::vector<RaceResolution>* races = nullptr;
  Timestamp at = 0; // the resolve entry's time: the due reasons it adds
  // A side that carries a settling resolve (a race settled, a rotation kept exposed) the other
  // side lacks: the state after it and the side's operations it covers. Those operations are a
  // fixed prefix of that side (a person settled them; a fold cannot repeat the settlement): the
  // other order folds the other side's operations onto that state, then the side's remaining
  // ones. Used when the merge needs no re-fold (no strong remove, void or race at this point).
  // When both sides carry one (two settlements made apart), both prefixes are fixed and combined
  // record by record: a secret settled on one side takes that side's record, one settled the same
  // way on both the earlier resolution's, one settled differently is a conflict until a resolve
  // here chooses one settlement (a `races` item with an empty renumber; vault-2-merge.md §5).
  // The same version chosen by two settlements that differ otherwise (each side rotated again
  // before settling, so the races and their numbering differ) is one settlement once every race
  // side's re-apply of it finished: the union of both records (merge_check.cpp
  // union_of_settlements). A rotation kept exposed on both sides with the same version current
  // after each settlement is settled the same way (the record keeping every version both keep, else
  // the union); kept exposed on one side
  // and settled otherwise on the other, it is settled differently (a conflict, and the same
  // `races` item chooses: one of the two settlements' current versions).
  const State* ours_settled = nullptr;
  std::set<Hash> ours_settled_ops;
  const State* theirs_settled = nullptr;
  std::set<Hash> theirs_settled_ops;
  // Any entry of the journal by hash (a settlement's exposed rotations are often in the common
  // history); nullptr: only the two sides' own entries are looked up.
  std::function<const Entry*(const Hash&)> find_entry;
};

// The check of one merge (one nesting level of a merge with more than two parents). Entries
// without an operation (events, refusals) are ignored. Never throws for what the entries say (a
// refusal is a conflict); Error(failed) only when `base` is needed and missing.
MergeCheck check_merge(const MergeInput& input);

// The same from the common state: folds each side onto `base` first (authorize + apply with the
// writes check; an operation that fails there is a conflict whose reason starts with "causally:",
// which the merge driver reports as a forgery, exit 3).
// `voids` and `resolver`: as MergeInput's (nullptr: no resolve).
MergeCheck check_merge(const State& base, const std::vector<const Entry*>& ours, const std::vector<const Entry*>& theirs,
                       const std::set<Hash>* voids = nullptr, std::string_view resolver = {});
// The same with a whole resolution (its voids, exposed rotations and rotation races) made at `at`.
MergeCheck check_merge(const State& base, const std::vector<const Entry*>& ours, const std::vector<const Entry*>& theirs,
                       const ResolveArgs& resolution, std::string_view resolver, Timestamp at);

// The operation of `other` that a refused operation `e` of `own` fails after: the first prefix of
// other's operations after which own's operations up to e, applied from the common state, refuse
// e. Names the second operation of a conflict the check names by one (a refusal). Bounded: a
// merge with hundreds of operations on a side tries the first 256 only.
std::optional<Hash> find_culprit(const State& base, const std::vector<const Entry*>& own, const Entry& e,
                                 const std::vector<const Entry*>& other);

// One operation in a merged order: authorize against `state`, then its effects (writes not
// compared). Returns the refusal (state unchanged) or nullopt (state advanced). Events: nullopt.
std::optional<std::string> apply_merged(State& state, const Entry& entry);

} // namespace escrow::history
