// escrow audit log | verify | report | anomalies (DESIGN §6; docs/AUDIT.md)
#include <commands/context.hpp>

#include <escrow/util/escape.hpp>
#include <escrow/audit/anomalies.hpp>
#include <escrow/audit/log.hpp>
#include <escrow/audit/report.hpp>
#include <escrow/audit/verify.hpp>
#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/lookup.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace escrow::cli {

namespace {

struct LogOptions
{
  std::string secret;
  std::string actor;
  std::string env;
  std::string action;
  std::string since;
  std::string until;
};

struct ReportOptions
{
  std::string html;
  std::string csv; // a folder: one <table>.csv per table
  std::int64_t dormant_days = 90;
  std::string expiring = "1d";
  bool no_values = false;
};

struct AnomalyOptions
{
  std::string since;
  std::int64_t min_history_days = 7;
};

// One printable line for a table cell (shared with connector output; never splits UTF-8).
std::string one_line(std::string_view text, std::size_t limit = 80)
{
  return connector::one_line(text, limit);
}

void run_log(const LogOptions& options, Context& context)
{
  if (!options.env.empty() && !valid_env_name(options.env)) {
    fail(ErrorKind::usage, "audit log: invalid environment \"{}\"", one_line(options.env, 40));
  }
  Session session = context.open(Mode::read);
  if (!options.env.empty()) {
    require_known_environment(session.vault(), options.env, "audit log --env");
  }
  audit::LogFilter filter;
  filter.secret = options.secret;
  filter.actor = options.actor;
  filter.env = options.env;
  filter.action = options.action;
  if (!options.since.empty()) {
    filter.since = audit::parse_time_arg(options.since, session.now(), "audit log --since");
  }
  if (!options.until.empty()) {
    filter.until = audit::parse_time_arg(options.until, session.now(), "audit log --until");
  }
  const std::vector<audit::LoggedEntry> entries = audit::read_entries(session.journal());
  const audit::RequestWhys whys = audit::request_whys(entries);
  const auto selected = audit::filter_entries(entries, filter);
  if (context.json()) {
    Json list = Json::array();
    for (const audit::LoggedEntry* logged : selected) {
      list.push_back(audit::to_json(*logged, whys));
    }
    context.emit(Json{{"journal", session.journal().path().string()}, {"entries", list}});
    return;
  }
  if (context.quiet()) {
    return;
  }
  if (selected.empty()) {
    context.say(entries.empty() ? "the journal is empty" : "no entry matches");
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const audit::LoggedEntry* logged : selected) {
    const JournalEntry& entry = logged->entry;
    std::string why = audit::justification(entry, whys);
    if (why.empty() && entry.result != JournalResult::ok) {
      if (const auto it = entry.detail.find("reason"); it != entry.detail.end() && it->is_string()) {
        why = "(" + it->get<std::string>() + ")";
      }
    }
    rows.push_back({std::to_string(logged->line), format_time(entry.ts), entry.actor,
                    std::string(journal_action_name(entry.action)),
                    entry.secret.empty() ? "-" : entry.secret, entry.version ? "v" + std::to_string(*entry.version) : "-",
                    std::string(journal_result_name(entry.result)), entry.host, why.empty() ? "-" : one_line(why)});
  }
  print_table(context.out(), context, {"LINE", "TIME", "ACTOR", "ACTION", "SECRET", "VERSION", "RESULT", "HOST", "WHY"},
              rows);
}

void run_verify(Context& context)
{
  Session session = context.open(Mode::read);
  const Vault& vault = session.vault();
  const std::filesystem::path& path = session.journal().path();
  const audit::VerifyReport report = audit::verify_session_journal(session);
  if (report.ok()) {
    audit::pin_verified(session, report);
  }
  if (context.json()) {
    Json document = report.to_json();
    document["journal"] = path.string();
    document["vault_revision"] = vault.revision();
    document["anchor"] = vault.journal_head();
    context.emit(document);
  } else if (!context.quiet()) {
    for (const auto& finding : report.findings) {
      context.out() << (finding.warning() ? "warning: " : "error: ") << util::escape_controls(finding.message) << '\n';
    }
  }
  audit::require_clean(report, path);
  context.say(fmt::format("ok: {}: {} entries, {} signatures verified, anchored to vault revision {}{}", path.string(),
                          report.entries, report.signatures, vault.revision(),
                          report.warnings() == 0 ? std::string() : fmt::format(" ({} warning(s))", report.warnings())));
}

void print_tables(Context& context, const std::vector<audit::Table>& tables)
{
  auto& out = context.out();
  bool first = true;
  for (const audit::Table& table : tables) {
    out << (first ? "" : "\n") << context.bold(util::escape_controls(table.title)) << '\n';
    first = false;
    if (table.rows.empty()) {
      out << "  " << util::escape_controls(table.empty) << '\n';
      continue;
    }
    std::ostringstream text;
    print_table(text, context, table.headers, table.rows);
    std::istringstream lines(text.str());
    for (std::string line; std::getline(lines, line);) {
      out << "  " << line << '\n';
    }
  }
}

void run_report(const ReportOptions& options, Context& context)
{
  if (options.dormant_days < 1 || options.dormant_days > 100000) {
    fail(ErrorKind::usage, "audit report: --dormant-days must be between 1 and 100000");
  }
  const std::optional<std::int64_t> expiring = parse_duration_option(options.expiring, "audit report: --expiring");
  if (!options.html.empty()) {
    const std::filesystem::path target(options.html);
    const std::filesystem::path folder = target.has_parent_path() ? target.parent_path() : ".";
    if (std::filesystem::is_directory(target) || !std::filesystem::is_directory(folder)) {
      fail(ErrorKind::io, "{}: cannot write the HTML report there (no such folder, or a folder of that name)",
           options.html);
    }
  }
  if (!options.csv.empty()) {
    const std::filesystem::path folder(options.csv);
    const std::filesystem::path parent = folder.has_parent_path() ? folder.parent_path() : ".";
    if (std::filesystem::exists(folder) ? !std::filesystem::is_directory(folder) : !std::filesystem::is_directory(parent)) {
      fail(ErrorKind::io, "{}: cannot write the CSV files there (not a folder, or its parent folder does not exist)",
           options.csv);
    }
  }
  Session session = context.open(Mode::read);
  const Vault& vault = session.vault();
  audit::ReportOptions report_options;
  report_options.dormant_after = options.dormant_days * 86400;
  report_options.expiring_within = *expiring;
  const audit::ReportRun run =
    audit::report_on(session, report_options, !options.no_values, options.html, options.csv);
  const audit::Report& report = run.report;
  const std::string& html_path = run.html_path;
  const std::vector<std::string>& csv_files = run.csv_files;
  if (context.json()) {
    Json document = report.to_json();
    document["vault"] = session.vault_path().string();
    document["html"] = html_path.empty() ? Json(nullptr) : Json(html_path);
    document["csv"] = csv_files;
    context.emit(document);
    return;
  }
  if (!context.quiet()) {
    context.out() << fmt::format("audit report for {} (revision {}) as of {}\n\n",
                                 util::escape_controls(session.vault_path().string()), vault.revision(),
                                 format_time(session.now()));
    print_tables(context, report.tables());
  }
  if (!html_path.empty()) {
    context.note("wrote " + html_path);
  }
  if (!csv_files.empty()) {
    context.note(fmt::format("wrote {} CSV files in {}", csv_files.size(), options.csv));
  }
}

void run_anomalies(const AnomalyOptions& options, Context& context)
{
  if (options.min_history_days < 1 || options.min_history_days > 100000) {
    fail(ErrorKind::usage, "audit anomalies: --min-history must be between 1 and 100000 (days)");
  }
  Session session = context.open(Mode::read);
  std::optional<Timestamp> since;
  if (!options.since.empty()) {
    since = audit::parse_time_arg(options.since, session.now(), "audit anomalies --since");
  }
  const std::vector<audit::LoggedEntry> entries = audit::read_entries(session.journal());
  audit::AnomalyOptions rules;
  rules.min_history_days = options.min_history_days;
  std::vector<audit::Anomaly> anomalies = audit::find_anomalies(entries, session.vault(), rules);
  if (since) {
    std::erase_if(anomalies, [&](const audit::Anomaly& anomaly) {
      return !anomaly.entries.empty()
             && std::none_of(anomaly.entries.begin(), anomaly.entries.end(),
                             [&](const audit::LoggedEntry* logged) { return logged->entry.ts >= *since; });
    });
  }
  if (context.json()) {
    Json list = Json::array();
    for (const auto& anomaly : anomalies) {
      list.push_back(anomaly.to_json());
    }
    context.emit(Json{{"journal", session.journal().path().string()},
                      {"entries", entries.size()},
                      {"min_history_days", options.min_history_days},
                      {"anomalies", list}});
    return;
  }
  if (context.quiet()) {
    return;
  }
  if (anomalies.empty()) {
    context.say(fmt::format("nothing looks unusual in {} journal entries", entries.size()));
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& anomaly : anomalies) {
    std::string lines;
    for (const audit::LoggedEntry* logged : anomaly.entries) {
      lines += (lines.empty() ? "" : ",") + std::to_string(logged->line);
    }
    rows.push_back({std::string(audit::anomaly_name(anomaly.kind)), anomaly.day.empty() ? "-" : anomaly.day,
                    lines.empty() ? "-" : one_line(lines, 40), anomaly.message});
  }
  print_table(context.out(), context, {"KIND", "DAY", "LINES", "FINDING"}, rows);
}

} // namespace

void setup_audit(CLI::App& app, Context& context)
{
  auto* audit = app.add_subcommand("audit", "the journal: who did what, is it intact, what is overdue, what looks odd");
  audit->require_subcommand(1);

  auto log_options = std::make_shared<LogOptions>();
  auto* log = audit->add_subcommand("log", "journal entries, filtered (reveals show the request's justification)");
  log->add_option("--secret", log_options->secret, "ENV/NAME (a trailing * matches a prefix: prod/*)");
  log->add_option("--actor", log_options->actor, "member");
  log->add_option("--env", log_options->env, "environment");
  log->add_option("--action", log_options->action, "reveal, exec, add, rotate, ... (a trailing * matches a prefix)");
  log->add_option("--since", log_options->since, "from this time (2026-11-01, RFC 3339, Unix seconds) or this long ago (30d)");
  log->add_option("--until", log_options->until, "before this time (same forms)");
  log->callback([log_options, &context] { run_log(*log_options, context); });

  auto* verify = audit->add_subcommand(
    "verify", "check every entry's hash, signature, author and parent, and the vault's and this machine's anchors");
  verify->callback([&context] { run_verify(context); });

  auto report_options = std::make_shared<ReportOptions>();
  auto* report = audit->add_subcommand(
    "report", "overdue and stuck rotations, dormant credentials, removed owners, open requests, bus factor, duplicates");
  report->add_option("--html", report_options->html, "also write a self-contained HTML page with a timeline");
  report->add_option("--csv", report_options->csv, "also write every table as FOLDER/<table>.csv (all rows)");
  report->add_option("--dormant-days", report_options->dormant_days, "unused for this many days is dormant (default 90)");
  report->add_option("--expiring", report_options->expiring, "list grants expiring within this (default 1d)");
  report->add_flag("--no-values", report_options->no_values,
                   "do not decrypt the values you can read to look for duplicates");
  report->callback([report_options, &context] { run_report(*report_options, context); });

  auto anomaly_options = std::make_shared<AnomalyOptions>();
  auto* anomalies = audit->add_subcommand("anomalies", "unusual volumes, first-time pairs, new hours and hosts, "
                                                       "connectors crossing environments");
  anomalies->add_option("--since", anomaly_options->since, "only findings with entries from this time (or this long ago)");
  anomalies->add_option("--min-history", anomaly_options->min_history_days,
                        "days of history before an actor or secret has a baseline (default 7)");
  anomalies->callback([anomaly_options, &context] { run_anomalies(*anomaly_options, context); });
}

} // namespace escrow::cli
