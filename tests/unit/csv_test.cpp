// audit/csv: RFC 4180 quoting and formula neutralisation.
#include "foundation_support.hpp"

#include <escrow/audit/csv.hpp>

using namespace escrow::audit;

TEST_CASE("csv: a header, quoted cells where needed, formulas neutralised", "[audit][csv]")
{
  Table table{"reads", "Who read what", "none", {"MEMBER", "JUSTIFICATION"}, {}};
  table.rows.push_back({"alice", "incident 812, \"urgent\""});
  table.rows.push_back({"bob", "=HYPERLINK(\"http://x\")"});
  table.rows.push_back({"carol", "two\nlines"});
  CHECK(table_csv(table) == "MEMBER,JUSTIFICATION\r\n"
                            "alice,\"incident 812, \"\"urgent\"\"\"\r\n"
                            "bob,\"'=HYPERLINK(\"\"http://x\"\")\"\r\n"
                            "carol,\"two\nlines\"\r\n");
}
