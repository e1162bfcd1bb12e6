#include <escrow/error.hpp>
#include <escrow/util/text.hpp>
#include <escrow/identity.hpp>
#include <escrow/records.hpp>

#include <algorithm>

namespace escrow {

namespace {

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

// --- to_json -------------------------------------------------------------------------------

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

// --- from_json -----------------------------------------------------------------------------

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

ConnectorSettings native_settings_from_json(ConnectorKind kind, std::string_view env, const Json& settings,
                                            std::string_view what)
{
  Fields f(settings, what);
  ConnectorSettings out;
  native_settings_from_json(f, kind, env, out);
  f.done();
  return out;
}

// --- names ------------------------------------------------------------------------------------

bool valid_request_id(std::string_view id)
{
  return !id.empty() && id.size() <= 32
         && std::all_of(id.begin(), id.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
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

} // namespace escrow
