#include <escrow/history/state.hpp>

#include <escrow/history/labels.hpp>

namespace escrow::history {

namespace {

template<std::size_t N>
std::string b64(const std::array<std::uint8_t, N>& bytes)
{
  return canonical::b64(ByteView(bytes.data(), bytes.size()));
}

Json names(const std::set<std::string>& values)
{
  Json out = Json::array();
  for (const std::string& v : values) {
    out.push_back(v);
  }
  return out;
}

Json hash_map(const std::map<std::string, Hash>& values)
{
  Json out = Json::object();
  for (const auto& [name, k] : values) {
    out[name] = b64(k);
  }
  return out;
}

} // namespace

const EnvPolicy& Policy::for_env(std::string_view env) const
{
  const auto it = envs.find(std::string(env));
  if (it != envs.end()) {
    return it->second;
  }
  const auto star = envs.find("*");
  if (star != envs.end()) {
    return star->second;
  }
  static const EnvPolicy fallback;
  return fallback;
}

const Version* Secret::find_state(VersionState wanted, std::string* vid) const
{
  for (const auto& [id, version] : versions) {
    if (version.state == wanted) {
      if (vid != nullptr) {
        *vid = id;
      }
      return &version;
    }
  }
  return nullptr;
}

const Version* Secret::find(std::string_view vid) const
{
  const auto it = versions.find(std::string(vid));
  return it == versions.end() ? nullptr : &it->second;
}

std::int64_t Secret::max_v() const
{
  std::int64_t out = 0;
  for (const auto& [id, version] : versions) {
    out = std::max(out, version.v);
  }
  return out;
}

std::int64_t Secret::max_gen() const
{
  return gens.empty() ? 0 : gens.rbegin()->first;
}

std::int64_t Secret::current_gen() const
{
  const Version* current = find_state(VersionState::current);
  return current == nullptr ? 0 : current->gen;
}

const Member* State::member(std::string_view name) const
{
  const auto it = members.find(std::string(name));
  return it == members.end() ? nullptr : it->second.get();
}

const Connector* State::connector(std::string_view name) const
{
  const auto it = connectors.find(std::string(name));
  return it == connectors.end() ? nullptr : it->second.get();
}

const Secret* State::secret(std::string_view name) const
{
  const auto it = secrets.find(std::string(name));
  return it == secrets.end() ? nullptr : it->second.get();
}

Json to_json(const Member& m)
{
  Json roles = Json::array();
  for (const Role role : m.roles) {
    roles.push_back(std::string(role_name(role)));
  }
  Json out{{"added_at", format_time(m.added_at)},
           {"added_by", m.added_by},
           {"box_pk", b64(m.box_pk)},
           {"envs", names(m.envs)},
           {"name", m.name},
           {"roles", roles},
           {"sign_pk", b64(m.sign_pk)}};
  if (m.removed_at) {
    out["removed_at"] = format_time(*m.removed_at);
  }
  if (m.removed_by) {
    out["removed_by"] = *m.removed_by;
  }
  return out;
}

Json to_json(const Policy& p)
{
  Json envs = Json::object();
  for (const auto& [env, e] : p.envs) {
    envs[env] = Json{{"every", e.every},
                     {"keep", e.keep},
                     {"max_ttl", e.max_ttl},
                     {"min_threshold", e.min_threshold},
                     {"require_why", e.require_why}};
  }
  return Json{{"envs", envs}, {"notify", p.notify}};
}

Json to_json(const Connector& c)
{
  return Json{{"created_at", format_time(c.created_at)},
              {"created_by", c.created_by},
              {"env", c.env},
              {"instructions", c.instructions},
              {"kind", std::string(connector_kind_name(c.kind))},
              {"timeout", c.timeout},
              {"update", c.update},
              {"verify", c.verify}};
}

Json to_json(const Secret& s)
{
  Json connectors = Json::array();
  for (const std::string& c : s.connectors) {
    connectors.push_back(c);
  }
  Json due = Json::object();
  for (const auto& [reason, since] : s.due) {
    due[reason] = format_time(since);
  }
  Json gens = Json::object();
  for (const auto& [g, gen] : s.gens) {
    gens[std::to_string(g)] =
      Json{{"ever", names(gen.ever)}, {"holders", hash_map(gen.holders)}, {"rk_commit", b64(gen.rk_commit)}};
  }
  Json requests = Json::object();
  for (const auto& [id, r] : s.requests) {
    Json approvals = Json::object();
    for (const auto& [by, a] : r.approvals) {
      approvals[by] = Json{{"at", format_time(a.at)},
                           {"dk_commit", b64(a.dk_commit)},
                           {"share", b64(a.share)},
                           {"v", a.v},
                           {"vid", a.vid}};
    }
    Json out{{"approvals", approvals},
             {"by", r.by},
             {"created_at", format_time(r.created_at)},
             {"ttl", r.ttl},
             {"until", format_time(r.until)},
             {"why", r.why}};
    if (r.denial) {
      out["denial"] = Json{{"at", format_time(r.denial->at)}, {"by", r.denial->by}, {"why", r.denial->why}};
    }
    if (r.used_at) {
      out["used_at"] = format_time(*r.used_at);
    }
    if (r.voided) {
      out["void"] = true;
    }
    requests[id] = std::move(out);
  }
  Json versions = Json::object();
  for (const auto& [vid, v] : s.versions) {
    Json grants = Json::object();
    for (const auto& [member, g] : v.grants) {
      grants[member] = Json{{"key", b64(g.key)}, {"request", g.request}, {"until", format_time(g.until)}};
    }
    versions[vid] = Json{{"created_at", format_time(v.created_at)},
                         {"created_by", v.created_by},
                         {"custodians", names(v.custodians)},
                         {"dk_commit", b64(v.dk_commit)},
                         {"gen", v.gen},
                         {"grants", grants},
                         {"material", b64(v.material)},
                         {"shares", hash_map(v.shares)},
                         {"state", std::string(version_state_name(v.state))},
                         {"threshold", v.threshold},
                         {"v", v.v},
                         {"why", v.why}};
  }
  Json out{{"after_access", s.after_access},
           {"connectors", connectors},
           {"created_at", format_time(s.created_at)},
           {"created_by", s.created_by},
           {"custodians", names(s.custodians)},
           {"due", due},
           {"every", s.every},
           {"generator", s.generator},
           {"gens", gens},
           {"owner", s.owner},
           {"purpose", s.purpose},
           {"requests", requests},
           {"shared_with", names(s.shared_with)},
           {"state", std::string(secret_state_name(s.state))},
           {"threshold", s.threshold},
           {"tier", s.tier},
           {"versions", versions}};
  if (s.rotation) {
    out["rotation"] = Json{{"confirmed", names(s.rotation->confirmed)},
                           {"kind", std::string(rotation_kind_name(s.rotation->kind))},
                           {"rolling_back", s.rotation->rolling_back},
                           {"since", format_time(s.rotation->since)},
                           {"started_by", s.rotation->started_by},
                           {"vid", s.rotation->vid}};
  }
  return out;
}

Hash record_hash(std::string_view path, const Json& record)
{
  std::string message(path);
  message.push_back('\0');
  message += canonical::dump(record);
  return crypto::hash(labels::k_record, as_bytes(message));
}

std::optional<Json> State::record(std::string_view path) const
{
  const std::optional<ParsedPath> parsed = parse_path(path);
  if (!parsed) {
    return std::nullopt;
  }
  switch (parsed->kind) {
  case PathKind::member:
    if (const Member* m = member(parsed->name)) {
      return to_json(*m);
    }
    return std::nullopt;
  case PathKind::policy:
    if (policy) {
      return to_json(*policy);
    }
    return std::nullopt;
  case PathKind::connector:
    if (const Connector* c = connector(parsed->name)) {
      return to_json(*c);
    }
    return std::nullopt;
  case PathKind::secret:
    if (const Secret* s = secret(parsed->name)) {
      return to_json(*s);
    }
    return std::nullopt;
  case PathKind::key: return std::nullopt;
  }
  return std::nullopt;
}

std::optional<Hash> State::record_hash(std::string_view path) const
{
  const std::optional<Json> json = record(path);
  if (!json) {
    return std::nullopt;
  }
  return history::record_hash(path, *json);
}

std::vector<std::string> State::paths() const
{
  std::vector<std::string> out;
  for (const auto& [name, m] : members) {
    out.push_back(member_record_path(name));
  }
  if (policy) {
    out.emplace_back(k_policy_path);
  }
  for (const auto& [name, c] : connectors) {
    out.push_back(connector_record_path(name));
  }
  for (const auto& [name, s] : secrets) {
    out.push_back(secret_record_path(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Hash State::digest() const
{
  crypto::Hasher hasher;
  hasher.update(as_bytes(labels::k_state));
  const std::uint8_t zero = 0;
  hasher.update(ByteView(&zero, 1));
  for (const std::string& path : paths()) {
    const std::optional<Hash> h = record_hash(path);
    hasher.update(as_bytes(path));
    hasher.update(ByteView(&zero, 1));
    hasher.update(ByteView(h->data(), h->size()));
  }
  return hasher.finish();
}

} // namespace escrow::history
