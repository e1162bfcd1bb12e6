#include <escrow/audit/time_axis.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

namespace escrow::audit {

namespace {

constexpr std::int64_t k_minute = 60;
constexpr std::int64_t k_hour = 3600;
constexpr std::int64_t k_day = 86400;
constexpr std::array<const char*, 12> k_months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct Civil
{
  std::int64_t year = 1970;
  unsigned month = 1; // 1-12
  unsigned day = 1;
  std::int64_t seconds = 0; // into the day
};

// Howard Hinnant's civil-from-days and days-from-civil (public domain algorithms).
Civil civil(Timestamp at)
{
  std::int64_t days = at / k_day;
  std::int64_t seconds = at % k_day;
  if (seconds < 0) {
    seconds += k_day;
    --days;
  }
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
  return Civil{year, month, day, seconds};
}

Timestamp from_civil(std::int64_t year, unsigned month, unsigned day)
{
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (era * 146097 + static_cast<std::int64_t>(doe) - 719468) * k_day;
}

enum class Calendar { fixed, month, year };

struct Unit
{
  std::int64_t step; // seconds (fixed), months or years
  Calendar calendar;
  std::int64_t approx; // seconds, to choose by span
  const char* name;
};

constexpr std::array<Unit, 23> k_units = {{
  {k_minute, Calendar::fixed, k_minute, "1 minute"},
  {2 * k_minute, Calendar::fixed, 2 * k_minute, "2 minutes"},
  {5 * k_minute, Calendar::fixed, 5 * k_minute, "5 minutes"},
  {10 * k_minute, Calendar::fixed, 10 * k_minute, "10 minutes"},
  {15 * k_minute, Calendar::fixed, 15 * k_minute, "15 minutes"},
  {30 * k_minute, Calendar::fixed, 30 * k_minute, "30 minutes"},
  {k_hour, Calendar::fixed, k_hour, "1 hour"},
  {2 * k_hour, Calendar::fixed, 2 * k_hour, "2 hours"},
  {3 * k_hour, Calendar::fixed, 3 * k_hour, "3 hours"},
  {6 * k_hour, Calendar::fixed, 6 * k_hour, "6 hours"},
  {12 * k_hour, Calendar::fixed, 12 * k_hour, "12 hours"},
  {k_day, Calendar::fixed, k_day, "1 day"},
  {2 * k_day, Calendar::fixed, 2 * k_day, "2 days"},
  {7 * k_day, Calendar::fixed, 7 * k_day, "1 week"},
  {14 * k_day, Calendar::fixed, 14 * k_day, "2 weeks"},
  {1, Calendar::month, 30 * k_day, "1 month"},
  {2, Calendar::month, 61 * k_day, "2 months"},
  {3, Calendar::month, 91 * k_day, "3 months"},
  {6, Calendar::month, 182 * k_day, "6 months"},
  {1, Calendar::year, 365 * k_day, "1 year"},
  {2, Calendar::year, 730 * k_day, "2 years"},
  {5, Calendar::year, 1826 * k_day, "5 years"},
  {10, Calendar::year, 3652 * k_day, "10 years"},
}};

std::int64_t floor_div(std::int64_t a, std::int64_t b)
{
  return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
}

// `width`: the axis' span. A name that could come back within it (a month name over more than a
// year, a time of day over more than a day) always carries the larger unit, so labels are distinct.
std::string label(Timestamp at, const Unit& unit, const Civil* previous, std::int64_t width)
{
  const Civil c = civil(at);
  const std::string date = fmt::format("{} {}", k_months[c.month - 1], c.day);
  if (unit.calendar == Calendar::year) {
    return std::to_string(c.year);
  }
  if (unit.calendar == Calendar::month) {
    const bool with_year = previous == nullptr || previous->year != c.year || width > 360 * k_day;
    return with_year ? fmt::format("{} {}", k_months[c.month - 1], c.year) : std::string(k_months[c.month - 1]);
  }
  if (unit.step >= k_day) {
    const bool with_year = previous == nullptr || previous->year != c.year;
    return with_year ? fmt::format("{}, {}", date, c.year) : date;
  }
  const std::string time = fmt::format("{:02}:{:02}", c.seconds / k_hour, (c.seconds % k_hour) / k_minute);
  const bool new_day = previous == nullptr || previous->year != c.year || previous->month != c.month
                       || previous->day != c.day || width > k_day;
  return new_day ? date + " " + time : time;
}

} // namespace

TimeAxis time_axis(Timestamp first, Timestamp last, std::size_t max_ticks)
{
  if (last < first) {
    std::swap(first, last);
  }
  max_ticks = std::max<std::size_t>(max_ticks, 2);
  const std::int64_t span = last - first;
  // A little room on both sides, so the first and last marks are not on the frame.
  const std::int64_t pad = span == 0 ? 30 * k_minute : std::max<std::int64_t>(30, span / 30);
  TimeAxis axis;
  axis.from = first - pad;
  axis.to = last + pad;
  const std::int64_t width = axis.to - axis.from;
  const Unit* chosen = &k_units.back();
  for (const Unit& unit : k_units) {
    if (width / unit.approx + 1 <= static_cast<std::int64_t>(max_ticks)) {
      chosen = &unit;
      break;
    }
  }
  axis.unit = chosen->name;
  std::vector<Timestamp> at;
  if (chosen->calendar == Calendar::fixed) {
    // Weeks start on Monday (1970-01-05 was one); other units are aligned to the epoch in UTC.
    const std::int64_t offset = chosen->step % (7 * k_day) == 0 ? 4 * k_day : 0;
    for (std::int64_t t = (floor_div(axis.from - offset, chosen->step) + 1) * chosen->step + offset; t <= axis.to;
         t += chosen->step) {
      at.push_back(t);
    }
  } else {
    const Civil start = civil(axis.from);
    std::int64_t index = chosen->calendar == Calendar::month ? start.year * 12 + (start.month - 1) : start.year;
    index = floor_div(index, chosen->step) * chosen->step;
    for (;; index += chosen->step) {
      const Timestamp t = chosen->calendar == Calendar::month
                            ? from_civil(floor_div(index, 12), static_cast<unsigned>(index - floor_div(index, 12) * 12) + 1, 1)
                            : from_civil(index, 1, 1);
      if (t > axis.to) {
        break;
      }
      if (t >= axis.from) {
        at.push_back(t);
      }
    }
  }
  std::optional<Civil> previous;
  for (const Timestamp t : at) {
    axis.ticks.push_back(Tick{t, label(t, *chosen, previous ? &*previous : nullptr, width)});
    previous = civil(t);
  }
  return axis;
}

} // namespace escrow::audit
