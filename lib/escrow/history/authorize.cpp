#include <escrow/history/authorize.hpp>

#include <escrow/generator.hpp>
#include <escrow/history/apply.hpp>
#include <escrow/history/race_gen.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

namespace escrow::history {

namespace {

template<typename... A>
Verdict refuse(OpKind kind, fmt::format_string<A...> format, A&&... args)
{
  return Refusal{fmt::format("{}: {}", op_kind_name(kind), fmt::format(format, std::forward<A>(args)...)), {}};
}

// A generator that runs a command (CI runs it): needs an admin (§5.2).
bool is_cmd_generator(std::string_view generator)
{
  if (generator.empty()) {
    return false;
  }
  try {
    return !parse_generator(generator).command.empty();
  } catch (const Error&) {
    return true; // check_args refuses it first; never let an unreadable one pass as harmless
  }
}

// Key lines of `ctx` that belong to `secret` (a bulk item's share of the entry's lines).
std::vector<KeyWrite> keys_of(const Context& ctx, std::string_view secret)
{
  std::vector<KeyWrite> out;
  for (const KeyWrite& k : ctx.keys) {
    if (k.line.secret == secret) {
      out.push_back(k);
    }
  }
  return out;
}

// Refuses key lines of other secrets, and deletions (only effects delete lines).
Verdict lines_of_secret_only(OpKind kind, const Context& ctx, std::string_view secret)
{
  for (const KeyWrite& k : ctx.keys) {
    if (k.line.secret != secret) {
      return refuse(kind, "writes a key line of another secret ({})", k.line.secret);
    }
  }
  return std::nullopt;
}

Verdict no_key_lines(OpKind kind, const Context& ctx)
{
  if (!ctx.keys.empty()) {
    return refuse(kind, "writes key lines, which this operation never does");
  }
  return std::nullopt;
}

Verdict added_only(OpKind kind, const std::vector<KeyWrite>& keys)
{
  for (const KeyWrite& k : keys) {
    if (!k.added) {
      return refuse(kind, "deletes a key line ({}) it may not delete", logical_name(k.line));
    }
  }
  return std::nullopt;
}

std::string_view kind_line_name(KeyLineKind kind)
{
  switch (kind) {
  case KeyLineKind::approval: return "approval";
  case KeyLineKind::grant: return "grant";
  case KeyLineKind::reader: return "reader key";
  case KeyLineKind::share: return "share";
  case KeyLineKind::value: return "value";
  }
  return "key";
}

// Custodians of a secret: active, approver role, reaching env; threshold within policy.
Verdict check_custodians(OpKind kind, const State& s, std::string_view env, const std::set<std::string>& custodians,
                         std::int64_t threshold)
{
  for (const std::string& c : custodians) {
    if (!active(s, c)) {
      return refuse(kind, "custodian {} is not an active member", c);
    }
    if (!has_role(s, c, Role::approver)) {
      return refuse(kind, "custodian {} does not have the approver role", c);
    }
    if (!reaches(s, c, env)) {
      return refuse(kind, "custodian {} does not reach {}", c, env);
    }
  }
  if (!custodians.empty()) {
    const std::int64_t min = std::max<std::int64_t>(1, s.policy ? s.policy->for_env(env).min_threshold : 1);
    if (threshold < min || threshold > static_cast<std::int64_t>(custodians.size())) {
      return refuse(kind, "threshold {} is outside {}..{} (policy of {} and the number of custodians)", threshold,
                    min, custodians.size(), env);
    }
  } else if (threshold != 0) {
    return refuse(kind, "a threshold without custodians");
  }
  return std::nullopt;
}

Verdict check_connectors(OpKind kind, const State& s, std::string_view env, const std::vector<std::string>& names)
{
  for (const std::string& name : names) {
    const Connector* c = s.connector(name);
    if (c == nullptr) {
      return refuse(kind, "no connector {}", name);
    }
    if (c->env != env) {
      return refuse(kind, "connector {} belongs to {}, not {}", name, c->env, env);
    }
  }
  return std::nullopt;
}

bool at_least_one_star_admin(const State& s)
{
  return std::any_of(s.members.begin(), s.members.end(), [&](const auto& item) {
    return admin(s, item.first, "*");
  });
}

const RequestOf* find_request(const Secret& secret, std::string_view id)
{
  const auto it = secret.requests.find(std::string(id));
  return it == secret.requests.end() ? nullptr : &it->second;
}

// The generations of live versions.
std::set<std::int64_t> live_gens(const Secret& secret)
{
  std::set<std::int64_t> out;
  for (const auto& [vid, v] : secret.versions) {
    if (live(v)) {
      out.insert(v.gen);
    }
  }
  return out;
}

bool owner_or_rotator(const State& s, std::string_view actor, const Secret& secret)
{
  return reaches(s, actor, secret.env) && (actor == secret.owner || has_role(s, actor, Role::rotator));
}

} // namespace

Context context_of(const Entry& entry)
{
  Context ctx;
  ctx.actor = entry.actor;
  ctx.ts = entry.ts;
  ctx.why = entry.why;
  ctx.vault = entry.vault;
  if (entry.op) {
    for (const Write& w : entry.op->writes) {
      const std::optional<ParsedPath> path = parse_path(w.path);
      if (path && path->kind == PathKind::key) {
        ctx.keys.push_back(KeyWrite{*path->key, w.after ? *w.after : *w.before, w.after.has_value()});
      }
    }
  }
  return ctx;
}

std::set<std::string> rotation_secrets(const Entry& entry)
{
  std::set<std::string> out;
  if (!entry.op) {
    return out;
  }
  std::visit(
    [&](const auto& a) {
      using T = std::decay_t<decltype(a)>;
      if constexpr (std::is_same_v<T, ConfirmArgs>) {
        out.insert(a.secret);
      } else if constexpr (std::is_same_v<T, RotateStartArgs> || std::is_same_v<T, RotateFinishArgs>
                           || std::is_same_v<T, RotateFailArgs>) {
        for (const auto& item : a.items) {
          out.insert(item.secret);
        }
      }
    },
    entry.op->args);
  return out;
}

// ---- helpers ----

bool active(const State& s, std::string_view member)
{
  const Member* m = s.member(member);
  return m != nullptr && m->active();
}

bool reaches(const State& s, std::string_view member, std::string_view env)
{
  const Member* m = s.member(member);
  if (m == nullptr || !m->active()) {
    return false;
  }
  if (m->envs.count("*") > 0) {
    return true;
  }
  return env != "*" && m->envs.count(std::string(env)) > 0;
}

bool covers(const State& s, std::string_view member, const std::set<std::string>& envs)
{
  return std::all_of(envs.begin(), envs.end(), [&](const std::string& env) { return reaches(s, member, env); });
}

bool has_role(const State& s, std::string_view member, Role role)
{
  const Member* m = s.member(member);
  return m != nullptr && m->has_role(role);
}

bool admin(const State& s, std::string_view member, std::string_view env)
{
  return reaches(s, member, env) && has_role(s, member, Role::admin);
}

bool pure_auditor(const State& s, std::string_view member)
{
  const Member* m = s.member(member);
  return m != nullptr && m->roles == std::set<Role>{Role::auditor};
}

std::set<std::string> standing_readers(const State& s, const Secret& secret)
{
  std::set<std::string> out;
  if (reaches(s, secret.owner, secret.env)) {
    out.insert(secret.owner);
  }
  for (const auto& [name, m] : s.members) {
    if (m->has_role(Role::rotator) && reaches(s, name, secret.env)) {
      out.insert(name);
    }
  }
  for (const std::string& name : secret.shared_with) {
    if (reaches(s, name, secret.env)) {
      out.insert(name);
    }
  }
  return out;
}

bool live(const Version& version)
{
  return version.state == VersionState::pending || version.state == VersionState::current
         || version.state == VersionState::previous;
}

bool generation_clean(const State& s, const Secret& secret, std::int64_t gen)
{
  const auto it = secret.gens.find(gen);
  if (it == secret.gens.end()) {
    return false;
  }
  const std::set<std::string> readers = standing_readers(s, secret);
  return std::includes(readers.begin(), readers.end(), it->second.ever.begin(), it->second.ever.end());
}

std::set<std::string> counted(const State& s, const Secret& secret, const RequestOf& request, std::string_view vid)
{
  std::set<std::string> out;
  const Version* version = secret.find(vid);
  if (version == nullptr) {
    return out;
  }
  for (const auto& [approver, approval] : request.approvals) {
    if (approval.vid == vid && active(s, approver) && has_role(s, approver, Role::approver)
        && !has_role(s, approver, Role::rotator) && approver != request.by
        && version->custodians.count(approver) > 0) {
      out.insert(approver);
    }
  }
  return out;
}

bool grant_active_for(const State& s, const Secret& secret, const RequestOf& request, std::string_view vid,
                      Timestamp t)
{
  if (request.denial || request.voided || !(t < request.until)) {
    return false;
  }
  const Version* version = secret.find(vid);
  if (version == nullptr || version->threshold < 1) {
    return false;
  }
  return static_cast<std::int64_t>(counted(s, secret, request, vid).size()) >= version->threshold;
}

bool grant_active(const State& s, const Secret& secret, const RequestOf& request, Timestamp t)
{
  for (const auto& [vid, v] : secret.versions) {
    if ((v.state == VersionState::current || v.state == VersionState::previous)
        && grant_active_for(s, secret, request, vid, t)) {
      return true;
    }
  }
  return false;
}

bool can_read(const State& s, std::string_view member, const Secret& secret, std::string_view vid, Timestamp t)
{
  const Version* version = secret.find(vid);
  if (version == nullptr || !active(s, member)) {
    return false;
  }
  const Generation* gen = secret.generation_of(*version);
  if (gen != nullptr && gen->holders.count(std::string(member)) > 0) {
    return true;
  }
  const auto grant = version->grants.find(std::string(member));
  if (grant != version->grants.end() && t < grant->second.until) {
    return true;
  }
  for (const auto& [id, request] : secret.requests) {
    if (request.by == member && grant_active_for(s, secret, request, vid, t)) {
      return true;
    }
  }
  return false;
}

// ---- predicates ----

Verdict may_init(const State& s, const Context& ctx, const InitArgs& a)
{
  if (s.initialised) {
    return refuse(OpKind::init, "the vault already has a genesis entry");
  }
  if (ctx.actor != a.member.name) {
    return refuse(OpKind::init, "written by {} but creates {}", ctx.actor, a.member.name);
  }
  if (ctx.vault != derive_vault_id(a.member, ctx.ts)) {
    return refuse(OpKind::init, "the vault id is not the one derived from the genesis member");
  }
  return no_key_lines(OpKind::init, ctx);
}

Verdict may_add_member(const State& s, const Context& ctx, const MemberAddArgs& a)
{
  constexpr OpKind k = OpKind::member_add;
  for (const std::string& env : a.envs) {
    if (!admin(s, ctx.actor, env)) {
      return refuse(k, "{} is not an admin of {}", ctx.actor, env);
    }
  }
  if (s.member(a.name) != nullptr) {
    return refuse(k, "the name {} is taken (removed members keep their names)", a.name);
  }
  for (const auto& [name, m] : s.members) {
    if (m->sign_pk == a.sign_pk || m->box_pk == a.box_pk) {
      return refuse(k, "these keys belong to {} already", name);
    }
  }
  if (a.roles.empty()) {
    return refuse(k, "no role");
  }
  return no_key_lines(k, ctx);
}

Verdict may_set_member(const State& s, const Context& ctx, const MemberSetArgs& a)
{
  constexpr OpKind k = OpKind::member_set;
  const Member* target = s.member(a.name);
  if (target == nullptr || !target->active()) {
    return refuse(k, "{} is not an active member", a.name);
  }
  std::set<std::string> envs = target->envs;
  envs.insert(a.envs.begin(), a.envs.end());
  for (const std::string& env : envs) {
    if (!admin(s, ctx.actor, env)) {
      return refuse(k, "{} is not an admin of {}", ctx.actor, env);
    }
  }
  if (a.name == ctx.actor) {
    if (!std::includes(target->roles.begin(), target->roles.end(), a.roles.begin(), a.roles.end())
        || !covers(s, ctx.actor, a.envs)) {
      return refuse(k, "nobody gives themselves a role or an environment they do not have");
    }
  }
  State after = s;
  auto changed = std::make_shared<Member>(*target);
  changed->roles = a.roles;
  changed->envs = a.envs;
  after.members[a.name] = changed;
  if (!at_least_one_star_admin(after)) {
    return refuse(k, "afterwards no active admin would reach every environment");
  }
  return no_key_lines(k, ctx);
}

Verdict may_remove_member(const State& s, const Context& ctx, const MemberRemoveArgs& a)
{
  constexpr OpKind k = OpKind::member_remove;
  const Member* target = s.member(a.name);
  if (target == nullptr || !target->active()) {
    return refuse(k, "{} is not an active member", a.name);
  }
  for (const std::string& env : target->envs) {
    if (!admin(s, ctx.actor, env)) {
      return refuse(k, "{} is not an admin of {}", ctx.actor, env);
    }
  }
  State after = s;
  auto removed = std::make_shared<Member>(*target);
  removed->removed_at = ctx.ts;
  after.members[a.name] = removed;
  if (!at_least_one_star_admin(after)) {
    return refuse(k, "afterwards no active admin would reach every environment");
  }
  return no_key_lines(k, ctx);
}

Verdict may_set_policy(const State& s, const Context& ctx, const PolicySetArgs& a)
{
  constexpr OpKind k = OpKind::policy_set;
  if (!admin(s, ctx.actor, a.env)) {
    return refuse(k, "{} is not an admin of {}", ctx.actor, a.env);
  }
  if (a.notify && !admin(s, ctx.actor, "*")) {
    return refuse(k, "only an admin of every environment may set the notify hook (it runs on every member's machine)");
  }
  return no_key_lines(k, ctx);
}

Verdict may_add_connector(const State& s, const Context& ctx, const ConnectorAddArgs& a)
{
  constexpr OpKind k = OpKind::connector_add;
  if (!reaches(s, ctx.actor, a.env) || !(has_role(s, ctx.actor, Role::admin) || has_role(s, ctx.actor, Role::rotator))) {
    return refuse(k, "only an admin or a rotator of {} may add its connectors", a.env);
  }
  if (s.connector(a.name) != nullptr) {
    return refuse(k, "connector {} exists", a.name);
  }
  return no_key_lines(k, ctx);
}

Verdict may_remove_connector(const State& s, const Context& ctx, const ConnectorRemoveArgs& a)
{
  constexpr OpKind k = OpKind::connector_remove;
  const Connector* c = s.connector(a.name);
  if (c == nullptr) {
    return refuse(k, "no connector {}", a.name);
  }
  if (!reaches(s, ctx.actor, c->env) || !(has_role(s, ctx.actor, Role::admin) || has_role(s, ctx.actor, Role::rotator))) {
    return refuse(k, "only an admin or a rotator of {} may remove its connectors", c->env);
  }
  for (const auto& [name, secret] : s.secrets) {
    if (secret->state == SecretState::active
        && std::find(secret->connectors.begin(), secret->connectors.end(), a.name) != secret->connectors.end()) {
      return refuse(k, "{} still uses connector {}", name, a.name);
    }
  }
  return no_key_lines(k, ctx);
}

Verdict may_add_secret(const State& s, const Context& ctx, const SecretAddArgs& a)
{
  constexpr OpKind k = OpKind::secret_add;
  const std::string env(env_of(a.secret));
  if (!reaches(s, ctx.actor, env) || pure_auditor(s, ctx.actor)) {
    return refuse(k, "{} may not add secrets to {}", ctx.actor, env);
  }
  if (s.secret(a.secret) != nullptr) {
    return refuse(k, "the name {} is taken (retired secrets keep their names)", a.secret);
  }
  if (!reaches(s, a.owner, env) || pure_auditor(s, a.owner)) {
    return refuse(k, "owner {} must be an active member reaching {} and not only an auditor", a.owner, env);
  }
  if (Verdict v = check_connectors(k, s, env, a.connectors)) {
    return v;
  }
  if (Verdict v = check_custodians(k, s, env, a.custodians, a.threshold)) {
    return v;
  }
  if (is_cmd_generator(a.generator) && !admin(s, ctx.actor, env)) {
    return refuse(k, "a cmd= generator needs an admin of {} (CI runs it)", env);
  }
  // Standing readers of the new secret: it has no shares yet.
  Secret fresh;
  fresh.env = env;
  fresh.name = a.secret;
  fresh.owner = a.owner;
  const std::set<std::string> readers = standing_readers(s, fresh);
  if (Verdict v = lines_of_secret_only(k, ctx, a.secret)) {
    return v;
  }
  if (Verdict v = added_only(k, ctx.keys)) {
    return v;
  }
  int values = 0;
  int shares = 0;
  std::set<std::string> seen_readers;
  std::set<std::string> seen_custodians;
  for (const KeyWrite& w : ctx.keys) {
    switch (w.line.kind) {
    case KeyLineKind::reader:
      if (w.line.gen != 1 || readers.count(w.line.member) == 0 || !seen_readers.insert(w.line.member).second) {
        return refuse(k, "writes a reader key for {}, who is not a standing reader of generation 1", w.line.member);
      }
      break;
    case KeyLineKind::value:
      if (w.line.vid != a.version.vid) {
        return refuse(k, "writes a value line of another version");
      }
      ++values;
      break;
    case KeyLineKind::share:
      if (w.line.vid != a.version.vid || a.custodians.count(w.line.member) == 0) {
        return refuse(k, "writes a share for {}, who is not a custodian", w.line.member);
      }
      if (!seen_custodians.insert(w.line.member).second) {
        return refuse(k, "writes two shares for {}", w.line.member);
      }
      ++shares;
      break;
    default: return refuse(k, "writes a {} line, which adding a secret never does", kind_line_name(w.line.kind));
    }
  }
  if (values != 1) {
    return refuse(k, "must write exactly one value line");
  }
  if (shares < a.threshold) {
    return refuse(k, "writes {} shares, fewer than the threshold {}", shares, a.threshold);
  }
  return std::nullopt;
}

Verdict may_set_secret(const State& s, const Context& ctx, const SecretSetArgs& a)
{
  constexpr OpKind k = OpKind::secret_set;
  const Secret* secret = s.secret(a.secret);
  if (secret == nullptr || secret->state != SecretState::active) {
    return refuse(k, "no active secret {}", a.secret);
  }
  const std::string& env = secret->env;
  const bool is_admin = admin(s, ctx.actor, env);
  const bool is_owner = ctx.actor == secret->owner && reaches(s, ctx.actor, env);
  if (a.owner) {
    if (!is_owner && !is_admin) {
      return refuse(k, "only the owner ({}) or an admin of {} may change the owner", secret->owner, env);
    }
    if (!reaches(s, *a.owner, env) || pure_auditor(s, *a.owner)) {
      return refuse(k, "owner {} must be an active member reaching {} and not only an auditor", *a.owner, env);
    }
  }
  if (a.generator) {
    if (!is_owner && !is_admin) {
      return refuse(k, "only the owner ({}) or an admin of {} may change the generator", secret->owner, env);
    }
    if (is_cmd_generator(*a.generator) && !is_admin) {
      return refuse(k, "a cmd= generator needs an admin of {} (CI runs it)", env);
    }
  }
  if (a.purpose || a.tier || a.connectors || a.every || a.after_access || a.escrow_only) {
    if (!is_owner && !is_admin && !(has_role(s, ctx.actor, Role::rotator) && reaches(s, ctx.actor, env))) {
      return refuse(k, "only the owner ({}), an admin or a rotator of {} may change it", secret->owner, env);
    }
  }
  if (a.connectors) {
    if (Verdict v = check_connectors(k, s, env, *a.connectors)) {
      return v;
    }
  }
  if (a.escrow_only.value_or(secret->escrow_only) && !a.connectors.value_or(secret->connectors).empty()) {
    return refuse(k, "an escrow-only secret has no connector ({} would be both)", a.secret);
  }
  if (Verdict v = lines_of_secret_only(k, ctx, a.secret)) {
    return v;
  }
  if (Verdict v = added_only(k, ctx.keys)) {
    return v;
  }
  if (!ctx.keys.empty()) {
    if (!a.owner) {
      return refuse(k, "writes key lines without changing the owner");
    }
    State after = s;
    Trace trace;
    Context plain = ctx;
    plain.keys.clear();
    run_effects(after, plain, Args{a}, trace);
    const std::set<std::string> readers = standing_readers(after, *after.secret(a.secret));
    const std::set<std::int64_t> gens = live_gens(*secret);
    std::set<std::int64_t> seen;
    for (const KeyWrite& w : ctx.keys) {
      if (w.line.kind != KeyLineKind::reader || w.line.member != *a.owner || readers.count(*a.owner) == 0
          || gens.count(w.line.gen) == 0 || !seen.insert(w.line.gen).second
          || secret->gens.at(w.line.gen).holders.count(*a.owner) > 0) {
        return refuse(k, "writes only reader keys of live generations for the new owner");
      }
    }
  }
  return std::nullopt;
}

Verdict may_set_custodians(const State& s, const Context& ctx, const CustodiansSetArgs& a)
{
  constexpr OpKind k = OpKind::custodians_set;
  const Secret* secret = s.secret(a.secret);
  if (secret == nullptr || secret->state != SecretState::active) {
    return refuse(k, "no active secret {}", a.secret);
  }
  if (!(ctx.actor == secret->owner && reaches(s, ctx.actor, secret->env)) && !admin(s, ctx.actor, secret->env)) {
    return refuse(k, "only the owner ({}) or an admin of {} may change the custodians", secret->owner, secret->env);
  }
  if (Verdict v = check_custodians(k, s, secret->env, a.custodians, a.threshold)) {
    return v;
  }
  return no_key_lines(k, ctx);
}

Verdict may_share(const State& s, const Context& ctx, const ShareItem& item, std::string_view member)
{
  constexpr OpKind k = OpKind::share;
  const Secret* secret = s.secret(item.secret);
  if (secret == nullptr || secret->state != SecretState::active) {
    return refuse(k, "no active secret {}", item.secret);
  }
  if (ctx.actor != secret->owner || !reaches(s, ctx.actor, secret->env)) {
    return refuse(k, "only the owner of {} ({}) may share it", item.secret, secret->owner);
  }
  if (!reaches(s, member, secret->env)) {
    return refuse(k, "{} is not an active member reaching {}", member, secret->env);
  }
  // A generation of a kept version: the writer names live ones, but a share merged after a
  // concurrent rotation may meet them retired there (race_gen.hpp, rule 3).
  std::set<std::int64_t> gens;
  for (const auto& [vid, v] : secret->versions) {
    gens.insert(v.gen);
  }
  for (const std::int64_t g : item.gens) {
    if (gens.count(g) == 0) {
      return refuse(k, "generation {} of {} holds no version", g, item.secret);
    }
  }
  const bool standing = standing_readers(s, *secret).count(std::string(member)) > 0;
  if (standing) {
    // A generation of that number the member lacks: the secret's own, else a settled race's
    // (race_gen.hpp).
    const bool lacks = std::any_of(item.gens.begin(), item.gens.end(), [&](std::int64_t g) {
      return share_target(*secret, g, member).generation != nullptr;
    });
    if (!lacks) {
      return refuse(k, "{} reads {} already", member, item.secret);
    }
  }
  const std::vector<KeyWrite> keys = keys_of(ctx, item.secret);
  if (Verdict v = added_only(k, keys)) {
    return v;
  }
  std::set<std::int64_t> seen;
  for (const KeyWrite& w : keys) {
    if (w.line.kind != KeyLineKind::reader || w.line.member != member || item.gens.count(w.line.gen) == 0
        || !seen.insert(w.line.gen).second) {
      return refuse(k, "writes a key line other than {}'s reader keys of the listed generations", member);
    }
    if (share_target(*secret, w.line.gen, member).generation == nullptr) {
      return refuse(k, "{} holds generation {} of {} already", member, w.line.gen, item.secret);
    }
  }
  return std::nullopt;
}

Verdict may_unshare(const State& s, const Context& ctx, const UnshareArgs& a)
{
  constexpr OpKind k = OpKind::unshare;
  const Secret* secret = s.secret(a.secret);
  if (secret == nullptr) {
    return refuse(k, "no secret {}", a.secret);
  }
  if (ctx.actor != secret->owner) {
    return refuse(k, "only the owner of {} ({}) may unshare it", a.secret, secret->owner);
  }
  if (secret->shared_with.count(a.member) == 0) {
    return refuse(k, "{} is not shared with {}", a.secret, a.member);
  }
  // The deletions are computed by apply (writes check); nothing may be added.
  for (const KeyWrite& w : ctx.keys) {
    if (w.added) {
      return refuse(k, "adds a key line, which unsharing never does");
    }
  }
  return std::nullopt;
}

Verdict may_retire(const State& s, const Context& ctx, const RetireArgs& a)
{
  constexpr OpKind k = OpKind::retire;
  const Secret* secret = s.secret(a.secret);
  if (secret == nullptr || secret->state != SecretState::active) {
    return refuse(k, "no active secret {}", a.secret);
  }
  if (!(ctx.actor == secret->owner && reaches(s, ctx.actor, secret->env)) && !admin(s, ctx.actor, secret->env)) {
    return refuse(k, "only the owner ({}) or an admin of {} may retire it", secret->owner, secret->env);
  }
  if (secret->rotation) {
    return refuse(k, "a rotation of {} is in flight", a.secret);
  }
  for (const KeyWrite& w : ctx.keys) {
    if (w.added) {
      return refuse(k, "adds a key line, which retiring never does");
    }
  }
  return std::nullopt;
}

Verdict may_start_rotation(const State& s, const Context& ctx, const RotateItem& item)
{
  constexpr OpKind k = OpKind::rotate_start;
  const Secret* secret = s.secret(item.secret);
  if (secret == nullptr || secret->state != SecretState::active) {
    return refuse(k, "no active secret {}", item.secret);
  }
  if (!owner_or_rotator(s, ctx.actor, *secret)) {
    return refuse(k, "only the owner ({}) or a rotator of {} may rotate {} (admins do not see values)", secret->owner,
                  secret->env, item.secret);
  }
  if (secret->rotation) {
    return refuse(k, "a rotation of {} is in flight", item.secret);
  }
  const std::vector<KeyWrite> keys = keys_of(ctx, item.secret);
  if (Verdict v = added_only(k, keys)) {
    return v;
  }
  if (item.kind == RotationKind::rollback) {
    const Version* target = secret->find(item.vid);
    if (secret->find_state(VersionState::current) == nullptr || target == nullptr
        || target->state != VersionState::previous) {
      return refuse(k, "{} has no current version and previous version {} to roll back to", item.secret, item.vid);
    }
    if (!keys.empty()) {
      return refuse(k, "a rollback writes no key line");
    }
    return std::nullopt;
  }
  if (item.v != secret->max_v() + 1) {
    return refuse(k, "version number {} is not {}", item.v, secret->max_v() + 1);
  }
  if (secret->find(item.vid) != nullptr) {
    return refuse(k, "version id {} is used", item.vid);
  }
  const std::set<std::string> readers = standing_readers(s, *secret);
  std::set<std::string> allowed_readers;
  if (!item.new_gen_rk_commit) {
    if (item.gen != secret->current_gen() || item.gen == 0) {
      return refuse(k, "generation {} is not the current generation", item.gen);
    }
    if (!generation_clean(s, *secret, item.gen)) {
      return refuse(k, "generation {} was held by someone who lost access: the version must start a new one",
                    item.gen);
    }
    const Generation& gen = secret->gens.at(item.gen);
    for (const std::string& r : readers) {
      if (gen.holders.count(r) == 0) {
        allowed_readers.insert(r);
      }
    }
  } else {
    if (item.gen != secret->max_gen() + 1) {
      return refuse(k, "a new generation must be {}", secret->max_gen() + 1);
    }
    allowed_readers = readers;
  }
  if (item.custodians != secret->custodians || item.threshold != secret->threshold) {
    return refuse(k, "custodians and threshold are not those of {}", item.secret);
  }
  std::set<std::string> grant_members;
  for (const GrantRef& g : item.grants) {
    const RequestOf* request = find_request(*secret, g.request);
    if (request == nullptr || request->by != g.member) {
      return refuse(k, "no request {} by {}", g.request, g.member);
    }
    if (!grant_active(s, *secret, *request, ctx.ts)) {
      return refuse(k, "request {} is not an active grant", g.request);
    }
    if (!reaches(s, g.member, secret->env)) {
      return refuse(k, "{} is not an active member reaching {}", g.member, secret->env);
    }
    grant_members.insert(g.member);
  }
  int values = 0;
  int shares = 0;
  std::set<std::string> seen;
  for (const KeyWrite& w : keys) {
    const std::string tag = fmt::format("{}:{}", static_cast<int>(w.line.kind), w.line.member);
    if (w.line.kind != KeyLineKind::reader && w.line.vid != item.vid) {
      return refuse(k, "writes a {} line of another version", kind_line_name(w.line.kind));
    }
    switch (w.line.kind) {
    case KeyLineKind::reader:
      if (w.line.gen != item.gen || allowed_readers.count(w.line.member) == 0 || !seen.insert(tag).second) {
        return refuse(k, "writes a reader key for {}, who may not receive generation {}", w.line.member, w.line.gen);
      }
      break;
    case KeyLineKind::value: ++values; break;
    case KeyLineKind::share:
      if (secret->custodians.count(w.line.member) == 0 || !seen.insert(tag).second) {
        return refuse(k, "writes a share for {}, who is not a custodian", w.line.member);
      }
      ++shares;
      break;
    case KeyLineKind::grant:
      if (grant_members.count(w.line.member) == 0 || !seen.insert(tag).second) {
        return refuse(k, "writes a grant key for {}, who has no listed grant", w.line.member);
      }
      break;
    case KeyLineKind::approval: return refuse(k, "writes an approval line");
    }
  }
  if (values != 1) {
    return refuse(k, "must write exactly one value line");
  }
  if (shares < item.threshold) {
    return refuse(k, "writes {} shares, fewer than the threshold {}", shares, item.threshold);
  }
  return std::nullopt;
}

Verdict may_confirm(const State& s, const Context& ctx, const ConfirmArgs& a)
{
  constexpr OpKind k = OpKind::confirm;
  const Secret* secret = s.secret(a.secret);
  if (secret == nullptr || !secret->rotation || secret->rotation->vid != a.vid) {
    return refuse(k, "no rotation of {} to version {} is in flight", a.secret, a.vid);
  }
  const Connector* c = s.connector(a.connector);
  if (c == nullptr || c->kind != ConnectorKind::manual
      || std::find(secret->connectors.begin(), secret->connectors.end(), a.connector) == secret->connectors.end()) {
    return refuse(k, "{} is not a manual connector of {}", a.connector, a.secret);
  }
  if (secret->rotation->confirmed.count(a.connector) > 0) {
    return refuse(k, "{} is confirmed already", a.connector);
  }
  if (!can_read(s, ctx.actor, *secret, a.vid, ctx.ts)) {
    return refuse(k, "{} cannot read the new value, so cannot have pasted it", ctx.actor);
  }
  return no_key_lines(k, ctx);
}

Verdict may_finish_rotation(const State& s, const Context& ctx, const FinishItem& item)
{
  constexpr OpKind k = OpKind::rotate_finish;
  const Secret* secret = s.secret(item.secret);
  if (secret == nullptr || !secret->rotation || secret->rotation->vid != item.vid) {
    return refuse(k, "no rotation of {} to version {} is in flight", item.secret, item.vid);
  }
  if (!owner_or_rotator(s, ctx.actor, *secret)) {
    return refuse(k, "only the owner ({}) or a rotator of {} may finish a rotation", secret->owner, secret->env);
  }
  const Version* target = secret->find(item.vid);
  const VersionState expected =
    secret->rotation->kind == RotationKind::rotate ? VersionState::pending : VersionState::previous;
  if (target == nullptr || target->state != expected) {
    return refuse(k, "version {} is no longer {}", item.vid, version_state_name(expected));
  }
  for (const std::string& name : secret->connectors) {
    const Connector* c = s.connector(name);
    if (c != nullptr && c->kind == ConnectorKind::manual && secret->rotation->confirmed.count(name) == 0) {
      return refuse(k, "manual connector {} is not confirmed", name);
    }
  }
  // Retention deletions are computed by apply and compared by the writes check.
  for (const KeyWrite& w : keys_of(ctx, item.secret)) {
    if (w.added) {
      return refuse(k, "adds a key line, which finishing never does");
    }
  }
  return std::nullopt;
}

Verdict may_fail_rotation(const State& s, const Context& ctx, const FailItem& item)
{
  constexpr OpKind k = OpKind::rotate_fail;
  const Secret* secret = s.secret(item.secret);
  if (secret == nullptr || !secret->rotation || secret->rotation->vid != item.vid) {
    return refuse(k, "no rotation of {} to version {} is in flight", item.secret, item.vid);
  }
  if (!owner_or_rotator(s, ctx.actor, *secret)) {
    return refuse(k, "only the owner ({}) or a rotator of {} may record a failed rotation", secret->owner,
                  secret->env);
  }
  if (!keys_of(ctx, item.secret).empty()) {
    return refuse(k, "writes key lines, which a failed rotation never does");
  }
  return std::nullopt;
}

Verdict may_compromise(const State& s, const Context& ctx, const CompromiseArgs& a)
{
  constexpr OpKind k = OpKind::compromise;
  const Secret* secret = s.secret(a.secret);
  if (secret == nullptr) {
    return refuse(k, "no secret {}", a.secret);
  }
  if (!reaches(s, ctx.actor, secret->env)
      || !(ctx.actor == secret->owner || has_role(s, ctx.actor, Role::rotator) || has_role(s, ctx.actor, Role::admin))) {
    return refuse(k, "only the owner ({}), a rotator or an admin of {} may report a compromise", secret->owner,
                  secret->env);
  }
  const Version* version = secret->find(a.vid);
  if (version == nullptr || !live(*version)) {
    return refuse(k, "{} has no live version {}", a.secret, a.vid);
  }
  for (const KeyWrite& w : ctx.keys) {
    if (w.added) {
      return refuse(k, "adds a key line, which a compromise never does");
    }
  }
  return std::nullopt;
}

Verdict may_request(const State& s, const Context& ctx, const RequestArgs& a)
{
  constexpr OpKind k = OpKind::request;
  const Secret* secret = s.secret(a.secret);
  if (secret == nullptr || secret->state != SecretState::active) {
    return refuse(k, "no active secret {}", a.secret);
  }
  const std::string& env = secret->env;
  if (!reaches(s, ctx.actor, env)) {
    return refuse(k, "{} does not reach {}", ctx.actor, env);
  }
  if (!has_role(s, ctx.actor, Role::requester)) {
    return refuse(k, "{} does not have the requester role", ctx.actor);
  }
  if (has_role(s, ctx.actor, Role::rotator)) {
    return refuse(k, "a rotator may not request access");
  }
  if (pure_auditor(s, ctx.actor)) {
    return refuse(k, "an auditor may not request access");
  }
  if (secret->find_state(VersionState::current) == nullptr) {
    return refuse(k, "{} has no current version", a.secret);
  }
  if (secret->custodians.empty()) {
    return refuse(k, "{} has no custodians", a.secret);
  }
  if (standing_readers(s, *secret).count(ctx.actor) > 0) {
    return refuse(k, "{} reads {} already", ctx.actor, a.secret);
  }
  if (secret->custodians.count(ctx.actor) > 0
      && static_cast<std::int64_t>(secret->custodians.size()) - 1 < secret->threshold) {
    return refuse(k, "without {} the custodians cannot reach the threshold", ctx.actor);
  }
  const EnvPolicy& policy = s.policy ? s.policy->for_env(env) : EnvPolicy{};
  if (a.ttl < 1 || a.ttl > policy.max_ttl) {
    return refuse(k, "ttl {} is over the policy maximum of {} for {}", format_duration(a.ttl), format_duration(policy.max_ttl), env);
  }
  if (policy.require_why && !ctx.why) {
    return refuse(k, "the policy of {} requires a justification", env);
  }
  if (secret->requests.count(a.id) > 0) {
    return refuse(k, "request id {} is used", a.id);
  }
  if (ctx.ts > k_max_time - a.ttl) {
    return refuse(k, "the request would end after 9999-12-31");
  }
  return no_key_lines(k, ctx);
}

Verdict may_approve(const State& s, const Context& ctx, const ApproveArgs& a)
{
  constexpr OpKind k = OpKind::approve;
  const Secret* secret = s.secret(a.secret);
  if (secret == nullptr || secret->state != SecretState::active) {
    return refuse(k, "no active secret {}", a.secret);
  }
  const RequestOf* request = find_request(*secret, a.request);
  if (request == nullptr) {
    return refuse(k, "{} has no request {}", a.secret, a.request);
  }
  if (a.requester != request->by) {
    return refuse(k, "request {} is by {}, not {}", a.request, request->by, a.requester);
  }
  if (ctx.actor == request->by) {
    return refuse(k, "{} cannot approve their own request", ctx.actor);
  }
  if (!active(s, request->by)) {
    return refuse(k, "requester {} is not an active member", request->by);
  }
  if (!reaches(s, ctx.actor, secret->env) || !has_role(s, ctx.actor, Role::approver)
      || has_role(s, ctx.actor, Role::rotator)) {
    return refuse(k, "{} may not approve requests of {}", ctx.actor, secret->env);
  }
  const Version* version = secret->find(a.vid);
  if (version == nullptr
      || !(version->state == VersionState::current || version->state == VersionState::previous)) {
    return refuse(k, "version {} is not the current or previous version of {}", a.vid, a.secret);
  }
  if (version->v != a.v || version->dk_commit != a.dk_commit) {
    return refuse(k, "version {} is not v{} with this key commitment", a.vid, a.v);
  }
  if (version->shares.count(ctx.actor) == 0) {
    return refuse(k, "{} holds no share of version {} (not a custodian of it)", ctx.actor, a.vid);
  }
  if (request->denial) {
    return refuse(k, "request {} is closed: it was denied by {}", a.request, request->denial->by);
  }
  if (request->voided) {
    return refuse(k, "request {} is closed: it is void", a.request);
  }
  if (!(ctx.ts < request->until)) {
    return refuse(k, "request {} expired at {}", a.request, format_time(request->until));
  }
  if (request->approvals.count(ctx.actor) > 0) {
    return refuse(k, "{} already approved request {}", ctx.actor, a.request);
  }
  const KeyLine expected{KeyLineKind::approval, a.secret, 0, a.vid, ctx.actor, a.request};
  if (ctx.keys.size() != 1 || !ctx.keys[0].added || !(ctx.keys[0].line == expected)) {
    return refuse(k, "must write exactly one approval line, {}", logical_name(expected));
  }
  return std::nullopt;
}

Verdict may_deny(const State& s, const Context& ctx, const DenyArgs& a)
{
  constexpr OpKind k = OpKind::deny;
  const Secret* secret = s.secret(a.secret);
  if (secret == nullptr) {
    return refuse(k, "no secret {}", a.secret);
  }
  const RequestOf* request = find_request(*secret, a.request);
  if (request == nullptr) {
    return refuse(k, "{} has no request {}", a.secret, a.request);
  }
  const bool may = secret->custodians.count(ctx.actor) > 0 || ctx.actor == secret->owner
                   || admin(s, ctx.actor, secret->env) || ctx.actor == request->by;
  if (!may) {
    return refuse(k, "only a custodian, the owner, an admin of {} or the requester may deny it", secret->env);
  }
  if (request->denial) {
    return refuse(k, "request {} is denied already", a.request);
  }
  if (!(ctx.ts < request->until)) {
    return refuse(k, "request {} expired at {}", a.request, format_time(request->until));
  }
  if (!ctx.why) {
    return refuse(k, "a denial needs a reason");
  }
  return no_key_lines(k, ctx);
}

Verdict may_use_grant(const State& s, const Context& ctx, const GrantUsedArgs& a)
{
  constexpr OpKind k = OpKind::grant_used;
  const Secret* secret = s.secret(a.secret);
  if (secret == nullptr) {
    return refuse(k, "no secret {}", a.secret);
  }
  const RequestOf* request = find_request(*secret, a.request);
  if (request == nullptr || request->by != ctx.actor) {
    return refuse(k, "{} has no request {} by {}", a.secret, a.request, ctx.actor);
  }
  bool carried = false;
  if (!request->denial && !request->voided) {
    for (const auto& [vid, v] : secret->versions) {
      const auto g = v.grants.find(ctx.actor);
      if (live(v) && g != v.grants.end() && g->second.request == a.request && ctx.ts < g->second.until) {
        carried = true;
      }
    }
  }
  if (!carried && !grant_active(s, *secret, *request, ctx.ts)) {
    return refuse(k, "request {} is not an active grant", a.request);
  }
  if (request->used_at) {
    return refuse(k, "request {} was used already", a.request);
  }
  return no_key_lines(k, ctx);
}

Verdict may_acknowledge_loss(const State& s, const Context& ctx, const JournalLossArgs& a)
{
  constexpr OpKind k = OpKind::journal_loss;
  if (!admin(s, ctx.actor, "*")) {
    return refuse(k, "only an admin of every environment may acknowledge lost entries");
  }
  if (!ctx.why) {
    return refuse(k, "acknowledging a loss needs a reason");
  }
  for (const LostEntry& e : a.lost) {
    if (s.lost.count(e.hash) > 0) {
      return refuse(k, "entry {} is acknowledged already", short_hash(e.hash));
    }
    // A lost operation changed the state: it must be restored, never acknowledged
    // (vault-2-replay.md §6). What the entry really was only the machines that verified it know
    // (the session checks that); a journal-loss that says it was an operation is refused here.
    if (parse_op_kind(e.action)) {
      return refuse(k, "entry {} ({} by {}) is an operation: a lost operation cannot be acknowledged",
                    short_hash(e.hash), e.action, e.actor);
    }
  }
  return no_key_lines(k, ctx);
}

Verdict may_resolve(const State&, const Context& ctx, const ResolveArgs&)
{
  return no_key_lines(OpKind::resolve, ctx);
}

// ---- dispatch ----

namespace {

// Each item of a bulk entry is judged against the state before the entry: an item's effect writes
// only its own secret's record, and its judge reads no other secret (items name distinct secrets:
// check_args refuses a repeat), so the earlier items' effects are invisible to it. The same
// verdicts as judging each against the state after the earlier items, without running (and
// copying a secret for) N-1 effects. That holds for every bulk kind: share, rotate-start,
// rotate-finish and rotate-fail (tests/unit/history_authorize_test.cpp checks that each one's
// effect touches its own secret only; their judges, may_share and may_*_rotation, read the item's
// secret, members, policy and connectors, never another secret).
template<typename Item, typename Judge>
Verdict each_item(const State& before, const Context& ctx, const std::vector<Item>& items, Judge judge)
{
  // The entry's key lines by secret, once: each item sees its own secret's lines (what keys_of
  // would give it), so judging N items costs N, not N × the entry's lines (a bulk entry names up
  // to 10,000 items and 40,016 writes). Every predicate of a bulk item reads only its own
  // secret's lines (lines_of_items has refused lines of secrets no item names).
  std::map<std::string_view, std::vector<KeyWrite>> by_secret;
  for (const KeyWrite& k : ctx.keys) {
    by_secret[k.line.secret].push_back(k);
  }
  Context item_ctx;
  item_ctx.actor = ctx.actor;
  item_ctx.ts = ctx.ts;
  item_ctx.why = ctx.why;
  item_ctx.vault = ctx.vault;
  for (const Item& item : items) {
    const auto found = by_secret.find(item.secret);
    if (found != by_secret.end()) {
      item_ctx.keys = found->second;
    } else {
      item_ctx.keys.clear();
    }
    if (Verdict v = judge(before, item_ctx, item)) {
      return v;
    }
  }
  return std::nullopt;
}

// Bulk items may only write key lines of their own secrets.
Verdict lines_of_items(OpKind kind, const Context& ctx, const std::set<std::string>& secrets)
{
  for (const KeyWrite& w : ctx.keys) {
    if (secrets.count(w.line.secret) == 0) {
      return refuse(kind, "writes a key line of {}, which no item names", w.line.secret);
    }
  }
  return std::nullopt;
}

template<typename Item>
std::set<std::string> secrets_of(const std::vector<Item>& items)
{
  std::set<std::string> out;
  for (const Item& item : items) {
    out.insert(item.secret);
  }
  return out;
}

struct Dispatch
{
  const State& s;
  const Context& ctx;

  Verdict operator()(const InitArgs& a) const { return may_init(s, ctx, a); }
  Verdict operator()(const MemberAddArgs& a) const { return may_add_member(s, ctx, a); }
  Verdict operator()(const MemberSetArgs& a) const { return may_set_member(s, ctx, a); }
  Verdict operator()(const MemberRemoveArgs& a) const { return may_remove_member(s, ctx, a); }
  Verdict operator()(const PolicySetArgs& a) const { return may_set_policy(s, ctx, a); }
  Verdict operator()(const ConnectorAddArgs& a) const { return may_add_connector(s, ctx, a); }
  Verdict operator()(const ConnectorRemoveArgs& a) const { return may_remove_connector(s, ctx, a); }
  Verdict operator()(const SecretAddArgs& a) const { return may_add_secret(s, ctx, a); }
  Verdict operator()(const SecretSetArgs& a) const { return may_set_secret(s, ctx, a); }
  Verdict operator()(const CustodiansSetArgs& a) const { return may_set_custodians(s, ctx, a); }
  Verdict operator()(const ShareArgs& a) const
  {
    if (Verdict v = lines_of_items(OpKind::share, ctx, secrets_of(a.items))) {
      return v;
    }
    return each_item<ShareItem>(
      s, ctx, a.items,
      [&](const State& state, const Context& item_ctx, const ShareItem& item) { return may_share(state, item_ctx, item, a.member); });
  }
  Verdict operator()(const UnshareArgs& a) const { return may_unshare(s, ctx, a); }
  Verdict operator()(const RetireArgs& a) const { return may_retire(s, ctx, a); }
  Verdict operator()(const RotateStartArgs& a) const
  {
    if (Verdict v = lines_of_items(OpKind::rotate_start, ctx, secrets_of(a.items))) {
      return v;
    }
    return each_item<RotateItem>(
      s, ctx, a.items,
      [&](const State& state, const Context& item_ctx, const RotateItem& item) { return may_start_rotation(state, item_ctx, item); });
  }
  Verdict operator()(const ConfirmArgs& a) const { return may_confirm(s, ctx, a); }
  Verdict operator()(const RotateFinishArgs& a) const
  {
    if (Verdict v = lines_of_items(OpKind::rotate_finish, ctx, secrets_of(a.items))) {
      return v;
    }
    return each_item<FinishItem>(
      s, ctx, a.items,
      [&](const State& state, const Context& item_ctx, const FinishItem& item) { return may_finish_rotation(state, item_ctx, item); });
  }
  Verdict operator()(const RotateFailArgs& a) const
  {
    if (Verdict v = lines_of_items(OpKind::rotate_fail, ctx, secrets_of(a.items))) {
      return v;
    }
    return each_item<FailItem>(
      s, ctx, a.items,
      [&](const State& state, const Context& item_ctx, const FailItem& item) { return may_fail_rotation(state, item_ctx, item); });
  }
  Verdict operator()(const CompromiseArgs& a) const { return may_compromise(s, ctx, a); }
  Verdict operator()(const RequestArgs& a) const { return may_request(s, ctx, a); }
  Verdict operator()(const ApproveArgs& a) const { return may_approve(s, ctx, a); }
  Verdict operator()(const DenyArgs& a) const { return may_deny(s, ctx, a); }
  Verdict operator()(const GrantUsedArgs& a) const { return may_use_grant(s, ctx, a); }
  Verdict operator()(const JournalLossArgs& a) const { return may_acknowledge_loss(s, ctx, a); }
  Verdict operator()(const ResolveArgs& a) const { return may_resolve(s, ctx, a); }
};

// Operations on one secret may only touch key lines of that secret.
std::optional<std::string> single_secret(const Args& args)
{
  return std::visit(
    [](const auto& a) -> std::optional<std::string> {
      using T = std::decay_t<decltype(a)>;
      if constexpr (std::is_same_v<T, ShareArgs> || std::is_same_v<T, RotateStartArgs>
                    || std::is_same_v<T, RotateFinishArgs> || std::is_same_v<T, RotateFailArgs>
                    || std::is_same_v<T, ResolveArgs> || std::is_same_v<T, JournalLossArgs>
                    || std::is_same_v<T, InitArgs> || std::is_same_v<T, MemberAddArgs>
                    || std::is_same_v<T, MemberSetArgs> || std::is_same_v<T, MemberRemoveArgs>
                    || std::is_same_v<T, PolicySetArgs> || std::is_same_v<T, ConnectorAddArgs>
                    || std::is_same_v<T, ConnectorRemoveArgs>) {
        return std::nullopt;
      } else {
        return a.secret;
      }
    },
    args);
}

} // namespace

Verdict may_void(const State& before, const Entry& voided, std::string_view resolver,
                 const std::vector<const Entry*>& side)
{
  constexpr OpKind k = OpKind::resolve;
  const std::string what = fmt::format("entry {} ({} by {})", short_hash(voided.hash), action_name(voided.action),
                                       voided.actor);
  if (!voided.op) {
    return refuse(k, "{} is not an operation: there is nothing to void", what);
  }
  // A published pending value is assumed to have reached a connector (vault-2-merge.md §5 rule 1).
  if (const auto* start = std::get_if<RotateStartArgs>(&voided.op->args)) {
    for (const RotateItem& item : start->items) {
      if (item.kind != RotationKind::rotate) {
        continue;
      }
      const bool cancelled = std::any_of(side.begin(), side.end(), [&](const Entry* e) {
        const auto* fail_args = e != nullptr && e->op ? std::get_if<RotateFailArgs>(&e->op->args) : nullptr;
        return fail_args != nullptr
               && std::any_of(fail_args->items.begin(), fail_args->items.end(), [&](const FailItem& f) {
                    return f.secret == item.secret && f.vid == item.vid && f.result == FailResult::cancelled;
                  });
      });
      if (!cancelled) {
        Refusal r = *refuse(k, "{} creates {} v{} ({}), whose value may have reached a connector: a rotate-start is "
                               "voided only when its side recorded rotate-fail cancelled for it",
                            what, item.secret, item.v, item.vid);
        r.hint = fmt::format("a rotation race keeps both versions: escrow resolve {} --current VID", item.secret);
        return r;
      }
    }
  }
  if (voided.actor == resolver) {
    return std::nullopt; // its author may withdraw it
  }
  // Who could have done it may undo it: the same operation by the resolver, judged where it stood.
  if (!active(before, resolver)) {
    return refuse(k, "{} may not void {}: not an active member where it was made", resolver, what);
  }
  Context ctx = context_of(voided);
  ctx.actor = std::string(resolver);
  for (KeyWrite& key : ctx.keys) {
    if (key.line.member == voided.actor && key.line.kind == KeyLineKind::approval) {
      key.line.member = std::string(resolver); // the line an approver writes as themself
    }
  }
  if (Verdict v = std::visit(Dispatch{before, ctx}, voided.op->args)) {
    Refusal r = *refuse(k, "{} may not void {}: neither its author nor allowed to do it ({})", resolver, what,
                        v->reason);
    r.hint = fmt::format("{} or a member who may do what it did can resolve this conflict", voided.actor);
    return r;
  }
  return std::nullopt;
}

Verdict may_expose(const State& merged, const Entry& exposed, std::string_view resolver,
                   const std::vector<const Entry*>& other)
{
  constexpr OpKind k = OpKind::resolve;
  const std::string what = fmt::format("entry {} ({} by {})", short_hash(exposed.hash), action_name(exposed.action),
                                       exposed.actor);
  const OpKind kind = exposed.op ? exposed.op->kind() : OpKind::resolve;
  if (kind != OpKind::rotate_start && kind != OpKind::confirm && kind != OpKind::rotate_finish
      && kind != OpKind::rotate_fail) {
    return refuse(k, "{} is not a rotation operation: only rotations are kept exposed", what);
  }
  const bool lost_access = std::any_of(other.begin(), other.end(), [](const Entry* e) {
    if (e == nullptr || !e->op) {
      return false;
    }
    const OpKind o = e->op->kind();
    return o == OpKind::member_remove || o == OpKind::member_set || o == OpKind::unshare || o == OpKind::secret_set
           || o == OpKind::custodians_set;
  });
  if (!lost_access) {
    return refuse(k, "{}: nobody lost access on the other side of the merge, so there is nothing to keep exposed",
                  what);
  }
  const std::set<std::string> secrets = rotation_secrets(exposed);
  for (const std::string& name : secrets) {
    const Secret* secret = merged.secret(name);
    if (secret == nullptr || !owner_or_rotator(merged, resolver, *secret)) {
      return refuse(k, "{} may not keep {} exposed: only the owner{} or a rotator of {} may", resolver, what,
                    secret != nullptr ? fmt::format(" ({})", secret->owner) : std::string(),
                    secret != nullptr ? secret->env : name);
    }
  }
  return std::nullopt;
}

Verdict may_settle_race(const State& merged, std::string_view secret_name, std::string_view resolver)
{
  constexpr OpKind k = OpKind::resolve;
  const Secret* secret = merged.secret(secret_name);
  if (secret == nullptr) {
    return refuse(k, "no secret {} in the merged vault", secret_name);
  }
  if (!owner_or_rotator(merged, resolver, *secret)) {
    return refuse(k, "{} may not settle the rotation race of {}: only the owner ({}) or a rotator of {} may", resolver,
                  secret_name, secret->owner, secret->env);
  }
  return std::nullopt;
}

Verdict authorize(const State& before, const Entry& entry)
{
  const Context ctx = context_of(entry);
  const OpKind* kind = std::get_if<OpKind>(&entry.action);
  const bool genesis = kind != nullptr && *kind == OpKind::init && entry.op;
  if (!genesis) {
    if (!before.initialised) {
      return Refusal{"the vault has no genesis entry", {}};
    }
    if (entry.vault != before.vault_id) {
      return Refusal{"the entry belongs to another vault", {}};
    }
    if (!active(before, entry.actor)) {
      return Refusal{fmt::format("{} is not an active member", entry.actor), {}};
    }
  }
  if (!entry.op) {
    return std::nullopt; // an event: an active author is all it needs
  }
  if (const std::optional<std::string> secret = single_secret(entry.op->args)) {
    if (Verdict v = lines_of_secret_only(entry.op->kind(), ctx, *secret)) {
      return v;
    }
  }
  return std::visit(Dispatch{before, ctx}, entry.op->args);
}

void require_authorized(const State& before, const Entry& entry, ErrorKind kind, std::string_view what)
{
  if (Verdict v = authorize(before, entry)) {
    Error error(kind, fmt::format("{}: {}", what, v->reason));
    if (!v->hint.empty()) {
      error.hint(v->hint);
    }
    throw error;
  }
}

} // namespace escrow::history
