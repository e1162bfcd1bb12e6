// escrow show ENV/NAME: one secret's metadata, versions and requests (never the value)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/util/escape.hpp>
#include <escrow/history/secrets.hpp>

#include <algorithm>
#include <sstream>

namespace escrow::cli {

namespace {

struct ShowOptions
{
  std::string name;
};

// A public read: no identity is loaded (the journal is readable by every member).
void run_show(const ShowOptions& options, Context& context)
{
  (void)split_secret_name(options.name); // usage errors before the session
  history::VaultSession session = context.open_v2(history::Access::read);
  const history::State& state = session.state();
  const history::Secret& secret = history::find_secret(state, options.name, "show");
  session.require_readable(secret.name, history::ReadKind::record); // an unresolved merge's conflict
  const Timestamp now = session.now();
  Json summary = secret_summary(state, secret, now);
  // Versions in v order.
  std::vector<const history::Version*> ordered;
  for (const auto& [vid, version] : secret.versions) {
    ordered.push_back(&version);
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) { return a->v < b->v; });
  Json versions = Json::array();
  for (const history::Version* version : ordered) {
    std::vector<std::string> readers;
    if (const history::Generation* gen = secret.generation_of(*version)) {
      for (const auto& [member, key] : gen->holders) {
        readers.push_back(member);
      }
    }
    versions.push_back(Json{{"v", version->v},
                            {"state", std::string(version_state_name(version->state))},
                            {"generation", version->gen},
                            {"created_at", format_time(version->created_at)},
                            {"created_by", version->created_by},
                            {"why", version->why},
                            {"readers", readers},
                            {"grants", version->grants.size()},
                            {"custodian_shares", version->shares.size()}});
  }
  summary["versions"] = versions;
  summary["shared_with"] = secret.shared_with;
  summary["created_at"] = format_time(secret.created_at);
  summary["generator"] = secret.generator;
  Json requests = Json::array();
  for (const auto& [id, request] : secret.requests) {
    const std::string state_name = request.denial ? "denied" : request.voided ? "void" : now >= request.until ? "expired" : "open";
    requests.push_back(Json{{"id", id},
                            {"by", request.by},
                            {"why", request.why},
                            {"state", state_name},
                            {"approvals", request.approvals.size()},
                            {"expires_at", format_time(request.until)}});
  }
  summary["requests"] = requests;
  if (context.json()) {
    context.emit(summary);
    return;
  }
  auto& out = context.out();
  if (context.quiet()) {
    return;
  }
  out << context.bold(util::escape_controls(secret.name)) << '\n';
  const auto field = [&](std::string_view label, const std::string& value) {
    out << fmt::format("  {:<12} {}\n", label, util::escape_controls(value));
  };
  field("purpose", secret.purpose);
  field("owner", secret.owner);
  field("environment", secret.env);
  field("tier", secret.tier);
  std::string connectors;
  for (const auto& c : secret.connectors) {
    connectors += connectors.empty() ? c : ", " + c;
  }
  field("connectors", !connectors.empty() ? connectors + (secret.connectors.size() > 1 ? " (in this order)" : "")
                                          : std::string(secret.escrow_only ? "- (escrow-only: lives only in escrow)" : "-"));
  std::string custodians;
  for (const auto& c : secret.custodians) {
    custodians += custodians.empty() ? c : ", " + c;
  }
  field("custodians", secret.custodians.empty() ? "- (no escrow: shared by the owner only)"
                                                : fmt::format("{} of {}: {}", secret.threshold, secret.custodians.size(), custodians));
  field("rotation", (secret.every > 0 ? "every " + format_duration(secret.every) + ", " : std::string())
                      + history::status(state, secret, now) + (secret.after_access ? " (rotates after access)" : ""));
  if (!secret.generator.empty()) {
    field("generator", secret.generator);
  }
  out << "  versions:\n";
  std::vector<std::vector<std::string>> rows;
  for (auto it = ordered.rbegin(); it != ordered.rend(); ++it) {
    rows.push_back({"v" + std::to_string((*it)->v), std::string(version_state_name((*it)->state)),
                    format_time((*it)->created_at), (*it)->created_by, (*it)->why});
  }
  std::ostringstream table;
  print_table(table, context, {"VERSION", "STATE", "CREATED", "BY", "WHY"}, rows);
  std::istringstream lines(table.str());
  for (std::string line; std::getline(lines, line);) {
    out << "    " << line << '\n';
  }
  if (!secret.requests.empty()) {
    out << "  requests:\n";
    for (const auto& request : requests) {
      out << util::escape_controls(fmt::format("    {} by {} ({}, {} approval(s), expires {}): {}",
                                               request["id"].get<std::string>(), request["by"].get<std::string>(),
                                               request["state"].get<std::string>(),
                                               request["approvals"].get<std::size_t>(),
                                               request["expires_at"].get<std::string>(),
                                               request["why"].get<std::string>()))
          << '\n';
    }
  }
}

} // namespace

void setup_show(CLI::App& app, Context& context)
{
  auto options = std::make_shared<ShowOptions>();
  auto* show = app.add_subcommand("show", "one secret's metadata, versions and requests (never the value)");
  show->add_option("name", options->name, "ENV/NAME")->required();
  show->callback([options, &context] { run_show(*options, context); });
}

} // namespace escrow::cli
