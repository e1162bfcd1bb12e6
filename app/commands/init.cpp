// escrow init
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/locate.hpp>

namespace escrow::cli {

namespace {

void run_init(Context& context)
{
  const SessionOptions options = context.session_options();
  if (context.vault_unnamed() && options.vault_path != k_default_vault_name) {
    throw Error(ErrorKind::usage,
                fmt::format("{}: this git work tree already has a vault; refusing to create a second one",
                            options.vault_path.string()))
      .hint("escrow finds that vault from any folder of the work tree; to create another one anyway, name it: "
            "escrow --vault PATH init");
  }
  Session session = create_vault(options);
  const Vault& vault = session.vault();
  if (context.json()) {
    context.emit(Json{{"vault", session.vault_path().string()},
                      {"journal", session.journal().path().string()},
                      {"vault_id", vault.id_b64()},
                      {"admin", session.identity().pub.name},
                      {"fingerprint", session.identity().pub.fingerprint()}});
    return;
  }
  context.say(fmt::format("created {} (vault id {}) and {}", session.vault_path().string(), vault.id_b64(),
                          session.journal().path().string()));
  context.say(fmt::format("{} ({}) is the genesis admin", session.identity().pub.name,
                          session.identity().pub.fingerprint()));
  context.say("commit both files to git; add members with: escrow member add PUBFILE --role ROLE --env ENV");
}

} // namespace

void setup_init(CLI::App& app, Context& context)
{
  auto* init = app.add_subcommand("init", "create a new vault and journal; you become its genesis admin");
  init->callback([&context] { run_init(context); });
}

} // namespace escrow::cli
