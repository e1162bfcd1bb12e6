// The command kind: escrow runs the connector's "update" and "verify" shell commands itself.
#include <escrow/connectors/kinds.hpp>
#include <escrow/error.hpp>

namespace escrow::connector {

namespace {

class CommandDriver final : public Driver
{
public:
  ConnectorKind kind() const override { return ConnectorKind::command; }

  bool pushes() const override { return true; }

  void validate(const Spec& spec) const override
  {
    check_settings(spec, {Setting::update, Setting::verify, Setting::instructions});
    if (spec.update.empty() || spec.verify.empty()) {
      fail(ErrorKind::usage, "connector {}: a command connector needs --update CMD and --verify CMD (or use --manual)",
           spec.name);
    }
  }

  StepResult run(const ConnectorRecord& connector,
                 Step step,
                 const Invocation& invocation,
                 const SecretBytes& value,
                 const Redactor& redactor) const override
  {
    const std::string& command = step == Step::update ? connector.update : connector.verify;
    return run_shell_step(connector, command, step, invocation, value, redactor);
  }

  std::string describe(const ConnectorRecord& connector) const override { return one_line(connector.update, 60); }

  bool verifies(const ConnectorRecord& connector) const override
  {
    return !connector.verify.empty();
  }
};

} // namespace

const Driver& command_driver()
{
  static const CommandDriver k_driver;
  return k_driver;
}

} // namespace escrow::connector
