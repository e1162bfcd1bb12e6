// escrow approve ENV/NAME ID: re-seal your share to the requester (lib/escrow/history/requests.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/history/requests.hpp>
#include <escrow/records.hpp>

namespace escrow::cli {

namespace {

struct ApproveOptions
{
  std::string name;
  std::string id;
  std::string why;
};

void run_approve(const ApproveOptions& options, Context& context)
{
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string full_name = env + "/" + short_name;
  history::VaultSession session = context.open_v2(history::Access::write);
  const history::Approval result = history::approve(session, full_name, options.id);
  context.warn(session.warnings());
  if (context.json()) {
    context.emit(Json{{"secret", full_name},
                      {"id", options.id},
                      {"requester", result.requester},
                      {"version", result.v},
                      {"approvals", result.approvals},
                      {"threshold", result.threshold},
                      {"granted", result.granted()},
                      {"expires_at", format_time(result.until)}});
    return;
  }
  context.say(fmt::format("approved request {} by {} for {} v{} (\"{}\"): {} of {} approvals", options.id,
                          result.requester, full_name, result.v, result.why, result.approvals, result.threshold));
  if (result.granted()) {
    context.say(fmt::format("{} can now read {} until {}", result.requester, full_name, format_time(result.until)));
  }
}

} // namespace

void setup_approve(CLI::App& app, Context& context)
{
  auto approve_options = std::make_shared<ApproveOptions>();
  auto* approve = app.add_subcommand("approve", "approve a request: re-seal your share to the requester (custodians)");
  approve->add_option("name", approve_options->name, "ENV/NAME")->required();
  approve->add_option("id", approve_options->id, "the request id")->required();
  approve->callback([approve_options, &context] { run_approve(*approve_options, context); });

}

} // namespace escrow::cli
