#include <escrow/error.hpp>
#include <escrow/secret_bytes.hpp>
#include <escrow/util/process.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

using escrow::Error;
using escrow::ErrorKind;
using escrow::SecretBytes;
using escrow::util::OutputMode;
using escrow::util::ProcessResult;
using escrow::util::ProcessSpec;
using escrow::util::run_process;
using escrow::util::shell_argv;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

ProcessSpec shell(std::string_view command)
{
  ProcessSpec spec;
  spec.argv = shell_argv(command);
  return spec;
}

double seconds_since(Clock::time_point start)
{
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A process is gone once it no longer exists or is a zombie waiting for its reaper.
bool process_gone(pid_t pid)
{
  for (int i = 0; i < 100; ++i) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) {
      return true;
    }
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (std::getline(stat, line)) {
      const auto close_paren = line.rfind(')');
      if (close_paren != std::string::npos && close_paren + 2 < line.size()
          && line[close_paren + 2] == 'Z') {
        return true;
      }
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

class TempDir
{
public:
  TempDir()
  {
    std::string pattern = (std::filesystem::temp_directory_path() / "escrow-process-XXXXXX");
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    m_path = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(m_path); }
  const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
};

std::string read_file(const std::filesystem::path& path)
{
  std::string content;
  if (std::FILE* file = std::fopen(path.c_str(), "rb"); file != nullptr) {
    char buffer[4096];
    std::size_t got;
    while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
      content.append(buffer, got);
    }
    std::fclose(file);
  }
  return content;
}

// Points our fd 1 and 2 at files while a forward-mode run happens.
class RedirectStdio
{
public:
  explicit RedirectStdio(const std::filesystem::path& dir)
    : m_out(dir / "stdout"), m_err(dir / "stderr")
  {
    std::fflush(stdout);
    std::fflush(stderr);
    m_saved_out = ::dup(1);
    m_saved_err = ::dup(2);
    const int out = ::open(m_out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(m_err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::close(out);
    ::close(err);
  }
  ~RedirectStdio() { restore(); }
  void restore()
  {
    if (m_saved_out >= 0) {
      ::dup2(m_saved_out, 1);
      ::dup2(m_saved_err, 2);
      ::close(m_saved_out);
      ::close(m_saved_err);
      m_saved_out = m_saved_err = -1;
    }
  }
  std::string out() const { return read_file(m_out); }
  std::string err() const { return read_file(m_err); }

private:
  std::filesystem::path m_out;
  std::filesystem::path m_err;
  int m_saved_out = -1;
  int m_saved_err = -1;
};

} // namespace

TEST_CASE("run_process reports exit codes", "[process]")
{
  CHECK(run_process(shell("exit 0")).exit_code == 0);
  CHECK(run_process(shell("exit 3")).exit_code == 3);
  CHECK(run_process(shell("exit 255")).exit_code == 255);

  ProcessSpec spec;
  spec.argv = {"false"}; // found via PATH
  const ProcessResult result = run_process(spec);
  CHECK(result.exit_code == 1);
  CHECK(result.signal == 0);
  CHECK_FALSE(result.timed_out);
}

TEST_CASE("run_process reports death by signal as 128 + signal", "[process]")
{
  const ProcessResult result = run_process(shell("kill -TERM $$; sleep 5"));
  CHECK(result.signal == SIGTERM);
  CHECK(result.exit_code == 128 + SIGTERM);
  CHECK_FALSE(result.timed_out);

  const ProcessResult killed = run_process(shell("kill -KILL $$"));
  CHECK(killed.signal == SIGKILL);
  CHECK(killed.exit_code == 137);
}

TEST_CASE("run_process captures stdout and stderr separately", "[process]")
{
  const ProcessResult result =
    run_process(shell("printf 'to out\\n'; printf 'to err' >&2; printf 'more out'"));
  CHECK(result.exit_code == 0);
  CHECK(result.out == "to out\nmore out");
  CHECK(result.err == "to err");
}

TEST_CASE("run_process passes arguments verbatim", "[process]")
{
  ProcessSpec spec;
  spec.argv = {"printf", "[%s]", "a b", "", "$HOME", "'\"*"};
  CHECK(run_process(spec).out == "[a b][][$HOME]['\"*]");
  CHECK(shell_argv("echo hi") == std::vector<std::string>{"/bin/sh", "-c", "echo hi"});
}

TEST_CASE("a timeout kills the child and its grandchildren", "[process]")
{
  SECTION("a plain sleep")
  {
    ProcessSpec spec;
    spec.argv = {"sleep", "30"};
    spec.timeout = 300ms;
    const auto start = Clock::now();
    const ProcessResult result = run_process(spec);
    const double elapsed = seconds_since(start);
    CHECK(result.timed_out);
    CHECK(result.signal == SIGTERM);
    CHECK(result.exit_code == 128 + SIGTERM);
    CHECK(elapsed >= 0.29);
    CHECK(elapsed < 1.5);
  }
  SECTION("a shell waiting for a background grandchild")
  {
    ProcessSpec spec = shell("sleep 30 & echo $!; wait");
    spec.timeout = 300ms;
    const auto start = Clock::now();
    const ProcessResult result = run_process(spec);
    const double elapsed = seconds_since(start);
    CHECK(result.timed_out);
    CHECK(elapsed < 1.5);
    const pid_t grandchild = std::stoi(result.out);
    CHECK(process_gone(grandchild));
  }
  SECTION("a child ignoring SIGTERM gets SIGKILL after the grace period")
  {
    ProcessSpec spec = shell("trap '' TERM; sleep 30 & wait; wait");
    spec.timeout = 200ms;
    spec.kill_grace = 200ms;
    const auto start = Clock::now();
    const ProcessResult result = run_process(spec);
    const double elapsed = seconds_since(start);
    CHECK(result.timed_out);
    CHECK(result.signal == SIGKILL);
    CHECK(elapsed >= 0.39);
    CHECK(elapsed < 1.5);
  }
  SECTION("a fast child is not affected")
  {
    ProcessSpec spec = shell("printf done");
    spec.timeout = 5s;
    const ProcessResult result = run_process(spec);
    CHECK_FALSE(result.timed_out);
    CHECK(result.exit_code == 0);
    CHECK(result.out == "done");
  }
}

TEST_CASE("stdin is delivered exactly, binary bytes included", "[process]")
{
  std::mt19937 random(42);
  std::string bytes(300 * 1024, '\0'); // larger than a pipe buffer, both ways at once
  for (auto& c : bytes) {
    c = static_cast<char>(random() & 0xff);
  }
  bytes[0] = '\0';
  bytes[1] = '\xff';
  const SecretBytes input = SecretBytes::from(bytes);
  ProcessSpec spec;
  spec.argv = {"cat"};
  spec.stdin_data = &input;
  spec.capture_limit = bytes.size();
  const ProcessResult result = run_process(spec);
  CHECK(result.exit_code == 0);
  REQUIRE(result.out.size() == bytes.size());
  CHECK(result.out == bytes);

  SECTION("empty stdin_data is an immediate EOF")
  {
    const SecretBytes empty;
    ProcessSpec cat;
    cat.argv = {"cat"};
    cat.stdin_data = &empty;
    cat.timeout = 5s;
    const ProcessResult r = run_process(cat);
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK_FALSE(r.timed_out);
  }
  SECTION("no stdin_data in capture mode reads /dev/null")
  {
    ProcessSpec cat;
    cat.argv = {"cat"};
    cat.timeout = 5s;
    const ProcessResult r = run_process(cat);
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK_FALSE(r.timed_out);
  }
}

TEST_CASE("a child that does not read stdin neither hangs nor kills us", "[process]")
{
  const SecretBytes big(1024 * 1024);
  SECTION("exits at once")
  {
    ProcessSpec spec = shell("exit 0");
    spec.stdin_data = &big;
    spec.timeout = 10s;
    const ProcessResult result = run_process(spec);
    CHECK(result.exit_code == 0);
    CHECK_FALSE(result.timed_out);
  }
  SECTION("exits a little later")
  {
    ProcessSpec spec = shell("sleep 0.1; printf ok");
    spec.stdin_data = &big;
    spec.timeout = 10s;
    const ProcessResult result = run_process(spec);
    CHECK(result.exit_code == 0);
    CHECK(result.out == "ok");
  }
  SECTION("reads only a part")
  {
    ProcessSpec spec;
    spec.argv = {"head", "-c", "10"};
    spec.stdin_data = &big;
    spec.timeout = 10s;
    const ProcessResult result = run_process(spec);
    CHECK(result.exit_code == 0);
    CHECK(result.out == std::string(10, '\0'));
  }
}

TEST_CASE("extra_env and secret_env reach the child", "[process]")
{
  const SecretBytes secret = SecretBytes::from("s3cr=t value");
  const SecretBytes other = SecretBytes::from("second");
  ProcessSpec spec = shell("printf '%s|%s|%s|%s' \"$PLAIN\" \"$SECRET\" \"$BOTH\" \"$HOME\"");
  spec.extra_env = {{"PLAIN", "plain value"}, {"BOTH", "from extra"}, {"HOME", "/nowhere"}};
  spec.secret_env = {{"SECRET", &secret}, {"BOTH", &other}};
  const ProcessResult result = run_process(spec);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "plain value|s3cr=t value|second|/nowhere");

  SECTION("each name appears once")
  {
    ProcessSpec env;
    env.argv = {"env"};
    env.extra_env = {{"DUP", "1"}, {"DUP", "2"}};
    env.secret_env = {{"SDUP", &secret}, {"SDUP", &other}};
    const std::string out = run_process(env).out;
    CHECK(out.find("DUP=1\n") == std::string::npos);
    CHECK(out.find("\nDUP=2\n") != std::string::npos);
    CHECK(out.find("SDUP=s3cr=t value") == std::string::npos);
    CHECK(out.find("\nSDUP=second\n") != std::string::npos);
  }
  SECTION("the rest of our environment is inherited")
  {
    ::setenv("ESCROW_PROCESS_TEST_INHERITED", "yes", 1);
    const std::string out = run_process(shell("printf %s \"$ESCROW_PROCESS_TEST_INHERITED\"")).out;
    ::unsetenv("ESCROW_PROCESS_TEST_INHERITED");
    CHECK(out == "yes");
  }
  SECTION("a value that cannot be passed is refused without showing it")
  {
    const SecretBytes with_nul = SecretBytes::from(std::string_view("qq\0zz", 5));
    ProcessSpec bad = shell("true");
    bad.secret_env = {{"NUL_VALUE", &with_nul}};
    try {
      run_process(bad);
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::usage);
      CHECK(std::string(e.what()).find("NUL_VALUE") != std::string::npos);
      CHECK(std::string(e.what()).find("qq") == std::string::npos);
    }
    ProcessSpec bad_name = shell("true");
    bad_name.extra_env = {{"A=B", "x"}};
    CHECK_THROWS_AS(run_process(bad_name), Error);
  }
}

TEST_CASE("PATH lookup uses extra_env's PATH when given", "[process]")
{
  TempDir dir;
  const auto tool = dir.path() / "escrow-test-tool";
  {
    std::ofstream script(tool);
    script << "#!/bin/sh\nprintf 'tool:%s' \"$1\"\n";
  }
  std::filesystem::permissions(tool, std::filesystem::perms::owner_all);
  ProcessSpec spec;
  spec.argv = {"escrow-test-tool", "x"};
  spec.extra_env = {{"PATH", dir.path().string() + ":/usr/bin:/bin"}};
  CHECK(run_process(spec).out == "tool:x");

  spec.extra_env.clear();
  CHECK_THROWS_AS(run_process(spec), Error);
}

TEST_CASE("a program that cannot start is an io error naming it", "[process]")
{
  const SecretBytes secret = SecretBytes::from("do-not-print-me");
  const auto expect_io = [&](ProcessSpec spec, std::string_view name) {
    spec.secret_env = {{"TOKEN", &secret}};
    try {
      run_process(spec);
      FAIL("expected an error");
    } catch (const Error& e) {
      const std::string message = e.what();
      CHECK(e.kind() == ErrorKind::io);
      CHECK(message.find(name) != std::string::npos);
      CHECK(message.find("do-not-print-me") == std::string::npos);
      CHECK(message.find("TOKEN") == std::string::npos);
    }
  };
  ProcessSpec missing;
  missing.argv = {"escrow-no-such-program-xyz"};
  expect_io(missing, "escrow-no-such-program-xyz");

  ProcessSpec absolute;
  absolute.argv = {"/nonexistent/escrow-prog"};
  expect_io(absolute, "/nonexistent/escrow-prog");

  TempDir dir;
  const auto not_executable = dir.path() / "plain-file";
  std::ofstream(not_executable) << "#!/bin/sh\n";
  ProcessSpec denied;
  denied.argv = {not_executable.string()};
  expect_io(denied, "plain-file");

  ProcessSpec empty;
  CHECK_THROWS_AS(run_process(empty), Error);
}

TEST_CASE("capture_limit keeps the head of each stream", "[process]")
{
  ProcessSpec spec = shell("head -c 100000 /dev/zero | tr '\\0' o; head -c 50 /dev/zero | tr '\\0' e >&2");
  spec.capture_limit = 1000;
  const ProcessResult result = run_process(spec);
  CHECK(result.exit_code == 0);
  CHECK(result.out == std::string(1000, 'o') + std::string(escrow::util::k_truncated_marker));
  CHECK(result.err == std::string(50, 'e'));
}

TEST_CASE("filter sees every chunk and flush is called once per stream", "[process]")
{
  std::atomic<int> flush_out{0};
  std::atomic<int> flush_err{0};
  ProcessSpec spec = shell("printf abc; sleep 0.05; printf def; printf xyz >&2");
  spec.filter = [](std::string_view chunk, bool is_stderr) {
    std::string upper(chunk);
    for (auto& c : upper) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return is_stderr ? "E:" + upper : upper;
  };
  spec.flush = [&](bool is_stderr) {
    ++(is_stderr ? flush_err : flush_out);
    return std::string(is_stderr ? "[end-err]" : "[end-out]");
  };
  const ProcessResult result = run_process(spec);
  CHECK(result.out == "ABCDEF[end-out]");
  CHECK(result.err == "E:XYZ[end-err]");
  CHECK(flush_out == 1);
  CHECK(flush_err == 1);
}

TEST_CASE("a background process holding the pipes open does not block us", "[process]")
{
  ProcessSpec spec = shell("sleep 5 & echo $!");
  const auto start = Clock::now();
  const ProcessResult result = run_process(spec);
  CHECK(seconds_since(start) < 1.5);
  CHECK(result.exit_code == 0);
  const pid_t background = std::stoi(result.out);
  CHECK(background > 0);
  ::kill(background, SIGKILL);
}

TEST_CASE("the child inherits no descriptor but 0, 1 and 2", "[process]")
{
  const int leaked = ::open("/dev/null", O_RDONLY); // deliberately without O_CLOEXEC
  REQUIRE(leaked >= 0);
  const ProcessResult result = run_process(shell("ls /proc/$$/fd"));
  ::close(leaked);
  CHECK(result.exit_code == 0);
  std::set<std::string> fds;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    fds.insert(line);
  }
  CHECK(fds.count("0") == 1);
  CHECK(fds.count("1") == 1);
  CHECK(fds.count("2") == 1);
  CHECK(fds.count(std::to_string(leaked)) == 0);
  CHECK(fds.size() <= 4); // sh may hold one of its own
}

TEST_CASE("with our 0, 1 and 2 closed, the child still gets its own pipes there", "[process]")
{
  // In a forked copy of this test, so that closing them does not close Catch's output. The pipes
  // run_process makes then land on 0, 1 and 2: the child's stdin is already at 0 (close-on-exec,
  // as every descriptor we make), and each end must reach its place and survive the exec.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(0);
    ::close(1);
    ::close(2);
    bool ok = false;
    try {
      ProcessSpec spec = shell("read line; echo \"out:$line\"; echo err >&2");
      const SecretBytes input = SecretBytes::from("in\n");
      spec.stdin_data = &input;
      const ProcessResult result = run_process(spec);
      ok = result.exit_code == 0 && result.out == "out:in\n" && result.err == "err\n";
    } catch (...) {
    }
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the child starts with the dispositions an exec gives, SIGPIPE the default", "[process]")
{
  // nohup: a forwarded signal we ignore stays ignored; SIGPIPE is the default even when we
  // ignore it (a pipeline in a connector must end as in a shell).
  struct sigaction int_before{};
  struct sigaction pipe_before{};
  struct sigaction ignore{};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  REQUIRE(::sigaction(SIGINT, &ignore, &int_before) == 0);
  REQUIRE(::sigaction(SIGPIPE, &ignore, &pipe_before) == 0);
  const ProcessResult interrupted = run_process(shell("kill -INT $$; echo alive"));
  const ProcessResult piped = run_process(shell("kill -PIPE $$; echo alive"));
  ::sigaction(SIGINT, &int_before, nullptr);
  ::sigaction(SIGPIPE, &pipe_before, nullptr);
  CHECK(interrupted.exit_code == 0);
  CHECK(interrupted.out == "alive\n");
  CHECK(piped.signal == SIGPIPE);
  CHECK(piped.exit_code == 128 + SIGPIPE);
}

TEST_CASE("forward mode streams filtered output to our fd 1 and 2", "[process]")
{
  TempDir dir;
  ProcessResult result;
  std::string out;
  std::string err;
  {
    RedirectStdio redirect(dir.path());
    ProcessSpec spec = shell("printf 'hello\\n'; printf 'oops\\n' >&2; exit 4");
    spec.output = OutputMode::forward;
    spec.filter = [](std::string_view chunk, bool) { return "> " + std::string(chunk); };
    spec.flush = [](bool is_stderr) { return std::string(is_stderr ? "#e" : "#o"); };
    result = run_process(spec);
    redirect.restore();
    out = redirect.out();
    err = redirect.err();
  }
  CHECK(result.exit_code == 4);
  CHECK(result.out.empty());
  CHECK(out == "> hello\n#o");
  CHECK(err == "> oops\n#e");
}

TEST_CASE("forward mode: our stdout closing ends the child like a pipeline", "[process]")
{
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ::close(fds[0]); // nobody will ever read
  std::fflush(stdout);
  const int saved = ::dup(1);
  ::dup2(fds[1], 1);
  ::close(fds[1]);
  ProcessSpec spec;
  spec.argv = {"yes"};
  spec.output = OutputMode::forward;
  spec.timeout = 10s;
  const ProcessResult result = run_process(spec);
  ::dup2(saved, 1);
  ::close(saved);
  CHECK_FALSE(result.timed_out);
  CHECK(result.signal == SIGPIPE); // the child's, not ours: we are still here
}

TEST_CASE("forward mode forwards SIGTERM and SIGINT to the child", "[process]")
{
  TempDir dir;
  const auto ready = dir.path() / "ready";
  const auto send_when_ready = [&](int signal_number) {
    return std::thread([&ready, signal_number] {
      for (int i = 0; i < 500 && !std::filesystem::exists(ready); ++i) {
        std::this_thread::sleep_for(5ms);
      }
      std::this_thread::sleep_for(20ms);
      ::kill(::getpid(), signal_number);
    });
  };

  SECTION("a child that dies of it")
  {
    ProcessSpec spec = shell(": > \"$READY\"; exec sleep 30");
    spec.extra_env = {{"READY", ready.string()}};
    spec.output = OutputMode::forward;
    spec.timeout = 10s;
    std::thread sender = send_when_ready(SIGTERM);
    const ProcessResult result = run_process(spec);
    sender.join();
    CHECK_FALSE(result.timed_out);
    CHECK(result.signal == SIGTERM);
    CHECK(result.exit_code == 128 + SIGTERM);
  }
  SECTION("a child that traps it and chooses its exit code")
  {
    ProcessSpec spec = shell("trap 'exit 7' INT; : > \"$READY\"; while :; do sleep 0.05; done");
    spec.extra_env = {{"READY", ready.string()}};
    spec.output = OutputMode::forward;
    spec.timeout = 10s;
    std::thread sender = send_when_ready(SIGINT);
    const ProcessResult result = run_process(spec);
    sender.join();
    CHECK_FALSE(result.timed_out);
    CHECK(result.exit_code == 7);
  }
}

TEST_CASE("forward mode hands the terminal to the child", "[process]")
{
  // A child in a background process group that reads the terminal is stopped by SIGTTIN; the
  // runner must make the child's group the foreground one and take the terminal back after.
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 0;
    try {
      ProcessSpec spec = shell("read line; printf 'got:%s\\n' \"$line\"; exit 5");
      spec.output = OutputMode::forward;
      spec.timeout = 4s;
      const ProcessResult result = run_process(spec);
      code = result.exit_code == 5 && !result.timed_out ? 0 : 10;
      if (code == 0 && ::tcgetpgrp(0) != ::getpgrp()) {
        code = 11; // terminal not taken back
      }
    } catch (...) {
      code = 12;
    }
    ::_exit(code);
  }
  const std::string line = "hello\n";
  std::this_thread::sleep_for(100ms);
  REQUIRE(::write(master, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  std::string seen;
  const auto start = Clock::now();
  while (seen.find("got:hello") == std::string::npos && seconds_since(start) < 5) {
    pollfd readable{master, POLLIN, 0};
    if (::poll(&readable, 1, 100) > 0) {
      char buffer[256];
      const ssize_t got = ::read(master, buffer, sizeof buffer);
      if (got <= 0) {
        break;
      }
      seen.append(buffer, static_cast<std::size_t>(got));
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  CHECK(seen.find("got:hello") != std::string::npos);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
