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
//             "race_gen"?:{"ever","holders","rk_commit"},"shares":{name:K},"state","threshold","v","why"}}}
// record hash  = H("escrow/v2/record", path || 0x00 || canonical(record))
// state digest = H("escrow/v2/state", concatenation over paths in bytewise order of path || 0x00 || hash)
#pragma once

#include <escrow/history/op.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

// A record's hash under its path, computed once per record object (issue 12 target 5: the
// writes check hashed every record an operation touches twice, before and after). Records in a
// State are immutable (an effect edits a fresh copy, history/apply.cpp edit_*), and a copy or an
// assignment starts empty, so a remembered hash is always the hash of the record as it is.
// Thread-safe (the first writer wins; a reader sees a hash only once it is complete).
class RecordHashMemo
{
public:
  RecordHashMemo() = default;
  RecordHashMemo(const RecordHashMemo&) noexcept {}
  RecordHashMemo& operator=(const RecordHashMemo&) noexcept
  {
    m_state.store(k_empty);
    return *this;
  }

  std::optional<crypto::Hash> get(std::string_view path) const
  {
    if (m_state.load(std::memory_order_acquire) != k_ready || m_path != path) {
      return std::nullopt;
    }
    return m_hash;
  }
  void put(std::string_view path, const crypto::Hash& hash, std::string text = {}) const
  {
    int expected = k_empty;
    if (m_state.compare_exchange_strong(expected, k_writing, std::memory_order_acquire)) {
      m_path = path;
      m_hash = hash;
      m_text = std::move(text);
      m_state.store(k_ready, std::memory_order_release);
    }
  }
  // The canonical text the remembered hash was computed from, when it was kept (a writer's own
  // records: the cache snapshot writes it rather than serialising the record again); else nullptr.
  const std::string* text(std::string_view path) const
  {
    if (m_state.load(std::memory_order_acquire) != k_ready || m_path != path || m_text.empty()) {
      return nullptr;
    }
    return &m_text;
  }

private:
  static constexpr int k_empty = 0;
  static constexpr int k_writing = 1;
  static constexpr int k_ready = 2;
  mutable std::atomic<int> m_state{k_empty};
  mutable std::string m_path;
  mutable crypto::Hash m_hash{};
  mutable std::string m_text;
};

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

  RecordHashMemo hash_memo; // not part of the record
};

struct Policy
{
  std::map<std::string, EnvPolicy> envs; // "*" always present: the default
  std::string notify;

  // The policy of env, else of "*".
  const EnvPolicy& for_env(std::string_view env) const;

  RecordHashMemo hash_memo; // not part of the record
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

  RecordHashMemo hash_memo; // not part of the record
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
  // A rotation race settled by `resolve --current` (vault-2-merge.md §5): both sides created
  // generation `gen` with their own reader key; the state's gens[gen] is the chosen side's, this
  // version keeps its own side's here ("race_gen", written only when set).
  std::optional<Generation> race_gen;
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
  // The generation a version's value is boxed under: its own race_gen, else gens[version.gen]
  // (nullptr when absent).
  const Generation* generation_of(const Version& version) const;

  RecordHashMemo hash_memo; // not part of the record
};

// What a secret's status line depends on, taken from its record or from this machine's cached
// listing (listing.hpp), so that both paths apply the one rule: status() in secrets.hpp.
struct StatusFacts
{
  std::string env;
  std::int64_t every = 0; // the secret's own cadence (0: its environment policy's)
  bool retired = false;
  std::optional<std::int64_t> pending_v;
  std::optional<std::int64_t> current_v;
  Timestamp current_at = 0;   // when the current version was made (with current_v)
  bool live = false;          // some version is live (pending, current or previous: live())
  std::string due;            // the due reasons, joined by ", " ("" = none)

  bool operator==(const StatusFacts&) const = default;
};

// Where a state loaded from this machine's cache (cache.hpp) finds the records it has not read
// yet: the snapshot file, read at an offset. Implemented by history/cache.cpp.
class RecordSource
{
public:
  virtual ~RecordSource() = default;
  // `length` bytes at `offset` of the records section; Error(integrity) naming the file when
  // they cannot be read.
  virtual std::string read(std::uint64_t offset, std::uint64_t length) const = 0;
  // Error(integrity) naming the file: the record at `path` is not the one its index names.
  [[noreturn]] virtual void corrupt(std::string_view path, std::string_view problem) const = 0;
};

// A record not read yet: where its canonical text is, and the record hash it must have.
struct PendingRecord
{
  std::string name;
  Hash hash{};
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// The pending records of one kind (cache.cpp implements it over the snapshot's index, which it
// reads and checks a block at a time).
class PendingIndex
{
public:
  virtual ~PendingIndex() = default;
  // The pending record `name`, or nullptr. May read and check one block of the index.
  virtual const PendingRecord* find(const std::string& name) const = 0;
  // Every pending record of this kind, sorted by name, unique. Reads every block it spans.
  virtual const std::vector<PendingRecord>& all() const = 0;
};

// Reads, checks and parses one pending record of kind T (Member, Connector, Secret): its text
// must hash to `pending.hash` under its path and be exactly the canonical form of what it parses
// to (so the record handed out is the one the verified digest covers). state.cpp.
template <class T>
std::shared_ptr<const T> load_pending(const RecordSource& source, const PendingRecord& pending);
template <>
std::shared_ptr<const Member> load_pending<Member>(const RecordSource& source, const PendingRecord& pending);
template <>
std::shared_ptr<const Connector> load_pending<Connector>(const RecordSource& source, const PendingRecord& pending);
template <>
std::shared_ptr<const Secret> load_pending<Secret>(const RecordSource& source, const PendingRecord& pending);

// load_pending of each of `todo`, in that order, on the calling thread and at most one worker
// (history/batches.hpp): a whole-map read (iterating every secret of a cached state) is a parse
// per record and nothing else. Every record is read and checked; if any fails, the failure of the
// first in `todo`'s order is thrown (what reading them one by one would throw), and none is kept.
template <class T>
std::vector<std::shared_ptr<const T>> load_pending_all(const RecordSource& source,
                                                       const std::vector<const PendingRecord*>& todo);
template <>
std::vector<std::shared_ptr<const Member>> load_pending_all<Member>(const RecordSource& source,
                                                                    const std::vector<const PendingRecord*>& todo);
template <>
std::vector<std::shared_ptr<const Connector>> load_pending_all<Connector>(
  const RecordSource& source, const std::vector<const PendingRecord*>& todo);
template <>
std::vector<std::shared_ptr<const Secret>> load_pending_all<Secret>(const RecordSource& source,
                                                                    const std::vector<const PendingRecord*>& todo);

// The records of one kind, by name: a std::map that a cached state fills lazily (vault-2-replay.md
// §3, "Lazy reading"). A lookup (find, count, at, operator[]) reads at most the one record it
// names; iterating (begin) or size() reads every pending record first, so code that walks the
// records sees all of them, checked. end() reads nothing (a std::map's end is stable). Not
// thread-safe: a const lookup may read a record (one State is used by one thread).
template <class T>
class RecordMap
{
public:
  using Map = std::map<std::string, std::shared_ptr<const T>>;
  using iterator = typename Map::iterator;
  using const_iterator = typename Map::const_iterator;
  using value_type = typename Map::value_type;

  struct Lazy
  {
    std::shared_ptr<const RecordSource> source;
    std::shared_ptr<const PendingIndex> index;
  };

  RecordMap() = default;
  explicit RecordMap(std::shared_ptr<const Lazy> lazy) : m_lazy(std::move(lazy)) {}

  iterator begin() { load_all(); return m_map.begin(); }
  iterator end() { return m_map.end(); }
  const_iterator begin() const { load_all(); return m_map.begin(); }
  const_iterator end() const { return m_map.end(); }

  iterator find(const std::string& name) { load(name); return m_map.find(name); }
  const_iterator find(const std::string& name) const { load(name); return m_map.find(name); }
  std::size_t count(const std::string& name) const { load(name); return m_map.count(name); }
  const std::shared_ptr<const T>& at(const std::string& name) const { load(name); return m_map.at(name); }
  std::shared_ptr<const T>& operator[](const std::string& name) { load(name); return m_map[name]; }
  template <class... A>
  std::pair<iterator, bool> emplace(const std::string& name, A&&... args)
  {
    load(name);
    return m_map.emplace(name, std::forward<A>(args)...);
  }
  std::pair<iterator, bool> insert(const value_type& value)
  {
    load(value.first);
    return m_map.insert(value);
  }
  std::size_t erase(const std::string& name)
  {
    load(name);
    return m_map.erase(name);
  }
  std::size_t size() const { load_all(); return m_map.size(); }
  bool empty() const { return size() == 0; }

  // Every name, sorted, without reading a pending record.
  std::vector<std::string> names() const
  {
    std::vector<std::string> out;
    const std::vector<PendingRecord>* index = m_lazy ? &m_lazy->index->all() : nullptr;
    out.reserve(m_map.size() + (index != nullptr ? index->size() : 0));
    auto loaded = m_map.begin();
    if (index != nullptr) {
      for (const PendingRecord& p : *index) {
        for (; loaded != m_map.end() && loaded->first < p.name; ++loaded) {
          out.push_back(loaded->first);
        }
        if (loaded != m_map.end() && loaded->first == p.name) {
          out.push_back(loaded->first);
          ++loaded;
        } else if (m_read.count(p.name) == 0) {
          out.push_back(p.name); // pending
        }
      }
    }
    for (; loaded != m_map.end(); ++loaded) {
      out.push_back(loaded->first);
    }
    return out;
  }

  // The record hash of `name` when it is known without hashing: a pending record's, or a record
  // read from the source and not replaced since. nullopt otherwise (compute it).
  std::optional<Hash> known_hash(const std::string& name) const
  {
    const PendingRecord* p = pending(name);
    if (p == nullptr) {
      return std::nullopt;
    }
    const auto read = m_read.find(name);
    if (read == m_read.end()) {
      return p->hash; // still pending
    }
    const auto now = m_map.find(name);
    if (now != m_map.end() && now->second == read->second) {
      return p->hash;
    }
    return std::nullopt;
  }

  // The whole index of pending records when no record has been read, written or erased (then
  // it names every record, each with its known hash); nullptr otherwise. Reads every block.
  const std::vector<PendingRecord>* untouched_index() const
  {
    if (!m_lazy || !m_map.empty() || !m_read.empty()) {
      return nullptr;
    }
    return &m_lazy->index->all();
  }

  // How many records are still pending (tests, bench).
  std::size_t pending_count() const
  {
    return m_lazy ? m_lazy->index->all().size() - m_read.size() : 0;
  }

private:
  const PendingRecord* pending(const std::string& name) const
  {
    return m_lazy ? m_lazy->index->find(name) : nullptr;
  }

  void load(const std::string& name) const
  {
    if (!m_lazy || m_read.count(name) > 0) {
      return;
    }
    const PendingRecord* p = pending(name);
    if (p == nullptr) {
      return;
    }
    std::shared_ptr<const T> record = load_pending<T>(*m_lazy->source, *p);
    m_map.emplace(name, record);
    m_read.emplace(name, std::move(record));
  }

  void load_all() const
  {
    if (!m_lazy) {
      return;
    }
    const std::vector<PendingRecord>& index = m_lazy->index->all();
    if (m_read.size() == index.size()) {
      return;
    }
    std::vector<const PendingRecord*> todo;
    todo.reserve(index.size() - m_read.size());
    for (const PendingRecord& p : index) {
      if (m_read.count(p.name) == 0) {
        todo.push_back(&p);
      }
    }
    std::vector<std::shared_ptr<const T>> records = load_pending_all<T>(*m_lazy->source, todo);
    for (std::size_t i = 0; i < todo.size(); ++i) {
      m_map.emplace(todo[i]->name, records[i]);
      m_read.emplace(todo[i]->name, std::move(records[i]));
    }
  }

  // Loaded or written records. A name of the index absent here and present in m_read was erased.
  mutable Map m_map;
  std::shared_ptr<const Lazy> m_lazy;
  // The records read from the source (kept alive: known_hash compares pointers).
  mutable std::map<std::string, std::shared_ptr<const T>> m_read;
};

struct State
{
  bool initialised = false;
  VaultId vault_id{};
  std::string genesis_name;
  RecordMap<Member> members;
  std::shared_ptr<const Policy> policy;
  RecordMap<Connector> connectors;
  RecordMap<Secret> secrets;
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
  // Reads every record a cached state has not read yet (each checked against its hash).
  void load_all() const;
};

Json to_json(const Member& m);
Json to_json(const Policy& p);
Json to_json(const Connector& c);
Json to_json(const Secret& s);
Hash record_hash(std::string_view path, const Json& record);
// The same, remembered in the record (RecordHashMemo): computed at most once per record object.
Hash record_hash(std::string_view path, const Member& m);
Hash record_hash(std::string_view path, const Policy& p);
Hash record_hash(std::string_view path, const Connector& c);
Hash record_hash(std::string_view path, const Secret& s);
// The same hash from the record's canonical text (what the cache's snapshot stores).
Hash record_hash_of_text(std::string_view path, std::string_view canonical_text);

// The record hash of each of `secrets` computed now and remembered in its hash_memo, on the
// calling thread and at most one worker when there are many (a bulk entry writes up to 10,000
// secrets; history/batches.hpp). With `keep_text`, each also remembers its canonical text, which
// the cache snapshot of the state then writes as is (cache.cpp serialize_state).
void memo_secret_hashes(const std::vector<const Secret*>& secrets, bool keep_text);

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
