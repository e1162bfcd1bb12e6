// The registry: one driver per connector kind. Adding a kind adds one line here.
#include <escrow/connectors/connector.hpp>
#include <escrow/connectors/kinds.hpp>
#include <escrow/error.hpp>
#include <escrow/identity.hpp>

namespace escrow::connector {

const Driver& driver_for(ConnectorKind kind)
{
  switch (kind) {
  case ConnectorKind::command: return command_driver();
  case ConnectorKind::manual: return manual_driver();
  case ConnectorKind::postgres: return postgres_driver();
  case ConnectorKind::http: return http_driver();
  case ConnectorKind::node_red: return node_red_driver();
  case ConnectorKind::mysql: return mysql_driver();
  }
  fail(ErrorKind::integrity, "connector kind {} has no driver", static_cast<int>(kind));
}

void validate(const Spec& spec)
{
  if (!valid_member_name(spec.name)) {
    fail(ErrorKind::usage,
         "connector: invalid name \"{}\" (1-64 of letters, digits, '.', '_', '-', starting with a letter or digit)",
         one_line(spec.name, 64));
  }
  if (!valid_env_name(spec.env)) {
    fail(ErrorKind::usage, "connector {}: invalid environment name (1-32 of a-z, 0-9, '_', '-')", spec.name);
  }
  driver_for(spec.kind).validate(spec);
  if (!spec.auth_secret.empty()) {
    const auto [env, name] = split_secret_name(spec.auth_secret);
    if (env != spec.env) {
      fail(ErrorKind::usage, "connector {}: --auth-secret {} belongs to {}, not {} (environments never mix)", spec.name,
           spec.auth_secret, env, spec.env);
    }
  }
  if (spec.timeout < 1 || spec.timeout > 86400) {
    fail(ErrorKind::usage, "connector {}: --timeout must be 1 to 86400 seconds", spec.name);
  }
  for (const std::string* text : {&spec.update, &spec.verify, &spec.instructions}) {
    if (text->find('\0') != std::string::npos || !canonical::valid_utf8(*text) || text->size() > 4096) {
      fail(ErrorKind::usage, "connector {}: commands and instructions must be UTF-8 text under 4 KiB without NUL",
           spec.name);
    }
  }
}

} // namespace escrow::connector
