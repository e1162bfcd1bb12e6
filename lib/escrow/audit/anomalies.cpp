#include <escrow/audit/anomalies.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace escrow::audit {

namespace {

using canonical::Json;

constexpr std::int64_t k_day = 86400;

std::int64_t day_of(Timestamp ts)
{
  return ts >= 0 ? ts / k_day : (ts - k_day + 1) / k_day;
}

std::string day_name(std::int64_t day)
{
  return format_time(day * k_day).substr(0, 10);
}

int hour_of(Timestamp ts)
{
  return static_cast<int>(((ts % k_day) + k_day) % k_day / 3600);
}

// Hours as people read them: "09-12, 14, 17".
std::string describe_hours(const std::set<int>& hours)
{
  std::string out;
  auto it = hours.begin();
  while (it != hours.end()) {
    int first = *it;
    int last = first;
    ++it;
    while (it != hours.end() && *it == last + 1) {
      last = *it;
      ++it;
    }
    out += out.empty() ? "" : ", ";
    out += first == last ? fmt::format("{:02}", first) : fmt::format("{:02}-{:02}", first, last);
  }
  return out;
}

// Days whose count is above the key's own baseline.
void volume(AnomalyKind kind,
            const std::string& key,
            const std::vector<const AuditEntry*>& accesses,
            const AnomalyOptions& options,
            std::vector<Anomaly>& out)
{
  std::map<std::int64_t, std::vector<const AuditEntry*>> days;
  for (const AuditEntry* logged : accesses) {
    days[day_of(logged->entry.ts)].push_back(logged);
  }
  if (days.empty()) {
    return;
  }
  const std::int64_t first_day = days.begin()->first;
  double sum = 0;
  double squares = 0;
  for (const auto& [day, entries] : days) {
    const auto count = static_cast<double>(entries.size());
    const std::int64_t history = day - first_day;
    if (history >= options.min_history_days) {
      const double mean = sum / static_cast<double>(history);
      const double variance = std::max(0.0, squares / static_cast<double>(history) - mean * mean);
      const double stddev = std::sqrt(variance);
      const double threshold = mean + options.sigma * std::max(stddev, options.sigma_floor);
      if (count > threshold) {
        Anomaly anomaly;
        anomaly.kind = kind;
        (kind == AnomalyKind::actor_volume ? anomaly.actor : anomaly.secret) = key;
        anomaly.day = day_name(day);
        anomaly.entries = entries;
        anomaly.message = fmt::format(
          "{} {} {} {} accesses on {}, above its threshold of {:.1f} (mean {:.2f}/day, stddev {:.2f} over {} days)",
          kind == AnomalyKind::actor_volume ? "actor" : "secret", key,
          kind == AnomalyKind::actor_volume ? "made" : "had", entries.size(), anomaly.day, threshold, mean, stddev,
          history);
        out.push_back(std::move(anomaly));
      }
    }
    sum += count;
    squares += count * count;
  }
}

} // namespace

std::string_view anomaly_name(AnomalyKind kind)
{
  switch (kind) {
  case AnomalyKind::actor_volume: return "actor-volume";
  case AnomalyKind::secret_volume: return "secret-volume";
  case AnomalyKind::first_access: return "first-access";
  case AnomalyKind::new_hour: return "new-hour";
  case AnomalyKind::new_host: return "new-host";
  case AnomalyKind::cross_env_connector: return "cross-env-connector";
  }
  return "unknown";
}

Json Anomaly::to_json() const
{
  Json refs = Json::array();
  for (const AuditEntry* logged : entries) {
    refs.push_back(entry_ref(*logged));
  }
  return Json{{"kind", anomaly_name(kind)},
              {"actor", actor},
              {"secret", secret},
              {"day", day},
              {"message", message},
              {"entries", refs}};
}

std::vector<Anomaly> find_anomalies(const std::vector<AuditEntry>& entries,
                                    const history::State& state,
                                    const AnomalyOptions& options)
{
  std::vector<Anomaly> out;
  const std::int64_t min_history = options.min_history_days * k_day;

  // Volumes per actor and per secret.
  std::map<std::string, std::vector<const AuditEntry*>> by_actor;
  std::map<std::string, std::vector<const AuditEntry*>> by_secret;
  for (const auto& logged : entries) {
    if (is_access(logged)) {
      by_actor[logged.entry.actor].push_back(&logged);
      for (const std::string& secret : logged.secrets) {
        by_secret[secret].push_back(&logged);
      }
    }
  }
  for (const auto& [actor, accesses] : by_actor) {
    volume(AnomalyKind::actor_volume, actor, accesses, options, out);
  }
  for (const auto& [secret, accesses] : by_secret) {
    volume(AnomalyKind::secret_volume, secret, accesses, options, out);
  }

  // First-time pairs, new hours, new hosts: one pass in journal order.
  struct ActorHistory
  {
    Timestamp first_entry = 0;
    std::optional<Timestamp> first_access;
    std::set<int> hours;
    std::set<std::string> hosts;
    std::set<std::string> secrets;
    bool any = false;
  };
  std::map<std::string, ActorHistory> actors;
  for (const auto& logged : entries) {
    const history::Entry& entry = logged.entry;
    const std::string& secret = logged.secret;
    ActorHistory& history = actors[entry.actor];
    if (!history.any) {
      history.first_entry = entry.ts;
    }
    if (is_access(logged)) {
      const std::string day = day_name(day_of(entry.ts));
      if (!secret.empty() && history.secrets.insert(secret).second && history.first_access
          && entry.ts - *history.first_access >= min_history) {
        out.push_back(Anomaly{AnomalyKind::first_access, entry.actor, secret, day,
                              fmt::format("{} accessed {} for the first time ({}, after {} days of access history)",
                                          entry.actor, secret, format_time(entry.ts),
                                          (entry.ts - *history.first_access) / k_day),
                              {&logged}});
      }
      const int hour = hour_of(entry.ts);
      if (history.any && entry.ts - history.first_entry >= min_history && history.hours.count(hour) == 0) {
        out.push_back(Anomaly{AnomalyKind::new_hour, entry.actor, secret, day,
                              fmt::format("{} accessed {} at {:02}h UTC ({}), an hour they never used before (usual: {})",
                                          entry.actor, secret.empty() ? "a secret" : secret, hour,
                                          format_time(entry.ts), describe_hours(history.hours)),
                              {&logged}});
      }
      if (history.any && history.hosts.count(entry.host) == 0) {
        std::string known;
        for (const auto& host : history.hosts) {
          known += known.empty() ? host : ", " + host;
        }
        out.push_back(Anomaly{AnomalyKind::new_host, entry.actor, secret, day,
                              fmt::format("{} accessed {} from host {} ({}), never seen for them before (known: {})",
                                          entry.actor, secret.empty() ? "a secret" : secret, entry.host,
                                          format_time(entry.ts), known),
                              {&logged}});
      }
      if (!history.first_access) {
        history.first_access = entry.ts;
      }
    }
    history.any = true;
    history.hours.insert(hour_of(entry.ts));
    history.hosts.insert(entry.host);
  }

  // Connectors touching secrets of another environment.
  std::map<std::string, std::string> connector_env;
  for (const auto& logged : entries) {
    if (const auto* add = logged.entry.op ? std::get_if<history::ConnectorAddArgs>(&logged.entry.op->args) : nullptr) {
      connector_env[add->name] = add->env;
    }
  }
  for (const auto& [name, connector] : state.connectors) {
    connector_env[name] = connector->env;
  }
  std::map<std::pair<std::string, std::string>, std::vector<const AuditEntry*>> bindings; // (secret, connector)
  for (const auto& logged : entries) {
    const history::Entry& entry = logged.entry;
    for (const std::string& secret : logged.secrets) {
      const std::string env(history::env_of(secret));
      for (const auto& name : logged.connectors) {
        bindings[{secret, name}].push_back(&logged);
        const auto it = connector_env.find(name);
        if (it == connector_env.end() || it->second == env) {
          continue;
        }
        out.push_back(Anomaly{AnomalyKind::cross_env_connector, entry.actor, secret, day_name(day_of(entry.ts)),
                              fmt::format("connector {} of environment {} touched {} of environment {} ({} by {}, {})",
                                          name, it->second, secret, env, logged.action, entry.actor,
                                          format_time(entry.ts)),
                              {&logged}});
      }
    }
  }
  std::vector<Anomaly> bound;
  for (const auto& [name, record] : state.secrets) {
    const history::Secret& secret = *record;
    for (const auto& connector : secret.connectors) {
      const auto it = connector_env.find(connector);
      if (it == connector_env.end() || it->second == secret.env) {
        continue;
      }
      Anomaly anomaly{AnomalyKind::cross_env_connector, "", name, "",
                      fmt::format("{} (environment {}) is bound in the vault to connector {} of environment {}", name,
                                  secret.env, connector, it->second),
                      {}};
      if (const auto found = bindings.find({name, connector}); found != bindings.end()) {
        anomaly.entries = found->second;
        anomaly.day = day_name(day_of(found->second.front()->entry.ts));
      }
      bound.push_back(std::move(anomaly));
    }
  }

  const auto first_line = [](const Anomaly& anomaly) {
    return anomaly.entries.empty() ? std::numeric_limits<std::size_t>::max() : anomaly.entries.front()->line;
  };
  std::stable_sort(out.begin(), out.end(), [&](const Anomaly& a, const Anomaly& b) {
    if (first_line(a) != first_line(b)) {
      return first_line(a) < first_line(b);
    }
    return a.kind < b.kind;
  });
  out.insert(out.end(), std::make_move_iterator(bound.begin()), std::make_move_iterator(bound.end()));
  return out;
}

} // namespace escrow::audit
