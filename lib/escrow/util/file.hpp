// Opening files safely in a folder others may write to (a git checkout, say). Knows nothing of
// escrow's domain; every file escrow opens goes through here (atomic_file, lock, journal, vault
// reader, identity, pins).
//
// - Never blocks on open: O_NONBLOCK, then fstat; a FIFO, socket, device or folder is refused
//   ("not a regular file (a FIFO)") before a single byte is read, then O_NONBLOCK is cleared.
// - Links::refuse adds O_NOFOLLOW: a symbolic link as the last component is refused ("is a
//   symbolic link; escrow does not follow it"), never followed, never replaced. Files escrow
//   writes, and the vault's own files, are opened so. Links::follow is for files a person names
//   to be read (an identity, a public identity, a passphrase file).
// - A file created here is created with O_CREAT|O_EXCL or O_NOFOLLOW in the folder opened once
//   (openat), so a link planted between two steps is never followed.
// Errors are Error(io) naming the path.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace escrow::util {

enum class Links { refuse, follow };

// An owned descriptor.
class FileHandle
{
public:
  FileHandle() = default;
  explicit FileHandle(int fd) : m_fd(fd) {}
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  FileHandle(FileHandle&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  FileHandle& operator=(FileHandle&& other) noexcept;
  ~FileHandle();

  int get() const { return m_fd; }
  // Gives up ownership.
  int release() { return std::exchange(m_fd, -1); }
  bool valid() const { return m_fd >= 0; }
  // close(2); returns its errno (0 when it succeeded).
  int close();

private:
  int m_fd = -1;
};

// Opens an existing regular file. `access` is O_RDONLY, O_WRONLY or O_RDWR (plus O_APPEND).
FileHandle open_regular(const std::filesystem::path& path, int access, Links links);
// The same, but a missing file (ENOENT) gives nullopt.
std::optional<FileHandle> open_regular_if_exists(const std::filesystem::path& path, int access, Links links);
// Opens a regular file, creating it with `mode` when missing; never follows a symbolic link.
FileHandle open_or_create_regular(const std::filesystem::path& path, int access, unsigned mode);
// The folder holding `path` ("." for a bare name), opened O_DIRECTORY (it may be reached through
// links: only the last component is the concern of the functions above).
FileHandle open_parent(const std::filesystem::path& path);

// What is at `path` itself (lstat): the file type, or nullopt when nothing is there.
enum class Kind { regular, symlink, other };
std::optional<Kind> kind_of(const std::filesystem::path& path);
// Throws Error(io) unless `path` is missing or a regular file (a symlink or FIFO planted in
// place of a file escrow is about to create).
void refuse_special(const std::filesystem::path& path);

// Reads a whole open file of at most max_size bytes (Error(integrity) when larger).
std::string read_all(const FileHandle& file, const std::filesystem::path& path, std::size_t max_size);
// write(2) until done; Error(io) naming the path (ENOSPC, EIO, ...).
void write_all(const FileHandle& file, const std::filesystem::path& path, std::string_view data);

} // namespace escrow::util
