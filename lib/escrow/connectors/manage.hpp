// Managing connectors: connector add / remove, connect / disconnect (DESIGN §5, §8). Each
// journals and commits; refusals leave every file untouched.
#pragma once

#include <escrow/connectors/connector.hpp>
#include <escrow/session.hpp>

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
void connect(Session& session, const std::string& secret, const std::string& connector);
void disconnect(Session& session, const std::string& secret, const std::string& connector);

} // namespace escrow::connector
