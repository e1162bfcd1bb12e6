// `audit anomalies`: what looks unusual in the journal (docs/AUDIT.md has each rule).
//
// Accesses are reveal and exec events, whatever their result (a burst of refused attempts is
// as interesting as a burst of reads). Days and hours are UTC. The rules:
//   actor-volume / secret-volume  a day whose access count by that actor (to that secret) is
//       above mean + sigma * max(stddev, sigma_floor) of the previous days since its first access
//       (days without access count as 0), once there are at least min_history_days of them;
//   first-access   an actor's first access to a secret, once the actor has min_history_days of
//       access history;
//   new-hour       an access in an hour of the day the actor never used before (any entry of
//       theirs counts as use), once the actor has min_history_days of history;
//   new-host       an access from a host the actor never wrote an entry from before (when they
//       have written any);
//   cross-env-connector  an entry in which a connector of one environment touches a secret of
//       another (environments never mix), or a secret bound to such a connector in the state (escrow-vault/2 entries:
//       entries.hpp; connectors come from the operations' arguments and the events' detail).
// The findings depend on the journal (and the vault's connectors) only, never on the clock:
// the same journal gives the same findings, in journal order.
#pragma once

#include <escrow/audit/entries.hpp>
#include <escrow/canonical.hpp>
#include <escrow/history/state.hpp>

#include <string>
#include <vector>

namespace escrow::audit {

enum class AnomalyKind { actor_volume, secret_volume, first_access, new_hour, new_host, cross_env_connector };
std::string_view anomaly_name(AnomalyKind kind);

struct Anomaly
{
  AnomalyKind kind = AnomalyKind::first_access;
  std::string actor;  // "" for secret-volume
  std::string secret; // "" for actor-volume
  std::string day;    // YYYY-MM-DD of the first entry behind it
  std::string message;
  std::vector<const AuditEntry*> entries; // the entries behind it, in journal order

  canonical::Json to_json() const;
};

struct AnomalyOptions
{
  std::int64_t min_history_days = 7;
  double sigma = 3.0;
  double sigma_floor = 1.0; // accesses per day
};

// `entries` must outlive the findings (they point into it).
std::vector<Anomaly> find_anomalies(const std::vector<AuditEntry>& entries,
                                    const history::State& state,
                                    const AnomalyOptions& options = {});

} // namespace escrow::audit
