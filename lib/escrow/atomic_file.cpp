#include <escrow/atomic_file.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/util/file.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

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
  // A symlink or FIFO planted where the file goes is refused, not silently replaced.
  util::refuse_special(m_target);
  m_folder = util::open_parent(m_target);
  for (int attempt = 0; attempt < 16; ++attempt) {
    m_temp = temp_prefix(m_target) + std::to_string(::getpid()) + "." + random_suffix();
    const int fd = ::openat(m_folder.get(), m_temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) {
      m_file = util::FileHandle(fd);
      break;
    }
    if (errno != EEXIST) {
      break;
    }
  }
  if (!m_file.valid()) {
    fail(ErrorKind::io, "{}: cannot create a temporary file beside it: {}", m_target.string(),
         std::strerror(errno));
  }
}

AtomicFile::~AtomicFile()
{
  m_file.close();
  if (!m_committed && !m_temp.empty() && m_folder.valid()) {
    ::unlinkat(m_folder.get(), m_temp.c_str(), 0);
  }
}

void AtomicFile::write(std::string_view data)
{
  util::write_all(m_file, m_target, data);
}

void AtomicFile::write(std::span<const std::string_view> parts)
{
  std::vector<iovec> iov;
  iov.reserve(std::min<std::size_t>(parts.size(), IOV_MAX));
  std::size_t next = 0; // the first part not yet in iov
  while (next < parts.size() || !iov.empty()) {
    while (iov.size() < IOV_MAX && next < parts.size()) {
      if (!parts[next].empty()) {
        iov.push_back(iovec{const_cast<char*>(parts[next].data()), parts[next].size()});
      }
      ++next;
    }
    if (iov.empty()) {
      break;
    }
    const ssize_t n = ::writev(m_file.get(), iov.data(), static_cast<int>(iov.size()));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(ErrorKind::io, "{}: cannot write: {}", m_target.string(), std::strerror(errno));
    }
    if (n == 0) {
      fail(ErrorKind::io, "{}: cannot write: nothing was written", m_target.string());
    }
    // Drop what was written: whole iovecs, then the front of a partly written one.
    auto left = static_cast<std::size_t>(n);
    std::size_t done = 0;
    while (done < iov.size() && left >= iov[done].iov_len) {
      left -= iov[done].iov_len;
      ++done;
    }
    iov.erase(iov.begin(), iov.begin() + static_cast<std::ptrdiff_t>(done));
    if (left > 0) {
      iov.front().iov_base = static_cast<char*>(iov.front().iov_base) + left;
      iov.front().iov_len -= left;
    }
  }
}

std::uint64_t AtomicFile::copy(const util::FileHandle& from, const fs::path& from_path, std::uint64_t offset,
                               std::uint64_t length)
{
  std::uint64_t done = 0;
  bool kernel = true;
  std::string buffer;
  while (done < length) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(length - done, std::uint64_t{1} << 30));
    ssize_t n = -1;
    if (kernel) {
      auto in = static_cast<loff_t>(offset + done);
      n = ::copy_file_range(from.get(), &in, m_file.get(), nullptr, want, 0);
      if (n < 0 && errno != EINTR) {
        kernel = false; // a filesystem (or kernel) that cannot: read and write it here
        continue;
      }
    } else {
      buffer.resize(std::min<std::size_t>(want, std::size_t{1} << 20));
      n = ::pread(from.get(), buffer.data(), buffer.size(), static_cast<off_t>(offset + done));
      if (n > 0) {
        util::write_all(m_file, m_target, std::string_view(buffer.data(), static_cast<std::size_t>(n)));
      } else if (n < 0 && errno != EINTR) {
        fail(ErrorKind::io, "{}: cannot be read: {}", from_path.string(), std::strerror(errno));
      }
    }
    if (n == 0) {
      break; // `from` ends here
    }
    if (n > 0) {
      done += static_cast<std::uint64_t>(n);
    }
  }
  return done;
}

void AtomicFile::sync()
{
  if (!m_file.valid()) {
    return;
  }
  if (::fsync(m_file.get()) != 0) {
    fail(ErrorKind::io, "{}: cannot sync: {}", m_target.string(), std::strerror(errno));
  }
  if (const int error = m_file.close(); error != 0) {
    fail(ErrorKind::io, "{}: cannot write: {}", m_target.string(), std::strerror(error));
  }
}

void AtomicFile::commit(Folder folder)
{
  sync();
  const std::string name = m_target.filename().string();
  if (::renameat(m_folder.get(), m_temp.c_str(), m_folder.get(), name.c_str()) != 0) {
    fail(ErrorKind::io, "{}: cannot replace: {}", m_target.string(), std::strerror(errno));
  }
  m_committed = true;
  // The rename is the commit point; syncing the folder makes it durable (best effort: the
  // new file is complete and in place either way).
  if (folder == Folder::sync) {
    ::fsync(m_folder.get());
  }
}

std::string read_file(const fs::path& path, std::size_t max_size, util::Links links)
{
  const util::FileHandle file = util::open_regular(path, O_RDONLY, links);
  return util::read_all(file, path, max_size);
}

std::uint64_t append_durably(const fs::path& path, std::string_view data)
{
  const util::FileHandle file = util::open_or_create_regular(path, O_WRONLY | O_APPEND, 0644);
  struct stat info{};
  if (::fstat(file.get(), &info) != 0) {
    fail(ErrorKind::io, "{}: cannot stat: {}", path.string(), std::strerror(errno));
  }
  const auto before = static_cast<std::uint64_t>(info.st_size);
  try {
    util::write_all(file, path, data);
    if (::fdatasync(file.get()) != 0) {
      fail(ErrorKind::io, "{}: cannot sync: {}", path.string(), std::strerror(errno));
    }
  } catch (const Error&) {
    // Never leave a torn fragment: cut the file back to where this append began.
    if (::ftruncate(file.get(), static_cast<off_t>(before)) == 0) {
      ::fdatasync(file.get());
    }
    throw;
  }
  return before;
}

void truncate_durably(const fs::path& path, std::uint64_t size)
{
  const util::FileHandle file = util::open_regular(path, O_WRONLY, util::Links::refuse);
  if (::ftruncate(file.get(), static_cast<off_t>(size)) != 0 || ::fdatasync(file.get()) != 0) {
    fail(ErrorKind::io, "{}: cannot undo the last append: {}", path.string(), std::strerror(errno));
  }
}

void create_exclusive(const fs::path& path, std::string_view data, unsigned mode)
{
  const util::FileHandle folder = util::open_parent(path);
  const std::string name = path.filename().string();
  const int fd = ::openat(folder.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      fail(ErrorKind::usage, "{}: already exists; refusing to overwrite", path.string());
    }
    fail(ErrorKind::io, "{}: cannot create: {}", path.string(), std::strerror(errno));
  }
  util::FileHandle file(fd);
  try {
    util::write_all(file, path, data);
    if (::fsync(file.get()) != 0) {
      fail(ErrorKind::io, "{}: cannot sync: {}", path.string(), std::strerror(errno));
    }
    if (const int error = file.close(); error != 0) {
      fail(ErrorKind::io, "{}: cannot write: {}", path.string(), std::strerror(error));
    }
  } catch (...) {
    file.close();
    ::unlinkat(folder.get(), name.c_str(), 0);
    throw;
  }
  ::fsync(folder.get());
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
