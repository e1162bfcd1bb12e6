#include <escrow/history/admin.hpp>

#include <escrow/history/lookup.hpp>
#include <escrow/history/refusal.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace escrow::history {

const Policy& set_policy(VaultSession& session, const PolicySetArgs& change)
{
  if (!change.every && !change.keep && !change.max_ttl && !change.min_threshold && !change.notify
      && !change.require_why) {
    fail(ErrorKind::usage, "policy set: nothing to change (--min-threshold, --max-ttl, --require-why, --every, --keep, --notify)");
  }
  const Json detail{{"env", change.env}};
  return journaling_refusal(session, OpKind::policy_set, detail, [&]() -> const Policy& {
    session.submit(change);
    return *session.state().policy;
  });
}

ConnectorRecord connector_record(const Connector& c)
{
  ConnectorRecord record;
  static_cast<ConnectorSettings&>(record) = c.settings;
  record.name = c.name;
  record.env = c.env;
  record.kind = c.kind;
  record.update = c.update;
  record.verify = c.verify;
  record.instructions = c.instructions;
  record.timeout = c.timeout;
  record.created_at = c.created_at;
  record.rehearse_with = c.rehearse_with;
  return record;
}

const Connector& add_connector(VaultSession& session, const connector::Spec& spec)
{
  connector::validate(spec);
  const State& state = session.state();
  if (state.connector(spec.name) != nullptr) {
    throw Error(ErrorKind::usage, fmt::format("connector add: connector {} already exists", spec.name))
      .hint("to change it: escrow connector remove " + spec.name + " (after disconnecting its secrets), then add it again");
  }
  ConnectorRecord record = connector::record_of(spec);
  if (!spec.cacert_file.empty()) {
    record.cacert = connector::read_cacert(spec.cacert_file);
  }
  if (!spec.auth_secret.empty()) {
    // The credential must exist in the vault now (the connector reads it at every rotation,
    // under the read rules of whoever rotates; docs/CONNECTORS.md).
    const auto [env, short_name] = split_secret_name(spec.auth_secret);
    record.auth_secret = env + "/" + short_name;
    if (state.secret(record.auth_secret) == nullptr) {
      std::string hint = secret_hint(state, record.auth_secret);
      throw Error(ErrorKind::usage, fmt::format("connector add: --auth-secret {}: no such secret", record.auth_secret))
        .hint(hint.empty() ? "store the connector's credential first: escrow add " + record.auth_secret + " --stdin"
                           : hint);
    }
  }
  if (!spec.rehearse_with.empty()) {
    const Connector* twin = state.connector(spec.rehearse_with);
    if (twin == nullptr || twin->env != spec.env || spec.rehearse_with == spec.name) {
      throw Error(ErrorKind::usage, fmt::format("connector add: --rehearse-with {}: no such connector in {}",
                                                connector::one_line(spec.rehearse_with, 64), spec.env))
        .hint("add the staging twin first: escrow connector add TWIN --env " + spec.env + " --update CMD --verify CMD");
    }
  }
  ConnectorAddArgs args;
  args.name = spec.name;
  args.env = spec.env;
  args.kind = spec.kind;
  args.update = spec.update;
  args.verify = spec.verify;
  args.instructions = spec.instructions;
  args.timeout = spec.timeout;
  args.rehearse_with = spec.rehearse_with;
  args.settings = record; // the kind's own settings (record_of leaves the others empty)
  Json detail{{"connector", spec.name}, {"env", spec.env}};
  if (!args.rehearse_with.empty()) {
    detail["rehearse_with"] = args.rehearse_with;
  }
  if (!record.auth_secret.empty()) {
    detail["auth_secret"] = record.auth_secret;
  }
  return journaling_refusal(session, OpKind::connector_add, detail, [&]() -> const Connector& {
    session.submit(std::move(args));
    return *session.state().connector(spec.name);
  });
}

void remove_connector(VaultSession& session, const std::string& name)
{
  (void)find_connector(session.state(), name, "connector remove");
  for (const auto& [secret_name, secret] : session.state().secrets) {
    if (secret->state == SecretState::active
        && std::find(secret->connectors.begin(), secret->connectors.end(), name) != secret->connectors.end()) {
      // Like connect's refusals: exit 2, nothing journaled (docs/ROTATION.md).
      throw Error(ErrorKind::usage, fmt::format("connector remove: {} is still bound to {}", name, secret_name))
        .hint(fmt::format("unbind it first: escrow disconnect {} {}", secret_name, name));
    }
  }
  const Json detail{{"connector", name}};
  journaling_refusal(session, OpKind::connector_remove, detail, [&] {
    ConnectorRemoveArgs args;
    args.name = name;
    session.submit(std::move(args));
    return 0;
  });
}

namespace {

std::vector<std::string> set_connectors(VaultSession& session, const std::string& secret, std::vector<std::string> order,
                                        Json detail)
{
  return journaling_refusal(session, OpKind::secret_set, detail, [&] {
    SecretSetArgs args;
    args.secret = secret;
    args.connectors = order;
    session.submit(std::move(args));
    return session.state().secret(secret)->connectors;
  });
}

} // namespace

std::vector<std::string> connect_secret(VaultSession& session, const std::string& secret, const std::string& connector,
                                        const std::string& after)
{
  const State& state = session.state();
  const Secret* s = &find_secret(state, secret, "connect");
  const Connector* c = &find_connector(state, connector, "connect");
  if (c->env != s->env) {
    fail(ErrorKind::usage, "connect: connector {} belongs to {}, not {} (environments never mix)", connector, c->env,
         s->env);
  }
  if (s->state == SecretState::retired) {
    fail(ErrorKind::usage, "connect: {} is retired", secret);
  }
  if (s->escrow_only) {
    throw Error(ErrorKind::usage, fmt::format("connect: {} is declared escrow-only (it lives only in escrow)", secret))
      .hint(fmt::format("if a system uses it after all: escrow disconnect {} --escrow-only, then connect it", secret));
  }
  std::vector<std::string> order = s->connectors;
  if (std::find(order.begin(), order.end(), connector) != order.end()) {
    fail(ErrorKind::usage, "connect: {} is already bound to {}", secret, connector);
  }
  if (after.empty()) {
    order.push_back(connector);
  } else {
    if (after == connector) {
      fail(ErrorKind::usage, "connect: {} cannot run after itself", connector);
    }
    const auto at = std::find(order.begin(), order.end(), after);
    if (at == order.end()) {
      fail(ErrorKind::usage, "connect: --after {}: {} is not bound to {}", after, after, secret);
    }
    order.insert(at + 1, connector);
  }
  return set_connectors(session, secret, std::move(order), Json{{"secret", secret}, {"connector", connector}});
}

std::vector<std::string> disconnect_secret(VaultSession& session, const std::string& secret,
                                           const std::string& connector)
{
  const Secret* s = &find_secret(session.state(), secret, "disconnect");
  std::vector<std::string> order = s->connectors;
  const auto at = std::find(order.begin(), order.end(), connector);
  if (at == order.end()) {
    fail(ErrorKind::usage, "disconnect: {} is not bound to {}", secret, connector);
  }
  order.erase(at);
  return set_connectors(session, secret, std::move(order), Json{{"secret", secret}, {"connector", connector}});
}

void set_escrow_only(VaultSession& session, const std::string& secret, bool on)
{
  const std::string action = on ? "connect --escrow-only" : "disconnect --escrow-only";
  const Secret* s = &find_secret(session.state(), secret, action);
  if (s->state == SecretState::retired) {
    fail(ErrorKind::usage, "{}: {} is retired", action, secret);
  }
  if (on == s->escrow_only) {
    fail(ErrorKind::usage, "{}: {} is {} escrow-only", action, secret, on ? "already" : "not");
  }
  if (on && !s->connectors.empty()) {
    throw Error(ErrorKind::usage, fmt::format("{}: {} is bound to {}; an escrow-only secret has no connector", action,
                                              secret, fmt::join(s->connectors, ", ")))
      .hint(fmt::format("escrow disconnect {} {} first, if no system uses it", secret, s->connectors.front()));
  }
  journaling_refusal(session, OpKind::secret_set, Json{{"secret", secret}, {"escrow_only", on}}, [&] {
    SecretSetArgs args;
    args.secret = secret;
    args.escrow_only = on;
    session.submit(std::move(args));
    return 0;
  });
}

void retire_secret(VaultSession& session, const std::string& secret)
{
  if (find_secret(session.state(), secret, "retire").state == SecretState::retired) {
    fail(ErrorKind::usage, "retire: {} is already retired", secret); // like rotate/connect: exit 2, nothing journaled
  }
  journaling_refusal(session, OpKind::retire, Json{{"secret", secret}}, [&] {
    RetireArgs args;
    args.secret = secret;
    session.submit(std::move(args));
    return 0;
  });
}

std::vector<std::string> bound_secrets(const State& state, const std::string& name)
{
  std::vector<std::string> out;
  for (const auto& [secret_name, secret] : state.secrets) {
    if (std::find(secret->connectors.begin(), secret->connectors.end(), name) != secret->connectors.end()) {
      out.push_back(secret_name);
    }
  }
  return out;
}

} // namespace escrow::history
