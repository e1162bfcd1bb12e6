#include <escrow/error.hpp>
#include <escrow/util/file.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace escrow::util {

namespace fs = std::filesystem;

namespace {

std::string_view type_name(mode_t mode)
{
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  if (S_ISCHR(mode) || S_ISBLK(mode)) {
    return "a device";
  }
  if (S_ISDIR(mode)) {
    return "a folder";
  }
  if (S_ISLNK(mode)) {
    return "a symbolic link";
  }
  return "a special file";
}

[[noreturn]] void refuse_link(const fs::path& path)
{
  throw Error(ErrorKind::io, fmt::format("{}: is a symbolic link; escrow does not follow it", path.string()))
    .hint("give the real path of the file (see docs/SECURITY.md, planted files)");
}

[[noreturn]] void refuse_type(const fs::path& path, mode_t mode)
{
  fail(ErrorKind::io, "{}: not a regular file ({})", path.string(), type_name(mode));
}

// After open: a regular file, else refused; O_NONBLOCK cleared.
FileHandle checked(FileHandle file, const fs::path& path)
{
  struct stat info{};
  if (::fstat(file.get(), &info) != 0) {
    fail(ErrorKind::io, "{}: cannot stat: {}", path.string(), std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    refuse_type(path, info.st_mode);
  }
  const int flags = ::fcntl(file.get(), F_GETFL);
  if (flags < 0 || ::fcntl(file.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    fail(ErrorKind::io, "{}: cannot set blocking mode: {}", path.string(), std::strerror(errno));
  }
  return file;
}

[[noreturn]] void open_failed(const fs::path& path, int error, Links links)
{
  if (error == ELOOP && links == Links::refuse) {
    refuse_link(path);
  }
  if (error == ENXIO) {
    // O_WRONLY|O_NONBLOCK on a FIFO nobody reads.
    refuse_type(path, S_IFIFO);
  }
  fail(ErrorKind::io, "{}: cannot open: {}", path.string(), std::strerror(error));
}

int open_flags(int access, Links links)
{
  return access | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (links == Links::refuse ? O_NOFOLLOW : 0);
}

} // namespace

FileHandle& FileHandle::operator=(FileHandle&& other) noexcept
{
  if (this != &other) {
    close();
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

FileHandle::~FileHandle()
{
  close();
}

int FileHandle::close()
{
  if (m_fd < 0) {
    return 0;
  }
  const int result = ::close(std::exchange(m_fd, -1));
  return result == 0 ? 0 : errno;
}

std::optional<FileHandle> open_regular_if_exists(const fs::path& path, int access, Links links)
{
  const int fd = ::open(path.c_str(), open_flags(access, links));
  if (fd < 0) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    open_failed(path, errno, links);
  }
  return checked(FileHandle(fd), path);
}

FileHandle open_regular(const fs::path& path, int access, Links links)
{
  auto file = open_regular_if_exists(path, access, links);
  if (!file) {
    fail(ErrorKind::io, "{}: cannot open: {}", path.string(), std::strerror(ENOENT));
  }
  return std::move(*file);
}

FileHandle open_or_create_regular(const fs::path& path, int access, unsigned mode)
{
  const FileHandle folder = open_parent(path);
  const std::string name = path.filename().string();
  const int fd = ::openat(folder.get(), name.c_str(), open_flags(access, Links::refuse) | O_CREAT, mode);
  if (fd < 0) {
    open_failed(path, errno, Links::refuse);
  }
  return checked(FileHandle(fd), path);
}

FileHandle open_parent(const fs::path& path)
{
  fs::path parent = path.parent_path();
  if (parent.empty()) {
    parent = ".";
  }
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    fail(ErrorKind::io, "{}: cannot open its folder {}: {}", path.string(), parent.string(), std::strerror(errno));
  }
  return FileHandle(fd);
}

std::optional<Kind> kind_of(const fs::path& path)
{
  struct stat info{};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return std::nullopt;
    }
    fail(ErrorKind::io, "{}: cannot stat: {}", path.string(), std::strerror(errno));
  }
  if (S_ISREG(info.st_mode)) {
    return Kind::regular;
  }
  return S_ISLNK(info.st_mode) ? Kind::symlink : Kind::other;
}

void refuse_special(const fs::path& path)
{
  struct stat info{};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) {
      return;
    }
    fail(ErrorKind::io, "{}: cannot stat: {}", path.string(), std::strerror(errno));
  }
  if (S_ISLNK(info.st_mode)) {
    refuse_link(path);
  }
  if (!S_ISREG(info.st_mode)) {
    refuse_type(path, info.st_mode);
  }
}

std::string read_all(const FileHandle& file, const fs::path& path, std::size_t max_size)
{
  struct stat info{};
  if (::fstat(file.get(), &info) != 0) {
    fail(ErrorKind::io, "{}: cannot stat: {}", path.string(), std::strerror(errno));
  }
  if (static_cast<std::size_t>(info.st_size) > max_size) {
    fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", path.string(), max_size);
  }
  std::string data(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t done = 0;
  while (true) {
    if (done == data.size()) {
      // The file may have grown since fstat: read on, within the limit.
      if (data.size() >= max_size) {
        char probe = 0;
        if (::read(file.get(), &probe, 1) > 0) {
          fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", path.string(), max_size);
        }
        break;
      }
      data.resize(std::min(max_size, data.size() + 65536));
    }
    const ssize_t got = ::read(file.get(), data.data() + done, data.size() - done);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(ErrorKind::io, "{}: cannot read: {}", path.string(), std::strerror(errno));
    }
    if (got == 0) {
      break;
    }
    done += static_cast<std::size_t>(got);
  }
  data.resize(done);
  return data;
}

void write_all(const FileHandle& file, const fs::path& path, std::string_view data)
{
  while (!data.empty()) {
    const ssize_t written = ::write(file.get(), data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(ErrorKind::io, "{}: cannot write: {}", path.string(), std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
}

} // namespace escrow::util
