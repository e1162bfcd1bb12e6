// The vault lock: an exclusive flock(2) on the sidecar "<vault>.lock" (never on the vault
// itself: fcntl locks vanish when any descriptor of the file closes). The kernel drops the lock
// when its holder dies, so a killed writer never leaves a stale lock behind. The holder writes
// "pid@host" into the file so a waiter that gives up can say who holds it.
#pragma once

#include <chrono>
#include <filesystem>

namespace escrow {

class FileLock
{
public:
  // Waits up to `wait` (ESCROW_LOCK_WAIT seconds overrides the default at the call site),
  // then throws Error(io) naming the lock file and its holder.
  FileLock(const std::filesystem::path& lock_path, std::chrono::milliseconds wait);
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock();

private:
  int m_fd = -1;
};

// The wait a setting names in seconds (the CLI passes ESCROW_LOCK_WAIT); "" = the default 30 s.
// Error(usage) naming ESCROW_LOCK_WAIT when it is not a number of seconds under a day.
std::chrono::milliseconds parse_lock_wait(std::string_view setting);

} // namespace escrow
