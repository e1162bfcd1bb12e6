// The manual kind: a platform with no API. A person pastes the value and confirms it
// (`escrow rotate --confirm ENV/NAME C`); an optional "verify" command checks the paste.
#include <escrow/connectors/kinds.hpp>
#include <escrow/error.hpp>

namespace escrow::connector {

namespace {

class ManualDriver final : public Driver
{
public:
  ConnectorKind kind() const override { return ConnectorKind::manual; }

  bool pushes() const override { return false; }

  void validate(const Spec& spec) const override
  {
    check_settings(spec, {Setting::update, Setting::verify, Setting::instructions});
    if (!spec.update.empty()) {
      fail(ErrorKind::usage, "connector {}: a manual connector has no --update command (a person pastes the value)",
           spec.name);
    }
  }

  StepResult run(const ConnectorRecord& connector,
                 Step step,
                 const Invocation& invocation,
                 const SecretBytes& value,
                 const Redactor& redactor) const override
  {
    // Nothing to push: a person did. Only the optional verify command runs; an update (or a
    // verify without a command) succeeds without running anything.
    const std::string& command = step == Step::verify ? connector.verify : connector.update;
    return run_shell_step(connector, command, step, invocation, value, redactor);
  }

  std::string describe(const ConnectorRecord& connector) const override
  {
    return one_line(connector.instructions, 60);
  }

  bool verifies(const ConnectorRecord& connector) const override
  {
    return !connector.verify.empty();
  }
};

} // namespace

const Driver& manual_driver()
{
  static const ManualDriver k_driver;
  return k_driver;
}

} // namespace escrow::connector
