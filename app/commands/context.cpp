#include <commands/context.hpp>
#include <commands/errors.hpp>

#include <escrow/util/escape.hpp>
#include <escrow/git/team.hpp>
#include <escrow/locate.hpp>
#include <escrow/util/terminal.hpp>

#include <cstdlib>
#include <ostream>

namespace escrow::cli {

SessionOptions Context::session_options() const
{
  SessionOptions options = SessionOptions::from_environment();
  if (!global.vault.empty()) {
    options.vault_path = global.vault;
  } else if (vault_unnamed()) {
    // Found as git finds .git (lib/escrow/locate.hpp); else ./escrow.vault as before.
    std::error_code no_cwd;
    const std::filesystem::path here = std::filesystem::current_path(no_cwd);
    if (!no_cwd) {
      options.vault_path = find_vault(here).value_or(k_default_vault_name);
    }
  }
  if (!global.identity.empty()) {
    options.identity_path = global.identity;
  } else if (!options.identity_data) {
    options.identity_path = default_identity_path();
  }
  options.allow_rollback = global.allow_rollback;
  return options;
}

bool Context::vault_unnamed() const
{
  const char* named = std::getenv("ESCROW_VAULT");
  return global.vault.empty() && (named == nullptr || *named == '\0');
}

Session Context::open(Mode mode) const
{
  Session session = Session::open(session_options(), mode);
  if (!m_setup_checked) {
    m_setup_checked = true;
    // A clone lacking escrow's git set-up is told once, with the fix (docs/TEAM.md).
    if (const auto hint = git::setup_hint(session.vault_path()); hint && !global.quiet) {
      m_err << "escrow: " << util::escape_controls(*hint) << '\n';
    }
  }
  return session;
}

void Context::emit(const canonical::Json& document)
{
  m_emitted = true;
  // Every document names the version of its shape (docs/JSON.md).
  if (document.is_object() && !document.contains("schema")) {
    canonical::Json versioned = document;
    versioned["schema"] = k_json_schema;
    m_out << versioned.dump(2) << '\n';
    return;
  }
  m_out << document.dump(2) << '\n';
}

void Context::say(std::string_view line)
{
  if (!global.quiet && !global.json) {
    m_out << util::escape_controls(line, util::Layout::keep_lines) << '\n';
  }
}

void Context::emit_or_say(const canonical::Json& document, std::string_view line)
{
  if (global.json) {
    emit(document);
  } else {
    say(line);
  }
}

void Context::note(std::string_view line)
{
  if (!global.quiet) {
    m_err << "escrow: " << util::escape_controls(line, util::Layout::keep_lines) << '\n';
  }
}

bool Context::color() const
{
  const char* no_color = std::getenv("NO_COLOR");
  return (no_color == nullptr || *no_color == '\0') && util::is_terminal(1) && !global.json;
}

std::string Context::bold(std::string_view text) const
{
  return color() ? fmt::format("\033[1m{}\033[0m", text) : std::string(text);
}

std::string Context::dim(std::string_view text) const
{
  return color() ? fmt::format("\033[2m{}\033[0m", text) : std::string(text);
}

void print_table(std::ostream& out,
                 const Context& context,
                 const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& raw_rows)
{
  // Widths in code points, so UTF-8 purposes line up.
  const auto width = [](std::string_view text) {
    std::size_t count = 0;
    for (const char c : text) {
      count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return count;
  };
  // Cells hold names, purposes, justifications read from files: control characters are shown
  // escaped (util/escape.hpp), never sent to the terminal.
  const auto escape_all = [](const std::vector<std::string>& cells) {
    std::vector<std::string> escaped;
    escaped.reserve(cells.size());
    for (const auto& cell : cells) {
      escaped.push_back(util::escape_controls(cell));
    }
    return escaped;
  };
  const std::vector<std::string> headers_shown = escape_all(headers);
  std::vector<std::vector<std::string>> rows_shown;
  rows_shown.reserve(raw_rows.size());
  for (const auto& row : raw_rows) {
    rows_shown.push_back(escape_all(row));
  }
  const auto& rows = rows_shown;
  std::vector<std::size_t> widths(headers.size(), 0);
  for (std::size_t i = 0; i < headers.size(); ++i) {
    widths[i] = width(headers[i]);
  }
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], width(row[i]));
    }
  }
  const auto line = [&](const std::vector<std::string>& cells, bool header) {
    std::string text;
    for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      const bool last = i + 1 == cells.size();
      std::string cell = cells[i];
      if (!last) {
        cell.append(widths[i] - width(cells[i]) + 2, ' ');
      }
      text += cell;
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    out << (header ? context.bold(text) : text) << '\n';
  };
  line(headers_shown, true);
  for (const auto& row : rows) {
    line(row, false);
  }
}

} // namespace escrow::cli
