// The signed records of a vault (docs/FORMAT.md has the grammar).
//
// Every record carries "by" (the member who signed it) and "sig": Ed25519 by that member over
// the digest BLAKE2b-256("escrow/v1/record" || 0x00 || message), where
//   message = vault_id (16 bytes) || path || 0x00 || canonical(body)
// and body is the record without "sig" and without its nested signed lists (a secret's
// "versions" and "requests", a request's "approvals" and "denial"). The path names where the
// record lives ("members/alice", "secrets/prod/db#v3", "secrets/prod/db#request/ID/approval/bob";
// see the *_path functions), so a record cannot be moved to another place, secret, request or
// vault.
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

struct Signed
{
  std::string by;
  crypto::Signature sig{};
};

struct MemberRecord : Signed
{
  std::string name;
  crypto::SignPublicKey sign_pk{};
  crypto::BoxPublicKey box_pk{};
  std::set<Role> roles;
  std::set<std::string> envs; // "*" = every environment
  std::string added_by;
  Timestamp added_at = 0;
  std::optional<Timestamp> removed_at;
  std::string removed_by;
  std::string genesis; // b64 salt; only on the genesis admin

  bool active() const { return !removed_at.has_value(); }
  bool has_role(Role role) const { return roles.count(role) > 0; }
  bool reaches(std::string_view env) const
  {
    return envs.count("*") > 0 || envs.count(std::string(env)) > 0;
  }
  std::string fingerprint() const;
};

struct EnvPolicy
{
  std::int64_t min_threshold = 1;
  std::int64_t max_ttl = 24 * 3600; // seconds
  bool require_why = true;
  std::int64_t every = 0;           // default rotation cadence, seconds; 0 = none
  std::int64_t keep = 3;            // versions kept besides current (previous + retired)
};

struct PolicyRecord : Signed
{
  std::map<std::string, EnvPolicy> envs; // "*" is the default for unlisted environments
  std::string notify;                    // command receiving one JSON event per result

  const EnvPolicy& for_env(std::string_view env) const;
};

// The native kinds' settings (docs/CONNECTORS.md), shared by escrow-vault/1's connector record
// and escrow-vault/2's connector-add operation and `c:` record (vault-2-operations.md §7). Each
// kind stores exactly its own fields and no other; command and manual connectors store none of
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

struct ConnectorRecord : Signed, ConnectorSettings
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

struct Grant
{
  std::string key; // b64 crypto_box_seal(DK) to the grantee
  Timestamp until = 0;
  std::string request;
};

struct VersionRecord : Signed
{
  std::int64_t v = 0;
  VersionState state = VersionState::current;
  Timestamp created_at = 0;
  std::string created_by;
  std::string why;
  std::string nonce;      // b64
  std::string ciphertext; // b64
  std::string dk_commit;  // b64
  std::map<std::string, std::string> wrapped; // member -> b64 sealed DK
  std::map<std::string, std::string> shares;  // custodian -> b64 sealed (x || y)
  std::map<std::string, Grant> granted;       // grant holders carried across rotation
};

struct Approval : Signed
{
  std::int64_t v = 0;           // the version whose share is re-sealed
  std::string share;            // b64 crypto_box_seal(x || y) to the requester
  Timestamp created_at = 0;
};

struct Denial : Signed
{
  std::string why;
  Timestamp created_at = 0;
};

struct Request : Signed // by = the requester
{
  std::string id;
  std::string why;
  std::int64_t ttl = 0;
  Timestamp created_at = 0;
  std::optional<Timestamp> used_at;
  std::vector<Approval> approvals;
  std::optional<Denial> denial;

  Timestamp expires_at() const { return created_at + ttl; }
};

struct SecretRecord : Signed
{
  std::string env;
  std::string name;
  std::string owner;
  std::string purpose;
  std::string tier = "standard";
  std::vector<std::string> connectors; // in the order they run (rollback: the reverse)
  bool escrow_only = false; // lives only in escrow (exec/get): rotates with no connector
  std::int64_t every = 0; // rotation cadence, seconds; 0 = none
  std::string generator;  // "len=32,alphabet=base62", "cmd=..." or ""
  bool after_access = false;
  std::vector<std::string> custodians;
  std::int64_t threshold = 0;
  std::vector<std::string> shared_with;
  std::string due;        // why it is due for rotation now ("" = not by event)
  Timestamp due_since = 0;
  SecretState state = SecretState::active;
  Timestamp created_at = 0;
  std::vector<VersionRecord> versions;
  std::vector<Request> requests;

  std::string full_name() const { return env + "/" + name; }
  const VersionRecord* current() const;
  VersionRecord* current();
  const VersionRecord* find_version(std::int64_t v) const;
  std::int64_t next_version() const;
};

// JSON conversion. from_json is strict: unknown or missing fields, wrong types, bad base64 or
// key lengths are Error(integrity) naming `what`.
Json to_json(const MemberRecord& record);
Json to_json(const PolicyRecord& record);
Json to_json(const ConnectorRecord& record);
Json to_json(const SecretRecord& record);
Json to_json(const VersionRecord& record);
Json to_json(const Request& record);
Json to_json(const Approval& record);
Json to_json(const Denial& record);
MemberRecord member_from_json(const Json& json, std::string_view name, std::string_view what);
PolicyRecord policy_from_json(const Json& json, std::string_view what);
ConnectorRecord connector_from_json(const Json& json, std::string_view name, std::string_view what);

// The settings of a native kind as JSON members (exactly the kind's own; none for command and
// manual), the one spelling of escrow-vault/1's connector record and escrow-vault/2's
// connector-add / `c:` (keys: auth_secret conninfo role alternate_role user host url method body
// headers expect_status verify_url verify_expect_status cacert node field auth_user).
void put_native_settings(Json& out, ConnectorKind kind, const ConnectorSettings& settings);
// Whether `key` is one of those members (for a reader that holds them among its own fields).
[[nodiscard]] bool is_native_setting_key(std::string_view key);
// Strict: `settings` (an object holding only setting members) must hold exactly kind's settings,
// each valid (the rules of the connector record: lengths, URLs, statuses, PEM, an auth_secret of
// `env`, alternate_role a second role, auth_user with auth_secret). Error(integrity) "<what>: …".
ConnectorSettings native_settings_from_json(ConnectorKind kind, std::string_view env, const Json& settings,
                                            std::string_view what);
SecretRecord secret_from_json(const Json& json, std::string_view full_name, std::string_view what);

// Record paths.
std::string member_path(std::string_view name);
std::string connector_path(std::string_view name);
std::string secret_path(std::string_view full_name);
std::string version_path(std::string_view full_name, std::int64_t v);
std::string request_path(std::string_view full_name, std::string_view id);
std::string approval_path(std::string_view full_name, std::string_view id, std::string_view by);
std::string denial_path(std::string_view full_name, std::string_view id);

// The bytes a record signature covers. `body` is the record's JSON; "sig" and the nested
// signed lists are dropped here.
Bytes signing_message(ByteView vault_id, std::string_view path, const Json& body);
crypto::Signature sign_body(ByteView vault_id, std::string_view path, const Json& body, const SecretBytes& sign_sk);
// The same, through the identity (its local keys or its agent).
crypto::Signature sign_body(ByteView vault_id, std::string_view path, const Json& body, const Identity& signer);
[[nodiscard]] bool verify_body(ByteView vault_id,
                               std::string_view path,
                               const Json& body,
                               const crypto::Signature& sig,
                               const crypto::SignPublicKey& sign_pk);

// Names. Secret names are ENV/NAME: ENV is 1-32 of [a-z0-9_-]; NAME is 1-128 bytes of segments
// of [A-Za-z0-9._-] joined by '/', no empty, "." or ".." segment.
[[nodiscard]] bool valid_env_name(std::string_view env);
// Splits and checks "ENV/NAME"; throws Error(usage) with the reason.
std::pair<std::string, std::string> split_secret_name(std::string_view full_name);

// The vault id derived from the genesis member (16 bytes).
std::array<std::uint8_t, 16> derive_vault_id(const MemberRecord& genesis);

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
