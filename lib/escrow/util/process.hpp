// A subprocess runner (posix_spawn, pipes, poll). Knows nothing of escrow's domain.
//
// - The child runs in its own process group, so a timeout (SIGTERM to the group, SIGKILL
//   `kill_grace` later) also ends its grandchildren. It inherits no descriptor of ours but 0/1/2.
// - Its environment is ours plus `extra_env`, then `secret_env` (later entries override
//   earlier ones of the same name). The whole envp block is built in sodium_malloc memory and
//   wiped once exec has succeeded or failed; secret values are never copied to std::string.
// - stdin: `stdin_data` is written to a pipe and the pipe closed; a child that exits or closes
//   stdin early just ends the write (EPIPE; SIGPIPE never reaches us). Without it the child
//   reads /dev/null (capture) or our own stdin (forward).
// - stdout/stderr always go through pipes: each chunk passes through `filter(chunk, is_stderr)`
//   and, once BOTH streams have reached EOF, `flush(is_stderr)` is called once per stream
//   (stdout first), so a filter joining the two streams sees all of both before draining. The filtered text is kept in the
//   result (capture, at most `capture_limit` bytes per stream, then k_truncated_marker) or
//   written to our fd 1/2 (forward). If our own stdout/stderr is a closed pipe, that stream of
//   the child is closed too, so the child sees EPIPE as it would in a shell pipeline.
// - After the child exits, output still buffered is read; if a background process it left
//   behind keeps the pipes open, reading stops k_drain_grace later rather than waiting for it.
// - forward: while the child runs, SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to us are forwarded to
//   its process group (one forwarded child at a time per process). When our stdin is the
//   terminal and we are in its foreground, the terminal is handed to the child's group (so it
//   can read the terminal and gets Ctrl-C directly) and taken back when it ends.
// - exit_code is the child's exit status, or 128 + signal if a signal killed it (then `signal`
//   is set too); `timed_out` says the timeout fired.
// - argv[0] without '/' is looked up in PATH: the PATH given in extra_env if any, else ours.
#pragma once

#include <escrow/secret_bytes.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace escrow::util {

enum class OutputMode {
  capture, // keep the (filtered) output in ProcessResult::out/err
  forward, // stream it to our own fd 1/2 as it arrives
};

struct ProcessSpec
{
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> extra_env; // non-secret additions/overrides
  // VAR=value built in sodium_malloc memory, wiped after exec. The pointers must stay valid for
  // the duration of run_process.
  std::vector<std::pair<std::string, const SecretBytes*>> secret_env;
  const SecretBytes* stdin_data = nullptr;
  std::chrono::milliseconds timeout{0}; // 0 = none
  // After the timeout's SIGTERM to the process group, SIGKILL follows this much later.
  std::chrono::milliseconds kill_grace{2000};
  OutputMode output = OutputMode::capture;
  // Applied to every chunk read from the child (the redactor); empty = pass through.
  std::function<std::string(std::string_view chunk, bool is_stderr)> filter;
  // Called once per stream at its end to drain the filter; may be empty.
  std::function<std::string(bool is_stderr)> flush;
  std::size_t capture_limit = 64 * 1024; // per stream, in capture mode
};

struct ProcessResult
{
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Appended to a captured stream that produced more than capture_limit bytes.
inline constexpr std::string_view k_truncated_marker = "\n[truncated]\n";
// How long output is still read after the child exited while something keeps the pipes open.
inline constexpr std::chrono::milliseconds k_drain_grace{250};

// Runs the program and waits for it. Throws Error(ErrorKind::io) when it cannot be started
// (the message names argv[0], never the environment), Error(ErrorKind::usage) for an empty
// argv, a NUL byte in an argument, or an environment name or value that cannot be passed.
ProcessResult run_process(const ProcessSpec& spec);

// A shell command string (connector update/verify commands): {"/bin/sh", "-c", command}.
std::vector<std::string> shell_argv(std::string_view command);

} // namespace escrow::util
