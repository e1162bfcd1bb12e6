// The replay on two threads (issue 12 target 5): lines parsed and signatures checked in batches
// (history/batches.hpp) ahead of the fold, with the same findings, in the same order, as on one
// thread: a forged signature at a batch boundary, in a batch the worker checks, and the earliest
// of two forged entries is the one reported.
#include "replay_support.hpp"
#include "threads_support.hpp"

#include <escrow/history/batches.hpp>

#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

using namespace replay_test;

namespace {

// The team's journal, then `count` reveal events by olive; the events at `forged` (0-based
// indexes among the events) signed by dave instead. Returns the journal and the 1-based lines of
// the forged events.
// The events at `big` carry a detail of ~80 KB (a line of its own parse batch: more than 64 KiB).
std::pair<std::string, std::vector<std::size_t>> long_journal(std::size_t count, const std::set<std::size_t>& forged,
                                                              const std::set<std::size_t>& big = {})
{
  World w = team();
  std::vector<std::size_t> lines;
  for (std::size_t i = 0; i < count; ++i) {
    Entry e = event(w, "olive", EventKind::reveal, w.heads);
    if (big.count(i) > 0) {
      Json detail = Json::object();
      for (char c = 'a'; c < 'a' + 20; ++c) {
        detail[std::string("fact_") + c] = std::string(4000, c);
      }
      e.detail = std::move(detail);
      seal_entry(e, w.id("olive"));
    }
    if (forged.count(i) > 0) {
      e.sig = w.id("dave").sign(labels::k_entry_sig, ByteView(e.hash.data(), e.hash.size()));
      lines.push_back(w.log.size() + 1);
    }
    w.log.push_back(e);
    w.heads = {e.hash};
  }
  return {journal_of(w.log), lines};
}

std::vector<std::string> described(const ReplayResult& r)
{
  std::vector<std::string> out;
  for (const Finding& f : r.findings) {
    out.push_back(std::string(finding_kind_name(f.kind)) + ": " + format_finding(f));
  }
  return out;
}

// The replay's findings on one thread and on two are the same, and the first problem is a forged
// signature at `line`.
void check_first_forged(const std::string& journal, std::size_t line, std::size_t signatures)
{
  ReplayResult one;
  {
    const escrow::test::ScopedThreads threads("1");
    one = replay(journal);
  }
  ReplayResult two;
  {
    const escrow::test::ScopedThreads threads("2");
    two = replay(journal);
  }
  INFO(describe(two));
  CHECK(described(one) == described(two));
  CHECK(one.signatures_checked == signatures);
  CHECK(two.signatures_checked == signatures);
  const Finding* first = two.first_problem();
  REQUIRE(first != nullptr);
  CHECK(first->kind == FindingKind::forged_signature);
  CHECK(first->line == line);
  try {
    two.require_ok();
    FAIL("require_ok accepted a forged journal");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::integrity);
    CHECK(std::string(error.what()).find(fmt::format("line {}:", line)) != std::string::npos);
  }
}

// An honest journal replays to the same state, in the same order, on one thread and on two.
void check_honest(const std::string& journal, std::size_t signatures)
{
  ReplayResult one;
  {
    const escrow::test::ScopedThreads threads("1");
    one = replay(journal);
  }
  const escrow::test::ScopedThreads threads("2");
  const ReplayResult two = replay(journal);
  CHECK(one.ok());
  CHECK(two.ok());
  CHECK(two.signatures_checked == signatures);
  CHECK(one.state.digest() == two.state.digest());
  CHECK(one.order == two.order);
}

} // namespace

TEST_CASE("replay on two threads: the batches run every item once, on either thread", "[history][replay][parallel]")
{
  for (const unsigned workers : {0U, 1U}) {
    const std::size_t count = 1000;
    std::vector<int> runs(count, 0);
    std::mutex mutex;
    std::set<std::thread::id> threads;
    Batches batches(count, 7, [&](std::size_t begin, std::size_t end) {
      {
        const std::lock_guard<std::mutex> lock(mutex);
        threads.insert(std::this_thread::get_id());
      }
      for (std::size_t i = begin; i < end; ++i) {
        ++runs[i];
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
    }, workers);
    // Out of order: the last item first (the caller helps with the batches before it).
    batches.wait_for(count - 1);
    batches.wait_for(0);
    batches.wait_for(500);
    batches.finish();
    CHECK(std::count(runs.begin(), runs.end(), 1) == static_cast<std::ptrdiff_t>(count));
    if (workers == 0) {
      CHECK(threads.size() == 1);
    }
  }
  SECTION("nothing to do")
  {
    Batches empty(0, 64, [](std::size_t, std::size_t) { FAIL("no batch"); }, 1);
    empty.finish();
  }
  SECTION("an exception in a batch is thrown on the calling thread")
  {
    Batches failing(100, 10, [](std::size_t begin, std::size_t) {
      if (begin == 50) {
        throw Error(ErrorKind::failed, "batch 5");
      }
    }, 1);
    CHECK_THROWS_WITH(failing.finish(), "batch 5");
  }
}

TEST_CASE("replay on two threads: the same findings as on one", "[history][replay][parallel]")
{
  // Signatures are checked 64 to a batch, in node order: the team's entries first.
  const std::size_t team_entries = team().log.size();
  const std::size_t events = 300;
  const std::size_t signatures = team_entries + events;

  SECTION("an honest journal")
  {
    const auto [journal, lines] = long_journal(events, {});
    check_honest(journal, signatures);
  }
  SECTION("a forged signature at a batch boundary (the last of a batch, the first of the next)")
  {
    for (const std::size_t job : {std::size_t{63}, std::size_t{64}, std::size_t{127}, std::size_t{128}}) {
      const std::size_t index = job - team_entries; // node order = journal order here
      const auto [journal, lines] = long_journal(events, {index});
      REQUIRE(lines.size() == 1);
      CHECK(lines[0] == job + 1);
      check_first_forged(journal, lines[0], signatures);
    }
  }
  SECTION("a forged signature in the last batch (the worker's, while the caller folds the first)")
  {
    const auto [journal, lines] = long_journal(events, {events - 1});
    check_first_forged(journal, lines[0], signatures);
  }
  SECTION("two forged entries: the earliest is reported, whichever thread checked it first")
  {
    // The later one in the first batch the worker takes, the earlier in the caller's first.
    const auto [journal, lines] = long_journal(events, {3, events - 2});
    REQUIRE(lines.size() == 2);
    check_first_forged(journal, lines[0], signatures);
    const escrow::test::ScopedThreads threads("2");
    const ReplayResult r = replay(journal);
    // The later one descends from the earlier (a linear journal): skipped, not reported again.
    CHECK(kinds_of(r) == std::vector<FindingKind>{FindingKind::forged_signature});
  }
  SECTION("lines of more than 64 KiB: parse batches of their own, the same findings")
  {
    // Four long lines side by side (one batch each), one more later; the forged one among them.
    const std::set<std::size_t> big{10, 11, 12, 13, 200};
    const auto [honest, none] = long_journal(events, {}, big);
    CHECK(lines_of(honest).at(team_entries + 11).size() > 64 * 1024);
    check_honest(honest, signatures);
    for (const std::size_t forged : {std::size_t{9}, std::size_t{12}, std::size_t{14}, std::size_t{200}}) {
      const auto [journal, lines] = long_journal(events, {forged}, big);
      REQUIRE(lines.size() == 1);
      check_first_forged(journal, lines[0], signatures);
    }
  }
  SECTION("a line that does not parse, among lines parsed on two threads")
  {
    auto [journal, lines] = long_journal(events, {});
    std::vector<std::string> text = lines_of(journal);
    const std::size_t bad = 100; // 0-based
    text[bad].insert(0, "{"); // not JSON
    const std::string edited = join(text);
    ReplayResult one;
    {
      const escrow::test::ScopedThreads threads("1");
      one = replay(edited);
    }
    const escrow::test::ScopedThreads threads("2");
    const ReplayResult two = replay(edited);
    CHECK(described(one) == described(two));
    const Finding* first = two.first_problem();
    REQUIRE(first != nullptr);
    CHECK(first->kind == FindingKind::malformed_entry);
    CHECK(first->line == bad + 1);
  }
}
