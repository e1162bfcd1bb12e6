// Crash-safe file replacement and bounded reads.
//
// AtomicFile writes to a uniquely named temp file in the target's folder (O_EXCL, 0600),
// and commit() fsyncs it, renames it over the target and fsyncs the folder. The destructor
// never commits: an exception or a crash leaves the old file untouched and at most a stale
// ".<name>.tmp.*" file, which cleanup_stale_temps() removes under the vault lock.
#pragma once

#include <cstddef>
#include <filesystem>
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
  void commit();

private:
  std::filesystem::path m_target;
  std::filesystem::path m_temp;
  int m_fd = -1;
  bool m_committed = false;
};

// Reads a whole file of at most max_size bytes. Throws Error(io) when it cannot be read and
// Error(integrity) when it is larger than max_size; messages name the file.
std::string read_file(const std::filesystem::path& path, std::size_t max_size);

// Appends to a file with O_APPEND and fdatasync (the journal). Creates it 0600 if missing.
void append_durably(const std::filesystem::path& path, std::string_view data);

// Creates a new file with O_EXCL (never overwrites) and the given mode, fsyncs it.
void create_exclusive(const std::filesystem::path& path, std::string_view data, unsigned mode = 0600);

// Removes ".<name>.tmp.*" leftovers of killed writers next to `target`.
void cleanup_stale_temps(const std::filesystem::path& target);

void fsync_directory(const std::filesystem::path& directory);

} // namespace escrow
