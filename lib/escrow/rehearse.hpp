// `escrow rehearse`: the whole rotation of a secret (create, update, verify, rollback) run in a
// sandbox, so that a broken connector or generator is found before the real rotation
// (docs/RECOVERY.md).
//
// escrow-vault/2: the rotation is rotation::v2::Rotator's, on a history::VaultSession of the sandbox.
//
// The sandbox is a throwaway directory holding a copy of the vault (head file, journal, keys file)
// and its own state home (so this machine's pins never see the sandbox's revisions), removed afterwards. In it
// the secret is bound, for each of its connectors, to that connector's staging twin
// (`connector add … --rehearse-with TWIN`) when it names one; connectors without a twin are not
// rotated in the sandbox: their real `verify` is run against the current value instead (a
// read-only check that the real system still accepts it). The sandbox then rotates the secret and
// rolls it back (previous → current, re-applied to the twins). No notify hook runs inside.
//
// The real vault, the real systems (only `verify` touches them) and this machine's cache of the
// vault are left as they were; ONE signed `rehearsal` event (value-free detail) is appended to the real journal recording what
// ran and how it ended. Its time is the real time: a clock set in the future (ESCROW_NOW, --at)
// moves only the sandbox.
#pragma once

#include <escrow/audit/entries.hpp>
#include <escrow/canonical.hpp>
#include <escrow/history/vault_session.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace escrow::rehearse {

struct Options
{
  // The sandbox's time (--at, else the session clock, which honours ESCROW_NOW).
  std::optional<Timestamp> at;
  std::function<void(const std::string&)> progress;
};

struct ConnectorPlan
{
  std::string connector;
  std::string kind;
  std::string mode; // twin | verify-only | skipped
  std::string twin; // for mode twin
  std::string detail;
};

struct Step
{
  std::string phase;     // verify-real | create | update | verify | rollback-update | rollback-verify | rollback
  std::string connector; // "" for create / rollback
  std::int64_t version = 0;
  bool ok = false;
  std::string detail; // redacted, one line
  canonical::Json to_json() const;
};

enum class RehearsalResult { ok, failed };

struct Rehearsal
{
  std::string secret;
  std::string env;
  std::int64_t live_version = 0; // the real current version
  std::int64_t sandbox_version = 0;
  RehearsalResult result = RehearsalResult::ok;
  std::string error;  // the first failure, one line
  std::vector<ConnectorPlan> connectors;
  std::vector<Step> steps;
  Timestamp at = 0; // the sandbox's time
  std::chrono::milliseconds elapsed{0};
  std::string entry; // the real journal entry
  canonical::Json notify;

  bool ok() const { return result == RehearsalResult::ok; }
  canonical::Json to_json() const;
  // "prod/db: rehearsed v3 → v4 and back in 0.4 s (db-staging twin, app verify-only)"
  std::string summary() const;
};

// rehearse ENV/NAME. Error(access|usage) before anything runs when the caller may not rotate it;
// a failing step is a Rehearsal with result "failed" (journaled), not an exception.
// `options` open the real vault (its clock is the session clock: ESCROW_NOW); the real session
// uses min(that, the system time).
Rehearsal rehearse(const history::VaultSessionOptions& options, const std::string& name,
                   const Options& rehearse_options);
// rehearse --due: every secret `rotate --due` would rotate at the sandbox's time, that the caller
// may rotate, each in its own sandbox and with its own journal entry.
std::vector<Rehearsal> rehearse_due(const history::VaultSessionOptions& options, const Options& rehearse_options);

// For `audit report`: active secrets never rehearsed, and secrets whose latest rehearsal failed.
struct NeverRehearsed
{
  std::string secret;
  std::string owner;
};
struct FailedRehearsal
{
  std::string secret;
  std::string owner;
  Timestamp at = 0;
  std::string actor;
  std::string error;
  std::size_t line = 0;
  std::string hash;
};
struct Status
{
  std::vector<NeverRehearsed> never;
  std::vector<FailedRehearsal> failed;
};
Status status(const history::State& state, const std::vector<audit::AuditEntry>& journal);

} // namespace escrow::rehearse
