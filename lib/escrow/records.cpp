#include <escrow/error.hpp>
#include <escrow/util/text.hpp>
#include <escrow/identity.hpp>
#include <escrow/labels.hpp>
#include <escrow/records.hpp>

#include <algorithm>

namespace escrow {

namespace {

constexpr std::string_view k_record_label = labels::k_record;

// Reads the fields of one JSON object strictly: each field once, with its type, and no field
// the format does not define.
class Fields
{
public:
  Fields(const Json& json, std::string_view what) : m_json(json), m_what(what)
  {
    if (!json.is_object()) {
      fail(ErrorKind::integrity, "{}: expected an object", what);
    }
  }

  const Json& raw(std::string_view key)
  {
    const auto it = m_json.find(key);
    if (it == m_json.end()) {
      fail(ErrorKind::integrity, "{}: missing \"{}\"", m_what, key);
    }
    m_seen.insert(std::string(key));
    return *it;
  }

  bool has(std::string_view key) const { return m_json.contains(key); }

  std::string str(std::string_view key)
  {
    const Json& value = raw(key);
    if (!value.is_string()) {
      fail(ErrorKind::integrity, "{}: \"{}\" must be a string", m_what, key);
    }
    return value.get<std::string>();
  }

  std::string opt_str(std::string_view key) { return has(key) ? str(key) : std::string(); }

  std::int64_t integer(std::string_view key, std::int64_t min = 0, std::int64_t max = INT64_MAX)
  {
    const Json& value = raw(key);
    if (!value.is_number_integer()) {
      fail(ErrorKind::integrity, "{}: \"{}\" must be an integer", m_what, key);
    }
    const auto number = value.get<std::int64_t>();
    if (number < min || number > max) {
      fail(ErrorKind::integrity, "{}: \"{}\" is out of range", m_what, key);
    }
    return number;
  }

  bool boolean(std::string_view key)
  {
    const Json& value = raw(key);
    if (!value.is_boolean()) {
      fail(ErrorKind::integrity, "{}: \"{}\" must be true or false", m_what, key);
    }
    return value.get<bool>();
  }

  Timestamp time(std::string_view key)
  {
    const std::string text = str(key);
    const auto at = parse_time(text);
    if (!at || text != format_time(*at)) {
      fail(ErrorKind::integrity, "{}: \"{}\" is not a UTC time like 2026-01-31T12:00:00Z", m_what, key);
    }
    return *at;
  }

  std::optional<Timestamp> opt_time(std::string_view key)
  {
    if (!has(key)) {
      return std::nullopt;
    }
    return time(key);
  }

  std::vector<std::string> names(std::string_view key)
  {
    const Json& value = raw(key);
    if (!value.is_array()) {
      fail(ErrorKind::integrity, "{}: \"{}\" must be a list", m_what, key);
    }
    std::vector<std::string> out;
    for (const Json& item : value) {
      if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
        fail(ErrorKind::integrity, "{}: \"{}\" must list non-empty names", m_what, key);
      }
      out.push_back(item.get<std::string>());
    }
    std::vector<std::string> sorted = out;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      fail(ErrorKind::integrity, "{}: \"{}\" lists a name twice", m_what, key);
    }
    return out;
  }

  std::set<std::string> name_set(std::string_view key)
  {
    const auto list = names(key);
    return {list.begin(), list.end()};
  }

  // A string naming one value of a closed vocabulary; an unknown name is refused naming the
  // field ("<what>: unknown version state \"x\" in \"state\"").
  template<typename Enum>
  Enum enumerated(std::string_view key, std::optional<Enum> (*parse)(std::string_view), std::string_view noun)
  {
    const std::string text = str(key);
    const std::optional<Enum> value = parse(text);
    if (!value) {
      fail(ErrorKind::integrity, "{}: unknown {} \"{}\" in \"{}\"", m_what, noun, util::quoted_name(text), key);
    }
    return *value;
  }

  template<typename Enum>
  std::set<Enum> enum_set(std::string_view key, std::optional<Enum> (*parse)(std::string_view), std::string_view noun)
  {
    std::set<Enum> out;
    for (const auto& name : names(key)) {
      const std::optional<Enum> value = parse(name);
      if (!value) {
        fail(ErrorKind::integrity, "{}: unknown {} \"{}\" in \"{}\"", m_what, noun, util::quoted_name(name), key);
      }
      out.insert(*value);
    }
    return out;
  }

  std::map<std::string, std::string> string_map(std::string_view key)
  {
    const Json& value = raw(key);
    if (!value.is_object()) {
      fail(ErrorKind::integrity, "{}: \"{}\" must be an object", m_what, key);
    }
    std::map<std::string, std::string> out;
    for (const auto& [name, item] : value.items()) {
      if (!item.is_string()) {
        fail(ErrorKind::integrity, "{}: \"{}\" values must be strings", m_what, key);
      }
      out.emplace(name, item.get<std::string>());
    }
    return out;
  }

  template<std::size_t N>
  std::array<std::uint8_t, N> fixed_b64(std::string_view key)
  {
    const Bytes bytes = canonical::unb64(str(key), fmt::format("{}: \"{}\"", m_what, key));
    if (bytes.size() != N) {
      fail(ErrorKind::integrity, "{}: \"{}\" has the wrong length", m_what, key);
    }
    std::array<std::uint8_t, N> out{};
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return out;
  }

  std::string b64_str(std::string_view key, std::size_t min_size = 1)
  {
    std::string text = str(key);
    const Bytes bytes = canonical::unb64(text, fmt::format("{}: \"{}\"", m_what, key));
    if (bytes.size() < min_size) {
      fail(ErrorKind::integrity, "{}: \"{}\" is too short", m_what, key);
    }
    return text;
  }

  void signature(Signed& record)
  {
    record.by = str("by");
    record.sig = fixed_b64<crypto::k_signature_size>("sig");
  }

  // Everything else is unknown: refuse it.
  void done()
  {
    for (const auto& [key, value] : m_json.items()) {
      if (m_seen.count(key) == 0) {
        fail(ErrorKind::integrity, "{}: unknown field \"{}\"", m_what, key);
      }
    }
  }

  std::string_view what() const { return m_what; }

private:
  const Json& m_json;
  std::string m_what;
  std::set<std::string> m_seen;
};

void put_signature(Json& json, const Signed& record)
{
  json["by"] = record.by;
  json["sig"] = canonical::b64(record.sig);
}

Json names_json(const std::vector<std::string>& names)
{
  return Json(names);
}

Json names_json(const std::set<std::string>& names)
{
  return Json(std::vector<std::string>(names.begin(), names.end()));
}

Json role_names(const std::set<Role>& roles)
{
  Json out = Json::array();
  for (const Role role : roles) {
    out.push_back(role_name(role));
  }
  return out;
}

void check_sealed_map(const std::map<std::string, std::string>& map, std::string_view what, std::string_view key)
{
  for (const auto& [member, value] : map) {
    if (!valid_member_name(member)) {
      fail(ErrorKind::integrity, "{}: \"{}\" names an invalid member", what, key);
    }
    const Bytes bytes = canonical::unb64(value, what);
    if (bytes.size() <= crypto::k_seal_overhead) {
      fail(ErrorKind::integrity, "{}: \"{}\" holds a sealed key that is too short", what, key);
    }
  }
}

} // namespace

namespace {

template<typename Enum, std::size_t N>
std::optional<Enum> parse_name(const Enum (&all)[N], std::string_view (*name_of)(Enum), std::string_view name)
{
  for (const Enum value : all) {
    if (name_of(value) == name) {
      return value;
    }
  }
  return std::nullopt;
}

} // namespace

std::string_view role_name(Role role)
{
  switch (role) {
  case Role::admin: return "admin";
  case Role::approver: return "approver";
  case Role::auditor: return "auditor";
  case Role::requester: return "requester";
  case Role::rotator: return "rotator";
  }
  return "";
}

std::optional<Role> parse_role(std::string_view name)
{
  return parse_name(k_roles, role_name, name);
}

std::string_view version_state_name(VersionState state)
{
  switch (state) {
  case VersionState::current: return "current";
  case VersionState::pending: return "pending";
  case VersionState::previous: return "previous";
  case VersionState::retired: return "retired";
  case VersionState::compromised: return "compromised";
  case VersionState::failed: return "failed";
  }
  return "";
}

std::optional<VersionState> parse_version_state(std::string_view name)
{
  return parse_name(k_version_states, version_state_name, name);
}

std::string_view secret_state_name(SecretState state)
{
  switch (state) {
  case SecretState::active: return "active";
  case SecretState::retired: return "retired";
  }
  return "";
}

std::optional<SecretState> parse_secret_state(std::string_view name)
{
  return parse_name(k_secret_states, secret_state_name, name);
}

std::string_view connector_kind_name(ConnectorKind kind)
{
  switch (kind) {
  case ConnectorKind::command: return "command";
  case ConnectorKind::manual: return "manual";
  case ConnectorKind::postgres: return "postgres";
  case ConnectorKind::http: return "http";
  case ConnectorKind::node_red: return "node-red";
  case ConnectorKind::mysql: return "mysql";
  }
  return "";
}

std::optional<ConnectorKind> parse_connector_kind(std::string_view name)
{
  return parse_name(k_connector_kinds, connector_kind_name, name);
}

std::string_view http_method_name(HttpMethod method)
{
  switch (method) {
  case HttpMethod::put: return "PUT";
  case HttpMethod::post: return "POST";
  case HttpMethod::patch: return "PATCH";
  }
  return "";
}

std::optional<HttpMethod> parse_http_method(std::string_view name)
{
  return parse_name(k_http_methods, http_method_name, name);
}

void to_json(Json& json, Role role)
{
  json = std::string(role_name(role));
}

void to_json(Json& json, VersionState state)
{
  json = std::string(version_state_name(state));
}

void to_json(Json& json, SecretState state)
{
  json = std::string(secret_state_name(state));
}

void to_json(Json& json, ConnectorKind kind)
{
  json = std::string(connector_kind_name(kind));
}

void to_json(Json& json, HttpMethod method)
{
  json = std::string(http_method_name(method));
}

std::string join_roles(const std::set<Role>& roles, std::string_view separator)
{
  std::string out;
  for (const Role role : roles) {
    if (!out.empty()) {
      out += separator;
    }
    out += role_name(role);
  }
  return out;
}

std::string MemberRecord::fingerprint() const
{
  PublicIdentity pub{name, sign_pk, box_pk};
  return pub.fingerprint();
}

const EnvPolicy& PolicyRecord::for_env(std::string_view env) const
{
  static const EnvPolicy k_default;
  if (const auto it = envs.find(std::string(env)); it != envs.end()) {
    return it->second;
  }
  if (const auto it = envs.find("*"); it != envs.end()) {
    return it->second;
  }
  return k_default;
}

const VersionRecord* SecretRecord::current() const
{
  for (const auto& version : versions) {
    if (version.state == VersionState::current) {
      return &version;
    }
  }
  return nullptr;
}

VersionRecord* SecretRecord::current()
{
  return const_cast<VersionRecord*>(std::as_const(*this).current());
}

const VersionRecord* SecretRecord::find_version(std::int64_t v) const
{
  for (const auto& version : versions) {
    if (version.v == v) {
      return &version;
    }
  }
  return nullptr;
}

std::int64_t SecretRecord::next_version() const
{
  std::int64_t highest = 0;
  for (const auto& version : versions) {
    highest = std::max(highest, version.v);
  }
  return highest + 1;
}

// --- to_json -------------------------------------------------------------------------------

Json to_json(const MemberRecord& r)
{
  Json json{{"sign_pk", canonical::b64(r.sign_pk)},
            {"box_pk", canonical::b64(r.box_pk)},
            {"roles", role_names(r.roles)},
            {"envs", names_json(r.envs)},
            {"added_by", r.added_by},
            {"added_at", format_stored_time(r.added_at)}};
  if (r.removed_at) {
    json["removed_at"] = format_stored_time(*r.removed_at);
    json["removed_by"] = r.removed_by;
  }
  if (!r.genesis.empty()) {
    json["genesis"] = r.genesis;
  }
  put_signature(json, r);
  return json;
}

Json to_json(const PolicyRecord& r)
{
  Json envs = Json::object();
  for (const auto& [env, p] : r.envs) {
    envs[env] = Json{{"min_threshold", p.min_threshold},
                     {"max_ttl", format_duration(p.max_ttl)},
                     {"require_why", p.require_why},
                     {"every", p.every > 0 ? format_duration(p.every) : std::string()},
                     {"keep", p.keep}};
  }
  Json json{{"envs", envs}, {"notify", r.notify}};
  put_signature(json, r);
  return json;
}

void put_native_settings(Json& out, ConnectorKind kind, const ConnectorSettings& settings)
{
  switch (kind) {
  case ConnectorKind::command:
  case ConnectorKind::manual: break;
  case ConnectorKind::postgres:
    out["conninfo"] = settings.conninfo;
    out["role"] = settings.role;
    if (!settings.alternate_role.empty()) {
      out["alternate_role"] = settings.alternate_role; // only when set: older vaults keep their bytes
    }
    out["auth_secret"] = settings.auth_secret;
    break;
  case ConnectorKind::mysql:
    out["conninfo"] = settings.conninfo;
    out["user"] = settings.db_user;
    out["host"] = settings.db_host;
    out["auth_secret"] = settings.auth_secret;
    break;
  case ConnectorKind::http:
    out["url"] = settings.url;
    out["method"] = http_method_name(settings.method);
    out["body"] = settings.body;
    out["headers"] = settings.headers;
    out["expect_status"] = settings.expect_status;
    out["verify_url"] = settings.verify_url;
    out["verify_expect_status"] = settings.verify_expect_status;
    out["cacert"] = settings.cacert;
    out["auth_secret"] = settings.auth_secret;
    break;
  case ConnectorKind::node_red:
    out["url"] = settings.url;
    out["node"] = settings.node;
    out["field"] = settings.field;
    out["auth_user"] = settings.auth_user;
    out["auth_secret"] = settings.auth_secret;
    out["verify_url"] = settings.verify_url;
    out["verify_expect_status"] = settings.verify_expect_status;
    out["cacert"] = settings.cacert;
    break;
  }
}

bool is_native_setting_key(std::string_view key)
{
  static constexpr std::string_view k_keys[] = {"alternate_role", "auth_secret", "auth_user", "body", "cacert",
                                                "conninfo", "expect_status", "field", "headers", "host",
                                                "method", "node", "role", "url", "user",
                                                "verify_expect_status", "verify_url"};
  return std::find(std::begin(k_keys), std::end(k_keys), key) != std::end(k_keys);
}

Json to_json(const ConnectorRecord& r)
{
  Json json{{"env", r.env},
            {"kind", connector_kind_name(r.kind)},
            {"update", r.update},
            {"verify", r.verify},
            {"instructions", r.instructions},
            {"timeout", r.timeout},
            {"created_at", format_stored_time(r.created_at)}};
  if (!r.rehearse_with.empty()) {
    json["rehearse_with"] = r.rehearse_with; // only when set: older vaults keep their bytes
  }
  put_native_settings(json, r.kind, r); // exactly its own fields (connector_from_json refuses any other)
  put_signature(json, r);
  return json;
}

static Json version_json(const VersionRecord& r)
{
  Json granted = Json::object();
  for (const auto& [member, grant] : r.granted) {
    granted[member] = Json{{"key", grant.key}, {"until", format_stored_time(grant.until)}, {"request", grant.request}};
  }
  Json json{{"v", r.v},
            {"state", version_state_name(r.state)},
            {"created_at", format_stored_time(r.created_at)},
            {"created_by", r.created_by},
            {"why", r.why},
            {"nonce", r.nonce},
            {"ciphertext", r.ciphertext},
            {"dk_commit", r.dk_commit},
            {"wrapped", r.wrapped},
            {"shares", r.shares},
            {"granted", granted}};
  put_signature(json, r);
  return json;
}

Json to_json(const Approval& a)
{
  Json approval{{"v", a.v}, {"share", a.share}, {"created_at", format_stored_time(a.created_at)}};
  put_signature(approval, a);
  return approval;
}

Json to_json(const Denial& d)
{
  Json denial{{"why", d.why}, {"created_at", format_stored_time(d.created_at)}};
  put_signature(denial, d);
  return denial;
}

static Json request_json(const Request& r)
{
  Json approvals = Json::array();
  for (const auto& a : r.approvals) {
    approvals.push_back(to_json(a));
  }
  Json json{{"id", r.id},
            {"why", r.why},
            {"ttl", r.ttl},
            {"created_at", format_stored_time(r.created_at)},
            {"approvals", approvals}};
  if (r.used_at) {
    json["used_at"] = format_stored_time(*r.used_at);
  }
  if (r.denial) {
    json["denial"] = to_json(*r.denial);
  }
  put_signature(json, r);
  return json;
}

Json to_json(const VersionRecord& r)
{
  return version_json(r);
}

Json to_json(const Request& r)
{
  return request_json(r);
}

Json to_json(const SecretRecord& r)
{
  Json versions = Json::array();
  for (const auto& version : r.versions) {
    versions.push_back(version_json(version));
  }
  Json requests = Json::array();
  for (const auto& request : r.requests) {
    requests.push_back(request_json(request));
  }
  Json json{{"env", r.env},
            {"name", r.name},
            {"owner", r.owner},
            {"purpose", r.purpose},
            {"tier", r.tier},
            {"connectors", names_json(r.connectors)},
            {"every", r.every > 0 ? format_duration(r.every) : std::string()},
            {"generator", r.generator},
            {"after_access", r.after_access},
            {"custodians", names_json(r.custodians)},
            {"threshold", r.threshold},
            {"shared_with", names_json(r.shared_with)},
            {"due", r.due},
            {"due_since", r.due_since > 0 ? format_stored_time(r.due_since) : std::string()},
            {"state", secret_state_name(r.state)},
            {"created_at", format_stored_time(r.created_at)},
            {"versions", versions},
            {"requests", requests}};
  if (r.escrow_only) {
    json["escrow_only"] = true; // only when set: older vaults keep their bytes
  }
  put_signature(json, r);
  return json;
}

// --- from_json -----------------------------------------------------------------------------

MemberRecord member_from_json(const Json& json, std::string_view name, std::string_view what)
{
  Fields f(json, what);
  MemberRecord r;
  r.name = std::string(name);
  if (!valid_member_name(name)) {
    fail(ErrorKind::integrity, "{}: invalid member name", what);
  }
  r.sign_pk = f.fixed_b64<crypto::k_sign_public_size>("sign_pk");
  r.box_pk = f.fixed_b64<crypto::k_box_public_size>("box_pk");
  r.roles = f.enum_set("roles", parse_role, "role");
  r.envs = f.name_set("envs");
  for (const auto& env : r.envs) {
    if (env != "*" && !valid_env_name(env)) {
      fail(ErrorKind::integrity, "{}: invalid environment name", what);
    }
  }
  r.added_by = f.str("added_by");
  r.added_at = f.time("added_at");
  r.removed_at = f.opt_time("removed_at");
  if (r.removed_at) {
    r.removed_by = f.str("removed_by");
  }
  if (f.has("genesis")) {
    r.genesis = f.b64_str("genesis", 16);
  }
  f.signature(r);
  f.done();
  return r;
}

PolicyRecord policy_from_json(const Json& json, std::string_view what)
{
  Fields f(json, what);
  PolicyRecord r;
  const Json& envs = f.raw("envs");
  if (!envs.is_object()) {
    fail(ErrorKind::integrity, "{}: \"envs\" must be an object", what);
  }
  for (const auto& [env, value] : envs.items()) {
    if (env != "*" && !valid_env_name(env)) {
      fail(ErrorKind::integrity, "{}: invalid environment name", what);
    }
    const std::string env_what = fmt::format("{} (environment {})", what, env);
    Fields e(value, env_what);
    EnvPolicy p;
    p.min_threshold = e.integer("min_threshold", 1, 255);
    const auto ttl = parse_duration(e.str("max_ttl"));
    if (!ttl) {
      fail(ErrorKind::integrity, "{}: \"max_ttl\" is not a duration", env_what);
    }
    p.max_ttl = *ttl;
    p.require_why = e.boolean("require_why");
    const std::string every = e.str("every");
    if (!every.empty()) {
      const auto cadence = parse_duration(every);
      if (!cadence) {
        fail(ErrorKind::integrity, "{}: \"every\" is not a duration", env_what);
      }
      p.every = *cadence;
    }
    p.keep = e.integer("keep", 0, 1000);
    e.done();
    r.envs.emplace(env, p);
  }
  r.notify = f.str("notify");
  f.signature(r);
  f.done();
  return r;
}

namespace {

// A text setting of a native connector: UTF-8 without NUL or other control characters except
// tab and newline (a body template may span lines), at most `limit` bytes.
std::string setting(Fields& f, std::string_view key, std::size_t limit, bool multiline = false)
{
  std::string text = f.str(key);
  const bool controls = std::any_of(text.begin(), text.end(), [&](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || u == 0x7f;
  });
  if (text.size() > limit || controls || !canonical::valid_utf8(text)) {
    fail(ErrorKind::integrity, "{}: \"{}\" must be UTF-8 text of at most {} bytes without control characters",
         f.what(), key, limit);
  }
  return text;
}

std::string url_setting(Fields& f, std::string_view key, bool required)
{
  std::string url = setting(f, key, 2048);
  if (url.empty() ? required : (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)) {
    fail(ErrorKind::integrity, "{}: \"{}\" must be an http:// or https:// URL", f.what(), key);
  }
  return url;
}

void auth_secret_setting(Fields& f, std::string_view connector_env, ConnectorSettings& r)
{
  r.auth_secret = f.str("auth_secret");
  if (r.auth_secret.empty()) {
    return;
  }
  try {
    const auto [env, name] = split_secret_name(r.auth_secret);
    if (env != connector_env) {
      fail(ErrorKind::integrity, "{}: \"auth_secret\" names a secret of another environment", f.what());
    }
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::integrity) {
      throw;
    }
    fail(ErrorKind::integrity, "{}: \"auth_secret\" is not a secret name (ENV/NAME)", f.what());
  }
}

void verify_settings(Fields& f, ConnectorSettings& r, bool required)
{
  r.verify_url = url_setting(f, "verify_url", required);
  r.verify_expect_status = f.integer("verify_expect_status", 0, 599);
  if (r.verify_url.empty() != (r.verify_expect_status == 0) || (r.verify_expect_status != 0 && r.verify_expect_status < 100)) {
    fail(ErrorKind::integrity, "{}: \"verify_expect_status\" must be 100-599 with a verify_url, else 0", f.what());
  }
}

void cacert_setting(Fields& f, ConnectorSettings& r)
{
  r.cacert = setting(f, "cacert", 64 * 1024, true);
  if (!r.cacert.empty() && r.cacert.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    fail(ErrorKind::integrity, "{}: \"cacert\" must hold PEM certificates", f.what());
  }
}

// The fields of the native kinds: each kind reads exactly its own (Fields::done() refuses the rest).
void native_settings_from_json(Fields& f, ConnectorKind kind, std::string_view env, ConnectorSettings& r)
{
  switch (kind) {
  case ConnectorKind::command:
  case ConnectorKind::manual: return;
  case ConnectorKind::postgres:
    r.conninfo = setting(f, "conninfo", 4096);
    r.role = setting(f, "role", 63);
    if (r.conninfo.empty() || r.role.empty()) {
      fail(ErrorKind::integrity, "{}: a postgres connector needs \"conninfo\" and \"role\"", f.what());
    }
    if (f.has("alternate_role")) {
      r.alternate_role = setting(f, "alternate_role", 63);
      if (r.alternate_role.empty() || r.alternate_role == r.role) {
        fail(ErrorKind::integrity, "{}: \"alternate_role\" must name a second role", f.what());
      }
    }
    auth_secret_setting(f, env, r);
    return;
  case ConnectorKind::mysql:
    r.conninfo = setting(f, "conninfo", 4096);
    r.db_user = setting(f, "user", 80);
    r.db_host = setting(f, "host", 255);
    if (r.conninfo.empty() || r.db_user.empty() || r.db_host.empty()) {
      fail(ErrorKind::integrity, "{}: a mysql connector needs \"conninfo\", \"user\" and \"host\"", f.what());
    }
    auth_secret_setting(f, env, r);
    return;
  case ConnectorKind::http: {
    r.url = url_setting(f, "url", true);
    r.method = f.enumerated("method", parse_http_method, "HTTP method");
    r.body = setting(f, "body", 16 * 1024, true);
    const Json& headers = f.raw("headers");
    if (!headers.is_array() || headers.size() > 32) {
      fail(ErrorKind::integrity, "{}: \"headers\" must be a list of at most 32", f.what());
    }
    for (const Json& header : headers) {
      const std::string* text = header.is_string() ? &header.get_ref<const std::string&>() : nullptr;
      if (text == nullptr || text->size() > 4096 || text->find(':') == std::string::npos || !canonical::valid_utf8(*text)
          || std::any_of(text->begin(), text->end(), [](char c) {
               return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
             })) {
        fail(ErrorKind::integrity, "{}: \"headers\" must list \"Name: value\" lines", f.what());
      }
      r.headers.push_back(*text);
    }
    r.expect_status = f.integer("expect_status", 0, 599);
    if (r.expect_status != 0 && r.expect_status < 100) {
      fail(ErrorKind::integrity, "{}: \"expect_status\" must be 100-599, or 0 for any 2xx", f.what());
    }
    verify_settings(f, r, false);
    cacert_setting(f, r);
    auth_secret_setting(f, env, r);
    return;
  }
  case ConnectorKind::node_red:
    r.url = url_setting(f, "url", true);
    r.node = setting(f, "node", 128);
    r.field = setting(f, "field", 128);
    if (r.node.empty() || r.field.empty()) {
      fail(ErrorKind::integrity, "{}: a node-red connector needs \"node\" and \"field\"", f.what());
    }
    r.auth_user = setting(f, "auth_user", 256);
    auth_secret_setting(f, env, r);
    if (r.auth_user.empty() != r.auth_secret.empty()) {
      fail(ErrorKind::integrity, "{}: \"auth_user\" and \"auth_secret\" go together", f.what());
    }
    verify_settings(f, r, true);
    cacert_setting(f, r);
    return;
  }
}

} // namespace

ConnectorRecord connector_from_json(const Json& json, std::string_view name, std::string_view what)
{
  Fields f(json, what);
  ConnectorRecord r;
  r.name = std::string(name);
  if (!valid_member_name(name)) {
    fail(ErrorKind::integrity, "{}: invalid connector name", what);
  }
  r.env = f.str("env");
  if (!valid_env_name(r.env)) {
    fail(ErrorKind::integrity, "{}: invalid environment name", what);
  }
  r.kind = f.enumerated("kind", parse_connector_kind, "connector kind");
  r.update = f.str("update");
  r.verify = f.str("verify");
  r.instructions = f.str("instructions");
  r.timeout = f.integer("timeout", 1, 86400);
  r.created_at = f.time("created_at");
  r.rehearse_with = f.opt_str("rehearse_with");
  if (f.has("rehearse_with") && (!valid_member_name(r.rehearse_with) || r.rehearse_with == r.name)) {
    fail(ErrorKind::integrity, "{}: invalid rehearse_with connector name", what);
  }
  native_settings_from_json(f, r.kind, r.env, r);
  f.signature(r);
  f.done();
  return r;
}

ConnectorSettings native_settings_from_json(ConnectorKind kind, std::string_view env, const Json& settings,
                                            std::string_view what)
{
  Fields f(settings, what);
  ConnectorSettings out;
  native_settings_from_json(f, kind, env, out);
  f.done();
  return out;
}

namespace {

VersionRecord version_from_json(const Json& json, std::string_view what)
{
  Fields f(json, what);
  VersionRecord r;
  r.v = f.integer("v", 1, std::int64_t{1} << 40); // next_version() must not overflow
  r.state = f.enumerated("state", parse_version_state, "version state");
  r.created_at = f.time("created_at");
  r.created_by = f.str("created_by");
  r.why = f.str("why");
  r.nonce = f.str("nonce");
  if (canonical::unb64(r.nonce, what).size() != crypto::k_nonce_size) {
    fail(ErrorKind::integrity, "{}: \"nonce\" has the wrong length", what);
  }
  r.ciphertext = f.b64_str("ciphertext", crypto::k_tag_size);
  r.dk_commit = f.str("dk_commit");
  if (canonical::unb64(r.dk_commit, what).size() != 32) {
    fail(ErrorKind::integrity, "{}: \"dk_commit\" has the wrong length", what);
  }
  r.wrapped = f.string_map("wrapped");
  check_sealed_map(r.wrapped, what, "wrapped");
  r.shares = f.string_map("shares");
  check_sealed_map(r.shares, what, "shares");
  const Json& granted = f.raw("granted");
  if (!granted.is_object()) {
    fail(ErrorKind::integrity, "{}: \"granted\" must be an object", what);
  }
  for (const auto& [member, value] : granted.items()) {
    Fields g(value, what);
    Grant grant;
    grant.key = g.b64_str("key", crypto::k_seal_overhead + 1);
    grant.until = g.time("until");
    grant.request = g.str("request");
    g.done();
    if (!valid_member_name(member)) {
      fail(ErrorKind::integrity, "{}: \"granted\" names an invalid member", what);
    }
    r.granted.emplace(member, std::move(grant));
  }
  f.signature(r);
  f.done();
  return r;
}

Request request_from_json(const Json& json, std::string_view what)
{
  Fields f(json, what);
  Request r;
  r.id = f.str("id");
  if (r.id.empty() || r.id.size() > 32
      || !std::all_of(r.id.begin(), r.id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         })) {
    fail(ErrorKind::integrity, "{}: invalid request id", what);
  }
  r.why = f.str("why");
  r.ttl = f.integer("ttl", 1, std::int64_t{1} << 40); // parse_duration's bound: no overflow in expires_at()
  r.created_at = f.time("created_at");
  r.used_at = f.opt_time("used_at");
  const Json& approvals = f.raw("approvals");
  if (!approvals.is_array()) {
    fail(ErrorKind::integrity, "{}: \"approvals\" must be a list", what);
  }
  for (const Json& item : approvals) {
    Fields a(item, what);
    Approval approval;
    approval.v = a.integer("v", 1);
    approval.share = a.b64_str("share", crypto::k_seal_overhead + 2);
    approval.created_at = a.time("created_at");
    a.signature(approval);
    a.done();
    r.approvals.push_back(std::move(approval));
  }
  if (f.has("denial")) {
    Fields d(f.raw("denial"), what);
    Denial denial;
    denial.why = d.str("why");
    denial.created_at = d.time("created_at");
    d.signature(denial);
    d.done();
    r.denial = std::move(denial);
  }
  f.signature(r);
  f.done();
  return r;
}

} // namespace

SecretRecord secret_from_json(const Json& json, std::string_view full_name, std::string_view what)
{
  Fields f(json, what);
  SecretRecord r;
  r.env = f.str("env");
  r.name = f.str("name");
  if (r.full_name() != full_name) {
    fail(ErrorKind::integrity, "{}: \"env\"/\"name\" do not match the record's key", what);
  }
  r.owner = f.str("owner");
  r.purpose = f.str("purpose");
  r.tier = f.str("tier");
  r.connectors = f.names("connectors");
  if (f.has("escrow_only")) {
    // Written only when true: one spelling per record.
    if (!f.boolean("escrow_only") || !r.connectors.empty()) {
      fail(ErrorKind::integrity, "{}: \"escrow_only\" is written only as true, and only without connectors", what);
    }
    r.escrow_only = true;
  }
  const std::string every = f.str("every");
  if (!every.empty()) {
    const auto cadence = parse_duration(every);
    if (!cadence) {
      fail(ErrorKind::integrity, "{}: \"every\" is not a duration", what);
    }
    r.every = *cadence;
  }
  r.generator = f.str("generator");
  r.after_access = f.boolean("after_access");
  r.custodians = f.names("custodians");
  r.threshold = f.integer("threshold", 0, 255);
  if ((r.custodians.empty() && r.threshold != 0)
      || (!r.custodians.empty()
          && (r.threshold < 1 || r.threshold > static_cast<std::int64_t>(r.custodians.size())))) {
    fail(ErrorKind::integrity, "{}: \"threshold\" does not fit the custodians", what);
  }
  r.shared_with = f.names("shared_with");
  r.due = f.str("due");
  const std::string due_since = f.str("due_since");
  if (!due_since.empty()) {
    const auto at = parse_time(due_since);
    if (!at || due_since != format_time(*at)) {
      fail(ErrorKind::integrity, "{}: \"due_since\" is not a time", what);
    }
    r.due_since = *at;
  }
  r.state = f.enumerated("state", parse_secret_state, "secret state");
  r.created_at = f.time("created_at");
  const Json& versions = f.raw("versions");
  if (!versions.is_array()) {
    fail(ErrorKind::integrity, "{}: \"versions\" must be a list", what);
  }
  std::set<std::int64_t> numbers;
  int current = 0;
  for (const Json& item : versions) {
    VersionRecord version = version_from_json(item, what);
    if (!numbers.insert(version.v).second) {
      fail(ErrorKind::integrity, "{}: version {} appears twice", what, version.v);
    }
    current += version.state == VersionState::current ? 1 : 0;
    r.versions.push_back(std::move(version));
  }
  if (current > 1) {
    fail(ErrorKind::integrity, "{}: more than one current version", what);
  }
  const Json& requests = f.raw("requests");
  if (!requests.is_array()) {
    fail(ErrorKind::integrity, "{}: \"requests\" must be a list", what);
  }
  std::set<std::string> ids;
  for (const Json& item : requests) {
    Request request = request_from_json(item, what);
    if (!ids.insert(request.id).second) {
      fail(ErrorKind::integrity, "{}: request {} appears twice", what, request.id);
    }
    r.requests.push_back(std::move(request));
  }
  f.signature(r);
  f.done();
  return r;
}

// --- paths, signing, names -------------------------------------------------------------------

std::string member_path(std::string_view name)
{
  return fmt::format("members/{}", name);
}
std::string connector_path(std::string_view name)
{
  return fmt::format("connectors/{}", name);
}
std::string secret_path(std::string_view full_name)
{
  return fmt::format("secrets/{}", full_name);
}
std::string version_path(std::string_view full_name, std::int64_t v)
{
  return fmt::format("secrets/{}#v{}", full_name, v);
}
std::string request_path(std::string_view full_name, std::string_view id)
{
  return fmt::format("secrets/{}#request/{}", full_name, id);
}
std::string approval_path(std::string_view full_name, std::string_view id, std::string_view by)
{
  return fmt::format("secrets/{}#request/{}/approval/{}", full_name, id, by);
}
std::string denial_path(std::string_view full_name, std::string_view id)
{
  return fmt::format("secrets/{}#request/{}/denial", full_name, id);
}

Bytes signing_message(ByteView vault_id, std::string_view path, const Json& body)
{
  Json stripped = body;
  if (stripped.is_object()) {
    for (const char* key : {"sig", "versions", "requests", "approvals", "denial"}) {
      stripped.erase(key);
    }
  }
  const std::string canonical_body = canonical::dump(stripped);
  Bytes message;
  message.reserve(vault_id.size() + path.size() + 1 + canonical_body.size());
  message.insert(message.end(), vault_id.begin(), vault_id.end());
  message.insert(message.end(), path.begin(), path.end());
  message.push_back(0);
  message.insert(message.end(), canonical_body.begin(), canonical_body.end());
  return message;
}

crypto::Signature sign_body(ByteView vault_id, std::string_view path, const Json& body, const SecretBytes& sign_sk)
{
  return crypto::sign(k_record_label, signing_message(vault_id, path, body), sign_sk);
}

crypto::Signature sign_body(ByteView vault_id, std::string_view path, const Json& body, const Identity& signer)
{
  return signer.sign(k_record_label, signing_message(vault_id, path, body));
}

bool verify_body(ByteView vault_id,
                 std::string_view path,
                 const Json& body,
                 const crypto::Signature& sig,
                 const crypto::SignPublicKey& sign_pk)
{
  return crypto::verify(k_record_label, signing_message(vault_id, path, body), sig, sign_pk);
}

bool valid_env_name(std::string_view env)
{
  if (env.empty() || env.size() > 32) {
    return false;
  }
  return std::all_of(env.begin(), env.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::pair<std::string, std::string> split_secret_name(std::string_view full_name)
{
  if (full_name.find('\0') != std::string_view::npos) {
    fail(ErrorKind::usage, "invalid secret name: contains a NUL byte");
  }
  if (!canonical::valid_utf8(full_name)) {
    fail(ErrorKind::usage, "invalid secret name: not valid UTF-8");
  }
  const auto slash = full_name.find('/');
  if (slash == std::string_view::npos) {
    fail(ErrorKind::usage, "invalid secret name: expected ENV/NAME (e.g. prod/stripe-key)");
  }
  const std::string_view env = full_name.substr(0, slash);
  const std::string_view name = full_name.substr(slash + 1);
  if (!valid_env_name(env)) {
    fail(ErrorKind::usage,
         "invalid secret name: the environment must be 1-32 of a-z, 0-9, '_' or '-'");
  }
  if (name.empty() || name.size() > 128) {
    fail(ErrorKind::usage, "invalid secret name: NAME must be 1-128 bytes");
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto end = std::min(name.find('/', start), name.size());
    const std::string_view segment = name.substr(start, end - start);
    if (segment.empty()) {
      fail(ErrorKind::usage, "invalid secret name: empty path segment");
    }
    if (segment == "." || segment == "..") {
      fail(ErrorKind::usage, "invalid secret name: '.' and '..' segments are not allowed");
    }
    for (const char c : segment) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                      || c == '.' || c == '_' || c == '-';
      if (!ok) {
        fail(ErrorKind::usage, "invalid secret name: use letters, digits, '.', '_', '-' and '/'");
      }
    }
    start = end + 1;
  }
  return {std::string(env), std::string(name)};
}

std::array<std::uint8_t, 16> derive_vault_id(const MemberRecord& genesis)
{
  const Json body{{"name", genesis.name},
                  {"sign_pk", canonical::b64(genesis.sign_pk)},
                  {"box_pk", canonical::b64(genesis.box_pk)},
                  {"added_at", format_stored_time(genesis.added_at)},
                  {"genesis", genesis.genesis}};
  return crypto::hash16(labels::k_vault_id, as_bytes(canonical::dump(body)));
}

} // namespace escrow
