#include <escrow/atomic_file.hpp>
#include <escrow/audit/entries.hpp>
#include <escrow/error.hpp>
#include <escrow/history/store.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <type_traits>

namespace escrow::audit {

namespace {

using canonical::Json;
using namespace escrow::history;

void add_secret(AuditEntry& out, const std::string& secret)
{
  if (secret.empty() || std::find(out.secrets.begin(), out.secrets.end(), secret) != out.secrets.end()) {
    return;
  }
  out.secrets.push_back(secret);
  out.envs.insert(std::string(env_of(secret)));
}

void add_connector(AuditEntry& out, const std::string& connector)
{
  if (!connector.empty() && std::find(out.connectors.begin(), out.connectors.end(), connector) == out.connectors.end()) {
    out.connectors.push_back(connector);
  }
}

// The facts of an operation, from its typed arguments.
struct OpFacts
{
  AuditEntry& out;

  template <typename A>
  void operator()(const A& a) const
  {
    if constexpr (requires { a.secret; }) {
      add_secret(out, a.secret);
    }
    if constexpr (requires { a.items; }) {
      for (const auto& item : a.items) {
        if constexpr (requires { item.secret; }) {
          add_secret(out, item.secret);
        }
      }
      if (a.items.size() == 1) {
        if constexpr (requires { a.items.front().vid; }) {
          out.vid = a.items.front().vid;
        }
      }
      if constexpr (std::is_same_v<A, RotateStartArgs>) {
        if (a.items.size() == 1 && a.items.front().kind == RotationKind::rotate) {
          out.version = a.items.front().v;
        }
      }
    }
    if constexpr (requires { a.vid; }) {
      out.vid = a.vid;
    }
    if constexpr (requires { a.v; }) {
      out.version = a.v;
    }
    if constexpr (requires { a.request; }) {
      out.request = a.request;
    }
    if constexpr (std::is_same_v<A, RequestArgs>) {
      out.request = a.id;
    }
    if constexpr (std::is_same_v<A, MemberAddArgs> || std::is_same_v<A, MemberSetArgs>
                  || std::is_same_v<A, MemberRemoveArgs>) {
      out.member = a.name;
    }
    if constexpr (std::is_same_v<A, InitArgs>) {
      out.member = a.member.name;
    }
    if constexpr (std::is_same_v<A, ShareArgs> || std::is_same_v<A, UnshareArgs>) {
      out.member = a.member;
    }
    if constexpr (std::is_same_v<A, ConnectorAddArgs>) {
      add_connector(out, a.name);
      out.envs.insert(a.env);
    }
    if constexpr (std::is_same_v<A, ConnectorRemoveArgs>) {
      add_connector(out, a.name);
    }
    if constexpr (std::is_same_v<A, ConfirmArgs>) {
      add_connector(out, a.connector);
    }
    if constexpr (std::is_same_v<A, PolicySetArgs>) {
      if (a.env != "*") {
        out.envs.insert(a.env);
      }
    }
    if constexpr (std::is_same_v<A, SecretAddArgs>) {
      for (const std::string& c : a.connectors) {
        add_connector(out, c);
      }
    }
    if constexpr (std::is_same_v<A, SecretSetArgs>) {
      if (a.connectors) {
        for (const std::string& c : *a.connectors) {
          add_connector(out, c);
        }
      }
    }
  }
};

std::string string_at(const Json& detail, std::string_view key)
{
  if (!detail.is_object()) {
    return {};
  }
  const auto it = detail.find(std::string(key));
  return it != detail.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The facts of an event or a refusal, from its value-free detail.
void detail_facts(AuditEntry& out, const Json& detail)
{
  if (!detail.is_object()) {
    return;
  }
  add_secret(out, string_at(detail, "secret"));
  if (const auto it = detail.find("secrets"); it != detail.end() && it->is_array()) {
    for (const Json& s : *it) {
      if (s.is_string()) {
        add_secret(out, s.get<std::string>());
      }
    }
  }
  if (const auto it = detail.find("version"); it != detail.end() && it->is_number_integer()) {
    out.version = it->get<std::int64_t>();
  }
  if (out.vid.empty()) {
    out.vid = string_at(detail, "vid");
  }
  if (out.request.empty()) {
    out.request = string_at(detail, "request");
  }
  if (out.member.empty()) {
    out.member = string_at(detail, "member");
  }
  add_connector(out, string_at(detail, "connector"));
  for (const char* key : {"connectors", "confirmed"}) {
    if (const auto it = detail.find(key); it != detail.end() && it->is_array()) {
      for (const Json& c : *it) {
        if (c.is_string()) {
          add_connector(out, c.get<std::string>());
        }
      }
    }
  }
  const std::string env = string_at(detail, "env");
  if (!env.empty()) {
    out.envs.insert(env);
  }
}

bool glob(const std::string& pattern, const std::string& value)
{
  if (!pattern.empty() && pattern.back() == '*') {
    return value.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  }
  return pattern == value;
}

} // namespace

const std::string& AuditEntry::why() const
{
  static const std::string k_none;
  return entry.why ? *entry.why : k_none;
}

std::string AuditEntry::detail_string(std::string_view key) const
{
  return entry.detail ? string_at(*entry.detail, key) : std::string();
}

std::vector<AuditEntry> read_journal(std::string_view journal, const State* state, std::string_view what)
{
  std::vector<AuditEntry> out;
  std::size_t start = 0;
  std::size_t line = 0;
  while (start < journal.size()) {
    const std::size_t end = journal.find('\n', start);
    if (end == std::string_view::npos) {
      break; // a torn write's fragment: not an entry (the next append removes it)
    }
    ++line;
    const std::string_view bytes = journal.substr(start, end - start);
    start = end + 1;
    AuditEntry logged;
    logged.line = line;
    try {
      logged.entry = parse_entry(bytes, fmt::format("{}: line {}", what, line));
    } catch (Error& error) {
      throw error.hint("run 'escrow audit verify' to check the whole journal");
    }
    const Entry& e = logged.entry;
    logged.hash = canonical::b64(e.hash);
    logged.action = action_name(e.action);
    logged.result = std::string(result_name(e.result));
    if (e.op) {
      std::visit(OpFacts{logged}, e.op->args);
    }
    if (e.detail) {
      detail_facts(logged, *e.detail);
    }
    if (!logged.secrets.empty()) {
      logged.secret = logged.secrets.front();
    }
    if (!logged.version && !logged.vid.empty() && !logged.secret.empty() && state != nullptr) {
      if (const Secret* secret = state->secret(logged.secret)) {
        if (const Version* version = secret->find(logged.vid)) {
          logged.version = version->v;
        }
      }
    }
    out.push_back(std::move(logged));
  }
  return out;
}

std::vector<AuditEntry> read_entries(VaultSession& session)
{
  const std::string text = read_file(session.paths().journal, static_cast<std::size_t>(k_max_journal_size));
  return read_journal(text, &session.state(), session.paths().journal.string());
}

bool is_access(const AuditEntry& entry)
{
  const auto* event = std::get_if<EventKind>(&entry.entry.action);
  return event != nullptr && (*event == EventKind::reveal || *event == EventKind::exec);
}

bool is_rotation(const AuditEntry& entry)
{
  const auto* kind = std::get_if<OpKind>(&entry.entry.action);
  if (kind == nullptr) {
    return false;
  }
  if (entry.entry.result == Result::failed) {
    return *kind == OpKind::rotate_start || *kind == OpKind::rotate_finish || *kind == OpKind::confirm;
  }
  if (entry.entry.result != Result::ok || !entry.entry.op) {
    return false;
  }
  if (*kind == OpKind::rotate_finish) {
    return true;
  }
  if (const auto* fail = std::get_if<RotateFailArgs>(&entry.entry.op->args)) {
    // A failed rotation records its decision to roll back ("rolling-back") and then its outcome:
    // the outcome is the rotation's one mark.
    return std::any_of(fail->items.begin(), fail->items.end(),
                       [](const FailItem& item) { return item.result != FailResult::rolling_back; });
  }
  return false;
}

bool matches(const AuditEntry& entry, const LogFilter& filter)
{
  if (!filter.secret.empty()
      && std::none_of(entry.secrets.begin(), entry.secrets.end(),
                      [&](const std::string& s) { return glob(filter.secret, s); })) {
    return false;
  }
  if (!filter.actor.empty() && entry.entry.actor != filter.actor) {
    return false;
  }
  if (!filter.env.empty() && entry.envs.count(filter.env) == 0) {
    return false;
  }
  if (!filter.action.empty() && !glob(filter.action, entry.action)) {
    return false;
  }
  if (filter.since && entry.entry.ts < *filter.since) {
    return false;
  }
  if (filter.until && entry.entry.ts >= *filter.until) {
    return false;
  }
  return true;
}

std::vector<const AuditEntry*> filter_entries(const std::vector<AuditEntry>& entries, const LogFilter& filter)
{
  std::vector<const AuditEntry*> out;
  for (const auto& logged : entries) {
    if (matches(logged, filter)) {
      out.push_back(&logged);
    }
  }
  return out;
}

Timestamp time_arg(std::string_view text, Timestamp now, std::string_view option)
{
  if (!text.empty() && (text.back() == 's' || text.back() == 'm' || text.back() == 'h' || text.back() == 'd'
                        || text.back() == 'w')) {
    if (const auto duration = parse_duration(text)) {
      return now - *duration;
    }
  }
  if (const auto at = parse_time(text)) {
    return *at;
  }
  fail(ErrorKind::usage, "{}: expected a time (2026-11-01, 2026-11-01T09:00:00Z, Unix seconds) or a duration before now "
                         "(30d, 12h)",
       option);
}

RequestWhys request_whys(const std::vector<AuditEntry>& entries, const State* state)
{
  RequestWhys whys;
  if (state != nullptr) {
    for (const auto& [name, secret] : state->secrets) {
      for (const auto& [id, request] : secret->requests) {
        whys.emplace(std::make_pair(name, id), request.why);
      }
    }
  }
  for (const auto& logged : entries) {
    if (logged.entry.is_operation() && std::get<OpKind>(logged.entry.action) == OpKind::request
        && !logged.request.empty()) {
      whys.emplace(std::make_pair(logged.secret, logged.request), logged.why());
    }
  }
  return whys;
}

std::string justification(const AuditEntry& entry, const RequestWhys& whys)
{
  if (!entry.why().empty() || entry.request.empty()) {
    return entry.why();
  }
  const auto it = whys.find(std::make_pair(entry.secret, entry.request));
  return it == whys.end() ? std::string() : it->second;
}

canonical::Json to_json(const AuditEntry& logged, const RequestWhys& whys)
{
  const Entry& e = logged.entry;
  Json parents = Json::array();
  for (const Hash& p : e.parents) {
    parents.push_back(canonical::b64(p));
  }
  Json json{{"line", logged.line},
            {"hash", logged.hash},
            {"ts", format_time(e.ts)},
            {"actor", e.actor},
            {"host", e.host},
            {"action", logged.action},
            {"result", logged.result},
            {"parents", parents},
            {"secret", logged.secret.empty() ? Json(nullptr) : Json(logged.secret)},
            {"secrets", logged.secrets},
            {"env", logged.envs.size() == 1 ? Json(*logged.envs.begin()) : Json(nullptr)},
            {"version", logged.version ? Json(*logged.version) : Json(nullptr)},
            {"vid", logged.vid.empty() ? Json(nullptr) : Json(logged.vid)},
            {"request", logged.request.empty() ? Json(nullptr) : Json(logged.request)},
            {"member", logged.member.empty() ? Json(nullptr) : Json(logged.member)},
            {"connectors", logged.connectors},
            {"why", e.why ? Json(*e.why) : Json(nullptr)}};
  if (e.detail) {
    json["detail"] = *e.detail;
  }
  if (e.op) {
    json["args"] = args_to_json(e.op->args);
  }
  if (logged.why().empty() && !logged.request.empty()) {
    json["request_why"] = justification(logged, whys);
  }
  return json;
}

canonical::Json entry_ref(const AuditEntry& logged)
{
  return canonical::Json{{"line", logged.line}, {"hash", logged.hash}};
}

} // namespace escrow::audit
