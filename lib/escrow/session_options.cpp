#include <escrow/agent.hpp>
#include <escrow/atomic_file.hpp>
#include <escrow/canonical.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/session_options.hpp>
#include <escrow/util/file.hpp>
#include <escrow/util/terminal.hpp>

#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

namespace escrow {

namespace fs = std::filesystem;
using canonical::Json;

namespace {

constexpr std::size_t k_max_identity_size = 64 * 1024;

} // namespace

SessionOptions::SessionOptions(const SessionOptions& other)
  : vault_path(other.vault_path),
    identity_path(other.identity_path),
    state_dir(other.state_dir),
    allow_rollback(other.allow_rollback),
    sandbox(other.sandbox),
    clock(other.clock),
    lock_wait(other.lock_wait),
    agent_socket(other.agent_socket),
    passphrase(other.passphrase)
{
  if (other.identity_data) {
    identity_data = other.identity_data->clone();
  }
}

SessionOptions& SessionOptions::operator=(const SessionOptions& other)
{
  if (this != &other) {
    SessionOptions copy(other);
    *this = std::move(copy);
  }
  return *this;
}

std::string identity_source(const SessionOptions& options)
{
  if (options.identity_path) {
    return options.identity_path->string();
  }
  return "ESCROW_IDENTITY_DATA";
}

Identity load_identity(const SessionOptions& options)
{
  std::string what = identity_source(options);
  Json json;
  {
    SecretBytes text;
    if (options.identity_path) {
      const fs::path& path = *options.identity_path;
      if (!util::kind_of(path)) {
        throw Error(ErrorKind::access, fmt::format("{}: no identity file", path.string()))
          .hint("create one with: escrow identity new --name NAME");
      }
      std::string bytes = read_file(path, k_max_identity_size, util::Links::follow);
      text = SecretBytes::from(bytes);
      crypto::wipe(bytes.data(), bytes.size());
    } else if (options.identity_data) {
      text = options.identity_data->clone();
    } else {
      throw Error(ErrorKind::access, "no identity given").hint("pass --identity FILE");
    }
    json = canonical::parse(text.expose_view(), what);
  }
  // The parsed private key is wiped on every path out of here, exceptions included.
  struct WipeSecret
  {
    Json& json;
    ~WipeSecret()
    {
      if (json.is_object()) {
        if (const auto it = json.find("secret"); it != json.end() && it->is_string()) {
          auto& secret = it->get_ref<std::string&>();
          crypto::wipe(secret.data(), secret.size());
        }
      }
    }
  } wipe_secret{json};
  std::optional<SecretBytes> passphrase;
  if (identity_needs_passphrase(json)) {
    // The agent hook: a running agent holding this very identity signs and opens for us.
    if (options.agent_socket) {
      if (auto held = agent::borrow_identity(*options.agent_socket, PublicIdentity::from_json(json, what))) {
        return std::move(*held);
      }
    }
    if (options.passphrase) {
      passphrase = options.passphrase(fmt::format("Passphrase for {}: ", what));
    }
    if (!passphrase) {
      throw Error(ErrorKind::access, fmt::format("{}: a passphrase is needed and there is no terminal to ask", what))
        .hint("set ESCROW_PASSPHRASE_FILE to a file holding it");
    }
  }
  return open_identity(json, passphrase ? &*passphrase : nullptr, what);
}

IdentityInfo inspect_identity(const SessionOptions& options)
{
  const std::string what = identity_source(options);
  IdentityInfo info;
  SecretBytes text;
  if (options.identity_path) {
    if (!util::kind_of(*options.identity_path)) {
      throw Error(ErrorKind::access, fmt::format("{}: no identity file", what))
        .hint("create one with: escrow identity new --name NAME");
    }
    struct stat status{};
    info.group_readable = ::stat(options.identity_path->c_str(), &status) == 0 && (status.st_mode & 077) != 0;
    std::string bytes = read_file(*options.identity_path, k_max_identity_size, util::Links::follow);
    text = SecretBytes::take(bytes);
  } else if (options.identity_data) {
    text = options.identity_data->clone();
  }
  Json json = canonical::parse(text.expose_view(), what);
  if (json.is_object()) {
    if (const auto it = json.find("secret"); it != json.end() && it->is_string()) {
      auto& secret = it->get_ref<std::string&>();
      crypto::wipe(secret.data(), secret.size());
      *it = "";
    }
  }
  // Only the public half is read: showing an identity never needs its passphrase.
  info.pub = PublicIdentity::from_json(json, what);
  info.passphrase = identity_needs_passphrase(json);
  return info;
}

std::string host_name()
{
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    return "unknown";
  }
  return host;
}

void init_library()
{
  crypto::init();
}

} // namespace escrow
