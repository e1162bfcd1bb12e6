// Time: a clock that can be fixed (ESCROW_NOW), RFC 3339 timestamps and durations ("30d", "4h").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace escrow {

using Timestamp = std::int64_t; // seconds since the Unix epoch, UTC

// The times escrow reads and writes: four-digit years, 0000-01-01T00:00:00Z to
// 9999-12-31T23:59:59Z. Every time written can be read back (issue 16).
constexpr Timestamp k_min_time = -62167219200;
constexpr Timestamp k_max_time = 253402300799;
// The longest duration accepted anywhere (TTLs, rotation cadences): 100 years.
constexpr std::int64_t k_max_duration = std::int64_t{36525} * 86400;

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
// format_time for a time about to be stored (vault records, journal): Error(usage) when it is
// outside [k_min_time, k_max_time], so nothing is written that its reader would reject.
std::string format_stored_time(Timestamp at);
// RFC 3339 ("2026-11-29T20:29:00Z", "2026-11-29T21:29:00+01:00", fractional seconds ignored),
// a date ("2026-11-29", midnight UTC), or Unix seconds; nullopt outside [k_min_time, k_max_time].
std::optional<Timestamp> parse_time(std::string_view text);
// "90s", "15m", "4h", "30d", "2w": a unit is required. Positive, at most k_max_duration.
std::optional<std::int64_t> parse_duration(std::string_view text);
// parse_duration for a command-line option: Error(usage) naming `option`, with a hint (a
// missing unit, a duration over 100 years).
std::int64_t parse_duration_option(std::string_view text, std::string_view option);
// at + seconds, refused (Error(usage) naming `what`) when it would pass 9999-12-31T23:59:59Z.
Timestamp later_time(Timestamp at, std::int64_t seconds, std::string_view what);
// The shortest exact spelling: 86400 -> "1d", 5400 -> "90m".
std::string format_duration(std::int64_t seconds);
// For people: "3d 4h", "5m", "12s".
std::string describe_duration(std::int64_t seconds);

} // namespace escrow
