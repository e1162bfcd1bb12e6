// The log of verified entries of a cache place (cache.hpp), pulled one entry at a time.
//
// Cache::for_each_entry pushes every entry of the log to a callback; `audit verify` instead walks
// the log beside the journal it streams (issue 12 target 5: nothing held while the two agree), so
// it needs the same reading driven by the caller. for_each_entry is this reader read to its end.
#pragma once

#include <escrow/history/cache.hpp>

#include <cstdint>
#include <memory>

namespace escrow::history {

// The log of a cache place as `log` names it (a summary its load() or save() gave). The file is
// read by blocks as entries are taken (the memory held is one block). next() gives every entry
// in order and returns false after the last one, once the log's count, size and chain are
// checked; any problem is thrown (Error(integrity) naming entries.log) where for_each_entry
// throws it, so what was taken counts only once next() has returned false.
class LogReader
{
public:
  LogReader(const Cache& cache, const LogSummary& log);
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;
  ~LogReader();

  bool next(VerifiedEntry& out);
  std::uint64_t taken() const; // entries given by next() so far

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace escrow::history
