// escrow identity new | show
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/identity.hpp>
#include <escrow/session_options.hpp>

namespace escrow::cli {

namespace fs = std::filesystem;

namespace {

struct NewOptions
{
  std::string name;
  bool no_passphrase = false;
  std::string out;
  std::string kdf = "interactive";
  bool print = false;
};

struct ShowOptions
{
  bool as_public = false;
};

std::optional<SecretBytes> new_passphrase(Context& context, const SessionOptions& session)
{
  if (!context.env("ESCROW_PASSPHRASE_FILE").empty()) {
    return session.passphrase("");
  }
  auto first = context.read_hidden_line("New passphrase: ");
  if (!first) {
    return std::nullopt;
  }
  auto second = context.read_hidden_line("Repeat passphrase: ");
  if (!second || !first->equals(*second)) {
    fail(ErrorKind::usage, "the passphrases do not match");
  }
  return first;
}

void run_new(const NewOptions& options, Context& context)
{
  const SessionOptions session = context.session_options();
  Identity identity = generate_identity(options.name);
  std::optional<SecretBytes> passphrase;
  if (!options.no_passphrase) {
    passphrase = new_passphrase(context, session);
    if (!passphrase) {
      throw Error(ErrorKind::usage, "identity new: no terminal to ask for a passphrase")
        .hint("set ESCROW_PASSPHRASE_FILE, or pass --no-passphrase for a CI identity");
    }
    if (passphrase->empty()) {
      fail(ErrorKind::usage, "identity new: the passphrase is empty (use --no-passphrase for a CI identity)");
    }
  }
  const fs::path path = !options.out.empty()             ? fs::path(options.out)
                        : !context.global.identity.empty() ? fs::path(context.global.identity)
                                                           : context.default_identity_path();
  write_identity_file(path, identity, options.no_passphrase ? Protection::none : Protection::passphrase,
                      passphrase ? &*passphrase : nullptr, identity_kdf(options.kdf, context.kdf_fast()));
  if (context.json()) {
    context.emit(Json{{"name", identity.pub.name},
                      {"fingerprint", identity.pub.fingerprint()},
                      {"path", path.string()},
                      {"passphrase", !options.no_passphrase},
                      {"public", identity.pub.to_json()}});
    return;
  }
  context.say(fmt::format("created identity {} ({})", identity.pub.name, identity.pub.fingerprint()));
  context.say(fmt::format("  private keys: {} (0600{})", path.string(),
                          options.no_passphrase ? ", NOT passphrase-protected: for CI only" : ", passphrase-protected"));
  context.say("  hand your public identity to an admin: escrow identity show --public > " + identity.pub.name + ".pub.json");
}

void run_show(const ShowOptions& options, Context& context)
{
  const SessionOptions session = context.session_options();
  const std::string what = identity_source(session);
  const IdentityInfo info = inspect_identity(session);
  if (info.group_readable) {
    context.note(fmt::format("warning: {} is readable by other users; run chmod 600 on it", what));
  }
  const PublicIdentity& pub = info.pub;
  if (options.as_public) {
    context.out() << canonical::dump_pretty(pub.to_json()) << '\n';
    return;
  }
  if (context.json()) {
    context.emit(Json{{"name", pub.name}, {"fingerprint", pub.fingerprint()}, {"path", what}, {"passphrase", info.passphrase}});
    return;
  }
  context.say(fmt::format("name:        {}", pub.name));
  context.say(fmt::format("fingerprint: {}", pub.fingerprint()));
  context.say(fmt::format("file:        {}{}", what, info.passphrase ? "" : " (no passphrase)"));
}

} // namespace

void setup_identity(CLI::App& app, Context& context)
{
  auto* identity = app.add_subcommand("identity", "create or show your identity (signing and sealing keys)");
  identity->require_subcommand(1);

  auto new_options = std::make_shared<NewOptions>();
  auto* make = identity->add_subcommand("new", "create an identity file (mode 0600, never overwritten)");
  make->add_option("--name", new_options->name, "your member name (letters, digits, '.', '_', '-')")->required();
  make->add_flag("--no-passphrase", new_options->no_passphrase,
                 "store the keys unencrypted: for CI identities only (pass them in ESCROW_IDENTITY_DATA)");
  make->add_option("--out", new_options->out, "where to write it (default: the identity path)");
  make->add_option("--kdf", new_options->kdf, "Argon2id strength: interactive (default), moderate, sensitive")
    ->check(CLI::IsMember({"interactive", "moderate", "sensitive"}));
  make->callback([new_options, &context] { run_new(*new_options, context); });

  auto show_options = std::make_shared<ShowOptions>();
  auto* show = identity->add_subcommand("show", "print your name and fingerprint");
  show->add_flag("--public", show_options->as_public, "print the public identity JSON to hand to an admin");
  show->callback([show_options, &context] { run_show(*show_options, context); });
}

} // namespace escrow::cli
