// The rules of escrow-vault/2: one predicate per operation kind, judged against the state
// *before* the operation (docs/design/vault-2-operations.md §3-§5, DESIGN §3a).
//
// A command builds the Entry it would append and calls authorize(): a refusal is
// Error(access, reason), exit 4, before any file is touched. The replay calls the same
// authorize() for every operation: a refusal is Error(integrity, "...: <reason>"), exit 3. Then
// both call history::apply (apply.hpp), the one function that changes a state.
//
// The predicates are pure: no I/O, no clock (time is the entry's ts), no identity. The derived
// helpers (active, reaches, standing_readers, counted, grant_active, …) are defined once, here.
// This file becomes lib/escrow/policy when v1 is removed (vault-2-plan.md step 5).
//
// "writes only X": every key line the entry writes is one of X (a line for anyone outside X is
// refused); a recipient in X without a line is allowed (a debt, paid later). "writes exactly":
// no more and no fewer.
#pragma once

#include <escrow/history/entry.hpp>
#include <escrow/history/state.hpp>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

struct Refusal
{
  std::string reason; // one line, no secret: "<kind>: <why not>"
  std::string hint;   // optional
};
using Verdict = std::optional<Refusal>; // nullopt: allowed

// A key line an entry writes (added) or deletes.
struct KeyWrite
{
  KeyLine line;
  Hash k{};
  bool added = true;
};

// What a predicate knows of the entry besides its arguments.
struct Context
{
  std::string actor;
  Timestamp ts = 0;
  std::optional<std::string> why;
  VaultId vault{};
  std::vector<KeyWrite> keys; // the key lines of op.writes, in path order
};
Context context_of(const Entry& entry);
// The secrets a rotation operation names (its items, or a confirm's secret); empty otherwise.
std::set<std::string> rotation_secrets(const Entry& entry);

// ---- derived helpers (§3) ----
[[nodiscard]] bool active(const State& s, std::string_view member);
[[nodiscard]] bool reaches(const State& s, std::string_view member, std::string_view env);
[[nodiscard]] bool covers(const State& s, std::string_view member, const std::set<std::string>& envs);
[[nodiscard]] bool admin(const State& s, std::string_view member, std::string_view env);
[[nodiscard]] bool pure_auditor(const State& s, std::string_view member);
[[nodiscard]] bool has_role(const State& s, std::string_view member, Role role);
std::set<std::string> standing_readers(const State& s, const Secret& secret);
[[nodiscard]] bool live(const Version& version);
[[nodiscard]] bool generation_clean(const State& s, const Secret& secret, std::int64_t gen);
std::set<std::string> counted(const State& s, const Secret& secret, const RequestOf& request, std::string_view vid);
// Enough counted approvals for `vid` (with its threshold), the request neither denied nor void,
// and t before its end.
[[nodiscard]] bool grant_active_for(const State& s, const Secret& secret, const RequestOf& request,
                                    std::string_view vid, Timestamp t);
// grant_active_for the current or the previous version.
[[nodiscard]] bool grant_active(const State& s, const Secret& secret, const RequestOf& request, Timestamp t);
[[nodiscard]] bool can_read(const State& s, std::string_view member, const Secret& secret, std::string_view vid,
                            Timestamp t);

// ---- the predicates ----

// May entry.actor perform entry.op at entry.ts in `before`? Dispatches to the function of the
// kind. Bulk operations are judged item by item, each against the state after the previous
// items. An event (no op) needs only an active actor. Assumes check_entry() passed.
[[nodiscard]] Verdict authorize(const State& before, const Entry& entry);

// authorize(), a refusal thrown as Error(`kind`, "<what>: <reason>") with its hint: a command
// passes ErrorKind::access (exit 4) before touching any file, the replay ErrorKind::integrity
// (exit 3) naming the journal line and the entry.
void require_authorized(const State& before, const Entry& entry, ErrorKind kind, std::string_view what);

[[nodiscard]] Verdict may_init(const State&, const Context&, const InitArgs&);
[[nodiscard]] Verdict may_add_member(const State&, const Context&, const MemberAddArgs&);
[[nodiscard]] Verdict may_set_member(const State&, const Context&, const MemberSetArgs&);
[[nodiscard]] Verdict may_remove_member(const State&, const Context&, const MemberRemoveArgs&);
[[nodiscard]] Verdict may_set_policy(const State&, const Context&, const PolicySetArgs&);
[[nodiscard]] Verdict may_add_connector(const State&, const Context&, const ConnectorAddArgs&);
[[nodiscard]] Verdict may_remove_connector(const State&, const Context&, const ConnectorRemoveArgs&);
[[nodiscard]] Verdict may_add_secret(const State&, const Context&, const SecretAddArgs&);
[[nodiscard]] Verdict may_set_secret(const State&, const Context&, const SecretSetArgs&);
[[nodiscard]] Verdict may_set_custodians(const State&, const Context&, const CustodiansSetArgs&);
[[nodiscard]] Verdict may_share(const State&, const Context&, const ShareItem&, std::string_view member);
[[nodiscard]] Verdict may_unshare(const State&, const Context&, const UnshareArgs&);
[[nodiscard]] Verdict may_retire(const State&, const Context&, const RetireArgs&);
[[nodiscard]] Verdict may_start_rotation(const State&, const Context&, const RotateItem&);
[[nodiscard]] Verdict may_confirm(const State&, const Context&, const ConfirmArgs&);
[[nodiscard]] Verdict may_finish_rotation(const State&, const Context&, const FinishItem&);
[[nodiscard]] Verdict may_fail_rotation(const State&, const Context&, const FailItem&);
[[nodiscard]] Verdict may_compromise(const State&, const Context&, const CompromiseArgs&);
[[nodiscard]] Verdict may_request(const State&, const Context&, const RequestArgs&);
[[nodiscard]] Verdict may_approve(const State&, const Context&, const ApproveArgs&);
[[nodiscard]] Verdict may_deny(const State&, const Context&, const DenyArgs&);
[[nodiscard]] Verdict may_use_grant(const State&, const Context&, const GrantUsedArgs&);
// The part of journal-loss the state decides (an admin of "*", a reason); that the hashes are
// absent from the journal and were events is the replay's check (it knows the journal).
[[nodiscard]] Verdict may_acknowledge_loss(const State&, const Context&, const JournalLossArgs&);
// The part of resolve the state decides: no key lines. What it voids, keeps exposed and settles
// is judged at its merge point by the replay (merge_check.hpp): may_void for each voided
// operation, may_expose for each exposed one, may_settle_race for each rotation race.
[[nodiscard]] Verdict may_resolve(const State&, const Context&, const ResolveArgs&);
// resolve's rule for one operation it voids (vault-2-operations.md §5.5, vault-2-merge.md §5):
// `resolver` is its author, or could have done it — the same operation by the resolver, judged
// against `before` (the state it was applied to on its side, the side's earlier voids left out),
// with the approval line an approver writes as themself taken as the resolver's. A
// rotate-start (kind rotate) is never voided unless its side (`side`: that side's operations)
// recorded rotate-fail cancelled for it: a published pending value may be in a connector.
[[nodiscard]] Verdict may_void(const State& before, const Entry& voided, std::string_view resolver,
                               const std::vector<const Entry*>& side);
// resolve's rule for a rotation operation it keeps exposed (vault-2-operations.md §5.5, "exposed";
// vault-2-merge.md §3 table): a rotation operation (rotate-start, confirm, rotate-finish,
// rotate-fail) of one side of the merge, the other side (`other`: its operations) took access away
// from someone (member-remove, member-set, unshare, secret-set, custodians-set), and `resolver` is
// the owner or a rotator reaching the secret's environment in `merged` (who may rotate it).
[[nodiscard]] Verdict may_expose(const State& merged, const Entry& exposed, std::string_view resolver,
                                 const std::vector<const Entry*>& other);
// resolve's rule for a rotation race (vault-2-merge.md §5 rule 2): `resolver` is the owner or a
// rotator reaching the secret's environment in `merged` (the rotation predicate).
[[nodiscard]] Verdict may_settle_race(const State& merged, std::string_view secret, std::string_view resolver);

} // namespace escrow::history
