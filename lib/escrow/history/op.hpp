// Operations of escrow-vault/2 (docs/design/vault-2-operations.md §1.2, §2, §7): the kinds, their
// typed arguments, and `writes` — the hashes of every record and key line an operation changes.
//
//   op     = {"args": ARGS, "writes": [[path, before, after], ...]}
//   path   = "m:NAME" | "p" | "c:NAME" | "s:ENV/NAME" | "k:LINE-KEY"
//   before, after = "" (absent) or b64 of a 32-byte hash; triples sorted by path, one per path
//   LINE-KEY = LOGICAL "#" H24, LOGICAL one of (vault-2.md §3.3)
//     ENV/NAME:g<G>:rk:<member>   ENV/NAME:<vid>:v   ENV/NAME:<vid>:sh:<custodian>
//     ENV/NAME:<vid>:gr:<member>  ENV/NAME:<vid>:ap:<request>:<approver>
//
// Names of kinds, results and other vocabularies exist only here, at the format boundary; code
// uses the enums. Parsing is strict (unknown or missing fields, wrong types, numbers out of range,
// unsorted or repeated set members: Error(integrity) naming the field); check_args() holds the
// structural rules shared by the parser and by commands that build an Op themselves.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/clock.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/records.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace escrow::history {

using canonical::Json;
using crypto::Hash;
using VaultId = std::array<std::uint8_t, 16>;

constexpr std::size_t k_max_items = 10000;        // items of one bulk operation
constexpr std::size_t k_max_writes = 4 * k_max_items + 16; // key writes of one operation
constexpr std::size_t k_max_entry_line = 16u << 20; // 16 MiB per journal line
constexpr std::size_t k_max_why = 1024;
constexpr std::size_t k_max_host = 255;
constexpr std::size_t k_max_command = 4096;     // connector update/verify/instructions, notify
constexpr std::size_t k_max_purpose = 1024;
constexpr std::size_t k_max_custodians = 255;   // Shamir over GF(256)
constexpr std::int64_t k_max_keep = 1000;
constexpr std::int64_t k_max_timeout = 86400;
constexpr std::int64_t k_max_generation = 1000000000;
constexpr std::int64_t k_max_v = 1000000000;

// Operation kinds (§2), in the order their names sort.
enum class OpKind {
  approve,
  compromise,
  confirm,
  connector_add,
  connector_remove,
  custodians_set,
  deny,
  grant_used,
  init,
  journal_loss,
  member_add,
  member_remove,
  member_set,
  policy_set,
  request,
  resolve,
  retire,
  rotate_fail,
  rotate_finish,
  rotate_start,
  secret_add,
  secret_set,
  share,
  unshare,
};
const std::vector<OpKind>& op_kinds();
std::string_view op_kind_name(OpKind kind);
std::optional<OpKind> parse_op_kind(std::string_view name);

// How a rotation item ended (rotate-fail).
enum class FailResult { cancelled, rollback_incomplete, rolled_back, rolling_back };
std::string_view fail_result_name(FailResult result);
std::optional<FailResult> parse_fail_result(std::string_view name);

enum class RotationKind { rollback, rotate };
std::string_view rotation_kind_name(RotationKind kind);
std::optional<RotationKind> parse_rotation_kind(std::string_view name);

// ---- arguments, one struct per kind (§7) ----

struct GenesisMember
{
  std::string name;
  crypto::SignPublicKey sign_pk{};
  crypto::BoxPublicKey box_pk{};
  std::array<std::uint8_t, 16> salt{};
};

struct PolicyValue
{
  std::map<std::string, EnvPolicy> envs; // env or "*"
  std::string notify;
};

struct InitArgs
{
  GenesisMember member;
  PolicyValue policy;
};
struct MemberAddArgs
{
  std::string name;
  crypto::SignPublicKey sign_pk{};
  crypto::BoxPublicKey box_pk{};
  std::set<Role> roles;
  std::set<std::string> envs;
};
struct MemberSetArgs
{
  std::string name;
  std::set<Role> roles;
  std::set<std::string> envs;
};
struct MemberRemoveArgs
{
  std::string name;
};
struct PolicySetArgs
{
  std::string env;
  std::optional<std::int64_t> every;
  std::optional<std::int64_t> keep;
  std::optional<std::int64_t> max_ttl;
  std::optional<std::int64_t> min_threshold;
  std::optional<std::string> notify;
  std::optional<bool> require_why;
};
struct ConnectorAddArgs
{
  std::string name;
  std::string env;
  ConnectorKind kind = ConnectorKind::command;
  std::string update;
  std::string verify;
  std::string instructions;
  std::int64_t timeout = 60;
  std::string rehearse_with;   // "" = none (written only when set)
  ConnectorSettings settings;  // the native kind's own settings (records.hpp), none for command/manual
};
struct ConnectorRemoveArgs
{
  std::string name;
};
struct NewVersion
{
  std::string vid; // 16 lower-case hex
  Hash rk_commit{};
  Hash dk_commit{};
};
struct SecretAddArgs
{
  std::string secret; // ENV/NAME
  std::string owner;
  std::string purpose;
  std::string tier;
  std::vector<std::string> connectors; // in rotation order, no repeats
  std::int64_t every = 0;
  std::string generator;
  bool after_access = false;
  bool escrow_only = false; // written only when true; excludes connectors
  std::set<std::string> custodians;
  std::int64_t threshold = 0;
  NewVersion version;
};
struct SecretSetArgs
{
  std::string secret;
  std::optional<std::string> owner;
  std::optional<std::string> purpose;
  std::optional<std::string> tier;
  std::optional<std::vector<std::string>> connectors;
  std::optional<std::int64_t> every;
  std::optional<std::string> generator;
  std::optional<bool> after_access;
  std::optional<bool> escrow_only;
};
struct CustodiansSetArgs
{
  std::string secret;
  std::set<std::string> custodians;
  std::int64_t threshold = 0;
};
struct ShareItem
{
  std::string secret;
  std::set<std::int64_t> gens;
};
struct ShareArgs
{
  std::string member;
  std::vector<ShareItem> items;
};
struct UnshareArgs
{
  std::string secret;
  std::string member;
};
struct RetireArgs
{
  std::string secret;
};
struct GrantRef
{
  std::string member;
  std::string request;
};
struct RotateItem
{
  RotationKind kind = RotationKind::rotate;
  std::string secret;
  std::string vid;
  // kind rotate only:
  std::int64_t v = 0;
  std::int64_t gen = 0;
  std::optional<Hash> new_gen_rk_commit; // "new_gen": {"rk_commit"}
  Hash dk_commit{};
  std::set<std::string> custodians;
  std::int64_t threshold = 0;
  std::vector<GrantRef> grants; // sorted by member, one per member
  std::string why;
};
struct RotateStartArgs
{
  std::vector<RotateItem> items;
};
struct ConfirmArgs
{
  std::string secret;
  std::string vid;
  std::string connector;
};
struct FinishItem
{
  std::string secret;
  std::string vid;
};
struct RotateFinishArgs
{
  std::vector<FinishItem> items;
};
struct FailItem
{
  std::string secret;
  std::string vid;
  FailResult result = FailResult::cancelled;
};
struct RotateFailArgs
{
  std::vector<FailItem> items;
};
struct CompromiseArgs
{
  std::string secret;
  std::string vid;
};
struct RequestArgs
{
  std::string secret;
  std::string id;
  std::int64_t ttl = 0;
};
struct ApproveArgs
{
  std::string secret;
  std::string request;
  std::string requester;
  std::string vid;
  std::int64_t v = 0;
  Hash dk_commit{};
};
struct DenyArgs
{
  std::string secret;
  std::string request;
};
struct GrantUsedArgs
{
  std::string secret;
  std::string request;
};
struct LostEntry
{
  Hash hash{};
  Timestamp ts = 0;
  std::string actor;
  std::string action; // the lost entry's action as written (any kind, op or event)
};
struct JournalLossArgs
{
  std::vector<LostEntry> lost; // sorted by hash, one per hash
};
struct RaceResolution
{
  std::string secret;
  std::string current;                        // vid
  std::map<std::string, std::int64_t> renumber; // vid -> v
};
struct ResolveArgs
{
  std::set<Hash> voided;  // "void"
  std::set<Hash> exposed;
  std::vector<RaceResolution> rotations; // sorted by secret, one per secret
};

// The variant's alternatives are in OpKind order, so index() == static_cast<size_t>(kind).
using Args = std::variant<ApproveArgs,
                          CompromiseArgs,
                          ConfirmArgs,
                          ConnectorAddArgs,
                          ConnectorRemoveArgs,
                          CustodiansSetArgs,
                          DenyArgs,
                          GrantUsedArgs,
                          InitArgs,
                          JournalLossArgs,
                          MemberAddArgs,
                          MemberRemoveArgs,
                          MemberSetArgs,
                          PolicySetArgs,
                          RequestArgs,
                          ResolveArgs,
                          RetireArgs,
                          RotateFailArgs,
                          RotateFinishArgs,
                          RotateStartArgs,
                          SecretAddArgs,
                          SecretSetArgs,
                          ShareArgs,
                          UnshareArgs>;

OpKind kind_of(const Args& args);

// ---- writes ----

struct Write
{
  std::string path;
  std::optional<Hash> before; // nullopt: absent
  std::optional<Hash> after;

  friend bool operator==(const Write&, const Write&) = default;
};

struct Op
{
  Args args;
  std::vector<Write> writes; // sorted by path, one per path

  OpKind kind() const { return kind_of(args); }
};

// Key lines (vault-2.md §3.3).
enum class KeyLineKind { approval, grant, reader, share, value };
struct KeyLine
{
  KeyLineKind kind = KeyLineKind::value;
  std::string secret;     // ENV/NAME
  std::int64_t gen = 0;   // reader
  std::string vid;        // value, share, grant, approval
  std::string member;     // reader, grant: the holder; share: the custodian; approval: the approver
  std::string request;    // approval

  friend bool operator==(const KeyLine&, const KeyLine&) = default;
};
// "prod/db:g1:rk:alice"
std::string logical_name(const KeyLine& line);
// LOGICAL "#" first 12 bytes of K in lower-case hex
std::string line_key(const KeyLine& line, const Hash& k);
// Parses a LINE-KEY; nullopt when it is not one. `h24` receives the hash prefix.
std::optional<KeyLine> parse_line_key(std::string_view text, std::string* h24 = nullptr);

// Record and key-line paths.
std::string member_record_path(std::string_view name);
std::string connector_record_path(std::string_view name);
std::string secret_record_path(std::string_view secret);
inline constexpr std::string_view k_policy_path = "p";
std::string key_path(const KeyLine& line, const Hash& k);
// What a write path names.
enum class PathKind { member, policy, connector, secret, key };
struct ParsedPath
{
  PathKind kind = PathKind::policy;
  std::string name;         // member, connector, secret (ENV/NAME)
  std::optional<KeyLine> key;
};
std::optional<ParsedPath> parse_path(std::string_view path);

// ---- JSON at the boundary ----

Json args_to_json(const Args& args);
// Strict: Error(integrity) naming `what` and the field. Types only; then check_args.
Args args_from_json(OpKind kind, const Json& json, std::string_view what);
Json op_to_json(const Op& op);
Op op_from_json(OpKind kind, const Json& json, std::string_view what);

// Structural rules of an operation, independent of any state: name syntax, lengths, ranges,
// item counts, writes sorted with well-formed paths and with key lines whose hash prefix
// matches their full hash. Throws Error(`kind`) naming `what` ("usage" in a command,
// "integrity" in the replay).
void check_args(const Op& op, ErrorKind kind, std::string_view what);
void check_args(const Args& args, ErrorKind kind, std::string_view what);

// Name rules (strings at the boundary).
[[nodiscard]] bool valid_vid(std::string_view vid);
[[nodiscard]] bool valid_secret_name(std::string_view secret);
[[nodiscard]] bool valid_env_or_star(std::string_view env);
[[nodiscard]] bool valid_tier(std::string_view tier);
// The environment of ENV/NAME.
std::string_view env_of(std::string_view secret);

} // namespace escrow::history
