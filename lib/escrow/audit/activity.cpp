#include <escrow/audit/activity.hpp>

#include <escrow/escrow.hpp>
#include <escrow/policy.hpp>

#include <algorithm>

namespace escrow::audit {

namespace {

std::vector<std::string> strings_of(const Json& detail, const char* key)
{
  std::vector<std::string> out;
  if (detail.is_object() && detail.contains(key) && detail[key].is_array()) {
    for (const auto& item : detail[key]) {
      if (item.is_string()) {
        out.push_back(item.get<std::string>());
      }
    }
  }
  return out;
}

std::string string_of(const Json& detail, const char* key)
{
  if (detail.is_object() && detail.contains(key) && detail[key].is_string()) {
    return detail[key].get<std::string>();
  }
  return {};
}

struct Check
{
  Timestamp ts = 0;
  bool ok = true;
  std::string detail;
  std::size_t line = 0;
};

// The connector checks a journal entry records: a finished rotation or rollback verified every
// connector it names; a failed one names the connector that failed; a confirmation names one.
void checks_of(const LoggedEntry& logged, std::map<std::string, Check>& last)
{
  const JournalEntry& entry = logged.entry;
  const auto note = [&](const std::string& connector, bool ok, std::string detail) {
    if (!connector.empty()) {
      last[connector] = Check{entry.ts, ok, std::move(detail), logged.line};
    }
  };
  if ((entry.action == JournalAction::rotate || entry.action == JournalAction::rollback) && entry.result == JournalResult::ok) {
    for (const auto& connector : strings_of(entry.detail, "connectors")) {
      note(connector, true, fmt::format("{} of {} v{}", entry.action, entry.secret, entry.version.value_or(0)));
    }
  } else if (entry.action == JournalAction::rotate_failed || entry.action == JournalAction::rollback_failed) {
    const std::string step = string_of(entry.detail, "step");
    const std::string cause = string_of(entry.detail, "cause");
    note(string_of(entry.detail, "connector"), false,
         fmt::format("{} ({} v{})",
                     !cause.empty() ? cause : step.empty() ? std::string("failed") : step + " failed",
                     entry.secret, entry.version.value_or(0)));
  } else if (entry.action == JournalAction::confirm) {
    note(string_of(entry.detail, "connector"), entry.result == JournalResult::ok,
         entry.result == JournalResult::ok ? fmt::format("confirmed {} v{}", entry.secret, entry.version.value_or(0))
                              : fmt::format("the paste of {} v{} did not verify", entry.secret, entry.version.value_or(0)));
  }
}

} // namespace

Activity build_activity(const Vault& vault, const std::vector<LoggedEntry>& journal, Timestamp now, std::int64_t stale_after)
{
  Activity out;
  const RequestWhys whys = request_whys(journal);
  std::map<std::string, Check> checks;
  for (const auto& logged : journal) {
    const JournalEntry& entry = logged.entry;
    if (is_access(entry) && !entry.secret.empty()) {
      out.reads.push_back(ReadEvent{entry.ts, entry.actor, entry.secret, entry.version,
                                    std::string(journal_action_name(entry.action)),
                                    std::string(journal_result_name(entry.result)), justification(entry, whys),
                                    logged.line, entry.hash});
    }
    if (entry.result == JournalResult::ok && (entry.action == JournalAction::member_add
                                              || entry.action == JournalAction::member_remove
                                              || entry.action == JournalAction::init)) {
      RosterChange change;
      change.ts = entry.ts;
      change.by = entry.actor;
      change.line = logged.line;
      if (entry.action == JournalAction::init) {
        change.change = "genesis";
        change.member = entry.actor;
        change.roles = {"admin"};
        change.envs = {"*"};
      } else {
        change.change = entry.action == JournalAction::member_add ? "added" : "removed";
        change.member = string_of(entry.detail, "member");
        change.roles = strings_of(entry.detail, "roles");
        change.envs = strings_of(entry.detail, "envs");
      }
      out.roster.push_back(std::move(change));
    }
    checks_of(logged, checks);
  }
  if (!journal.empty()) {
    out.journal_head = journal.back().entry.hash;
    out.journal_head_line = journal.back().line;
  }
  out.anchored_head = vault.journal_head();

  for (const auto& [name, member] : vault.members()) {
    if (member.active()) {
      out.members.push_back(name);
    }
  }
  for (const auto& name : vault.secret_names()) {
    const SecretRecord& secret = vault.secret(name);
    if (secret.state != SecretState::active) {
      continue;
    }
    ReadAccess access{name, {}, secret.custodians, secret.threshold};
    for (const auto& reader : policy::standing_readers(vault, secret)) {
      const MemberRecord* member = vault.member(reader);
      const bool shared = std::find(secret.shared_with.begin(), secret.shared_with.end(), reader) != secret.shared_with.end();
      access.readers[reader] = reader == secret.owner                                   ? "owner"
                               : member != nullptr && member->has_role(Role::rotator) ? "rotator"
                               : shared                                                ? "shared"
                                                                                       : "standing";
    }
    for (const Request& request : secret.requests) {
      const RequestStatus status = request_status(vault, secret, request, now);
      if (status.state == RequestState::granted && access.readers.count(request.by) == 0) {
        access.readers[request.by] = "grant until " + format_time(request.expires_at());
      }
    }
    out.can_read.push_back(std::move(access));
  }

  for (const auto& [name, connector] : vault.connectors()) {
    bool bound = false;
    for (const auto& access : out.can_read) {
      const SecretRecord& secret = vault.secret(access.secret);
      bound = bound || std::find(secret.connectors.begin(), secret.connectors.end(), name) != secret.connectors.end();
    }
    const auto it = checks.find(name);
    ConnectorHealth health{name, connector.env, std::string(connector_kind_name(connector.kind)), {}, std::nullopt, {}, 0};
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
