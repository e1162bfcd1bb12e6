// connectors/alternation: which of a postgres connector's two roles a slot stands for, and how
// the consumers are told (ESCROW_ROLE for a command, {{role}} in an http template). The real
// rotations against PostgreSQL are the integration suite's (tests/integration/test_nocode.sh).
#include "foundation_support.hpp"

#include <escrow/connectors/connector.hpp>
#include <escrow/connectors/template.hpp>

using namespace escrow;

TEST_CASE("alternating roles: slot 0 is --role, slot 1 --alternate-role", "[connector][alternation]")
{
  // Which slot a version has (the versions before it that did not fail, modulo 2) is the v2
  // engine's (rotation/v2.cpp: slot_of), exercised against PostgreSQL by tests/integration/test_nocode.sh.
  ConnectorRecord pg;
  pg.kind = ConnectorKind::postgres;
  pg.role = "app_blue";
  CHECK(connector::role_for_slot(pg, 0) == "app_blue");
  CHECK(connector::role_for_slot(pg, 1) == "app_blue"); // one role: always it
  pg.alternate_role = "app_green";
  CHECK(connector::role_for_slot(pg, 0) == "app_blue");
  CHECK(connector::role_for_slot(pg, 1) == "app_green");
}

TEST_CASE("alternating roles: a command connector gets ESCROW_ROLE, an http template {{role}}", "[connector][alternation]")
{
  ConnectorRecord record;
  record.name = "consumer";
  record.env = "prod";
  record.kind = ConnectorKind::command;
  record.update = "printf 'role=%s' \"$ESCROW_ROLE\"";
  record.timeout = 5;
  const SecretBytes value = SecretBytes::from("n3w");
  Redactor redactor;
  redactor.add("prod/db@v2", value);
  connector::Invocation invocation{"prod/db", "prod", 2, 1, connector::Action::rotate};
  CHECK(connector::run_step(record, connector::Step::update, invocation, value, redactor).output == "role=");
  invocation.role = "app_green";
  CHECK(connector::run_step(record, connector::Step::update, invocation, value, redactor).output == "role=app_green");

  const auto parts = connector::parse_template("{\"user\": \"{{role}}\", \"password\": \"{{value}}\"}", "body");
  CHECK(connector::uses(parts, connector::Placeholder::role));
  connector::SecretWriter out;
  std::string refused;
  REQUIRE(connector::render(parts, &value, nullptr, connector::Escape::json, out, refused, "app_\"green"));
  CHECK(out.take().expose_view() == std::string_view("{\"user\": \"app_\\\"green\", \"password\": \"n3w\"}"));
  REQUIRE(connector::render(parts, &value, nullptr, connector::Escape::json, out, refused));
  CHECK(out.take().expose_view() == std::string_view("{\"user\": \"\", \"password\": \"n3w\"}"));
}

TEST_CASE("alternating roles: connector add checks --alternate-role", "[connector][alternation]")
{
  connector::Spec spec;
  spec.name = "db";
  spec.env = "prod";
  spec.kind = ConnectorKind::postgres;
  spec.conninfo = "host=127.0.0.1 dbname=app user=admin";
  spec.role = "app_blue";
  spec.alternate_role = "app_green";
  connector::validate(spec);
  const ConnectorRecord record = connector::record_of(spec);
  CHECK(record.alternate_role == "app_green");
  CHECK(connector::settings_of(record)["alternate_role"] == "app_green");
  CHECK(connector::driver_for(record).describe(record) == connector::one_line("roles app_blue/app_green (alternating) via host=127.0.0.1 dbname=app user=admin", 60));
  spec.alternate_role = "app_blue";
  CHECK(escrow::test::require_error(ErrorKind::usage, [&] { connector::validate(spec); })
        == "connector db: --alternate-role must name another role than --role");
  spec.alternate_role = std::string(64, 'r');
  CHECK(escrow::test::require_error(ErrorKind::usage, [&] { connector::validate(spec); })
        == "connector db: --alternate-role must be UTF-8 text of at most 63 bytes without control characters");
  spec.kind = ConnectorKind::mysql;
  spec.role.clear();
  spec.db_user = "app";
  spec.alternate_role = "x";
  CHECK(escrow::test::require_error(ErrorKind::usage, [&] { connector::validate(spec); })
        == "connector db: --alternate-role does not apply to mysql connectors");
}
