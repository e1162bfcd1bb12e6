#include <escrow/history/state.hpp>
#include <escrow/history/record_text.hpp>

#include <escrow/records.hpp>
#include <escrow/history/batches.hpp>
#include <escrow/history/json_read.hpp>
#include <escrow/history/labels.hpp>
#include <escrow/identity.hpp>

#include <array>
#include <charconv>

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

const Generation* Secret::generation_of(const Version& version) const
{
  if (version.race_gen) {
    return &*version.race_gen;
  }
  const auto it = gens.find(version.gen);
  return it == gens.end() ? nullptr : &it->second;
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
  Json out{{"created_at", format_time(c.created_at)},
           {"created_by", c.created_by},
           {"env", c.env},
           {"instructions", c.instructions},
           {"kind", std::string(connector_kind_name(c.kind))},
           {"timeout", c.timeout},
           {"update", c.update},
           {"verify", c.verify}};
  if (!c.rehearse_with.empty()) {
    out["rehearse_with"] = c.rehearse_with;
  }
  put_native_settings(out, c.kind, c.settings);
  return out;
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
  const auto generation_json = [](const Generation& gen) {
    return Json{{"ever", names(gen.ever)}, {"holders", hash_map(gen.holders)}, {"rk_commit", b64(gen.rk_commit)}};
  };
  Json gens = Json::object();
  for (const auto& [g, gen] : s.gens) {
    gens[std::to_string(g)] = generation_json(gen);
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
    if (v.race_gen) {
      versions[vid]["race_gen"] = generation_json(*v.race_gen); // only when set: one spelling
    }
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
  if (s.escrow_only) {
    out["escrow_only"] = true; // only when set: one spelling
  }
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

namespace {

// ---- the canonical text of a secret's record without a JSON DOM (issue 12 target 5) ----
// The same bytes as canonical::dump(to_json(secret)) (tested: history_state_test), which the
// writes check of a bulk operation computed for every secret it touches. Members are collected
// and sorted by key, as nlohmann's std::map orders them; strings are escaped as its dump escapes
// them (ensure_ascii off). A string that is not valid UTF-8 (never in a verified state) makes the
// caller fall back to the DOM, which refuses it as before.
struct NotUtf8
{
};

void append_string(std::string& out, std::string_view text)
{
  if (!canonical::valid_utf8(text)) {
    throw NotUtf8{};
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (u < 0x20) {
        out += "\\u00";
        out += k_hex[u >> 4];
        out += k_hex[u & 0xf];
      } else {
        out += c;
      }
    }
  }
  out += '"';
}

// One JSON object written straight into `out`: members must come in strictly increasing key
// order (canonical: nlohmann's std::map order), else an internal error, never another text. Keys
// are kept by view: each must outlive the writer (a literal, a record's map key). No member is
// built as a string of its own (issue 12 target 1: a bulk share hashes 1,000 records).
class ObjectWriter
{
public:
  explicit ObjectWriter(std::string& out) : m_out(out) { m_out += '{'; }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  // Starts member `key`; the caller appends its value to the string returned.
  std::string& key(std::string_view key)
  {
    if (m_any) {
      if (!(m_last < key)) {
        fail(ErrorKind::failed, "internal error: a record's keys written out of order");
      }
      m_out += ',';
    }
    m_any = true;
    m_last = key;
    append_string(m_out, key);
    m_out += ':';
    return m_out;
  }
  ObjectWriter& str(std::string_view k, std::string_view value)
  {
    append_string(key(k), value);
    return *this;
  }
  ObjectWriter& num(std::string_view k, std::int64_t value)
  {
    std::array<char, 24> digits{};
    const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), value);
    (void)ec; // 24 characters hold any int64
    key(k).append(digits.data(), end);
    return *this;
  }
  ObjectWriter& boolean(std::string_view k, bool value)
  {
    key(k) += value ? "true" : "false";
    return *this;
  }
  template <std::size_t N>
  ObjectWriter& bytes(std::string_view k, const std::array<std::uint8_t, N>& value)
  {
    std::string& out = key(k); // base64 needs no escape
    out += '"';
    out += b64(value);
    out += '"';
    return *this;
  }
  ObjectWriter& time(std::string_view k, Timestamp value)
  {
    std::string& out = key(k); // an RFC 3339 time needs no escape
    out += '"';
    out += format_time(value);
    out += '"';
    return *this;
  }
  void close() { m_out += '}'; }

private:
  std::string& m_out;
  std::string_view m_last;
  bool m_any = false;
};

// An array of strings, in the container's order (a set's, or the connectors' own).
template <class Strings>
void append_names(std::string& out, const Strings& values)
{
  out += '[';
  bool first = true;
  for (const std::string& v : values) {
    if (!first) {
      out += ',';
    }
    first = false;
    append_string(out, v);
  }
  out += ']';
}

void append_hash_map(std::string& out, const std::map<std::string, Hash>& values)
{
  ObjectWriter o(out);
  for (const auto& [name, k] : values) {
    o.bytes(name, k);
  }
  o.close();
}

void append_generation(std::string& out, const Generation& gen)
{
  ObjectWriter o(out);
  append_names(o.key("ever"), gen.ever);
  append_hash_map(o.key("holders"), gen.holders);
  o.bytes("rk_commit", gen.rk_commit);
  o.close();
}

void append_request(std::string& out, const RequestOf& r)
{
  ObjectWriter o(out);
  {
    std::string& approvals_out = o.key("approvals");
    ObjectWriter approvals(approvals_out);
    for (const auto& [by, a] : r.approvals) {
      ObjectWriter one(approvals.key(by));
      one.time("at", a.at).bytes("dk_commit", a.dk_commit).bytes("share", a.share).num("v", a.v).str("vid", a.vid);
      one.close();
    }
    approvals.close();
  }
  o.str("by", r.by).time("created_at", r.created_at);
  if (r.denial) {
    ObjectWriter denial(o.key("denial"));
    denial.time("at", r.denial->at).str("by", r.denial->by).str("why", r.denial->why);
    denial.close();
  }
  o.num("ttl", r.ttl).time("until", r.until);
  if (r.used_at) {
    o.time("used_at", *r.used_at);
  }
  if (r.voided) {
    o.boolean("void", true);
  }
  o.str("why", r.why);
  o.close();
}

void append_version(std::string& out, const Version& v)
{
  ObjectWriter o(out);
  o.time("created_at", v.created_at).str("created_by", v.created_by);
  append_names(o.key("custodians"), v.custodians);
  o.bytes("dk_commit", v.dk_commit).num("gen", v.gen);
  {
    ObjectWriter grants(o.key("grants"));
    for (const auto& [member, g] : v.grants) {
      ObjectWriter one(grants.key(member));
      one.bytes("key", g.key).str("request", g.request).time("until", g.until);
      one.close();
    }
    grants.close();
  }
  o.bytes("material", v.material);
  if (v.race_gen) {
    append_generation(o.key("race_gen"), *v.race_gen);
  }
  append_hash_map(o.key("shares"), v.shares);
  o.str("state", version_state_name(v.state)).num("threshold", v.threshold).num("v", v.v).str("why", v.why);
  o.close();
}

std::string secret_text(const Secret& s)
{
  std::string out;
  out.reserve(4096);
  ObjectWriter o(out);
  o.boolean("after_access", s.after_access);
  append_names(o.key("connectors"), s.connectors);
  o.time("created_at", s.created_at).str("created_by", s.created_by);
  append_names(o.key("custodians"), s.custodians);
  {
    ObjectWriter due(o.key("due"));
    for (const auto& [reason, since] : s.due) {
      due.time(reason, since);
    }
    due.close();
  }
  if (s.escrow_only) {
    o.boolean("escrow_only", true);
  }
  o.num("every", s.every).str("generator", s.generator);
  {
    // Generation numbers as keys sort as text ("10" before "2").
    std::vector<std::pair<std::string, const Generation*>> gens;
    gens.reserve(s.gens.size());
    for (const auto& [g, gen] : s.gens) {
      gens.emplace_back(std::to_string(g), &gen);
    }
    std::sort(gens.begin(), gens.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    ObjectWriter w(o.key("gens"));
    for (const auto& [g, gen] : gens) {
      append_generation(w.key(g), *gen);
    }
    w.close();
  }
  o.str("owner", s.owner).str("purpose", s.purpose);
  {
    ObjectWriter requests(o.key("requests"));
    for (const auto& [id, r] : s.requests) {
      append_request(requests.key(id), r);
    }
    requests.close();
  }
  if (s.rotation) {
    ObjectWriter rotation(o.key("rotation"));
    append_names(rotation.key("confirmed"), s.rotation->confirmed);
    rotation.str("kind", rotation_kind_name(s.rotation->kind))
      .boolean("rolling_back", s.rotation->rolling_back)
      .time("since", s.rotation->since)
      .str("started_by", s.rotation->started_by)
      .str("vid", s.rotation->vid);
    rotation.close();
  }
  append_names(o.key("shared_with"), s.shared_with);
  o.str("state", secret_state_name(s.state)).num("threshold", s.threshold).str("tier", s.tier);
  {
    ObjectWriter versions(o.key("versions"));
    for (const auto& [vid, v] : s.versions) {
      append_version(versions.key(vid), v);
    }
    versions.close();
  }
  o.close();
  return out;
}

// canonical::dump(to_json(record)), for a secret without the DOM.
std::string canonical_text(const Secret& record)
{
  try {
    return secret_text(record);
  } catch (const NotUtf8&) {
    return canonical::dump(to_json(record)); // refuses it, as before
  }
}

template <class T>
std::string canonical_text(const T& record)
{
  return canonical::dump(to_json(record));
}

template <class T>
Hash hash_of_record_text(std::string_view path, const T& record)
{
  return record_hash_of_text(path, canonical_text(record));
}

template <class T>
Hash memo_record_hash(std::string_view path, const T& record)
{
  if (const std::optional<Hash> known = record.hash_memo.get(path)) {
    return *known;
  }
  const Hash h = hash_of_record_text(path, record);
  record.hash_memo.put(path, h);
  return h;
}

} // namespace

Hash record_hash(std::string_view path, const Member& m)
{
  return memo_record_hash(path, m);
}

Hash record_hash(std::string_view path, const Policy& p)
{
  return memo_record_hash(path, p);
}

Hash record_hash(std::string_view path, const Connector& c)
{
  return memo_record_hash(path, c);
}

Hash record_hash(std::string_view path, const Secret& s)
{
  return memo_record_hash(path, s);
}

std::string secret_record_text(const Secret& secret)
{
  return canonical_text(secret);
}

void memo_secret_hashes(const std::vector<const Secret*>& secrets, bool keep_text)
{
  for_each_index(secrets.size(), [&](std::size_t i) {
    const Secret& secret = *secrets[i];
    const std::string path = secret_record_path(secret.name);
    if (secret.hash_memo.get(path)) {
      return;
    }
    std::string text = secret_record_text(secret);
    const Hash h = record_hash_of_text(path, text);
    secret.hash_memo.put(path, h, keep_text ? std::move(text) : std::string());
  });
}

std::optional<std::string> record_text(const State& state, std::string_view path)
{
  const std::optional<ParsedPath> parsed = parse_path(path);
  if (parsed && parsed->kind == PathKind::secret) {
    if (const Secret* s = state.secret(parsed->name)) {
      return canonical_text(*s);
    }
    return std::nullopt;
  }
  const std::optional<Json> json = state.record(path);
  return json ? std::optional<std::string>(canonical::dump(*json)) : std::nullopt;
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
  const std::optional<ParsedPath> parsed = parse_path(path);
  if (!parsed) {
    return std::nullopt;
  }
  // A record read from this machine's cache and not replaced since has the hash it was checked
  // against (load_pending); a pending one, the hash its index names. Any other is hashed once
  // (RecordHashMemo).
  switch (parsed->kind) {
  case PathKind::member:
    if (std::optional<Hash> known = members.known_hash(parsed->name)) {
      return known;
    }
    if (const Member* m = member(parsed->name)) {
      return history::record_hash(path, *m);
    }
    return std::nullopt;
  case PathKind::policy:
    if (policy) {
      return history::record_hash(path, *policy);
    }
    return std::nullopt;
  case PathKind::connector:
    if (std::optional<Hash> known = connectors.known_hash(parsed->name)) {
      return known;
    }
    if (const Connector* c = connector(parsed->name)) {
      return history::record_hash(path, *c);
    }
    return std::nullopt;
  case PathKind::secret:
    if (std::optional<Hash> known = secrets.known_hash(parsed->name)) {
      return known;
    }
    if (const Secret* s = secret(parsed->name)) {
      return history::record_hash(path, *s);
    }
    return std::nullopt;
  case PathKind::key: return std::nullopt;
  }
  return std::nullopt;
}

std::vector<std::string> State::paths() const
{
  std::vector<std::string> out;
  for (const std::string& name : members.names()) {
    out.push_back(member_record_path(name));
  }
  if (policy) {
    out.emplace_back(k_policy_path);
  }
  for (const std::string& name : connectors.names()) {
    out.push_back(connector_record_path(name));
  }
  for (const std::string& name : secrets.names()) {
    out.push_back(secret_record_path(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void State::load_all() const
{
  (void)members.size();
  (void)connectors.size();
  (void)secrets.size();
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

// ---- strict readers ----

namespace {

namespace jr = json_read;

std::string need_name(const Json& json, const std::string& where)
{
  const std::string& name = jr::string(json, where);
  if (!valid_member_name(name)) {
    fail(ErrorKind::integrity, "{}: not a member name", where);
  }
  return name;
}

std::set<std::string> name_set(const Json& json, const std::string& where)
{
  std::set<std::string> out = jr::string_set(json, where, 100000);
  for (const std::string& name : out) {
    if (!valid_member_name(name)) {
      fail(ErrorKind::integrity, "{}: not a member name", where);
    }
  }
  return out;
}

std::map<std::string, Hash> hash_map_from(const Json& json, const std::string& where)
{
  std::map<std::string, Hash> out;
  for (const auto& item : jr::object(json, where).items()) {
    if (!valid_member_name(item.key())) {
      fail(ErrorKind::integrity, "{}: not a member name", where);
    }
    out[item.key()] = jr::fixed_b64<32>(item.value(), where);
  }
  return out;
}

Generation generation_from(const Json& json, const std::string& where)
{
  jr::Fields gf(json, where);
  Generation gen;
  gen.ever = name_set(gf.need("ever"), gf.at("ever"));
  gen.holders = hash_map_from(gf.need("holders"), gf.at("holders"));
  gen.rk_commit = jr::fixed_b64<32>(gf.need("rk_commit"), gf.at("rk_commit"));
  gf.finish();
  return gen;
}

std::string need_vid(const Json& json, const std::string& where)
{
  const std::string& vid = jr::string(json, where);
  if (!valid_vid(vid)) {
    fail(ErrorKind::integrity, "{}: not a version id", where);
  }
  return vid;
}

std::string plain_text(const Json& json, const std::string& where, std::size_t max)
{
  const std::string& text = jr::string(json, where);
  if (text.size() > max) {
    fail(ErrorKind::integrity, "{}: longer than {} bytes", where, max);
  }
  return text;
}

} // namespace

Member member_from_json(const Json& json, std::string_view name, std::string_view what)
{
  jr::Fields f(json, std::string(what), ": ");
  Member m;
  m.added_at = jr::time(f.need("added_at"), f.at("added_at"));
  m.added_by = need_name(f.need("added_by"), f.at("added_by"));
  m.box_pk = jr::fixed_b64<32>(f.need("box_pk"), f.at("box_pk"));
  for (const std::string& env : jr::string_set(f.need("envs"), f.at("envs"), 256)) {
    if (!valid_env_or_star(env)) {
      fail(ErrorKind::integrity, "{}: not an environment", f.at("envs"));
    }
    m.envs.insert(env);
  }
  m.name = need_name(f.need("name"), f.at("name"));
  if (m.name != name) {
    fail(ErrorKind::integrity, "{}: the record of {} names {}", what, name, m.name);
  }
  if (const Json* at = f.maybe("removed_at")) {
    m.removed_at = jr::time(*at, f.at("removed_at"));
  }
  if (const Json* by = f.maybe("removed_by")) {
    m.removed_by = need_name(*by, f.at("removed_by"));
  }
  if (m.removed_at.has_value() != m.removed_by.has_value()) {
    fail(ErrorKind::integrity, "{}: removed_at and removed_by go together", what);
  }
  for (const std::string& role : jr::string_set(f.need("roles"), f.at("roles"), 16)) {
    const std::optional<Role> r = parse_role(role);
    if (!r) {
      fail(ErrorKind::integrity, "{}: unknown role", f.at("roles"));
    }
    m.roles.insert(*r);
  }
  m.sign_pk = jr::fixed_b64<32>(f.need("sign_pk"), f.at("sign_pk"));
  f.finish();
  return m;
}

Policy policy_from_json(const Json& json, std::string_view what)
{
  jr::Fields f(json, std::string(what), ": ");
  Policy p;
  const std::string envs_at = f.at("envs");
  for (const auto& item : jr::object(f.need("envs"), envs_at).items()) {
    if (!valid_env_or_star(item.key())) {
      fail(ErrorKind::integrity, "{}: not an environment", envs_at);
    }
    jr::Fields e(item.value(), envs_at);
    EnvPolicy ep;
    ep.every = jr::integer(e.need("every"), e.at("every"), 0, k_max_duration);
    ep.keep = jr::integer(e.need("keep"), e.at("keep"), 0, k_max_keep);
    ep.max_ttl = jr::integer(e.need("max_ttl"), e.at("max_ttl"), 1, k_max_duration);
    ep.min_threshold = jr::integer(e.need("min_threshold"), e.at("min_threshold"), 1,
                                   static_cast<std::int64_t>(k_max_custodians));
    ep.require_why = jr::boolean(e.need("require_why"), e.at("require_why"));
    e.finish();
    p.envs[item.key()] = ep;
  }
  if (p.envs.count("*") == 0) {
    fail(ErrorKind::integrity, "{}: the default \"*\" is missing", envs_at);
  }
  p.notify = plain_text(f.need("notify"), f.at("notify"), k_max_command);
  f.finish();
  return p;
}

Connector connector_from_json(const Json& json, std::string_view name, std::string_view what)
{
  jr::Fields f(json, std::string(what), ": ");
  Connector c;
  c.name = std::string(name);
  c.created_at = jr::time(f.need("created_at"), f.at("created_at"));
  c.created_by = need_name(f.need("created_by"), f.at("created_by"));
  c.env = jr::string(f.need("env"), f.at("env"));
  if (!valid_env_name(c.env)) {
    fail(ErrorKind::integrity, "{}: not an environment", f.at("env"));
  }
  c.instructions = plain_text(f.need("instructions"), f.at("instructions"), k_max_command);
  const std::optional<ConnectorKind> kind = parse_connector_kind(jr::string(f.need("kind"), f.at("kind")));
  if (!kind) {
    fail(ErrorKind::integrity, "{}: unknown connector kind", f.at("kind"));
  }
  c.kind = *kind;
  if (const Json* j = f.maybe("rehearse_with")) {
    c.rehearse_with = need_name(*j, f.at("rehearse_with"));
    if (c.rehearse_with == c.name) {
      fail(ErrorKind::integrity, "{}: names the connector itself", f.at("rehearse_with"));
    }
  }
  c.timeout = jr::integer(f.need("timeout"), f.at("timeout"), 1, k_max_timeout);
  c.update = plain_text(f.need("update"), f.at("update"), k_max_command);
  c.verify = plain_text(f.need("verify"), f.at("verify"), k_max_command);
  Json settings = Json::object();
  for (const auto& item : json.items()) {
    if (is_native_setting_key(item.key())) {
      settings[item.key()] = item.value();
      (void)f.maybe(item.key());
    }
  }
  c.settings = native_settings_from_json(c.kind, c.env, settings, what);
  f.finish();
  return c;
}

Secret secret_from_json(const Json& json, std::string_view secret, std::string_view what)
{
  const std::string where(what);
  jr::Fields f(json, where, ": ");
  Secret s;
  s.name = std::string(secret);
  s.env = std::string(env_of(secret));
  s.after_access = jr::boolean(f.need("after_access"), f.at("after_access"));
  const std::string connectors_at = f.at("connectors");
  std::set<std::string> seen;
  for (const Json& c : jr::array(f.need("connectors"), connectors_at, 64)) {
    const std::string name = need_name(c, connectors_at);
    if (!seen.insert(name).second) {
      fail(ErrorKind::integrity, "{}: a connector is listed twice", connectors_at);
    }
    s.connectors.push_back(name);
  }
  s.created_at = jr::time(f.need("created_at"), f.at("created_at"));
  s.created_by = need_name(f.need("created_by"), f.at("created_by"));
  s.custodians = name_set(f.need("custodians"), f.at("custodians"));
  for (const auto& item : jr::object(f.need("due"), f.at("due")).items()) {
    s.due[item.key()] = jr::time(item.value(), f.at("due"));
  }
  if (const Json* j = f.maybe("escrow_only")) {
    if (!jr::boolean(*j, f.at("escrow_only")) || !s.connectors.empty()) {
      fail(ErrorKind::integrity, "{}: written only as true, and only without connectors", f.at("escrow_only"));
    }
    s.escrow_only = true;
  }
  s.every = jr::integer(f.need("every"), f.at("every"), 0, k_max_duration);
  s.generator = plain_text(f.need("generator"), f.at("generator"), k_max_command);
  const std::string gens_at = f.at("gens");
  for (const auto& item : jr::object(f.need("gens"), gens_at).items()) {
    const std::string& key = item.key();
    std::int64_t g = 0;
    for (const char c : key) {
      g = (c >= '0' && c <= '9' && g <= k_max_generation) ? g * 10 + (c - '0') : -1;
      if (g < 0) {
        break;
      }
    }
    if (key.empty() || key[0] == '0' || g < 1 || g > k_max_generation) {
      fail(ErrorKind::integrity, "{}: not a generation number", gens_at);
    }
    s.gens[g] = generation_from(item.value(), gens_at);
  }
  s.owner = need_name(f.need("owner"), f.at("owner"));
  s.purpose = plain_text(f.need("purpose"), f.at("purpose"), k_max_purpose);
  const std::string requests_at = f.at("requests");
  for (const auto& item : jr::object(f.need("requests"), requests_at).items()) {
    if (!valid_request_id(item.key())) {
      fail(ErrorKind::integrity, "{}: not a request id", requests_at);
    }
    jr::Fields rf(item.value(), requests_at);
    RequestOf r;
    const std::string approvals_at = rf.at("approvals");
    for (const auto& a : jr::object(rf.need("approvals"), approvals_at).items()) {
      if (!valid_member_name(a.key())) {
        fail(ErrorKind::integrity, "{}: not a member name", approvals_at);
      }
      jr::Fields af(a.value(), approvals_at);
      ApprovalOf approval;
      approval.at = jr::time(af.need("at"), af.at("at"));
      approval.dk_commit = jr::fixed_b64<32>(af.need("dk_commit"), af.at("dk_commit"));
      approval.share = jr::fixed_b64<32>(af.need("share"), af.at("share"));
      approval.v = jr::integer(af.need("v"), af.at("v"), 1, k_max_v);
      approval.vid = need_vid(af.need("vid"), af.at("vid"));
      af.finish();
      r.approvals[a.key()] = std::move(approval);
    }
    r.by = need_name(rf.need("by"), rf.at("by"));
    r.created_at = jr::time(rf.need("created_at"), rf.at("created_at"));
    if (const Json* d = rf.maybe("denial")) {
      jr::Fields df(*d, rf.at("denial"));
      DenialOf denial;
      denial.at = jr::time(df.need("at"), df.at("at"));
      denial.by = need_name(df.need("by"), df.at("by"));
      denial.why = plain_text(df.need("why"), df.at("why"), k_max_why);
      df.finish();
      r.denial = std::move(denial);
    }
    r.ttl = jr::integer(rf.need("ttl"), rf.at("ttl"), 1, k_max_duration);
    r.until = jr::time(rf.need("until"), rf.at("until"));
    if (const Json* used = rf.maybe("used_at")) {
      r.used_at = jr::time(*used, rf.at("used_at"));
    }
    if (const Json* v = rf.maybe("void")) {
      if (!jr::boolean(*v, rf.at("void"))) {
        fail(ErrorKind::integrity, "{}: written only as true", rf.at("void"));
      }
      r.voided = true;
    }
    r.why = plain_text(rf.need("why"), rf.at("why"), k_max_why);
    rf.finish();
    s.requests[item.key()] = std::move(r);
  }
  if (const Json* rot = f.maybe("rotation")) {
    jr::Fields rf(*rot, f.at("rotation"));
    Rotation r;
    r.confirmed = name_set(rf.need("confirmed"), rf.at("confirmed"));
    const std::optional<RotationKind> kind = parse_rotation_kind(jr::string(rf.need("kind"), rf.at("kind")));
    if (!kind) {
      fail(ErrorKind::integrity, "{}: unknown rotation kind", rf.at("kind"));
    }
    r.kind = *kind;
    r.rolling_back = jr::boolean(rf.need("rolling_back"), rf.at("rolling_back"));
    r.since = jr::time(rf.need("since"), rf.at("since"));
    r.started_by = need_name(rf.need("started_by"), rf.at("started_by"));
    r.vid = need_vid(rf.need("vid"), rf.at("vid"));
    rf.finish();
    s.rotation = std::move(r);
  }
  s.shared_with = name_set(f.need("shared_with"), f.at("shared_with"));
  const std::optional<SecretState> state = parse_secret_state(jr::string(f.need("state"), f.at("state")));
  if (!state) {
    fail(ErrorKind::integrity, "{}: unknown secret state", f.at("state"));
  }
  s.state = *state;
  s.threshold = jr::integer(f.need("threshold"), f.at("threshold"), 0, static_cast<std::int64_t>(k_max_custodians));
  s.tier = jr::string(f.need("tier"), f.at("tier"));
  if (!valid_tier(s.tier)) {
    fail(ErrorKind::integrity, "{}: not a tier", f.at("tier"));
  }
  const std::string versions_at = f.at("versions");
  for (const auto& item : jr::object(f.need("versions"), versions_at).items()) {
    if (!valid_vid(item.key())) {
      fail(ErrorKind::integrity, "{}: not a version id", versions_at);
    }
    jr::Fields vf(item.value(), versions_at);
    Version v;
    v.created_at = jr::time(vf.need("created_at"), vf.at("created_at"));
    v.created_by = need_name(vf.need("created_by"), vf.at("created_by"));
    v.custodians = name_set(vf.need("custodians"), vf.at("custodians"));
    v.dk_commit = jr::fixed_b64<32>(vf.need("dk_commit"), vf.at("dk_commit"));
    v.gen = jr::integer(vf.need("gen"), vf.at("gen"), 1, k_max_generation);
    const std::string grants_at = vf.at("grants");
    for (const auto& g : jr::object(vf.need("grants"), grants_at).items()) {
      if (!valid_member_name(g.key())) {
        fail(ErrorKind::integrity, "{}: not a member name", grants_at);
      }
      jr::Fields gf(g.value(), grants_at);
      GrantKey grant;
      grant.key = jr::fixed_b64<32>(gf.need("key"), gf.at("key"));
      grant.request = jr::string(gf.need("request"), gf.at("request"));
      if (!valid_request_id(grant.request)) {
        fail(ErrorKind::integrity, "{}: not a request id", gf.at("request"));
      }
      grant.until = jr::time(gf.need("until"), gf.at("until"));
      gf.finish();
      v.grants[g.key()] = std::move(grant);
    }
    v.material = jr::fixed_b64<32>(vf.need("material"), vf.at("material"));
    if (const Json* race = vf.maybe("race_gen")) {
      v.race_gen = generation_from(*race, vf.at("race_gen"));
    }
    v.shares = hash_map_from(vf.need("shares"), vf.at("shares"));
    const std::optional<VersionState> vs = parse_version_state(jr::string(vf.need("state"), vf.at("state")));
    if (!vs) {
      fail(ErrorKind::integrity, "{}: unknown version state", vf.at("state"));
    }
    v.state = *vs;
    v.threshold = jr::integer(vf.need("threshold"), vf.at("threshold"), 0, static_cast<std::int64_t>(k_max_custodians));
    v.v = jr::integer(vf.need("v"), vf.at("v"), 1, k_max_v);
    v.why = plain_text(vf.need("why"), vf.at("why"), k_max_why);
    vf.finish();
    s.versions[item.key()] = std::move(v);
  }
  f.finish();
  return s;
}

void load_record(State& state, std::string_view path, const Json& json, std::string_view what)
{
  const std::optional<ParsedPath> parsed = parse_path(path);
  if (!parsed || parsed->kind == PathKind::key) {
    fail(ErrorKind::integrity, "{}: not a record path", what);
  }
  switch (parsed->kind) {
  case PathKind::member:
    state.members[parsed->name] = std::make_shared<const Member>(member_from_json(json, parsed->name, what));
    break;
  case PathKind::policy: state.policy = std::make_shared<const Policy>(policy_from_json(json, what)); break;
  case PathKind::connector:
    state.connectors[parsed->name] =
      std::make_shared<const Connector>(connector_from_json(json, parsed->name, what));
    break;
  case PathKind::secret:
    state.secrets[parsed->name] = std::make_shared<const Secret>(secret_from_json(json, parsed->name, what));
    break;
  case PathKind::key: break;
  }
}

namespace {

template <class T>
std::shared_ptr<const T> read_pending(const RecordSource& source, const PendingRecord& pending, const std::string& path)
{
  const std::string text = source.read(pending.offset, pending.length);
  if (record_hash_of_text(path, text) != pending.hash) {
    source.corrupt(path, "its text does not hash to the hash its index names");
  }
  Json json;
  try {
    json = canonical::parse(text, path);
  } catch (const Error& error) {
    source.corrupt(path, error.what());
  }
  std::shared_ptr<const T> record;
  try {
    if constexpr (std::is_same_v<T, Member>) {
      record = std::make_shared<const Member>(member_from_json(json, pending.name, path));
    } else if constexpr (std::is_same_v<T, Connector>) {
      record = std::make_shared<const Connector>(connector_from_json(json, pending.name, path));
    } else {
      record = std::make_shared<const Secret>(secret_from_json(json, pending.name, path));
    }
  } catch (const Error& error) {
    source.corrupt(path, error.what());
  }
  // No write-back check here (to_json(record) dumped and compared with `text`): the text has the
  // hash its checked index names, which this machine computed over the canonical dump of the
  // record it verified, so it is that dump byte for byte, and the strict reader gives back what
  // to_json wrote (to_json(read(x)) == x, tests/unit/state_test.cpp). The write-back was a third
  // of `list` (docs/PERFORMANCE.md, issue 12 target 2) and caught nothing the hash does not.
  record->hash_memo.put(path, pending.hash);
  return record;
}

template <class T>
std::vector<std::shared_ptr<const T>> read_pending_all(const RecordSource& source,
                                                       const std::vector<const PendingRecord*>& todo)
{
  std::vector<std::shared_ptr<const T>> out(todo.size());
  for_each_index(todo.size(), [&](std::size_t i) { out[i] = load_pending<T>(source, *todo[i]); });
  return out;
}

} // namespace

template <>
std::vector<std::shared_ptr<const Member>> load_pending_all<Member>(const RecordSource& source,
                                                                    const std::vector<const PendingRecord*>& todo)
{
  return read_pending_all<Member>(source, todo);
}

template <>
std::vector<std::shared_ptr<const Connector>> load_pending_all<Connector>(
  const RecordSource& source, const std::vector<const PendingRecord*>& todo)
{
  return read_pending_all<Connector>(source, todo);
}

template <>
std::vector<std::shared_ptr<const Secret>> load_pending_all<Secret>(const RecordSource& source,
                                                                    const std::vector<const PendingRecord*>& todo)
{
  return read_pending_all<Secret>(source, todo);
}

Hash record_hash_of_text(std::string_view path, std::string_view canonical_text)
{
  // hash(k_record, path || 0x00 || text), fed in parts rather than copied into one string.
  crypto::Hasher hasher;
  const std::uint8_t zero = 0;
  hasher.update(as_bytes(labels::k_record));
  hasher.update({&zero, 1});
  hasher.update(as_bytes(path));
  hasher.update({&zero, 1});
  hasher.update(as_bytes(canonical_text));
  return hasher.finish();
}

template <>
std::shared_ptr<const Member> load_pending<Member>(const RecordSource& source, const PendingRecord& pending)
{
  return read_pending<Member>(source, pending, member_record_path(pending.name));
}

template <>
std::shared_ptr<const Connector> load_pending<Connector>(const RecordSource& source, const PendingRecord& pending)
{
  return read_pending<Connector>(source, pending, connector_record_path(pending.name));
}

template <>
std::shared_ptr<const Secret> load_pending<Secret>(const RecordSource& source, const PendingRecord& pending)
{
  return read_pending<Secret>(source, pending, secret_record_path(pending.name));
}

} // namespace escrow::history
