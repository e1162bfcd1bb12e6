#include <escrow/history/admin.hpp>

#include <escrow/history/refusal.hpp>

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
