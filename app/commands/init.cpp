// escrow init
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/git/team.hpp>
#include <escrow/history/roster.hpp>
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
  history::VaultSession session = history::init_vault(context.vault_session_options());
  const PublicIdentity& me = session.identity().pub;
  const history::VaultPaths& paths = session.paths();
  const std::string vault_id = canonical::b64(session.vault_id());
  // Inside a git work tree, the clone is set up for the team at once (docs/TEAM.md).
  const std::optional<git::SetupReport> setup = git::setup_vault_if_in_work_tree(paths.head);
  if (context.json()) {
    context.emit(Json{{"vault", paths.head.string()},
                      {"git_setup", setup ? Json(setup->changed) : Json(nullptr)},
                      {"journal", paths.journal.string()},
                      {"keys", paths.keys.string()},
                      {"vault_id", vault_id},
                      {"admin", me.name},
                      {"fingerprint", me.fingerprint()}});
    return;
  }
  context.say(fmt::format("created {} (vault id {}), {} and {}", paths.head.string(), vault_id, paths.journal.string(),
                          paths.keys.string()));
  context.say(fmt::format("{} ({}) is the genesis admin", me.name, me.fingerprint()));
  for (const auto& line : setup ? setup->changed : std::vector<std::string>{}) {
    context.say("set " + line);
  }
  context.say(setup ? "commit escrow.vault, escrow.journal, escrow.keys, .gitattributes and .gitignore; add members "
                      "with: escrow member add PUBFILE --role ROLE --env ENV"
                    : "commit the three files to git; add members with: escrow member add PUBFILE --role ROLE --env ENV");
}

} // namespace

void setup_init(CLI::App& app, Context& context)
{
  auto* init = app.add_subcommand("init", "create a new vault (escrow-vault/2: head, journal, keys); you become its genesis admin");
  init->callback([&context] { run_init(context); });
}

} // namespace escrow::cli
