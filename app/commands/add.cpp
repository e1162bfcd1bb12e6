// escrow add ENV/NAME --purpose ... (the value from stdin or --generate; lib/escrow/secrets.hpp)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/generator.hpp>
#include <escrow/history/secrets.hpp>

namespace escrow::cli {

namespace {

struct AddOptions
{
  std::string name;
  std::string owner;
  std::string purpose;
  std::vector<std::string> connectors;
  std::string custodians;
  std::int64_t threshold = 0;
  std::string every;
  std::string generate;
  std::string tier = "standard";
  bool after_access = false;
  bool escrow_only = false;
};

void run_add(const AddOptions& options, Context& context)
{
  history::SecretSpec spec;
  spec.name = options.name;
  spec.owner = options.owner;
  spec.purpose = options.purpose;
  spec.tier = options.tier;
  spec.connectors = options.connectors;
  spec.custodians = split_list(options.custodians);
  spec.threshold = options.threshold;
  spec.after_access = options.after_access;
  spec.escrow_only = options.escrow_only;
  spec.generator = options.generate;
  if (!options.every.empty()) {
    spec.every = parse_duration_option(options.every, "add: --every");
  }
  history::check_secret_spec(spec);
  // The value is read before the lock is taken: a person typing it must not block the team.
  const SecretBytes value = !spec.generator.empty()
                              ? generate_random(parse_generator(spec.generator))
                              : context.read_value("Value (hidden): ", "Repeat value: ", "add");
  if (value.empty()) {
    fail(ErrorKind::usage, "add: the value is empty");
  }
  history::VaultSession session = context.open_v2(history::Access::write);
  const history::Secret& secret = history::add_secret(session, spec, value);
  context.warn(session.warnings());
  const std::int64_t every = history::cadence(session.state(), secret);
  if (secret.connectors.empty() && !secret.escrow_only && every > 0) {
    // No silent breakage (docs/CONNECTORS.md): rotate --due will not rotate it as it stands.
    context.note(fmt::format("warning: {} rotates every {} but has no connector, so no system would get a new value: "
                             "rotate --due will report it as needing one. Bind it (escrow connect {} CONNECTOR)",
                             secret.name, format_duration(every), secret.name));
  }
  if (context.json()) {
    context.emit(secret_summary(session.state(), secret, session.now()));
    return;
  }
  context.say(fmt::format("added {} v1 (owner {}{})", secret.name, secret.owner,
                          secret.custodians.empty()
                            ? ""
                            : fmt::format(", {} of {} custodians", secret.threshold, secret.custodians.size())));
}

} // namespace

void setup_add(CLI::App& app, Context& context)
{
  auto options = std::make_shared<AddOptions>();
  auto* add = app.add_subcommand("add", "add a secret; the value comes from stdin (never argv) or --generate");
  add->add_option("name", options->name, "ENV/NAME, e.g. prod/stripe-key")->required();
  add->add_option("--owner", options->owner, "the member accountable for it (default: you)");
  add->add_option("--purpose", options->purpose, "what it is for")->required();
  add->add_option("--connector", options->connectors, "a connector that uses it (repeatable)");
  add->add_option("--custodians", options->custodians, "members who approve access, comma-separated");
  add->add_option("--threshold", options->threshold, "approvals needed (k of the n custodians)");
  add->add_option("--every", options->every, "rotation cadence, e.g. 30d");
  add->add_option("--generate", options->generate, "generate the value: len=N,alphabet=base62|base64url|hex|ascii");
  add->add_option("--tier", options->tier, "a label for policy and reports (default: standard)");
  add->add_flag("--after-access", options->after_access, "rotate as soon as a grant to it is used");
  add->add_flag("--escrow-only", options->escrow_only,
                "it lives only in escrow (consumed through exec/get): rotate --due rotates it with no connector");
  add->callback([options, &context] { run_add(*options, context); });
}

} // namespace escrow::cli
