// escrow share | unshare ENV/NAME --with MEMBER (the owner; lib/escrow/secrets.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/secrets.hpp>

namespace escrow::cli {

namespace {

struct ShareOptions
{
  std::string name;
  std::string with;
};

void run_share(const ShareOptions& options, Context& context, bool share)
{
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string full_name = env + "/" + short_name;
  Session session = context.open(Mode::write);
  if (share) {
    share_secret(session, full_name, options.with);
  } else {
    unshare_secret(session, full_name, options.with);
  }
  if (context.json()) {
    context.emit(Json{{"secret", full_name}, {"member", options.with}, {"shared", share}});
    return;
  }
  if (share) {
    context.say(fmt::format("shared {} with {}", full_name, options.with));
  } else {
    context.say(fmt::format("unshared {} from {}; it is now due for rotation (escrow rotate {})", full_name,
                            options.with, full_name));
  }
}

} // namespace

void setup_share(CLI::App& app, Context& context)
{
  auto share_options = std::make_shared<ShareOptions>();
  auto* share = app.add_subcommand("share", "give a member standing access (owner only; journaled)");
  share->add_option("name", share_options->name, "ENV/NAME")->required();
  share->add_option("--with", share_options->with, "member")->required();
  share->callback([share_options, &context] { run_share(*share_options, context, true); });

  auto unshare_options = std::make_shared<ShareOptions>();
  auto* unshare = app.add_subcommand("unshare", "end a member's standing access; the secret becomes due for rotation");
  unshare->add_option("name", unshare_options->name, "ENV/NAME")->required();
  unshare->add_option("--with", unshare_options->with, "member")->required();
  unshare->callback([unshare_options, &context] { run_share(*unshare_options, context, false); });
}

} // namespace escrow::cli
