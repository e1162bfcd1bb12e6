// escrow request ENV/NAME --ttl T --why W: ask the custodians (DESIGN §4; lib/escrow/history/requests.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/history/requests.hpp>
#include <escrow/records.hpp>

#include <escrow/util/text.hpp>

namespace escrow::cli {

namespace {

struct RequestOptions
{
  std::string name;
  std::string ttl;
  std::string why;
};

void run_request(const RequestOptions& options, Context& context)
{
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string full_name = env + "/" + short_name;
  const std::optional<std::int64_t> ttl = parse_duration_option(options.ttl, "request: --ttl");
  history::VaultSession session = context.open_v2(history::Access::write);
  (void)later_time(session.now(), *ttl, "request: --ttl"); // the grant must end by year 9999
  const history::Filed filed = history::file_request(session, full_name, *ttl, options.why);
  context.warn(session.warnings());
  const std::string me = session.me().name;
  if (context.json()) {
    context.emit(Json{{"id", filed.id},
                      {"secret", full_name},
                      {"by", me},
                      {"ttl", format_duration(*ttl)},
                      {"expires_at", format_time(filed.until)},
                      {"threshold", filed.threshold},
                      {"custodians", filed.custodians}});
    return;
  }
  // The id alone on stdout, so that scripts can capture it; the rest is for people.
  context.out() << filed.id << '\n';
  std::vector<std::string> approvers;
  for (const auto& custodian : filed.custodians) {
    if (custodian != me) {
      approvers.push_back(custodian);
    }
  }
  context.note(fmt::format("requested {} for {} (until {}); it needs {} approval(s) from: {}", full_name,
                           format_duration(*ttl), format_time(filed.until), filed.threshold, util::join(approvers)));
  context.note(fmt::format("each of them runs: escrow approve {} {}", full_name, filed.id));
}

} // namespace

void setup_request(CLI::App& app, Context& context)
{
  auto request_options = std::make_shared<RequestOptions>();
  auto* request = app.add_subcommand("request", "ask the custodians for time-limited access; prints the request id");
  request->add_option("name", request_options->name, "ENV/NAME")->required();
  request->add_option("--ttl", request_options->ttl, "how long the grant lasts, e.g. 4h (capped by policy)")->required();
  request->add_option("--why", request_options->why, "the justification custodians see (required by default policy)");
  request->footer("Custodians approve with 'escrow approve ENV/NAME ID'. With k approvals, 'escrow get --reveal'\n"
                  "and 'escrow exec' work for you until the grant expires. Journaled.");
  request->callback([request_options, &context] { run_request(*request_options, context); });

}

} // namespace escrow::cli
