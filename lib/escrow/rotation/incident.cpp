// Incidents: rollback to the previous version, compromise (void access, rotate at once) and retire.
#include <escrow/error.hpp>
#include <escrow/policy.hpp>
#include <escrow/rotation/engine.hpp>
#include <escrow/util/text.hpp>

namespace escrow::rotation {

using util::join;

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
    return resume_one(full_name, OutcomeAction::rollback); // cancel the rotation in progress
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
  read_auth(op, secret);
  op.out.action = OutcomeAction::rollback;
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
    event.action = OutcomeAction::compromise;
    event.result = OutcomeResult::compromised;
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
  event.action = OutcomeAction::retire;
  event.result = OutcomeResult::retired;
  send(event, "retired");
}

} // namespace escrow::rotation
