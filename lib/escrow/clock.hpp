// Time: a clock that can be fixed (ESCROW_NOW), RFC 3339 timestamps and durations ("30d", "4h").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace escrow {

using Timestamp = std::int64_t; // seconds since the Unix epoch, UTC

class Clock
{
public:
  // The system clock for "", else the fixed time `setting` names (RFC 3339 or Unix seconds): the
  // CLI passes ESCROW_NOW. Throws Error(usage) naming ESCROW_NOW when it is unreadable.
  static Clock from_setting(std::string_view setting);
  static Clock fixed(Timestamp at);

  Timestamp now() const;

private:
  std::optional<Timestamp> m_fixed;
};

// "2026-11-29T20:29:00Z"
std::string format_time(Timestamp at);
// RFC 3339 ("2026-11-29T20:29:00Z", "2026-11-29T21:29:00+01:00", fractional seconds ignored),
// a date ("2026-11-29", midnight UTC), or Unix seconds.
std::optional<Timestamp> parse_time(std::string_view text);
// "90s", "15m", "4h", "30d", "2w"; a bare number is seconds. Positive only.
std::optional<std::int64_t> parse_duration(std::string_view text);
// The shortest exact spelling: 86400 -> "1d", 5400 -> "90m".
std::string format_duration(std::int64_t seconds);
// For people: "3d 4h", "5m", "12s".
std::string describe_duration(std::int64_t seconds);

} // namespace escrow
