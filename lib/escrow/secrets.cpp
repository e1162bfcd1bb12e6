#include <escrow/error.hpp>
#include <escrow/escrow.hpp>
#include <escrow/lookup.hpp>
#include <escrow/policy.hpp>
#include <escrow/secrets.hpp>

#include <algorithm>

namespace escrow {

namespace {

// ENV/NAME as written in records and the journal.
std::string full_name_of(std::string_view name)
{
  const auto [env, short_name] = split_secret_name(name);
  return env + "/" + short_name;
}

JournalEntry entry_for(JournalAction action, const SecretRecord& secret)
{
  JournalEntry entry;
  entry.action = action;
  entry.secret = secret.full_name();
  entry.env = secret.env;
  return entry;
}

} // namespace

void check_new_secret(const NewSecret& spec)
{
  (void)split_secret_name(spec.name);
  if (spec.purpose.empty()) {
    fail(ErrorKind::usage, "add: --purpose is required (what is this credential for?)");
  }
  // Metadata is shown to the whole team: text only, no terminal control characters.
  for (const auto& [option, text] : {std::pair{"--purpose", &spec.purpose}, std::pair{"--tier", &spec.tier},
                                     std::pair{"--owner", &spec.owner}}) {
    if (!canonical::valid_utf8(*text)
        || std::any_of(text->begin(), text->end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      fail(ErrorKind::usage, "add: {} must be UTF-8 text without control characters", option);
    }
  }
  if (spec.generator && !spec.generator->command.empty()) {
    fail(ErrorKind::usage, "add: --generate cmd=... is for rotation; give the first value on stdin");
  }
  if (spec.custodians.empty() && spec.threshold != 0) {
    fail(ErrorKind::usage, "add: --threshold needs --custodians");
  }
  if (!spec.custodians.empty()
      && (spec.threshold < 1 || spec.threshold > static_cast<std::int64_t>(spec.custodians.size()))) {
    fail(ErrorKind::usage, "add: --threshold must be between 1 and the number of custodians ({})",
         spec.custodians.size());
  }
  auto sorted = spec.custodians;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    fail(ErrorKind::usage, "add: a custodian is listed twice");
  }
  auto connectors = spec.connectors;
  std::sort(connectors.begin(), connectors.end());
  if (std::adjacent_find(connectors.begin(), connectors.end()) != connectors.end()) {
    fail(ErrorKind::usage, "add: a connector is listed twice");
  }
  if (spec.escrow_only && !spec.connectors.empty()) {
    fail(ErrorKind::usage, "add: --escrow-only and --connector exclude each other (an escrow-only secret has no connector)");
  }
}

const SecretRecord& add_secret(Session& session, const NewSecret& spec, const SecretBytes& value)
{
  check_new_secret(spec);
  if (value.empty()) {
    fail(ErrorKind::usage, "add: the value is empty");
  }
  const auto [env, short_name] = split_secret_name(spec.name);
  const std::string full_name = env + "/" + short_name;
  Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  policy::require_can_add(me, env);
  if (vault.has_secret(full_name)) {
    throw Error(ErrorKind::usage, fmt::format("{}: {} already exists", session.vault_path().string(), full_name))
      .hint("to change its value, rotate it: escrow rotate " + full_name);
  }
  const std::string owner = spec.owner.empty() ? me.name : spec.owner;
  const MemberRecord* owner_record = vault.member(owner);
  if (owner_record == nullptr || !owner_record->active()) {
    throw with_hint(Error(ErrorKind::usage, fmt::format("add: owner {} is not an active member", owner)),
                    member_hint(vault, owner));
  }
  policy::require_env(*owner_record, env, "add (owner)");
  for (const auto& custodian : spec.custodians) {
    const MemberRecord* record = vault.member(custodian);
    if (record == nullptr || !record->active()) {
      throw with_hint(Error(ErrorKind::usage, fmt::format("add: custodian {} is not an active member", custodian)),
                      member_hint(vault, custodian));
    }
    if (!record->has_role(Role::approver) || record->has_role(Role::rotator)) {
      fail(ErrorKind::usage, "add: custodian {} needs the approver role (and not the rotator role)", custodian);
    }
    policy::require_env(*record, env, "add (custodian)");
  }
  const EnvPolicy& rules = vault.policy().for_env(env);
  if (!spec.custodians.empty() && spec.threshold < rules.min_threshold) {
    fail(ErrorKind::usage, "add: the {} policy requires a threshold of at least {}", env, rules.min_threshold);
  }
  for (const auto& name : spec.connectors) {
    const ConnectorRecord* connector = vault.connector(name);
    if (connector == nullptr) {
      throw with_hint(Error(ErrorKind::usage, fmt::format("add: no connector named {} (escrow connector add ...)", name)),
                      connector_hint(vault, name));
    }
    if (connector->env != env) {
      fail(ErrorKind::usage, "add: connector {} belongs to {}, not {} (environments never mix)", name,
           connector->env, env);
    }
  }

  SecretRecord secret;
  secret.env = env;
  secret.name = short_name;
  secret.owner = owner;
  secret.purpose = spec.purpose;
  secret.tier = spec.tier;
  secret.connectors = spec.connectors; // the order given is the order they run
  secret.escrow_only = spec.escrow_only;
  secret.every = spec.every > 0 ? spec.every : rules.every;
  secret.generator = spec.generator ? describe(*spec.generator) : "";
  secret.after_access = spec.after_access;
  secret.custodians = spec.custodians;
  secret.threshold = spec.custodians.empty() ? 0 : spec.threshold;
  secret.created_at = session.now();

  put_new_secret(session, std::move(secret), value, "added");

  JournalEntry entry;
  entry.action = JournalAction::add;
  entry.secret = full_name;
  entry.env = env;
  entry.version = 1;
  entry.detail = Json{{"owner", owner}};
  if (spec.escrow_only) {
    entry.detail["escrow_only"] = true;
  }
  session.commit(std::move(entry));
  return session.vault().secret(full_name);
}

void put_new_secret(Session& session, SecretRecord secret, const SecretBytes& value, const std::string& why)
{
  Vault& vault = session.vault();
  const std::string& me = session.me().name;
  VersionPlan plan;
  plan.v = 1;
  plan.why = why;
  plan.readers = policy::standing_readers(vault, secret);
  plan.readers.insert(me); // whoever adds it has had the value
  VersionRecord version = seal_version(vault, secret, value, plan, session.now(), me);
  vault.sign(secret, version, session.identity());
  secret.versions.push_back(std::move(version));
  vault.sign_meta(secret, session.identity());
  vault.put_secret(std::move(secret));
}

std::vector<const SecretRecord*> inventory(Session& session, std::string_view env)
{
  std::vector<const SecretRecord*> secrets;
  const MemberRecord& me = session.me();
  if (!env.empty()) {
    require_known_environment(session.vault(), env, "list --env");
  }
  for (const auto& name : session.vault().secret_names()) {
    const std::string secret_env = name.substr(0, name.find('/'));
    if ((!env.empty() && secret_env != env) || !me.reaches(secret_env)) {
      continue;
    }
    secrets.push_back(&session.vault().secret(name));
  }
  return secrets;
}

const SecretRecord& show_secret(Session& session, std::string_view name)
{
  const auto [env, short_name] = split_secret_name(name);
  policy::require_env(session.me(), env, "show");
  return session.vault().secret(env + "/" + short_name);
}

Revealed reveal(Session& session, std::string_view name, std::int64_t wanted)
{
  const std::string full_name = full_name_of(name);
  const MemberRecord& me = session.me();
  const Vault& vault = session.vault();
  const SecretRecord& secret = vault.secret(full_name);
  JournalEntry entry = entry_for(JournalAction::reveal, secret);
  const VersionRecord* version = wanted > 0 ? secret.find_version(wanted) : secret.current();
  if (version == nullptr) {
    fail(ErrorKind::usage, "get: {} has no {}", full_name,
         wanted > 0 ? "version " + std::to_string(wanted) : std::string("current version"));
  }
  entry.version = version->v;
  OpenedValue opened = session.refusing(entry, [&] {
    policy::require_can_read(me, secret, "get");
    return open_value(vault, secret, *version, session.identity(), session.now());
  });
  Revealed revealed{full_name, version->v, std::move(opened.value)};
  entry.request = opened.request;
  entry.detail = Json{{"via", access_path_name(opened.path)}};
  if (opened.path != AccessPath::wrapped && secret.after_access && !opened.request.empty()) {
    // The first use of the grant (signed by the requester) makes the secret due: one write,
    // journaled as the reveal itself.
    const std::string me_name = me.name;
    session.upgrade();
    SecretRecord& mutable_secret = session.vault().secret_mut(full_name);
    for (auto& request : mutable_secret.requests) {
      if (request.id == opened.request && request.by == me_name && !request.used_at) {
        request.used_at = session.now();
        session.vault().sign(mutable_secret, request, session.identity());
        session.commit(std::move(entry));
        return revealed;
      }
    }
  }
  session.record(std::move(entry));
  return revealed;
}

std::vector<SecretBytes> load_values(Session& session, const std::vector<ValueBinding>& bindings,
                                     std::string_view program)
{
  const Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  std::vector<SecretBytes> values;
  values.reserve(bindings.size());
  std::vector<JournalEntry> entries;
  std::vector<std::pair<std::string, std::string>> used_grants; // after_access secrets: (name, request)
  for (const auto& binding : bindings) {
    const SecretRecord& secret = vault.secret(binding.secret);
    JournalEntry entry = entry_for(JournalAction::exec, secret);
    entry.detail = Json{{"program", program}, {"variable", binding.variable}};
    OpenedValue opened = session.refusing(entry, [&] {
      policy::require_can_read(me, secret, "exec", "use");
      const VersionRecord* current = secret.current();
      if (current == nullptr) {
        fail(ErrorKind::access, "exec: {} has no current version", binding.secret);
      }
      entry.version = current->v;
      return open_value(vault, secret, *current, session.identity(), session.now());
    });
    values.push_back(std::move(opened.value));
    entry.request = opened.request;
    entry.detail["via"] = access_path_name(opened.path);
    if (opened.path != AccessPath::wrapped && secret.after_access && !opened.request.empty()) {
      used_grants.emplace_back(binding.secret, opened.request);
    }
    entries.push_back(std::move(entry));
  }
  // Journaled before the command runs.
  for (auto& entry : entries) {
    session.record(std::move(entry));
  }
  if (!used_grants.empty()) {
    // The first use of a grant to an after_access secret makes it due (escrow.hpp).
    session.upgrade();
    JournalEntry used;
    used.action = JournalAction::grant_used;
    used.detail = Json{{"requests", Json::array()}};
    for (const auto& [full_name, request] : used_grants) {
      if (mark_grant_used(session.vault(), full_name, request, session.identity(), session.now())) {
        used.detail["requests"].push_back(Json{{"secret", full_name}, {"request", request}});
      }
    }
    if (!used.detail["requests"].empty()) {
      session.commit(std::move(used));
    }
  }
  return values;
}

namespace {

// The owner's checks shared by share and unshare; returns whether `member` is listed already.
bool check_sharing(Session& session, const SecretRecord& secret, const std::string& member, std::string_view action)
{
  const MemberRecord& me = session.me();
  policy::require_env(me, secret.env, action);
  if (secret.owner != me.name) {
    fail(ErrorKind::access, "{}: only the owner of {} ({}) may {} it", action, secret.full_name(), secret.owner,
         action);
  }
  const MemberRecord* target = session.vault().member(member);
  if (target == nullptr || !target->active()) {
    throw with_hint(Error(ErrorKind::usage, fmt::format("{}: {} is not an active member", action, member)),
                    member_hint(session.vault(), member));
  }
  return std::find(secret.shared_with.begin(), secret.shared_with.end(), member) != secret.shared_with.end();
}

} // namespace

void share_secret(Session& session, std::string_view name, const std::string& member)
{
  const std::string full_name = full_name_of(name);
  Vault& vault = session.vault();
  const bool listed = check_sharing(session, vault.secret(full_name), member, "share");
  policy::require_env(*vault.member(member), vault.secret(full_name).env, "share (recipient)");
  if (listed) {
    fail(ErrorKind::usage, "share: {} is already shared with {}", full_name, member);
  }
  SecretRecord& secret = vault.secret_mut(full_name);
  secret.shared_with.push_back(member);
  std::sort(secret.shared_with.begin(), secret.shared_with.end());
  for (auto& version : secret.versions) {
    if (version.state != VersionState::current && version.state != VersionState::pending
        && version.state != VersionState::previous) {
      continue;
    }
    const OpenedKey key = open_data_key(vault, secret, version, session.identity(), session.now());
    wrap_for(vault, version, member, key.data_key);
    vault.sign(secret, version, session.identity());
  }
  vault.sign_meta(secret, session.identity());
  JournalEntry entry = entry_for(JournalAction::share, secret);
  entry.detail = Json{{"member", member}};
  session.commit(std::move(entry));
}

void unshare_secret(Session& session, std::string_view name, const std::string& member)
{
  const std::string full_name = full_name_of(name);
  Vault& vault = session.vault();
  if (!check_sharing(session, vault.secret(full_name), member, "unshare")) {
    fail(ErrorKind::usage, "unshare: {} is not shared with {}", full_name, member);
  }
  SecretRecord& secret = vault.secret_mut(full_name);
  secret.shared_with.erase(std::remove(secret.shared_with.begin(), secret.shared_with.end(), member),
                           secret.shared_with.end());
  for (auto& version : secret.versions) {
    if (version.wrapped.erase(member) > 0) {
      vault.sign(secret, version, session.identity());
    }
  }
  // They may have kept what they saw: only a new value ends their access.
  if (secret.state == SecretState::active) {
    secret.due = fmt::format("unshared from {}", member);
    secret.due_since = session.now();
  }
  vault.sign_meta(secret, session.identity());
  JournalEntry entry = entry_for(JournalAction::unshare, secret);
  entry.detail = Json{{"member", member}};
  session.commit(std::move(entry));
}

} // namespace escrow
