#include <escrow/clock.hpp>
#include <escrow/error.hpp>

#include <charconv>
#include <chrono>
#include <cstdlib>

namespace escrow {

namespace {

bool read_int(std::string_view text, std::int64_t& out)
{
  if (text.empty()) {
    return false;
  }
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d)
{
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d)
{
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

bool digits(std::string_view text, std::size_t pos, std::size_t count, unsigned& out)
{
  if (pos + count > text.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    out = out * 10 + static_cast<unsigned>(text[i] - '0');
  }
  return true;
}

} // namespace

Clock Clock::from_setting(std::string_view setting)
{
  Clock clock;
  if (!setting.empty()) {
    const auto at = parse_time(setting);
    if (!at) {
      throw Error(ErrorKind::usage,
                  "ESCROW_NOW: not an RFC 3339 time or Unix seconds up to 9999-12-31T23:59:59Z");
    }
    clock.m_fixed = *at;
  }
  return clock;
}

Clock Clock::fixed(Timestamp at)
{
  Clock clock;
  clock.m_fixed = at;
  return clock;
}

Timestamp Clock::now() const
{
  if (m_fixed) {
    return *m_fixed;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string format_time(Timestamp at)
{
  std::int64_t days = at / 86400;
  std::int64_t rest = at % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  std::int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civil_from_days(days, y, m, d);
  if (y < 0 || y > 9999) {
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                       y, m, d, rest / 3600, (rest / 60) % 60, rest % 60);
  }
  // The same text without fmt (every journal line's ts is written again when it is read).
  std::string out = "0000-00-00T00:00:00Z";
  const auto put = [&out](std::size_t where, std::int64_t value, std::size_t digits) {
    for (std::size_t i = digits; i-- > 0; value /= 10) {
      out[where + i] = static_cast<char>('0' + value % 10);
    }
  };
  put(0, y, 4);
  put(5, m, 2);
  put(8, d, 2);
  put(11, rest / 3600, 2);
  put(14, (rest / 60) % 60, 2);
  put(17, rest % 60, 2);
  return out;
}

std::string format_stored_time(Timestamp at)
{
  if (at < k_min_time || at > k_max_time) {
    throw Error(ErrorKind::usage, fmt::format("time {}: past 9999-12-31T23:59:59Z, the last time escrow can write",
                                              format_time(at)));
  }
  return format_time(at);
}

std::optional<Timestamp> parse_time(std::string_view text)
{
  std::int64_t seconds = 0;
  if (read_int(text, seconds)) {
    if (seconds < k_min_time || seconds > k_max_time) {
      return std::nullopt;
    }
    return seconds;
  }
  unsigned year = 0;
  unsigned month = 0;
  unsigned day = 0;
  if (!digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, month)
      || text[7] != '-' || !digits(text, 8, 2, day) || month < 1 || month > 12 || day < 1
      || day > 31) {
    return std::nullopt;
  }
  // No 2026-02-30: the day must exist in its month.
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  static constexpr unsigned k_month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > k_month_days[month - 1] + (month == 2 && leap ? 1u : 0u)) {
    return std::nullopt;
  }
  const std::int64_t date = days_from_civil(year, month, day) * 86400;
  if (text.size() == 10) {
    return date;
  }
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
  if ((text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !digits(text, 11, 2, hour)
      || text.size() < 19 || text[13] != ':' || !digits(text, 14, 2, minute) || text[16] != ':'
      || !digits(text, 17, 2, second) || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      ++pos;
    }
    if (pos == start) {
      return std::nullopt;
    }
  }
  std::int64_t offset = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    unsigned oh = 0;
    unsigned om = 0;
    if (!digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':'
        || !digits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (text[pos] == '+' ? 1 : -1) * static_cast<std::int64_t>(oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  const Timestamp at = date + hour * 3600 + minute * 60 + second - offset;
  if (at < k_min_time || at > k_max_time) {
    return std::nullopt; // "9999-12-31T23:30:00-01:00" is in year 10000
  }
  return at;
}

std::optional<std::int64_t> parse_duration(std::string_view text)
{
  if (text.empty()) {
    return std::nullopt;
  }
  std::int64_t unit = 1;
  std::string_view number = text;
  switch (text.back()) {
  case 's': unit = 1; break;
  case 'm': unit = 60; break;
  case 'h': unit = 3600; break;
  case 'd': unit = 86400; break;
  case 'w': unit = 7 * 86400; break;
  default: unit = 0; break;
  }
  if (unit == 0) {
    return std::nullopt; // "4" is not "4s": a unit is required
  }
  number = text.substr(0, text.size() - 1);
  std::int64_t value = 0;
  if (!read_int(number, value) || value <= 0 || value > k_max_duration / unit) {
    return std::nullopt;
  }
  return value * unit;
}

std::int64_t parse_duration_option(std::string_view text, std::string_view option)
{
  if (const auto seconds = parse_duration(text)) {
    return *seconds;
  }
  Error error(ErrorKind::usage, fmt::format("{} must be a duration such as 30m, 4h or 1d (not \"{}\")", option, text));
  std::int64_t number = 0;
  if (read_int(text, number)) {
    error.hint(fmt::format("a unit is required: {0}s, {0}m, {0}h, {0}d or {0}w", text));
  } else {
    error.hint("units: s, m, h, d, w; at most 100 years (5217w)");
  }
  throw error;
}

Timestamp later_time(Timestamp at, std::int64_t seconds, std::string_view what)
{
  if (seconds > k_max_time - at) {
    throw Error(ErrorKind::usage, fmt::format("{}: {} after {} is past 9999-12-31T23:59:59Z", what,
                                              describe_duration(seconds), format_time(at)));
  }
  return at + seconds;
}

std::string format_duration(std::int64_t seconds)
{
  if (seconds > 0 && seconds % (7 * 86400) == 0) {
    return fmt::format("{}w", seconds / (7 * 86400));
  }
  if (seconds > 0 && seconds % 86400 == 0) {
    return fmt::format("{}d", seconds / 86400);
  }
  if (seconds > 0 && seconds % 3600 == 0) {
    return fmt::format("{}h", seconds / 3600);
  }
  if (seconds > 0 && seconds % 60 == 0) {
    return fmt::format("{}m", seconds / 60);
  }
  return fmt::format("{}s", seconds);
}

std::string describe_duration(std::int64_t signed_seconds)
{
  const bool negative = signed_seconds < 0;
  // The magnitude, unsigned: -INT64_MIN does not fit an int64.
  const std::uint64_t seconds =
    negative ? std::uint64_t{0} - static_cast<std::uint64_t>(signed_seconds) : static_cast<std::uint64_t>(signed_seconds);
  std::string out;
  if (seconds >= 86400) {
    out = fmt::format("{}d", seconds / 86400);
    if (seconds % 86400 >= 3600) {
      out += fmt::format(" {}h", (seconds % 86400) / 3600);
    }
  } else if (seconds >= 3600) {
    out = fmt::format("{}h", seconds / 3600);
    if (seconds % 3600 >= 60) {
      out += fmt::format(" {}m", (seconds % 3600) / 60);
    }
  } else if (seconds >= 60) {
    out = fmt::format("{}m", seconds / 60);
  } else {
    out = fmt::format("{}s", seconds);
  }
  return negative ? "-" + out : out;
}

} // namespace escrow
