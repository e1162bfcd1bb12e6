// escrow audit log | verify | report | anomalies | ack-loss | restore on escrow-vault/2 (docs/AUDIT.md)
#include <commands/context.hpp>

#include <escrow/audit/anomalies.hpp>
#include <escrow/audit/entries.hpp>
#include <escrow/audit/journal_check.hpp>
#include <escrow/audit/loss.hpp>
#include <escrow/audit/report.hpp>
#include <escrow/audit/restore.hpp>
#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/history/lookup.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/util/escape.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
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

struct AckLossOptions
{
  std::string why;
};

// A read session of a member: the audit commands show who read what, for members only (an
// auditor is one). `escrow audit verify`, like `escrow verify`, needs no identity.
history::VaultSession open_as_member(Context& context)
{
  history::VaultSession session = context.open_v2(history::Access::read);
  (void)session.me();
  return session;
}

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
  history::VaultSession session = open_as_member(context);
  if (!options.env.empty()) {
    history::require_known_environment(session.state(), options.env, "audit log --env", session.paths().head.string());
  }
  audit::LogFilter filter;
  filter.secret = options.secret;
  filter.actor = options.actor;
  filter.env = options.env;
  filter.action = options.action;
  if (!options.since.empty()) {
    filter.since = audit::time_arg(options.since, session.now(), "audit log --since");
  }
  if (!options.until.empty()) {
    filter.until = audit::time_arg(options.until, session.now(), "audit log --until");
  }
  const std::vector<audit::AuditEntry> entries = audit::read_entries(session);
  const audit::RequestWhys whys = audit::request_whys(entries, &session.state());
  const auto selected = audit::filter_entries(entries, filter);
  if (context.json()) {
    Json list = Json::array();
    for (const audit::AuditEntry* logged : selected) {
      list.push_back(audit::to_json(*logged, whys));
    }
    context.emit(Json{{"journal", session.paths().journal.string()}, {"entries", list}});
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
  for (const audit::AuditEntry* logged : selected) {
    std::string why = audit::justification(*logged, whys);
    if (why.empty() && logged->entry.result != history::Result::ok) {
      const std::string reason = logged->detail_string("reason");
      if (!reason.empty()) {
        why = "(" + reason + ")";
      }
    }
    std::string secret = logged->secret.empty() ? "-" : logged->secret;
    if (logged->secrets.size() > 1) {
      secret += fmt::format(" (+{})", logged->secrets.size() - 1);
    }
    rows.push_back({std::to_string(logged->line), format_time(logged->entry.ts), logged->entry.actor, logged->action,
                    secret, logged->version ? "v" + std::to_string(*logged->version) : "-", logged->result,
                    logged->entry.host, why.empty() ? "-" : one_line(why)});
  }
  print_table(context.out(), context, {"LINE", "TIME", "ACTOR", "ACTION", "SECRET", "VERSION", "RESULT", "HOST", "WHY"},
              rows);
}

// The whole vault from its bytes and this machine's record of what it verified: every problem
// listed (stdout), the first one the error (exit 3; 1 for an unsealed merge). Nothing is written;
// a clean check then opens a session, which advances this machine's record.
void run_verify(Context& context)
{
  const history::VaultSessionOptions options = context.vault_session_options();
  const audit::JournalCheck check = audit::check_journal(options);
  if (context.json()) {
    context.emit(check.to_json());
  } else if (!context.quiet()) {
    for (const history::Finding& finding : check.findings) {
      if (finding.severity() == history::Severity::info) {
        continue;
      }
      const bool warning = finding.severity() == history::Severity::warning;
      context.out() << (warning ? "warning: " : "error: ") << util::escape_controls(std::string(history::finding_kind_name(finding.kind)))
                    << ": " << util::escape_controls(history::format_finding(finding, check.names)) << '\n';
    }
    if (!check.lost.empty()) {
      context.out() << "error: lost-entries: "
                    << util::escape_controls(history::loss_error(check.names.journal, check.lost).what()) << '\n';
    }
  }
  check.require_ok();
  // Clean: the session's open advances this machine's record of the verified journal.
  (void)context.open_v2(history::Access::read);
  context.say(fmt::format("ok: {}: {} entries replayed, each authorised by the state before it, {} signatures verified, "
                          "{} key lines checked{}",
                          check.names.journal, check.entries, check.signatures, check.key_lines,
                          check.warnings() == 0 ? std::string() : fmt::format(" ({} warning(s))", check.warnings())));
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
  history::VaultSession session = open_as_member(context);
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
    document["vault"] = session.paths().head.string();
    document["html"] = html_path.empty() ? Json(nullptr) : Json(html_path);
    document["csv"] = csv_files;
    context.emit(document);
    return;
  }
  if (!context.quiet()) {
    context.out() << fmt::format("audit report for {} as of {}\n\n",
                                 util::escape_controls(session.paths().head.string()), format_time(session.now()));
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
  history::VaultSession session = open_as_member(context);
  std::optional<Timestamp> since;
  if (!options.since.empty()) {
    since = audit::time_arg(options.since, session.now(), "audit anomalies --since");
  }
  const std::vector<audit::AuditEntry> entries = audit::read_entries(session);
  audit::AnomalyOptions rules;
  rules.min_history_days = options.min_history_days;
  std::vector<audit::Anomaly> anomalies = audit::find_anomalies(entries, session.state(), rules);
  if (since) {
    std::erase_if(anomalies, [&](const audit::Anomaly& anomaly) {
      return !anomaly.entries.empty()
             && std::none_of(anomaly.entries.begin(), anomaly.entries.end(),
                             [&](const audit::AuditEntry* logged) { return logged->entry.ts >= *since; });
    });
  }
  if (context.json()) {
    Json list = Json::array();
    for (const auto& anomaly : anomalies) {
      list.push_back(anomaly.to_json());
    }
    context.emit(Json{{"journal", session.paths().journal.string()},
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
    for (const audit::AuditEntry* logged : anomaly.entries) {
      lines += (lines.empty() ? "" : ",") + std::to_string(logged->line);
    }
    rows.push_back({std::string(audit::anomaly_name(anomaly.kind)), anomaly.day.empty() ? "-" : anomaly.day,
                    lines.empty() ? "-" : one_line(lines, 40), anomaly.message});
  }
  print_table(context.out(), context, {"KIND", "DAY", "LINES", "FINDING"}, rows);
}

void run_ack_loss(const AckLossOptions& options, Context& context)
{
  const audit::AcknowledgedLoss done = audit::acknowledge_loss(context.vault_session_options(), options.why);
  if (context.json()) {
    Json lost = Json::array();
    for (const history::VerifiedEntry& e : done.lost) {
      lost.push_back(Json{{"hash", canonical::b64(e.hash)}, {"ts", format_time(e.ts)}, {"action", e.action},
                          {"actor", e.actor}});
    }
    context.emit(Json{{"acknowledged", lost}, {"entry", canonical::b64(done.entry.hash)}});
    return;
  }
  for (const history::VerifiedEntry& e : done.lost) {
    context.note(fmt::format("lost: {} ({} by {}, {})", history::short_hash(e.hash), e.action, e.actor, format_time(e.ts)));
  }
  context.say(fmt::format("acknowledged {} lost {} in entry {} (journal-loss)", done.lost.size(),
                          done.lost.size() == 1 ? "entry" : "entries", history::short_hash(done.entry.hash)));
}

struct RestoreOptions
{
  std::string from;
  CLI::Option* from_option = nullptr;
};

void run_restore(const RestoreOptions& options, Context& context)
{
  std::optional<std::string> from;
  if (options.from_option != nullptr && options.from_option->count() > 0) {
    from = options.from;
  }
  const audit::Restored done = audit::restore_entries(context.vault_session_options(), from);
  context.warn(done.warnings);
  if (context.json()) {
    Json restored = Json::array();
    for (const history::VerifiedEntry& e : done.restored) {
      restored.push_back(Json{{"hash", canonical::b64(e.hash)}, {"ts", format_time(e.ts)}, {"action", e.action},
                              {"actor", e.actor}});
    }
    Json source = Json::object();
    if (done.source.kind == audit::RestoreSource::Kind::git) {
      source = Json{{"kind", "git"}, {"rev", done.source.rev}, {"commit", done.source.commit},
                    {"path", done.source.path.generic_string()}};
    } else {
      source = Json{{"kind", "file"}, {"path", done.source.path.string()}};
    }
    context.emit(Json{{"restored", restored}, {"source", source}, {"journal", done.journal.string()}, {"verified", true}});
    return;
  }
  for (const history::VerifiedEntry& e : done.restored) {
    context.note(fmt::format("restored: {} ({} by {}, {})", history::short_hash(e.hash), e.action, e.actor,
                             format_time(e.ts)));
  }
  const history::VerifiedEntry& newest = done.restored.back();
  context.say(fmt::format("restored {} {} from {} (the newest {}, {} by {}); {} verifies", done.restored.size(),
                          done.restored.size() == 1 ? "entry" : "entries", done.source.describe(),
                          history::short_hash(newest.hash), newest.action, newest.actor,
                          done.journal.filename().string()));
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
    "verify", "replay the journal from its bytes: every hash, signature, author, parent and authorisation, the key "
              "lines, and the entries this machine verified before");
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

  auto ack_options = std::make_shared<AckLossOptions>();
  auto* ack = audit->add_subcommand("ack-loss", "admin: acknowledge that journal entries this machine verified are "
                                                "gone (a journal-loss operation); only lost events can be acknowledged");
  ack->add_option("--why", ack_options->why, "why the entries are gone (journaled)")->required();
  ack->callback([ack_options, &context] { run_ack_loss(*ack_options, context); });

  auto restore_options = std::make_shared<RestoreOptions>();
  auto* restore = audit->add_subcommand("restore", "put back journal entries this machine verified that the journal "
                                                   "lost, from a git revision or a journal file (nothing is signed)");
  restore_options->from_option =
    restore->add_option("--from", restore_options->from,
                        "a git revision (default HEAD in a git work tree) or a journal file holding the lost lines");
  restore->callback([restore_options, &context] { run_restore(*restore_options, context); });
}

} // namespace escrow::cli
