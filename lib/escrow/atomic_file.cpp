#include <escrow/atomic_file.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace escrow {

namespace fs = std::filesystem;

namespace {

std::string temp_prefix(const fs::path& target)
{
  std::string prefix = ".";
  prefix += target.filename().string();
  prefix += ".tmp.";
  return prefix;
}

void write_all(int fd, std::string_view data, const fs::path& path)
{
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(ErrorKind::io, "{}: cannot write: {}", path.string(), std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
}

std::string random_suffix()
{
  static constexpr char k_digits[] = "0123456789abcdef";
  const Bytes random = crypto::random_bytes(8);
  std::string out;
  for (const std::uint8_t b : random) {
    out.push_back(k_digits[b >> 4]);
    out.push_back(k_digits[b & 15]);
  }
  return out;
}

fs::path parent_of(const fs::path& path)
{
  fs::path parent = path.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

} // namespace

AtomicFile::AtomicFile(fs::path target, unsigned mode) : m_target(std::move(target))
{
  for (int attempt = 0; attempt < 16; ++attempt) {
    m_temp = parent_of(m_target)
             / (temp_prefix(m_target) + std::to_string(::getpid()) + "."
                + random_suffix());
    m_fd = ::open(m_temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (m_fd >= 0 || errno != EEXIST) {
      break;
    }
  }
  if (m_fd < 0) {
    fail(ErrorKind::io, "{}: cannot create a temporary file beside it: {}", m_target.string(),
         std::strerror(errno));
  }
}

AtomicFile::~AtomicFile()
{
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  if (!m_committed) {
    ::unlink(m_temp.c_str());
  }
}

void AtomicFile::write(std::string_view data)
{
  write_all(m_fd, data, m_target);
}

void AtomicFile::commit()
{
  if (::fsync(m_fd) != 0) {
    fail(ErrorKind::io, "{}: cannot sync: {}", m_target.string(), std::strerror(errno));
  }
  ::close(m_fd);
  m_fd = -1;
  if (::rename(m_temp.c_str(), m_target.c_str()) != 0) {
    fail(ErrorKind::io, "{}: cannot replace: {}", m_target.string(), std::strerror(errno));
  }
  m_committed = true;
  fsync_directory(parent_of(m_target));
}

std::string read_file(const fs::path& path, std::size_t max_size)
{
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail(ErrorKind::io, "{}: cannot open: {}", path.string(), std::strerror(errno));
  }
  struct stat info{};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(ErrorKind::io, "{}: not a regular file", path.string());
  }
  if (static_cast<std::size_t>(info.st_size) > max_size) {
    ::close(fd);
    fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", path.string(), max_size);
  }
  std::string data;
  data.resize(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  while (true) {
    if (done == data.size()) {
      // The file may have grown since fstat: read on, within the limit.
      if (data.size() >= max_size) {
        char probe = 0;
        const ssize_t extra = ::read(fd, &probe, 1);
        if (extra > 0) {
          ::close(fd);
          fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", path.string(), max_size);
        }
        break;
      }
      data.resize(std::min(max_size, data.size() + 65536));
    }
    const ssize_t got = ::read(fd, data.data() + done, data.size() - done);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int saved = errno;
      ::close(fd);
      fail(ErrorKind::io, "{}: cannot read: {}", path.string(), std::strerror(saved));
    }
    if (got == 0) {
      break;
    }
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  data.resize(done);
  return data;
}

void append_durably(const fs::path& path, std::string_view data)
{
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    fail(ErrorKind::io, "{}: cannot open for appending: {}", path.string(), std::strerror(errno));
  }
  try {
    write_all(fd, data, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::fdatasync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    fail(ErrorKind::io, "{}: cannot sync: {}", path.string(), std::strerror(saved));
  }
  ::close(fd);
}

void create_exclusive(const fs::path& path, std::string_view data, unsigned mode)
{
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      fail(ErrorKind::usage, "{}: already exists; refusing to overwrite", path.string());
    }
    fail(ErrorKind::io, "{}: cannot create: {}", path.string(), std::strerror(errno));
  }
  try {
    write_all(fd, data, path);
    if (::fsync(fd) != 0) {
      fail(ErrorKind::io, "{}: cannot sync: {}", path.string(), std::strerror(errno));
    }
  } catch (...) {
    ::close(fd);
    ::unlink(path.c_str());
    throw;
  }
  ::close(fd);
  fsync_directory(parent_of(path));
}

void cleanup_stale_temps(const fs::path& target)
{
  const std::string prefix = temp_prefix(target);
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(parent_of(target), error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) {
      fs::remove(entry.path(), error);
    }
  }
}

void fsync_directory(const fs::path& directory)
{
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  ::fsync(fd);
  ::close(fd);
}

} // namespace escrow
