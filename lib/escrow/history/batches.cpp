#include <escrow/history/batches.hpp>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace escrow::history {

unsigned Batches::default_workers()
{
  if (const char* env = std::getenv("ESCROW_THREADS")) {
    const std::string_view v(env);
    if (v == "1") {
      return 0;
    }
    if (v == "2") {
      return 1;
    }
  }
  return std::thread::hardware_concurrency() >= 2 ? 1 : 0;
}

Batches::Batches(std::size_t count, std::size_t batch, Work work, unsigned workers)
  : m_count(count), m_batch(std::max<std::size_t>(batch, 1)), m_batches((count + m_batch - 1) / m_batch),
    m_work(std::move(work)), m_done(new std::atomic<std::uint32_t>[m_batches == 0 ? 1 : m_batches])
{
  for (std::size_t b = 0; b < m_batches; ++b) {
    m_done[b].store(0, std::memory_order_relaxed);
  }
  if (workers > 0 && m_batches > 1) {
    m_worker = std::thread([this] {
      while (!m_stop.load(std::memory_order_relaxed) && run_next()) {
      }
    });
  }
}

Batches::~Batches()
{
  m_stop.store(true);
  if (m_worker.joinable()) {
    m_worker.join();
  }
}

bool Batches::run_next()
{
  const std::size_t b = m_next.fetch_add(1);
  if (b >= m_batches) {
    return false;
  }
  run(b);
  return true;
}

void Batches::run(std::size_t b)
{
  try {
    m_work(b * m_batch, std::min(m_count, (b + 1) * m_batch));
  } catch (...) {
    const std::lock_guard<std::mutex> lock(m_error_mutex);
    if (!m_error) {
      m_error = std::current_exception();
    }
  }
  m_done[b].store(1, std::memory_order_release);
  m_done[b].notify_all();
}

void Batches::rethrow()
{
  const std::lock_guard<std::mutex> lock(m_error_mutex);
  if (m_error) {
    std::rethrow_exception(m_error);
  }
}

void Batches::wait_for(std::size_t i)
{
  const std::size_t b = i / m_batch;
  while (m_done[b].load(std::memory_order_acquire) == 0) {
    // Help rather than sleep: the next unclaimed batch (the one wanted, one before it, or, when
    // the worker is running the one wanted, one after it), so both threads stay busy while the
    // caller's own sequential work (the fold) is ahead of the computed items.
    if (!run_next()) {
      m_done[b].wait(0, std::memory_order_acquire); // nothing left to claim: the worker runs it
    }
  }
  rethrow();
}

void for_each_index(std::size_t count, const std::function<void(std::size_t)>& fn, std::size_t parallel_from,
                    std::size_t batch)
{
  std::vector<std::exception_ptr> errors(count);
  const auto work = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      try {
        fn(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  if (count < parallel_from) {
    work(0, count);
  } else {
    Batches batches(count, batch, work);
    batches.finish();
  }
  for (const std::exception_ptr& error : errors) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
}

void Batches::finish()
{
  while (run_next()) {
  }
  for (std::size_t b = 0; b < m_batches; ++b) {
    while (m_done[b].load(std::memory_order_acquire) == 0) {
      m_done[b].wait(0, std::memory_order_acquire);
    }
  }
  if (m_worker.joinable()) {
    m_worker.join();
  }
  rethrow();
}

} // namespace escrow::history
