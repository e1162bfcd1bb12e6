// clock: ESCROW_NOW, RFC 3339 reading and writing, durations.
#include "foundation_support.hpp"

#include <escrow/clock.hpp>

#include <cstdlib>
#include <ctime>
#include <fmt/format.h>
#include <vector>
#include <limits>

using namespace escrow;

TEST_CASE("clock: format_time writes UTC RFC 3339", "[clock]")
{
  CHECK(format_time(0) == "1970-01-01T00:00:00Z");
  CHECK(format_time(-1) == "1969-12-31T23:59:59Z");
  CHECK(format_time(1795984140) == "2026-11-29T20:29:00Z");
  CHECK(format_time(1709164800) == "2024-02-29T00:00:00Z");
  CHECK(format_time(951868800) == "2000-03-01T00:00:00Z");
  CHECK(format_time(253402300799) == "9999-12-31T23:59:59Z");
  CHECK(format_time(k_min_time) == "0000-01-01T00:00:00Z");
  // Outside the years it writes digit by digit, fmt's spelling.
  CHECK(format_time(k_max_time + 1) == "10000-01-01T00:00:00Z");
}

TEST_CASE("clock: format_time agrees with gmtime over every year it writes", "[clock]")
{
  // Spread over [k_min_time, k_max_time] with odd seconds, plus each boundary's neighbours.
  std::vector<Timestamp> times{k_min_time, k_min_time + 1, k_max_time, k_max_time - 1, 0, -1, 86399, 86400};
  for (Timestamp t = k_min_time; t <= k_max_time; t += 7919LL * 86400 + 3727) {
    times.push_back(t);
  }
  for (const Timestamp t : times) {
    const std::time_t raw = static_cast<std::time_t>(t);
    std::tm tm{};
    REQUIRE(gmtime_r(&raw, &tm) != nullptr);
    const std::string expected = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                                             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    INFO(t);
    CHECK(format_time(t) == expected);
    CHECK(parse_time(expected) == t);
  }
}

TEST_CASE("clock: parse_time reads RFC 3339, dates and Unix seconds", "[clock]")
{
  CHECK(parse_time("2026-11-29T20:29:00Z") == 1795984140);
  CHECK(parse_time("2026-11-29t20:29:00z") == 1795984140);
  CHECK(parse_time("2026-11-29 20:29:00Z") == 1795984140);
  CHECK(parse_time("2026-11-29T21:29:00+01:00") == 1795984140);
  CHECK(parse_time("2026-11-29T15:59:00-04:30") == 1795984140);
  CHECK(parse_time("2026-11-29T20:29:00.999Z") == 1795984140);
  CHECK(parse_time("2026-11-29") == 1795984140 - (20 * 3600 + 29 * 60));
  CHECK(parse_time("1795984140") == 1795984140);
  CHECK(parse_time("-1") == -1);
  CHECK(parse_time("2024-02-29") == 1709164800);
  for (Timestamp at : {Timestamp{0}, Timestamp{-86401}, Timestamp{1795984140}, Timestamp{253402300799}}) {
    CHECK(parse_time(format_time(at)) == at);
  }
}

TEST_CASE("clock: parse_time refuses what is not a time", "[clock]")
{
  for (const char* bad : {"", "now", "2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32", "2026-02-29", "2026-02-30",
                          "2100-02-29", "2026-04-31", "2026-11-29T24:00:00Z", "2026-11-29T20:60:00Z",
                          "2026-11-29T20:29:00", "2026-11-29T20:29Z", "2026-11-29T20:29:00Zjunk",
                          "2026-11-29T20:29:00+0100", "2026-11-29T20:29:00.Z", "2026/11/29", " 2026-11-29",
                          "12abc", "99999999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(parse_time(bad).has_value());
  }
}

TEST_CASE("clock: durations", "[clock]")
{
  CHECK(parse_duration("90s") == 90);
  CHECK(parse_duration("15m") == 900);
  CHECK(parse_duration("4h") == 4 * 3600);
  CHECK(parse_duration("30d") == 30 * 86400);
  CHECK(parse_duration("2w") == 14 * 86400);
  for (const char* bad : {"42", "4", "", "0", "0d", "-5m", "+5m", "5x", "d", "1.5h", "4 h", "99999999999999999999d", "9999999w"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
  CHECK(format_duration(86400) == "1d");
  CHECK(format_duration(5400) == "90m");
  CHECK(format_duration(14 * 86400) == "2w");
  CHECK(format_duration(7200) == "2h");
  CHECK(format_duration(61) == "61s");
  for (std::int64_t seconds : {1, 59, 60, 3600, 86400, 604800, 90061}) {
    CHECK(parse_duration(format_duration(seconds)) == seconds);
  }
  CHECK(describe_duration(3 * 86400 + 4 * 3600 + 5) == "3d 4h");
  CHECK(describe_duration(3600 + 120) == "1h 2m");
  CHECK(describe_duration(300) == "5m");
  CHECK(describe_duration(12) == "12s");
  CHECK(describe_duration(-300) == "-5m");
}

TEST_CASE("clock: every time escrow writes it reads back, up to 9999-12-31T23:59:59Z", "[clock][hostile]")
{
  for (Timestamp at : {k_min_time, Timestamp{-1}, Timestamp{0}, k_max_time - 1, k_max_time}) {
    INFO(at);
    CHECK(parse_time(format_stored_time(at)) == at);
  }
  CHECK_THROWS_AS(format_stored_time(k_max_time + 1), Error);
  CHECK_THROWS_AS(format_stored_time(k_min_time - 1), Error);
  for (const char* bad : {"253402300800", "300000000000", "9999-12-31T23:30:00-01:00", "-62167219201",
                          "0000-01-01T00:30:00+01:00"}) {
    INFO(bad);
    CHECK_FALSE(parse_time(bad).has_value());
  }
  CHECK(parse_time("253402300799") == k_max_time);
  CHECK(parse_time("9999-12-31T23:59:59Z") == k_max_time);
  // The longest duration, from the last representable "now", is refused, not written.
  CHECK(parse_duration("5217w").has_value());
  CHECK_FALSE(parse_duration("5218w").has_value());
  CHECK_FALSE(parse_duration("1800000w").has_value());
  CHECK(later_time(k_max_time - 3600, 3600, "x") == k_max_time);
  CHECK_THROWS_AS(later_time(k_max_time - 3600, 3601, "x"), Error);
  CHECK_THROWS_AS(later_time(k_max_time, 1, "x"), Error);
}

TEST_CASE("clock: durations on the command line need a unit", "[clock][hostile]")
{
  CHECK(parse_duration_option("4h", "--ttl") == 4 * 3600);
  try {
    parse_duration_option("4", "request: --ttl");
    FAIL("a bare number was accepted");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::usage);
    CHECK(std::string(error.what()).find("--ttl") != std::string::npos);
    REQUIRE(error.hints().size() == 1);
    CHECK(error.hints()[0].find("a unit is required: 4s, 4m, 4h, 4d or 4w") != std::string::npos);
  }
  CHECK_THROWS_AS(parse_duration_option("1800000w", "policy set: --max-ttl"), Error);
}

// Found by tests/fuzz (fuzz_time, fuzz_duration; corpus crash-* files).
TEST_CASE("clock: every time parse_time reads, format_time writes and parse_time reads back", "[clock][fuzz]")
{
  // Unix seconds and offsets that reach past 9999 or before 0000 used to be read, then written
  // with a five-digit or negative year that no reader accepts.
  for (const char* beyond : {"764464444640", "253402300800", "-62167219201", "9223372036854775807",
                             "-9223372036854775808", "9999-12-31T23:59:59-00:01", "0000-01-01T00:00:00+00:01",
                             "9999-12-31T23:59:60Z"}) {
    INFO(beyond);
    CHECK_FALSE(parse_time(beyond).has_value());
  }
  for (const char* edge : {"253402300799", "-62167219200", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
                           "9999-12-31T22:59:59-01:00", "0000-01-01T01:00:00+01:00", "-1", "0"}) {
    INFO(edge);
    const auto at = parse_time(edge);
    REQUIRE(at.has_value());
    CHECK(parse_time(format_time(*at)) == at);
  }
  CHECK(parse_time("9999-12-31T23:59:59Z") == 253402300799);
  CHECK(parse_time("0000-01-01T00:00:00Z") == -62167219200);
}

TEST_CASE("clock: describe_duration takes any count, INT64_MIN included", "[clock][fuzz]")
{
  // -INT64_MIN overflowed (undefined behaviour, reported by UBSan).
  CHECK(describe_duration(std::numeric_limits<std::int64_t>::min()) == "-106751991167300d 15h");
  CHECK(describe_duration(std::numeric_limits<std::int64_t>::max()) == "106751991167300d 15h");
}

TEST_CASE("clock: ESCROW_NOW fixes the clock, an unreadable one is a usage error", "[clock]")
{
  CHECK(Clock::from_setting("2026-11-29T20:29:00Z").now() == 1795984140);
  CHECK(Clock::from_setting("1000").now() == 1000);
  const std::string message = escrow::test::require_error(ErrorKind::usage, [] { (void)Clock::from_setting("yesterday"); });
  CHECK_THAT(message, Catch::StartsWith("ESCROW_NOW"));
  const Timestamp before = Clock::from_setting("").now();
  CHECK(before > 1700000000);
  CHECK(Clock::fixed(5).now() == 5);
}
