// What every fuzz target shares (tests/fuzz/README.md). A target is one file, fuzz_<name>.cpp,
// defining LLVMFuzzerTestOneInput; tests/fuzz/CMakeLists.txt builds it twice: with libFuzzer
// (clang, -DESCROW_FUZZ=ON, scripts/fuzz) and, in every other build, with replay_main.cpp as
// the ctest `fuzz.<name>` that runs the committed corpus tests/fuzz/corpus/<name>/.
//
// The contract of a parser under fuzzing: every input ends in a value or an escrow::Error of
// the kind the parser documents (integrity for files, usage for command-line values). Any
// other exception, a crash, a sanitizer report or a broken round-trip property aborts with a
// line on stderr that says which property broke.
#pragma once

#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/identity.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unistd.h>

namespace escrow::fuzz {

// A property of the parser under test does not hold: report it and abort (libFuzzer keeps the
// input as a crash artifact; the replay driver names the file).
[[noreturn]] inline void broken(std::string_view property)
{
  std::fprintf(stderr, "escrow fuzz: property broken: %.*s\n", static_cast<int>(property.size()), property.data());
  std::abort();
}

inline void check(bool holds, std::string_view property)
{
  if (!holds) {
    broken(property);
  }
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

// Runs `action`. Returns true when it returns, false when it throws an escrow::Error of one of
// the `allowed` kinds (a rejection); aborts on any other outcome.
template<typename Action>
bool accepted(std::initializer_list<ErrorKind> allowed, Action&& action)
{
  try {
    action();
    return true;
  } catch (const Error& error) {
    for (const ErrorKind kind : allowed) {
      if (error.kind() == kind) {
        const std::string_view message = error.what();
        check(std::none_of(message.begin(), message.end(),
                           [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }),
              "an error message is one line of text (no control character)");
        return false;
      }
    }
    std::fprintf(stderr, "escrow fuzz: unexpected Error(%s): %s\n", kind_name(error.kind()), error.what());
    std::abort();
  } catch (const std::exception& other) {
    std::fprintf(stderr, "escrow fuzz: not an escrow::Error: %s\n", other.what());
    std::abort();
  }
}

// Runs `action`, which must succeed (what a parser wrote, it must read back).
template<typename Action>
void must(std::string_view property, Action&& action)
{
  try {
    action();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "escrow fuzz: %s\n", error.what());
    broken(property);
  }
}

// Inputs whose round trip was checked in this process. The replay driver (ctest fuzz.<name>)
// fails when the committed corpus checks none: a round-trip property never exercised proves
// nothing.
inline std::size_t g_round_trips = 0;
inline void round_tripped()
{
  ++g_round_trips;
}

inline void start()
{
  static const bool started = [] {
    crypto::init();
    return true;
  }();
  (void)started;
}

inline std::string text(const std::uint8_t* data, std::size_t size)
{
  return size == 0 ? std::string() : std::string(reinterpret_cast<const char*>(data), size);
}

inline std::string slurp(const std::filesystem::path& path)
{
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    std::fprintf(stderr, "escrow fuzz: cannot read %s\n", path.c_str());
    std::abort();
  }
  std::string out;
  char buffer[4096];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    out.append(buffer, got);
  }
  std::fclose(file);
  return out;
}

// A regular file in a private temp folder, rewritten for each input: for the readers that take
// a path (the keys file reader maps the file).
class ScratchFile
{
public:
  explicit ScratchFile(std::string name)
  {
    static const std::filesystem::path folder = [] {
      const char* tmp = std::getenv("TMPDIR");
      std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/escrow-fuzz-XXXXXX";
      if (::mkdtemp(pattern.data()) == nullptr) {
        std::fprintf(stderr, "escrow fuzz: cannot create a temp folder: %s\n", std::strerror(errno));
        std::abort();
      }
      return std::filesystem::path(pattern);
    }();
    m_path = folder / name;
  }
  ~ScratchFile()
  {
    std::error_code ignored;
    std::filesystem::remove(m_path, ignored);
    std::filesystem::remove(m_path.parent_path(), ignored); // only once empty
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::filesystem::path& write(std::string_view bytes)
  {
    std::filesystem::create_directories(m_path.parent_path());
    const int fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    std::size_t done = 0;
    while (fd >= 0 && done < bytes.size()) {
      const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (wrote <= 0) {
        break;
      }
      done += static_cast<std::size_t>(wrote);
    }
    if (fd < 0 || done != bytes.size() || ::close(fd) != 0) {
      std::fprintf(stderr, "escrow fuzz: cannot write %s\n", m_path.c_str());
      std::abort();
    }
    return m_path;
  }
  const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
};

// The golden files (tests/data/escrow-vault-1): alice, the genesis admin, has a clear identity,
// so a target can re-sign a vault she heads; carol's is sealed with a known passphrase.
inline std::filesystem::path golden(const std::string& name)
{
  return std::filesystem::path(ESCROW_SOURCE_DIR) / "tests/data/escrow-vault-1" / name;
}

inline const Identity& golden_alice()
{
  static const Identity alice = [] {
    Identity out;
    must("the golden alice.id opens", [&] {
      out = open_identity(canonical::parse(slurp(golden("alice.id")), "alice.id"), nullptr, "alice.id");
    });
    return out;
  }();
  return alice;
}

} // namespace escrow::fuzz
