#include <escrow/connectors/manage.hpp>
#include <escrow/error.hpp>
#include <escrow/lookup.hpp>
#include <escrow/policy.hpp>
#include <escrow/util/file.hpp>
#include <escrow/versions.hpp>
#include <escrow/util/text.hpp>

#include <fcntl.h>

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
  ConnectorRecord record = record_of(spec);
  record.created_at = session.now();
  record.rehearse_with.clear(); // checked below
  if (!spec.cacert_file.empty()) {
    record.cacert = read_cacert(spec.cacert_file);
  }
  if (!spec.auth_secret.empty()) {
    // The credential must exist in the vault now (the connector reads it at every rotation,
    // under the read rules of whoever rotates; docs/CONNECTORS.md).
    const auto [env, short_name] = split_secret_name(spec.auth_secret);
    record.auth_secret = env + "/" + short_name;
    if (!vault.has_secret(record.auth_secret)) {
      throw Error(ErrorKind::usage, fmt::format("connector add: --auth-secret {}: no such secret", record.auth_secret))
        .hint("store the connector's credential first: escrow add " + record.auth_secret + " --stdin");
    }
  }
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
  if (!record.auth_secret.empty()) {
    entry.detail["auth_secret"] = record.auth_secret;
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

void bind_connector(Session& session,
          const std::string& secret_name,
          const std::string& connector_name,
          bool on,
          const std::string& after)
{
  const std::string action = on ? "connect" : "disconnect";
  const auto [env, short_name] = split_secret_name(secret_name);
  const std::string full_name = env + "/" + short_name;
  Vault& vault = session.vault();
  const SecretRecord& peek = vault.secret(full_name);
  policy::require_can_manage(session.me(), peek, action);
  const auto listed = [&](const std::string& name) {
    return std::find(peek.connectors.begin(), peek.connectors.end(), name) != peek.connectors.end();
  };
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
    if (listed(connector_name)) {
      Error error(ErrorKind::usage, fmt::format("connect: {} is already bound to {}", full_name, connector_name));
      if (!after.empty()) {
        error.hint(fmt::format("to change where it runs: escrow disconnect {} {}, then escrow connect {} {} --after {}",
                               full_name, connector_name, full_name, connector_name, one_line(after, 64)));
      }
      throw error;
    }
    if (peek.state != SecretState::active) {
      fail(ErrorKind::usage, "connect: {} is retired", full_name);
    }
    if (peek.escrow_only) {
      throw Error(ErrorKind::usage,
                  fmt::format("connect: {} is declared escrow-only (it lives only in escrow)", full_name))
        .hint(fmt::format("if a system uses it after all: escrow disconnect {} --escrow-only, then connect it", full_name));
    }
    if (!after.empty()) {
      if (after == connector_name) {
        fail(ErrorKind::usage, "connect: {} cannot run after itself", connector_name);
      }
      if (!listed(after)) {
        throw Error(ErrorKind::usage, fmt::format("connect: --after {}: {} is not bound to {}", one_line(after, 64),
                                                  one_line(after, 64), full_name))
          .hint(peek.connectors.empty() ? fmt::format("{} has no connector yet", full_name)
                                        : fmt::format("its connectors, in the order they run: {}",
                                                      util::join(peek.connectors)));
      }
    }
  } else if (!listed(connector_name)) {
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
    // The list is the order connectors run in (rollback: the reverse): a new one runs last, or
    // right after --after. Inserting keeps every order declared before.
    auto at = secret.connectors.end();
    if (!after.empty()) {
      at = std::next(std::find(secret.connectors.begin(), secret.connectors.end(), after));
    }
    secret.connectors.insert(at, connector_name);
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
  if (on) {
    if (!after.empty()) {
      entry.detail["after"] = after;
    }
    entry.detail["order"] = secret.connectors;
  }
  session.commit(std::move(entry));
}

} // namespace

void connect(Session& session, const std::string& secret, const std::string& connector, const std::string& after)
{
  bind_connector(session, secret, connector, true, after);
}

void disconnect(Session& session, const std::string& secret, const std::string& connector)
{
  bind_connector(session, secret, connector, false, "");
}

std::optional<SecretBytes> open_auth(const Vault& vault, const ConnectorRecord& connector, const Identity& me,
                                     Timestamp now)
{
  if (connector.auth_secret.empty() || !vault.has_secret(connector.auth_secret)) {
    return std::nullopt;
  }
  const SecretRecord& secret = vault.secret(connector.auth_secret);
  const VersionRecord* current = secret.current();
  if (secret.state != SecretState::active || current == nullptr) {
    return std::nullopt;
  }
  try {
    return open_value(vault, secret, *current, me, now).value;
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::access) {
      throw;
    }
    return std::nullopt;
  }
}

void set_escrow_only(Session& session, const std::string& secret_name, bool on)
{
  const std::string action = on ? "connect --escrow-only" : "disconnect --escrow-only";
  const auto [env, short_name] = split_secret_name(secret_name);
  const std::string full_name = env + "/" + short_name;
  Vault& vault = session.vault();
  const SecretRecord& peek = vault.secret(full_name);
  policy::require_can_manage(session.me(), peek, action);
  if (peek.state != SecretState::active) {
    fail(ErrorKind::usage, "{}: {} is retired", action, full_name);
  }
  if (on && peek.escrow_only) {
    fail(ErrorKind::usage, "{}: {} is already escrow-only", action, full_name);
  }
  if (!on && !peek.escrow_only) {
    fail(ErrorKind::usage, "{}: {} is not escrow-only", action, full_name);
  }
  if (on && !peek.connectors.empty()) {
    throw Error(ErrorKind::usage, fmt::format("{}: {} is bound to {}; an escrow-only secret has no connector", action,
                                              full_name, util::join(peek.connectors)))
      .hint(fmt::format("escrow disconnect {} {} first, if no system uses it", full_name, peek.connectors.front()));
  }
  SecretRecord& secret = vault.secret_mut(full_name);
  secret.escrow_only = on;
  vault.sign_meta(secret, session.identity());
  JournalEntry entry;
  entry.action = on ? JournalAction::connect : JournalAction::disconnect;
  entry.secret = full_name;
  entry.env = env;
  entry.detail = Json{{"escrow_only", on}};
  session.commit(std::move(entry));
}

} // namespace escrow::connector
