#include <escrow/history/drill.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/history/admin.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/notify_hook.hpp>
#include <escrow/history/refusal.hpp>
#include <escrow/history/secrets.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace escrow::history::drill {

namespace {

// One verified journal entry and its line.
struct Logged
{
  Entry entry;
  std::size_t line = 0;
};

// The journal as the session verified it on open (every line an entry the replay accepted).
std::vector<Logged> read_entries(VaultSession& session)
{
  const std::filesystem::path& path = session.paths().journal;
  const std::string text = read_file(path, static_cast<std::size_t>(k_max_journal_size));
  std::vector<Logged> out;
  std::size_t pos = 0;
  std::size_t line = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) {
      break; // a torn final fragment is no entry
    }
    ++line;
    try {
      out.push_back(Logged{parse_entry(std::string_view(text).substr(pos, end - pos), path.string()), line});
    } catch (const Error&) {
      // A line the replay rejected or skipped (it reported it on open): not history.
    }
    pos = end + 1;
  }
  return out;
}

template <typename T>
const T* args_of(const Entry& entry)
{
  if (!entry.op || entry.result != Result::ok) {
    return nullptr;
  }
  return std::get_if<T>(&entry.op->args);
}

std::optional<std::string> detail_string(const Entry& entry, const char* key)
{
  if (entry.detail && entry.detail->is_object()) {
    const auto it = entry.detail->find(key);
    if (it != entry.detail->end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> detail_integer(const Entry& entry, const char* key)
{
  if (entry.detail && entry.detail->is_object()) {
    const auto it = entry.detail->find(key);
    if (it != entry.detail->end() && it->is_number_integer()) {
      return it->get<std::int64_t>();
    }
  }
  return std::nullopt;
}


// When the k-th counted approval of `request` for `vid` arrived; nullopt below the threshold.
std::optional<Timestamp> granted_at(const State& state, const Secret& secret, const RequestOf& request,
                                    const std::string& vid, const Version& version)
{
  if (request.denial || version.threshold < 1) {
    return std::nullopt;
  }
  std::vector<Timestamp> times;
  for (const std::string& approver : counted(state, secret, request, vid)) {
    times.push_back(request.approvals.at(approver).at);
  }
  if (static_cast<std::int64_t>(times.size()) < version.threshold) {
    return std::nullopt;
  }
  std::sort(times.begin(), times.end());
  return times[static_cast<std::size_t>(version.threshold - 1)];
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
      reads.push_back(
        Json{{"member", read.member}, {"action", read.action}, {"at", format_time(read.at)}, {"line", read.line}});
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
    connector_list.push_back(
      Json{{"order", c.order}, {"name", c.name}, {"kind", c.kind}, {"step", c.step}, {"also_serves", c.also_serves}});
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

Playbook compromise(VaultSession& session, const std::string& name)
{
  const State& state0 = session.state();
  const Secret& named = find_secret(state0, name, "drill");
  const std::string full_name = named.name;
  const std::string env = named.env;
  const std::string me = session.me().name;
  journaling_refusal(session, EventKind::drill, Json{{"secret", full_name}, {"scenario", "compromise"}}, [&] {
    if (!reaches(session.state(), me, env)) {
      fail(ErrorKind::access, "drill: {} does not reach environment {}", me, env);
    }
  });
  // Copies: recording the drill below replaces nothing, but keep the state the playbook describes.
  const State state = session.state();
  const Secret& secret = *state.secret(full_name);
  const std::vector<Logged> journal = read_entries(session);

  Playbook book;
  book.secret = full_name;
  book.env = env;
  book.owner = secret.owner;
  book.purpose = secret.purpose;
  book.at = session.now();

  // Shares and unshares of this secret, from the journal.
  std::map<std::string, Timestamp> shared_at;                     // the latest share
  std::map<std::string, std::pair<Timestamp, Timestamp>> ended;   // member → (shared from, unshared at)
  for (const auto& logged : journal) {
    const Entry& e = logged.entry;
    if (const auto* share = args_of<ShareArgs>(e)) {
      for (const ShareItem& item : share->items) {
        if (item.secret == full_name) {
          shared_at[share->member] = e.ts;
        }
      }
    } else if (const auto* unshare = args_of<UnshareArgs>(e); unshare != nullptr && unshare->secret == full_name) {
      const auto it = shared_at.find(unshare->member);
      ended[unshare->member] = {it != shared_at.end() ? it->second : secret.created_at, e.ts};
      if (it != shared_at.end()) {
        shared_at.erase(it);
      }
    }
  }
  const auto via_of = [&](const std::string& member) -> std::string {
    if (member == secret.owner) {
      return "owner";
    }
    if (secret.shared_with.count(member) > 0) {
      return "shared";
    }
    if (has_role(state, member, Role::rotator)) {
      return "rotator";
    }
    return "standing";
  };
  const auto removal_note = [&](const std::string& member) -> std::string {
    const Member* record = state.member(member);
    if (record != nullptr && !record->active()) {
      return fmt::format("removed {}; the sealed key stays in git history", format_time(*record->removed_at));
    }
    return {};
  };

  std::vector<std::pair<std::string, const Version*>> versions;
  for (const auto& [vid, version] : secret.versions) {
    versions.emplace_back(vid, &version);
  }
  std::sort(versions.begin(), versions.end(), [](const auto& a, const auto& b) { return a.second->v < b.second->v; });
  for (const auto& [vid, version_ptr] : versions) {
    const Version& version = *version_ptr;
    VersionExposure exposure;
    exposure.v = version.v;
    exposure.state = std::string(version_state_name(version.state));
    exposure.created_at = version.created_at;
    exposure.created_by = version.created_by;
    exposure.threshold = version.threshold;
    const Generation* gen = secret.generation_of(version);
    static const std::map<std::string, Hash> none;
    const std::map<std::string, Hash>& holders = gen != nullptr ? gen->holders : none;
    exposure.keys_present = !holders.empty() || !version.shares.empty() || !version.grants.empty();
    for (const auto& [member, key] : holders) {
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
      if (holders.count(member) > 0 || version.created_at >= window.second) {
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
    for (const auto& [member, grant] : version.grants) {
      Access access;
      access.member = member;
      access.via = "grant";
      access.request = grant.request;
      access.until = grant.until;
      access.from = version.created_at;
      if (const auto request = secret.requests.find(grant.request); request != secret.requests.end()) {
        // Carried from an earlier version: the grant began when its request was approved.
        for (const auto& [other_vid, other] : versions) {
          if (const auto at = granted_at(state, secret, request->second, other_vid, *other)) {
            access.from = std::max(*at, version.created_at);
            break;
          }
        }
      }
      granted.insert(member + "/" + grant.request);
      exposure.could_read.push_back(std::move(access));
    }
    for (const auto& [id, request] : secret.requests) {
      if (request.denial || granted.count(request.by + "/" + id) > 0) {
        continue;
      }
      if (const auto at = granted_at(state, secret, request, vid, version)) {
        Access access;
        access.member = request.by;
        access.via = "approvals";
        access.request = id;
        access.from = *at;
        access.until = request.until;
        access.note = fmt::format("{} approvals of request {}", version.threshold, id);
        exposure.could_read.push_back(std::move(access));
      }
    }
    for (const auto& [member, share] : version.shares) {
      (void)share;
      Access access;
      access.member = member;
      access.via = "custodian";
      access.from = version.created_at;
      access.note = fmt::format("any {} of the {} custodians together", version.threshold, version.shares.size());
      if (const std::string removed = removal_note(member); !removed.empty()) {
        access.note += "; " + removed;
      }
      exposure.could_read.push_back(std::move(access));
    }
    for (const auto& logged : journal) {
      const Entry& e = logged.entry;
      const EventKind* event = std::get_if<EventKind>(&e.action);
      if (event == nullptr || (*event != EventKind::reveal && *event != EventKind::exec) || e.result != Result::ok) {
        continue;
      }
      if (detail_string(e, "secret") == full_name && detail_integer(e, "version") == version.v) {
        exposure.reads.push_back(Read{e.actor, std::string(event_kind_name(*event)), e.ts, logged.line});
      }
    }
    book.versions.push_back(std::move(exposure));
  }

  // Connectors, in the order the rotation runs them.
  std::size_t order = 0;
  for (const auto& connector_name : secret.connectors) {
    const Connector* found = state.connector(connector_name);
    ConnectorStep step;
    step.order = ++order;
    step.name = connector_name;
    const bool pasted = found != nullptr && !connector::driver_for(connector_record(*found)).pushes();
    step.kind = found != nullptr ? std::string(connector_kind_name(found->kind)) : "missing";
    step.step = found == nullptr ? "missing from the vault: fix before rotating"
                : pasted         ? "a person pastes the new value, then confirms"
                                 : "update, then verify (automatic)";
    step.pasted = pasted;
    for (const auto& [other_name, other] : state.secrets) {
      if (other_name != full_name && other->state == SecretState::active
          && std::find(other->connectors.begin(), other->connectors.end(), connector_name) != other->connectors.end()) {
        step.also_serves.push_back(other_name);
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
    contact.removed = !active(state, member);
  };
  tell(secret.owner, "owner");
  for (const auto& version : book.versions) {
    for (const auto& access : version.could_read) {
      tell(access.member, access.via == "custodian" ? "custodian" : "could read v" + std::to_string(version.v));
    }
  }
  for (const auto& [member_name, member] : state.members) {
    if (!member->active() || !reaches(state, member_name, env)) {
      continue;
    }
    if (member->has_role(Role::admin)) {
      tell(member_name, "admin");
    }
    if (member->has_role(Role::rotator)) {
      tell(member_name, "rotator of " + env);
    }
  }
  for (auto& [member_name, contact] : contacts) {
    (void)member_name;
    book.notify.push_back(std::move(contact));
  }

  // Who can rotate it (the rule of rotate-start: the owner or a rotator who reaches the
  // environment), and the commands of the real response.
  for (const auto& [member_name, member] : state.members) {
    if (member->active() && reaches(state, member_name, env)
        && (member_name == secret.owner || member->has_role(Role::rotator))) {
      book.can_rotate.push_back(member_name);
    }
  }
  book.commands.push_back(fmt::format("escrow compromise {} --why \"WHAT HAPPENED\"", full_name));
  book.commands.push_back(fmt::format("escrow rotate {}   # if compromise did not rotate it at once", full_name));
  for (const auto& step : book.connectors) {
    if (step.pasted) {
      book.commands.push_back(
        fmt::format("escrow rotate --confirm {} {}   # after pasting the new value", full_name, step.name));
    }
  }
  book.commands.push_back(fmt::format("escrow audit log --secret {}", full_name));
  book.commands.push_back("escrow verify");
  book.commands.push_back(
    fmt::format("escrow drill compromise {}   # again: no reader of the new version should be a suspect", full_name));

  // The last real rotation: its rotate-start and its rotate-finish in the journal.
  std::map<std::string, std::pair<std::int64_t, Timestamp>> starts; // vid → (v, ts)
  for (const auto& logged : journal) {
    const Entry& e = logged.entry;
    if (const auto* start = args_of<RotateStartArgs>(e)) {
      for (const RotateItem& item : start->items) {
        if (item.secret == full_name && item.kind == RotationKind::rotate) {
          starts[item.vid] = {item.v, e.ts};
        }
      }
    } else if (const auto* finish = args_of<RotateFinishArgs>(e)) {
      for (const FinishItem& item : finish->items) {
        const auto it = starts.find(item.vid);
        if (item.secret == full_name && it != starts.end()) {
          book.last_rotation = LastRotation{it->second.first, it->second.second, e.ts, e.actor};
        }
      }
    }
  }

  std::size_t readers = 0;
  for (const auto& version : book.versions) {
    readers += version.could_read.size();
  }
  const Entry recorded = session.record(EventKind::drill, Result::ok,
                                        Json{{"scenario", "compromise"},
                                             {"secret", full_name},
                                             {"versions", static_cast<std::int64_t>(book.versions.size())},
                                             {"access_windows", static_cast<std::int64_t>(readers)},
                                             {"connectors", secret.connectors},
                                             {"notify", static_cast<std::int64_t>(book.notify.size())}});
  book.entry = canonical::b64(recorded.hash);
  book.notify_result = notify(session.state(), Json{{"event", "drill"},
                                                    {"scenario", "compromise"},
                                                    {"secret", full_name},
                                                    {"env", env},
                                                    {"result", "ok"},
                                                    {"actor", me},
                                                    {"at", format_time(session.now())},
                                                    {"vault", canonical::b64(session.vault_id())}});
  return book;
}

} // namespace escrow::history::drill
