// ESCROW_THREADS for a scope (Batches::default_workers reads it): the tests that check a result
// does not depend on running on one thread or two.
#pragma once

#include <cstdlib>

namespace escrow::test {

class ScopedThreads
{
public:
  explicit ScopedThreads(const char* value) { ::setenv("ESCROW_THREADS", value, 1); }
  ~ScopedThreads() { ::unsetenv("ESCROW_THREADS"); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;
};

} // namespace escrow::test
