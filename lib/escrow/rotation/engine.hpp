// Internals shared by the rotation engine's files: include only from lib/escrow/rotation/*.cpp.
// The public API is rotation.hpp.
#pragma once

#include <escrow/connectors/connector.hpp>
#include <escrow/redact.hpp>
#include <escrow/rotation/rotation.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace escrow::rotation {

// ENV/NAME as the vault spells it; Error(usage) for a malformed name.
inline std::string full_name_of(const std::string& name)
{
  const auto [env, short_name] = split_secret_name(name);
  return env + "/" + short_name;
}

inline JournalEntry entry_for(JournalAction action,
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

inline connector::Action action_of(OpKind kind)
{
  return kind == OpKind::rotate ? connector::Action::rotate : connector::Action::rollback;
}

inline bool has_command_connectors(const Vault& vault, const SecretRecord& secret)
{
  return std::any_of(secret.connectors.begin(), secret.connectors.end(), [&](const std::string& name) {
    const ConnectorRecord* connector = vault.connector(name);
    return connector != nullptr && connector::driver_for(*connector).pushes();
  });
}

// rotate --due leaves alone a secret with no connector unless it is declared escrow-only: a
// new value no system receives would break every system using the old one.
inline bool needs_connector(const SecretRecord& secret)
{
  return secret.connectors.empty() && !secret.escrow_only;
}

inline Outcome needs_connector_outcome(const SecretRecord& secret, const std::string& reason)
{
  const VersionRecord* live = live_version(secret);
  return needs_connector_outcome(secret.full_name(), secret.env, live != nullptr ? live->v : 0, reason);
}

struct Rotator::Op
{
  std::string name;
  std::string env;
  OpKind kind = OpKind::rotate;
  std::int64_t v_new = 0;
  std::int64_t v_old = 0;
  std::optional<SecretBytes> new_value;
  std::optional<SecretBytes> old_value;
  // The connectors' own credentials (auth secret ENV/NAME → its current value), read once by
  // read_auth() before any connector runs.
  std::map<std::string, SecretBytes> auth;
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
    for (const auto& [secret, value] : auth) {
      redactor.add(secret + " (auth)", value);
    }
    return redactor;
  }
  // What a connector's step receives: `base` with the connector's credential, when it has one.
  connector::Invocation invocation_for(const ConnectorRecord& connector, connector::Invocation base) const
  {
    if (!connector.auth_secret.empty()) {
      const auto it = auth.find(connector.auth_secret);
      base.auth = it != auth.end() ? &it->second : nullptr;
    }
    return base;
  }
};

} // namespace escrow::rotation
