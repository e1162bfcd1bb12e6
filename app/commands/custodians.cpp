// escrow custodians ENV/NAME --custodians a,b,c --threshold K | --none: custodians-set (the owner
// or an admin; lib/escrow/history/secrets.hpp). No key line is written: the next rotation splits
// the new value among them, so the secret becomes due.
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/records.hpp>

namespace escrow::cli {

namespace {

struct CustodiansOptions
{
  std::string name;
  std::string custodians;
  std::int64_t threshold = 0;
  bool none = false;
};

void run_custodians(const CustodiansOptions& options, const CLI::App& command, Context& context)
{
  if (options.none == (command.count("--custodians") > 0)) {
    fail(ErrorKind::usage, "custodians: give either --custodians a,b,c --threshold K or --none");
  }
  if (options.none && options.threshold != 0) {
    fail(ErrorKind::usage, "custodians: --none takes no --threshold");
  }
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string name = env + "/" + short_name;
  const std::vector<std::string> custodians = options.none ? std::vector<std::string>{} : split_list(options.custodians);
  if (!options.none && custodians.empty()) {
    fail(ErrorKind::usage, "custodians: --custodians is empty (use --none to remove escrow)");
  }
  history::check_custodians(custodians, options.threshold);
  history::VaultSession session = context.open_v2(history::Access::write);
  const history::Secret& secret = history::set_custodians(session, name, custodians, options.threshold);
  context.warn(session.warnings());
  std::vector<std::string> listed(secret.custodians.begin(), secret.custodians.end());
  context.emit_or_say(Json{{"secret", secret.name},
                           {"custodians", listed},
                           {"threshold", secret.threshold},
                           {"due", !secret.due.empty()}},
                      listed.empty()
                        ? fmt::format("{}: no custodians (no escrow); it is due for rotation (escrow rotate {})",
                                      secret.name, secret.name)
                        : fmt::format("{}: {} of {} custodians ({}); the next rotation splits the value among them "
                                      "(escrow rotate {})",
                                      secret.name, secret.threshold, listed.size(), fmt::join(listed, ", "),
                                      secret.name));
}

} // namespace

void setup_custodians(CLI::App& app, Context& context)
{
  auto options = std::make_shared<CustodiansOptions>();
  auto* command = app.add_subcommand(
    "custodians", "change who approves access to a secret (owner or admin; journaled; takes effect at the next rotation)");
  command->add_option("name", options->name, "ENV/NAME")->required();
  command->add_option("--custodians", options->custodians, "members who approve access, comma-separated");
  command->add_option("--threshold", options->threshold, "approvals needed (k of the n custodians)");
  command->add_flag("--none", options->none, "remove escrow: no custodians");
  command->callback([options, command, &context] { run_custodians(*options, *command, context); });
}

} // namespace escrow::cli
