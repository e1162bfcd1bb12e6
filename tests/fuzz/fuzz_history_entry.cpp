// The escrow-journal/2 entry parser (lib/escrow/history/entry.hpp) and what runs on what it
// accepts. Properties: every input is an Entry or an Error(integrity); an entry that parses is
// its own canonical line (dump_entry gives back the input, byte for byte) with the hash its
// content determines; it reads back to the same entry; check_args accepts its op again; and
// authorize and apply never throw anything but Error(integrity) against the empty state and
// never crash.
#include "fuzz.hpp"

#include <escrow/history/apply.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/entry.hpp>

using namespace escrow;
using namespace escrow::history;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  std::optional<Entry> entry;
  fuzz::accepted({ErrorKind::integrity}, [&] { entry = parse_entry(text, "fuzz.journal: line 1"); });
  if (!entry) {
    return 0;
  }
  fuzz::check(dump_entry(*entry) == text, "an accepted line is its own canonical form");
  fuzz::check(compute_hash(*entry) == entry->hash, "an accepted line carries the hash of its content");
  Entry again;
  fuzz::must("a written entry reads back", [&] { again = parse_entry(dump_entry(*entry), "fuzz (written)"); });
  fuzz::check(dump_entry(again) == text, "writing an entry is stable");
  if (entry->op) {
    fuzz::must("check_args accepts a parsed op", [&] { check_args(*entry->op, ErrorKind::integrity, "fuzz"); });
  }
  fuzz::round_tripped();

  // The predicates and apply on whatever the parser lets through: verdicts, never crashes.
  State state;
  Verdict verdict;
  fuzz::must("authorize does not throw", [&] { verdict = authorize(state, *entry); });
  if (!verdict) {
    fuzz::accepted({ErrorKind::integrity}, [&] { apply(state, *entry, "fuzz"); });
  }
  return 0;
}
