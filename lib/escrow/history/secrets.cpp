#include <escrow/history/secrets.hpp>

#include <escrow/history/authorize.hpp>
#include <escrow/history/listing.hpp>
#include <escrow/history/material.hpp>
#include <escrow/history/race_gen.hpp>
#include <escrow/history/refusal.hpp>
#include <escrow/canonical.hpp>
#include <escrow/env_file.hpp>
#include <escrow/records.hpp>
#include <escrow/references.hpp>
#include <escrow/generator.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <system_error>
#include <thread>

namespace escrow::history {

namespace {

constexpr std::size_t k_max_env_file_size = 1024 * 1024; // an env file (exec --env-file)

Recipient recipient(const State& state, std::string_view name)
{
  const Member* m = state.member(name);
  if (m == nullptr) {
    fail(ErrorKind::usage, "{}: no such member", name);
  }
  return Recipient{m->name, m->box_pk};
}

const Version* version_of(const Secret& secret, std::int64_t v, std::string* vid)
{
  if (v == 0) {
    return secret.find_state(VersionState::current, vid);
  }
  for (const auto& [id, version] : secret.versions) {
    if (version.v == v) {
      *vid = id;
      return &version;
    }
  }
  return nullptr;
}

// Why `me` cannot read the version: their latest request's state, else that they hold nothing.
std::string why_not(const State& state, const Secret& secret, const std::string& vid, const Version& version,
                    const std::string& me, Timestamp now)
{
  if (!reaches(state, me, secret.env)) {
    return fmt::format("{} is not assigned to the {} environment", me, secret.env);
  }
  if (live(version) && standing_readers(state, secret).count(me) > 0) {
    // A key debt (key_debts): the generation was sealed before the access reached this line.
    return fmt::format("{} reads {} but holds no key of v{}'s generation yet (it was rotated concurrently with "
                       "that access, or before it); the owner's next `escrow sync`, or `escrow share {} --with {}`, "
                       "hands it over",
                       me, secret.name, version.v, secret.name, me);
  }
  // The member's open request with the most approvals, else their latest one.
  const RequestOf* latest = nullptr;
  std::string latest_id;
  std::size_t best = 0;
  bool best_open = false;
  for (const auto& [id, request] : secret.requests) {
    if (request.by != me) {
      continue;
    }
    const bool open = !request.denial && !request.voided && now < request.until;
    const std::size_t approvals = open ? counted(state, secret, request, vid).size() : 0;
    if (latest == nullptr || (open && (!best_open || approvals > best))
        || (!open && !best_open && request.created_at >= latest->created_at)) {
      latest = &request;
      latest_id = id;
      best = approvals;
      best_open = open;
    }
  }
  if (latest == nullptr) {
    return "not a reader, no request, no grant";
  }
  if (latest->denial) {
    return fmt::format("request {} was denied by {}", latest_id, latest->denial->by);
  }
  if (latest->voided) {
    return fmt::format("request {} is void", latest_id);
  }
  if (!(now < latest->until)) {
    return fmt::format("request {} expired at {}", latest_id, format_time(latest->until));
  }
  return fmt::format("request {} has {} of {} approvals for v{}", latest_id, counted(state, secret, *latest, vid).size(),
                     version.threshold, version.v);
}

} // namespace

// The three ways to a value (vault-2.md §4), in order: standing reader, carried grant, k approvals.
// During an unresolved merge no value of a secret in a conflict is opened (unresolved.hpp).
Opened open_version(VaultSession& session, const Secret& secret, const std::string& vid, const Version& version,
                    std::string_view what)
{
  session.require_readable(secret.name);
  (void)session.me(); // the identity, checked against the state first
  try {
    return open_readable(session.state(), session.keys(), session.identity(), session.now(), secret, vid, version,
                         what);
  } catch (const KeyError& error) {
    // The keys file during a merge is the keys driver's union: a line ours needs that theirs
    // deleted (an unshare, a retired version) is missing until the merge is resolved.
    if (!session.unresolved() || error.failure() != KeyFailure::missing) {
      throw;
    }
    throw session.unresolved()->refusal(
      fmt::format("{}: not served until the merge is resolved (theirs removed a key line ours reads: {})", secret.name,
                  error.what()));
  }
}


Opened open_readable(const State& state, const KeysFile& keys, const Identity& identity, Timestamp now,
                     const Secret& secret, const std::string& vid, const Version& version, std::string_view what)
{
  const std::string me = identity.pub.name;
  if (!can_read(state, me, secret, vid, now)) {
    throw Error(ErrorKind::access, fmt::format("{}: {}: {} may not read v{}: {}", what, secret.name, me, version.v,
                                               why_not(state, secret, vid, version, me, now)))
      .hint(fmt::format("ask the custodians: escrow request {} --ttl 1h --why \"...\"", secret.name));
  }
  const SecretRef ref{state.vault_id, secret.name};
  const std::optional<Vid> parsed = Vid::from_hex(vid);
  if (!parsed) {
    fail(ErrorKind::integrity, "{}: {}: malformed version id", what, secret.name);
  }
  const VersionRef vref{*parsed, static_cast<std::uint32_t>(version.gen), version.dk_commit, version.material};
  Opened out;
  const Generation* gen = secret.generation_of(version);
  if (gen != nullptr && gen->holders.count(me) > 0) {
    const GenerationRef gref{static_cast<std::uint32_t>(version.gen), gen->rk_commit};
    const SecretBytes dk = open_as_reader(keys, ref, vref, gref, gen->holders.at(me), identity);
    out.value = decrypt_value(keys, ref, vref, dk);
    out.via = "reader";
    return out;
  }
  if (const auto grant = version.grants.find(me); grant != version.grants.end() && now < grant->second.until) {
    const SecretBytes dk = open_grant(keys, ref, vref, grant->second.key, identity);
    out.value = decrypt_value(keys, ref, vref, dk);
    out.via = "grant";
    out.request = grant->second.request;
    return out;
  }
  for (const auto& [id, request] : secret.requests) {
    if (request.by != me || !grant_active_for(state, secret, request, vid, now)) {
      continue;
    }
    std::vector<ApprovalRef> approvals;
    for (const std::string& approver : counted(state, secret, request, vid)) {
      approvals.push_back(ApprovalRef{approver, request.approvals.at(approver).share});
    }
    const SecretBytes dk = open_approvals(keys, ref, vref, id, approvals, static_cast<unsigned>(version.threshold),
                                          identity);
    out.value = decrypt_value(keys, ref, vref, dk);
    out.via = "approvals";
    out.request = id;
    return out;
  }
  fail(ErrorKind::access, "{}: {}: no key line opens v{} for {}", what, secret.name, version.v, me);
}

namespace {

// The first use of a grant to an after_access secret: grant-used (the secret becomes due).
void mark_used(VaultSession& session, const std::string& name, const std::string& request)
{
  const Secret* secret = session.state().secret(name);
  if (secret == nullptr || !secret->after_access) {
    return;
  }
  const auto it = secret->requests.find(request);
  if (it == secret->requests.end() || it->second.used_at) {
    return;
  }
  if (!session.writable()) {
    session.upgrade();
  }
  GrantUsedArgs args;
  args.secret = name;
  args.request = request;
  session.submit(std::move(args));
}

} // namespace

void check_secret_spec(const SecretSpec& spec)
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
  if (!spec.generator.empty() && !parse_generator(spec.generator).command.empty()) {
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
  if (!valid_secret_name(spec.name)) {
    fail(ErrorKind::usage, "add: invalid secret name \"{}\" (ENV/NAME)", spec.name);
  }
}

const Secret& add_secret(VaultSession& session, const SecretSpec& spec, const SecretBytes& value)
{
  const State& state = session.state();
  const std::string me = session.me().name;
  SecretAddArgs args;
  args.secret = spec.name;
  args.owner = spec.owner.empty() ? me : spec.owner;
  args.purpose = spec.purpose;
  args.tier = spec.tier;
  args.connectors = spec.connectors;
  args.every = spec.every;
  args.generator = spec.generator;
  args.after_access = spec.after_access;
  args.escrow_only = spec.escrow_only;
  args.custodians.insert(spec.custodians.begin(), spec.custodians.end());
  args.threshold = spec.threshold;
  // What names nothing that exists is a usage error (as v1), not a refusal by the rules.
  if (state.secret(spec.name) != nullptr) {
    fail(ErrorKind::usage, "add: {} already exists (retired secrets keep their names)", spec.name);
  }
  (void)find_member(state, args.owner, "add: --owner");
  for (const std::string& name : spec.custodians) {
    (void)find_member(state, name, "add: --custodians");
  }
  for (const std::string& name : spec.connectors) {
    const Connector& c = find_connector(state, name, "add: --connector");
    if (c.env != env_of(spec.name)) {
      fail(ErrorKind::usage, "add: --connector: connector {} belongs to {}, not {} (environments never mix)", name,
           c.env, env_of(spec.name));
    }
  }
  const Json detail{{"secret", spec.name}};
  return journaling_refusal(session, OpKind::secret_add, detail, [&]() -> const Secret& {
    // The readers of generation 1 are the new secret's standing readers (owner, rotators, no
    // shares yet): the same helper the rule checks the lines against.
    Secret draft;
    draft.env = std::string(env_of(spec.name));
    draft.name = spec.name;
    draft.owner = args.owner;
    const SecretRef ref{session.vault_id(), spec.name};
    const ReaderKey gen = new_generation(ref, 1);
    SealedVersion version = seal_value(ref, gen, value);
    args.version.vid = version.vid.hex();
    args.version.rk_commit = gen.commit;
    args.version.dk_commit = version.commit;
    Material material;
    for (const std::string& reader : standing_readers(state, draft)) {
      material.lines.push_back(seal_reader_key(ref, gen, recipient(state, reader)));
    }
    material.lines.push_back(version.value_line);
    if (!spec.custodians.empty()) {
      std::vector<Recipient> custodians;
      for (const std::string& name : spec.custodians) {
        custodians.push_back(recipient(state, name));
      }
      for (SealedLine& line :
           seal_shares(ref, version.vid, version.data_key, static_cast<unsigned>(spec.threshold), custodians)) {
        material.lines.push_back(std::move(line));
      }
    }
    session.submit(std::move(args), material);
    return *session.state().secret(spec.name);
  });
}

namespace {

// Metadata is shown to the whole team: UTF-8 text without terminal control characters.
void check_text(std::string_view what, std::string_view option, std::string_view text)
{
  if (!canonical::valid_utf8(text)
      || std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    fail(ErrorKind::usage, "{}: {} must be UTF-8 text without control characters", what, option);
  }
}

void check_listed_once(std::string_view what, std::string_view option, std::vector<std::string> names)
{
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end()) {
    fail(ErrorKind::usage, "{}: {} lists a name twice", what, option);
  }
}

} // namespace

void check_secret_update(const SecretUpdate& update)
{
  if (!valid_secret_name(update.name)) {
    (void)split_secret_name(update.name); // the precise reason
    fail(ErrorKind::usage, "add: invalid secret name \"{}\" (ENV/NAME)", update.name);
  }
  if (!update.owner && !update.purpose && !update.tier && !update.connectors && !update.every && !update.generator
      && !update.after_access && !update.escrow_only) {
    throw Error(ErrorKind::usage, "add --update: nothing to change")
      .hint("give --owner, --purpose, --tier, --connector, --every, --generate, --after-access or --escrow-only");
  }
  if (update.purpose) {
    if (update.purpose->empty()) {
      fail(ErrorKind::usage, "add: --purpose must not be empty");
    }
    check_text("add", "--purpose", *update.purpose);
  }
  if (update.tier) {
    check_text("add", "--tier", *update.tier);
  }
  if (update.owner) {
    check_text("add", "--owner", *update.owner);
  }
  if (update.connectors) {
    check_listed_once("add", "--connector", *update.connectors);
  }
  if (update.every && *update.every < 0) {
    fail(ErrorKind::usage, "add: --every must not be negative");
  }
  if (update.generator) {
    (void)parse_generator(*update.generator);
  }
}

const Secret& update_secret(VaultSession& session, const SecretUpdate& update)
{
  check_secret_update(update);
  const State& state = session.state();
  const Secret& secret = find_secret(state, update.name, "add --update");
  const std::string name = secret.name;
  if (update.owner) {
    (void)find_member(state, *update.owner, "add: --owner");
  }
  if (update.connectors) {
    for (const std::string& connector : *update.connectors) {
      (void)find_connector(state, connector, "add: --connector");
    }
  }
  Json detail{{"secret", name}};
  return journaling_refusal(session, OpKind::secret_set, detail, [&]() -> const Secret& {
    const std::string me = session.me().name;
    SecretSetArgs args;
    args.secret = name;
    args.owner = update.owner;
    args.purpose = update.purpose;
    args.tier = update.tier;
    args.connectors = update.connectors;
    args.every = update.every;
    args.generator = update.generator;
    args.after_access = update.after_access;
    args.escrow_only = update.escrow_only;
    Material material;
    if (update.owner && *update.owner != secret.owner) {
      // The new owner becomes a standing reader: a reader key of every live generation they
      // lack, re-sealed from the actor's own (one open, one seal per generation, as share).
      const Recipient to = recipient(state, *update.owner);
      const SecretRef ref{session.vault_id(), name};
      std::set<std::int64_t> done;
      for (const auto& [vid, version] : secret.versions) {
        if (!live(version) || !done.insert(version.gen).second) {
          continue;
        }
        const Generation& gen = secret.gens.at(version.gen);
        if (gen.holders.count(*update.owner) > 0) {
          continue;
        }
        const auto mine = gen.holders.find(me);
        if (mine == gen.holders.end()) {
          // Not sealed for the actor: the rules' own reason comes first (a non-owner non-admin
          // is refused for that), then the missing key is the refusal.
          Context ctx;
          ctx.actor = me;
          ctx.ts = session.now();
          ctx.vault = session.vault_id();
          if (const Verdict verdict = may_set_secret(state, ctx, args)) {
            Error error(ErrorKind::access, fmt::format("add --update: {}", verdict->reason));
            if (!verdict->hint.empty()) {
              error.hint(verdict->hint);
            }
            throw error;
          }
          fail(ErrorKind::access, "add --update: {}: you hold no key of generation {} to hand to the new owner",
               name, version.gen);
        }
        const GenerationRef gref{static_cast<std::uint32_t>(version.gen), gen.rk_commit};
        SecretBytes rk = open_reader_key(session.keys(), ref, gref, mine->second, session.identity());
        const ReaderKey key = known_generation(ref, static_cast<std::uint32_t>(version.gen), std::move(rk));
        material.lines.push_back(seal_reader_key(ref, key, to));
      }
    }
    session.submit(std::move(args), material);
    return *session.state().secret(name);
  });
}

void check_custodians(const std::vector<std::string>& custodians, std::int64_t threshold)
{
  for (const std::string& name : custodians) {
    check_text("custodians", "--custodians", name);
  }
  check_listed_once("custodians", "--custodians", custodians);
  if (custodians.empty() && threshold != 0) {
    fail(ErrorKind::usage, "custodians: --threshold needs --custodians (an empty list removes escrow: --threshold 0)");
  }
  if (!custodians.empty() && (threshold < 1 || threshold > static_cast<std::int64_t>(custodians.size()))) {
    fail(ErrorKind::usage, "custodians: --threshold must be between 1 and the number of custodians ({})",
         custodians.size());
  }
}

const Secret& set_custodians(VaultSession& session, std::string_view target, const std::vector<std::string>& custodians,
                             std::int64_t threshold)
{
  check_custodians(custodians, threshold);
  const State& state = session.state();
  const Secret& secret = find_secret(state, target, "custodians");
  const std::string name = secret.name;
  for (const std::string& custodian : custodians) {
    (void)find_member(state, custodian, "custodians: --custodians");
  }
  const Json detail{{"secret", name}};
  return journaling_refusal(session, OpKind::custodians_set, detail, [&]() -> const Secret& {
    CustodiansSetArgs args;
    args.secret = name;
    args.custodians.insert(custodians.begin(), custodians.end());
    args.threshold = threshold;
    session.submit(std::move(args));
    return *session.state().secret(name);
  });
}

std::vector<const Secret*> inventory(const State& state, std::string_view env)
{
  if (!env.empty() && !valid_env_name(env)) {
    fail(ErrorKind::usage, "list: invalid environment name");
  }
  std::vector<const Secret*> out;
  for (const auto& [name, secret] : state.secrets) {
    if (env.empty() || secret->env == env) {
      out.push_back(secret.get());
    }
  }
  return out;
}

namespace {

// A secret's due reasons as people read them: "a, b" in name order ("" = none).
std::string due_reasons(const Secret& secret)
{
  std::string out;
  for (const auto& [reason, since] : secret.due) {
    out += out.empty() ? reason : ", " + reason;
  }
  return out;
}

std::int64_t cadence_of(const State& state, const std::string& env, std::int64_t every)
{
  if (every > 0) {
    return every;
  }
  return state.policy ? state.policy->for_env(env).every : 0;
}

} // namespace

std::int64_t cadence(const State& state, const Secret& secret)
{
  return cadence_of(state, secret.env, secret.every);
}

StatusFacts status_facts(const Secret& secret)
{
  StatusFacts facts;
  facts.env = secret.env;
  facts.every = secret.every;
  facts.retired = secret.state == SecretState::retired;
  if (const Version* pending = secret.find_state(VersionState::pending)) {
    facts.pending_v = pending->v;
  }
  if (const Version* current = secret.find_state(VersionState::current)) {
    facts.current_v = current->v;
    facts.current_at = current->created_at;
  }
  facts.live = std::any_of(secret.versions.begin(), secret.versions.end(), [](const auto& v) { return live(v.second); });
  facts.due = due_reasons(secret);
  return facts;
}

ListedSecret listed_secret(const Secret& secret)
{
  ListedSecret out;
  out.name = secret.name;
  out.owner = secret.owner;
  out.purpose = secret.purpose;
  for (const std::string& c : secret.connectors) {
    out.connectors += out.connectors.empty() ? c : "," + c;
  }
  out.custodians = secret.custodians.size();
  out.threshold = secret.threshold;
  out.facts = status_facts(secret);
  return out;
}

std::string status(const State& state, const StatusFacts& facts, Timestamp now)
{
  if (facts.retired) {
    return "retired";
  }
  if (facts.pending_v) {
    return fmt::format("pending v{}", *facts.pending_v);
  }
  if (!facts.current_v && facts.live) {
    return "compromised";
  }
  if (!facts.due.empty()) {
    return "due: " + facts.due;
  }
  if (!facts.current_v) {
    return "no current version";
  }
  const std::int64_t every = cadence_of(state, facts.env, facts.every);
  if (every > 0) {
    const Timestamp due_at = facts.current_at + every;
    if (now >= due_at) {
      return "overdue " + describe_duration(now - due_at);
    }
    return "in " + describe_duration(due_at - now);
  }
  return "manual";
}

std::string status(const State& state, const Secret& secret, Timestamp now)
{
  return status(state, status_facts(secret), now);
}

std::optional<DueReason> due_for_rotation(const State& state, const Secret& secret, Timestamp now)
{
  if (secret.state != SecretState::active || secret.rotation || secret.find_state(VersionState::pending) != nullptr) {
    return std::nullopt;
  }
  if (!secret.due.empty()) {
    DueReason out;
    out.reason = due_reasons(secret);
    Timestamp since = now;
    for (const auto& [reason, at] : secret.due) {
      since = std::min(since, at);
    }
    out.since = since;
    return out;
  }
  const Version* current = secret.find_state(VersionState::current);
  if (current == nullptr) {
    const bool compromised = secret.find_state(VersionState::compromised) != nullptr;
    return DueReason{compromised ? "compromised" : "no current version", std::nullopt};
  }
  const std::int64_t every = cadence(state, secret);
  if (every > 0 && now >= current->created_at + every) {
    const Timestamp since = current->created_at + every;
    return DueReason{fmt::format("overdue {} (every {})", describe_duration(now - since), format_duration(every)),
                     since};
  }
  return std::nullopt;
}

namespace {

// A retired secret is kept in the history and never served (docs/ROTATION.md: get/exec refuse it).
// During an unresolved merge (unresolved.hpp) a secret in a conflict is not served, nor a value
// whose read would write (the first use of an after_access grant marks it used).
Opened open_served(VaultSession& session, const Secret& secret, const std::string& vid, const Version& version,
                   std::string_view what)
{
  session.require_readable(secret.name); // before the retired check: the conflict is the news
  if (secret.state == SecretState::retired) {
    throw Error(ErrorKind::access, fmt::format("{}: {} is retired: kept in the history, never served", what, secret.name));
  }
  Opened opened = open_version(session, secret, vid, version, what);
  if (session.unresolved() && !opened.request.empty() && secret.after_access) {
    const auto request = secret.requests.find(opened.request);
    if (request != secret.requests.end() && !request->second.used_at) {
      throw session.unresolved()->refusal(fmt::format("the first use of grant {} on {} is a write (the secret "
                                                      "becomes due): not served until the merge is resolved",
                                                      opened.request, secret.name));
    }
  }
  return opened;
}

} // namespace

Revealed reveal(VaultSession& session, std::string_view name, std::int64_t v)
{
  const Secret& secret = find_secret(session.state(), name, "get");
  std::string vid;
  const Version* version = version_of(secret, v, &vid);
  if (version == nullptr) {
    fail(ErrorKind::usage, "get: {} has no {}", secret.name, v > 0 ? "version " + std::to_string(v) : "current version");
  }
  const Json denied{{"secret", secret.name}, {"version", version->v}};
  Opened opened = journaling_refusal(session, EventKind::reveal, denied,
                                     [&] { return open_served(session, secret, vid, *version, "get"); });
  Revealed out{secret.name, version->v, opened.via, std::move(opened.value)};
  Json detail{{"secret", out.secret}, {"version", out.version}, {"via", out.via}};
  if (!opened.request.empty()) {
    detail["request"] = opened.request;
  }
  const std::string full_name = secret.name; // `secret` points into a state the writes replace
  session.record(EventKind::reveal, Result::ok, detail);
  if (!opened.request.empty()) {
    mark_used(session, full_name, opened.request);
  }
  return out;
}

namespace {

// One read of many: `detail` holds the event's facts besides secret/version/via/request.
struct ReadItem
{
  std::string secret;
  std::int64_t version = 0; // 0 = current
  Json detail;
};

// Every value opened first (a refusal journaled, nothing returned), then every read journaled as
// `action`, then the first uses of after_access grants submitted. Returns the values in order and
// the versions read.
std::vector<SecretBytes> read_many(VaultSession& session, const std::vector<ReadItem>& items, EventKind action,
                                   std::string_view what, std::vector<std::int64_t>* versions = nullptr)
{
  std::vector<SecretBytes> values;
  std::vector<Json> details;
  std::vector<std::pair<std::string, std::string>> used; // (secret, request)
  for (const ReadItem& item : items) {
    const Secret& secret = find_secret(session.state(), item.secret, what);
    std::string vid;
    const Version* version = version_of(secret, item.version, &vid);
    Json detail = item.detail;
    detail["secret"] = secret.name;
    if (version == nullptr && item.version > 0) {
      fail(ErrorKind::usage, "{}: {} has no version {}", what, secret.name, item.version);
    }
    if (version == nullptr) {
      journaling_refusal(session, action, detail, [&]() -> int {
        fail(ErrorKind::access, "{}: {} has no current version", what, secret.name);
      });
    }
    detail["version"] = version->v;
    Opened opened = journaling_refusal(session, action, detail,
                                       [&] { return open_served(session, secret, vid, *version, what); });
    detail["via"] = opened.via;
    if (!opened.request.empty()) {
      detail["request"] = opened.request;
      used.emplace_back(secret.name, opened.request);
    }
    if (versions != nullptr) {
      versions->push_back(version->v);
    }
    values.push_back(std::move(opened.value));
    details.push_back(std::move(detail));
  }
  // Journaled before any value leaves escrow.
  for (Json& detail : details) {
    session.record(action, Result::ok, std::move(detail));
  }
  for (const auto& [name, request] : used) {
    mark_used(session, name, request);
  }
  return values;
}

} // namespace

std::vector<SecretBytes> load_values(VaultSession& session, const std::vector<Binding>& bindings, std::string_view program)
{
  std::vector<ReadItem> items;
  for (const Binding& binding : bindings) {
    Json detail{{"program", std::string(program)}, {"variable", binding.variable}};
    if (!binding.env_file.empty()) {
      detail["env_file"] = binding.env_file;
    }
    items.push_back(ReadItem{binding.secret, binding.version, std::move(detail)});
  }
  return read_many(session, items, EventKind::exec, "exec");
}

InjectResult inject(VaultSession& session, const std::filesystem::path& input, const std::filesystem::path& output,
                    SecretBytes* to_stdout)
{
  std::vector<std::int64_t> versions;
  InjectResult result = inject_with(input, output, to_stdout, [&](const std::vector<Reference>& distinct) {
    std::vector<ReadItem> items;
    for (const Reference& reference : distinct) {
      items.push_back(ReadItem{reference.secret, reference.version,
                               Json{{"into", "inject"},
                                    {"template", input.string()},
                                    {"output", output.empty() ? std::string("-") : output.string()}}});
    }
    return read_many(session, items, EventKind::reveal, "inject", &versions);
  });
  for (std::size_t i = 0; i < result.secrets.size() && i < versions.size(); ++i) {
    result.secrets[i].second = versions[i];
  }
  return result;
}

EnvFileBindings read_env_file(const std::filesystem::path& path)
{
  const SecretBytes text = read_secret_file(path, k_max_env_file_size);
  EnvFileBindings out;
  for (EnvEntry& entry : parse_env_file(text.expose_view(), path.string())) {
    const std::string what = fmt::format("{}: line {}", path.string(), entry.line);
    const std::optional<Reference> reference = parse_reference(entry.value.expose_view(), what);
    if (!reference) {
      out.plain.emplace_back(entry.name, std::string(entry.value.expose_view()));
      continue;
    }
    out.bindings.push_back(Binding{entry.name, reference->secret, reference->version, path.string()});
  }
  return out;
}

namespace {

// One share operation of `names` to `member` (a second entry when a settled race's generation of a
// number the first used is owed too); a refusal is journaled with `detail`.
void share_names(VaultSession& session, const std::vector<std::string>& names, const std::string& member,
                 const Json& detail);

} // namespace

std::vector<std::string> share(VaultSession& session, std::string_view target, const std::string& member)
{
  const State& state = session.state();
  const std::string me = session.me().name;
  (void)find_member(state, member, "share --with");
  std::vector<const Secret*> secrets;
  const bool bulk = target.size() > 2 && target.substr(target.size() - 2) == "/*";
  if (bulk) {
    const std::string env(target.substr(0, target.size() - 2));
    for (const auto& [name, secret] : state.secrets) {
      if (secret->env == env && secret->owner == me && secret->state == SecretState::active
          && standing_readers(state, *secret).count(member) == 0) {
        secrets.push_back(secret.get());
      }
    }
    if (secrets.empty()) {
      fail(ErrorKind::usage, "share: {}: no active secret you own that {} cannot already read", target, member);
    }
  } else {
    secrets.push_back(&find_secret(state, target, "share"));
  }
  std::vector<std::string> names;
  for (const Secret* secret : secrets) {
    names.push_back(secret->name);
  }
  share_names(session, names, member, Json{{"secret", std::string(target)}, {"member", member}});
  return names;
}

namespace {

// The live generations of `secret` `member` lacks (race_gen.hpp share_target), with whether
// `holder` holds every one of them (only then can `holder` hand them over).
struct Owed
{
  bool any = false;
  bool payable = true;
};
Owed owed(const Secret& secret, const std::string& member, const std::string& holder)
{
  Owed out;
  for (const auto& [vid, version] : secret.versions) {
    if (!live(version)) {
      continue;
    }
    const ShareTarget found = share_target(secret, version.gen, member);
    if (found.generation != nullptr) {
      out.any = true;
      out.payable = out.payable && found.generation->holders.count(holder) > 0;
    }
  }
  return out;
}

} // namespace

std::map<std::string, std::vector<std::string>> key_debts(const State& state, const std::string& owner)
{
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, secret] : state.secrets) {
    if ((!owner.empty() && secret->owner != owner) || secret->state != SecretState::active
        || !reaches(state, secret->owner, secret->env)) {
      continue;
    }
    for (const std::string& member : standing_readers(state, *secret)) {
      if (member == secret->owner) {
        continue;
      }
      const Owed o = owed(*secret, member, secret->owner);
      if (o.any && o.payable) {
        out[member].push_back(name);
      }
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> pay_key_debts(VaultSession& session)
{
  std::vector<std::pair<std::string, std::string>> paid;
  const std::map<std::string, std::vector<std::string>> debts = key_debts(session.state(), session.me().name);
  for (const auto& [member, names] : debts) {
    share_names(session, names, member, Json{{"secrets", names}, {"member", member}, {"why", "key debt"}});
    for (const std::string& name : names) {
      paid.emplace_back(name, member);
    }
  }
  return paid;
}

namespace {

void share_names(VaultSession& session, const std::vector<std::string>& names, const std::string& member,
                 const Json& detail)
{
  const State& state = session.state();
  const std::string me = session.me().name;
  journaling_refusal(session, OpKind::share, detail, [&] {
    const Recipient to = recipient(state, member);
    // One reader line per generation number per entry (race_gen.hpp): the secret's own generation
    // first; a settled race's generation of a number the same entry used goes in a second entry.
    const auto build = [&](const State& now, bool first, ShareArgs& args, Material& material) {
      args.member = member;
      // First, in order, what to re-seal: the rk line of each live generation `member` lacks (read
      // and checked against its K below, with the opens: a lookup only reads the mapped file).
      struct Job
      {
        SecretRef ref;
        GenerationRef gref;
        LineName line;
        Hash k{};
      };
      std::vector<Job> jobs;
      for (const std::string& name : names) {
        const Secret* secret = now.secret(name);
        ShareItem item;
        item.secret = name;
        const SecretRef ref{session.vault_id(), name};
        for (const auto& [vid, version] : secret->versions) {
          if (!live(version) || item.gens.count(version.gen) > 0) {
            continue;
          }
          const ShareTarget found = share_target(*secret, version.gen, member);
          if (found.generation == nullptr) {
            continue; // already holds it
          }
          const Generation& gen = *found.generation;
          const auto mine = gen.holders.find(me);
          if (mine == gen.holders.end()) {
            fail(ErrorKind::access, "share: {}: you hold no key of generation {}{} to share", name, version.gen,
                 found.race_vid.empty() ? std::string()
                                        : fmt::format(" (the one a rotation race kept for {})", found.race_vid));
          }
          const GenerationRef gref{static_cast<std::uint32_t>(version.gen), gen.rk_commit};
          jobs.push_back(Job{ref, gref, LineName::reader_key(name, gref.gen, me), mine->second});
          item.gens.insert(version.gen);
        }
        if (item.gens.empty()) {
          if (first) {
            fail(ErrorKind::usage, "share: {}: {} already holds every live generation", name, member);
          }
          continue;
        }
        args.items.push_back(std::move(item));
      }
      // Then the opens and seals (the cost: two X25519 operations each), on two threads when the
      // identity holds its own keys (an agent answers one request at a time). Each thread opens
      // every reader key into one sodium_malloc'd buffer of its own, reused key after key (a
      // locked mapping per key cost more than the X25519 work: docs/PERFORMANCE.md); the first
      // failure, in job order, is the one thrown.
      std::vector<std::optional<SealedLine>> sealed(jobs.size());
      std::vector<std::exception_ptr> failed(jobs.size());
      const Identity& identity = session.identity();
      const KeysFile& keys = session.keys(); // opened here, on this thread; then only read
      const std::string& keys_what = keys.what();
      auto work = [&](std::size_t begin, std::size_t end) {
        ReaderKey key;
        for (std::size_t i = begin; i < end; ++i) {
          try {
            const Job& job = jobs[i];
            const SealedLine line = keys.get(job.line, job.k);
            open_reader_key_into(line, keys_what, job.ref, job.gref, identity, key);
            sealed[i] = seal_reader_key(job.ref, key, to);
          } catch (...) {
            failed[i] = std::current_exception();
          }
        }
      };
      constexpr std::size_t k_parallel_from = 32;
      std::thread other;
      std::size_t mine_end = jobs.size();
      if (identity.holder == nullptr && jobs.size() >= k_parallel_from) {
        try {
          other = std::thread(work, jobs.size() / 2, jobs.size());
          mine_end = jobs.size() / 2;
        } catch (const std::system_error&) {
          // No second thread to be had: this one does it all.
        }
      }
      work(0, mine_end);
      if (other.joinable()) {
        other.join();
      }
      material.lines.reserve(jobs.size());
      for (std::size_t i = 0; i < jobs.size(); ++i) {
        if (failed[i]) {
          std::rethrow_exception(failed[i]);
        }
        material.lines.push_back(std::move(*sealed[i]));
      }
    };
    ShareArgs args;
    Material material;
    build(session.state(), true, args, material);
    session.submit(std::move(args), material);
    ShareArgs more;
    Material more_material;
    build(session.state(), false, more, more_material);
    if (!more.items.empty()) {
      session.submit(std::move(more), more_material);
    }
  });
}

} // namespace

bool unshare(VaultSession& session, std::string_view name, const std::string& member)
{
  const Secret& secret = find_secret(session.state(), name, "unshare");
  (void)find_member(session.state(), member, "unshare --with");
  const std::string full_name = secret.name;
  const std::size_t due_before = secret.due.size();
  const Json detail{{"secret", full_name}, {"member", member}};
  return journaling_refusal(session, OpKind::unshare, detail, [&] {
    UnshareArgs args;
    args.secret = full_name;
    args.member = member;
    session.submit(std::move(args));
    return session.state().secret(full_name)->due.size() > due_before;
  });
}

} // namespace escrow::history
