// Alternating roles: which of a connector's two roles a version of a secret belongs to
// (connector.hpp; docs/CONNECTORS.md).
#include <escrow/connectors/connector.hpp>
#include <escrow/vault.hpp>

namespace escrow::connector {

int alternation_slot(const SecretRecord& secret, std::int64_t version)
{
  std::int64_t before = 0;
  for (const VersionRecord& record : secret.versions) {
    if (record.v < version && record.state != VersionState::failed) {
      ++before;
    }
  }
  return static_cast<int>(before % 2);
}

const std::string& role_for_slot(const ConnectorRecord& connector, int slot)
{
  return slot == 1 && !connector.alternate_role.empty() ? connector.alternate_role : connector.role;
}

Invocation with_alternation(Invocation invocation, const Vault& vault)
{
  if (!vault.has_secret(invocation.secret)) {
    return invocation;
  }
  return with_alternation(std::move(invocation), vault.secret(invocation.secret), vault);
}

Invocation with_alternation(Invocation invocation, const SecretRecord& secret, const Vault& vault)
{
  invocation.slot = alternation_slot(secret, invocation.version);
  invocation.role.clear();
  for (const std::string& name : secret.connectors) {
    const ConnectorRecord* connector = vault.connector(name);
    if (connector != nullptr && !connector->alternate_role.empty()) {
      invocation.role = role_for_slot(*connector, invocation.slot);
      break;
    }
  }
  return invocation;
}

} // namespace escrow::connector
