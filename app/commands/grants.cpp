// escrow grants: your requests, grants and what awaits your approval (lib/escrow/history/requests.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/history/requests.hpp>

#include <escrow/util/escape.hpp>
#include <escrow/util/text.hpp>

namespace escrow::cli {

namespace {

Json item_json(const history::GrantsItem& item)
{
  const history::RequestOf& request = *item.request;
  Json json{{"secret", item.secret},
            {"id", item.id},
            {"by", request.by},
            {"why", request.why},
            {"state", std::string(history::request_phase_name(item.phase))},
            {"approvals", item.approvals},
            {"threshold", item.threshold},
            {"created_at", format_time(request.created_at)},
            {"expires_at", format_time(request.until)},
            {"carried", item.carried}};
  if (request.used_at) {
    json["used_at"] = format_time(*request.used_at);
  }
  if (request.denial) {
    json["denied_by"] = request.denial->by;
    json["denial_why"] = request.denial->why;
  }
  return json;
}

// A read of the state; the identity names the member.
void run_grants(Context& context)
{
  history::VaultSession session = context.open_v2(history::Access::read);
  const std::string me = session.me().name;
  const Timestamp now = session.now();
  const history::GrantsOverview overview = history::grants_overview(session.state(), me, now);
  if (context.json()) {
    const auto list = [](const std::vector<history::GrantsItem>& items) {
      Json out = Json::array();
      for (const auto& item : items) {
        out.push_back(item_json(item));
      }
      return out;
    };
    context.emit(Json{{"member", me},
                      {"now", format_time(now)},
                      {"pending", list(overview.pending)},
                      {"grants", list(overview.grants)},
                      {"closed", list(overview.closed)},
                      {"awaiting", list(overview.awaiting)}});
    return;
  }
  if (context.quiet()) {
    return;
  }
  auto& out = context.out();
  const auto until = [&](const history::RequestOf& request) {
    return now < request.until ? format_time(request.until) + " (in " + describe_duration(request.until - now) + ")"
                               : format_time(request.until);
  };
  bool any = false;
  const auto section = [&](std::string_view title, const std::vector<std::string>& headers,
                           const std::vector<std::vector<std::string>>& rows) {
    if (rows.empty()) {
      return;
    }
    out << (any ? "\n" : "") << context.bold(util::escape_controls(title)) << '\n';
    print_table(out, context, headers, rows);
    any = true;
  };
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : overview.pending) {
    rows.push_back({item.id, item.secret, fmt::format("{} of {}", item.approvals, item.threshold), until(*item.request),
                    item.request->why});
  }
  section("your pending requests", {"ID", "SECRET", "APPROVALS", "EXPIRES", "WHY"}, rows);
  rows.clear();
  for (const auto& item : overview.grants) {
    std::string state = item.phase == history::RequestPhase::granted  ? "active"
                        : item.phase == history::RequestPhase::denied ? "revoked by " + item.request->denial->by
                        : item.phase == history::RequestPhase::voided ? std::string("void")
                                                                      : std::string("expired");
    if (item.carried && item.phase == history::RequestPhase::granted) {
      state += " (carried across rotation)";
    }
    rows.push_back({item.id, item.secret, state, until(*item.request),
                    item.request->used_at ? format_time(*item.request->used_at) : "-"});
  }
  section("your grants", {"ID", "SECRET", "STATE", "UNTIL", "USED"}, rows);
  rows.clear();
  for (const auto& item : overview.closed) {
    std::string state = item.request->denial ? fmt::format("denied by {}: {}", item.request->denial->by,
                                                           item.request->denial->why)
                        : item.phase == history::RequestPhase::voided ? std::string("void")
                                                                      : std::string("expired unapproved");
    rows.push_back({item.id, item.secret, state});
  }
  section("your closed requests", {"ID", "SECRET", "STATE"}, rows);
  rows.clear();
  for (const auto& item : overview.awaiting) {
    rows.push_back({item.id, item.secret, item.request->by, fmt::format("{} of {}", item.approvals, item.threshold),
                    until(*item.request), item.request->why});
  }
  section("awaiting your approval (escrow approve SECRET ID / escrow deny SECRET ID --why ...)",
          {"ID", "SECRET", "BY", "APPROVALS", "EXPIRES", "WHY"}, rows);
  if (!any) {
    out << "no requests, no grants, nothing awaits your approval\n";
  }
}

} // namespace

void setup_grants(CLI::App& app, Context& context)
{
  auto* grants = app.add_subcommand(
    "grants", "your pending requests, active and expired grants, and what awaits your approval");
  grants->callback([&context] { run_grants(context); });

}

} // namespace escrow::cli
