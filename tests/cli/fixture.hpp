// In-process CLI test fixture: a temp directory with its own HOME and state, identities made
// on demand, and run() that calls the real command-line front end and captures its output.
#pragma once

#include <commands/cli.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>
#include <escrow/session_options.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <map>
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
  // Every run gets this fixture's own environment (a map, never the process's: no setenv) and
  // stdin (a string, never fd 0: no dup2), through cli::Io.
  Fixture()
  {
    char pattern[] = "/tmp/escrow-test-XXXXXX";
    m_dir = ::mkdtemp(pattern);
    m_env["HOME"] = m_dir.string();
    m_env["XDG_STATE_HOME"] = (m_dir / "state").string();
    m_env["XDG_CONFIG_HOME"] = (m_dir / "config").string();
    m_env["ESCROW_KDF"] = "fast";
    m_env["NO_COLOR"] = "1";
    m_env["ESCROW_LOCK_WAIT"] = "5";
    m_env["ESCROW_VAULT"] = (m_dir / "escrow.vault").string();
    m_previous = s_current;
    s_current = this;
  }
  ~Fixture()
  {
    s_current = m_previous;
    std::error_code ignored;
    std::filesystem::remove_all(m_dir, ignored);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  // The fixture of the running test (for helpers such as a test file's at(TIME)).
  static const Fixture& current() { return *s_current; }

  const std::filesystem::path& dir() const { return m_dir; }
  std::filesystem::path path(const std::string& name) const { return m_dir / name; }
  std::filesystem::path vault() const { return m_dir / "escrow.vault"; }
  std::filesystem::path journal() const { return m_dir / "escrow.journal"; }
  std::string read(const std::string& name) const { return read_file(m_dir / name, 1 << 30); }

  // The environment the commands see.
  void set_env(const std::string& name, const std::string& value) const { m_env[name] = value; }
  void unset_env(const std::string& name) const { m_env.erase(name); }
  std::string env(const std::string& name) const
  {
    const auto it = m_env.find(name);
    return it == m_env.end() ? std::string() : it->second;
  }

  // Session options as the CLI would build them for `who` (<dir>/<who>.id), for set-ups the
  // CLI cannot make.
  SessionOptions options(const std::string& who) const
  {
    SessionOptions options;
    options.vault_path = vault();
    options.identity_path = path(who + ".id");
    options.state_dir = m_dir / "state" / "escrow";
    options.clock = Clock::from_setting(env("ESCROW_NOW"));
    options.lock_wait = std::chrono::seconds(5);
    return options;
  }

  // Runs escrow with `args`; `stdin_text` (if any) is its standard input.
  Result run(std::vector<std::string> args, const std::string* stdin_text = nullptr) const
  {
    cli::Io io;
    io.getenv = [this](const char* name) -> const char* {
      const auto it = m_env.find(name);
      return it == m_env.end() ? nullptr : it->second.c_str();
    };
    io.stdin_is_terminal = [] { return false; };
    const std::string input = stdin_text != nullptr ? *stdin_text : std::string();
    io.read_stdin = [input](std::size_t max_size) {
      if (input.size() > max_size) {
        fail(ErrorKind::usage, "standard input: value larger than the limit of {} bytes", max_size);
      }
      return SecretBytes::from(input);
    };
    io.read_hidden_line = [](std::string_view) -> std::optional<SecretBytes> { return std::nullopt; };
    std::ostringstream out;
    std::ostringstream err;
    Result result;
    result.code = escrow::cli::run(args, out, err, std::move(io));
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
  mutable std::map<std::string, std::string> m_env;
  const Fixture* m_previous = nullptr;
  static inline const Fixture* s_current = nullptr;
};

} // namespace escrow::test
