// escrow deny ENV/NAME ID --why W: close a request (lib/escrow/history/requests.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/history/requests.hpp>
#include <escrow/records.hpp>

namespace escrow::cli {

namespace {

struct DenyOptions
{
  std::string name;
  std::string id;
  std::string why;
};

void run_deny(const DenyOptions& options, Context& context)
{
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string full_name = env + "/" + short_name;
  if (options.why.empty()) {
    fail(ErrorKind::usage, "deny: a reason is required (--why \"...\")");
  }
  history::VaultSession session = context.open_v2(history::Access::write);
  const std::string requester = history::deny(session, full_name, options.id, options.why);
  context.warn(session.warnings());
  context.emit_or_say(Json{{"secret", full_name}, {"id", options.id}, {"requester", requester}, {"denied", true}},
                      fmt::format("denied request {} by {} for {}", options.id, requester, full_name));
}

} // namespace

void setup_deny(CLI::App& app, Context& context)
{
  auto deny_options = std::make_shared<DenyOptions>();
  auto* deny = app.add_subcommand("deny", "close a request with a reason (custodians, owner, admins, the requester)");
  deny->add_option("name", deny_options->name, "ENV/NAME")->required();
  deny->add_option("id", deny_options->id, "the request id")->required();
  deny->add_option("--why", deny_options->why, "the reason, shown to the requester and journaled")->required();
  deny->callback([deny_options, &context] { run_deny(*deny_options, context); });

}

} // namespace escrow::cli
