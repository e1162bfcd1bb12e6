// Crash-safe file replacement and bounded reads.
//
// AtomicFile writes to a uniquely named temp file in the target's folder (O_EXCL, 0600),
// and commit() fsyncs it, renames it over the target and fsyncs the folder. The destructor
// never commits: an exception or a crash leaves the old file untouched and at most a stale
// ".<name>.tmp.*" file, which cleanup_stale_temps() removes under the vault lock.
#pragma once

#include <escrow/util/file.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace escrow {

class AtomicFile
{
public:
  explicit AtomicFile(std::filesystem::path target, unsigned mode = 0600);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(std::string_view data);
  // Writes `parts` in order, as one write of their concatenation would (writev: no joined copy).
  void write(std::span<const std::string_view> parts);
  // Appends `length` bytes of `from` at `offset` (copy_file_range: the kernel copies them, nothing
  // passes through this process; read and written here where the filesystem cannot). Returns the
  // bytes copied: fewer than `length` only when `from` ends first. `from_path` names it in errors.
  std::uint64_t copy(const util::FileHandle& from, const std::filesystem::path& from_path, std::uint64_t offset,
                     std::uint64_t length);
  // fsync and close the temp file (what can fail with ENOSPC/EIO), without replacing anything.
  void sync();
  // Whether commit() makes the rename itself durable. Without the folder's fsync a crash can
  // leave the old file in place (never a torn or empty one: the temp file is synced first): for
  // files whose older version is still correct, such as a cache that is only behind.
  enum class Folder { sync, leave };
  // sync(), then rename over the target (the commit point), then (Folder::sync) fsync the folder.
  void commit(Folder folder = Folder::sync);

private:
  std::filesystem::path m_target;
  util::FileHandle m_folder; // the target's folder: the temp is created and renamed inside it
  std::string m_temp;        // the temp file's name in m_folder
  util::FileHandle m_file;
  bool m_committed = false;
};

// Reads a whole regular file of at most max_size bytes (util/file.hpp: never blocks, refuses a
// FIFO; a symbolic link is refused unless links == follow). Throws Error(io) when it cannot be
// read and Error(integrity) when it is larger than max_size; messages name the file.
std::string read_file(const std::filesystem::path& path,
                      std::size_t max_size,
                      util::Links links = util::Links::refuse);

// Appends to a file with O_APPEND and fdatasync (the journal); creates it 0644 if missing, never
// through a symbolic link. A failed write or sync cuts the file back to its size before the
// append (no torn fragment). Returns that size (what truncate_durably undoes to).
std::uint64_t append_durably(const std::filesystem::path& path, std::string_view data);
// Cuts `path` back to `size` bytes and syncs it (undoing an append whose command failed).
void truncate_durably(const std::filesystem::path& path, std::uint64_t size);

// Creates a new file with O_EXCL (never overwrites) and the given mode, fsyncs it.
void create_exclusive(const std::filesystem::path& path, std::string_view data, unsigned mode = 0600);

// Removes ".<name>.tmp.*" leftovers of killed writers next to `target`.
void cleanup_stale_temps(const std::filesystem::path& target);

void fsync_directory(const std::filesystem::path& directory);

} // namespace escrow
