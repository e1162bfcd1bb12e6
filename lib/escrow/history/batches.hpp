// Independent work over [0, count) in bounded batches, on the calling thread and at most one
// worker thread (issue 12 target 5: the replay's parse and signature checks on 2 cores).
//
// Batches are claimed in order (an atomic counter), each by exactly one thread, so every item is
// computed once and its result does not depend on which thread ran it: the caller reads item i
// only after wait_for(i), and decides everything (findings, their order) itself, in its own order.
// While it waits, the calling thread claims the next unclaimed batch and runs it rather than
// sleeping, so one core (or a busy worker) still makes progress. The work must not throw; if it
// does, the exception is re-thrown by wait_for/finish on the calling thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace escrow::history {

class Batches
{
public:
  using Work = std::function<void(std::size_t begin, std::size_t end)>;

  // The worker threads to use besides the caller: hardware threads - 1, at most 1 (0 on one
  // core). The environment variable ESCROW_THREADS (1 or 2) overrides it (tests, bench).
  static unsigned default_workers();

  // Starts `workers` threads (0: everything runs on the caller, in wait_for/finish).
  Batches(std::size_t count, std::size_t batch, Work work, unsigned workers = default_workers());
  Batches(const Batches&) = delete;
  Batches& operator=(const Batches&) = delete;
  ~Batches(); // stops claiming, joins (never throws)

  // Returns once item i is computed (i < count).
  void wait_for(std::size_t i);
  // Returns once every item is computed, and joins the workers.
  void finish();

  std::size_t count() const { return m_count; }

private:
  bool run_next(); // claims and runs one batch; false when none is left
  void run(std::size_t b);
  void rethrow();

  std::size_t m_count;
  std::size_t m_batch;
  std::size_t m_batches;
  Work m_work;
  std::unique_ptr<std::atomic<std::uint32_t>[]> m_done;
  std::atomic<std::size_t> m_next{0};
  std::atomic<bool> m_stop{false};
  std::mutex m_error_mutex;
  std::exception_ptr m_error;
  std::thread m_worker;
};

// fn(i) for every i in [0, count): on the calling thread alone below `parallel_from` items (a
// worker costs more than it saves), else in batches of `batch` on it and at most one worker. Every
// item runs; if any throw, the exception of the first in index order is rethrown once all have
// run (the one a loop in order would have met first). fn(i) must write only item i's results.
void for_each_index(std::size_t count, const std::function<void(std::size_t)>& fn, std::size_t parallel_from = 64,
                    std::size_t batch = 16);

} // namespace escrow::history
