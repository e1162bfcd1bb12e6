// Durations ("90s", "15m", "4h", "30d", "2w": --ttl, --every, --max-ttl, policy files).
// Properties: parse_duration never throws and gives a positive count of seconds or nothing;
// format_duration writes what parse_duration reads back to the same count, and is a fixed
// point; describe_duration (for people) never fails, whatever the count.
#include "fuzz.hpp"

#include <escrow/clock.hpp>

#include <cstring>
#include <limits>

using namespace escrow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  std::optional<std::int64_t> seconds;
  fuzz::accepted({}, [&] { seconds = parse_duration(text); });
  if (seconds) {
    fuzz::check(*seconds > 0, "a duration is positive");
    const std::string written = format_duration(*seconds);
    const auto again = parse_duration(written);
    fuzz::check(again && *again == *seconds, "parse_duration(format_duration(d)) == d");
    fuzz::check(format_duration(*again) == written, "format_duration is a fixed point");
    fuzz::check(written.size() <= text.size() || text.find_first_not_of("0123456789") == std::string::npos
                  || text.front() == '0' || text.front() == '+',
                "format_duration is the shortest spelling");
    (void)describe_duration(*seconds);
    fuzz::round_tripped();
  }

  // The writers, on any count (differences of times can be anything).
  if (size == sizeof(std::int64_t)) {
    std::int64_t any = 0;
    std::memcpy(&any, data, sizeof(any));
    fuzz::accepted({}, [&] {
      (void)describe_duration(any);
      (void)format_duration(any);
    });
  }
  return 0;
}
