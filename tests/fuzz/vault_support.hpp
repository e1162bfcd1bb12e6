// Comparing two readings of a vault (fuzz_vault.cpp, fuzz_vault_lazy.cpp).
#pragma once

#include "fuzz.hpp"

#include <escrow/vault.hpp>

namespace escrow::fuzz {

// The same revision, head and records, compared as values (every record's to_json).
inline void check_same_vault(const Vault& a, const Vault& b, std::string_view property)
{
  check(a.id_b64() == b.id_b64() && a.revision() == b.revision() && a.head() == b.head()
          && a.parents() == b.parents() && a.journal_head() == b.journal_head() && a.head_signer() == b.head_signer(),
        property);
  check(to_json(a.policy()) == to_json(b.policy()), property);
  check(a.members().size() == b.members().size() && a.connectors().size() == b.connectors().size(), property);
  for (const auto& [name, member] : a.members()) {
    const MemberRecord* other = b.member(name);
    check(other != nullptr && to_json(member) == to_json(*other), property);
  }
  for (const auto& [name, connector] : a.connectors()) {
    const ConnectorRecord* other = b.connector(name);
    check(other != nullptr && to_json(connector) == to_json(*other), property);
  }
  const std::vector<std::string> names = a.secret_names();
  check(names == b.secret_names(), property);
  for (const std::string& name : names) {
    check(to_json(a.secret(name)) == to_json(b.secret(name)), property);
  }
}

// The records of a vault file as stored: from the policy's key line to the end.
inline std::string_view records_part(std::string_view text)
{
  const auto at = text.find("\n  \"policy\": ");
  return at == std::string_view::npos ? std::string_view() : text.substr(at);
}

} // namespace escrow::fuzz
