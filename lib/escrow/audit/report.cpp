#include <escrow/atomic_file.hpp>
#include <escrow/audit/anomalies.hpp>
#include <escrow/audit/csv.hpp>
#include <escrow/audit/html.hpp>
#include <escrow/audit/journal_check.hpp>
#include <escrow/audit/report.hpp>
#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/material.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/util/text.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace escrow::audit {

namespace {

using canonical::Json;
using namespace escrow::history;

using util::join;

Json time_or_null(const std::optional<Timestamp>& at)
{
  return at ? Json(format_time(*at)) : Json(nullptr);
}

Json refs_json(const std::vector<EntryRef>& refs)
{
  Json out = Json::array();
  for (const auto& ref : refs) {
    out.push_back(Json{{"line", ref.line}, {"hash", ref.hash}});
  }
  return out;
}

EntryRef ref_of(const AuditEntry& logged)
{
  return EntryRef{logged.line, logged.hash};
}

bool removed(const State& state, const std::string& name, std::optional<Timestamp>& removed_at)
{
  const Member* member = state.member(name);
  if (member == nullptr) {
    removed_at.reset();
    return true;
  }
  removed_at = member->removed_at;
  return !member->active();
}

bool active_member(const State& state, const std::string& name)
{
  const Member* member = state.member(name);
  return member != nullptr && member->active();
}

bool names_version(const AuditEntry& logged, const std::string& vid, std::int64_t v)
{
  return logged.vid == vid || (logged.vid.empty() && logged.version && *logged.version == v);
}

// Whether the secret is due for rotation at `now` (history::due_for_rotation, `rotate --due`'s
// rule) and since when: a compromise's time is the last compromise the journal shows.
std::optional<std::string> due_reason(const State& state, const Secret& secret,
                                      const std::vector<const AuditEntry*>& history, Timestamp now, Timestamp& since)
{
  auto due = due_for_rotation(state, secret, now);
  if (!due) {
    return std::nullopt;
  }
  since = due->since.value_or(now);
  if (!due->since) {
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
      if ((*it)->entry.is_operation() && std::get<OpKind>((*it)->entry.action) == OpKind::compromise) {
        since = (*it)->entry.ts;
        break;
      }
    }
  }
  return std::move(due->reason);
}

std::vector<std::string> sorted(std::set<std::string> items)
{
  return {items.begin(), items.end()};
}

// The current value of `secret` for the session's member, as a standing reader or through a
// carried grant — never by combining approvals (comparing must not use up a request); nullopt
// when the member cannot read it that way.
std::optional<SecretBytes> open_current(VaultSession& session, const Secret& secret)
{
  if (secret.state != SecretState::active) {
    return std::nullopt;
  }
  std::string vid;
  const Version* version = secret.find_state(VersionState::current, &vid);
  const std::optional<Vid> parsed = Vid::from_hex(vid);
  if (version == nullptr || !parsed) {
    return std::nullopt;
  }
  try {
    const std::string me = session.me().name;
    const Identity& identity = session.identity();
    const KeysFile& keys = session.keys();
    const SecretRef ref{session.vault_id(), secret.name};
    const VersionRef vref{*parsed, static_cast<std::uint32_t>(version->gen), version->dk_commit, version->material};
    const history::Generation* gen = secret.generation_of(*version);
    if (gen != nullptr && gen->holders.count(me) > 0) {
      const GenerationRef gref{static_cast<std::uint32_t>(version->gen), gen->rk_commit};
      return decrypt_value(keys, ref, vref, open_as_reader(keys, ref, vref, gref, gen->holders.at(me), identity));
    }
    if (const auto grant = version->grants.find(me); grant != version->grants.end() && session.now() < grant->second.until) {
      return decrypt_value(keys, ref, vref, open_grant(keys, ref, vref, grant->second.key, identity));
    }
  } catch (const Error&) {
    // Not readable by the caller (or damaged: `escrow verify` says so).
  }
  return std::nullopt;
}

void compare_values(VaultSession& session, const std::vector<std::string>& names, Report& report)
{
  report.compared_values = true;
  // A per-run random key: the digests mean nothing outside this process and are never kept.
  const Bytes key = crypto::random_bytes(32);
  const State& state = session.state();
  std::map<crypto::Hash, std::vector<std::string>> by_digest;
  for (const auto& name : names) {
    const std::optional<SecretBytes> value = open_current(session, *state.secret(name));
    if (!value) {
      continue;
    }
    crypto::Hasher hasher;
    hasher.update(key);
    hasher.update(value->expose());
    by_digest[hasher.finish()].push_back(name);
    report.compared.push_back(name);
  }
  for (const auto& [digest, group] : by_digest) {
    if (group.size() < 2) {
      continue;
    }
    // Confirm byte for byte (constant time), in clusters of equal values.
    std::vector<bool> placed(group.size(), false);
    std::vector<std::optional<SecretBytes>> values;
    for (const auto& name : group) {
      values.push_back(open_current(session, *state.secret(name)));
    }
    for (std::size_t a = 0; a < group.size(); ++a) {
      if (placed[a] || !values[a]) {
        continue;
      }
      DuplicateGroup cluster;
      cluster.secrets.push_back(group[a]);
      for (std::size_t b = a + 1; b < group.size(); ++b) {
        if (!placed[b] && values[b] && values[b]->size() == values[a]->size()
            && crypto::equal(values[a]->expose(), values[b]->expose())) {
          placed[b] = true;
          cluster.secrets.push_back(group[b]);
        }
      }
      if (cluster.secrets.size() > 1) {
        report.duplicates.push_back(std::move(cluster));
      }
    }
  }
  std::sort(report.duplicates.begin(), report.duplicates.end(),
            [](const DuplicateGroup& x, const DuplicateGroup& y) { return x.secrets < y.secrets; });
}

} // namespace

Report build_report(const State& state, const std::vector<AuditEntry>& journal, const std::vector<Hash>& heads,
                    const ReportOptions& options)
{
  Report report;
  report.now = options.now;
  report.dormant_after = options.dormant_after;
  report.expiring_within = options.expiring_within;
  report.stale_verify_after = options.stale_verify_after;
  report.activity = build_activity(state, journal, heads, options.now, options.stale_verify_after);
  const Timestamp now = options.now;

  std::map<std::string, std::vector<const AuditEntry*>> by_secret;
  for (const auto& logged : journal) {
    for (const std::string& secret : logged.secrets) {
      by_secret[secret].push_back(&logged);
    }
  }
  static const std::vector<const AuditEntry*> k_none;
  const auto history_of = [&](const std::string& name) -> const std::vector<const AuditEntry*>& {
    const auto it = by_secret.find(name);
    return it == by_secret.end() ? k_none : it->second;
  };

  std::vector<std::string> active_names;
  std::map<std::string, std::set<std::string>> custodian_of; // member -> secrets
  for (const auto& [name, record] : state.secrets) {
    const Secret& secret = *record;
    if (secret.state != SecretState::active) {
      continue;
    }
    active_names.push_back(name);
    const auto& history = history_of(name);
    std::string current_vid;
    const Version* current = secret.find_state(VersionState::current, &current_vid);

    // Overdue rotations.
    Timestamp since = now;
    if (const auto reason = due_reason(state, secret, history, now, since)) {
      report.overdue.push_back(OverdueRotation{name, secret.owner, *reason, since, std::max<std::int64_t>(0, now - since)});
    }

    // Rotations awaiting confirmation, rolling back, or interrupted.
    std::string pending_vid;
    if (const Version* pending = secret.find_state(VersionState::pending, &pending_vid)) {
      RotationProblem problem{name, pending->v, "interrupted", {}, pending->created_at, {}, {}};
      if (secret.rotation) {
        problem.since = secret.rotation->since;
        std::vector<std::string> awaiting;
        for (const std::string& connector : secret.connectors) {
          const Connector* c = state.connector(connector);
          if (c != nullptr && c->kind == ConnectorKind::manual && secret.rotation->confirmed.count(connector) == 0) {
            awaiting.push_back(connector);
          }
        }
        if (secret.rotation->rolling_back) {
          problem.state = "rolling-back";
          problem.detail = "a failure was recorded; escrow rotate --resume rolls it back";
        } else if (!awaiting.empty()) {
          problem.state = "awaiting-confirmation";
          problem.connectors = awaiting;
          problem.detail = fmt::format("paste v{} and run: escrow rotate --confirm {} CONNECTOR", pending->v, name);
        } else {
          problem.detail = "left by a crash; escrow rotate --resume finishes it";
        }
      }
      for (const AuditEntry* logged : history) {
        if (names_version(*logged, pending_vid, pending->v)) {
          problem.entries.push_back(ref_of(*logged));
        }
      }
      report.rotation_problems.push_back(std::move(problem));
    }
    const std::int64_t live_v = current != nullptr ? current->v : 0;
    const Version* failed = nullptr;
    std::string failed_vid;
    for (const auto& [vid, version] : secret.versions) {
      if (version.state == VersionState::failed && version.v > live_v && (failed == nullptr || version.v > failed->v)) {
        failed = &version;
        failed_vid = vid;
      }
    }
    if (failed != nullptr) {
      RotationProblem problem{name, failed->v, "failed", {}, failed->created_at, "rolled back; the old value is live", {}};
      for (const AuditEntry* logged : history) {
        if (!names_version(*logged, failed_vid, failed->v)) {
          continue;
        }
        problem.entries.push_back(ref_of(*logged));
        if (logged->entry.is_operation() && std::get<OpKind>(logged->entry.action) == OpKind::rotate_fail) {
          problem.since = logged->entry.ts;
        }
        if (logged->entry.result == Result::failed) {
          // The failure's facts, as the rotation journaled them (value-free).
          problem.since = logged->entry.ts;
          std::string cause = logged->detail_string("cause");
          if (cause.empty()) {
            cause = logged->detail_string("reason");
          }
          if (!cause.empty()) {
            problem.detail = cause;
          }
          const std::string connector = logged->detail_string("connector");
          if (!connector.empty()) {
            problem.connectors = {connector};
          }
        }
      }
      report.rotation_problems.push_back(std::move(problem));
    }

    // Dormant credentials.
    const AuditEntry* last_use = nullptr;
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
      if (is_access(**it) && (*it)->entry.result == Result::ok) {
        last_use = *it;
        break;
      }
    }
    const Timestamp idle_since = last_use != nullptr ? last_use->entry.ts : secret.created_at;
    if (now - idle_since >= options.dormant_after) {
      DormantSecret dormant{name, secret.owner, std::nullopt, idle_since, now - idle_since, std::nullopt};
      if (last_use != nullptr) {
        dormant.last_used = last_use->entry.ts;
        dormant.last_entry = ref_of(*last_use);
      }
      report.dormant.push_back(std::move(dormant));
    }

    // Owner removed; current version by a removed member.
    std::optional<Timestamp> removed_at;
    if (removed(state, secret.owner, removed_at)) {
      report.owner_removed.push_back(OwnerRemoved{name, secret.owner, removed_at});
    }
    if (current != nullptr && removed(state, current->created_by, removed_at)) {
      report.removed_authors.push_back(RemovedAuthor{name, current->v, current->created_by, removed_at});
    }

    // Pending requests, grants about to expire.
    for (const auto& [id, request] : secret.requests) {
      std::size_t approvals = 0;
      std::int64_t threshold = 0;
      const std::string phase = request_phase(state, secret, id, request, now, &approvals, &threshold);
      const std::int64_t left = request.until - now;
      if (phase == "pending" || (phase == "granted" && left <= options.expiring_within)) {
        report.open_requests.push_back(
          OpenRequest{name, id, request.by, request.why, phase, approvals, threshold, request.until, left});
      }
    }

    // Bus factor: readers R (standing keys and unexpired grants of active members), custodians
    // C with a share, threshold k. Unreadable once R is gone and fewer than k of C remain, so
    // the smallest such loss is |R| + max(0, |C \ R| - k + 1).
    if (current != nullptr) {
      std::set<std::string> readers;
      if (const history::Generation* gen = secret.generation_of(*current)) {
        for (const auto& [member, key] : gen->holders) {
          if (active_member(state, member)) {
            readers.insert(member);
          }
        }
      }
      for (const auto& [member, grant] : current->grants) {
        if (active_member(state, member) && grant.until > now) {
          readers.insert(member);
        }
      }
      std::set<std::string> custodians;
      for (const auto& [custodian, share] : current->shares) {
        if (active_member(state, custodian)) {
          custodians.insert(custodian);
        }
      }
      std::int64_t others = 0;
      for (const auto& custodian : custodians) {
        others += readers.count(custodian) == 0 ? 1 : 0;
      }
      const std::int64_t k = current->threshold;
      const std::int64_t bus = static_cast<std::int64_t>(readers.size())
                               + (k >= 1 && others >= k ? others - k + 1 : 0);
      if (bus <= 1) {
        report.bus_factor.push_back(BusFactor{name, sorted(readers), sorted(custodians), k, bus});
      }
      for (const auto& custodian : current->custodians) {
        custodian_of[custodian].insert(name);
      }
    }
  }

  // Custodians who never approve: asked (requests by others on secrets they hold a share of,
  // in the state or the journal) but no approval by them anywhere.
  std::map<std::string, std::size_t> approvals;
  std::map<std::string, std::size_t> denials;
  for (const auto& logged : journal) {
    if (logged.entry.result != Result::ok || !logged.entry.is_operation()) {
      continue;
    }
    const OpKind kind = std::get<OpKind>(logged.entry.action);
    if (kind == OpKind::approve) {
      ++approvals[logged.entry.actor];
    } else if (kind == OpKind::deny) {
      ++denials[logged.entry.actor];
    }
  }
  for (const auto& [member, secrets] : custodian_of) {
    if (!active_member(state, member)) {
      continue;
    }
    std::set<std::pair<std::string, std::string>> asked;
    std::size_t approved_here = approvals[member];
    for (const auto& name : secrets) {
      const Secret& secret = *state.secret(name);
      for (const auto& [id, request] : secret.requests) {
        if (request.by != member) {
          asked.emplace(name, id);
        }
        approved_here += request.approvals.count(member);
      }
      for (const AuditEntry* logged : history_of(name)) {
        if (logged->entry.is_operation() && std::get<OpKind>(logged->entry.action) == OpKind::request
            && logged->entry.result == Result::ok && logged->entry.actor != member && !logged->request.empty()) {
          asked.emplace(name, logged->request);
        }
      }
    }
    if (!asked.empty() && approved_here == 0) {
      report.silent_custodians.push_back(SilentCustodian{member, sorted(secrets), asked.size(), denials[member]});
    }
  }

  if (options.reader != nullptr) {
    compare_values(*options.reader, active_names, report);
  }

  // Rehearsals: never rehearsed, latest one failed.
  rehearse::Status rehearsals = rehearse::status(state, journal);
  report.never_rehearsed = std::move(rehearsals.never);
  report.failed_rehearsals = std::move(rehearsals.failed);

  std::stable_sort(report.overdue.begin(), report.overdue.end(),
                   [](const OverdueRotation& a, const OverdueRotation& b) { return a.overdue_by > b.overdue_by; });
  std::stable_sort(report.dormant.begin(), report.dormant.end(),
                   [](const DormantSecret& a, const DormantSecret& b) { return a.idle_for > b.idle_for; });
  std::stable_sort(report.open_requests.begin(), report.open_requests.end(),
                   [](const OpenRequest& a, const OpenRequest& b) { return a.expires_at < b.expires_at; });
  return report;
}

Json Report::to_json() const
{
  Json overdue_json = Json::array();
  for (const auto& item : overdue) {
    overdue_json.push_back(Json{{"secret", item.secret},
                                {"owner", item.owner},
                                {"reason", item.reason},
                                {"due_since", format_time(item.due_since)},
                                {"overdue_seconds", item.overdue_by},
                                {"overdue_by", describe_duration(item.overdue_by)}});
  }
  Json problems_json = Json::array();
  for (const auto& item : rotation_problems) {
    problems_json.push_back(Json{{"secret", item.secret},
                                 {"version", item.version},
                                 {"state", item.state},
                                 {"connectors", item.connectors},
                                 {"since", format_time(item.since)},
                                 {"detail", item.detail},
                                 {"entries", refs_json(item.entries)}});
  }
  Json dormant_json = Json::array();
  for (const auto& item : dormant) {
    dormant_json.push_back(Json{{"secret", item.secret},
                                {"owner", item.owner},
                                {"last_used", time_or_null(item.last_used)},
                                {"idle_since", format_time(item.idle_since)},
                                {"idle_days", item.idle_for / 86400},
                                {"last_entry", item.last_entry ? refs_json({*item.last_entry})[0] : Json(nullptr)}});
  }
  Json owners_json = Json::array();
  for (const auto& item : owner_removed) {
    owners_json.push_back(Json{{"secret", item.secret}, {"owner", item.owner}, {"removed_at", time_or_null(item.removed_at)}});
  }
  Json authors_json = Json::array();
  for (const auto& item : removed_authors) {
    authors_json.push_back(Json{{"secret", item.secret},
                                {"version", item.version},
                                {"created_by", item.created_by},
                                {"removed_at", time_or_null(item.removed_at)}});
  }
  Json requests_json = Json::array();
  for (const auto& item : open_requests) {
    requests_json.push_back(Json{{"secret", item.secret},
                                 {"id", item.id},
                                 {"by", item.by},
                                 {"why", item.why},
                                 {"state", item.state},
                                 {"approvals", item.approvals},
                                 {"threshold", item.threshold},
                                 {"expires_at", format_time(item.expires_at)},
                                 {"expires_in_seconds", item.expires_in}});
  }
  Json bus_json = Json::array();
  for (const auto& item : bus_factor) {
    bus_json.push_back(Json{{"secret", item.secret},
                            {"readers", item.readers},
                            {"custodians", item.custodians},
                            {"threshold", item.threshold},
                            {"bus_factor", item.bus_factor}});
  }
  Json silent_json = Json::array();
  for (const auto& item : silent_custodians) {
    silent_json.push_back(
      Json{{"member", item.member}, {"secrets", item.secrets}, {"asked", item.asked}, {"approved", 0}, {"denied", item.denied}});
  }
  Json duplicates_json = Json::array();
  for (const auto& group : duplicates) {
    duplicates_json.push_back(Json{{"secrets", group.secrets}});
  }
  Json never_json = Json::array();
  for (const auto& item : never_rehearsed) {
    never_json.push_back(Json{{"secret", item.secret}, {"owner", item.owner}});
  }
  Json failed_rehearsals_json = Json::array();
  for (const auto& item : failed_rehearsals) {
    failed_rehearsals_json.push_back(Json{{"secret", item.secret},
                                          {"owner", item.owner},
                                          {"at", format_time(item.at)},
                                          {"actor", item.actor},
                                          {"error", item.error},
                                          {"line", item.line},
                                          {"hash", item.hash}});
  }
  Json reads_json = Json::array();
  for (const auto& item : activity.reads) {
    reads_json.push_back(Json{{"ts", format_time(item.ts)},
                              {"actor", item.actor},
                              {"secret", item.secret},
                              {"version", item.version ? Json(*item.version) : Json(nullptr)},
                              {"action", item.action},
                              {"result", item.result},
                              {"justification", item.justification},
                              {"entry", Json{{"line", item.line}, {"hash", item.hash}}}});
  }
  Json roster_json = Json::array();
  for (const auto& item : activity.roster) {
    roster_json.push_back(Json{{"ts", format_time(item.ts)}, {"change", item.change}, {"member", item.member},
                               {"roles", item.roles}, {"envs", item.envs}, {"by", item.by}, {"line", item.line}});
  }
  Json can_read_json = Json::array();
  for (const auto& item : activity.can_read) {
    can_read_json.push_back(Json{{"secret", item.secret}, {"readers", item.readers}, {"custodians", item.custodians},
                                 {"threshold", item.threshold}});
  }
  Json connectors_json = Json::array();
  for (const auto& item : activity.connectors) {
    connectors_json.push_back(Json{{"connector", item.connector}, {"env", item.env}, {"kind", item.kind},
                                   {"state", item.state}, {"last_check", time_or_null(item.last_check)},
                                   {"detail", item.detail}, {"line", item.line > 0 ? Json(item.line) : Json(nullptr)}});
  }
  return Json{{"now", format_time(now)},
              {"reads", reads_json},
              {"roster", roster_json},
              {"can_read", can_read_json},
              {"connectors", connectors_json},
              {"stale_verify_days", stale_verify_after / 86400},
              {"journal_head", Json{{"hash", activity.journal_head}, {"line", activity.journal_head_line},
                                    {"heads", activity.heads}}},
              {"dormant_days", dormant_after / 86400},
              {"expiring_within", format_duration(expiring_within)},
              {"overdue", overdue_json},
              {"rotation_problems", problems_json},
              {"dormant", dormant_json},
              {"owner_removed", owners_json},
              {"removed_authors", authors_json},
              {"open_requests", requests_json},
              {"bus_factor", bus_json},
              {"silent_custodians", silent_json},
              {"duplicates", duplicates_json},
              {"never_rehearsed", never_json},
              {"failed_rehearsals", failed_rehearsals_json},
              {"values_compared", compared_values ? Json(compared.size()) : Json(nullptr)}};
}

std::vector<Table> Report::tables(Rows rows) const
{
  std::vector<Table> out;
  {
    Table table{"overdue", "Rotations overdue", "nothing is overdue", {"SECRET", "OWNER", "OVERDUE BY", "DUE SINCE", "WHY"}, {}};
    for (const auto& item : overdue) {
      table.rows.push_back({item.secret, item.owner, describe_duration(item.overdue_by), format_time(item.due_since), item.reason});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"rotation_problems", "Rotations failed or awaiting confirmation", "no rotation is stuck or failed",
                {"SECRET", "VERSION", "STATE", "CONNECTORS", "SINCE", "DETAIL", "ENTRIES"}, {}};
    for (const auto& item : rotation_problems) {
      std::vector<std::string> lines;
      for (const auto& ref : item.entries) {
        lines.push_back(std::to_string(ref.line));
      }
      table.rows.push_back({item.secret, "v" + std::to_string(item.version), item.state,
                            item.connectors.empty() ? "-" : join(item.connectors), format_time(item.since), item.detail,
                            lines.empty() ? "-" : "line " + join(lines, ",")});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"dormant", fmt::format("Dormant credentials (unused for {} days or more)", dormant_after / 86400),
                "every credential was used recently", {"SECRET", "OWNER", "LAST USED", "IDLE"}, {}};
    for (const auto& item : dormant) {
      table.rows.push_back({item.secret, item.owner,
                            item.last_used ? format_time(*item.last_used) : "never (added " + format_time(item.idle_since) + ")",
                            std::to_string(item.idle_for / 86400) + "d"});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"owner_removed", "Secrets whose owner was removed", "every owner is an active member", {"SECRET", "OWNER", "REMOVED"}, {}};
    for (const auto& item : owner_removed) {
      table.rows.push_back({item.secret, item.owner, item.removed_at ? format_time(*item.removed_at) : "not a member"});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"removed_authors", "Current versions authored by removed members", "no current version is by a removed member",
                {"SECRET", "VERSION", "CREATED BY", "REMOVED"}, {}};
    for (const auto& item : removed_authors) {
      table.rows.push_back({item.secret, "v" + std::to_string(item.version), item.created_by,
                            item.removed_at ? format_time(*item.removed_at) : "not a member"});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"open_requests",
                fmt::format("Pending requests and grants expiring within {}", describe_duration(expiring_within)),
                "no pending request, no grant about to expire",
                {"SECRET", "REQUEST", "BY", "STATE", "APPROVALS", "EXPIRES", "IN", "WHY"}, {}};
    for (const auto& item : open_requests) {
      table.rows.push_back({item.secret, item.id, item.by, item.state,
                            fmt::format("{}/{}", item.approvals, item.threshold), format_time(item.expires_at),
                            describe_duration(item.expires_in), item.why});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"bus_factor", "Secrets that depend on one person (bus factor of one or less)",
                "every secret survives the loss of any one person", {"SECRET", "BUS FACTOR", "READERS", "CUSTODIANS"}, {}};
    for (const auto& item : bus_factor) {
      table.rows.push_back({item.secret, std::to_string(item.bus_factor), item.readers.empty() ? "nobody" : join(item.readers),
                            item.custodians.empty() ? "-" : fmt::format("{} of {}", item.threshold, join(item.custodians))});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"silent_custodians", "Custodians who never approve", "every custodian who was asked has approved",
                {"CUSTODIAN", "ASKED", "APPROVED", "DENIED", "SECRETS"}, {}};
    for (const auto& item : silent_custodians) {
      table.rows.push_back({item.member, std::to_string(item.asked), "0", std::to_string(item.denied), join(item.secrets)});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"duplicates",
                !compared_values  ? "Duplicate values (not compared)"
                : compared.empty() ? "Duplicate values (none of the values is yours to read)"
                                   : fmt::format("Duplicate values (among the {} secrets you can read)", compared.size()),
                compared_values ? "no two readable secrets share a value" : "not compared", {"SECRETS WITH THE SAME VALUE"}, {}};
    for (const auto& group : duplicates) {
      table.rows.push_back({join(group.secrets)});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"connectors",
                fmt::format("Connectors whose last verify failed or is stale (older than {} days)", stale_verify_after / 86400),
                "every connector in use verified recently",
                {"CONNECTOR", "ENV", "KIND", "STATE", "LAST CHECK", "DETAIL", "LINE"}, {}};
    for (const auto& item : activity.connectors) {
      table.rows.push_back({item.connector, item.env, item.kind, item.state,
                            item.last_check ? format_time(*item.last_check) : "never", item.detail,
                            item.line > 0 ? std::to_string(item.line) : "-"});
    }
    out.push_back(std::move(table));
  }
  {
    const std::size_t total = activity.reads.size();
    const std::size_t shown = rows == Rows::all ? total : std::min(total, k_recent_reads);
    Table table{"reads",
                shown == total ? "Who read what" : fmt::format("Who read what (the {} most recent of {})", shown, total),
                "nobody has read a value",
                {"TIME", "MEMBER", "SECRET", "VERSION", "HOW", "RESULT", "JUSTIFICATION", "LINE"}, {}};
    for (std::size_t i = total - shown; i < total; ++i) {
      const ReadEvent& item = activity.reads[i];
      table.rows.push_back({format_time(item.ts), item.actor, item.secret,
                            item.version ? "v" + std::to_string(*item.version) : "-", item.action, item.result,
                            item.justification.empty() ? "-" : item.justification, std::to_string(item.line)});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"roster", "Roster and role changes", "no member was added or removed",
                {"TIME", "CHANGE", "MEMBER", "ROLES", "ENVIRONMENTS", "BY", "LINE"}, {}};
    for (const auto& item : activity.roster) {
      table.rows.push_back({format_time(item.ts), item.change, item.member, item.roles.empty() ? "-" : join(item.roles),
                            item.envs.empty() ? "-" : join(item.envs), item.by, std::to_string(item.line)});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"can_read", "Who can read what now", "no active secret", {"SECRET", "READERS", "CUSTODIANS"}, {}};
    for (const auto& item : activity.can_read) {
      std::vector<std::string> readers;
      for (const auto& [member, how] : item.readers) {
        readers.push_back(member + " (" + how + ")");
      }
      table.rows.push_back({item.secret, readers.empty() ? "nobody" : join(readers),
                            item.custodians.empty() ? "-" : fmt::format("{} of {}", item.threshold, join(item.custodians))});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"failed_rehearsals", "Rehearsals that failed", "no latest rehearsal failed",
                {"SECRET", "OWNER", "WHEN", "BY", "ERROR", "ENTRY"}, {}};
    for (const auto& item : failed_rehearsals) {
      table.rows.push_back({item.secret, item.owner, format_time(item.at), item.actor, item.error,
                            "line " + std::to_string(item.line)});
    }
    out.push_back(std::move(table));
  }
  {
    Table table{"never_rehearsed", "Secrets never rehearsed", "every active secret was rehearsed (escrow rehearse)",
                {"SECRET", "OWNER"}, {}};
    for (const auto& item : never_rehearsed) {
      table.rows.push_back({item.secret, item.owner});
    }
    out.push_back(std::move(table));
  }
  return out;
}

ReportRun report_on(VaultSession& session, ReportOptions options, bool compare_values, const std::string& html,
                    const std::string& csv_dir)
{
  const std::vector<AuditEntry> entries = read_entries(session);
  options.now = session.now();
  options.reader = compare_values ? &session : nullptr;
  ReportRun run;
  run.report = build_report(session.state(), entries, session.heads(), options);
  if (!html.empty()) {
    const std::vector<Anomaly> anomalies = find_anomalies(entries, session.state());
    HtmlContext page;
    page.vault = session.paths().head.string();
    page.vault_id = canonical::b64(session.vault_id());
    page.journal_entries = entries.size();
    try {
      // The bytes alone (the session that opened has already checked this machine's record of
      // what it verified: a loss would have refused the open).
      VaultSessionOptions check_options;
      check_options.vault_path = session.paths().head;
      check_options.clock = Clock::fixed(session.now());
      const JournalCheck checked = check_journal(check_options);
      const std::size_t warnings = checked.warnings();
      if (checked.ok()) {
        page.verification = fmt::format("ok, {} entries replayed, every hash, signature, authorisation and key line "
                                        "verified{}",
                                        checked.entries, warnings > 0 ? fmt::format(" ({} warning(s))", warnings) : "");
      } else {
        page.verification = fmt::format("FAILED: {}", checked.lines().front());
      }
    } catch (const Error& error) {
      page.verification = fmt::format("FAILED: {}", error.what());
    }
    AtomicFile file(html, 0644);
    file.write(render_html(run.report, anomalies, entries, page));
    file.commit();
    run.html_path = html;
  }
  if (!csv_dir.empty()) {
    std::filesystem::create_directory(csv_dir);
    for (const Table& table : run.report.tables(Report::Rows::all)) {
      const std::filesystem::path file_path = std::filesystem::path(csv_dir) / (table.key + ".csv");
      AtomicFile file(file_path, 0644);
      file.write(table_csv(table));
      file.commit();
      run.csv_files.push_back(file_path.string());
    }
  }
  if (!run.report.compared.empty()) {
    // Values were decrypted (never shown, never written): that leaves a trace too.
    session.record(EventKind::audit_compare, Result::ok,
                   Json{{"secrets", run.report.compared.size()}, {"duplicates", run.report.duplicates.size()}});
  }
  return run;
}

} // namespace escrow::audit
