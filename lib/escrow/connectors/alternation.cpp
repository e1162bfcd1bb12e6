// Alternating roles: which of a connector's two roles a slot stands for (connector.hpp;
// docs/CONNECTORS.md).
#include <escrow/connectors/connector.hpp>

namespace escrow::connector {

const std::string& role_for_slot(const ConnectorRecord& connector, int slot)
{
  return slot == 1 && !connector.alternate_role.empty() ? connector.alternate_role : connector.role;
}

} // namespace escrow::connector
