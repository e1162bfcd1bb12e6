// The agent (`escrow agent`, like ssh-agent or gpg-agent): one process holds an unlocked identity
// for a working session, so a session costs one passphrase and one Argon2id.
//
// The private keys never leave the agent. Commands ask it to sign (only digests under an
// "escrow/v1/..." or "escrow/v2/..." label) or to open a sealed box (a wrapped data key or a custodian share); the
// client checks every signature it gets back against the identity's public key, and every data
// key is checked against its version's commitment before use (lib/escrow/history/material.hpp).
//
// Socket: $ESCROW_AGENT_SOCK, else $XDG_RUNTIME_DIR/escrow/agent.sock, else
// /tmp/escrow-<uid>/agent.sock. The folder is created 0700 and must be ours and not reachable by
// others; the socket is 0600; every connection's peer uid (SO_PEERCRED) must be the agent's uid.
//
// Protocol "escrow-agent/1", one request per connection. Frames are a 4-byte big-endian length
// (at most k_max_agent_frame) and a payload whose first byte is the operation or the status:
//   request  'I'                                  → 'K' + JSON {"protocol","identity","pid",
//                                                     "idle_timeout","idle_left"}
//   request  'S' + u16 label length + label + message → 'K' + 64-byte Ed25519 signature
//   request  'O' + sealed box                      → 'K' + plaintext | 'N' (not a recipient)
//   request  'L'                                   → 'K', then the agent wipes the keys and exits
//   any error                                      → 'E' + one line of text
// The idle timeout counts from the last request served; when it fires, the agent wipes the keys,
// removes its socket and exits (so does `escrow agent lock`, SIGTERM, SIGINT and SIGHUP).
#pragma once

#include <escrow/identity.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace escrow::agent {

constexpr std::size_t k_max_agent_frame = 32 * 1024 * 1024;
constexpr std::chrono::seconds k_default_idle_timeout{15 * 60};
constexpr std::string_view k_protocol = "escrow-agent/1";

// The socket path: `override` (ESCROW_AGENT_SOCK) if non-empty, else
// `runtime_dir`/escrow/agent.sock (XDG_RUNTIME_DIR) if non-empty, else /tmp/escrow-<uid>/agent.sock.
std::filesystem::path socket_path(std::string_view override, std::string_view runtime_dir);

// What a running agent says about itself.
struct Status
{
  PublicIdentity identity;
  long pid = 0;
  std::int64_t idle_timeout = 0; // seconds
  std::int64_t idle_left = 0;    // seconds before it forgets the key
};

struct ServeOptions
{
  std::chrono::seconds idle_timeout = k_default_idle_timeout;
  // Told of refused connections and of why the agent stopped (the foreground agent prints them).
  std::function<void(std::string_view)> log;
};

class Listener;
std::string serve(Listener& listener, Identity identity, const ServeOptions& options);

// A bound, listening socket (the folder checked or created 0700, the socket 0600). Error(io) when
// the folder is unsafe, or another agent already answers there; a stale socket is replaced.
class Listener
{
public:
  explicit Listener(std::filesystem::path socket);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener(); // closes; removes the socket file (unless disowned)
  // In the parent of a daemon: leave the socket file to the child that serves it.
  void disown() { m_owner_pid = 0; }

  const std::filesystem::path& path() const { return m_path; }
  int fd() const { return m_fd; }

private:
  friend std::string serve(Listener& listener, Identity identity, const ServeOptions& options);
  std::filesystem::path m_path;
  int m_fd = -1;
  long m_owner_pid = 0; // the process that created or serves it removes the socket file
};

// Serves `identity` on `listener` until the idle timeout, a lock request or a terminating signal.
// Re-asserts no core dumps and no ptrace (RLIMIT_CORE 0, PR_SET_DUMPABLE 0) and moves the keys
// into freshly locked memory (memory locks are not inherited across fork). Returns why it
// stopped ("idle timeout", "locked", "signal").
std::string serve(Listener& listener, Identity identity, const ServeOptions& options);

// Detaches into the background: fork, setsid, chdir /, stdio to /dev/null. Returns the child's
// pid in the parent, 0 in the child.
long daemonize();

// ---- client side ----

// The running agent's status, or nullopt when none answers at `socket` (absent, stale, not ours,
// or refusing us).
std::optional<Status> status(const std::filesystem::path& socket);

// Tells the agent to forget its key and exit. False when no agent answered.
bool lock(const std::filesystem::path& socket);

// The identity whose keys the agent at `socket` holds, if it answers and holds exactly `expected`
// (same name and public keys); its sign() and seal_open() go to the agent.
std::optional<Identity> borrow_identity(const std::filesystem::path& socket, const PublicIdentity& expected);

} // namespace escrow::agent
