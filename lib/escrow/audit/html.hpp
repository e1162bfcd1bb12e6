// `audit report --html FILE`: one self-contained page (no script, no external asset; a
// Content-Security-Policy forbids loading any) with the report's tables, the anomalies and an
// inline SVG timeline: one row per secret, one mark per journaled access (reveal/exec, class
// "mark access ok|denied") and per rotation outcome (rotate-finish, class "mark rotation ok";
// rotate-fail and failed rotation operations, "mark rotation failed"; a batch marks each secret), each carrying data-line and data-entry (the entry's hash).
#pragma once

#include <escrow/audit/anomalies.hpp>
#include <escrow/audit/entries.hpp>
#include <escrow/audit/report.hpp>

#include <string>
#include <vector>

namespace escrow::audit {

struct HtmlContext
{
  std::string vault;   // path, as shown
  std::string vault_id;
  std::size_t journal_entries = 0;
  std::string verification; // the outcome of `audit verify`, one line ("" = not run)
};

std::string render_html(const Report& report,
                        const std::vector<Anomaly>& anomalies,
                        const std::vector<AuditEntry>& journal,
                        const HtmlContext& context);

// Text made safe for HTML element content and attribute values.
std::string html_escape(std::string_view text);

} // namespace escrow::audit
