#include <escrow/audit/html.hpp>
#include <escrow/util/text.hpp>

#include <algorithm>
#include <map>

namespace escrow::audit {

namespace {

constexpr int k_label_width = 230;
constexpr int k_plot_width = 900;
constexpr int k_row_height = 26;
constexpr int k_axis_height = 34;

constexpr std::string_view k_style = R"(
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px 32px; color: #1d2330; background: #fbfcfe; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d8dde6; padding-bottom: 4px; }
.meta { color: #5b6475; margin-bottom: 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0 8px; }
.card { background: #fff; border: 1px solid #d8dde6; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 22px; }
.card.bad b { color: #b42318; }
table { border-collapse: collapse; background: #fff; margin-bottom: 8px; }
th, td { border: 1px solid #d8dde6; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f6; font-weight: 600; }
td.empty { color: #5b6475; font-style: italic; }
svg { background: #fff; border: 1px solid #d8dde6; }
svg text { font: 12px system-ui, sans-serif; fill: #1d2330; }
svg .grid { stroke: #e6e9ef; }
svg .row { fill: #f6f8fb; }
.access.ok { fill: #2f6fde; }
.access.denied { fill: #fff; stroke: #b42318; stroke-width: 2; }
.rotation.ok { fill: #16a34a; }
.rotation.failed { fill: #f59e0b; stroke: #92400e; }
.legend span { margin-right: 18px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 5px; border-radius: 50%; vertical-align: -1px; }
)";

using util::join;

void table_html(std::string& out, const std::string& key, const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows, const std::string& empty)
{
  out += fmt::format("<table id=\"{}\"><thead><tr>", html_escape(key));
  for (const auto& header : headers) {
    out += "<th>" + html_escape(header) + "</th>";
  }
  out += "</tr></thead><tbody>";
  if (rows.empty()) {
    out += fmt::format("<tr><td class=\"empty\" colspan=\"{}\">{}</td></tr>", headers.size(), html_escape(empty));
  }
  for (const auto& row : rows) {
    out += "<tr>";
    for (const auto& cell : row) {
      out += "<td>" + html_escape(cell) + "</td>";
    }
    out += "</tr>";
  }
  out += "</tbody></table>\n";
}

void timeline_html(std::string& out, const std::vector<LoggedEntry>& journal)
{
  std::map<std::string, std::vector<const LoggedEntry*>> rows;
  Timestamp first = 0;
  Timestamp last = 0;
  bool any = false;
  for (const auto& logged : journal) {
    const JournalEntry& entry = logged.entry;
    if (entry.secret.empty() || (!is_access(entry) && !is_rotation(entry))) {
      continue;
    }
    rows[entry.secret].push_back(&logged);
    first = any ? std::min(first, entry.ts) : entry.ts;
    last = any ? std::max(last, entry.ts) : entry.ts;
    any = true;
  }
  if (!any) {
    out += "<p class=\"empty\" id=\"timeline-empty\">No access or rotation has been journaled yet.</p>\n";
    return;
  }
  if (last - first < 86400) {
    first -= 43200;
    last += 43200;
  }
  const double span = static_cast<double>(last - first);
  const auto x_of = [&](Timestamp ts) {
    return k_label_width + 20 + (static_cast<double>(ts - first) / span) * (k_plot_width - 80);
  };
  const int height = k_axis_height + static_cast<int>(rows.size()) * k_row_height + 8;
  const int width = k_label_width + k_plot_width;
  out += fmt::format("<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
                     "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"accesses and rotations per secret\">\n",
                     width, height, width, height);
  constexpr int k_ticks = 6;
  for (int i = 0; i <= k_ticks; ++i) {
    const Timestamp at = first + static_cast<Timestamp>(span * i / k_ticks);
    const double x = x_of(at);
    out += fmt::format("<line class=\"grid\" x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\"/>", x, k_axis_height - 6, x,
                       height - 4);
    out += fmt::format("<text x=\"{:.1f}\" y=\"16\" text-anchor=\"{}\">{}</text>\n", x,
                       i == k_ticks ? "end" : "middle", format_time(at).substr(0, 10));
  }
  int index = 0;
  for (const auto& [secret, entries] : rows) {
    const int top = k_axis_height + index * k_row_height;
    const int middle = top + k_row_height / 2;
    out += fmt::format("<g class=\"secret\" data-secret=\"{}\">", html_escape(secret));
    if (index % 2 == 0) {
      out += fmt::format("<rect class=\"row\" x=\"0\" y=\"{}\" width=\"{}\" height=\"{}\"/>", top, width, k_row_height);
    }
    out += fmt::format("<text x=\"8\" y=\"{}\">{}</text>\n", middle + 4, html_escape(secret));
    for (const LoggedEntry* logged : entries) {
      const JournalEntry& entry = logged->entry;
      const double x = x_of(entry.ts);
      const std::string title = html_escape(fmt::format(
        "{} {} {} {}{} ({}){}", format_time(entry.ts), entry.actor, entry.action, entry.secret,
        entry.version ? fmt::format(" v{}", *entry.version) : std::string(), entry.result,
        entry.why.empty() ? std::string() : ": " + entry.why));
      const std::string data = fmt::format("data-line=\"{}\" data-entry=\"{}\"", logged->line, html_escape(entry.hash));
      if (is_access(entry)) {
        out += fmt::format("<circle class=\"mark access {}\" cx=\"{:.1f}\" cy=\"{}\" r=\"4.5\" {}><title>{}</title></circle>\n",
                           entry.result == JournalResult::ok ? "ok" : "denied", x, middle, data, title);
      } else {
        const bool ok = entry.action == JournalAction::rotate || entry.action == JournalAction::rollback;
        out += fmt::format("<path class=\"mark rotation {}\" d=\"M{:.1f} {} l6 7 l-6 7 l-6 -7 z\" {}><title>{}</title></path>\n",
                           ok ? "ok" : "failed", x, middle - 7, data, title);
      }
    }
    out += "</g>\n";
    ++index;
  }
  out += "</svg>\n";
}

} // namespace

std::string html_escape(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&#39;"; break;
    default:
      if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
        out += ' ';
      } else {
        out.push_back(c);
      }
    }
  }
  return out;
}

std::string render_html(const Report& report,
                        const std::vector<Anomaly>& anomalies,
                        const std::vector<LoggedEntry>& journal,
                        const HtmlContext& context)
{
  std::size_t accesses = 0;
  std::size_t rotations = 0;
  for (const auto& logged : journal) {
    accesses += is_access(logged.entry) && !logged.entry.secret.empty() ? 1 : 0;
    rotations += is_rotation(logged.entry) && !logged.entry.secret.empty() ? 1 : 0;
  }
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
         "img-src data:\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<link rel=\"icon\" href=\"data:,\">\n";
  out += fmt::format("<title>escrow audit report: {}</title>\n", html_escape(context.vault));
  out += "<style>" + std::string(k_style) + "</style>\n</head>\n<body>\n";
  out += fmt::format("<h1>escrow audit report</h1>\n<div class=\"meta\">{} &middot; vault {} &middot; revision {} "
                     "&middot; {} journal entries &middot; as of {}</div>\n",
                     html_escape(context.vault), html_escape(context.vault_id), context.revision,
                     context.journal_entries, html_escape(format_time(report.now)));
  const auto card = [&](const std::string& label, std::size_t count, bool bad_when_nonzero) {
    out += fmt::format("<div class=\"card{}\"><b>{}</b>{}</div>", bad_when_nonzero && count > 0 ? " bad" : "", count,
                       html_escape(label));
  };
  out += "<div class=\"cards\" id=\"summary\">";
  card("overdue rotations", report.overdue.size(), true);
  card("stuck or failed rotations", report.rotation_problems.size(), true);
  card("dormant credentials", report.dormant.size(), true);
  card("anomalies", anomalies.size(), true);
  card("accesses journaled", accesses, false);
  card("rotations journaled", rotations, false);
  out += "</div>\n";

  out += "<h2>Timeline of accesses and rotations</h2>\n";
  out += "<div class=\"legend\"><span><i style=\"background:#2f6fde\"></i>access</span>"
         "<span><i style=\"border:2px solid #b42318;width:7px;height:7px\"></i>refused access</span>"
         "<span><i style=\"background:#16a34a;border-radius:0\"></i>rotation</span>"
         "<span><i style=\"background:#f59e0b;border-radius:0\"></i>failed rotation</span></div>\n";
  timeline_html(out, journal);

  for (const Table& table : report.tables()) {
    out += "<h2>" + html_escape(table.title) + "</h2>\n";
    table_html(out, table.key, table.headers, table.rows, table.empty);
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& anomaly : anomalies) {
    std::vector<std::string> lines;
    for (const LoggedEntry* logged : anomaly.entries) {
      lines.push_back(std::to_string(logged->line));
    }
    rows.push_back({std::string(anomaly_name(anomaly.kind)), anomaly.day, anomaly.message,
                    lines.empty() ? "-" : join(lines)});
  }
  out += "<h2>Anomalies</h2>\n";
  table_html(out, "anomalies", {"KIND", "DAY", "FINDING", "JOURNAL LINES"}, rows, "nothing looks unusual");
  if (context.verification.empty()) {
    out += "<p class=\"meta\">The journal was read, not verified: run <code>escrow audit verify</code> to check every "
           "hash and signature.</p>\n";
  } else {
    out += "<p class=\"meta\" id=\"verification\">Journal verification: " + html_escape(context.verification) + "</p>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

} // namespace escrow::audit
