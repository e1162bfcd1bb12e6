// escrow share | unshare ENV/NAME --with MEMBER (the owner; lib/escrow/history/secrets.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/records.hpp>

namespace escrow::cli {

namespace {

struct ShareOptions
{
  std::string name;
  std::string with;
};

// NAME, or 'ENV/*': every active secret of ENV you own, shared in one operation.
void run_share(const ShareOptions& options, Context& context, bool share)
{
  std::string target;
  if (share && options.name.size() > 2 && options.name.substr(options.name.size() - 2) == "/*") {
    const std::string env = options.name.substr(0, options.name.size() - 2);
    if (!valid_env_name(env)) {
      fail(ErrorKind::usage, "share: invalid environment in \"{}\" (ENV/NAME or 'ENV/*')", options.name);
    }
    target = options.name;
  } else {
    const auto [env, short_name] = split_secret_name(options.name);
    target = env + "/" + short_name;
  }
  history::VaultSession session = context.open_v2(history::Access::write);
  if (share) {
    const std::vector<std::string> shared = history::share(session, target, options.with);
    context.warn(session.warnings());
    context.emit_or_say(Json{{"secret", target}, {"secrets", shared}, {"member", options.with}, {"shared", true}},
                        shared.size() == 1 && shared.front() == target
                          ? fmt::format("shared {} with {}", target, options.with)
                          : fmt::format("shared {} secrets of {} with {}", shared.size(), target, options.with));
    return;
  }
  const bool due = history::unshare(session, target, options.with);
  context.warn(session.warnings());
  context.emit_or_say(Json{{"secret", target}, {"member", options.with}, {"shared", false}, {"due", due}},
                      due ? fmt::format("unshared {} from {}; it is now due for rotation (escrow rotate {})", target,
                                        options.with, target)
                          : fmt::format("unshared {} from {}", target, options.with));
}

} // namespace

void setup_share(CLI::App& app, Context& context)
{
  auto share_options = std::make_shared<ShareOptions>();
  auto* share = app.add_subcommand("share", "give a member standing access (owner only; journaled)");
  share->add_option("name", share_options->name, "ENV/NAME, or 'ENV/*' for every secret of ENV you own")->required();
  share->add_option("--with", share_options->with, "member")->required();
  share->callback([share_options, &context] { run_share(*share_options, context, true); });

  auto unshare_options = std::make_shared<ShareOptions>();
  auto* unshare = app.add_subcommand("unshare", "end a member's standing access; the secret becomes due for rotation");
  unshare->add_option("name", unshare_options->name, "ENV/NAME")->required();
  unshare->add_option("--with", unshare_options->with, "member")->required();
  unshare->callback([unshare_options, &context] { run_share(*unshare_options, context, false); });
}

} // namespace escrow::cli
