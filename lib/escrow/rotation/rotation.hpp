// Rotation (DESIGN §5; docs/ROTATION.md has the protocol, the crash matrix and the contract).
//
// create → set → test → finish, under the vault write lock for the whole run:
//   1. create: generate the value, write it as a `pending` version and commit (journal fsync'd,
//      then the vault) BEFORE any connector runs, so a value a connector may accept is never lost;
//   2. set:    run every command connector's `update` with the value on stdin;
//   3. test:   run every `verify`;
//   4. finish: pending → current, current → previous, older previous → retired; the newest
//      `keep` (policy) non-current versions keep their keys, older ones lose them (the record stays
//      as history but can no longer be decrypted); the secret is no longer due. Commit.
// On a failure the value the connectors held before (the live version) is re-applied, in reverse
// order, to every connector that was attempted, and verified; the pending version becomes
// `failed` (a rollback's target returns to `previous`). If the re-apply itself fails the pending
// version is kept, the secret is marked due and `rotate --resume` rolls back again later.
//
// A rollback (`rollback ENV/NAME`) is the same protocol in reverse: the previous version becomes
// the pending one and is pushed and verified; on failure it returns to `previous`.
//
// Manual connectors: the run stops after step 1 (the old value stays current) and says who must
// paste the pending value where; `confirm` records each paste in the journal and, once every manual
// connector has confirmed, runs steps 2-4 for the command connectors.
//
// Intent lives in the journal: "rotate-start"/"rollback-start" (with the pending commit),
// "confirm", and "rotate-failed"/"rollback-failed" with result "rolling-back" (recorded before a
// rollback touches a connector). A pending version found by `resume` is rolled forward (every
// command connector updated again, then verified) unless the journal shows a rollback had begun.
//
// The implementation, by concern (all in lib/escrow/rotation/): due.cpp (what is due, status),
// retention.cpp, replay.cpp (in-flight state from the journal), outcome.cpp (results as JSON and
// text), notify.cpp (the hook), generate.cpp (new values), rotate.cpp (the engine: create, set,
// test, finish, roll back), resume.cpp (resume, rotate --due, confirm), incident.cpp (rollback,
// compromise, retire), plan.cpp (--dry-run); engine.hpp holds what those files share.
#pragma once

#include <escrow/connectors/connector.hpp>
#include <escrow/generator.hpp>
#include <escrow/journal.hpp>
#include <escrow/records.hpp>
#include <escrow/rotation/outcome.hpp>
#include <escrow/session.hpp>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace escrow::rotation {


// --- what is due -------------------------------------------------------------------------------

const VersionRecord* pending_version(const SecretRecord& secret);
// The version connectors hold now: the current one, else (after a compromise) the newest
// compromised one; nullptr when neither exists.
const VersionRecord* live_version(const SecretRecord& secret);
// The secret's cadence, else its environment policy's; 0 = none.
std::int64_t cadence(const SecretRecord& secret, const PolicyRecord& policy);
// Why an active secret without a pending rotation should rotate now, or nullopt: an event
// (secret.due: member removed, unshared, compromised), a compromised or missing current
// version, an after_access grant used on the current version, or its cadence having passed.
std::optional<std::string> due_reason(const SecretRecord& secret, const PolicyRecord& policy, Timestamp now);
// For people (list, show): "retired", "pending v4", "compromised", "due: <why>", "overdue 3d",
// "in 5d", "manual".
std::string status(const SecretRecord& secret, const PolicyRecord& policy, Timestamp now);

// --- versions ------------------------------------------------------------------------------------

// After a finish: keeps the keys (wrapped, shares, grants) of current, pending, previous and the
// newest versions up to `keep` non-current ones in all (at least the previous one); removes them
// from older versions. Returns the numbers of the versions it changed.
std::vector<std::int64_t> apply_retention(SecretRecord& secret, std::int64_t keep);

// --- in-flight state (from the journal) ------------------------------------------------------------

// What a pending version is for: a rotation to a new value, or a rollback to the previous one.
enum class OpKind { rotate, rollback };

struct PendingState
{
  std::int64_t version = 0;
  OpKind kind = OpKind::rotate;
  bool rolling_back = false;          // a failure was recorded: resume rolls back
  std::set<std::string> confirmed;    // manual connectors that confirmed the paste
  std::vector<std::string> awaiting;  // manual connectors still to confirm
  Timestamp since = 0;
};
// Replays the journal entries of `secret_name` version `v`: the latest start decides the kind,
// then failures recorded as "rolling-back"/"rollback-incomplete" and successful confirmations.
PendingState replay(const std::vector<JournalEntry>& journal, const std::string& secret_name, std::int64_t v);
// The state of `secret`'s pending version; nullopt when there is none.
std::optional<PendingState> pending_state(const Vault& vault,
                                          const SecretRecord& secret,
                                          const std::vector<JournalEntry>& journal);

// For `audit report`: rotations waiting for a person to paste and confirm.
struct Awaiting
{
  std::string secret;
  std::int64_t version = 0;
  std::vector<std::string> connectors; // still to confirm
  Timestamp since = 0;
};
std::vector<Awaiting> awaiting_confirmation(const Vault& vault, const std::vector<JournalEntry>& journal);

// The notify hook for a v1 session (its policy's command).
Json notify(const Session& session, const Json& event);

class Rotator
{
public:
  // A write session for everything but plan(); the lock it holds serialises rotations.
  Rotator(Session& session, Options options);

  // rotate ENV/NAME. Throws Error(access|usage) before changing anything when the caller may not
  // rotate it, and Error(failed) when the value cannot be generated. A failing connector is an
  // Outcome (result rolled-back / rollback-incomplete), not an exception.
  Outcome rotate(const std::string& name);
  // rotate --due: interrupted rotations first (resumed), then every due secret the caller may
  // rotate; secrets awaiting manual confirmation are reported. Errors of one secret do not stop
  // the others (they become result "error").
  std::vector<Outcome> rotate_due();
  // rotate --resume [ENV/NAME]: every pending version the caller may write, rolled forward or
  // back; those awaiting manual confirmation are reported as such.
  std::vector<Outcome> resume(const std::string& name = "");
  // rotate --confirm ENV/NAME C.
  Outcome confirm(const std::string& name, const std::string& connector);
  // rollback ENV/NAME: previous → current (or, with a pending version, cancel that rotation).
  Outcome rollback(const std::string& name);
  CompromiseOutcome compromise(const std::string& name, const std::string& why);
  void retire(const std::string& name);

  // --dry-run: what rotate / rotate_due / resume would do (result "planned"); changes nothing.
  std::vector<Outcome> plan(const std::vector<std::string>& names, bool due, bool resume);

private:
  struct Op;
  Outcome begin_and_drive(const std::string& name, const std::string& reason);
  Outcome drive(Op& op);
  void roll_back(Op& op, Outcome& out, const std::string& cause, const std::vector<std::string>& attempted);
  void finish(Op& op, Outcome& out);
  Outcome resume_one(const std::string& name, OutcomeAction action);
  SecretBytes read_value(const std::string& name, std::int64_t v);
  // Reads the auth secrets of the connectors of `op` that push (docs/CONNECTORS.md) under the
  // read rules, journaled as connector-auth reads; Error(access) before any connector runs.
  void read_auth(Op& op, const SecretRecord& secret);
  SecretBytes generate(const SecretRecord& secret, const std::string& spec, std::int64_t v);
  const std::vector<JournalEntry>& journal();
  void send(Outcome& out, const std::string& event);
  std::vector<std::string> who_can_rotate(const SecretRecord& secret) const;
  Outcome plan_one(const std::string& name, const std::string& reason);
  void progress(const std::string& line) const;

  Session& m_session;
  Options m_options;
  std::optional<std::vector<JournalEntry>> m_journal;
};

} // namespace escrow::rotation
