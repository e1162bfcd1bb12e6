// The time axis of the HTML report's timeline: round ticks whose unit is chosen by the span
// (a minute to decades), with labels that are distinct and say no more than the unit needs
// ("14:10", "Dec 3", "Mar 2026", "2027"); the first tick, and a tick where the day (or year)
// changes, carry the larger unit too ("Dec 1 14:00"). All in UTC.
#pragma once

#include <escrow/clock.hpp>

#include <string>
#include <vector>

namespace escrow::audit {

struct Tick
{
  Timestamp at = 0;
  std::string label;
};

struct TimeAxis
{
  Timestamp from = 0; // the plotted domain, a little wider than the events
  Timestamp to = 0;
  std::string unit;   // "10 minutes", "1 day", "1 month", …
  std::vector<Tick> ticks;
};

// An axis over events from `first` to `last` (inclusive) with at most `max_ticks` ticks.
TimeAxis time_axis(Timestamp first, Timestamp last, std::size_t max_ticks = 8);

} // namespace escrow::audit
