// In-process CLI test fixture: a temp directory with its own HOME and state, identities made
// on demand, and run() that calls the real command-line front end and captures its output.
#pragma once

#include <commands/cli.hpp>

#include <escrow/atomic_file.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace escrow::test {

struct Result
{
  int code = 0;
  std::string out;
  std::string err;
};

class Fixture
{
public:
  Fixture()
  {
    char pattern[] = "/tmp/escrow-test-XXXXXX";
    m_dir = ::mkdtemp(pattern);
    ::setenv("HOME", m_dir.c_str(), 1);
    ::setenv("XDG_STATE_HOME", (m_dir / "state").c_str(), 1);
    ::setenv("XDG_CONFIG_HOME", (m_dir / "config").c_str(), 1);
    ::setenv("ESCROW_KDF", "fast", 1);
    ::setenv("NO_COLOR", "1", 1);
    ::setenv("ESCROW_LOCK_WAIT", "5", 1);
    for (const char* name : {"ESCROW_VAULT", "ESCROW_IDENTITY", "ESCROW_IDENTITY_DATA", "ESCROW_PASSPHRASE_FILE",
                             "ESCROW_NOW"}) {
      ::unsetenv(name);
    }
    ::setenv("ESCROW_VAULT", (m_dir / "escrow.vault").c_str(), 1);
  }
  ~Fixture()
  {
    std::error_code ignored;
    std::filesystem::remove_all(m_dir, ignored);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  const std::filesystem::path& dir() const { return m_dir; }
  std::filesystem::path path(const std::string& name) const { return m_dir / name; }
  std::filesystem::path vault() const { return m_dir / "escrow.vault"; }
  std::filesystem::path journal() const { return m_dir / "escrow.journal"; }
  std::string read(const std::string& name) const { return read_file(m_dir / name, 1 << 30); }

  // Runs escrow with `args`; `stdin_text` (if any) becomes fd 0 for the duration.
  Result run(std::vector<std::string> args, const std::string* stdin_text = nullptr) const
  {
    int saved = -1;
    if (stdin_text != nullptr) {
      const auto input = m_dir / ".stdin";
      {
        std::FILE* f = std::fopen(input.c_str(), "wb");
        std::fwrite(stdin_text->data(), 1, stdin_text->size(), f);
        std::fclose(f);
      }
      saved = ::dup(0);
      const int fd = ::open(input.c_str(), O_RDONLY);
      ::dup2(fd, 0);
      ::close(fd);
    }
    std::ostringstream out;
    std::ostringstream err;
    Result result;
    result.code = escrow::cli::run(args, out, err);
    if (saved >= 0) {
      ::dup2(saved, 0);
      ::close(saved);
    }
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  // `as` names an identity made with identity(): runs with --identity <dir>/<as>.id.
  Result as(const std::string& member, std::vector<std::string> args, const std::string* stdin_text = nullptr) const
  {
    args.insert(args.begin(), {"--identity", (m_dir / (member + ".id")).string()});
    return run(std::move(args), stdin_text);
  }

  // Creates <dir>/<name>.id (no passphrase) and <dir>/<name>.pub.
  void identity(const std::string& name) const
  {
    const auto id = m_dir / (name + ".id");
    REQUIRE(run({"identity", "new", "--name", name, "--no-passphrase", "--out", id.string()}).code == 0);
    const Result pub = run({"--identity", id.string(), "identity", "show", "--public"});
    REQUIRE(pub.code == 0);
    std::FILE* f = std::fopen((m_dir / (name + ".pub")).c_str(), "wb");
    std::fwrite(pub.out.data(), 1, pub.out.size(), f);
    std::fclose(f);
  }

  // alice: genesis admin (admin, approver, requester; all envs). Others added with roles/envs.
  void init(const std::string& admin = "alice") const
  {
    identity(admin);
    REQUIRE(as(admin, {"init"}).code == 0);
  }

  void member(const std::string& name,
              const std::vector<std::string>& roles,
              const std::vector<std::string>& envs,
              const std::string& admin = "alice") const
  {
    identity(name);
    std::vector<std::string> args{"member", "add", (m_dir / (name + ".pub")).string()};
    for (const auto& role : roles) {
      args.insert(args.end(), {"--role", role});
    }
    for (const auto& env : envs) {
      args.insert(args.end(), {"--env", env});
    }
    const Result result = as(admin, args);
    INFO(result.err);
    REQUIRE(result.code == 0);
  }

  // Adds ENV/NAME with `value` as `owner`; extra args appended.
  void add(const std::string& owner,
           const std::string& name,
           const std::string& value,
           std::vector<std::string> extra = {}) const
  {
    std::vector<std::string> args{"add", name, "--purpose", "test"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Result result = as(owner, args, &value);
    INFO(result.err);
    REQUIRE(result.code == 0);
  }

private:
  std::filesystem::path m_dir;
};

} // namespace escrow::test
