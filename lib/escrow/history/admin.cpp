#include <escrow/history/admin.hpp>

#include <escrow/history/refusal.hpp>

#include <fmt/format.h>

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

const Connector& add_connector(VaultSession& session, const connector::Spec& spec)
{
  if (spec.kind != ConnectorKind::command && spec.kind != ConnectorKind::manual) {
    throw Error(ErrorKind::usage,
                fmt::format("connector add: --kind {} is not yet recorded in escrow-vault/2 (connector-add has no "
                            "settings for the native kinds)",
                            connector_kind_name(spec.kind)))
      .hint("use --update/--verify (command) or --manual until the native kinds are ported");
  }
  if (!spec.rehearse_with.empty()) {
    fail(ErrorKind::usage, "connector add: --rehearse-with is not yet recorded in escrow-vault/2");
  }
  if (session.state().connector(spec.name) != nullptr) {
    fail(ErrorKind::usage, "connector add: connector {} exists", spec.name);
  }
  ConnectorAddArgs args;
  args.name = spec.name;
  args.env = spec.env;
  args.kind = spec.kind;
  args.update = spec.update;
  args.verify = spec.verify;
  args.instructions = spec.instructions;
  args.timeout = spec.timeout;
  const Json detail{{"connector", spec.name}, {"env", spec.env}};
  return journaling_refusal(session, OpKind::connector_add, detail, [&]() -> const Connector& {
    session.submit(std::move(args));
    return *session.state().connector(spec.name);
  });
}

void remove_connector(VaultSession& session, const std::string& name)
{
  if (session.state().connector(name) == nullptr) {
    fail(ErrorKind::usage, "connector remove: no connector {}", name);
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
  const Secret* s = state.secret(secret);
  if (s == nullptr) {
    fail(ErrorKind::usage, "connect: no secret named {}", secret);
  }
  const Connector* c = state.connector(connector);
  if (c == nullptr) {
    throw Error(ErrorKind::usage, fmt::format("connect: no connector {}", connector)).hint("escrow connector list");
  }
  if (c->env != s->env) {
    fail(ErrorKind::usage, "connect: connector {} belongs to {}, not {} (environments never mix)", connector, c->env,
         s->env);
  }
  if (s->state == SecretState::retired) {
    fail(ErrorKind::usage, "connect: {} is retired", secret);
  }
  std::vector<std::string> order = s->connectors;
  if (std::find(order.begin(), order.end(), connector) != order.end()) {
    fail(ErrorKind::usage, "connect: {} is bound to {} already", secret, connector);
  }
  if (after.empty()) {
    order.push_back(connector);
  } else {
    if (after == connector) {
      fail(ErrorKind::usage, "connect: {} cannot run after itself", connector);
    }
    const auto at = std::find(order.begin(), order.end(), after);
    if (at == order.end()) {
      fail(ErrorKind::usage, "connect: --after {}: not bound to {}", after, secret);
    }
    order.insert(at + 1, connector);
  }
  return set_connectors(session, secret, std::move(order), Json{{"secret", secret}, {"connector", connector}});
}

std::vector<std::string> disconnect_secret(VaultSession& session, const std::string& secret,
                                           const std::string& connector)
{
  const Secret* s = session.state().secret(secret);
  if (s == nullptr) {
    fail(ErrorKind::usage, "disconnect: no secret named {}", secret);
  }
  std::vector<std::string> order = s->connectors;
  const auto at = std::find(order.begin(), order.end(), connector);
  if (at == order.end()) {
    fail(ErrorKind::usage, "disconnect: {} is not bound to {}", secret, connector);
  }
  order.erase(at);
  return set_connectors(session, secret, std::move(order), Json{{"secret", secret}, {"connector", connector}});
}

void retire_secret(VaultSession& session, const std::string& secret)
{
  if (session.state().secret(secret) == nullptr) {
    fail(ErrorKind::usage, "retire: no secret named {}", secret);
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
