#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/generator.hpp>
#include <escrow/policy.hpp>
#include <escrow/redact.hpp>
#include <escrow/rotation.hpp>
#include <escrow/util/process.hpp>
#include <escrow/util/text.hpp>
#include <escrow/versions.hpp>

#include <algorithm>
#include <memory>

namespace escrow::rotation {

namespace {


bool key_material(const VersionRecord& version)
{
  return !version.wrapped.empty() || !version.shares.empty() || !version.granted.empty();
}

using util::join;

std::string label(const std::string& name, std::int64_t v)
{
  return fmt::format("{}@v{}", name, v);
}

// ENV/NAME as the vault spells it; Error(usage) for a malformed name.
std::string full_name_of(const std::string& name)
{
  const auto [env, short_name] = split_secret_name(name);
  return env + "/" + short_name;
}

JournalEntry entry_for(JournalAction action,
                       const std::string& secret,
                       const std::string& env,
                       std::optional<std::int64_t> version = std::nullopt)
{
  JournalEntry entry;
  entry.action = action;
  entry.secret = secret;
  entry.env = env;
  entry.version = version;
  return entry;
}

connector::Action action_of(OpKind kind)
{
  return kind == OpKind::rotate ? connector::Action::rotate : connector::Action::rollback;
}

bool has_command_connectors(const Vault& vault, const SecretRecord& secret)
{
  return std::any_of(secret.connectors.begin(), secret.connectors.end(), [&](const std::string& name) {
    const ConnectorRecord* connector = vault.connector(name);
    return connector != nullptr && connector->kind == ConnectorKind::command;
  });
}

// What a person must do for a manual connector to take version `v` of `secret`.
Instruction paste_instruction(const std::string& secret,
                              const std::string& connector_name,
                              const ConnectorRecord* connector,
                              std::int64_t v,
                              std::vector<std::string> who)
{
  Instruction instruction;
  instruction.connector = connector_name;
  instruction.text = connector != nullptr && !connector->instructions.empty()
                       ? connector->instructions
                       : "paste the new value where " + connector_name + " needs it";
  instruction.who = std::move(who);
  instruction.value_command = fmt::format("escrow get {} --reveal --version {}", secret, v);
  instruction.confirm_command = fmt::format("escrow rotate --confirm {} {}", secret, connector_name);
  return instruction;
}

bool after_access_used(const SecretRecord& secret, const VersionRecord& current)
{
  if (!secret.after_access) {
    return false;
  }
  for (const Request& request : secret.requests) {
    if (!request.used_at || *request.used_at < current.created_at) {
      continue;
    }
    // The use must have been of this version: approvals for it, or a grant carried into it.
    const bool approved_here = std::any_of(request.approvals.begin(), request.approvals.end(),
                                           [&](const Approval& a) { return a.v == current.v; });
    const bool carried_here = std::any_of(current.granted.begin(), current.granted.end(),
                                          [&](const auto& item) { return item.second.request == request.id; });
    if (approved_here || carried_here) {
      return true;
    }
  }
  return false;
}

// The entry was written for this vault by a member who may write `secret`, and is unaltered.
bool authentic_entry(const Vault& vault, const SecretRecord& secret, const JournalEntry& entry)
{
  const MemberRecord* author = vault.member(entry.actor);
  if (author == nullptr || entry.vault != vault.id_b64() || !policy::may_rotate(*author, secret)) {
    return false;
  }
  return journal_entry_authentic(entry, author->sign_pk);
}

} // namespace

// --- what is due -------------------------------------------------------------------------------

const VersionRecord* pending_version(const SecretRecord& secret)
{
  for (const auto& version : secret.versions) {
    if (version.state == VersionState::pending) {
      return &version;
    }
  }
  return nullptr;
}

const VersionRecord* live_version(const SecretRecord& secret)
{
  if (const VersionRecord* current = secret.current()) {
    return current;
  }
  const VersionRecord* newest = nullptr;
  for (const auto& version : secret.versions) {
    if (version.state == VersionState::compromised && (newest == nullptr || version.v > newest->v)) {
      newest = &version;
    }
  }
  return newest;
}

std::int64_t cadence(const SecretRecord& secret, const PolicyRecord& policy)
{
  return secret.every > 0 ? secret.every : policy.for_env(secret.env).every;
}

std::optional<std::string> due_reason(const SecretRecord& secret, const PolicyRecord& policy, Timestamp now)
{
  if (secret.state != SecretState::active || pending_version(secret) != nullptr) {
    return std::nullopt;
  }
  const VersionRecord* current = secret.current();
  if (!secret.due.empty()) {
    return secret.due;
  }
  if (current == nullptr) {
    return live_version(secret) != nullptr ? "compromised" : "no current version";
  }
  if (after_access_used(secret, *current)) {
    return "accessed via grant";
  }
  const std::int64_t every = cadence(secret, policy);
  if (every > 0 && now >= current->created_at + every) {
    return fmt::format("overdue {} (every {})", describe_duration(now - current->created_at - every),
                       format_duration(every));
  }
  return std::nullopt;
}

std::string status(const SecretRecord& secret, const PolicyRecord& policy, Timestamp now)
{
  if (secret.state == SecretState::retired) {
    return "retired";
  }
  if (const VersionRecord* pending = pending_version(secret)) {
    return fmt::format("pending v{}", pending->v);
  }
  const VersionRecord* current = secret.current();
  if (current == nullptr && live_version(secret) != nullptr) {
    return "compromised";
  }
  if (!secret.due.empty()) {
    return "due: " + secret.due;
  }
  if (current == nullptr) {
    return "no current version";
  }
  if (after_access_used(secret, *current)) {
    return "due: accessed via grant";
  }
  const std::int64_t every = cadence(secret, policy);
  if (every > 0) {
    const Timestamp due_at = current->created_at + every;
    if (now >= due_at) {
      return "overdue " + describe_duration(now - due_at);
    }
    return "in " + describe_duration(due_at - now);
  }
  return "manual";
}

// --- versions ------------------------------------------------------------------------------------

std::vector<std::int64_t> apply_retention(SecretRecord& secret, std::int64_t keep)
{
  keep = std::max<std::int64_t>(keep, 1);
  std::vector<VersionRecord*> others;
  std::int64_t kept = 0;
  for (auto& version : secret.versions) {
    if (version.state == VersionState::previous) {
      ++kept;
    } else if (version.state != VersionState::current && version.state != VersionState::pending) {
      others.push_back(&version);
    }
  }
  std::sort(others.begin(), others.end(), [](const VersionRecord* a, const VersionRecord* b) { return a->v > b->v; });
  std::vector<std::int64_t> changed;
  for (VersionRecord* version : others) {
    if (kept < keep) {
      ++kept;
      continue;
    }
    if (key_material(*version)) {
      version->wrapped.clear();
      version->shares.clear();
      version->granted.clear();
      changed.push_back(version->v);
    }
  }
  return changed;
}

// --- in-flight state -----------------------------------------------------------------------------

PendingState replay(const std::vector<JournalEntry>& journal, const std::string& secret_name, std::int64_t v)
{
  PendingState state;
  state.version = v;
  for (const JournalEntry& entry : journal) {
    if (entry.secret != secret_name || !entry.version || *entry.version != v) {
      continue;
    }
    if (entry.action == JournalAction::rotate_start || entry.action == JournalAction::rollback_start) {
      state = PendingState{};
      state.version = v;
      state.kind = entry.action == JournalAction::rotate_start ? OpKind::rotate : OpKind::rollback;
      state.since = entry.ts;
    } else if ((entry.action == JournalAction::rotate_failed || entry.action == JournalAction::rollback_failed)
               && (entry.result == JournalResult::rolling_back || entry.result == JournalResult::rollback_incomplete)) {
      state.rolling_back = true;
    } else if (entry.action == JournalAction::confirm && entry.result == JournalResult::ok && entry.detail.is_object()
               && entry.detail.contains("connector") && entry.detail["connector"].is_string()) {
      state.confirmed.insert(entry.detail["connector"].get<std::string>());
    }
  }
  return state;
}

std::optional<PendingState> pending_state(const Vault& vault,
                                          const SecretRecord& secret,
                                          const std::vector<JournalEntry>& journal)
{
  const VersionRecord* pending = pending_version(secret);
  if (pending == nullptr) {
    return std::nullopt;
  }
  // The journal is read, not verified: an entry anyone could have appended (a forged "confirm"
  // would skip a manual paste, a forged "rollback-start" would change what a failure does) counts
  // only if its hash and its author's signature hold and its author may write this secret.
  std::vector<JournalEntry> authentic;
  for (const JournalEntry& entry : journal) {
    if (entry.secret == secret.full_name() && entry.version && *entry.version == pending->v
        && authentic_entry(vault, secret, entry)) {
      authentic.push_back(entry);
    }
  }
  PendingState state = replay(authentic, secret.full_name(), pending->v);
  if (state.since == 0) {
    state.since = pending->created_at;
  }
  for (const auto& name_of : secret.connectors) {
    const ConnectorRecord* connector = vault.connector(name_of);
    if (connector != nullptr && connector->kind == ConnectorKind::manual && state.confirmed.count(name_of) == 0) {
      state.awaiting.push_back(name_of);
    }
  }
  return state;
}

std::vector<Awaiting> awaiting_confirmation(const Vault& vault, const std::vector<JournalEntry>& journal)
{
  std::vector<Awaiting> out;
  for (const auto& name : vault.secret_names()) {
    const SecretRecord& secret = vault.secret(name);
    const auto state = pending_state(vault, secret, journal);
    if (!state || state->rolling_back || state->awaiting.empty()) {
      continue;
    }
    out.push_back(Awaiting{name, state->version, state->awaiting, state->since});
  }
  return out;
}

// --- results -------------------------------------------------------------------------------------

bool Outcome::ok() const
{
  return result == "rotated" || result == "restored" || result == "cancelled" || result == "awaiting-confirmation"
         || result == "planned";
}

Json Outcome::to_json() const
{
  Json steps_json = Json::array();
  for (const auto& step : steps) {
    steps_json.push_back(step.to_json());
  }
  Json instructions_json = Json::array();
  for (const auto& item : instructions) {
    instructions_json.push_back(Json{{"connector", item.connector},
                                     {"instructions", item.text},
                                     {"who", item.who},
                                     {"value_command", item.value_command},
                                     {"confirm_command", item.confirm_command}});
  }
  Json json{{"secret", secret},
            {"env", env},
            {"action", action},
            {"result", result},
            {"ok", ok()},
            {"reason", reason},
            {"version", version > 0 ? Json(version) : Json(nullptr)},
            {"previous_version", previous_version > 0 ? Json(previous_version) : Json(nullptr)},
            {"error", error},
            {"steps", steps_json},
            {"instructions", instructions_json},
            {"notify", notify}};
  if (result == "planned") {
    json["plan"] = plan;
    json["generator"] = generator;
  }
  return json;
}

std::string Outcome::summary() const
{
  const std::string from = previous_version > 0 ? fmt::format("v{} → ", previous_version) : std::string();
  if (result == "rotated") {
    std::vector<std::string> names;
    for (const auto& step : steps) {
      if (step.step == connector::Step::verify && std::find(names.begin(), names.end(), step.connector) == names.end()) {
        names.push_back(step.connector);
      }
    }
    return fmt::format("{}: rotated {}v{}{}", secret, from, version,
                       names.empty() ? std::string(" (no command connectors)")
                                     : fmt::format(" (updated and verified: {})", join(names)));
  }
  if (result == "restored") {
    return fmt::format("{}: rolled back to v{} (v{} is previous again)", secret, version, previous_version);
  }
  if (result == "awaiting-confirmation") {
    std::vector<std::string> names;
    for (const auto& item : instructions) {
      names.push_back(item.connector);
    }
    return fmt::format("{}: v{} is pending, awaiting confirmation from {}", secret, version, join(names));
  }
  if (result == "planned") {
    return fmt::format("{}: would {} ({})", secret, action, reason);
  }
  if (result == "cancelled") {
    return fmt::format("{}: cancelled the rotation to v{}; v{} stays current{}", secret, version, previous_version,
                       steps.empty() ? std::string() : " (re-applied to its command connectors)");
  }
  return fmt::format("{}: {}: {}", secret, result, error);
}

Json CompromiseOutcome::to_json() const
{
  return Json{{"secret", secret},
              {"compromised_version", version},
              {"voided_requests", voided_requests},
              {"dropped_grants", dropped_grants},
              {"rotation", rotation ? rotation->to_json() : Json(nullptr)},
              {"rotated", rotation && rotation->result == "rotated"},
              {"not_rotated", not_rotated},
              {"who_can_rotate", who_can},
              {"notify", notify}};
}

// --- the notify hook -----------------------------------------------------------------------------

Json notify(const Session& session, const Json& event)
{
  const std::string& command = session.vault().policy().notify;
  if (command.empty() || session.options().sandbox) {
    return nullptr;
  }
  const SecretBytes body = SecretBytes::from(event.dump() + "\n");
  util::ProcessSpec spec;
  spec.argv = util::shell_argv(command);
  spec.extra_env = connector::scrubbed_environment();
  spec.extra_env.emplace_back("ESCROW_EVENT", event.value("event", ""));
  spec.stdin_data = &body;
  spec.timeout = std::chrono::seconds(30);
  spec.kill_grace = std::chrono::milliseconds(1000);
  spec.capture_limit = 4096;
  try {
    const util::ProcessResult run = util::run_process(spec);
    if (!run.timed_out && run.exit_code == 0) {
      return Json{{"ran", true}, {"ok", true}, {"error", ""}};
    }
    const std::string said = connector::one_line(run.err.empty() ? run.out : run.err, connector::k_message_output);
    return Json{{"ran", true},
                {"ok", false},
                {"error", run.timed_out ? std::string("timed out after 30s")
                                        : fmt::format("exit {}{}", run.exit_code, said.empty() ? "" : ": " + said)}};
  } catch (const Error& error) {
    return Json{{"ran", false}, {"ok", false}, {"error", error.what()}};
  }
}

// --- the engine ----------------------------------------------------------------------------------

struct Rotator::Op
{
  std::string name;
  std::string env;
  OpKind kind = OpKind::rotate;
  std::int64_t v_new = 0;
  std::int64_t v_old = 0;
  std::optional<SecretBytes> new_value;
  std::optional<SecretBytes> old_value;
  std::set<std::string> confirmed;
  bool resuming = false; // unknown which connectors hold what: every command connector counts
  bool cancel = false;   // `rollback` of a pending rotation: undoing it is the goal, not a failure
  Outcome out;

  // The outcome names the secret and the versions this operation swaps.
  void stamp()
  {
    out.secret = name;
    out.env = env;
    out.version = v_new;
    out.previous_version = v_old;
  }
  // Every value in play, for redacting the connectors' output.
  Redactor redactor() const
  {
    Redactor redactor;
    if (new_value) {
      redactor.add(label(name, v_new), *new_value);
    }
    if (old_value) {
      redactor.add(label(name, v_old), *old_value);
    }
    return redactor;
  }
};

Rotator::Rotator(Session& session, Options options) : m_session(session), m_options(std::move(options)) {}

void Rotator::progress(const std::string& line) const
{
  if (m_options.progress) {
    m_options.progress(line);
  }
}

const std::vector<JournalEntry>& Rotator::journal()
{
  if (!m_journal) {
    m_journal = m_session.journal().read_all();
  }
  return *m_journal;
}

SecretBytes Rotator::read_value(const std::string& name, std::int64_t v)
{
  const Vault& vault = m_session.vault();
  const SecretRecord& secret = vault.secret(name);
  const VersionRecord* version = secret.find_version(v);
  if (version == nullptr) {
    fail(ErrorKind::integrity, "{}: {} has no version {}", vault.what(), name, v);
  }
  return open_value(vault, secret, *version, m_session.identity(), m_session.now()).value;
}

std::vector<std::string> Rotator::who_can_rotate(const SecretRecord& secret) const
{
  return policy::rotators_of(m_session.vault(), secret);
}

SecretBytes Rotator::generate(const SecretRecord& secret, const std::string& spec_text, std::int64_t v)
{
  const GeneratorSpec spec = parse_generator(spec_text);
  if (spec.command.empty()) {
    return generate_random(spec);
  }
  // An external command prints the value (a credential minted by a provider). Its stdout is
  // collected straight into locked memory; its stderr is kept only redacted.
  struct Collected
  {
    SecretBytes out;
    SecretBytes err;
    bool overflow = false;
  };
  auto collected = std::make_shared<Collected>();
  const auto append = [](SecretBytes& into, std::string_view chunk, std::size_t limit, bool& overflow) {
    if (into.size() + chunk.size() > limit) {
      overflow = true;
      chunk = chunk.substr(0, limit > into.size() ? limit - into.size() : 0);
    }
    const std::size_t at = into.size();
    into.resize(at + chunk.size());
    std::copy(chunk.begin(), chunk.end(), into.expose_mut().begin() + static_cast<std::ptrdiff_t>(at));
  };
  util::ProcessSpec process;
  process.argv = util::shell_argv(spec.command);
  process.extra_env = connector::scrubbed_environment();
  process.extra_env.insert(process.extra_env.end(), {{"ESCROW_SECRET_NAME", secret.full_name()},
                                                     {"ESCROW_ENV", secret.env},
                                                     {"ESCROW_VERSION", std::to_string(v)}});
  process.timeout = std::chrono::seconds(120);
  process.kill_grace = std::chrono::milliseconds(1000);
  process.filter = [collected, append](std::string_view chunk, bool is_stderr) {
    bool ignored = false;
    if (is_stderr) {
      append(collected->err, chunk, 4096, ignored);
    } else {
      append(collected->out, chunk, k_max_value_size + 2, collected->overflow);
    }
    return std::string();
  };
  const util::ProcessResult run = util::run_process(process);
  SecretBytes value = std::move(collected->out);
  if (!value.empty() && value.expose_view().back() == '\n') {
    value.resize(value.size() - 1);
  }
  Redactor redactor;
  redactor.add(label(secret.full_name(), v), value);
  const std::string said = connector::one_line(redactor.redact_all(collected->err.expose_view()), connector::k_message_output);
  std::string problem;
  if (run.timed_out) {
    problem = "timed out after 120s";
  } else if (run.exit_code != 0) {
    problem = fmt::format("exit {}", run.exit_code);
  } else if (collected->overflow || value.size() > k_max_value_size) {
    problem = fmt::format("printed more than {} bytes", k_max_value_size);
  } else if (value.empty()) {
    problem = "printed nothing";
  }
  if (!problem.empty()) {
    JournalEntry entry = entry_for(JournalAction::rotate_failed, secret.full_name(), secret.env, v);
    entry.result = JournalResult::failed;
    entry.detail = Json{{"stage", "generate"}, {"error", problem}, {"output", said}};
    m_session.record(std::move(entry));
    m_journal.reset();
    fail(ErrorKind::failed, "rotate {}: the generator ({}) failed: {}{}", secret.full_name(),
         connector::one_line(spec.command, 60), problem, said.empty() ? "" : ": " + said);
  }
  return value;
}

void Rotator::send(Outcome& out, const std::string& event)
{
  Json json{{"event", event},
            {"secret", out.secret},
            {"env", out.env},
            {"action", out.action},
            {"result", out.result},
            {"version", out.version > 0 ? Json(out.version) : Json(nullptr)},
            {"previous_version", out.previous_version > 0 ? Json(out.previous_version) : Json(nullptr)},
            {"reason", out.reason},
            {"error", out.error},
            {"actor", m_session.me().name},
            {"at", format_time(m_session.now())},
            {"vault", m_session.vault().id_b64()}};
  Json connectors = Json::array();
  for (const auto& instruction : out.instructions) {
    connectors.push_back(Json{{"connector", instruction.connector}, {"needs", "manual paste"}});
  }
  for (const auto& step : out.steps) {
    connectors.push_back(Json{{"connector", step.connector},
                              {"step", connector::step_name(step.step)},
                              {"version", step.version},
                              {"ok", step.ok}});
  }
  json["connectors"] = connectors;
  out.notify = notify(m_session, json);
}

Outcome Rotator::rotate(const std::string& name)
{
  const std::string full_name = full_name_of(name);
  const SecretRecord& secret = m_session.vault().secret(full_name);
  const auto reason = due_reason(secret, m_session.vault().policy(), m_session.now());
  return begin_and_drive(full_name, !m_options.why.empty() ? m_options.why : reason ? *reason : "on request");
}

Outcome Rotator::begin_and_drive(const std::string& name, const std::string& reason)
{
  Vault& vault = m_session.vault();
  const MemberRecord& me = m_session.me();
  const SecretRecord& secret = vault.secret(name);
  policy::require_can_manage(me, secret, "rotate");
  if (secret.state != SecretState::active) {
    fail(ErrorKind::usage, "rotate: {} is retired", name);
  }
  if (const VersionRecord* pending = pending_version(secret)) {
    throw Error(ErrorKind::failed, fmt::format("rotate: {} already has a pending v{} (a rotation awaiting "
                                               "confirmation or left by an interrupted run)",
                                               name, pending->v))
      .hint("escrow rotate --resume " + name + " finishes it; escrow rollback " + name + " cancels it");
  }
  bool command_connectors = false;
  for (const auto& connector_name : secret.connectors) {
    const ConnectorRecord* connector = vault.connector(connector_name);
    if (connector == nullptr) {
      fail(ErrorKind::integrity, "{}: {} is bound to connector {}, which does not exist", vault.what(), name,
           connector_name);
    }
    if (connector->env != secret.env) {
      fail(ErrorKind::integrity, "{}: {} is bound to connector {} of environment {} (environments never mix)",
           vault.what(), name, connector_name, connector->env);
    }
    command_connectors = command_connectors || connector->kind == ConnectorKind::command;
  }
  Op op;
  op.name = name;
  op.env = secret.env;
  op.kind = OpKind::rotate;
  const VersionRecord* live = live_version(secret);
  op.v_old = live != nullptr ? live->v : 0;
  op.v_new = secret.next_version();
  if (command_connectors && live != nullptr) {
    // The old value is what a failure re-applies: without it there is no safe rollback.
    try {
      op.old_value = read_value(name, live->v);
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::access) {
        throw;
      }
      throw Error(ErrorKind::access,
                  fmt::format("rotate: {} cannot read {} v{}, which a failed rotation must re-apply to its "
                              "connectors; nothing was changed",
                              me.name, name, live->v))
        .hint(fmt::format("the owner ({}) can give standing access: escrow share {} --with {}", secret.owner, name,
                          me.name));
    }
  }
  std::string spec = m_options.generate ? *m_options.generate
                     : secret.generator.empty() ? std::string(k_default_generator)
                                                : secret.generator;
  const GeneratorSpec parsed = parse_generator(spec); // Error(usage) before anything runs
  SecretBytes value = m_options.value != nullptr ? m_options.value->clone() : generate(secret, spec, op.v_new);
  if (value.empty()) {
    fail(ErrorKind::usage, "rotate {}: the new value is empty", name);
  }
  if (value.size() > k_max_value_size) {
    fail(ErrorKind::usage, "rotate {}: the new value is larger than {} bytes", name, k_max_value_size);
  }
  if (op.old_value && op.old_value->size() == value.size() && op.old_value->equals(value)) {
    fail(ErrorKind::failed, "rotate {}: the new value is the same as v{}; nothing was changed", name, op.v_old);
  }

  // 1. create: the pending version is durable before any connector runs.
  progress(fmt::format("{}: creating v{}", name, op.v_new));
  VersionPlan plan;
  plan.v = op.v_new;
  plan.state = VersionState::pending;
  plan.why = reason;
  plan.readers = policy::standing_readers(vault, secret);
  plan.readers.insert(me.name);
  plan.grants = carried_grants(vault, secret, m_session.now());
  if (secret.after_access) {
    // A grant that was used is what made this rotation necessary: it does not carry over.
    for (const Request& request : secret.requests) {
      if (request.used_at) {
        for (auto it = plan.grants.begin(); it != plan.grants.end();) {
          it = it->second.request == request.id ? plan.grants.erase(it) : std::next(it);
        }
      }
    }
  }
  VersionRecord version = seal_version(vault, secret, value, plan, m_session.now(), me.name);
  std::vector<std::string> connector_names = secret.connectors;
  SecretRecord& mutable_secret = vault.secret_mut(name);
  vault.sign(mutable_secret, version, m_session.identity());
  mutable_secret.versions.push_back(std::move(version));
  if (m_options.generate && describe(parsed) != mutable_secret.generator && m_options.value == nullptr) {
    mutable_secret.generator = describe(parsed);
    vault.sign_meta(mutable_secret, m_session.identity());
  }
  JournalEntry entry = entry_for(JournalAction::rotate_start, name, op.env, op.v_new);
  entry.result = JournalResult::pending;
  entry.why = reason;
  entry.detail = Json{{"previous", op.v_old > 0 ? Json(op.v_old) : Json(nullptr)},
                      {"connectors", connector_names},
                      {"generator", m_options.value != nullptr ? std::string("stdin") : describe(parsed)}};
  m_session.commit(std::move(entry));
  m_journal.reset();
  op.new_value = std::move(value);
  op.out.action = "rotate";
  op.out.reason = reason;
  return drive(op);
}

Outcome Rotator::drive(Op& op)
{
  Outcome& out = op.out;
  op.stamp();
  const Vault& vault = m_session.vault();
  const SecretRecord& secret = vault.secret(op.name);
  std::vector<const ConnectorRecord*> commands;
  std::vector<const ConnectorRecord*> manuals;
  for (const auto& connector_name : secret.connectors) {
    const ConnectorRecord* connector = vault.connector(connector_name);
    if (connector == nullptr) {
      fail(ErrorKind::integrity, "{}: {} is bound to connector {}, which does not exist", vault.what(), op.name,
           connector_name);
    }
    (connector->kind == ConnectorKind::manual ? manuals : commands).push_back(connector);
  }
  const std::vector<std::string> who = who_can_rotate(secret);
  for (const ConnectorRecord* manual : manuals) {
    if (op.confirmed.count(manual->name) == 0) {
      out.instructions.push_back(paste_instruction(op.name, manual->name, manual, op.v_new, who));
    }
  }
  if (!out.instructions.empty()) {
    // Steps 2-4 wait for a person; the old value stays current meanwhile.
    out.result = "awaiting-confirmation";
    send(out, "awaiting-confirmation");
    return out;
  }

  const Redactor redactor = op.redactor();
  const connector::Invocation invocation{op.name, op.env, op.v_new, op.v_old, action_of(op.kind)};

  // 2. set.
  std::vector<std::string> attempted;
  if (op.resuming) {
    for (const ConnectorRecord* connector : commands) {
      attempted.push_back(connector->name);
    }
  }
  for (const ConnectorRecord* connector : commands) {
    progress(fmt::format("{}: update {} (v{})", op.name, connector->name, op.v_new));
    if (std::find(attempted.begin(), attempted.end(), connector->name) == attempted.end()) {
      attempted.push_back(connector->name);
    }
    out.steps.push_back(connector::run_step(*connector, connector::Step::update, invocation, *op.new_value, redactor));
    if (!out.steps.back().ok) {
      roll_back(op, out, fmt::format("connector {} {}", connector->name, out.steps.back().describe()), attempted);
      return out;
    }
  }
  // 3. test (manual connectors with a verify command are checked too).
  std::vector<const ConnectorRecord*> checks = commands;
  for (const ConnectorRecord* manual : manuals) {
    if (!manual->verify.empty()) {
      checks.push_back(manual);
    }
  }
  for (const ConnectorRecord* connector : checks) {
    progress(fmt::format("{}: verify {} (v{})", op.name, connector->name, op.v_new));
    out.steps.push_back(connector::run_step(*connector, connector::Step::verify, invocation, *op.new_value, redactor));
    if (!out.steps.back().ok) {
      roll_back(op, out, fmt::format("connector {} {}", connector->name, out.steps.back().describe()), attempted);
      return out;
    }
  }
  // 4. finish.
  finish(op, out);
  return out;
}

void Rotator::finish(Op& op, Outcome& out)
{
  Vault& vault = m_session.vault();
  SecretRecord& secret = vault.secret_mut(op.name);
  std::set<std::int64_t> changed;
  for (auto& version : secret.versions) {
    if (version.state == VersionState::pending && version.v == op.v_new) {
      continue;
    }
    if (op.kind == OpKind::rotate && version.state == VersionState::previous) {
      version.state = VersionState::retired;
      changed.insert(version.v);
    }
  }
  for (auto& version : secret.versions) {
    if (version.state == VersionState::current) {
      version.state = VersionState::previous;
      changed.insert(version.v);
    }
  }
  for (auto& version : secret.versions) {
    if (version.state == VersionState::pending && version.v == op.v_new) {
      version.state = VersionState::current;
      changed.insert(version.v);
    }
  }
  for (const std::int64_t v : apply_retention(secret, vault.policy().for_env(secret.env).keep)) {
    changed.insert(v);
  }
  for (auto& version : secret.versions) {
    if (changed.count(version.v) > 0) {
      vault.sign(secret, version, m_session.identity());
    }
  }
  if (op.kind == OpKind::rotate && (!secret.due.empty() || secret.due_since != 0)) {
    secret.due.clear();
    secret.due_since = 0;
    vault.sign_meta(secret, m_session.identity());
  }
  std::vector<std::string> names;
  for (const auto& step : out.steps) {
    if (std::find(names.begin(), names.end(), step.connector) == names.end()) {
      names.push_back(step.connector);
    }
  }
  JournalEntry entry = entry_for(op.kind == OpKind::rotate ? JournalAction::rotate : JournalAction::rollback, op.name,
                                 op.env, op.v_new);
  entry.why = out.reason;
  entry.detail = Json{{"previous", op.v_old > 0 ? Json(op.v_old) : Json(nullptr)},
                      {"connectors", names},
                      {"confirmed", std::vector<std::string>(op.confirmed.begin(), op.confirmed.end())}};
  m_session.commit(std::move(entry));
  m_journal.reset();
  out.result = op.kind == OpKind::rotate ? "rotated" : "restored";
  progress(out.summary());
  send(out, op.kind == OpKind::rotate ? "rotated" : "rolled-back");
}

void Rotator::roll_back(Op& op, Outcome& out, const std::string& cause, const std::vector<std::string>& attempted)
{
  const JournalAction failed_action =
    op.kind == OpKind::rotate ? JournalAction::rotate_failed : JournalAction::rollback_failed;
  // A copy: out.steps grows below.
  const std::optional<connector::StepResult> failing =
    out.steps.empty() ? std::nullopt : std::optional<connector::StepResult>(out.steps.back());
  // The decision is durable before any connector is touched again: a crash from here on is
  // resumed as a rollback.
  {
    JournalEntry entry = entry_for(failed_action, op.name, op.env, op.v_new);
    entry.result = JournalResult::rolling_back;
    entry.detail = Json{{"cause", cause}};
    if (failing && !failing->ok) {
      entry.detail["connector"] = failing->connector;
      entry.detail["step"] = connector::step_name(failing->step);
      entry.detail["exit_code"] = failing->exit_code;
      entry.detail["timed_out"] = failing->timed_out;
      entry.detail["output"] = failing->output;
    }
    m_session.record(std::move(entry));
    m_journal.reset();
  }
  const Redactor redactor = op.redactor();
  const connector::Invocation invocation{op.name, op.env, op.v_old, op.v_new, connector::Action::restore};
  std::vector<std::string> incomplete;
  const Vault& vault = m_session.vault();
  for (auto it = attempted.rbegin(); it != attempted.rend(); ++it) {
    const ConnectorRecord* connector = vault.connector(*it);
    if (connector == nullptr) {
      incomplete.push_back(*it);
      continue;
    }
    if (!op.old_value) {
      incomplete.push_back(*it); // nothing to re-apply (no live version)
      continue;
    }
    progress(fmt::format("{}: restore {} (v{})", op.name, *it, op.v_old));
    out.steps.push_back(connector::run_step(*connector, connector::Step::update, invocation, *op.old_value, redactor));
    if (out.steps.back().ok) {
      out.steps.push_back(connector::run_step(*connector, connector::Step::verify, invocation, *op.old_value, redactor));
    }
    if (!out.steps.back().ok) {
      incomplete.push_back(*it);
    }
  }
  // Manual connectors that took the new value need a person to paste the old one back.
  const SecretRecord& peek = vault.secret(op.name);
  for (const auto& name : op.confirmed) {
    const ConnectorRecord* connector = vault.connector(name);
    Instruction instruction;
    instruction.connector = name;
    instruction.text = fmt::format("paste v{} back{}", op.v_old,
                                   connector != nullptr && !connector->instructions.empty()
                                     ? " (" + connector->instructions + ")"
                                     : std::string());
    instruction.who = who_can_rotate(peek);
    if (op.v_old > 0) {
      instruction.value_command = fmt::format("escrow get {} --reveal --version {}", op.name, op.v_old);
    }
    out.instructions.push_back(std::move(instruction));
  }

  Vault& writable = m_session.vault();
  SecretRecord& secret = writable.secret_mut(op.name);
  JournalEntry entry = entry_for(failed_action, op.name, op.env, op.v_new);
  entry.detail = Json{{"cause", cause}, {"restored", attempted}, {"incomplete", incomplete}};
  if (failing && !failing->ok) {
    entry.detail["connector"] = failing->connector;
    entry.detail["output"] = failing->output;
  }
  if (incomplete.empty()) {
    for (auto& version : secret.versions) {
      if (version.state == VersionState::pending && version.v == op.v_new) {
        version.state = op.kind == OpKind::rotate ? VersionState::failed : VersionState::previous;
        writable.sign(secret, version, m_session.identity());
      }
    }
    entry.result = JournalResult::rolled_back;
    out.result = op.cancel ? "cancelled" : "rolled-back";
    out.error = op.cancel ? std::string() : fmt::format("v{} {}: {}; {}", op.v_new,
                            op.kind == OpKind::rotate ? "rotation failed" : "rollback failed", cause,
                            attempted.empty() ? fmt::format("no connector was changed, v{} stays current", op.v_old)
                                              : fmt::format("v{} re-applied to {}", op.v_old, join(attempted)));
  } else {
    // Keep the pending version (no value any connector may hold is ever dropped) and make the
    // secret due, so that `rotate --resume` tries the rollback again.
    secret.due = fmt::format("rotation to v{} failed and connectors {} may still hold it", op.v_new, join(incomplete));
    secret.due_since = m_session.now();
    writable.sign_meta(secret, m_session.identity());
    entry.result = JournalResult::rollback_incomplete;
    out.result = "rollback-incomplete";
    out.error = fmt::format("v{} failed: {}; ROLLBACK INCOMPLETE: {} may still hold v{} (kept pending; "
                            "escrow rotate --resume retries)",
                            op.v_new, cause, join(incomplete), op.v_new);
  }
  m_session.commit(std::move(entry));
  m_journal.reset();
  progress(out.summary());
  send(out, out.result == "cancelled"     ? "rotation-cancelled"
            : out.result == "rolled-back" ? "rotation-failed"
                                          : "rollback-incomplete");
}

Outcome Rotator::resume_one(const std::string& name, const std::string& action)
{
  const Vault& vault = m_session.vault();
  const SecretRecord& secret = vault.secret(name);
  policy::require_can_manage(m_session.me(), secret, action == "rollback" ? "rollback" : "rotate --resume");
  const auto state = pending_state(vault, secret, journal());
  if (!state) {
    fail(ErrorKind::usage, "rotate --resume: {} has no pending version", name);
  }
  Op op;
  op.name = name;
  op.env = secret.env;
  op.kind = state->kind;
  op.v_new = state->version;
  op.confirmed = state->confirmed;
  op.resuming = true;
  const VersionRecord* live = live_version(secret);
  op.v_old = live != nullptr ? live->v : 0;
  op.out.action = action;
  op.out.reason = vault.secret(name).find_version(state->version)->why;
  const bool cancel = action == "rollback";
  op.cancel = cancel;
  if (!state->rolling_back && !cancel && !state->awaiting.empty()) {
    op.stamp();
    op.out.result = "awaiting-confirmation";
    const std::vector<std::string> who = who_can_rotate(secret);
    for (const auto& connector_name : state->awaiting) {
      op.out.instructions.push_back(
        paste_instruction(name, connector_name, vault.connector(connector_name), op.v_new, who));
    }
    return op.out;
  }
  const bool has_commands = has_command_connectors(vault, secret);
  const bool forward = !state->rolling_back && !cancel;
  if (forward || has_commands) {
    op.new_value = read_value(name, op.v_new);
  }
  if (has_commands && live != nullptr) {
    op.old_value = read_value(name, live->v);
  }
  if (forward) {
    progress(fmt::format("{}: resuming v{} (rolling forward)", name, op.v_new));
    return drive(op);
  }
  progress(fmt::format("{}: {} v{} (rolling back)", name, cancel ? "cancelling" : "resuming", op.v_new));
  op.stamp();
  std::vector<std::string> attempted;
  for (const auto& connector_name : secret.connectors) {
    const ConnectorRecord* connector = vault.connector(connector_name);
    if (connector != nullptr && connector->kind == ConnectorKind::command) {
      attempted.push_back(connector_name);
    }
  }
  roll_back(op, op.out,
       cancel ? fmt::format("cancelled by {}", m_session.me().name)
              : std::string("an earlier run had begun rolling it back"),
       attempted);
  return op.out;
}

std::vector<Outcome> Rotator::resume(const std::string& name)
{
  std::vector<Outcome> outcomes;
  if (!name.empty()) {
    const std::string full_name = full_name_of(name);
    if (pending_version(m_session.vault().secret(full_name)) == nullptr) {
      fail(ErrorKind::usage, "rotate --resume: {} has no pending version (nothing to resume)", full_name);
    }
    outcomes.push_back(resume_one(full_name, "resume"));
    return outcomes;
  }
  const MemberRecord me = m_session.me();
  for (const auto& secret_name : m_session.vault().secret_names()) {
    if (!me.reaches(secret_name.substr(0, secret_name.find('/')))) {
      continue;
    }
    const SecretRecord& secret = m_session.vault().secret(secret_name);
    if (pending_version(secret) == nullptr || !policy::may_rotate(me, secret)) {
      continue;
    }
    try {
      outcomes.push_back(resume_one(secret_name, "resume"));
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::io || error.kind() == ErrorKind::integrity) {
        throw;
      }
      Outcome out;
      out.secret = secret_name;
      out.env = secret_name.substr(0, secret_name.find('/'));
      out.action = "resume";
      out.result = "error";
      out.error = error.what();
      outcomes.push_back(std::move(out));
    }
  }
  return outcomes;
}

std::vector<Outcome> Rotator::rotate_due()
{
  std::vector<Outcome> outcomes = resume();
  std::set<std::string> handled;
  for (const auto& outcome : outcomes) {
    handled.insert(outcome.secret);
  }
  const MemberRecord me = m_session.me();
  for (const auto& name : m_session.vault().secret_names()) {
    const std::string env = name.substr(0, name.find('/'));
    if (!me.reaches(env) || handled.count(name) > 0) {
      continue;
    }
    const SecretRecord& secret = m_session.vault().secret(name);
    if (!policy::may_rotate(me, secret)) {
      continue; // only those the caller may rotate
    }
    const auto reason = due_reason(secret, m_session.vault().policy(), m_session.now());
    if (!reason) {
      continue;
    }
    try {
      outcomes.push_back(begin_and_drive(name, *reason));
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::io || error.kind() == ErrorKind::integrity) {
        throw;
      }
      Outcome out;
      out.secret = name;
      out.env = env;
      out.action = "rotate";
      out.reason = *reason;
      out.result = "error";
      out.error = error.what();
      progress(out.summary());
      outcomes.push_back(std::move(out));
    }
  }
  return outcomes;
}

Outcome Rotator::confirm(const std::string& name, const std::string& connector_name)
{
  const std::string full_name = full_name_of(name);
  const Vault& vault = m_session.vault();
  const SecretRecord& secret = vault.secret(full_name);
  policy::require_can_manage(m_session.me(), secret, "rotate --confirm");
  const auto state = pending_state(vault, secret, journal());
  if (!state) {
    fail(ErrorKind::usage, "rotate --confirm: {} has no rotation awaiting confirmation", full_name);
  }
  const ConnectorRecord* connector = vault.connector(connector_name);
  if (connector == nullptr
      || std::find(secret.connectors.begin(), secret.connectors.end(), connector_name) == secret.connectors.end()) {
    fail(ErrorKind::usage, "rotate --confirm: {} is not bound to a connector named {}", full_name,
         connector::one_line(connector_name, 64));
  }
  if (connector->kind != ConnectorKind::manual) {
    fail(ErrorKind::usage, "rotate --confirm: {} is a command connector; escrow updates it itself", connector_name);
  }
  if (state->rolling_back) {
    throw Error(ErrorKind::usage, fmt::format("rotate --confirm: v{} of {} is being rolled back", state->version, full_name))
      .hint("escrow rotate --resume " + full_name + " completes the rollback");
  }
  if (state->confirmed.count(connector_name) > 0) {
    fail(ErrorKind::usage, "rotate --confirm: {} already confirmed v{} of {}", connector_name, state->version,
         full_name);
  }
  Op op;
  op.name = full_name;
  op.env = secret.env;
  op.kind = state->kind;
  op.v_new = state->version;
  const VersionRecord* live = live_version(secret);
  op.v_old = live != nullptr ? live->v : 0;
  op.confirmed = state->confirmed;
  op.out.action = "confirm";
  op.out.reason = secret.find_version(state->version)->why;
  // Whoever confirms must be able to read what was pasted.
  try {
    op.new_value = read_value(full_name, op.v_new);
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::access) {
      throw;
    }
    fail(ErrorKind::access, "rotate --confirm: {} cannot read the pending v{} of {}, so cannot confirm it",
         m_session.me().name, op.v_new, full_name);
  }
  const bool has_commands = has_command_connectors(vault, secret);
  if (has_commands && live != nullptr) {
    op.old_value = read_value(full_name, live->v);
  }
  JournalEntry entry = entry_for(JournalAction::confirm, full_name, secret.env, op.v_new);
  entry.detail = Json{{"connector", connector_name}};
  if (!connector->verify.empty()) {
    const connector::Invocation invocation{full_name, secret.env, op.v_new, op.v_old, action_of(op.kind)};
    connector::StepResult check =
      connector::run_step(*connector, connector::Step::verify, invocation, *op.new_value, op.redactor());
    op.out.steps.push_back(check);
    if (!check.ok) {
      entry.result = JournalResult::failed;
      entry.detail["output"] = check.output;
      m_session.record(std::move(entry));
      m_journal.reset();
      op.stamp();
      op.out.result = "error";
      op.out.error = fmt::format("v{}: the paste into {} does not verify: {}; not confirmed", op.v_new,
                                 connector_name, check.describe());
      return op.out;
    }
  }
  m_session.record(std::move(entry));
  m_journal.reset();
  op.confirmed.insert(connector_name);
  // Like a resumed run: a confirm may follow an interrupted one, so every command connector counts.
  op.resuming = true;
  return drive(op);
}

Outcome Rotator::rollback(const std::string& name)
{
  const std::string full_name = full_name_of(name);
  Vault& vault = m_session.vault();
  const SecretRecord& secret = vault.secret(full_name);
  policy::require_can_manage(m_session.me(), secret, "rollback");
  if (secret.state != SecretState::active) {
    fail(ErrorKind::usage, "rollback: {} is retired", full_name);
  }
  if (pending_version(secret) != nullptr) {
    return resume_one(full_name, "rollback"); // cancel the rotation in progress
  }
  const VersionRecord* previous = nullptr;
  for (const auto& version : secret.versions) {
    if (version.state == VersionState::previous) {
      previous = &version;
    }
  }
  if (previous == nullptr) {
    fail(ErrorKind::usage, "rollback: {} has no previous version to go back to", full_name);
  }
  Op op;
  op.name = full_name;
  op.env = secret.env;
  op.kind = OpKind::rollback;
  op.v_new = previous->v;
  const VersionRecord* live = live_version(secret);
  op.v_old = live != nullptr ? live->v : 0;
  const bool has_commands = has_command_connectors(vault, secret);
  try {
    op.new_value = read_value(full_name, op.v_new);
    if (has_commands && live != nullptr) {
      op.old_value = read_value(full_name, live->v);
    }
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::access) {
      throw;
    }
    throw Error(ErrorKind::access, fmt::format("rollback: {} cannot read the versions of {} it would re-apply: {}",
                                               m_session.me().name, full_name, error.what()));
  }
  op.out.action = "rollback";
  op.out.reason = fmt::format("rollback to v{}", op.v_new);
  progress(fmt::format("{}: rolling back to v{}", full_name, op.v_new));
  SecretRecord& mutable_secret = vault.secret_mut(full_name);
  for (auto& version : mutable_secret.versions) {
    if (version.v == op.v_new) {
      version.state = VersionState::pending;
      vault.sign(mutable_secret, version, m_session.identity());
    }
  }
  JournalEntry entry = entry_for(JournalAction::rollback_start, full_name, op.env, op.v_new);
  entry.result = JournalResult::pending;
  entry.detail = Json{{"from", op.v_old > 0 ? Json(op.v_old) : Json(nullptr)}};
  m_session.commit(std::move(entry));
  m_journal.reset();
  return drive(op);
}

CompromiseOutcome Rotator::compromise(const std::string& name, const std::string& why)
{
  const auto [env, short_name] = split_secret_name(name);
  const std::string full_name = env + "/" + short_name;
  Vault& vault = m_session.vault();
  const MemberRecord& me = m_session.me();
  if (why.empty()) {
    fail(ErrorKind::usage, "compromise: --why is required (what happened?)");
  }
  const SecretRecord& peek = vault.secret(full_name);
  policy::require_env(me, env, "compromise");
  CompromiseOutcome result;
  result.secret = full_name;
  result.who_can = who_can_rotate(peek);
  if (!policy::may_rotate(me, peek)) {
    JournalEntry entry = entry_for(JournalAction::compromise, full_name, env);
    entry.why = why;
    Error refusal(ErrorKind::access, fmt::format("compromise: {} may not change {}; its owner ({}), an admin or a "
                                                 "rotator must mark it (reported in the journal)",
                                                 me.name, full_name, peek.owner));
    refusal.hint(fmt::format("who can rotate it: {}", result.who_can.empty() ? "nobody yet" : join(result.who_can)));
    m_session.record_refusal(std::move(entry), refusal);
    throw refusal;
  }
  if (peek.state != SecretState::active) {
    fail(ErrorKind::usage, "compromise: {} is retired", full_name);
  }
  if (peek.current() == nullptr) {
    throw Error(ErrorKind::usage, fmt::format("compromise: {} has no current version (already compromised?)", full_name))
      .hint("rotate it: escrow rotate " + full_name);
  }
  SecretRecord& secret = vault.secret_mut(full_name);
  VersionRecord* current = secret.current();
  result.version = current->v;
  current->state = VersionState::compromised;
  std::set<std::int64_t> changed{current->v};
  for (auto& version : secret.versions) {
    if (!version.granted.empty()) {
      result.dropped_grants += version.granted.size();
      version.granted.clear();
      changed.insert(version.v);
    }
  }
  for (auto& version : secret.versions) {
    if (changed.count(version.v) > 0) {
      vault.sign(secret, version, m_session.identity());
    }
  }
  for (auto& request : secret.requests) {
    if (request.denial || m_session.now() >= request.expires_at()) {
      continue;
    }
    Denial denial;
    denial.why = "voided: " + why;
    denial.created_at = m_session.now();
    vault.sign(secret, request, denial, m_session.identity());
    request.denial = std::move(denial);
    result.voided_requests.push_back(request.id);
  }
  secret.due = "compromised: " + why;
  secret.due_since = m_session.now();
  vault.sign_meta(secret, m_session.identity());
  JournalEntry entry = entry_for(JournalAction::compromise, full_name, env, result.version);
  entry.why = why;
  entry.detail = Json{{"voided_requests", result.voided_requests}, {"dropped_grants", result.dropped_grants}};
  m_session.commit(std::move(entry));
  m_journal.reset();
  {
    Outcome event;
    event.secret = full_name;
    event.env = env;
    event.action = "compromise";
    event.result = "compromised";
    event.version = result.version;
    event.reason = why;
    send(event, "compromised");
    result.notify = event.notify;
  }
  // Rotate at once when this member can.
  try {
    result.rotation = begin_and_drive(full_name, "compromised: " + why);
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::io || error.kind() == ErrorKind::integrity) {
      throw;
    }
    result.not_rotated = error.what();
  }
  return result;
}

void Rotator::retire(const std::string& name)
{
  const auto [env, short_name] = split_secret_name(name);
  const std::string full_name = env + "/" + short_name;
  Vault& vault = m_session.vault();
  const SecretRecord& peek = vault.secret(full_name);
  policy::require_can_manage(m_session.me(), peek, "retire");
  if (peek.state == SecretState::retired) {
    fail(ErrorKind::usage, "retire: {} is already retired", full_name);
  }
  if (const VersionRecord* pending = pending_version(peek)) {
    throw Error(ErrorKind::usage, fmt::format("retire: {} has a rotation in progress (v{})", full_name, pending->v))
      .hint("finish it (escrow rotate --resume / --confirm) or cancel it (escrow rollback " + full_name + ") first");
  }
  SecretRecord& secret = vault.secret_mut(full_name);
  secret.state = SecretState::retired;
  secret.due.clear();
  secret.due_since = 0;
  vault.sign_meta(secret, m_session.identity());
  JournalEntry entry = entry_for(JournalAction::retire, full_name, env);
  m_session.commit(std::move(entry));
  m_journal.reset();
  Outcome event;
  event.secret = full_name;
  event.env = env;
  event.action = "retire";
  event.result = "retired";
  send(event, "retired");
}

// --- dry run ---------------------------------------------------------------------------------------

Outcome Rotator::plan_one(const std::string& name, const std::string& reason)
{
  const Vault& vault = m_session.vault();
  const SecretRecord& secret = vault.secret(name);
  Outcome out;
  out.secret = name;
  out.env = secret.env;
  out.result = "planned";
  out.reason = reason;
  const VersionRecord* live = live_version(secret);
  out.previous_version = live != nullptr ? live->v : 0;
  const auto state = pending_state(vault, secret, pending_version(secret) != nullptr ? journal()
                                                                                       : std::vector<JournalEntry>{});
  std::vector<const ConnectorRecord*> commands;
  std::vector<const ConnectorRecord*> manuals;
  for (const auto& connector_name : secret.connectors) {
    const ConnectorRecord* connector = vault.connector(connector_name);
    if (connector != nullptr) {
      (connector->kind == ConnectorKind::manual ? manuals : commands).push_back(connector);
    }
  }
  const auto step = [&](const ConnectorRecord& connector, std::string_view what, std::int64_t v) {
    out.plan.push_back(Json{{"connector", connector.name},
                            {"kind", connector.kind},
                            {"step", what},
                            {"version", v},
                            {"timeout", connector.timeout}});
  };
  if (state) {
    out.version = state->version;
    const bool back = state->rolling_back;
    if (!back && !state->awaiting.empty()) {
      out.action = "await";
      for (const auto& manual : state->awaiting) {
        out.plan.push_back(Json{{"connector", manual}, {"kind", "manual"}, {"step", "await-confirmation"},
                                {"version", state->version}, {"timeout", nullptr}});
      }
      return out;
    }
    out.action = back ? "resume (roll back)" : "resume (roll forward)";
    if (back) {
      for (auto it = commands.rbegin(); it != commands.rend(); ++it) {
        step(**it, "restore", out.previous_version);
        step(**it, "verify", out.previous_version);
      }
      return out;
    }
    for (const ConnectorRecord* connector : commands) {
      step(*connector, "update", state->version);
    }
    for (const ConnectorRecord* connector : commands) {
      step(*connector, "verify", state->version);
    }
    out.plan.push_back(Json{{"connector", nullptr}, {"kind", nullptr}, {"step", "finish"},
                            {"version", state->version}, {"timeout", nullptr}});
    return out;
  }
  out.action = "rotate";
  out.version = secret.next_version();
  out.generator = m_options.generate ? *m_options.generate
                  : secret.generator.empty() ? std::string(k_default_generator)
                                             : secret.generator;
  (void)parse_generator(out.generator);
  out.plan.push_back(Json{{"connector", nullptr}, {"kind", nullptr}, {"step", "create"}, {"version", out.version},
                          {"timeout", nullptr}});
  for (const ConnectorRecord* manual : manuals) {
    out.plan.push_back(Json{{"connector", manual->name}, {"kind", "manual"}, {"step", "await-confirmation"},
                            {"version", out.version}, {"timeout", nullptr}});
  }
  for (const ConnectorRecord* connector : commands) {
    step(*connector, "update", out.version);
  }
  for (const ConnectorRecord* connector : commands) {
    step(*connector, "verify", out.version);
  }
  out.plan.push_back(Json{{"connector", nullptr}, {"kind", nullptr}, {"step", "finish"}, {"version", out.version},
                          {"timeout", nullptr}});
  return out;
}

std::vector<Outcome> Rotator::plan(const std::vector<std::string>& names, bool due, bool resume_pending)
{
  std::vector<Outcome> outcomes;
  const Vault& vault = m_session.vault();
  const MemberRecord& me = m_session.me();
  for (const auto& name : names) {
    const std::string full_name = full_name_of(name);
    const SecretRecord& secret = vault.secret(full_name);
    policy::require_can_manage(me, secret, "rotate");
    if (secret.state != SecretState::active) {
      fail(ErrorKind::usage, "rotate: {} is retired", full_name);
    }
    const auto reason = due_reason(secret, vault.policy(), m_session.now());
    outcomes.push_back(plan_one(full_name, !m_options.why.empty() ? m_options.why : reason ? *reason : "on request"));
  }
  if (!due && !resume_pending) {
    return outcomes;
  }
  for (const auto& name : vault.secret_names()) {
    if (!me.reaches(name.substr(0, name.find('/')))) {
      continue;
    }
    const SecretRecord& secret = vault.secret(name);
    if (!policy::may_rotate(me, secret) || secret.state != SecretState::active) {
      continue;
    }
    if (pending_version(secret) != nullptr) {
      outcomes.push_back(plan_one(name, secret.find_version(pending_version(secret)->v)->why));
      continue;
    }
    if (!due) {
      continue;
    }
    if (const auto reason = due_reason(secret, vault.policy(), m_session.now())) {
      outcomes.push_back(plan_one(name, *reason));
    }
  }
  return outcomes;
}

} // namespace escrow::rotation
