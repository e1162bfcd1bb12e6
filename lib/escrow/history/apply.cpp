#include <escrow/history/apply.hpp>

#include <escrow/history/batches.hpp>
#include <escrow/history/race_gen.hpp>

#include <algorithm>

namespace escrow::history {

namespace {

[[noreturn]] void missing(std::string_view what)
{
  fail(ErrorKind::integrity, "operation on {}, which does not exist", what);
}

// Saves the record `name` of `records` in `saved` unless the effect saved it already (its first
// change wins: the undo log holds the state before the effect).
template <class T>
void save(const RecordMap<T>& records, std::map<std::string, std::shared_ptr<const T>>& saved, const std::string& name)
{
  if (saved.count(name) == 0) {
    const auto it = records.find(name);
    saved.emplace(name, it == records.end() ? nullptr : it->second);
  }
}

template <class T>
void restore(RecordMap<T>& records, const std::map<std::string, std::shared_ptr<const T>>& saved)
{
  for (const auto& [name, old] : saved) {
    if (old) {
      records[name] = old;
    } else {
      records.erase(name);
    }
  }
}

Member& edit_member(State& s, const std::string& name, Trace& trace)
{
  auto it = s.members.find(name);
  if (it == s.members.end()) {
    missing(member_record_path(name));
  }
  save(s.members, trace.undo.members, name);
  auto copy = std::make_shared<Member>(*it->second);
  it->second = copy;
  trace.touched.insert(member_record_path(name));
  return *copy;
}

// The secret at `it` (found in s.secrets) replaced by `copy`, its record before saved for undo.
Secret& replace_secret(State& s, RecordMap<Secret>::iterator it, std::shared_ptr<Secret> copy, Trace& trace)
{
  save(s.secrets, trace.undo.secrets, it->first);
  it->second = copy;
  trace.touched.insert(secret_record_path(it->first));
  return *copy;
}

RecordMap<Secret>::iterator find_secret_or_fail(State& s, const std::string& name)
{
  auto it = s.secrets.find(name);
  if (it == s.secrets.end()) {
    missing(secret_record_path(name));
  }
  return it;
}

Secret& edit_secret(State& s, const std::string& name, Trace& trace)
{
  const auto it = find_secret_or_fail(s, name);
  return replace_secret(s, it, std::make_shared<Secret>(*it->second), trace);
}

// edit_secret of each of `names` (a bulk entry's items, sorted and distinct), the copies made
// together: on the calling thread and at most one worker when there are many (a bulk share or
// rotation of 1,000 secrets copies 1,000 records; history/batches.hpp). The first missing
// secret, in order, fails before any is edited.
std::vector<Secret*> edit_secrets(State& s, const std::vector<std::string>& names, Trace& trace)
{
  std::vector<Secret*> out;
  out.reserve(names.size());
  // A repeated name must see its earlier edit: one by one (check_args refuses repeats in an entry).
  if (!std::is_sorted(names.begin(), names.end())
      || std::adjacent_find(names.begin(), names.end()) != names.end()) {
    for (const std::string& name : names) {
      out.push_back(&edit_secret(s, name, trace));
    }
    return out;
  }
  std::vector<RecordMap<Secret>::iterator> found;
  found.reserve(names.size());
  for (const std::string& name : names) {
    found.push_back(find_secret_or_fail(s, name));
  }
  std::vector<std::shared_ptr<Secret>> copies(names.size());
  for_each_index(names.size(), [&](std::size_t i) { copies[i] = std::make_shared<Secret>(*found[i]->second); });
  for (std::size_t i = 0; i < names.size(); ++i) {
    out.push_back(&replace_secret(s, found[i], std::move(copies[i]), trace));
  }
  return out;
}

template <class Item>
std::vector<std::string> item_secrets(const std::vector<Item>& items)
{
  std::vector<std::string> out;
  out.reserve(items.size());
  for (const Item& item : items) {
    out.push_back(item.secret);
  }
  return out;
}

void save_policy(const State& s, Trace& trace)
{
  if (!trace.undo.policy) {
    trace.undo.policy = s.policy;
  }
}

Policy& edit_policy(State& s, Trace& trace)
{
  save_policy(s, trace);
  auto copy = s.policy ? std::make_shared<Policy>(*s.policy) : std::make_shared<Policy>();
  s.policy = copy;
  trace.touched.insert(std::string(k_policy_path));
  return *copy;
}

// Due reasons keep their earliest time, so two operations adding one reason commute.
void add_due(Secret& secret, const std::string& reason, Timestamp at)
{
  const auto it = secret.due.find(reason);
  if (it == secret.due.end() || at < it->second) {
    secret.due[reason] = at;
  }
}

// Whether `name` is a standing reader of `secret` in `s` (standing_readers without the loop).
bool standing(const State& s, const Secret& secret, const std::string& name)
{
  if (!reaches(s, name, secret.env)) {
    return false;
  }
  return name == secret.owner || has_role(s, name, Role::rotator) || secret.shared_with.count(name) > 0;
}

bool open_request(const RequestOf& r)
{
  return !r.denial && !r.voided;
}

// The key lines an entry adds, by secret, in the entry's order: built once per operation, so a
// bulk entry's N items find theirs in log N, not by N scans of its up to 40,016 key writes.
class AddedKeys
{
public:
  explicit AddedKeys(const Context& ctx)
  {
    for (const KeyWrite& k : ctx.keys) {
      if (k.added) {
        m_by_secret[k.line.secret].push_back(&k);
      }
    }
  }

  const std::vector<const KeyWrite*>& of(std::string_view secret) const
  {
    static const std::vector<const KeyWrite*> none;
    const auto it = m_by_secret.find(secret);
    return it == m_by_secret.end() ? none : it->second;
  }

private:
  std::map<std::string_view, std::vector<const KeyWrite*>> m_by_secret;
};

void delete_grants(Secret& secret, const std::string& vid, Version& version, Trace& trace)
{
  for (const auto& [member, grant] : version.grants) {
    trace.deleted.push_back(KeyWrite{KeyLine{KeyLineKind::grant, secret.name, 0, vid, member, {}}, grant.key, false});
  }
  version.grants.clear();
}

// Retention (vault.md §4): only the newest `keep` non-current versions keep their lines; a
// generation no remaining version uses loses its reader keys.
void retain(Secret& secret, std::int64_t keep, Trace& trace)
{
  std::vector<std::pair<std::int64_t, std::string>> older;
  for (const auto& [vid, v] : secret.versions) {
    if (v.state != VersionState::current) {
      older.emplace_back(v.v, vid);
    }
  }
  std::sort(older.begin(), older.end(), std::greater<>());
  for (std::size_t i = static_cast<std::size_t>(std::max<std::int64_t>(keep, 0)); i < older.size(); ++i) {
    const std::string vid = older[i].second;
    Version& version = secret.versions.at(vid);
    trace.deleted.push_back(KeyWrite{KeyLine{KeyLineKind::value, secret.name, 0, vid, {}, {}}, version.material, false});
    for (const auto& [custodian, k] : version.shares) {
      trace.deleted.push_back(KeyWrite{KeyLine{KeyLineKind::share, secret.name, 0, vid, custodian, {}}, k, false});
    }
    delete_grants(secret, vid, version, trace);
    if (version.race_gen) {
      // A settled rotation race's own generation goes with its version (vault-2-merge.md §5).
      for (const auto& [member, k] : version.race_gen->holders) {
        trace.deleted.push_back(KeyWrite{KeyLine{KeyLineKind::reader, secret.name, version.gen, {}, member, {}}, k, false});
      }
    }
    for (auto& [id, request] : secret.requests) {
      for (auto it = request.approvals.begin(); it != request.approvals.end();) {
        if (it->second.vid == vid) {
          trace.deleted.push_back(
            KeyWrite{KeyLine{KeyLineKind::approval, secret.name, 0, vid, it->first, id}, it->second.share, false});
          it = request.approvals.erase(it);
        } else {
          ++it;
        }
      }
    }
    secret.versions.erase(vid);
  }
  for (auto it = secret.gens.begin(); it != secret.gens.end();) {
    const std::int64_t g = it->first;
    const bool used = std::any_of(secret.versions.begin(), secret.versions.end(),
                                  [g](const auto& item) { return item.second.gen == g && !item.second.race_gen; });
    if (used) {
      ++it;
      continue;
    }
    for (const auto& [member, k] : it->second.holders) {
      trace.deleted.push_back(KeyWrite{KeyLine{KeyLineKind::reader, secret.name, g, {}, member, {}}, k, false});
    }
    it = secret.gens.erase(it);
  }
}

struct Effects
{
  State& s;
  const Context& ctx;
  Trace& trace;
  const AddedKeys& added;

  void operator()(const InitArgs& a) const
  {
    if (!trace.undo.head) {
      trace.undo.head = true;
      trace.undo.initialised = s.initialised;
      trace.undo.vault_id = s.vault_id;
      trace.undo.genesis_name = s.genesis_name;
    }
    s.initialised = true;
    s.vault_id = ctx.vault;
    s.genesis_name = a.member.name;
    auto m = std::make_shared<Member>();
    m->name = a.member.name;
    m->sign_pk = a.member.sign_pk;
    m->box_pk = a.member.box_pk;
    m->roles = {Role::admin};
    m->envs = {"*"};
    m->added_by = a.member.name;
    m->added_at = ctx.ts;
    save(s.members, trace.undo.members, a.member.name);
    s.members[a.member.name] = m;
    trace.touched.insert(member_record_path(a.member.name));
    auto p = std::make_shared<Policy>();
    p->envs = a.policy.envs;
    p->notify = a.policy.notify;
    save_policy(s, trace);
    s.policy = p;
    trace.touched.insert(std::string(k_policy_path));
  }
  void operator()(const MemberAddArgs& a) const
  {
    auto m = std::make_shared<Member>();
    m->name = a.name;
    m->sign_pk = a.sign_pk;
    m->box_pk = a.box_pk;
    m->roles = a.roles;
    m->envs = a.envs;
    m->added_by = ctx.actor;
    m->added_at = ctx.ts;
    save(s.members, trace.undo.members, a.name);
    s.members[a.name] = m;
    trace.touched.insert(member_record_path(a.name));
  }
  void operator()(const MemberSetArgs& a) const
  {
    std::vector<std::string> readers_before;
    for (const auto& [name, secret] : s.secrets) {
      if (standing(s, *secret, a.name)) {
        readers_before.push_back(name);
      }
    }
    Member& m = edit_member(s, a.name, trace);
    m.roles = a.roles;
    m.envs = a.envs;
    for (const std::string& name : readers_before) {
      if (!standing(s, *s.secrets.at(name), a.name)) {
        add_due(edit_secret(s, name, trace), fmt::format("access of {} changed", a.name), ctx.ts);
      }
    }
  }
  void operator()(const MemberRemoveArgs& a) const
  {
    Member& m = edit_member(s, a.name, trace);
    m.removed_by = ctx.actor;
    m.removed_at = ctx.ts;
    std::vector<std::string> names;
    for (const auto& [name, secret] : s.secrets) {
      names.push_back(name);
    }
    for (const std::string& name : names) {
      const Secret& view = *s.secrets.at(name);
      bool held = false;
      for (const auto& [vid, v] : view.versions) {
        if (!live(v)) {
          continue;
        }
        const auto gen = view.gens.find(v.gen);
        held = held || (gen != view.gens.end() && gen->second.ever.count(a.name) > 0)
               || v.grants.count(a.name) > 0 || v.shares.count(a.name) > 0;
      }
      bool requests = false;
      for (const auto& [id, r] : view.requests) {
        requests = requests || (r.by == a.name && open_request(r));
      }
      if (!held && !requests && view.shared_with.count(a.name) == 0 && view.custodians.count(a.name) == 0) {
        continue;
      }
      Secret& secret = edit_secret(s, name, trace);
      secret.shared_with.erase(a.name);
      if (secret.custodians.erase(a.name) > 0) {
        const auto n = static_cast<std::int64_t>(secret.custodians.size());
        secret.threshold = n == 0 ? 0 : std::max<std::int64_t>(1, std::min(secret.threshold, n));
      }
      for (auto& [id, r] : secret.requests) {
        if (r.by == a.name && open_request(r)) {
          r.voided = true;
        }
      }
      if (held) {
        add_due(secret, fmt::format("member {} removed", a.name), ctx.ts);
      }
    }
  }
  void operator()(const PolicySetArgs& a) const
  {
    Policy& p = edit_policy(s, trace);
    EnvPolicy e = p.for_env(a.env);
    if (a.every) {
      e.every = *a.every;
    }
    if (a.keep) {
      e.keep = *a.keep;
    }
    if (a.max_ttl) {
      e.max_ttl = *a.max_ttl;
    }
    if (a.min_threshold) {
      e.min_threshold = *a.min_threshold;
    }
    if (a.require_why) {
      e.require_why = *a.require_why;
    }
    p.envs[a.env] = e;
    if (a.notify) {
      p.notify = *a.notify;
    }
  }
  void operator()(const ConnectorAddArgs& a) const
  {
    auto c = std::make_shared<Connector>();
    c->name = a.name;
    c->env = a.env;
    c->kind = a.kind;
    c->update = a.update;
    c->verify = a.verify;
    c->instructions = a.instructions;
    c->timeout = a.timeout;
    c->rehearse_with = a.rehearse_with;
    c->settings = a.settings;
    c->created_by = ctx.actor;
    c->created_at = ctx.ts;
    save(s.connectors, trace.undo.connectors, a.name);
    s.connectors[a.name] = c;
    trace.touched.insert(connector_record_path(a.name));
  }
  void operator()(const ConnectorRemoveArgs& a) const
  {
    save(s.connectors, trace.undo.connectors, a.name);
    if (s.connectors.erase(a.name) == 0) {
      missing(connector_record_path(a.name));
    }
    trace.touched.insert(connector_record_path(a.name));
  }
  void operator()(const SecretAddArgs& a) const
  {
    auto secret = std::make_shared<Secret>();
    secret->env = std::string(env_of(a.secret));
    secret->name = a.secret;
    secret->owner = a.owner;
    secret->purpose = a.purpose;
    secret->tier = a.tier;
    secret->connectors = a.connectors;
    secret->every = a.every;
    secret->generator = a.generator;
    secret->after_access = a.after_access;
    secret->escrow_only = a.escrow_only;
    secret->custodians = a.custodians;
    secret->threshold = a.threshold;
    secret->state = SecretState::active;
    secret->created_by = ctx.actor;
    secret->created_at = ctx.ts;
    Generation& gen = secret->gens[1];
    gen.rk_commit = a.version.rk_commit;
    Version& version = secret->versions[a.version.vid];
    version.v = 1;
    version.gen = 1;
    version.state = VersionState::current;
    version.created_by = ctx.actor;
    version.created_at = ctx.ts;
    version.why = ctx.why.value_or("");
    version.dk_commit = a.version.dk_commit;
    version.custodians = a.custodians;
    version.threshold = a.threshold;
    for (const KeyWrite* key : added.of(a.secret)) {
      const KeyWrite& k = *key;
      switch (k.line.kind) {
      case KeyLineKind::reader:
        gen.holders[k.line.member] = k.k;
        gen.ever.insert(k.line.member);
        break;
      case KeyLineKind::value: version.material = k.k; break;
      case KeyLineKind::share: version.shares[k.line.member] = k.k; break;
      default: break;
      }
    }
    save(s.secrets, trace.undo.secrets, a.secret);
    s.secrets[a.secret] = secret;
    trace.touched.insert(secret_record_path(a.secret));
  }
  void operator()(const SecretSetArgs& a) const
  {
    const auto found = s.secrets.find(a.secret);
    if (found == s.secrets.end()) {
      missing(secret_record_path(a.secret));
    }
    const std::string old_owner = found->second->owner;
    const bool old_owner_standing = standing(s, *found->second, old_owner);
    Secret& secret = edit_secret(s, a.secret, trace);
    if (a.owner) {
      secret.owner = *a.owner;
    }
    if (a.purpose) {
      secret.purpose = *a.purpose;
    }
    if (a.tier) {
      secret.tier = *a.tier;
    }
    if (a.connectors) {
      secret.connectors = *a.connectors;
    }
    if (a.every) {
      secret.every = *a.every;
    }
    if (a.generator) {
      secret.generator = *a.generator;
    }
    if (a.after_access) {
      secret.after_access = *a.after_access;
    }
    if (a.escrow_only) {
      secret.escrow_only = *a.escrow_only;
    }
    for (const KeyWrite* key : added.of(a.secret)) {
      const KeyWrite& k = *key;
      if (k.line.kind == KeyLineKind::reader) {
        Generation& gen = secret.gens[k.line.gen];
        gen.holders[k.line.member] = k.k;
        gen.ever.insert(k.line.member);
      }
    }
    if (a.owner && *a.owner != old_owner && old_owner_standing && !standing(s, secret, old_owner)) {
      add_due(secret, "owner changed", ctx.ts);
    }
  }
  void operator()(const CustodiansSetArgs& a) const
  {
    Secret& secret = edit_secret(s, a.secret, trace);
    secret.custodians = a.custodians;
    secret.threshold = a.threshold;
    add_due(secret, "custodians changed", ctx.ts);
  }
  void operator()(const ShareArgs& a) const
  {
    const std::vector<Secret*> edited = edit_secrets(s, item_secrets(a.items), trace);
    for (std::size_t i = 0; i < a.items.size(); ++i) {
      const ShareItem& item = a.items[i];
      Secret& secret = *edited[i];
      if (!standing(s, secret, a.member)) {
        secret.shared_with.insert(a.member);
      }
      for (const KeyWrite* key : added.of(item.secret)) {
        const KeyWrite& k = *key;
        if (k.line.kind != KeyLineKind::reader) {
          continue;
        }
        // The secret's own generation of that number, else a settled race's (race_gen.hpp).
        const std::string race_vid = share_target(secret, k.line.gen, k.line.member).race_vid;
        const auto race = race_vid.empty() ? secret.versions.end() : secret.versions.find(race_vid);
        Generation& gen = race != secret.versions.end() ? *race->second.race_gen : secret.gens[k.line.gen];
        gen.holders[k.line.member] = k.k;
        gen.ever.insert(k.line.member);
      }
    }
  }
  void operator()(const UnshareArgs& a) const
  {
    Secret& secret = edit_secret(s, a.secret, trace);
    secret.shared_with.erase(a.member);
    bool held_live = false;
    for (auto& [g, gen] : secret.gens) {
      const auto it = gen.holders.find(a.member);
      if (it == gen.holders.end()) {
        continue;
      }
      trace.deleted.push_back(KeyWrite{KeyLine{KeyLineKind::reader, secret.name, g, {}, a.member, {}}, it->second, false});
      gen.holders.erase(it);
      const std::int64_t generation = g;
      held_live = held_live || std::any_of(secret.versions.begin(), secret.versions.end(), [&](const auto& item) {
                    return item.second.gen == generation && live(item.second);
                  });
    }
    for (auto& [vid, version] : secret.versions) {
      // A settled rotation race's own generation (vault-2-merge.md §5) loses the member's key too.
      if (!version.race_gen) {
        continue;
      }
      const auto it = version.race_gen->holders.find(a.member);
      if (it == version.race_gen->holders.end()) {
        continue;
      }
      trace.deleted.push_back(
        KeyWrite{KeyLine{KeyLineKind::reader, secret.name, version.gen, {}, a.member, {}}, it->second, false});
      version.race_gen->holders.erase(it);
      held_live = held_live || live(version);
    }
    if (held_live) {
      add_due(secret, fmt::format("unshared from {}", a.member), ctx.ts);
    }
  }
  void operator()(const RetireArgs& a) const
  {
    Secret& secret = edit_secret(s, a.secret, trace);
    secret.state = SecretState::retired;
    for (auto& [id, r] : secret.requests) {
      if (open_request(r)) {
        r.voided = true;
      }
    }
    for (auto& [vid, version] : secret.versions) {
      delete_grants(secret, vid, version, trace);
    }
  }
  void operator()(const RotateStartArgs& a) const
  {
    const std::vector<Secret*> edited = edit_secrets(s, item_secrets(a.items), trace);
    for (std::size_t i = 0; i < a.items.size(); ++i) {
      const RotateItem& item = a.items[i];
      Secret& secret = *edited[i];
      secret.rotation = Rotation{item.vid, item.kind, ctx.actor, ctx.ts, false, {}};
      if (item.kind == RotationKind::rollback) {
        continue;
      }
      Generation& gen = secret.gens[item.gen];
      if (item.new_gen_rk_commit) {
        gen.rk_commit = *item.new_gen_rk_commit;
      }
      Version& version = secret.versions[item.vid];
      version.v = item.v;
      version.gen = item.gen;
      version.state = VersionState::pending;
      version.created_by = ctx.actor;
      version.created_at = ctx.ts;
      version.why = item.why;
      version.dk_commit = item.dk_commit;
      version.custodians = item.custodians;
      version.threshold = item.threshold;
      for (const KeyWrite* key : added.of(item.secret)) {
        const KeyWrite& k = *key;
        switch (k.line.kind) {
        case KeyLineKind::reader:
          gen.holders[k.line.member] = k.k;
          gen.ever.insert(k.line.member);
          break;
        case KeyLineKind::value: version.material = k.k; break;
        case KeyLineKind::share: version.shares[k.line.member] = k.k; break;
        case KeyLineKind::grant:
          for (const GrantRef& g : item.grants) {
            if (g.member == k.line.member) {
              const auto r = secret.requests.find(g.request);
              version.grants[g.member] = GrantKey{g.request, r == secret.requests.end() ? 0 : r->second.until, k.k};
            }
          }
          break;
        case KeyLineKind::approval: break;
        }
      }
    }
  }
  void operator()(const ConfirmArgs& a) const
  {
    Secret& secret = edit_secret(s, a.secret, trace);
    if (!secret.rotation) {
      missing(fmt::format("a rotation of {}", a.secret));
    }
    secret.rotation->confirmed.insert(a.connector);
  }
  void operator()(const RotateFinishArgs& a) const
  {
    const std::vector<Secret*> edited = edit_secrets(s, item_secrets(a.items), trace);
    for (std::size_t i = 0; i < a.items.size(); ++i) {
      const FinishItem& item = a.items[i];
      Secret& secret = *edited[i];
      if (!secret.rotation || secret.versions.count(item.vid) == 0) {
        missing(fmt::format("a rotation of {}", item.secret));
      }
      const RotationKind kind = secret.rotation->kind;
      for (auto& [vid, version] : secret.versions) {
        if (vid == item.vid) {
          version.state = VersionState::current;
        } else if (version.state == VersionState::current) {
          version.state = VersionState::previous;
        } else if (kind == RotationKind::rotate && version.state == VersionState::previous) {
          version.state = VersionState::retired;
        }
      }
      const std::int64_t keep = s.policy ? s.policy->for_env(secret.env).keep : EnvPolicy{}.keep;
      retain(secret, keep, trace);
      if (kind == RotationKind::rotate) {
        secret.due.clear();
      } else {
        secret.due.erase(std::string(k_due_rollback_incomplete));
        secret.due.erase(std::string(k_due_race_resolved));
      }
      secret.rotation.reset();
    }
  }
  void operator()(const RotateFailArgs& a) const
  {
    const std::vector<Secret*> edited = edit_secrets(s, item_secrets(a.items), trace);
    for (std::size_t i = 0; i < a.items.size(); ++i) {
      const FailItem& item = a.items[i];
      Secret& secret = *edited[i];
      if (!secret.rotation) {
        missing(fmt::format("a rotation of {}", item.secret));
      }
      switch (item.result) {
      case FailResult::rolling_back: secret.rotation->rolling_back = true; break;
      case FailResult::rollback_incomplete: add_due(secret, std::string(k_due_rollback_incomplete), ctx.ts); break;
      case FailResult::rolled_back:
      case FailResult::cancelled: {
        const auto it = secret.versions.find(item.vid);
        if (secret.rotation->kind == RotationKind::rotate && it != secret.versions.end()
            && it->second.state == VersionState::pending) {
          it->second.state = VersionState::failed;
        }
        secret.rotation.reset();
        break;
      }
      }
    }
  }
  void operator()(const CompromiseArgs& a) const
  {
    Secret& secret = edit_secret(s, a.secret, trace);
    const auto it = secret.versions.find(a.vid);
    if (it == secret.versions.end()) {
      missing(fmt::format("version {} of {}", a.vid, a.secret));
    }
    it->second.state = VersionState::compromised;
    for (auto& [id, r] : secret.requests) {
      if (open_request(r)) {
        r.voided = true;
      }
    }
    delete_grants(secret, a.vid, it->second, trace);
  }
  void operator()(const RequestArgs& a) const
  {
    Secret& secret = edit_secret(s, a.secret, trace);
    RequestOf& r = secret.requests[a.id];
    r.by = ctx.actor;
    r.why = ctx.why.value_or("");
    r.ttl = a.ttl;
    r.created_at = ctx.ts;
    r.until = ctx.ts + a.ttl;
  }
  void operator()(const ApproveArgs& a) const
  {
    Secret& secret = edit_secret(s, a.secret, trace);
    const auto r = secret.requests.find(a.request);
    if (r == secret.requests.end()) {
      missing(fmt::format("request {} of {}", a.request, a.secret));
    }
    ApprovalOf approval{a.vid, a.v, a.dk_commit, ctx.ts, {}};
    for (const KeyWrite* key : added.of(a.secret)) {
      const KeyWrite& k = *key;
      if (k.line.kind == KeyLineKind::approval) {
        approval.share = k.k;
      }
    }
    r->second.approvals[ctx.actor] = approval;
  }
  void operator()(const DenyArgs& a) const
  {
    Secret& secret = edit_secret(s, a.secret, trace);
    const auto r = secret.requests.find(a.request);
    if (r == secret.requests.end()) {
      missing(fmt::format("request {} of {}", a.request, a.secret));
    }
    r->second.denial = DenialOf{ctx.actor, ctx.why.value_or(""), ctx.ts};
  }
  void operator()(const GrantUsedArgs& a) const
  {
    Secret& secret = edit_secret(s, a.secret, trace);
    const auto r = secret.requests.find(a.request);
    if (r == secret.requests.end()) {
      missing(fmt::format("request {} of {}", a.request, a.secret));
    }
    r->second.used_at = ctx.ts;
    if (secret.after_access) {
      add_due(secret, "accessed via grant", ctx.ts);
    }
  }
  void operator()(const JournalLossArgs& a) const
  {
    for (const LostEntry& e : a.lost) {
      if (s.lost.insert(e.hash).second) {
        trace.undo.lost.push_back(e.hash);
      }
    }
  }
  void operator()(const ResolveArgs&) const
  {
    // Its voids act at its merge point (the replay leaves the voided operations out of the merged
    // state, merge_check.hpp); the entry itself changes no record.
  }
};

std::string describe(const std::optional<Hash>& h)
{
  return h ? short_hash(*h) : std::string("absent");
}

} // namespace

void run_effects(State& state, const Context& ctx, const Args& args, Trace& trace)
{
  const AddedKeys added(ctx);
  std::visit(Effects{state, ctx, trace, added}, args);
}

void undo(State& state, const Trace& trace)
{
  const Trace::Undo& u = trace.undo;
  restore(state.members, u.members);
  restore(state.connectors, u.connectors);
  restore(state.secrets, u.secrets);
  if (u.policy) {
    state.policy = *u.policy;
  }
  if (u.head) {
    state.initialised = u.initialised;
    state.vault_id = u.vault_id;
    state.genesis_name = u.genesis_name;
  }
  for (const Hash& h : u.lost) {
    state.lost.erase(h);
  }
}

namespace {

template <class T>
std::optional<Hash> saved_hash(const std::string& path, const std::shared_ptr<const T>& record)
{
  if (!record) {
    return std::nullopt;
  }
  return record_hash(path, *record);
}

// The hash `path` had before the effect traced in `trace` ran on `after`: the undo log's record
// when the effect replaced or removed it, else the record of `after` (unchanged).
std::optional<Hash> before_hash(const State& after, const Trace& trace, const std::string& path)
{
  const Trace::Undo& u = trace.undo;
  const std::optional<ParsedPath> parsed = parse_path(path);
  if (parsed) {
    switch (parsed->kind) {
    case PathKind::member:
      if (const auto it = u.members.find(parsed->name); it != u.members.end()) {
        return saved_hash(path, it->second);
      }
      break;
    case PathKind::policy:
      if (u.policy) {
        return saved_hash(path, *u.policy);
      }
      break;
    case PathKind::connector:
      if (const auto it = u.connectors.find(parsed->name); it != u.connectors.end()) {
        return saved_hash(path, it->second);
      }
      break;
    case PathKind::secret:
      if (const auto it = u.secrets.find(parsed->name); it != u.secrets.end()) {
        return saved_hash(path, it->second);
      }
      break;
    default: break;
    }
  }
  return after.record_hash(path);
}

// The writes of the effect traced in `trace`, which has been run on `after` (in place).
std::vector<Write> writes_of(const State& after, const Context& ctx, const Trace& trace)
{
  std::vector<Write> out;
  for (const std::string& path : trace.touched) {
    const std::optional<Hash> b = before_hash(after, trace, path);
    const std::optional<Hash> a = after.record_hash(path);
    if (b != a) {
      out.push_back(Write{path, b, a});
    }
  }
  for (const KeyWrite& d : trace.deleted) {
    out.push_back(Write{key_path(d.line, d.k), d.k, std::nullopt});
  }
  for (const KeyWrite& k : ctx.keys) {
    if (k.added) {
      out.push_back(Write{key_path(k.line, k.k), std::nullopt, k.k});
    }
  }
  std::sort(out.begin(), out.end(), [](const Write& x, const Write& y) { return x.path < y.path; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i - 1].path == out[i].path) {
      fail(ErrorKind::integrity, "an operation writes {} twice", out[i].path);
    }
  }
  return out;
}

[[noreturn]] void wrong_writes(std::string_view what, const std::vector<Write>& expected,
                               const std::vector<Write>& signed_writes)
{
  // Name the first path where they differ (paths are names, never values).
  std::size_t i = 0;
  while (i < expected.size() && i < signed_writes.size() && expected[i] == signed_writes[i]) {
    ++i;
  }
  if (i < expected.size() && (i >= signed_writes.size() || expected[i].path < signed_writes[i].path)) {
    fail(ErrorKind::integrity, "{}: wrong writes: {} is changed ({} -> {}) but not listed", what, expected[i].path,
         describe(expected[i].before), describe(expected[i].after));
  }
  if (i < signed_writes.size() && (i >= expected.size() || signed_writes[i].path < expected[i].path)) {
    fail(ErrorKind::integrity, "{}: wrong writes: {} is listed but the operation does not change it", what,
         signed_writes[i].path);
  }
  fail(ErrorKind::integrity, "{}: wrong writes: {} is {} -> {}, the entry says {} -> {}", what, expected[i].path,
       describe(expected[i].before), describe(expected[i].after), describe(signed_writes[i].before),
       describe(signed_writes[i].after));
}

// The one way an entry's effects run: on `state`, their writes computed, then `then(writes, trace)`
// (undo them, check them against the signed ones, or nothing); on any error `state` is put back
// as it was.
// The new hashes of the secrets the effect touched, computed together (on two threads when a
// bulk entry touches many) before writes_of reads them one by one; `keep_texts` (a writer's own
// entry) keeps each record's text for the cache snapshot of the state that follows.
void hash_touched_secrets(const State& after, const Trace& trace, bool keep_texts)
{
  std::vector<const Secret*> secrets;
  for (const std::string& path : trace.touched) {
    const std::optional<ParsedPath> parsed = parse_path(path);
    if (parsed && parsed->kind == PathKind::secret) {
      if (const Secret* secret = after.secret(parsed->name)) {
        secrets.push_back(secret);
      }
    }
  }
  memo_secret_hashes(secrets, keep_texts);
}

template <typename Then>
std::vector<Write> run_entry(State& state, const Entry& entry, bool keep_texts, Then&& then)
{
  const Context ctx = context_of(entry);
  Trace trace;
  try {
    run_effects(state, ctx, entry.op->args, trace);
    hash_touched_secrets(state, trace, keep_texts);
    std::vector<Write> writes = writes_of(state, ctx, trace);
    then(writes, trace);
    return writes;
  } catch (...) {
    undo(state, trace);
    throw;
  }
}

} // namespace

std::vector<Write> compute_writes(State& state, const Entry& entry)
{
  if (!entry.op) {
    return {};
  }
  return run_entry(state, entry, false, [&state](const std::vector<Write>&, Trace& trace) { undo(state, trace); });
}

std::vector<Write> compute_writes(const State& before, const Entry& entry)
{
  State state = before;
  return compute_writes(state, entry);
}

std::vector<Write> apply_own(State& state, const Entry& entry)
{
  if (!entry.op) {
    return {};
  }
  return run_entry(state, entry, true, [](const std::vector<Write>&, Trace&) {});
}

void apply(State& state, const Entry& entry, std::string_view what)
{
  if (!entry.op) {
    return;
  }
  (void)run_entry(state, entry, false, [&](const std::vector<Write>& expected, Trace&) {
    if (expected != entry.op->writes) {
      wrong_writes(what, expected, entry.op->writes);
    }
  });
}

} // namespace escrow::history
