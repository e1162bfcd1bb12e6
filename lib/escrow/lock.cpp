#include <escrow/error.hpp>
#include <escrow/lock.hpp>
#include <escrow/util/file.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace escrow {

FileLock::FileLock(const std::filesystem::path& lock_path, std::chrono::milliseconds wait)
{
  // Never through a symbolic link, never a FIFO (util/file.hpp): a planted lock must not make
  // escrow write into another file, nor hang.
  m_fd = util::open_or_create_regular(lock_path, O_RDWR, 0600).release();
  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto pause = std::chrono::milliseconds(2);
  while (::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      const int saved = errno;
      ::close(m_fd);
      m_fd = -1;
      fail(ErrorKind::io, "{}: cannot lock: {}", lock_path.string(), std::strerror(saved));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      char holder[128] = {};
      const ssize_t got = ::pread(m_fd, holder, sizeof(holder) - 1, 0);
      std::string who = got > 0 ? std::string(holder, static_cast<std::size_t>(got)) : "unknown";
      while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) {
        who.pop_back();
      }
      ::close(m_fd);
      m_fd = -1;
      throw Error(ErrorKind::io,
                  fmt::format("{}: the vault is locked by another escrow process ({}); gave up after {} s",
                              lock_path.string(), who, wait.count() / 1000))
        .hint("set ESCROW_LOCK_WAIT=SECONDS to wait longer");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  char host[64] = {};
  ::gethostname(host, sizeof(host) - 1);
  const std::string who = fmt::format("pid {} on {}\n", ::getpid(), host);
  // The holder's name is a courtesy: only written into a file no other name links to.
  struct stat info{};
  if (::fstat(m_fd, &info) == 0 && info.st_nlink == 1 && ::ftruncate(m_fd, 0) == 0) {
    (void)!::pwrite(m_fd, who.data(), who.size(), 0);
  }
}

FileLock::FileLock(FileLock&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}

FileLock::~FileLock()
{
  if (m_fd >= 0) {
    ::flock(m_fd, LOCK_UN);
    ::close(m_fd);
  }
}

std::chrono::milliseconds parse_lock_wait(std::string_view setting)
{
  if (!setting.empty()) {
    const std::string value(setting);
    char* end = nullptr;
    const double seconds = std::strtod(value.c_str(), &end);
    if (end != value.c_str() && *end == '\0' && seconds >= 0 && seconds < 86400) {
      return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    }
    fail(ErrorKind::usage, "ESCROW_LOCK_WAIT: not a number of seconds");
  }
  return std::chrono::seconds(30);
}

} // namespace escrow
