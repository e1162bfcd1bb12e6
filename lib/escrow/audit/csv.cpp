#include <escrow/audit/csv.hpp>

namespace escrow::audit {

namespace {

void cell(std::string& out, std::string_view text)
{
  std::string value;
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@' || text[0] == '\t'
                        || text[0] == '\r')) {
    value = "'";
  }
  value += text;
  const bool quote = value.find_first_of(",\"\r\n") != std::string::npos;
  if (!quote) {
    out += value;
    return;
  }
  out += '"';
  for (const char c : value) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  out += '"';
}

void row(std::string& out, const std::vector<std::string>& cells)
{
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    cell(out, cells[i]);
  }
  out += "\r\n";
}

} // namespace

std::string table_csv(const Table& table)
{
  std::string out;
  row(out, table.headers);
  for (const auto& cells : table.rows) {
    row(out, cells);
  }
  return out;
}

} // namespace escrow::audit
