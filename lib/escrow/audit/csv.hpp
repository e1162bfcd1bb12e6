// `audit report --csv FOLDER`: each of the report's tables as an RFC 4180 file (<key>.csv,
// CRLF line ends, a header row). A cell that a spreadsheet would run as a formula (starting with
// = + - @, a tab or a carriage return) is prefixed with ' (OWASP "CSV injection"), as journal
// text (a justification, a member name) comes from other people.
#pragma once

#include <escrow/audit/report.hpp>

#include <string>

namespace escrow::audit {

std::string table_csv(const Table& table);

} // namespace escrow::audit
