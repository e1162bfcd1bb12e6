// `audit report`: what a security lead asks of the vault and its journal (docs/AUDIT.md has each
// rule). Built from the escrow-vault/2 state (as the session verified it) and the journal's
// entries (entries.hpp), at `now`.
//
//   overdue            active secrets due for rotation (rotation::due_reason) and since when
//   rotation_problems  pending versions awaiting manual confirmation or left by a crash, and
//                      versions whose rotation failed (newer than the live version)
//   dormant            active secrets whose value nobody used (reveal/exec, result ok) for N days
//   owner_removed      secrets whose owner is no longer a member
//   removed_authors    current versions created by a member since removed
//   open_requests      pending requests, and grants that expire within the window
//   bus_factor         secrets that one person's loss would make unreadable (or that none can read)
//   silent_custodians  custodians asked to approve who never approved anything
//   duplicates         secrets (that the caller can read) holding the same value; the values are
//                      compared in memory under a per-run random hash key and never written
//   never_rehearsed    active secrets whose rotation was never rehearsed (escrow rehearse)
//   failed_rehearsals  active secrets whose latest rehearsal failed, with its error
//   activity           who read what (with justifications), roster changes, who can read what,
//                      connectors whose last verify failed or is stale, the journal head
//                      (activity.hpp)
#pragma once

#include <escrow/audit/activity.hpp>
#include <escrow/audit/entries.hpp>
#include <escrow/canonical.hpp>
#include <escrow/history/state.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/rehearse.hpp>

#include <optional>
#include <string>
#include <vector>

namespace escrow::audit {

struct EntryRef
{
  std::size_t line = 0;
  std::string hash;
};

struct ReportOptions
{
  Timestamp now = 0;
  std::int64_t dormant_after = 90 * 86400;
  std::int64_t expiring_within = 86400;
  std::int64_t stale_verify_after = 90 * 86400; // a connector verified longer ago is "stale"
  // Whose readable values are compared for duplicates (the session's identity, as a standing
  // reader or through a carried grant, never by combining approvals); nullptr skips it.
  history::VaultSession* reader = nullptr;
};

struct OverdueRotation
{
  std::string secret;
  std::string owner;
  std::string reason;
  Timestamp due_since = 0;
  std::int64_t overdue_by = 0; // seconds
};

struct RotationProblem
{
  std::string secret;
  std::int64_t version = 0;
  std::string state; // awaiting-confirmation | interrupted | rolling-back | failed
  std::vector<std::string> connectors; // awaiting: still to confirm; failed: the failing one
  Timestamp since = 0;
  std::string detail;
  std::vector<EntryRef> entries;
};

struct DormantSecret
{
  std::string secret;
  std::string owner;
  std::optional<Timestamp> last_used;
  Timestamp idle_since = 0;
  std::int64_t idle_for = 0;
  std::optional<EntryRef> last_entry;
};

struct OwnerRemoved
{
  std::string secret;
  std::string owner;
  std::optional<Timestamp> removed_at; // nullopt: not in the roster at all
};

struct RemovedAuthor
{
  std::string secret;
  std::int64_t version = 0;
  std::string created_by;
  std::optional<Timestamp> removed_at;
};

struct OpenRequest
{
  std::string secret;
  std::string id;
  std::string by;
  std::string why;
  std::string state; // pending | granted
  std::size_t approvals = 0;
  std::int64_t threshold = 0;
  Timestamp expires_at = 0;
  std::int64_t expires_in = 0;
};

struct BusFactor
{
  std::string secret;
  std::vector<std::string> readers;
  std::vector<std::string> custodians;
  std::int64_t threshold = 0;
  std::int64_t bus_factor = 0;
};

struct SilentCustodian
{
  std::string member;
  std::vector<std::string> secrets;
  std::size_t asked = 0;
  std::size_t denied = 0;
};

struct DuplicateGroup
{
  std::vector<std::string> secrets;
};

// A table for people (the terminal and the HTML page show the same ones).
struct Table
{
  std::string key;
  std::string title;
  std::string empty; // what to say when there are no rows
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
};

struct Report
{
  Timestamp now = 0;
  std::int64_t dormant_after = 0;
  std::int64_t expiring_within = 0;
  std::vector<OverdueRotation> overdue;
  std::vector<RotationProblem> rotation_problems;
  std::vector<DormantSecret> dormant;
  std::vector<OwnerRemoved> owner_removed;
  std::vector<RemovedAuthor> removed_authors;
  std::vector<OpenRequest> open_requests;
  std::vector<BusFactor> bus_factor;
  std::vector<SilentCustodian> silent_custodians;
  std::vector<DuplicateGroup> duplicates;
  std::vector<rehearse::NeverRehearsed> never_rehearsed;
  std::vector<rehearse::FailedRehearsal> failed_rehearsals;
  bool compared_values = false;
  std::vector<std::string> compared; // the secrets whose values were compared
  std::int64_t stale_verify_after = 0;
  Activity activity;

  canonical::Json to_json() const;
  // For people: the terminal and the page show the newest k_recent_reads reads; a CSV shows all.
  enum class Rows { recent, all };
  static constexpr std::size_t k_recent_reads = 100;
  std::vector<Table> tables(Rows rows = Rows::recent) const;
};

Report build_report(const history::State& state, const std::vector<AuditEntry>& journal,
                    const std::vector<history::Hash>& heads, const ReportOptions& options);

// escrow audit report as an operation on the command's session: the report over its vault and
// journal (values compared with the session's identity when `compare_values`), the HTML page
// written atomically to `html` when given (with the anomalies and the journal's verification),
// and "audit-compare" journaled when values were decrypted (never shown, never written).
struct ReportRun
{
  Report report;
  std::string html_path;              // "" = none written
  std::vector<std::string> csv_files; // one per table, when a CSV folder was asked for
};
// Builds the report; writes the HTML page (html != "") and one CSV file per table in csv_dir
// (csv_dir != ""); journals the value comparison when values were compared.
ReportRun report_on(history::VaultSession& session, ReportOptions options, bool compare_values, const std::string& html,
                    const std::string& csv_dir = {});

} // namespace escrow::audit
