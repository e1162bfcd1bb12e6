#include <escrow/error.hpp>
#include <escrow/util/terminal.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

namespace escrow::util {

bool is_terminal(int fd)
{
  return ::isatty(fd) == 1;
}

std::optional<SecretBytes> read_hidden_line(std::string_view prompt)
{
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return std::nullopt;
  }
  struct termios saved{};
  const bool have_termios = ::tcgetattr(fd, &saved) == 0;
  if (have_termios) {
    struct termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  (void)!::write(fd, prompt.data(), prompt.size());
  SecretBytes line(1024);
  std::size_t length = 0;
  while (length < line.size()) {
    char c = 0;
    const ssize_t got = ::read(fd, &c, 1);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0 || c == '\n' || c == '\r') {
      break;
    }
    line.expose_mut()[length++] = static_cast<std::uint8_t>(c);
  }
  if (have_termios) {
    ::tcsetattr(fd, TCSAFLUSH, &saved);
  }
  ::close(fd);
  line.resize(length);
  return line;
}

SecretBytes read_stdin_secret(std::size_t max_size)
{
  SecretBytes buffer(std::min<std::size_t>(max_size + 1, 4096));
  std::size_t length = 0;
  while (true) {
    if (length == buffer.size()) {
      if (buffer.size() > max_size) {
        fail(ErrorKind::usage, "standard input: value larger than the limit of {} bytes", max_size);
      }
      buffer.resize(std::min(buffer.size() * 2, max_size + 1));
    }
    const ssize_t got = ::read(0, buffer.expose_mut().data() + length, buffer.size() - length);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(ErrorKind::io, "standard input: cannot read: {}", std::strerror(errno));
    }
    if (got == 0) {
      break;
    }
    length += static_cast<std::size_t>(got);
  }
  if (length > max_size) {
    fail(ErrorKind::usage, "standard input: value larger than the limit of {} bytes", max_size);
  }
  buffer.resize(length);
  return buffer;
}

SecretBytes read_secret_line_file(const std::filesystem::path& path, std::size_t max_size)
{
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    fail(ErrorKind::io, "{}: cannot open: {}", path.string(), std::strerror(errno));
  }
  struct stat info{};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(ErrorKind::io, "{}: not a regular file", path.string());
  }
  SecretBytes buffer(max_size + 1);
  std::size_t length = 0;
  while (length < buffer.size()) {
    const ssize_t got = ::read(fd, buffer.expose_mut().data() + length, buffer.size() - length);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      const int saved = errno;
      ::close(fd);
      fail(ErrorKind::io, "{}: cannot read: {}", path.string(), std::strerror(saved));
    }
    if (got == 0) {
      break;
    }
    length += static_cast<std::size_t>(got);
  }
  ::close(fd);
  if (length > max_size) {
    fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", path.string(), max_size);
  }
  const auto bytes = buffer.expose();
  while (length > 0 && (bytes[length - 1] == '\n' || bytes[length - 1] == '\r')) {
    --length;
  }
  buffer.resize(length);
  return buffer;
}

} // namespace escrow::util
