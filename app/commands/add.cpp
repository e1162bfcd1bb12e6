// escrow add ENV/NAME --purpose ... (the value from stdin or --generate; lib/escrow/history/secrets.hpp)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/generator.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/records.hpp>

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
  bool no_after_access = false;
  bool escrow_only = false;
  bool update = false;
};

// escrow add ENV/NAME --update [--owner N] [--purpose T] [--tier T] [--connector C]... [--every D]
// [--generate SPEC] [--after-access | --no-after-access]: secret-set of the options given.
void run_update(const AddOptions& options, const CLI::App& add, Context& context)
{
  if (add.count("--custodians") > 0 || add.count("--threshold") > 0) {
    throw Error(ErrorKind::usage, "add --update: the custodians are changed by their own command")
      .hint(fmt::format("escrow custodians {} --custodians a,b,c --threshold K", options.name));
  }
  if (options.after_access && options.no_after_access) {
    fail(ErrorKind::usage, "add --update: --after-access and --no-after-access exclude each other");
  }
  history::SecretUpdate update;
  const auto [env, short_name] = split_secret_name(options.name);
  update.name = env + "/" + short_name;
  if (add.count("--owner") > 0) {
    update.owner = options.owner;
  }
  if (add.count("--purpose") > 0) {
    update.purpose = options.purpose;
  }
  if (add.count("--tier") > 0) {
    update.tier = options.tier;
  }
  if (add.count("--connector") > 0) {
    update.connectors = options.connectors;
  }
  if (add.count("--every") > 0) {
    update.every = parse_duration_option(options.every, "add: --every");
  }
  if (add.count("--generate") > 0) {
    update.generator = options.generate;
  }
  if (options.after_access || options.no_after_access) {
    update.after_access = options.after_access;
  }
  if (options.escrow_only) {
    update.escrow_only = true;
  }
  history::check_secret_update(update);
  history::VaultSession session = context.open_v2(history::Access::write);
  const history::Secret& secret = history::update_secret(session, update);
  context.warn(session.warnings());
  if (context.json()) {
    context.emit(secret_summary(session.state(), secret, session.now()));
    return;
  }
  context.say(fmt::format("updated {} (owner {})", secret.name, secret.owner));
}

void run_add(const AddOptions& options, const CLI::App& add, Context& context)
{
  if (options.update) {
    run_update(options, add, context);
    return;
  }
  if (options.no_after_access) {
    fail(ErrorKind::usage, "add: --no-after-access needs --update");
  }
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
  add->add_option("--purpose", options->purpose, "what it is for (required, except with --update)");
  add->add_option("--connector", options->connectors, "a connector that uses it (repeatable)");
  add->add_option("--custodians", options->custodians, "members who approve access, comma-separated");
  add->add_option("--threshold", options->threshold, "approvals needed (k of the n custodians)");
  add->add_option("--every", options->every, "rotation cadence, e.g. 30d");
  add->add_option("--generate", options->generate, "generate the value: len=N,alphabet=base62|base64url|hex|ascii");
  add->add_option("--tier", options->tier, "a label for policy and reports (default: standard)");
  add->add_flag("--after-access", options->after_access, "rotate as soon as a grant to it is used");
  add->add_flag("--escrow-only", options->escrow_only,
                "it lives only in escrow (consumed through exec/get): rotate --due rotates it with no connector");
  add->add_flag("--no-after-access", options->no_after_access, "with --update: no longer rotate after a grant is used");
  add->add_flag("--update", options->update,
                "change an existing secret's owner, purpose, tier, connectors, cadence, generator or after-access "
                "(no value is read)");
  add->callback([options, add, &context] { run_add(*options, *add, context); });
}

} // namespace escrow::cli
