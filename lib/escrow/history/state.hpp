// The state of an escrow-vault/2 vault: the fold of its authorised operations
// (docs/design/vault-2-operations.md §3, §7).
//
// Records are held through std::shared_ptr<const …>, so copying a State (a snapshot at a fork
// point, the state before an operation) copies pointers, never records; history::apply replaces
// the records an operation changes (copy-on-write). Records are order-independent for commuting
// operations: sets and maps, no counters, no "last modified by".
//
// Canonical record forms (hashed for `writes` and for the state digest):
//   m:NAME   {"added_at","added_by","box_pk","envs":[env],"name","removed_at"?,"removed_by"?,
//             "roles":[role],"sign_pk"}
//   p        {"envs":{env:{"every","keep","max_ttl","min_threshold","require_why"}},"notify"}
//   c:NAME   {"created_at","created_by","env","instructions","kind","timeout","update","verify"}
//   s:ENV/NAME {"after_access","connectors","created_at","created_by","custodians","due":{reason:time},
//             "every","generator","gens":{"G":{"ever","holders":{name:K},"rk_commit"}},"owner",
//             "purpose","requests":{id:{"approvals":{name:{"at","dk_commit","share","v","vid"}},"by",
//             "created_at","denial"?:{"at","by","why"},"ttl","until","used_at"?,"void"?:true,"why"}},
//             "rotation"?:{"confirmed","kind","rolling_back","since","started_by","vid"},
//             "shared_with","state","threshold","tier","versions":{vid:{"created_at","created_by",
//             "custodians","dk_commit","gen","grants":{name:{"key","request","until"}},"material",
//             "shares":{name:K},"state","threshold","v","why"}}}
// record hash  = H("escrow/v2/record", path || 0x00 || canonical(record))
// state digest = H("escrow/v2/state", concatenation over paths in bytewise order of path || 0x00 || hash)
#pragma once

#include <escrow/history/op.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace escrow::history {

struct Member
{
  std::string name;
  crypto::SignPublicKey sign_pk{};
  crypto::BoxPublicKey box_pk{};
  std::set<Role> roles;
  std::set<std::string> envs; // "*" = every environment
  std::string added_by;
  Timestamp added_at = 0;
  std::optional<std::string> removed_by;
  std::optional<Timestamp> removed_at;

  bool active() const { return !removed_at.has_value(); }
  bool has_role(Role role) const { return roles.count(role) > 0; }
};

struct Policy
{
  std::map<std::string, EnvPolicy> envs; // "*" always present: the default
  std::string notify;

  // The policy of env, else of "*".
  const EnvPolicy& for_env(std::string_view env) const;
};

struct Connector
{
  std::string name;
  std::string env;
  ConnectorKind kind = ConnectorKind::command;
  std::string update;
  std::string verify;
  std::string instructions;
  std::int64_t timeout = 60;
  std::string created_by;
  Timestamp created_at = 0;
  std::string rehearse_with;  // "" = none
  ConnectorSettings settings; // the native kind's own (records.hpp)
};

struct Generation
{
  Hash rk_commit{};
  std::map<std::string, Hash> holders; // member -> K of their rk line
  std::set<std::string> ever;          // everyone who ever held it
};

struct GrantKey
{
  std::string request;
  Timestamp until = 0;
  Hash key{}; // K of the gr line
};

struct Version
{
  std::int64_t v = 0;
  std::int64_t gen = 0;
  VersionState state = VersionState::pending;
  std::string created_by;
  Timestamp created_at = 0;
  std::string why;
  Hash dk_commit{};
  Hash material{}; // K of the v line
  std::set<std::string> custodians;
  std::int64_t threshold = 0;
  std::map<std::string, Hash> shares;   // custodian -> K of the sh line
  std::map<std::string, GrantKey> grants; // member -> carried grant
};

struct ApprovalOf
{
  std::string vid;
  std::int64_t v = 0;
  Hash dk_commit{};
  Timestamp at = 0;
  Hash share{}; // K of the ap line
};

struct DenialOf
{
  std::string by;
  std::string why;
  Timestamp at = 0;
};

struct RequestOf
{
  std::string by;
  std::string why;
  std::int64_t ttl = 0;
  Timestamp created_at = 0;
  Timestamp until = 0;
  std::map<std::string, ApprovalOf> approvals; // approver -> approval
  std::optional<DenialOf> denial;
  std::optional<Timestamp> used_at;
  bool voided = false; // "void": true (its requester was removed, the version compromised, …)
};

struct Rotation
{
  std::string vid;
  RotationKind kind = RotationKind::rotate;
  std::string started_by;
  Timestamp since = 0;
  bool rolling_back = false;
  std::set<std::string> confirmed;
};

struct Secret
{
  std::string env;
  std::string name; // ENV/NAME
  std::string owner;
  std::string purpose;
  std::string tier;
  std::vector<std::string> connectors; // rotation order
  std::int64_t every = 0;
  std::string generator;
  bool after_access = false;
  bool escrow_only = false; // lives only in escrow: rotate --due rotates it with no connector
  std::set<std::string> custodians;
  std::int64_t threshold = 0;
  std::set<std::string> shared_with;
  SecretState state = SecretState::active;
  std::string created_by;
  Timestamp created_at = 0;
  std::map<std::string, Timestamp> due; // reason -> since
  std::map<std::int64_t, Generation> gens;
  std::map<std::string, Version> versions; // vid -> version
  std::map<std::string, RequestOf> requests;
  std::optional<Rotation> rotation;

  // The version in state `state` (current/pending: at most one), or nullptr.
  const Version* find_state(VersionState state, std::string* vid = nullptr) const;
  const Version* find(std::string_view vid) const;
  std::int64_t max_v() const;
  std::int64_t max_gen() const;
  // The generation of the current version (0 when there is none).
  std::int64_t current_gen() const;
};

struct State
{
  bool initialised = false;
  VaultId vault_id{};
  std::string genesis_name;
  std::map<std::string, std::shared_ptr<const Member>> members;
  std::shared_ptr<const Policy> policy;
  std::map<std::string, std::shared_ptr<const Connector>> connectors;
  std::map<std::string, std::shared_ptr<const Secret>> secrets;
  std::set<Hash> lost; // acknowledged lost entries (history, not part of the digest)

  const Member* member(std::string_view name) const;
  const Connector* connector(std::string_view name) const;
  const Secret* secret(std::string_view name) const;

  // The canonical record at `path` ("m:…", "p", "c:…", "s:…"), or nullopt when absent.
  std::optional<Json> record(std::string_view path) const;
  // Its hash, or nullopt when absent.
  std::optional<Hash> record_hash(std::string_view path) const;
  // Every record path, in bytewise order.
  std::vector<std::string> paths() const;
  // H("escrow/v2/state", ...) over every record.
  Hash digest() const;
};

Json to_json(const Member& m);
Json to_json(const Policy& p);
Json to_json(const Connector& c);
Json to_json(const Secret& s);
Hash record_hash(std::string_view path, const Json& record);

// Strict readers of the canonical records (the per-machine cache stores them, vault-2-replay.md
// §3): unknown or missing fields, wrong types, unsorted sets, out-of-range numbers and names that
// do not match the path are Error(integrity) naming `what`. to_json(read(x)) == x for every
// record apply() writes.
Member member_from_json(const Json& json, std::string_view name, std::string_view what);
Policy policy_from_json(const Json& json, std::string_view what);
Connector connector_from_json(const Json& json, std::string_view name, std::string_view what);
Secret secret_from_json(const Json& json, std::string_view secret, std::string_view what);
// Reads the record at `path` ("m:…", "p", "c:…", "s:…") into `state`, replacing what was there.
void load_record(State& state, std::string_view path, const Json& json, std::string_view what);

} // namespace escrow::history
