#include <escrow/connectors/manage.hpp>
#include <escrow/error.hpp>
#include <escrow/lookup.hpp>
#include <escrow/policy.hpp>
#include <escrow/util/text.hpp>

#include <algorithm>

namespace escrow::connector {

const ConnectorRecord& add(Session& session, const Spec& spec)
{
  validate(spec);
  Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  policy::require_env(me, spec.env, "connector add");
  if (!can_write_connector(me, spec.env)) {
    fail(ErrorKind::access, "connector add: only admins and rotators of {} may add connectors there ({} is neither)",
         spec.env, me.name);
  }
  if (vault.connector(spec.name) != nullptr) {
    throw Error(ErrorKind::usage, fmt::format("{}: connector {} already exists", vault.what(), spec.name))
      .hint("to change it: escrow connector remove " + spec.name + " (after disconnecting its secrets), then add it again");
  }
  ConnectorRecord record;
  record.name = spec.name;
  record.env = spec.env;
  record.kind = spec.kind;
  record.update = spec.update;
  record.verify = spec.verify;
  record.instructions = spec.instructions;
  record.timeout = spec.timeout;
  record.created_at = session.now();
  if (!spec.rehearse_with.empty()) {
    const ConnectorRecord* twin = vault.connector(spec.rehearse_with);
    if (twin == nullptr || twin->env != spec.env || spec.rehearse_with == spec.name) {
      throw Error(ErrorKind::usage, fmt::format("connector add: --rehearse-with {}: no such connector in {}",
                                                one_line(spec.rehearse_with, 64), spec.env))
        .hint("add the staging twin first: escrow connector add TWIN --env " + spec.env + " --update CMD --verify CMD");
    }
    record.rehearse_with = spec.rehearse_with;
  }
  vault.sign(record, session.identity());
  vault.put_connector(record);
  JournalEntry entry;
  entry.action = JournalAction::connector_add;
  entry.env = spec.env;
  entry.detail = Json{{"connector", spec.name}, {"kind", spec.kind}, {"timeout", spec.timeout}};
  if (!spec.rehearse_with.empty()) {
    entry.detail["rehearse_with"] = spec.rehearse_with;
  }
  session.commit(std::move(entry));
  return *session.vault().connector(spec.name);
}

std::vector<std::string> bound_secrets(const Vault& vault, const std::string& connector)
{
  std::vector<std::string> names;
  const ConnectorRecord* record = vault.connector(connector);
  for (const auto& name : vault.secret_names()) {
    // Bindings never cross environments, so only that environment's secrets need reading.
    if (record != nullptr && name.compare(0, record->env.size() + 1, record->env + "/") != 0) {
      continue;
    }
    const SecretRecord& secret = vault.secret(name);
    if (std::find(secret.connectors.begin(), secret.connectors.end(), connector) != secret.connectors.end()) {
      names.push_back(name);
    }
  }
  return names;
}

void remove(Session& session, const std::string& name)
{
  Vault& vault = session.vault();
  const ConnectorRecord* record = vault.connector(name);
  if (record == nullptr) {
    throw with_hint(Error(ErrorKind::usage, fmt::format("{}: no connector named {}", vault.what(), one_line(name, 64))),
                    connector_hint(vault, name));
  }
  const std::string env = record->env;
  policy::require_env(session.me(), env, "connector remove");
  if (!can_write_connector(session.me(), env)) {
    fail(ErrorKind::access, "connector remove: only admins and rotators of {} may remove connectors there", env);
  }
  const auto bound = bound_secrets(vault, name);
  if (!bound.empty()) {
    throw Error(ErrorKind::usage, fmt::format("connector remove: {} is still bound to {}", name, util::join(bound)))
      .hint(fmt::format("escrow disconnect {} {}", bound.front(), name));
  }
  vault.erase_connector(name);
  JournalEntry entry;
  entry.action = JournalAction::connector_remove;
  entry.env = env;
  entry.detail = Json{{"connector", name}};
  session.commit(std::move(entry));
}

namespace {

bool has_pending(const SecretRecord& secret)
{
  return std::any_of(secret.versions.begin(), secret.versions.end(),
                     [](const VersionRecord& v) { return v.state == VersionState::pending; });
}

void bind(Session& session, const std::string& secret_name, const std::string& connector_name, bool on)
{
  const std::string action = on ? "connect" : "disconnect";
  const auto [env, short_name] = split_secret_name(secret_name);
  const std::string full_name = env + "/" + short_name;
  Vault& vault = session.vault();
  const SecretRecord& peek = vault.secret(full_name);
  policy::require_can_manage(session.me(), peek, action);
  const bool listed =
    std::find(peek.connectors.begin(), peek.connectors.end(), connector_name) != peek.connectors.end();
  if (on) {
    const ConnectorRecord* connector = vault.connector(connector_name);
    if (connector == nullptr) {
      throw with_hint(Error(ErrorKind::usage, fmt::format("connect: no connector named {}", one_line(connector_name, 64))),
                      connector_hint(vault, connector_name))
        .hint("escrow connector list");
    }
    if (connector->env != env) {
      fail(ErrorKind::usage, "connect: connector {} belongs to {}, not {} (environments never mix)", connector_name,
           connector->env, env);
    }
    if (listed) {
      fail(ErrorKind::usage, "connect: {} is already bound to {}", full_name, connector_name);
    }
    if (peek.state != SecretState::active) {
      fail(ErrorKind::usage, "connect: {} is retired", full_name);
    }
  } else if (!listed) {
    fail(ErrorKind::usage, "disconnect: {} is not bound to {}", full_name, one_line(connector_name, 64));
  }
  // Connecting during a rotation is refused (the run would push to a connector it never
  // planned for); disconnecting is allowed, as the way out of a connector that is gone for good.
  if (on && has_pending(peek)) {
    throw Error(ErrorKind::usage, fmt::format("{}: {} has a rotation in progress; its connectors cannot change now",
                                              action, full_name))
      .hint("finish it (escrow rotate --resume / --confirm) or cancel it (escrow rollback " + full_name + ")");
  }
  SecretRecord& secret = vault.secret_mut(full_name);
  if (on) {
    secret.connectors.push_back(connector_name);
    std::sort(secret.connectors.begin(), secret.connectors.end());
  } else {
    secret.connectors.erase(std::remove(secret.connectors.begin(), secret.connectors.end(), connector_name),
                            secret.connectors.end());
  }
  vault.sign_meta(secret, session.identity());
  JournalEntry entry;
  entry.action = on ? JournalAction::connect : JournalAction::disconnect;
  entry.secret = full_name;
  entry.env = env;
  entry.detail = Json{{"connector", connector_name}};
  session.commit(std::move(entry));
}

} // namespace

void connect(Session& session, const std::string& secret, const std::string& connector)
{
  bind(session, secret, connector, true);
}

void disconnect(Session& session, const std::string& secret, const std::string& connector)
{
  bind(session, secret, connector, false);
}

} // namespace escrow::connector
