// The closed vocabularies escrow-vault/2 shares with the connectors and the CLI (roles, version and
// secret states, connector kinds, HTTP methods), the environment policy's fields, a connector's
// settings as the drivers run them (ConnectorRecord), the one spelling of the native kinds'
// settings, and the name rules. The records themselves are history/state.hpp's (the format:
// docs/design/vault-2-operations.md).
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/clock.hpp>
#include <escrow/crypto.hpp>
#include <escrow/identity.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace escrow {

using canonical::Json;

// The closed vocabularies of the records. Their names exist only at the format boundary: the
// *_name/parse_* pairs below, used by to_json/from_json and by the CLI's argument parsing. An
// unknown name in a file is Error(integrity) naming the file and the field.

// Roles (DESIGN §8), declared in the order their names sort, so that a std::set<Role> lists
// them in the order the format writes them.
enum class Role { admin, approver, auditor, requester, rotator };
inline constexpr Role k_roles[] = {Role::admin, Role::approver, Role::auditor, Role::requester, Role::rotator};
std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);

enum class VersionState { current, pending, previous, retired, compromised, failed };
inline constexpr VersionState k_version_states[] = {VersionState::current,  VersionState::pending,
                                                    VersionState::previous, VersionState::retired,
                                                    VersionState::compromised, VersionState::failed};
std::string_view version_state_name(VersionState state);
std::optional<VersionState> parse_version_state(std::string_view name);

enum class SecretState { active, retired };
inline constexpr SecretState k_secret_states[] = {SecretState::active, SecretState::retired};
std::string_view secret_state_name(SecretState state);
std::optional<SecretState> parse_secret_state(std::string_view name);

// How a connector receives a value (lib/escrow/connectors/ has one implementation per kind;
// docs/CONNECTORS.md). node_red is spelled "node-red".
enum class ConnectorKind { command, manual, postgres, http, node_red, mysql };
inline constexpr ConnectorKind k_connector_kinds[] = {ConnectorKind::command, ConnectorKind::manual,
                                                      ConnectorKind::postgres, ConnectorKind::http,
                                                      ConnectorKind::node_red, ConnectorKind::mysql};
std::string_view connector_kind_name(ConnectorKind kind);
std::optional<ConnectorKind> parse_connector_kind(std::string_view name);

// The methods an http connector may send ("PUT", "POST", "PATCH").
enum class HttpMethod { put, post, patch };
inline constexpr HttpMethod k_http_methods[] = {HttpMethod::put, HttpMethod::post, HttpMethod::patch};
std::string_view http_method_name(HttpMethod method);
std::optional<HttpMethod> parse_http_method(std::string_view name);

// JSON output (--json, journal details, notify events) writes the names, never the numbers
// nlohmann would write for an enum by default.
void to_json(Json& json, Role role);
void to_json(Json& json, VersionState state);
void to_json(Json& json, SecretState state);
void to_json(Json& json, ConnectorKind kind);
void to_json(Json& json, HttpMethod method);
// "admin, rotator" (for people).
std::string join_roles(const std::set<Role>& roles, std::string_view separator = ", ");

struct EnvPolicy
{
  std::int64_t min_threshold = 1;
  std::int64_t max_ttl = 24 * 3600; // seconds
  bool require_why = true;
  std::int64_t every = 0;           // default rotation cadence, seconds; 0 = none
  std::int64_t keep = 3;            // versions kept besides current (previous + retired)
};

// The native kinds' settings (docs/CONNECTORS.md) of escrow-vault/2's connector-add operation and
// `c:` record (vault-2-operations.md §7). Each kind stores exactly its own fields and no other; command and manual connectors store none of
// them. No field ever holds a value: the connector's own credential is a secret of the vault,
// named by auth_secret.
struct ConnectorSettings
{
  std::string auth_secret;          // postgres, mysql, http, node-red: ENV/NAME ("" = none)
  std::string conninfo;             // postgres: libpq connection string; mysql: host= port= user= [database=] [socket=]; never a password
  std::string role;                 // postgres: the role whose password rotates
  std::string alternate_role;       // postgres: the second role of alternating roles ("" = one role)
  std::string db_user;              // mysql: the account's user name
  std::string db_host;              // mysql: the account's host part ('%' by default)
  std::string url;                  // http: the request's URL; node-red: the Admin API's base URL
  HttpMethod method = HttpMethod::put; // http
  std::string body;                 // http: JSON template ({{value}}, {{auth}})
  std::vector<std::string> headers; // http: "Name: template" ({{auth}} only)
  std::int64_t expect_status = 0;   // http: the update's expected status; 0 = any 2xx
  std::string verify_url;           // http (optional), node-red (required): GET for the verify step
  std::int64_t verify_expect_status = 0; // with verify_url (100-599), else 0
  std::string cacert;               // http, node-red: PEM of the CAs to trust ("" = the system's)
  std::string node;                 // node-red: the config node's id
  std::string field;                // node-red: its credential field
  std::string auth_user;            // node-red: the adminAuth user ("" = no adminAuth)

  friend bool operator==(const ConnectorSettings&, const ConnectorSettings&) = default;
};

// A connector as the drivers run it (connectors/connector.hpp), made from escrow-vault/2's
// connector (history::connector_record).
struct ConnectorRecord : ConnectorSettings
{
  std::string name;
  std::string env;
  ConnectorKind kind = ConnectorKind::command;
  std::string update;
  std::string verify;
  std::string instructions; // manual: who pastes where
  std::int64_t timeout = 60;
  Timestamp created_at = 0;
  std::string rehearse_with; // a staging twin `escrow rehearse` uses instead of it ("" = none)
};

// The settings of a native kind as JSON members (exactly the kind's own; none for command and
// manual), the one spelling of escrow-vault/2's connector-add / `c:` (keys: auth_secret conninfo
// role alternate_role user host url method body headers expect_status verify_url verify_expect_status cacert node field auth_user).
void put_native_settings(Json& out, ConnectorKind kind, const ConnectorSettings& settings);
// Whether `key` is one of those members (for a reader that holds them among its own fields).
[[nodiscard]] bool is_native_setting_key(std::string_view key);
// Strict: `settings` (an object holding only setting members) must hold exactly kind's settings,
// each valid (lengths, URLs, statuses, PEM, an auth_secret of `env`, alternate_role a second role, auth_user with auth_secret). Error(integrity) "<what>: …".
ConnectorSettings native_settings_from_json(ConnectorKind kind, std::string_view env, const Json& settings,
                                            std::string_view what);

// Names. Secret names are ENV/NAME: ENV is 1-32 of [a-z0-9_-]; NAME is 1-128 bytes of segments
// of [A-Za-z0-9._-] joined by '/', no empty, "." or ".." segment.
[[nodiscard]] bool valid_env_name(std::string_view env);
// Splits and checks "ENV/NAME"; throws Error(usage) with the reason.
std::pair<std::string, std::string> split_secret_name(std::string_view full_name);
// Whether text is a well-formed request id (1-32 of [a-z0-9]; escrow writes 16 hex characters).
[[nodiscard]] bool valid_request_id(std::string_view id);

} // namespace escrow

// fmt prints the names too (messages and tables, for people).
template<>
struct fmt::formatter<escrow::Role> : fmt::formatter<std::string_view>
{
  auto format(escrow::Role value, fmt::format_context& ctx) const
  {
    return fmt::formatter<std::string_view>::format(escrow::role_name(value), ctx);
  }
};
template<>
struct fmt::formatter<escrow::VersionState> : fmt::formatter<std::string_view>
{
  auto format(escrow::VersionState value, fmt::format_context& ctx) const
  {
    return fmt::formatter<std::string_view>::format(escrow::version_state_name(value), ctx);
  }
};
template<>
struct fmt::formatter<escrow::SecretState> : fmt::formatter<std::string_view>
{
  auto format(escrow::SecretState value, fmt::format_context& ctx) const
  {
    return fmt::formatter<std::string_view>::format(escrow::secret_state_name(value), ctx);
  }
};
template<>
struct fmt::formatter<escrow::HttpMethod> : fmt::formatter<std::string_view>
{
  auto format(escrow::HttpMethod value, fmt::format_context& ctx) const
  {
    return fmt::formatter<std::string_view>::format(escrow::http_method_name(value), ctx);
  }
};
template<>
struct fmt::formatter<escrow::ConnectorKind> : fmt::formatter<std::string_view>
{
  auto format(escrow::ConnectorKind value, fmt::format_context& ctx) const
  {
    return fmt::formatter<std::string_view>::format(escrow::connector_kind_name(value), ctx);
  }
};
