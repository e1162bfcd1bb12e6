// Resuming: a pending version left by an interrupted run is rolled forward or back (rotate
// --resume, rotate --due), and manual connectors confirm their paste (rotate --confirm).
#include <escrow/error.hpp>
#include <escrow/policy.hpp>
#include <escrow/rotation/engine.hpp>

namespace escrow::rotation {

Outcome Rotator::resume_one(const std::string& name, OutcomeAction action)
{
  const Vault& vault = m_session.vault();
  const SecretRecord& secret = vault.secret(name);
  policy::require_can_manage(m_session.me(), secret, action == OutcomeAction::rollback ? "rollback" : "rotate --resume");
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
  const bool cancel = action == OutcomeAction::rollback;
  op.cancel = cancel;
  if (!state->rolling_back && !cancel && !state->awaiting.empty()) {
    op.stamp();
    op.out.result = OutcomeResult::awaiting_confirmation;
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
  read_auth(op, secret);
  if (forward) {
    progress(fmt::format("{}: resuming v{} (rolling forward)", name, op.v_new));
    return drive(op);
  }
  progress(fmt::format("{}: {} v{} (rolling back)", name, cancel ? "cancelling" : "resuming", op.v_new));
  op.stamp();
  std::vector<std::string> attempted;
  for (const auto& connector_name : secret.connectors) {
    const ConnectorRecord* connector = vault.connector(connector_name);
    if (connector != nullptr && connector::driver_for(*connector).pushes()) {
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
    outcomes.push_back(resume_one(full_name, OutcomeAction::resume));
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
      outcomes.push_back(resume_one(secret_name, OutcomeAction::resume));
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::io || error.kind() == ErrorKind::integrity) {
        throw;
      }
      Outcome out;
      out.secret = secret_name;
      out.env = secret_name.substr(0, secret_name.find('/'));
      out.action = OutcomeAction::resume;
      out.result = OutcomeResult::error;
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
    if (needs_connector(secret)) {
      outcomes.push_back(needs_connector_outcome(secret, *reason));
      progress(outcomes.back().summary());
      send(outcomes.back(), "needs-connector");
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
      out.action = OutcomeAction::rotate;
      out.reason = *reason;
      out.result = OutcomeResult::error;
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
  if (connector::driver_for(*connector).pushes()) {
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
  op.out.action = OutcomeAction::confirm;
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
  read_auth(op, secret);
  JournalEntry entry = entry_for(JournalAction::confirm, full_name, secret.env, op.v_new);
  entry.detail = Json{{"connector", connector_name}};
  if (!connector->verify.empty()) {
    const connector::Invocation invocation =
      connector::with_alternation({full_name, secret.env, op.v_new, op.v_old, action_of(op.kind)}, secret, vault);
    connector::StepResult check = connector::run_step(*connector, connector::Step::verify,
                                                      op.invocation_for(*connector, invocation), *op.new_value,
                                                      op.redactor());
    op.out.steps.push_back(check);
    if (!check.ok) {
      entry.result = JournalResult::failed;
      entry.detail["output"] = check.output;
      m_session.record(std::move(entry));
      m_journal.reset();
      op.stamp();
      op.out.result = OutcomeResult::error;
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

} // namespace escrow::rotation
