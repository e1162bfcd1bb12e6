// The rotation engine: create → set → test → finish, roll back on failure, resume and confirm
// (the protocol is at the top of rotation.hpp).
#include <escrow/error.hpp>
#include <escrow/generator.hpp>
#include <escrow/escrow.hpp>
#include <escrow/policy.hpp>
#include <escrow/read.hpp>
#include <escrow/rotation/engine.hpp>
#include <escrow/util/text.hpp>
#include <escrow/versions.hpp>

namespace escrow::rotation {

using util::join;

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

void Rotator::read_auth(Op& op, const SecretRecord& secret)
{
  const Vault& vault = m_session.vault();
  std::vector<ValueRead> reads;
  for (const auto& connector_name : secret.connectors) {
    const ConnectorRecord* connector = vault.connector(connector_name);
    if (connector == nullptr || connector->auth_secret.empty() || !connector::driver_for(*connector).pushes()) {
      continue;
    }
    if (connector->auth_secret == op.name) {
      throw Error(ErrorKind::usage, fmt::format("rotate: connector {} logs in with {} itself, so a failed rotation "
                                                "could not log in to roll it back; nothing was changed",
                                                connector_name, op.name))
        .hint("give the connector another credential: escrow connector add NAME ... --auth-secret ENV/OTHER");
    }
    const bool read_already =
      op.auth.count(connector->auth_secret) > 0
      || std::any_of(reads.begin(), reads.end(), [&](const ValueRead& read) { return read.secret == connector->auth_secret; });
    if (read_already) {
      continue;
    }
    try {
      reads.push_back(escrow::read_value(m_session, connector->auth_secret, 0, JournalAction::connector_auth,
                                         Json{{"connector", connector_name}, {"for", op.name}}));
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::access) {
        throw;
      }
      throw Error(ErrorKind::access, fmt::format("rotate {}: {} cannot read {}, the credential of connector {}; "
                                                 "no connector ran and nothing was changed",
                                                 op.name, m_session.me().name, connector->auth_secret, connector_name))
        .hint(fmt::format("its owner can give standing access: escrow share {} --with {}", connector->auth_secret,
                          m_session.me().name));
    }
  }
  // Journaled as reads of whoever rotates (one entry per credential), before any connector runs,
  // through the one path every read takes (grants used on the way are marked).
  record_reads(m_session, reads);
  for (ValueRead& read : reads) {
    op.auth.emplace(read.secret, std::move(read.value));
  }
  m_journal.reset();
}

std::vector<std::string> Rotator::who_can_rotate(const SecretRecord& secret) const
{
  return policy::rotators_of(m_session.vault(), secret);
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
    command_connectors = command_connectors || connector::driver_for(*connector).pushes();
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
  // A new value equal to the current one is refused (docs/ROTATION.md), whoever rotates: the
  // current value is read for the comparison when no connector needed it already. A rotator
  // who cannot read it (no standing access) cannot compare; nothing else can tell.
  std::optional<SecretBytes> current;
  if (!op.old_value && live != nullptr) {
    try {
      current = read_value(name, live->v);
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::access) {
        throw;
      }
    }
  }
  const SecretBytes* old_value = op.old_value ? &*op.old_value : current ? &*current : nullptr;
  if (old_value != nullptr && old_value->size() == value.size() && old_value->equals(value)) {
    fail(ErrorKind::failed, "rotate {}: the new value is the same as v{}; nothing was changed", name, op.v_old);
  }

  // The connectors' own credentials: a rotator who cannot read one is refused here, before
  // anything is written or run.
  read_auth(op, secret);

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
  op.out.action = OutcomeAction::rotate;
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
    (connector::driver_for(*connector).pushes() ? commands : manuals).push_back(connector);
  }
  const std::vector<std::string> who = who_can_rotate(secret);
  for (const ConnectorRecord* manual : manuals) {
    if (op.confirmed.count(manual->name) == 0) {
      out.instructions.push_back(paste_instruction(op.name, manual->name, manual, op.v_new, who));
    }
  }
  if (!out.instructions.empty()) {
    // Steps 2-4 wait for a person; the old value stays current meanwhile.
    out.result = OutcomeResult::awaiting_confirmation;
    send(out, "awaiting-confirmation");
    return out;
  }

  const Redactor redactor = op.redactor();
  const connector::Invocation invocation =
    connector::with_alternation({op.name, op.env, op.v_new, op.v_old, action_of(op.kind)}, vault);

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
    out.steps.push_back(connector::run_step(*connector, connector::Step::update, op.invocation_for(*connector, invocation),
                                            *op.new_value, redactor));
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
    out.steps.push_back(connector::run_step(*connector, connector::Step::verify, op.invocation_for(*connector, invocation),
                                            *op.new_value, redactor));
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
  out.result = op.kind == OpKind::rotate ? OutcomeResult::rotated : OutcomeResult::restored;
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
  const Vault& vault = m_session.vault();
  const connector::Invocation invocation =
    connector::with_alternation({op.name, op.env, op.v_old, op.v_new, connector::Action::restore}, vault);
  std::vector<std::string> incomplete;
  // Re-apply in reverse order, then verify in the declared order once every connector holds the
  // old value again: a consumer's check (a flow querying its database) passes only when its
  // source of truth is back too, so verifying each right after its own re-apply would report a
  // consumer restored before its source as incomplete.
  std::vector<const ConnectorRecord*> reapplied;
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
    const connector::Invocation restore = op.invocation_for(*connector, invocation);
    out.steps.push_back(connector::run_step(*connector, connector::Step::update, restore, *op.old_value, redactor));
    if (out.steps.back().ok) {
      reapplied.insert(reapplied.begin(), connector);
    } else {
      incomplete.push_back(*it);
    }
  }
  for (const ConnectorRecord* connector : reapplied) {
    const connector::Invocation restore = op.invocation_for(*connector, invocation);
    out.steps.push_back(connector::run_step(*connector, connector::Step::verify, restore, *op.old_value, redactor));
    if (!out.steps.back().ok) {
      incomplete.push_back(connector->name);
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
    out.result = op.cancel ? OutcomeResult::cancelled : OutcomeResult::rolled_back;
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
    out.result = OutcomeResult::rollback_incomplete;
    out.error = fmt::format("v{} failed: {}; ROLLBACK INCOMPLETE: {} may still hold v{} (kept pending; "
                            "escrow rotate --resume retries)",
                            op.v_new, cause, join(incomplete), op.v_new);
  }
  m_session.commit(std::move(entry));
  m_journal.reset();
  progress(out.summary());
  send(out, out.result == OutcomeResult::cancelled     ? "rotation-cancelled"
            : out.result == OutcomeResult::rolled_back ? "rotation-failed"
                                          : "rollback-incomplete");
}

} // namespace escrow::rotation
