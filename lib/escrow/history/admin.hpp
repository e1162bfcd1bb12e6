// Policy and connectors on escrow-vault/2 (vault-2-plan.md step 5b): policy-set, connector-add,
// connector-remove, each one operation through VaultSession::submit; the rules are
// history::authorize's; a member's refusal is journaled as a denied event.
#pragma once

#include <escrow/connectors/connector.hpp>
#include <escrow/history/vault_session.hpp>

#include <string>
#include <vector>

namespace escrow::history {

// escrow policy set ENV / set-notify (env "*"). Error(usage) for a change that changes nothing.
const Policy& set_policy(VaultSession& session, const PolicySetArgs& change);

// escrow connector add, every kind: connector::validate (the kind's own rules), --cacert read
// from its file, --auth-secret an existing secret of the environment, --rehearse-with an
// existing connector of the environment (Error(usage) before anything is written); then one
// connector-add operation carrying the kind's settings.
const Connector& add_connector(VaultSession& session, const connector::Spec& spec);

// The connector as the drivers take it (connectors/connector.hpp runs a ConnectorRecord).
ConnectorRecord connector_record(const Connector& connector);

// escrow connector remove (no secret may still use it: the rules refuse it).
void remove_connector(VaultSession& session, const std::string& name);

// escrow connect SECRET CONNECTOR [--after OTHER] / disconnect: the secret's rotation order
// changed by one secret-set operation. Usage errors (as v1) for an unknown secret or connector,
// another environment's connector, a connector bound already (connect) or not bound (disconnect),
// an --after that is not bound. Returns the new order.
std::vector<std::string> connect_secret(VaultSession& session, const std::string& secret, const std::string& connector,
                                        const std::string& after);
std::vector<std::string> disconnect_secret(VaultSession& session, const std::string& secret,
                                           const std::string& connector);

// escrow connect ENV/NAME --escrow-only (on) / disconnect ENV/NAME --escrow-only (off): one
// secret-set of escrow_only. Usage errors (as v1) for an unknown or retired secret, one already
// so (or not so), or one with connectors (on).
void set_escrow_only(VaultSession& session, const std::string& secret, bool on);

// escrow retire: no new version, share, request or approval afterwards (retire operation). The
// last current version and its readers' keys are kept (vault-2-operations.md §5: dependents
// being decommissioned may still need the value).
void retire_secret(VaultSession& session, const std::string& secret);

// The secrets bound to connector `name`, in name order.
std::vector<std::string> bound_secrets(const State& state, const std::string& name);

} // namespace escrow::history
