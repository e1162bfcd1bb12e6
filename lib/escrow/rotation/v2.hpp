// Rotation on escrow-vault/2 (vault-2-plan.md step 5b; docs/ROTATION.md has the protocol): the
// rotation engine — create → set → test → finish, rolled back on failure, resumed after a
// crash, paused for manual connectors — reading the state and the key material through
// history::VaultSession and committing through its operations:
//
//   1. create:  rotate-start (kind rotate) carries the new version: a new reader-key generation
//               sealed to the standing readers, the v line, the custodians' shares and the active
//               grants. It is durable (keys, then the journal) BEFORE any connector runs, so a
//               value a connector may accept is never lost;
//   2. set, 3. test: each command connector's update, then every verify (connectors/);
//   4. finish:  rotate-finish (pending → current, current → previous, retention by the policy's
//               keep: history::apply deletes the lines of versions beyond it).
// On a failure: rotate-fail `rolling-back` is committed before any connector is touched again,
// the live version is re-applied in reverse order and verified, then rotate-fail `rolled-back`
// (the new version becomes failed) or `rollback-incomplete` (the rotation stays in flight, the
// secret due; rotate --resume retries). `rollback` is rotate-start kind rollback of the previous
// version, driven the same way; rollback of a rotation in flight cancels it (rotate-fail
// `cancelled` after the old value is re-applied). Manual connectors: the run stops after step 1
// and `rotate --confirm` records each paste (confirm), then steps 2-4 run.
//
// Reads of values (the old value to re-apply, a connector's auth secret, the pending value on
// resume) open key lines under the read rules of whoever rotates; a connector's auth secret read
// is journaled as a reveal {into: connector-auth} before any connector runs. A refusal by the
// rules is Error(access) (exit 4) with nothing written.
#pragma once

#include <escrow/history/vault_session.hpp>
#include <escrow/rotation/outcome.hpp>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace escrow::rotation {

// Phase 1 of a rotation under the git lock (docs/design/vault-2-merge.md §6): the engine calls
// begin() before the first entry of phase 1 (the rotate-start, or the compromise before it),
// publish() once it is written and before any connector runs, and settle() when phase 1 ended
// without a rotate-start to publish (its entries stay, as local writes). publish() commits and
// pushes; when the push is rejected it undoes phase 1 exactly and throws Error(io) (exit 5): no
// connector runs. begin() while phase 1 is open, and settle() when none is, do nothing.
class Publisher
{
public:
  virtual ~Publisher() = default;
  virtual void begin(history::VaultSession& session) = 0;
  virtual void publish(history::VaultSession& session, const std::string& what) = 0;
  virtual void settle() = 0;
};

} // namespace escrow::rotation

namespace escrow::rotation::v2 {

// The version connectors hold now: the current one, else the newest compromised one (nullptr
// when neither exists); `vid` receives its id.
const history::Version* live_version(const history::Secret& secret, std::string* vid = nullptr);
// Why an active secret without a rotation in flight should rotate now, or nullopt: an event
// (its due reasons: member removed, access changed, grant used, …), a compromised or missing
// current version, or its cadence having passed.
std::optional<std::string> due_reason(const history::State& state, const history::Secret& secret, Timestamp now);
// Owner, or a rotator reaching its environment: who may rotate it (history::authorize's rule).
bool may_rotate(const history::State& state, const std::string& member, const history::Secret& secret);

// rotate --due writes its rotate-start and its rotate-finish as one entry each, unless a bulk
// operation's limits (op.hpp: k_max_items items, k_max_writes key writes, and half the journal's
// line limit in bytes, estimated) are exceeded: then as consecutive entries. Given each item's
// load, the [begin, end) ranges of items, each within the limits (an item alone over them is a
// range of its own: the write refuses it).
struct BulkLoad
{
  std::size_t writes = 0;
  std::size_t bytes = 0;
};
std::vector<std::pair<std::size_t, std::size_t>> bulk_chunks(const std::vector<BulkLoad>& loads);

class Rotator
{
public:
  // A write session for everything but plan().
  Rotator(history::VaultSession& session, Options options);

  Outcome rotate(const std::string& name);
  // Interrupted rotations first (one by one), then every due secret the caller may rotate as one
  // batched run: phase 1 for all of them in one rotate-start (one write, one publish), phase 2 per
  // secret (a failure rolls back that secret alone), phase 3 in one rotate-finish. A secret that
  // cannot be prepared, and a due one without a connector, is an outcome, never an exception.
  std::vector<Outcome> rotate_due();
  std::vector<Outcome> resume(const std::string& name = "");
  Outcome confirm(const std::string& name, const std::string& connector);
  Outcome rollback(const std::string& name);
  // A rotation race settled by `escrow resolve ENV/NAME --current VID` (docs/design/vault-2-merge.md
  // §5): the resolve entry made the other version current and `vid` previous; this re-applies `vid`
  // to every connector as a rollback to it (rotate-start kind rollback, set + test, finish: `vid`
  // current). A failure re-applies the current version, records rotate-fail and leaves the secret
  // due (the resolve made it so). Error(usage) when `vid` is not a previous version.
  Outcome reapply(const std::string& name, const std::string& vid);
  CompromiseOutcome compromise(const std::string& name, const std::string& why);
  std::vector<Outcome> plan(const std::vector<std::string>& names, bool due, bool resume);

private:
  struct Run;
  struct Start;
  // Whether drive() finishes a run that set and tested well (one secret), or leaves it to one
  // batched finish (rotate --due: phase 3 is one rotate-finish for every secret).
  enum class Finish { now, later };
  Outcome begin_and_drive(const std::string& name, const std::string& reason);
  Start prepare(const std::string& name, const std::string& reason);
  void write_starts(std::vector<Start>& starts, const std::optional<std::string>& why);
  Outcome roll_back_to(const std::string& full, const std::string& vid, const std::string& reason,
                       std::string_view what);
  void phase_one(const std::string& what, const std::function<void()>& write);
  Outcome drive(Run& run, Finish when = Finish::now);
  void journal_step_failure(const Run& run, const connector::StepResult& step);
  void roll_back(Run& run, const std::string& cause, const std::vector<std::string>& attempted);
  void finish(const std::vector<Run*>& runs);
  Outcome resume_one(const std::string& name, OutcomeAction action);
  std::vector<Outcome> resume_all(const std::set<std::string>& skip);
  SecretBytes read_value(const std::string& name, const std::string& vid, std::string_view what);
  void read_auth(Run& run);
  std::vector<ConnectorRecord> connectors_of(const history::Secret& secret) const;
  connector::Invocation invocation(const Run& run, std::int64_t version, std::int64_t previous,
                                   connector::Action action) const;
  std::vector<std::string> who_can_rotate(const history::Secret& secret) const;
  Outcome plan_one(const std::string& name, const std::string& reason);
  void send(Outcome& out, const std::string& event);
  void progress(const std::string& line) const;
  const history::Secret& secret(const std::string& name, std::string_view what) const;

  history::VaultSession& m_session;
  Options m_options;
};

} // namespace escrow::rotation::v2
