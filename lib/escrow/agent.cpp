#include <escrow/agent.hpp>
#include <escrow/error.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace escrow::agent {

namespace fs = std::filesystem;
using canonical::Json;

namespace {

constexpr char k_op_identity = 'I';
constexpr char k_op_sign = 'S';
constexpr char k_op_open = 'O';
constexpr char k_op_lock = 'L';
constexpr char k_ok = 'K';
constexpr char k_not_recipient = 'N';
constexpr char k_error = 'E';
// The labels the agent signs under: escrow's own (escrow-vault/1's, and escrow-vault/2's entries,
// backups and identities). Any other label could make a signature some other program trusts.
constexpr std::string_view k_label_prefixes[] = {"escrow/v1/", "escrow/v2/"};
constexpr std::chrono::seconds k_io_timeout{5};

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int signal)
{
  g_stop_signal = signal;
}

// A descriptor closed on scope exit.
class Fd
{
public:
  explicit Fd(int fd = -1) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  ~Fd()
  {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  int get() const { return m_fd; }

private:
  int m_fd;
};

sockaddr_un address_of(const fs::path& path)
{
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& text = path.native();
  if (text.empty() || text.size() >= sizeof(address.sun_path)) {
    throw Error(ErrorKind::usage,
                fmt::format("{}: too long for a Unix socket path ({} bytes, at most {})", text, text.size(),
                            sizeof(address.sun_path) - 1))
      .hint("set ESCROW_AGENT_SOCK to a shorter path");
  }
  std::memcpy(address.sun_path, text.data(), text.size());
  return address;
}

void set_timeouts(int fd, std::chrono::seconds timeout)
{
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count());
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool write_all(int fd, const void* data, std::size_t size)
{
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, bytes, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t size)
{
  auto* bytes = static_cast<std::uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::recv(fd, bytes, size, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::array<std::uint8_t, 4> length_prefix(std::size_t size)
{
  return {static_cast<std::uint8_t>(size >> 24), static_cast<std::uint8_t>(size >> 16),
          static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)};
}

// One frame: the status or operation byte, then `body` (which may live in locked memory).
bool send_frame(int fd, char kind, std::span<const std::uint8_t> body)
{
  const auto prefix = length_prefix(body.size() + 1);
  const auto byte = static_cast<std::uint8_t>(kind);
  return write_all(fd, prefix.data(), prefix.size()) && write_all(fd, &byte, 1)
         && (body.empty() || write_all(fd, body.data(), body.size()));
}

bool send_text(int fd, char kind, std::string_view text)
{
  return send_frame(fd, kind, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

// Reads a frame's header: its total payload size (≥ 1) and first byte.
std::optional<std::pair<std::size_t, char>> read_header(int fd)
{
  std::array<std::uint8_t, 4> prefix{};
  if (!read_all(fd, prefix.data(), prefix.size())) {
    return std::nullopt;
  }
  const std::size_t size = (std::size_t{prefix[0]} << 24) | (std::size_t{prefix[1]} << 16)
                           | (std::size_t{prefix[2]} << 8) | std::size_t{prefix[3]};
  if (size == 0 || size > k_max_agent_frame) {
    return std::nullopt;
  }
  std::uint8_t kind = 0;
  if (!read_all(fd, &kind, 1)) {
    return std::nullopt;
  }
  return std::pair{size, static_cast<char>(kind)};
}

// ---- server ----

void handle(int fd, const Identity& identity, const ServeOptions& options, std::chrono::steady_clock::time_point last_use,
            bool& locked)
{
  const auto header = read_header(fd);
  if (!header) {
    return;
  }
  Bytes body(header->first - 1);
  if (!body.empty() && !read_all(fd, body.data(), body.size())) {
    return;
  }
  switch (header->second) {
  case k_op_identity: {
    const auto idle = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - last_use);
    const Json status{{"protocol", std::string(k_protocol)},
                      {"identity", identity.pub.to_json()},
                      {"pid", static_cast<std::int64_t>(::getpid())},
                      {"idle_timeout", static_cast<std::int64_t>(options.idle_timeout.count())},
                      {"idle_left", static_cast<std::int64_t>(std::max<std::int64_t>(
                                      0, (options.idle_timeout - idle).count()))}};
    send_text(fd, k_ok, status.dump());
    return;
  }
  case k_op_sign: {
    if (body.size() < 2) {
      send_text(fd, k_error, "malformed sign request");
      return;
    }
    const std::size_t label_size = (std::size_t{body[0]} << 8) | body[1];
    if (body.size() < 2 + label_size || label_size > 64) {
      send_text(fd, k_error, "malformed sign request");
      return;
    }
    const std::string label(body.begin() + 2, body.begin() + 2 + static_cast<std::ptrdiff_t>(label_size));
    const bool escrow_label = std::any_of(std::begin(k_label_prefixes), std::end(k_label_prefixes),
                                          [&label](std::string_view prefix) { return label.starts_with(prefix); });
    if (!escrow_label || !std::all_of(label.begin(), label.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
      send_text(fd, k_error, "the agent signs only under escrow/v1/ and escrow/v2/ labels");
      return;
    }
    const ByteView message(body.data() + 2 + label_size, body.size() - 2 - label_size);
    const crypto::Signature signature = crypto::sign(label, message, identity.sign_sk);
    send_frame(fd, k_ok, signature);
    return;
  }
  case k_op_open: {
    const std::optional<SecretBytes> opened = crypto::seal_open(body, identity.pub.box_pk, identity.box_sk);
    if (!opened) {
      send_text(fd, k_not_recipient, "");
      return;
    }
    send_frame(fd, k_ok, opened->expose());
    return;
  }
  case k_op_lock:
    locked = true;
    send_text(fd, k_ok, "");
    return;
  default:
    send_text(fd, k_error, "unknown request");
    return;
  }
}

// ---- client ----

// A connection to the agent at `socket`, or an invalid Fd when none answers or it is not ours.
Fd connect_to(const fs::path& socket)
{
  struct stat info{};
  if (socket.native().size() >= sizeof(sockaddr_un::sun_path) || ::lstat(socket.c_str(), &info) != 0
      || !S_ISSOCK(info.st_mode) || info.st_uid != ::geteuid()) {
    return Fd();
  }
  const sockaddr_un address = address_of(socket);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return Fd();
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return Fd();
  }
  set_timeouts(fd.get(), std::chrono::seconds(30));
  return fd;
}

struct Reply
{
  char kind = 0;
  SecretBytes body; // locked memory: a sealed box's plaintext arrives here
};

std::optional<Reply> exchange(const fs::path& socket, char op, std::span<const std::uint8_t> body)
{
  Fd fd = connect_to(socket);
  if (fd.get() < 0 || !send_frame(fd.get(), op, body)) {
    return std::nullopt;
  }
  const auto header = read_header(fd.get());
  if (!header) {
    return std::nullopt;
  }
  Reply reply;
  reply.kind = header->second;
  reply.body = SecretBytes(header->first - 1);
  if (!reply.body.empty() && !read_all(fd.get(), reply.body.expose_mut().data(), reply.body.size())) {
    return std::nullopt;
  }
  return reply;
}

[[noreturn]] void agent_gone(const fs::path& socket)
{
  throw Error(ErrorKind::access,
              fmt::format("{}: the agent stopped answering during this command (idle timeout or locked)", socket.string()))
    .hint("run the command again (it will ask for the passphrase), or start a new agent: escrow agent");
}

class AgentKeys : public KeyHolder
{
public:
  AgentKeys(fs::path socket, PublicIdentity pub) : m_socket(std::move(socket)), m_pub(std::move(pub)) {}

  crypto::Signature sign(std::string_view label, ByteView message) const override
  {
    Bytes body;
    body.reserve(2 + label.size() + message.size());
    body.push_back(static_cast<std::uint8_t>(label.size() >> 8));
    body.push_back(static_cast<std::uint8_t>(label.size()));
    body.insert(body.end(), label.begin(), label.end());
    body.insert(body.end(), message.begin(), message.end());
    const auto reply = exchange(m_socket, k_op_sign, body);
    if (!reply) {
      agent_gone(m_socket);
    }
    if (reply->kind != k_ok || reply->body.size() != crypto::k_signature_size) {
      fail(ErrorKind::access, "{}: the agent refused to sign: {}", m_socket.string(),
           reply->kind == k_error ? std::string(reply->body.expose_view()) : std::string("malformed reply"));
    }
    crypto::Signature signature{};
    std::copy(reply->body.expose().begin(), reply->body.expose().end(), signature.begin());
    // Trust nothing the socket says: the signature must verify under our own public key.
    if (!crypto::verify(label, message, signature, m_pub.sign_pk)) {
      fail(ErrorKind::integrity, "{}: the agent returned a signature that does not verify for {}", m_socket.string(),
           m_pub.name);
    }
    return signature;
  }

  std::optional<SecretBytes> seal_open(ByteView sealed) const override
  {
    auto reply = exchange(m_socket, k_op_open, sealed);
    if (!reply) {
      agent_gone(m_socket);
    }
    if (reply->kind == k_not_recipient) {
      return std::nullopt;
    }
    if (reply->kind != k_ok) {
      fail(ErrorKind::access, "{}: the agent refused to open a sealed key: {}", m_socket.string(),
           reply->kind == k_error ? std::string(reply->body.expose_view()) : std::string("malformed reply"));
    }
    return std::move(reply->body);
  }

private:
  fs::path m_socket;
  PublicIdentity m_pub;
};

} // namespace

fs::path socket_path(std::string_view override, std::string_view runtime_dir)
{
  if (!override.empty()) {
    return fs::path(override);
  }
  if (!runtime_dir.empty()) {
    return fs::path(runtime_dir) / "escrow" / "agent.sock";
  }
  return fs::path(fmt::format("/tmp/escrow-{}", ::geteuid())) / "agent.sock";
}

Listener::Listener(fs::path socket) : m_path(std::move(socket))
{
  const sockaddr_un address = address_of(m_path);
  const fs::path folder = m_path.has_parent_path() ? m_path.parent_path() : fs::path(".");
  if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    fail(ErrorKind::io, "{}: cannot create the agent's folder: {}", folder.string(), std::strerror(errno));
  }
  struct stat info{};
  if (::lstat(folder.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    fail(ErrorKind::io, "{}: the agent's folder is not a directory", folder.string());
  }
  if (info.st_uid != ::geteuid() || (info.st_mode & 077) != 0) {
    throw Error(ErrorKind::io,
                fmt::format("{}: unsafe folder for the agent socket (it must be yours and mode 0700, it is {:o} owned "
                            "by uid {})",
                            folder.string(), info.st_mode & 07777, info.st_uid))
      .hint("point ESCROW_AGENT_SOCK into a private folder");
  }
  if (::lstat(m_path.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) {
      fail(ErrorKind::io, "{}: exists and is not a socket; refusing to replace it", m_path.string());
    }
    if (agent::status(m_path)) {
      throw Error(ErrorKind::io, fmt::format("{}: an agent is already running here", m_path.string()))
        .hint("stop it with: escrow agent lock");
    }
    ::unlink(m_path.c_str()); // stale: its agent is gone
  }
  m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (m_fd < 0) {
    fail(ErrorKind::io, "agent: cannot create a socket: {}", std::strerror(errno));
  }
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(m_fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) {
    ::close(m_fd);
    m_fd = -1;
    fail(ErrorKind::io, "{}: cannot bind the agent socket: {}", m_path.string(), std::strerror(bind_errno));
  }
  if (::chmod(m_path.c_str(), 0600) != 0 || ::listen(m_fd, 16) != 0) {
    const int error = errno;
    ::close(m_fd);
    m_fd = -1;
    ::unlink(m_path.c_str());
    fail(ErrorKind::io, "{}: cannot listen on the agent socket: {}", m_path.string(), std::strerror(error));
  }
  m_owner_pid = ::getpid();
}

Listener::~Listener()
{
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  // The parent of a daemon disowned it; a forked child that never served leaves it too.
  if (m_owner_pid != 0 && m_owner_pid == ::getpid()) {
    ::unlink(m_path.c_str());
  }
}

std::string serve(Listener& listener, Identity identity, const ServeOptions& options)
{
  struct rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Fresh sodium_malloc buffers: mlock'ed in this process (a forked child inherits no locks).
  Identity held;
  held.pub = identity.pub;
  held.sign_sk = identity.sign_sk.clone();
  held.box_sk = identity.box_sk.clone();
  identity = Identity{};
  if (held.sign_sk.size() != crypto::k_sign_secret_size || held.box_sk.size() != crypto::k_box_secret_size) {
    fail(ErrorKind::usage, "agent: the identity's private keys are not in this process");
  }

  // The process that serves owns the socket file.
  listener.m_owner_pid = ::getpid();

  g_stop_signal = 0;
  struct sigaction stop{};
  stop.sa_handler = on_stop_signal;
  sigemptyset(&stop.sa_mask);
  stop.sa_flags = 0; // no SA_RESTART: poll() returns EINTR
  for (const int signal : {SIGTERM, SIGINT, SIGHUP}) {
    ::sigaction(signal, &stop, nullptr);
  }
  struct sigaction ignore{};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, nullptr);

  const auto log = [&](std::string_view line) {
    if (options.log) {
      options.log(line);
    }
  };
  auto last_use = std::chrono::steady_clock::now();
  for (;;) {
    if (g_stop_signal != 0) {
      return "signal";
    }
    const auto idle = std::chrono::steady_clock::now() - last_use;
    if (idle >= options.idle_timeout) {
      return "idle timeout";
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(options.idle_timeout - idle);
    pollfd waiting{listener.fd(), POLLIN, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 60'000)));
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(ErrorKind::io, "{}: the agent cannot wait for requests: {}", listener.path().string(), std::strerror(errno));
    }
    if (ready == 0) {
      continue;
    }
    Fd client(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client.get() < 0) {
      continue;
    }
    set_timeouts(client.get(), k_io_timeout);
    ucred peer{};
    socklen_t peer_size = sizeof peer;
    if (::getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0 || peer.uid != ::geteuid()) {
      const std::string why = fmt::format("this agent serves uid {} only", ::geteuid());
      send_text(client.get(), k_error, why);
      log(fmt::format("refused a connection from uid {} (pid {}): {}", peer.uid, peer.pid, why));
      continue;
    }
    bool locked = false;
    handle(client.get(), held, options, last_use, locked);
    last_use = std::chrono::steady_clock::now();
    if (locked) {
      return "locked";
    }
  }
}

long daemonize()
{
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    fail(ErrorKind::io, "agent: cannot fork: {}", std::strerror(errno));
  }
  if (pid > 0) {
    return pid;
  }
  ::setsid();
  if (::chdir("/") != 0) {
    // "/" always exists; nothing to do.
  }
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (null > 2) {
      ::close(null);
    }
  }
  return 0;
}

std::optional<Status> status(const fs::path& socket)
{
  const auto reply = exchange(socket, k_op_identity, {});
  if (!reply || reply->kind != k_ok) {
    return std::nullopt;
  }
  try {
    const Json json = canonical::parse(std::string(reply->body.expose_view()), socket.string());
    if (!json.is_object() || json.value("protocol", std::string()) != k_protocol) {
      return std::nullopt;
    }
    Status result;
    result.identity = PublicIdentity::from_json(json.at("identity"), socket.string());
    result.pid = static_cast<long>(json.at("pid").get<std::int64_t>());
    result.idle_timeout = json.at("idle_timeout").get<std::int64_t>();
    result.idle_left = json.at("idle_left").get<std::int64_t>();
    return result;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool lock(const fs::path& socket)
{
  const auto reply = exchange(socket, k_op_lock, {});
  return reply && reply->kind == k_ok;
}

std::optional<Identity> borrow_identity(const fs::path& socket, const PublicIdentity& expected)
{
  const auto held = agent::status(socket);
  if (!held || held->identity.name != expected.name || held->identity.sign_pk != expected.sign_pk
      || held->identity.box_pk != expected.box_pk) {
    return std::nullopt;
  }
  Identity identity;
  identity.pub = expected;
  identity.holder = std::make_shared<AgentKeys>(socket, expected);
  return identity;
}

} // namespace escrow::agent
