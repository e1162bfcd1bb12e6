// Helpers shared by the foundation tests (canonical, crypto, vault, session, golden, CLI):
// error-kind checks that fail on any other exception type, temp folders, file snapshots, and
// the locations of the golden files and the test vectors (all inside the repository).
#pragma once

#include <test_paths.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>

namespace escrow::test {

// The error an action throws: nullopt when it throws nothing. Any exception other than
// escrow::Error fails the test (a crash or an internal error is never an answer).
template<typename Action>
std::optional<Error> error_of(Action&& action)
{
  try {
    action();
  } catch (const Error& error) {
    return error;
  } catch (const std::exception& other) {
    FAIL("not an escrow::Error: " << other.what());
  } catch (...) {
    FAIL("not an escrow::Error: unknown exception");
  }
  return std::nullopt;
}

inline const char* kind_name(ErrorKind kind)
{
  switch (kind) {
  case ErrorKind::failed: return "failed";
  case ErrorKind::usage: return "usage";
  case ErrorKind::integrity: return "integrity";
  case ErrorKind::access: return "access";
  case ErrorKind::io: return "io";
  }
  return "?";
}

// REQUIREs that `action` throws an escrow::Error of `kind`; returns its message.
template<typename Action>
std::string require_error(ErrorKind kind, Action&& action)
{
  const auto error = error_of(std::forward<Action>(action));
  REQUIRE(error.has_value());
  INFO("message: " << error->what());
  REQUIRE(std::string(kind_name(error->kind())) == kind_name(kind));
  return error->what();
}

inline std::string source_path(const std::string& relative)
{
  return std::string(ESCROW_SOURCE_DIR) + "/" + relative;
}

inline std::string slurp(const std::filesystem::path& path)
{
  return read_file(path, std::size_t{1} << 30);
}

inline void spit(const std::filesystem::path& path, std::string_view text)
{
  std::FILE* file = std::fopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(std::fwrite(text.data(), 1, text.size(), file) == text.size());
  std::fclose(file);
}

// A temp folder removed with everything in it.
class TempDir
{
public:
  TempDir()
  {
    char pattern[] = "/tmp/escrow-unit-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    REQUIRE(made != nullptr);
    m_path = made;
  }
  ~TempDir()
  {
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

private:
  std::filesystem::path m_path;
};

// The exact bytes of every regular file under a folder, excluding lock files (a command may
// create one without changing anything) and the CLI fixture's ".stdin" stand-in.
inline std::map<std::string, std::string> snapshot(const std::filesystem::path& folder)
{
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file() && entry.path().extension() != ".lock" && entry.path().filename() != ".stdin") {
      files[std::filesystem::relative(entry.path(), folder).string()] = slurp(entry.path());
    }
  }
  return files;
}

// The golden files of format escrow-vault/1 (tests/data/generate.sh, kept forever).
inline std::filesystem::path golden_dir()
{
  return source_path("tests/data/escrow-vault-1");
}

} // namespace escrow::test
