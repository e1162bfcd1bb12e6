#include <escrow/audit/activity.hpp>

#include <escrow/history/authorize.hpp>
#include <escrow/records.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace escrow::audit {

namespace {

using namespace escrow::history;

struct Check
{
  Timestamp ts = 0;
  bool ok = true;
  std::string detail;
  std::size_t line = 0;
};

std::string version_text(const AuditEntry& logged)
{
  return logged.version ? fmt::format("v{}", *logged.version) : logged.vid.empty() ? std::string("?") : logged.vid;
}

// The connector checks an entry records: a finished rotation verified every connector of the
// secrets it finishes; a confirmation names one; a failure event names the connector that failed.
void checks_of(const AuditEntry& logged, const State& state, std::map<std::string, Check>& last)
{
  const Entry& entry = logged.entry;
  const auto note = [&](const std::string& connector, bool ok, std::string detail) {
    if (!connector.empty()) {
      last[connector] = Check{entry.ts, ok, std::move(detail), logged.line};
    }
  };
  const auto* kind = std::get_if<OpKind>(&entry.action);
  if (kind == nullptr) {
    return;
  }
  if (entry.result == Result::ok && entry.op) {
    if (const auto* finish = std::get_if<RotateFinishArgs>(&entry.op->args)) {
      for (const FinishItem& item : finish->items) {
        const Secret* secret = state.secret(item.secret);
        if (secret == nullptr) {
          continue;
        }
        const Version* version = secret->find(item.vid);
        const std::string v = version != nullptr ? fmt::format("v{}", version->v) : item.vid;
        for (const std::string& connector : secret->connectors) {
          note(connector, true, fmt::format("rotate of {} {}", item.secret, v));
        }
      }
    } else if (const auto* confirm = std::get_if<ConfirmArgs>(&entry.op->args)) {
      note(confirm->connector, true, fmt::format("confirmed {} {}", confirm->secret, version_text(logged)));
    }
    return;
  }
  if (entry.result != Result::ok && entry.detail) {
    const std::string connector = logged.detail_string("connector");
    if (connector.empty() || (*kind != OpKind::rotate_start && *kind != OpKind::rotate_finish
                              && *kind != OpKind::rotate_fail && *kind != OpKind::confirm)) {
      return;
    }
    const std::string step = logged.detail_string("step");
    std::string cause = logged.detail_string("cause");
    if (cause.empty()) {
      cause = logged.detail_string("reason");
    }
    note(connector, false,
         fmt::format("{} ({} {})", !cause.empty() ? cause : step.empty() ? std::string("failed") : step + " failed",
                     logged.secret, version_text(logged)));
  }
}

std::vector<std::string> role_names(const std::set<Role>& roles)
{
  std::vector<std::string> out;
  for (const Role role : roles) {
    out.emplace_back(role_name(role));
  }
  return out;
}

} // namespace

std::string request_phase(const State& state, const Secret& secret, const std::string& id, const RequestOf& request,
                          Timestamp now, std::size_t* approvals, std::int64_t* threshold)
{
  (void)id;
  std::string vid;
  const Version* current = secret.find_state(VersionState::current, &vid);
  const std::size_t counted_now = current != nullptr ? counted(state, secret, request, vid).size() : 0;
  if (approvals != nullptr) {
    *approvals = counted_now;
  }
  if (threshold != nullptr) {
    *threshold = current != nullptr ? current->threshold : secret.threshold;
  }
  bool approved = current != nullptr && current->grants.count(request.by) > 0;
  for (const auto& [other_vid, version] : secret.versions) {
    approved = approved || (version.threshold > 0
                            && static_cast<std::int64_t>(counted(state, secret, request, other_vid).size())
                                 >= version.threshold);
  }
  return request.voided          ? "void"
         : request.denial        ? "denied"
         : !(now < request.until) ? "expired"
         : approved              ? "granted"
                                 : "pending";
}

Activity build_activity(const State& state, const std::vector<AuditEntry>& journal, const std::vector<Hash>& heads,
                        Timestamp now, std::int64_t stale_after)
{
  Activity out;
  const RequestWhys whys = request_whys(journal, &state);
  std::map<std::string, Check> checks;
  for (const auto& logged : journal) {
    const Entry& entry = logged.entry;
    if (is_access(logged) && !logged.secret.empty()) {
      out.reads.push_back(ReadEvent{entry.ts, entry.actor, logged.secret, logged.version, logged.action, logged.result,
                                    justification(logged, whys), logged.line, logged.hash});
    }
    if (entry.result == Result::ok && entry.op) {
      RosterChange change;
      change.ts = entry.ts;
      change.by = entry.actor;
      change.line = logged.line;
      if (const auto* init = std::get_if<InitArgs>(&entry.op->args)) {
        change.change = "genesis";
        change.member = init->member.name;
        change.roles = {"admin"};
        change.envs = {"*"};
      } else if (const auto* add = std::get_if<MemberAddArgs>(&entry.op->args)) {
        change.change = "added";
        change.member = add->name;
        change.roles = role_names(add->roles);
        change.envs = {add->envs.begin(), add->envs.end()};
      } else if (const auto* set = std::get_if<MemberSetArgs>(&entry.op->args)) {
        change.change = "changed";
        change.member = set->name;
        change.roles = role_names(set->roles);
        change.envs = {set->envs.begin(), set->envs.end()};
      } else if (const auto* removal = std::get_if<MemberRemoveArgs>(&entry.op->args)) {
        change.change = "removed";
        change.member = removal->name;
      }
      if (!change.change.empty()) {
        out.roster.push_back(std::move(change));
      }
    }
    checks_of(logged, state, checks);
  }
  if (!journal.empty()) {
    out.journal_head = journal.back().hash;
    out.journal_head_line = journal.back().line;
  }
  for (const Hash& h : heads) {
    out.heads.push_back(canonical::b64(h));
  }

  for (const auto& [name, member] : state.members) {
    if (member->active()) {
      out.members.push_back(name);
    }
  }
  for (const auto& [name, record] : state.secrets) {
    const Secret& secret = *record;
    if (secret.state != SecretState::active) {
      continue;
    }
    ReadAccess access{name, {}, {secret.custodians.begin(), secret.custodians.end()}, secret.threshold};
    for (const auto& reader : standing_readers(state, secret)) {
      const Member* member = state.member(reader);
      access.readers[reader] = reader == secret.owner                                   ? "owner"
                               : member != nullptr && member->has_role(Role::rotator) ? "rotator"
                               : secret.shared_with.count(reader) > 0                  ? "shared"
                                                                                       : "standing";
    }
    for (const auto& [id, request] : secret.requests) {
      if (request_phase(state, secret, id, request, now) == "granted" && access.readers.count(request.by) == 0) {
        access.readers[request.by] = "grant until " + format_time(request.until);
      }
    }
    out.can_read.push_back(std::move(access));
  }

  for (const auto& [name, connector] : state.connectors) {
    bool bound = false;
    for (const auto& access : out.can_read) {
      const Secret* secret = state.secret(access.secret);
      bound = bound
              || (secret != nullptr
                  && std::find(secret->connectors.begin(), secret->connectors.end(), name) != secret->connectors.end());
    }
    const auto it = checks.find(name);
    ConnectorHealth health{name, connector->env, std::string(connector_kind_name(connector->kind)), {}, std::nullopt, {}, 0};
    if (it == checks.end()) {
      if (!bound) {
        continue; // binds nothing yet: nothing to verify
      }
      health.state = "never-verified";
      health.detail = "no rotation has verified it yet";
    } else {
      health.last_check = it->second.ts;
      health.line = it->second.line;
      health.detail = it->second.detail;
      if (!it->second.ok) {
        health.state = "failed";
      } else if (now - it->second.ts > stale_after) {
        health.state = "stale";
        health.detail = fmt::format("last verified {} ago ({})", describe_duration(now - it->second.ts), it->second.detail);
      } else {
        continue;
      }
    }
    out.connectors.push_back(std::move(health));
  }
  return out;
}

} // namespace escrow::audit
