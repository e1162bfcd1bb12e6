// audit/time_axis: round ticks chosen by span, with distinct labels.
#include "foundation_support.hpp"

#include <escrow/audit/time_axis.hpp>

#include <set>

using namespace escrow;
using namespace escrow::audit;

namespace {

std::vector<std::string> labels(const TimeAxis& axis)
{
  std::vector<std::string> out;
  for (const auto& tick : axis.ticks) {
    out.push_back(tick.label);
  }
  return out;
}

void check_sane(const TimeAxis& axis, Timestamp first, Timestamp last)
{
  REQUIRE(axis.from < first);
  REQUIRE(axis.to > last);
  REQUIRE(axis.ticks.size() >= 3);
  REQUIRE(axis.ticks.size() <= 8);
  std::set<std::string> distinct;
  for (std::size_t i = 0; i < axis.ticks.size(); ++i) {
    CHECK(axis.ticks[i].at >= axis.from);
    CHECK(axis.ticks[i].at <= axis.to);
    if (i > 0) {
      CHECK(axis.ticks[i].at > axis.ticks[i - 1].at);
    }
    distinct.insert(axis.ticks[i].label);
  }
  CHECK(distinct.size() == axis.ticks.size());
}

} // namespace

TEST_CASE("time axis: an hour gets minute ticks with the date on the first", "[audit][html]")
{
  const Timestamp first = *parse_time("2026-12-01T14:00:00Z");
  const Timestamp last = *parse_time("2026-12-01T15:00:00Z");
  const TimeAxis axis = time_axis(first, last);
  check_sane(axis, first, last);
  CHECK(axis.unit == "10 minutes");
  CHECK(labels(axis) == std::vector<std::string>{"Dec 1 14:00", "14:10", "14:20", "14:30", "14:40", "14:50", "15:00"});
}

TEST_CASE("time axis: a year gets month ticks, the year on the first and at a new year", "[audit][html]")
{
  const Timestamp first = *parse_time("2026-01-05T09:00:00Z");
  const Timestamp last = *parse_time("2026-12-20T09:00:00Z");
  const TimeAxis axis = time_axis(first, last);
  check_sane(axis, first, last);
  CHECK(axis.unit == "2 months");
  CHECK(labels(axis) ==
        std::vector<std::string>{"Jan 2026", "Mar 2026", "May 2026", "Jul 2026", "Sep 2026", "Nov 2026", "Jan 2027"});
  const TimeAxis months = time_axis(*parse_time("2026-02-10T00:00:00Z"), *parse_time("2026-08-20T00:00:00Z"));
  CHECK(months.unit == "1 month");
  CHECK(labels(months).front() == "Mar 2026");
  CHECK(labels(months).at(1) == "Apr");
  const TimeAxis across = time_axis(*parse_time("2026-06-01T00:00:00Z"), *parse_time("2027-05-01T00:00:00Z"));
  check_sane(across, *parse_time("2026-06-01T00:00:00Z"), *parse_time("2027-05-01T00:00:00Z"));
  bool new_year = false;
  for (const auto& label : labels(across)) {
    new_year = new_year || label.find("2027") != std::string::npos;
  }
  CHECK(new_year);
}

TEST_CASE("time axis: spans from a minute to decades stay readable", "[audit][html]")
{
  const Timestamp base = *parse_time("2026-03-10T08:30:00Z");
  for (const std::int64_t span : {std::int64_t{90}, std::int64_t{600}, std::int64_t{86400}, std::int64_t{3 * 86400},
                                  std::int64_t{30 * 86400}, std::int64_t{3 * 365 * 86400}, std::int64_t{40LL * 365 * 86400}}) {
    INFO("span " << span);
    check_sane(time_axis(base, base + span), base, base + span);
  }
  // One event alone: an hour around it.
  // Times of day never repeat over several days: each carries its date.
  const TimeAxis days = time_axis(base, base + 3 * 86400);
  CHECK(days.unit == "12 hours");
  CHECK(labels(days).at(1).find("Mar ") == 0);
  const TimeAxis single = time_axis(base, base);
  check_sane(single, base, base);
  CHECK(single.to - single.from == 3600);
}

TEST_CASE("time axis: a month gets day or week ticks with distinct dates", "[audit][html]")
{
  const TimeAxis axis = time_axis(*parse_time("2026-01-01T09:00:00Z"), *parse_time("2026-02-01T09:00:00Z"));
  check_sane(axis, *parse_time("2026-01-01T09:00:00Z"), *parse_time("2026-02-01T09:00:00Z"));
  CHECK(axis.unit == "1 week");
  CHECK(axis.ticks.front().label == "Jan 5, 2026"); // a Monday
}
