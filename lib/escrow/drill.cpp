#include <escrow/audit/log.hpp>
#include <escrow/audit/verify.hpp>
#include <escrow/connectors/manage.hpp>
#include <escrow/drill.hpp>
#include <escrow/error.hpp>
#include <escrow/policy.hpp>
#include <escrow/rotation/rotation.hpp>
#include <escrow/versions.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace escrow::drill {

using canonical::Json;

namespace {

std::string member_of(const JournalEntry& entry)
{
  if (const auto field = entry.detail.find("member"); field != entry.detail.end() && field->is_string()) {
    return field->get<std::string>();
  }
  return {};
}

std::string quoted(const std::string& name)
{
  return name; // secret and connector names are [A-Za-z0-9._/-]: safe in a shell as they are
}

// When the k-th counted approval of `request` for version v arrived; nullopt below threshold.
std::optional<Timestamp> granted_at(const Vault& vault, const SecretRecord& secret, const Request& request, std::int64_t v)
{
  std::vector<const Approval*> counted = counted_approvals(vault, secret, request, v);
  if (secret.threshold < 1 || static_cast<std::int64_t>(counted.size()) < secret.threshold) {
    return std::nullopt;
  }
  std::vector<Timestamp> times;
  for (const Approval* approval : counted) {
    times.push_back(approval->created_at);
  }
  std::sort(times.begin(), times.end());
  return times[static_cast<std::size_t>(secret.threshold - 1)];
}

} // namespace

Json Access::to_json() const
{
  return Json{{"member", member},
              {"via", via},
              {"from", format_time(from)},
              {"until", until ? Json(format_time(*until)) : Json(nullptr)},
              {"request", request},
              {"note", note}};
}

Json Playbook::to_json() const
{
  Json version_list = Json::array();
  for (const auto& version : versions) {
    Json readers = Json::array();
    for (const auto& access : version.could_read) {
      readers.push_back(access.to_json());
    }
    Json reads = Json::array();
    for (const auto& read : version.reads) {
      reads.push_back(Json{{"member", read.member}, {"action", read.action}, {"at", format_time(read.at)},
                           {"line", read.line}});
    }
    version_list.push_back(Json{{"v", version.v},
                                {"state", version.state},
                                {"created_at", format_time(version.created_at)},
                                {"created_by", version.created_by},
                                {"keys_present", version.keys_present},
                                {"threshold", version.threshold},
                                {"could_read", readers},
                                {"reads", reads}});
  }
  Json connector_list = Json::array();
  for (const auto& c : connectors) {
    connector_list.push_back(Json{{"order", c.order}, {"name", c.name}, {"kind", c.kind}, {"step", c.step},
                                  {"also_serves", c.also_serves}});
  }
  Json contacts = Json::array();
  for (const auto& contact : notify) {
    contacts.push_back(Json{{"member", contact.member}, {"why", contact.why}, {"removed", contact.removed}});
  }
  Json last = nullptr;
  if (last_rotation) {
    last = Json{{"version", last_rotation->version},
                {"started", format_time(last_rotation->started)},
                {"finished", format_time(last_rotation->finished)},
                {"seconds", last_rotation->seconds()},
                {"by", last_rotation->by}};
  }
  return Json{{"scenario", "compromise"},
              {"secret", secret},
              {"env", env},
              {"owner", owner},
              {"purpose", purpose},
              {"at", format_time(at)},
              {"versions", version_list},
              {"connectors", connector_list},
              {"notify", contacts},
              {"commands", commands},
              {"last_rotation", last},
              {"can_rotate", can_rotate},
              {"entry", entry},
              {"notify_result", notify_result}};
}

Playbook compromise(Session& session, const std::string& name)
{
  const auto [env, short_name] = split_secret_name(name);
  const std::string full_name = env + "/" + short_name;
  const Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  policy::require_env(me, env, "drill");
  const SecretRecord& secret = vault.secret(full_name);

  // Only verified history goes into a playbook.
  const audit::VerifyReport verified = audit::verify_session_journal(session);
  audit::require_clean(verified, session.journal().path());
  const std::vector<audit::LoggedEntry> journal = audit::read_entries(session.journal());

  Playbook book;
  book.secret = full_name;
  book.env = env;
  book.owner = secret.owner;
  book.purpose = secret.purpose;
  book.at = session.now();

  // Shares and unshares of this secret, from the journal.
  std::map<std::string, Timestamp> shared_at;          // the latest share
  std::map<std::string, std::pair<Timestamp, Timestamp>> ended; // member → (shared from, unshared at)
  for (const auto& logged : journal) {
    const JournalEntry& e = logged.entry;
    if (e.secret != full_name || e.result != JournalResult::ok) {
      continue;
    }
    if (e.action == JournalAction::share) {
      shared_at[member_of(e)] = e.ts;
    } else if (e.action == JournalAction::unshare) {
      const std::string member = member_of(e);
      const auto it = shared_at.find(member);
      ended[member] = {it != shared_at.end() ? it->second : secret.created_at, e.ts};
      if (it != shared_at.end()) {
        shared_at.erase(it);
      }
    }
  }
  const auto via_of = [&](const std::string& member) -> std::string {
    const MemberRecord* record = vault.member(member);
    if (member == secret.owner) {
      return "owner";
    }
    if (std::find(secret.shared_with.begin(), secret.shared_with.end(), member) != secret.shared_with.end()) {
      return "shared";
    }
    if (record != nullptr && record->has_role(Role::rotator)) {
      return "rotator";
    }
    return "standing";
  };
  const auto removal_note = [&](const std::string& member) -> std::string {
    const MemberRecord* record = vault.member(member);
    if (record != nullptr && !record->active()) {
      return fmt::format("removed {}; the sealed key stays in git history", format_time(*record->removed_at));
    }
    return {};
  };

  for (const auto& version : secret.versions) {
    VersionExposure exposure;
    exposure.v = version.v;
    exposure.state = std::string(version_state_name(version.state));
    exposure.created_at = version.created_at;
    exposure.created_by = version.created_by;
    exposure.threshold = secret.threshold;
    exposure.keys_present = !version.wrapped.empty() || !version.shares.empty() || !version.granted.empty();
    for (const auto& [member, key] : version.wrapped) {
      (void)key;
      Access access;
      access.member = member;
      access.via = via_of(member);
      const auto share = shared_at.find(member);
      access.from = share != shared_at.end() ? std::max(share->second, version.created_at) : version.created_at;
      access.note = removal_note(member);
      exposure.could_read.push_back(std::move(access));
    }
    for (const auto& [member, window] : ended) {
      if (version.wrapped.count(member) > 0 || version.created_at >= window.second) {
        continue;
      }
      Access access;
      access.member = member;
      access.via = "shared-ended";
      access.from = std::max(window.first, version.created_at);
      access.until = window.second;
      access.note = "unshared; they may have kept the value, and the sealed key stays in git history";
      exposure.could_read.push_back(std::move(access));
    }
    std::set<std::string> granted;
    for (const auto& [member, grant] : version.granted) {
      Access access;
      access.member = member;
      access.via = "grant";
      access.request = grant.request;
      access.until = grant.until;
      access.from = version.created_at;
      for (const Request& request : secret.requests) {
        if (request.id == grant.request) {
          // Carried from an earlier version: the grant began when its request was approved.
          for (const auto& other : secret.versions) {
            if (const auto at = granted_at(vault, secret, request, other.v)) {
              access.from = std::max(*at, version.created_at);
              break;
            }
          }
        }
      }
      granted.insert(member + "/" + grant.request);
      exposure.could_read.push_back(std::move(access));
    }
    for (const Request& request : secret.requests) {
      if (request.denial || granted.count(request.by + "/" + request.id) > 0) {
        continue;
      }
      if (const auto at = granted_at(vault, secret, request, version.v)) {
        Access access;
        access.member = request.by;
        access.via = "approvals";
        access.request = request.id;
        access.from = *at;
        access.until = request.expires_at();
        access.note = fmt::format("{} approvals of request {}", secret.threshold, request.id);
        exposure.could_read.push_back(std::move(access));
      }
    }
    for (const auto& [member, share] : version.shares) {
      (void)share;
      Access access;
      access.member = member;
      access.via = "custodian";
      access.from = version.created_at;
      access.note = fmt::format("any {} of the {} custodians together", secret.threshold, version.shares.size());
      if (const std::string removed = removal_note(member); !removed.empty()) {
        access.note += "; " + removed;
      }
      exposure.could_read.push_back(std::move(access));
    }
    for (const auto& logged : journal) {
      const JournalEntry& e = logged.entry;
      if (e.secret == full_name && audit::is_access(e) && e.result == JournalResult::ok && e.version == version.v) {
        exposure.reads.push_back(Read{e.actor, std::string(journal_action_name(e.action)), e.ts, logged.line});
      }
    }
    book.versions.push_back(std::move(exposure));
  }

  // Connectors, in the order the rotation runs them.
  std::size_t order = 0;
  bool manual = false;
  for (const auto& connector_name : secret.connectors) {
    const ConnectorRecord* record = vault.connector(connector_name);
    ConnectorStep step;
    step.order = ++order;
    step.name = connector_name;
    const bool pasted = record != nullptr && !connector::driver_for(*record).pushes();
    step.kind = record != nullptr ? std::string(connector_kind_name(record->kind)) : "missing";
    step.step = record == nullptr ? "missing from the vault: fix before rotating"
                : pasted          ? "a person pastes the new value, then confirms"
                                  : "update, then verify (automatic)";
    step.pasted = pasted;
    manual = manual || pasted;
    for (const auto& other : connector::bound_secrets(vault, connector_name)) {
      if (other != full_name) {
        step.also_serves.push_back(other);
      }
    }
    book.connectors.push_back(std::move(step));
  }

  // Who to tell.
  std::map<std::string, Contact> contacts;
  const auto tell = [&](const std::string& member, const std::string& why) {
    Contact& contact = contacts[member];
    contact.member = member;
    if (std::find(contact.why.begin(), contact.why.end(), why) == contact.why.end()) {
      contact.why.push_back(why);
    }
    const MemberRecord* record = vault.member(member);
    contact.removed = record == nullptr || !record->active();
  };
  tell(secret.owner, "owner");
  for (const auto& version : book.versions) {
    for (const auto& access : version.could_read) {
      tell(access.member, access.via == "custodian" ? "custodian" : "could read v" + std::to_string(version.v));
    }
  }
  for (const auto& [member_name, member] : vault.members()) {
    if (!member.active() || !member.reaches(env)) {
      continue;
    }
    if (member.has_role(Role::admin)) {
      tell(member_name, "admin");
    }
    if (member.has_role(Role::rotator)) {
      tell(member_name, "rotator of " + env);
    }
  }
  for (auto& [member_name, contact] : contacts) {
    (void)member_name;
    book.notify.push_back(std::move(contact));
  }

  // Who can rotate it, and the commands of the real response.
  for (const auto& [member_name, member] : vault.members()) {
    if (policy::may_rotate(member, secret)) {
      book.can_rotate.push_back(member_name);
    }
  }
  book.commands.push_back(fmt::format("escrow compromise {} --why \"WHAT HAPPENED\"", quoted(full_name)));
  book.commands.push_back(fmt::format("escrow rotate {}   # if compromise did not rotate it at once", quoted(full_name)));
  for (const auto& step : book.connectors) {
    if (step.pasted) {
      book.commands.push_back(fmt::format("escrow rotate --confirm {} {}   # after pasting the new value",
                                          quoted(full_name), step.name));
    }
  }
  book.commands.push_back(fmt::format("escrow audit log --secret {}", quoted(full_name)));
  book.commands.push_back("escrow verify");
  book.commands.push_back(fmt::format("escrow drill compromise {}   # again: no reader of the new version should "
                                      "be a suspect",
                                      quoted(full_name)));
  (void)manual;

  // The last real rotation: its start and its finish in the journal.
  std::map<std::int64_t, Timestamp> starts;
  for (const auto& logged : journal) {
    const JournalEntry& e = logged.entry;
    if (e.secret != full_name || !e.version) {
      continue;
    }
    if (e.action == JournalAction::rotate_start) {
      starts[*e.version] = e.ts;
    } else if (e.action == JournalAction::rotate && e.result == JournalResult::ok) {
      const auto start = starts.find(*e.version);
      if (start != starts.end()) {
        book.last_rotation = LastRotation{*e.version, start->second, e.ts, e.actor};
      }
    }
  }

  JournalEntry entry;
  entry.action = JournalAction::drill;
  entry.secret = full_name;
  entry.env = env;
  std::size_t readers = 0;
  for (const auto& version : book.versions) {
    readers += version.could_read.size();
  }
  entry.detail = Json{{"scenario", "compromise"},
                      {"versions", book.versions.size()},
                      {"access_windows", readers},
                      {"connectors", secret.connectors},
                      {"notify", book.notify.size()}};
  book.entry = session.record(std::move(entry));
  book.notify_result = rotation::notify(session, Json{{"event", "drill"},
                                                      {"scenario", "compromise"},
                                                      {"secret", full_name},
                                                      {"env", env},
                                                      {"result", "ok"},
                                                      {"actor", me.name},
                                                      {"at", format_time(session.now())},
                                                      {"vault", vault.id_b64()}});
  return book;
}

} // namespace escrow::drill
