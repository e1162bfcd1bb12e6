// --dry-run: what rotate, rotate --due and --resume would do, changing nothing.
#include <escrow/error.hpp>
#include <escrow/generator.hpp>
#include <escrow/policy.hpp>
#include <escrow/rotation/engine.hpp>

namespace escrow::rotation {

Outcome Rotator::plan_one(const std::string& name, const std::string& reason)
{
  const Vault& vault = m_session.vault();
  const SecretRecord& secret = vault.secret(name);
  Outcome out;
  out.secret = name;
  out.env = secret.env;
  out.result = OutcomeResult::planned;
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
      (connector::driver_for(*connector).pushes() ? commands : manuals).push_back(connector);
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
      out.action = OutcomeAction::await;
      for (const auto& manual : state->awaiting) {
        out.plan.push_back(Json{{"connector", manual}, {"kind", vault.connector(manual)->kind}, {"step", "await-confirmation"},
                                {"version", state->version}, {"timeout", nullptr}});
      }
      return out;
    }
    out.action = back ? OutcomeAction::resume_back : OutcomeAction::resume_forward;
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
  out.action = OutcomeAction::rotate;
  out.version = secret.next_version();
  out.generator = m_options.generate ? *m_options.generate
                  : secret.generator.empty() ? std::string(k_default_generator)
                                             : secret.generator;
  (void)parse_generator(out.generator);
  out.plan.push_back(Json{{"connector", nullptr}, {"kind", nullptr}, {"step", "create"}, {"version", out.version},
                          {"timeout", nullptr}});
  for (const ConnectorRecord* manual : manuals) {
    out.plan.push_back(Json{{"connector", manual->name}, {"kind", manual->kind}, {"step", "await-confirmation"},
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
      outcomes.push_back(needs_connector(secret) ? needs_connector_outcome(secret, *reason) : plan_one(name, *reason));
    }
  }
  return outcomes;
}

} // namespace escrow::rotation
