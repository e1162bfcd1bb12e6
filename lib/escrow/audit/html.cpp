#include <escrow/util/escape.hpp>
#include <escrow/audit/html.hpp>
#include <escrow/audit/time_axis.hpp>
#include <escrow/util/text.hpp>

#include <algorithm>
#include <array>
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
svg .axis { stroke: #9aa3b2; }
svg text.tick { font-weight: 600; fill: #3b4352; }
.legend .actor { white-space: nowrap; }
table.matrix td.no { color: #b6bcc8; text-align: center; }
table.matrix td.yes { font-weight: 600; }
table.matrix td.owner { background: #e8f0fe; }
table.matrix td.rotator { background: #ecfdf3; }
table.matrix td.shared { background: #fdf6e3; }
table.matrix td.grant { background: #fdecea; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #eef1f6; padding: 1px 4px; border-radius: 3px; }
svg .row { fill: #f6f8fb; }
.access.ok { stroke: #fff; stroke-width: 1; }
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

// Up to this many actors get their own colour in the timeline; the others share grey.
constexpr std::array<std::string_view, 8> k_actor_colors = {"#2f6fde", "#7c3aed", "#0891b2", "#c2410c",
                                                            "#be185d", "#4d7c0f", "#a16207", "#475569"};
constexpr std::string_view k_other_color = "#9ca3af";

void timeline_html(std::string& out, const std::vector<AuditEntry>& journal)
{
  std::map<std::string, std::vector<const AuditEntry*>> rows;
  std::map<std::string, std::size_t> reads_by_actor;
  Timestamp first = 0;
  Timestamp last = 0;
  bool any = false;
  for (const auto& logged : journal) {
    const history::Entry& entry = logged.entry;
    if (logged.secrets.empty() || (!is_access(logged) && !is_rotation(logged))) {
      continue;
    }
    // A batched rotation marks the row of every secret it names.
    for (const std::string& secret : logged.secrets) {
      rows[secret].push_back(&logged);
    }
    if (is_access(logged)) {
      ++reads_by_actor[entry.actor];
    }
    first = any ? std::min(first, entry.ts) : entry.ts;
    last = any ? std::max(last, entry.ts) : entry.ts;
    any = true;
  }
  if (!any) {
    out += "<p class=\"empty\" id=\"timeline-empty\">No access or rotation has been journaled yet.</p>\n";
    return;
  }
  // The most active readers get a colour each (ties by name), so who read is visible at a glance.
  std::vector<std::pair<std::string, std::size_t>> actors(reads_by_actor.begin(), reads_by_actor.end());
  std::stable_sort(actors.begin(), actors.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::map<std::string, std::string_view> color_of;
  for (std::size_t i = 0; i < actors.size(); ++i) {
    color_of[actors[i].first] = i < k_actor_colors.size() ? k_actor_colors[i] : k_other_color;
  }
  out += "<div class=\"legend\" id=\"actors\">Readers: ";
  for (std::size_t i = 0; i < actors.size() && i < k_actor_colors.size(); ++i) {
    out += fmt::format("<span class=\"actor\"><i style=\"background:{}\"></i>{} ({})</span>", k_actor_colors[i],
                       html_escape(actors[i].first), actors[i].second);
  }
  if (actors.size() > k_actor_colors.size()) {
    out += fmt::format("<span class=\"actor\"><i style=\"background:{}\"></i>{} others</span>", k_other_color,
                       actors.size() - k_actor_colors.size());
  }
  out += "</div>\n";

  const TimeAxis axis = time_axis(first, last);
  const double span = static_cast<double>(axis.to - axis.from);
  const double left = k_label_width + 10;
  const double plot = k_plot_width - 30;
  const auto x_of = [&](Timestamp ts) { return left + (static_cast<double>(ts - axis.from) / span) * plot; };
  const int height = k_axis_height + static_cast<int>(rows.size()) * k_row_height + 8;
  const int width = k_label_width + k_plot_width;
  out += fmt::format("<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
                     "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"accesses and rotations per secret\" "
                     "data-from=\"{}\" data-to=\"{}\" data-unit=\"{}\">\n",
                     width, height, width, height, html_escape(format_time(axis.from)), html_escape(format_time(axis.to)),
                     html_escape(axis.unit));
  out += fmt::format("<line class=\"axis\" x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\"/>\n", left, k_axis_height - 6,
                     left + plot, k_axis_height - 6);
  for (const Tick& tick : axis.ticks) {
    const double x = x_of(tick.at);
    out += fmt::format("<line class=\"grid\" x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\"/>", x, k_axis_height - 10, x,
                       height - 4);
    out += fmt::format("<text class=\"tick\" x=\"{:.1f}\" y=\"18\" text-anchor=\"middle\" data-at=\"{}\">{}</text>\n", x,
                       html_escape(format_time(tick.at)), html_escape(tick.label));
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
    for (const AuditEntry* logged : entries) {
      const history::Entry& entry = logged->entry;
      const double x = x_of(entry.ts);
      const std::string title = html_escape(fmt::format(
        "{} {} {} {}{} ({}){}", format_time(entry.ts), entry.actor, logged->action, secret,
        logged->version ? fmt::format(" v{}", *logged->version) : std::string(), logged->result,
        logged->why().empty() ? std::string() : ": " + logged->why()));
      const std::string data = fmt::format("data-line=\"{}\" data-entry=\"{}\" data-actor=\"{}\"", logged->line,
                                           html_escape(logged->hash), html_escape(entry.actor));
      if (is_access(*logged)) {
        const bool ok = entry.result == history::Result::ok;
        out += fmt::format("<circle class=\"mark access {}\" cx=\"{:.1f}\" cy=\"{}\" r=\"5\" style=\"{}\" {}><title>{}</title></circle>\n",
                           ok ? "ok" : "denied", x, middle,
                           ok ? fmt::format("fill:{}", color_of[entry.actor]) : std::string("fill:#fff"), data, title);
      } else {
        const bool ok = entry.result == history::Result::ok && entry.is_operation()
                        && std::get<history::OpKind>(entry.action) == history::OpKind::rotate_finish;
        out += fmt::format("<path class=\"mark rotation {}\" d=\"M{:.1f} {} l6 7 l-6 7 l-6 -7 z\" {}><title>{}</title></path>\n",
                           ok ? "ok" : "failed", x, middle - 7, data, title);
      }
    }
    out += "</g>\n";
    ++index;
  }
  out += "</svg>\n";
  out += fmt::format("<p class=\"meta\" id=\"axis-note\">Times in UTC, from {} to {}; one grid line per {}.</p>\n",
                     html_escape(format_time(axis.from)), html_escape(format_time(axis.to)), html_escape(axis.unit));
}

// Who can read what: one row per active secret, one column per active member.
void matrix_html(std::string& out, const Activity& activity)
{
  out += "<table id=\"can_read\" class=\"matrix\"><thead><tr><th>SECRET</th>";
  for (const auto& member : activity.members) {
    out += "<th>" + html_escape(member) + "</th>";
  }
  out += "<th>CUSTODIANS (k of n)</th></tr></thead><tbody>";
  if (activity.can_read.empty()) {
    out += fmt::format("<tr><td class=\"empty\" colspan=\"{}\">no active secret</td></tr>", activity.members.size() + 2);
  }
  for (const auto& access : activity.can_read) {
    out += "<tr><td>" + html_escape(access.secret) + "</td>";
    for (const auto& member : activity.members) {
      const auto it = access.readers.find(member);
      if (it == access.readers.end()) {
        out += "<td class=\"no\">&middot;</td>";
      } else {
        const std::string how = it->second.rfind("grant", 0) == 0 ? "grant" : it->second;
        out += fmt::format("<td class=\"yes {}\">{}</td>", html_escape(how), html_escape(it->second));
      }
    }
    out += "<td>" + (access.custodians.empty() ? std::string("-")
                                               : html_escape(fmt::format("{} of {}", access.threshold, join(access.custodians)))) +
           "</td></tr>";
  }
  out += "</tbody></table>\n";
}

} // namespace

std::string html_escape(std::string_view text)
{
  // Control characters, C1 and bidi overrides shown as \uXXXX (util/escape.hpp), then HTML.
  const std::string shown = util::escape_controls(text, util::Layout::keep_lines);
  std::string out;
  out.reserve(shown.size());
  for (const char c : shown) {
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
                        const std::vector<AuditEntry>& journal,
                        const HtmlContext& context)
{
  std::size_t accesses = 0;
  std::size_t rotations = 0;
  for (const auto& logged : journal) {
    accesses += is_access(logged) ? logged.secrets.size() : 0;
    rotations += is_rotation(logged) ? logged.secrets.size() : 0;
  }
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
         "img-src data:\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<link rel=\"icon\" href=\"data:,\">\n";
  out += fmt::format("<title>escrow audit report: {}</title>\n", html_escape(context.vault));
  out += "<style>" + std::string(k_style) + "</style>\n</head>\n<body>\n";
  out += fmt::format("<h1>escrow audit report</h1>\n<div class=\"meta\">{} &middot; vault {} "
                     "&middot; {} journal entries &middot; as of {} &middot; journal head <code>{}</code></div>\n",
                     html_escape(context.vault), html_escape(context.vault_id),
                     context.journal_entries, html_escape(format_time(report.now)),
                     html_escape(report.activity.journal_head.substr(0, 16)));
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
  card("connectors failed or stale", report.activity.connectors.size(), true);
  out += "</div>\n";

  out += "<h2>Timeline of accesses and rotations</h2>\n";
  out += "<div class=\"legend\"><span><i style=\"background:#2f6fde\"></i>access (coloured by reader)</span>"
         "<span><i style=\"border:2px solid #b42318;width:7px;height:7px\"></i>refused access</span>"
         "<span><i style=\"background:#16a34a;border-radius:0\"></i>rotation</span>"
         "<span><i style=\"background:#f59e0b;border-radius:0\"></i>failed rotation</span></div>\n";
  timeline_html(out, journal);

  // What needs action first, then who read and who can read what, then the rest.
  std::vector<Table> tables = report.tables();
  const std::vector<std::string> k_first = {"overdue", "rotation_problems", "connectors", "reads", "can_read", "roster"};
  std::stable_sort(tables.begin(), tables.end(), [&](const Table& a, const Table& b) {
    const auto rank = [&](const Table& t) {
      return static_cast<std::size_t>(std::find(k_first.begin(), k_first.end(), t.key) - k_first.begin());
    };
    return rank(a) < rank(b);
  });
  for (const Table& table : tables) {
    out += "<h2>" + html_escape(table.title) + "</h2>\n";
    if (table.key == "can_read") {
      out += "<p class=\"meta\">Standing access: the owner, the rotators of the environment, members the owner "
             "shared it with, and unexpired grants (k custodians approved). Custodians hold a share, not the value.</p>\n";
      matrix_html(out, report.activity);
      continue;
    }
    table_html(out, table.key, table.headers, table.rows, table.empty);
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& anomaly : anomalies) {
    std::vector<std::string> lines;
    for (const AuditEntry* logged : anomaly.entries) {
      lines.push_back(std::to_string(logged->line));
    }
    rows.push_back({std::string(anomaly_name(anomaly.kind)), anomaly.day, anomaly.message,
                    lines.empty() ? "-" : join(lines)});
  }
  out += "<h2>Anomalies</h2>\n";
  table_html(out, "anomalies", {"KIND", "DAY", "FINDING", "JOURNAL LINES"}, rows, "nothing looks unusual");
  out += "<h2>Anchoring</h2>\n";
  if (report.activity.journal_head.empty()) {
    out += "<p class=\"meta\" id=\"journal-head\">The journal is empty.</p>\n";
  } else {
    std::string heads;
    for (const std::string& head : report.activity.heads) {
      heads += (heads.empty() ? "" : ", ") + fmt::format("<code>{}</code>", html_escape(head));
    }
    out += fmt::format("<p id=\"journal-head\">Journal head (line {}): <code>{}</code><br>Heads named by the head file "
                       "(the next entry's parents): {}</p>\n<p class=\"meta\">Keep the journal head somewhere escrow does not write (a "
                       "ticket, a signed tag, a chat message): a journal rewritten later no longer contains it, and "
                       "<code>escrow audit verify</code> reports the difference.</p>\n",
                       report.activity.journal_head_line, html_escape(report.activity.journal_head), heads);
  }
  if (context.verification.empty()) {
    out += "<p class=\"meta\">The journal was read, not verified: run <code>escrow audit verify</code> to check every "
           "hash, signature and authorisation.</p>\n";
  } else {
    out += "<p class=\"meta\" id=\"verification\">Journal verification: " + html_escape(context.verification) + "</p>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

} // namespace escrow::audit
