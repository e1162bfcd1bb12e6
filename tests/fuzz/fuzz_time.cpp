// Times (RFC 3339, a date, or Unix seconds: ESCROW_NOW, --until, every "ts"/"*_at" field).
// Properties: parse_time never throws; a time it reads, format_time writes, and parse_time
// reads that back to the same second (every time escrow writes, it can read: issue 16); the
// written form is a fixed point.
#include "fuzz.hpp"

#include <escrow/clock.hpp>

#include <cstring>

using namespace escrow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  std::optional<Timestamp> at;
  fuzz::accepted({}, [&] { at = parse_time(text); });
  if (at) {
    const std::string written = format_time(*at);
    const auto again = parse_time(written);
    fuzz::check(again && *again == *at, "parse_time(format_time(t)) == t");
    fuzz::check(format_time(*again) == written, "format_time is a fixed point");
    fuzz::round_tripped();
  }
  return 0;
}
