// Managing connectors: connector add / remove, connect / disconnect (DESIGN §5, §8). Each
// journals and commits; refusals leave every file untouched.
#pragma once

#include <escrow/connectors/connector.hpp>
#include <escrow/session.hpp>

#include <optional>
#include <string>
#include <vector>

namespace escrow::connector {

// connector add: admins and rotators of the environment.
const ConnectorRecord& add(Session& session, const Spec& spec);
// connector remove: refused while any secret is bound to it (Error(usage) listing them).
void remove(Session& session, const std::string& name);
// Secrets bound to a connector.
std::vector<std::string> bound_secrets(const Vault& vault, const std::string& connector);

// connect / disconnect ENV/NAME C: whoever may write the secret. A connector of another
// environment is refused with Error(usage) ("environments never mix"), as `add --connector` is.
// A secret's connectors run in the order of its list (rollback: the reverse): connect appends C,
// or inserts it right after `after` (--after OTHER: bound to the secret, not C itself). Every
// order declared before stays true, so no cycle can be declared; to move C, disconnect it and
// connect it again. Refusals are Error(usage) and change nothing.
void connect(Session& session, const std::string& secret, const std::string& connector, const std::string& after = "");
void disconnect(Session& session, const std::string& secret, const std::string& connector);

// The current value of a connector's auth secret for checks that journal their own entry (a
// rehearsal's real verify, restore --reconnect): nullopt when the connector has none, or `me`
// cannot open it (the driver then fails the step, naming the secret). Rotation reads it through
// the read rules instead (rotation::Rotator).
std::optional<SecretBytes> open_auth(const Vault& vault, const ConnectorRecord& connector, const Identity& me,
                                     Timestamp now);

// connect ENV/NAME --escrow-only (on) / disconnect ENV/NAME --escrow-only (off): the secret lives
// only in escrow (consumed through exec/get), so `rotate --due` rotates it with no connector.
// Refused while it has connectors (on), when already so, or for a retired secret.
void set_escrow_only(Session& session, const std::string& secret, bool on);

} // namespace escrow::connector
