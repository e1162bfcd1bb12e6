// connectors: the registry hands out one driver per kind, each driver keeps its kind's rules
// (what a spec needs, whether escrow pushes the value, which steps run a command), and
// validate() checks the common rules before the kind's.
#include "foundation_support.hpp"

#include <escrow/connectors/connector.hpp>
#include <escrow/connectors/kinds.hpp>

#include <set>

using namespace escrow;
using escrow::test::require_error;

namespace {

ConnectorRecord record_of(ConnectorKind kind, std::string update, std::string verify)
{
  ConnectorRecord record;
  record.name = "crm";
  record.env = "prod";
  record.kind = kind;
  record.update = std::move(update);
  record.verify = std::move(verify);
  record.instructions = "paste it into the CRM admin page\nunder Settings";
  record.timeout = 5;
  return record;
}

connector::Spec spec_of(ConnectorKind kind, std::string update, std::string verify)
{
  connector::Spec spec;
  spec.name = "crm";
  spec.env = "prod";
  spec.kind = kind;
  spec.update = std::move(update);
  spec.verify = std::move(verify);
  return spec;
}

connector::StepResult run(const ConnectorRecord& record, connector::Step step, const SecretBytes& value)
{
  Redactor redactor;
  redactor.add("prod/db@v2", value);
  const connector::Invocation invocation{"prod/db", "prod", 2, 1, connector::Action::rotate};
  return connector::run_step(record, step, invocation, value, redactor);
}

} // namespace

TEST_CASE("connectors: every kind has exactly one driver, which says its kind", "[connector]")
{
  std::set<const connector::Driver*> drivers;
  for (const ConnectorKind kind : k_connector_kinds) {
    const connector::Driver& driver = connector::driver_for(kind);
    CHECK(driver.kind() == kind);
    CHECK(drivers.insert(&driver).second);
  }
  CHECK(&connector::driver_for(ConnectorKind::command) == &connector::command_driver());
  CHECK(&connector::driver_for(ConnectorKind::manual) == &connector::manual_driver());
  const ConnectorRecord record = record_of(ConnectorKind::manual, "", "");
  CHECK(&connector::driver_for(record) == &connector::manual_driver());
  // Rotation asks the driver, never the kind: escrow pushes to command connectors only.
  CHECK(connector::driver_for(ConnectorKind::command).pushes());
  CHECK_FALSE(connector::driver_for(ConnectorKind::manual).pushes());
}

TEST_CASE("connectors: validate checks the common rules, then the kind's", "[connector]")
{
  connector::validate(spec_of(ConnectorKind::command, "./update", "./verify"));
  connector::validate(spec_of(ConnectorKind::manual, "", ""));
  connector::validate(spec_of(ConnectorKind::manual, "", "./check"));
  CHECK(require_error(ErrorKind::usage, [] { connector::validate(spec_of(ConnectorKind::command, "./update", "")); })
        == "connector crm: a command connector needs --update CMD and --verify CMD (or use --manual)");
  CHECK(require_error(ErrorKind::usage, [] { connector::validate(spec_of(ConnectorKind::manual, "./update", "")); })
        == "connector crm: a manual connector has no --update command (a person pastes the value)");
  // The name and environment come first, whatever the kind.
  connector::Spec bad_env = spec_of(ConnectorKind::command, "", "");
  bad_env.env = "Prod";
  CHECK_THAT(require_error(ErrorKind::usage, [&] { connector::validate(bad_env); }),
             Catch::Contains("invalid environment name"));
  connector::Spec bad_timeout = spec_of(ConnectorKind::manual, "", "");
  bad_timeout.timeout = 0;
  CHECK_THAT(require_error(ErrorKind::usage, [&] { connector::validate(bad_timeout); }),
             Catch::Contains("--timeout must be 1 to 86400 seconds"));
}

TEST_CASE("connectors: the command driver runs update and verify with the value on stdin", "[connector]")
{
  const SecretBytes value = SecretBytes::from("n3w-value");
  const ConnectorRecord record =
    record_of(ConnectorKind::command, "test \"$(cat)\" = n3w-value && test \"$ESCROW_STEP\" = update",
              "v=$(cat); test \"$ESCROW_STEP\" = verify || exit 9; echo \"got $v\"; exit 4");
  const auto update = run(record, connector::Step::update, value);
  CHECK(update.ok);
  CHECK(update.exit_code == 0);
  const auto verify = run(record, connector::Step::verify, value);
  CHECK_FALSE(verify.ok);
  CHECK(verify.exit_code == 4);
  CHECK(verify.output == "got <redacted:prod/db@v2>");
  CHECK(connector::driver_for(record).describe(record) == connector::one_line(record.update, 60));
}

TEST_CASE("connectors: the manual driver pushes nothing and runs only its verify command", "[connector]")
{
  const SecretBytes value = SecretBytes::from("pasted");
  ConnectorRecord record = record_of(ConnectorKind::manual, "", "");
  const auto update = run(record, connector::Step::update, value);
  CHECK(update.ok);
  CHECK(update.exit_code == 0);
  CHECK(update.output.empty());
  CHECK(run(record, connector::Step::verify, value).ok); // no verify command: nothing can fail
  record.verify = "test \"$(cat)\" = something-else";
  const auto verify = run(record, connector::Step::verify, value);
  CHECK_FALSE(verify.ok);
  CHECK(verify.exit_code == 1);
  CHECK(connector::driver_for(record).describe(record) == "paste it into the CRM admin page | under Settings");
}
