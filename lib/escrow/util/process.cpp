#include <escrow/util/process.hpp>

#include <escrow/crypto.hpp>
#include <escrow/error.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

extern char** environ;

namespace escrow::util {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t k_read_buffer_size = 64 * 1024;
constexpr std::size_t k_write_chunk_size = 64 * 1024;
// How often the child is polled when no pidfd tells us it exited (and, with the terminal
// handed over, to notice it was stopped by job control).
constexpr std::chrono::milliseconds k_tick{100};
constexpr std::array<int, 4> k_forwarded_signals{SIGINT, SIGTERM, SIGHUP, SIGQUIT};

class Fd
{
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept
  {
    if (this != &other) {
      close();
      m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
  }
  ~Fd() { close(); }

  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  void close()
  {
    if (m_fd >= 0) {
      ::close(m_fd); // never retried on EINTR: on Linux the descriptor is gone either way
      m_fd = -1;
    }
  }

private:
  int m_fd = -1;
};

struct Pipe
{
  Fd read;
  Fd write;
};

Pipe make_pipe(std::string_view program)
{
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    fail(ErrorKind::io, "cannot run '{}': pipe: {}", program, std::strerror(errno));
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

void set_nonblocking(int fd)
{
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) {
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  }
}

bool has_nul(std::string_view text)
{
  return text.find('\0') != std::string_view::npos;
}

bool valid_env_name(std::string_view name)
{
  return !name.empty() && name.find('=') == std::string_view::npos && !has_nul(name);
}

// ---- program lookup -------------------------------------------------------------------------

std::string find_program(const ProcessSpec& spec)
{
  const std::string& name = spec.argv.front();
  if (name.find('/') != std::string::npos) {
    return name;
  }
  if (name.empty()) {
    fail(ErrorKind::usage, "cannot run a program with an empty name");
  }

  std::optional<std::string_view> path;
  for (const auto& [key, value] : spec.extra_env) {
    if (key == "PATH") {
      path = value; // the last one wins, as in the environment
    }
  }
  std::string default_path;
  if (!path) {
    if (const char* ours = std::getenv("PATH"); ours != nullptr) {
      path = ours;
    } else {
      default_path = "/usr/local/bin:/usr/bin:/bin";
      path = default_path;
    }
  }

  bool found_not_executable = false;
  std::string_view rest = *path;
  while (true) {
    const std::size_t colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    if (dir.empty()) {
      dir = "."; // POSIX: an empty PATH element is the current directory
    }
    std::string candidate(dir);
    candidate.push_back('/');
    candidate.append(name);
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) {
        return candidate;
      }
      found_not_executable = true;
    }
    if (colon == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(colon + 1);
  }
  if (found_not_executable) {
    fail(ErrorKind::io, "cannot run '{}': permission denied", name);
  }
  fail(ErrorKind::io, "cannot run '{}': command not found in PATH", name);
}

// ---- the environment block ------------------------------------------------------------------

// "NAME=value\0" strings for execve, all in one sodium_malloc block.
class EnvBlock
{
public:
  explicit EnvBlock(const ProcessSpec& spec)
  {
    for (const auto& [name, value] : spec.extra_env) {
      if (!valid_env_name(name) || has_nul(value)) {
        fail(ErrorKind::usage,
             "cannot pass environment variable '{}' to '{}': invalid name or NUL byte in value",
             printable(name),
             spec.argv.front());
      }
    }
    for (const auto& [name, value] : spec.secret_env) {
      if (!valid_env_name(name) || value == nullptr || has_nul(value->expose_view())) {
        fail(ErrorKind::usage,
             "cannot pass environment variable '{}' to '{}': invalid name, no value, or a NUL "
             "byte in the value",
             printable(name),
             spec.argv.front());
      }
    }

    // Later entries override earlier ones: ours, then extra_env, then secret_env.
    struct Part
    {
      std::string_view name;
      std::string_view value; // a view into SecretBytes for secret entries
      const char* whole;      // an inherited "NAME=value" string, or nullptr
    };
    std::vector<Part> parts;
    const auto overridden = [&](std::string_view name, std::size_t extra_from, std::size_t secret_from) {
      for (std::size_t i = extra_from; i < spec.extra_env.size(); ++i) {
        if (spec.extra_env[i].first == name) {
          return true;
        }
      }
      for (std::size_t i = secret_from; i < spec.secret_env.size(); ++i) {
        if (spec.secret_env[i].first == name) {
          return true;
        }
      }
      return false;
    };
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      const std::string_view whole(*entry);
      const std::size_t eq = whole.find('=');
      const std::string_view name = whole.substr(0, eq);
      if (!overridden(name, 0, 0)) {
        parts.push_back(Part{name, {}, *entry});
      }
    }
    for (std::size_t i = 0; i < spec.extra_env.size(); ++i) {
      const auto& [name, value] = spec.extra_env[i];
      if (!overridden(name, i + 1, 0)) {
        parts.push_back(Part{name, value, nullptr});
      }
    }
    for (std::size_t i = 0; i < spec.secret_env.size(); ++i) {
      const auto& [name, value] = spec.secret_env[i];
      if (!overridden(name, spec.extra_env.size(), i + 1)) {
        parts.push_back(Part{name, value->expose_view(), nullptr});
      }
    }

    std::size_t total = 0;
    for (const auto& part : parts) {
      total += part.whole != nullptr ? std::strlen(part.whole) + 1
                                     : part.name.size() + 1 + part.value.size() + 1;
    }
    m_block = SecretBytes(total);
    char* cursor = reinterpret_cast<char*>(m_block.expose_mut().data());
    m_pointers.reserve(parts.size() + 1);
    for (const auto& part : parts) {
      m_pointers.push_back(cursor);
      if (part.whole != nullptr) {
        const std::size_t size = std::strlen(part.whole);
        std::memcpy(cursor, part.whole, size);
        cursor += size;
      } else {
        std::memcpy(cursor, part.name.data(), part.name.size());
        cursor += part.name.size();
        *cursor++ = '=';
        if (!part.value.empty()) {
          std::memcpy(cursor, part.value.data(), part.value.size());
        }
        cursor += part.value.size();
      }
      *cursor++ = '\0';
    }
    m_pointers.push_back(nullptr);
  }

  char* const* envp() const { return m_pointers.data(); }

  // Zeroes and releases the block (SecretBytes wipes on free).
  void wipe()
  {
    m_pointers.clear();
    m_block = SecretBytes();
  }

private:
  static std::string printable(std::string_view name)
  {
    std::string result;
    for (const char c : name.substr(0, 64)) {
      result.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    }
    return result;
  }

  SecretBytes m_block;
  std::vector<char*> m_pointers;
};

// ---- signals --------------------------------------------------------------------------------

std::atomic<bool> g_forwarding{false};
std::atomic<pid_t> g_forward_pgid{0};
std::atomic<int> g_pending_signal{0};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

extern "C" void forward_signal(int signal_number)
{
  const int saved_errno = errno;
  const pid_t pgid = g_forward_pgid.load();
  if (pgid > 0) {
    ::kill(-pgid, signal_number);
  } else {
    g_pending_signal.store(signal_number); // before the child exists: forwarded once it does
  }
  errno = saved_errno;
}

// Blocks SIGPIPE (and SIGTTOU when the terminal is handed over) in this thread for the whole
// run: writes to a closed pipe then fail with EPIPE instead of killing us. A SIGPIPE that our
// own writes left pending is discarded at the end.
class SignalMaskScope
{
public:
  explicit SignalMaskScope(bool block_ttou)
  {
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    m_pipe_was_pending = sigismember(&pending, SIGPIPE) == 1;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    if (block_ttou) {
      sigaddset(&block, SIGTTOU);
    }
    ::pthread_sigmask(SIG_BLOCK, &block, &m_original);
  }
  SignalMaskScope(const SignalMaskScope&) = delete;
  SignalMaskScope& operator=(const SignalMaskScope&) = delete;
  ~SignalMaskScope()
  {
    if (!m_pipe_was_pending && sigismember(&m_original, SIGPIPE) != 1) {
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      const timespec zero{0, 0};
      while (::sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &m_original, nullptr);
  }

  // The mask the child gets: the caller's, before this scope.
  const sigset_t& original() const { return m_original; }

private:
  sigset_t m_original{};
  bool m_pipe_was_pending = false;
};

// In forward mode: SIGINT/SIGTERM/SIGHUP/SIGQUIT go to the child's process group.
class ForwardScope
{
public:
  explicit ForwardScope(bool active) : m_active(active)
  {
    for (const int sig : k_forwarded_signals) {
      ::sigaction(sig, nullptr, &m_old[index(sig)]);
    }
    if (!m_active) {
      return;
    }
    if (g_forwarding.exchange(true)) {
      m_active = false;
      throw std::logic_error("run_process: only one forwarded child at a time");
    }
    g_forward_pgid.store(0);
    g_pending_signal.store(0);
    struct sigaction action{};
    action.sa_handler = forward_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (const int sig : k_forwarded_signals) {
      if (m_old[index(sig)].sa_handler != SIG_IGN) { // respect nohup and friends
        ::sigaction(sig, &action, nullptr);
      }
    }
  }
  ForwardScope(const ForwardScope&) = delete;
  ForwardScope& operator=(const ForwardScope&) = delete;
  ~ForwardScope()
  {
    if (!m_active) {
      return;
    }
    const pid_t pgid = g_forward_pgid.exchange(0);
    for (const int sig : k_forwarded_signals) {
      ::sigaction(sig, &m_old[index(sig)], nullptr);
    }
    const int pending = g_pending_signal.exchange(0);
    g_forwarding.store(false);
    if (pgid <= 0 && pending != 0) {
      ::raise(pending); // arrived before any child existed: deliver it to us after all
    }
  }

  void set_child(pid_t pgid)
  {
    if (!m_active) {
      return;
    }
    g_forward_pgid.store(pgid);
    if (const int pending = g_pending_signal.exchange(0); pending != 0) {
      ::kill(-pgid, pending);
    }
  }

  // What the child should start with for a forwarded signal.
  bool was_ignored(int sig) const { return m_old[index(sig)].sa_handler == SIG_IGN; }

private:
  static std::size_t index(int sig)
  {
    return static_cast<std::size_t>(
      std::find(k_forwarded_signals.begin(), k_forwarded_signals.end(), sig)
      - k_forwarded_signals.begin());
  }

  bool m_active;
  std::array<struct sigaction, k_forwarded_signals.size()> m_old{};
};

// Hands the controlling terminal (our stdin) to the child's process group and takes it back.
class TerminalScope
{
public:
  static bool wanted(const ProcessSpec& spec)
  {
    return spec.output == OutputMode::forward && spec.stdin_data == nullptr
           && ::isatty(STDIN_FILENO) == 1 && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
  }

  explicit TerminalScope(bool active) : m_active(active) {}
  TerminalScope(const TerminalScope&) = delete;
  TerminalScope& operator=(const TerminalScope&) = delete;
  ~TerminalScope() { take_back(); }

  bool active() const { return m_active; }

  // SIGTTOU must be blocked in this thread (SignalMaskScope does it).
  void give(pid_t pgid)
  {
    if (m_active) {
      ::tcsetpgrp(STDIN_FILENO, pgid);
      m_given = true;
    }
  }
  // The child made itself the foreground group before its exec (SpawnPlan::take_terminal):
  // from now on the terminal is ours to take back.
  void given() { m_given = m_active; }
  void take_back()
  {
    if (m_given) {
      ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
      m_given = false;
    }
  }

private:
  bool m_active;
  bool m_given = false;
};

// ---- the child ------------------------------------------------------------------------------

// The child's start, made by posix_spawn: glibc clones without copying our address space
// (CLONE_VM | CLONE_VFORK, on a stack of its own) and execs. A fork copied the page tables of
// everything we hold (a vault's state, the cache), then paid a copy-on-write fault per page we
// wrote until the child's exec: two connectors per secret made that most of `rotate --due`'s own
// time (docs/PERFORMANCE.md, issue 12 target 4).
class SpawnPlan
{
public:
  explicit SpawnPlan(const std::string& program) : m_program(program)
  {
    check(::posix_spawn_file_actions_init(&m_actions));
    if (const int error = ::posix_spawnattr_init(&m_attr); error != 0) {
      ::posix_spawn_file_actions_destroy(&m_actions); // no destructor runs for a throwing constructor
      check(error);
    }
  }
  SpawnPlan(const SpawnPlan&) = delete;
  SpawnPlan& operator=(const SpawnPlan&) = delete;
  ~SpawnPlan()
  {
    ::posix_spawnattr_destroy(&m_attr);
    ::posix_spawn_file_actions_destroy(&m_actions);
  }

  // The child's 0/1/2 from `sources` (-1: inherit ours), every other descriptor closed. Our own
  // 0/1/2 may have been closed, so a pipe end may sit there: each such source is lifted above 2
  // first, so that no dup2 clobbers another's source.
  void descriptors(const std::array<int, 3>& sources)
  {
    for (std::size_t i = 0; i < sources.size(); ++i) {
      int source = sources[i];
      if (source >= 0 && source < 3) {
        m_lifted[i] = Fd(::fcntl(source, F_DUPFD_CLOEXEC, 3));
        check(m_lifted[i].valid() ? 0 : errno);
        source = m_lifted[i].get();
      }
      if (source >= 0) {
        check(::posix_spawn_file_actions_adddup2(&m_actions, source, static_cast<int>(i)));
      }
    }
    check(::posix_spawn_file_actions_addclosefrom_np(&m_actions, 3));
  }

  // The child is the terminal's foreground group (it is a group of its own; SIGTTOU is blocked
  // in the child until its exec, as every signal is).
  void take_terminal() { check(::posix_spawn_file_actions_addtcsetpgrp_np(&m_actions, STDIN_FILENO)); }

  // A process group of its own (timeouts kill the group), the caller's signal mask, and the
  // dispositions an exec after a fork would give: a forwarded signal we ignored stays ignored
  // (nohup), every other one and SIGPIPE are the default.
  void signals(const sigset_t& mask, const ForwardScope& forward)
  {
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    for (const int sig : k_forwarded_signals) {
      if (!forward.was_ignored(sig)) {
        sigaddset(&defaults, sig);
      }
    }
    check(::posix_spawnattr_setpgroup(&m_attr, 0));
    check(::posix_spawnattr_setsigmask(&m_attr, &mask));
    check(::posix_spawnattr_setsigdefault(&m_attr, &defaults));
    check(::posix_spawnattr_setflags(&m_attr, static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                                                 | POSIX_SPAWN_SETSIGDEF)));
  }

  // Starts the program; 0 and the child's pid, or the errno of the clone or the exec (glibc
  // reaps a child whose exec failed).
  int spawn(pid_t& pid, const char* path, char* const* argv, char* const* envp) const
  {
    return ::posix_spawn(&pid, path, &m_actions, &m_attr, argv, envp);
  }

private:
  void check(int error) const
  {
    if (error != 0) {
      fail(ErrorKind::io, "cannot run '{}': {}", m_program, std::strerror(error));
    }
  }

  const std::string& m_program;
  posix_spawn_file_actions_t m_actions{};
  posix_spawnattr_t m_attr{};
  std::array<Fd, 3> m_lifted;
};

// ---- the parent's loop ----------------------------------------------------------------------

bool write_all(int fd, std::string_view data)
{
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written >= 0) {
      data.remove_prefix(static_cast<std::size_t>(written));
    } else if (errno == EAGAIN) {
      pollfd waiting{fd, POLLOUT, 0};
      ::poll(&waiting, 1, -1);
    } else if (errno != EINTR) {
      return false; // EPIPE (reader gone) or a real error
    }
  }
  return true;
}

struct OutputStream
{
  Fd fd;
  bool is_stderr = false;
  std::string* capture = nullptr; // capture mode
  bool truncated = false;
  bool flush_pending = false; // ended; the filter's flush waits for the other stream's end
  bool emit_rest = true;
};

class Runner
{
public:
  explicit Runner(const ProcessSpec& spec) : m_spec(spec) {}

  void attach(OutputStream& out, OutputStream& err) { m_streams = {&out, &err}; }

  void emit(OutputStream& stream, std::string_view text)
  {
    if (text.empty()) {
      return;
    }
    if (stream.capture != nullptr) {
      if (stream.truncated) {
        return;
      }
      std::string& target = *stream.capture;
      const std::size_t room =
        m_spec.capture_limit > target.size() ? m_spec.capture_limit - target.size() : 0;
      if (text.size() <= room) {
        target.append(text);
      } else {
        target.append(text.substr(0, room));
        target.append(k_truncated_marker);
        stream.truncated = true;
      }
      return;
    }
    if (!write_all(stream.is_stderr ? STDERR_FILENO : STDOUT_FILENO, text)) {
      // Our own output is gone: close this stream so the child sees EPIPE, as in a pipeline.
      finish(stream, /*emit_rest=*/false);
    }
  }

  // End of a stream: drain the filter once and close.
  void finish(OutputStream& stream, bool emit_rest)
  {
    if (!stream.fd.valid()) {
      return;
    }
    stream.fd.close();
    stream.flush_pending = true;
    stream.emit_rest = emit_rest;
    // The filter is drained once both streams have ended: it may join them (a redacted value
    // written half to stdout and half to stderr), so neither's tail is final before that.
    for (const OutputStream* other : m_streams) {
      if (other != nullptr && other->fd.valid()) {
        return;
      }
    }
    for (OutputStream* ended : m_streams) {
      if (ended == nullptr || !ended->flush_pending) {
        continue;
      }
      ended->flush_pending = false;
      if (m_spec.flush) {
        const std::string rest = m_spec.flush(ended->is_stderr);
        if (ended->emit_rest) {
          emit(*ended, rest);
        }
      }
    }
  }

  void read_from(OutputStream& stream, SecretBytes& buffer)
  {
    auto memory = buffer.expose_mut();
    const ssize_t got = ::read(stream.fd.get(), memory.data(), memory.size());
    if (got > 0) {
      const std::string_view chunk(reinterpret_cast<const char*>(memory.data()),
                                   static_cast<std::size_t>(got));
      if (m_spec.filter) {
        const std::string filtered = m_spec.filter(chunk, stream.is_stderr);
        crypto::wipe(memory.data(), static_cast<std::size_t>(got));
        emit(stream, filtered);
      } else {
        emit(stream, chunk);
        crypto::wipe(memory.data(), static_cast<std::size_t>(got));
      }
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
      finish(stream, true);
    }
  }

private:
  const ProcessSpec& m_spec;
  std::array<OutputStream*, 2> m_streams{nullptr, nullptr};
};

// The locked buffer a run reads the child's output into (it may carry a value): one per thread,
// reused by every run and wiped when each ends. A 64 KiB sodium_malloc per run (mmap, guard
// pages, mlock, then munlock and munmap with a TLB flush) was a tenth of `rotate --due`'s own time
// (two connector runs per secret). A run inside a run (a filter that starts one) gets its own.
class ReadBuffer
{
public:
  ReadBuffer()
  {
    if (!t_busy) {
      t_busy = true;
      m_shared = true;
      static thread_local SecretBytes t_buffer(k_read_buffer_size);
      m_buffer = &t_buffer;
    } else {
      m_own = SecretBytes(k_read_buffer_size);
      m_buffer = &m_own;
    }
  }
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  ~ReadBuffer()
  {
    if (m_shared) {
      auto bytes = m_buffer->expose_mut();
      crypto::wipe(bytes.data(), bytes.size()); // read_from wipes what it read; this is the rest
      t_busy = false;
    }
  }

  SecretBytes& get() { return *m_buffer; }

private:
  static thread_local bool t_busy;
  bool m_shared = false;
  SecretBytes m_own;
  SecretBytes* m_buffer = nullptr;
};

thread_local bool ReadBuffer::t_busy = false;

// Kills and reaps the child if we leave early (an exception from a filter, say).
struct ChildGuard
{
  pid_t pid = -1;
  bool reaped = false;
  ~ChildGuard()
  {
    if (pid > 0 && !reaped) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
};

int remaining_ms(Clock::time_point now, Clock::time_point until)
{
  if (until <= now) {
    return 0;
  }
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(until - now).count());
}

} // namespace

std::vector<std::string> shell_argv(std::string_view command)
{
  return {"/bin/sh", "-c", std::string(command)};
}

ProcessResult run_process(const ProcessSpec& spec)
{
  if (spec.argv.empty()) {
    fail(ErrorKind::usage, "cannot run a process without a program");
  }
  for (const auto& arg : spec.argv) {
    if (has_nul(arg)) {
      fail(ErrorKind::usage, "cannot run '{}': an argument contains a NUL byte",
           spec.argv.front().substr(0, spec.argv.front().find('\0')));
    }
  }
  const std::string& program = spec.argv.front();
  const bool forward = spec.output == OutputMode::forward;

  const std::string path = find_program(spec);
  EnvBlock env(spec);
  std::vector<char*> argv;
  argv.reserve(spec.argv.size() + 1);
  for (const auto& arg : spec.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);

  // The child's stdin.
  Fd stdin_child;
  Fd stdin_ours;
  if (spec.stdin_data != nullptr) {
    Pipe pipe = make_pipe(program);
    stdin_child = std::move(pipe.read);
    stdin_ours = std::move(pipe.write);
    set_nonblocking(stdin_ours.get());
  } else if (!forward) {
    stdin_child = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!stdin_child.valid()) {
      fail(ErrorKind::io, "cannot run '{}': /dev/null: {}", program, std::strerror(errno));
    }
  }
  Pipe out_pipe = make_pipe(program);
  Pipe err_pipe = make_pipe(program);
  set_nonblocking(out_pipe.read.get());
  set_nonblocking(err_pipe.read.get());

  const bool hand_terminal = TerminalScope::wanted(spec);
  SignalMaskScope mask(hand_terminal);
  ForwardScope forwarding(forward);
  TerminalScope terminal(hand_terminal);
  ChildGuard child;

  SpawnPlan plan(program);
  plan.descriptors({stdin_child.get(), out_pipe.write.get(), err_pipe.write.get()});
  if (hand_terminal) {
    plan.take_terminal();
  }
  plan.signals(mask.original(), forwarding);

  {
    // No forwarded signal is handled between the start and set_child.
    sigset_t all;
    sigfillset(&all);
    sigset_t before;
    ::pthread_sigmask(SIG_SETMASK, &all, &before);
    pid_t pid = -1;
    const int spawn_error = plan.spawn(pid, path.c_str(), argv.data(), env.envp());
    if (spawn_error == 0) {
      child.pid = pid;
      terminal.given();
      forwarding.set_child(pid);
    }
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    env.wipe();
    if (spawn_error != 0) {
      fail(ErrorKind::io, "cannot run '{}': {}", program, std::strerror(spawn_error));
    }
  }
  const pid_t pid = child.pid;

  stdin_child.close();
  out_pipe.write.close();
  err_pipe.write.close();

  ProcessResult result;
  Runner runner(spec);
  OutputStream out{std::move(out_pipe.read), false, forward ? nullptr : &result.out};
  OutputStream err{std::move(err_pipe.read), true, forward ? nullptr : &result.err};
  runner.attach(out, err);
  ReadBuffer read_buffer;
  SecretBytes& buffer = read_buffer.get();
  std::size_t stdin_written = 0;
  if (spec.stdin_data != nullptr && spec.stdin_data->empty()) {
    stdin_ours.close();
  }

  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  const Clock::time_point start = Clock::now();
  const bool has_timeout = spec.timeout.count() > 0;
  const Clock::time_point deadline = start + spec.timeout;
  Clock::time_point kill_at{};
  Clock::time_point drain_until{};
  bool killed = false;
  int status = 0;

  while (!child.reaped || out.fd.valid() || err.fd.valid()) {
    Clock::time_point now = Clock::now();

    // Wait for output, room in stdin, the child's exit or the next deadline.
    int wait_ms = -1;
    const auto wait_until = [&](Clock::time_point when) {
      const int ms = remaining_ms(now, when);
      wait_ms = wait_ms < 0 ? ms : std::min(wait_ms, ms);
    };
    if (!child.reaped) {
      if (has_timeout && !result.timed_out) {
        wait_until(deadline);
      }
      if (result.timed_out && !killed) {
        wait_until(kill_at);
      }
      if (!pidfd.valid() || terminal.active()) {
        wait_until(now + k_tick);
      }
    } else {
      wait_until(drain_until);
    }

    std::array<pollfd, 4> fds{};
    nfds_t count = 0;
    const auto watch = [&](const Fd& fd, short events) {
      if (fd.valid()) {
        fds[count++] = pollfd{fd.get(), events, 0};
      }
    };
    watch(out.fd, POLLIN);
    watch(err.fd, POLLIN);
    watch(stdin_ours, POLLOUT);
    if (!child.reaped) {
      watch(pidfd, POLLIN);
    }
    const int ready = ::poll(fds.data(), count, wait_ms);
    if (ready < 0 && errno != EINTR) {
      fail(ErrorKind::io, "running '{}': poll: {}", program, std::strerror(errno));
    }
    const auto revents = [&](const Fd& fd) -> short {
      for (nfds_t i = 0; i < count; ++i) {
        if (fds[i].fd == fd.get()) {
          return fds[i].revents;
        }
      }
      return 0;
    };

    if (ready > 0) {
      if (stdin_ours.valid() && revents(stdin_ours) != 0) {
        const auto data = spec.stdin_data->expose();
        const std::size_t size = std::min(k_write_chunk_size, data.size() - stdin_written);
        const ssize_t written = ::write(stdin_ours.get(), data.data() + stdin_written, size);
        if (written > 0) {
          stdin_written += static_cast<std::size_t>(written);
          if (stdin_written == data.size()) {
            stdin_ours.close();
          }
        } else if (written < 0 && errno != EINTR && errno != EAGAIN) {
          stdin_ours.close(); // EPIPE: the child does not want (more of) it
        }
      }
      if (out.fd.valid() && revents(out.fd) != 0) {
        runner.read_from(out, buffer);
      }
      if (err.fd.valid() && revents(err.fd) != 0) {
        runner.read_from(err, buffer);
      }
    }

    // Has the child exited (or been stopped at the terminal)?
    if (!child.reaped) {
      pid_t waited;
      do {
        waited = ::waitpid(pid, &status, WNOHANG | (terminal.active() ? WUNTRACED : 0));
      } while (waited < 0 && errno == EINTR);
      now = Clock::now();
      if (waited == pid && WIFSTOPPED(status)) {
        const int stop = WSTOPSIG(status);
        if (stop == SIGTSTP || stop == SIGTTIN || stop == SIGTTOU) {
          // Job control: stop ourselves too, so the shell regains the terminal; on `fg`
          // hand it back and let the child continue.
          terminal.take_back();
          ::kill(::getpid(), SIGTSTP);
          terminal.give(pid);
          ::kill(-pid, SIGCONT);
        }
      } else if (waited == pid || (waited < 0 && errno == ECHILD)) {
        child.reaped = true;
        if (waited < 0) {
          status = -1; // someone else reaped it (SIGCHLD ignored): status unknown
        }
        pidfd.close();
        stdin_ours.close();
        terminal.take_back();
        drain_until = now + k_drain_grace;
      }
    }

    if (!child.reaped) {
      if (has_timeout && !result.timed_out && now >= deadline) {
        result.timed_out = true;
        ::kill(-pid, SIGTERM);
        ::kill(-pid, SIGCONT); // a stopped process acts on SIGTERM only once continued
        kill_at = now + spec.kill_grace;
      } else if (result.timed_out && !killed && now >= kill_at) {
        ::kill(-pid, SIGKILL);
        killed = true;
      }
    } else if (now >= drain_until) {
      runner.finish(out, true); // something the child left behind keeps the pipe open
      runner.finish(err, true);
    }
  }

  if (result.timed_out) {
    ::kill(-pid, SIGKILL); // anything of the group still around
  }
  if (status == -1) {
    result.exit_code = -1;
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.exit_code = 128 + result.signal;
  }
  return result;
}

} // namespace escrow::util
