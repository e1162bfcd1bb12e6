// The drivers the registry (registry.cpp) hands out, one per file of this folder. Include only
// from registry.cpp and the tests; everything else asks driver_for().
#pragma once

#include <escrow/connectors/connector.hpp>

namespace escrow::connector {

const Driver& command_driver(); // command.cpp
const Driver& manual_driver();  // manual.cpp
const Driver& postgres_driver(); // postgres.cpp
const Driver& http_driver();     // http.cpp
const Driver& node_red_driver(); // node_red.cpp
const Driver& mysql_driver();    // mysql.cpp
// The mysql_native_password hash of a value ("*" and 40 upper-case hex digits), as the mysql kind
// sends it; nullopt if libcrypto fails. Exposed for its known-answer test.
std::optional<SecretBytes> mysql_native_password_hash(const SecretBytes& value);

} // namespace escrow::connector
