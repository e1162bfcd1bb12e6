// The member's identity for a command: where it is read from (a file, or its text from the
// environment), the agent asked first, the passphrase prompt; and the library's initialisation.
#pragma once

#include <escrow/clock.hpp>
#include <escrow/identity.hpp>
#include <escrow/secret_bytes.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace escrow {

// Where the identity comes from and how it is unlocked, passed in (nothing here reads the
// environment; the CLI fills these from its environment in app/commands/context.cpp, tests fill
// them directly). The vault session (history/vault_session.hpp) takes load_identity() of these as
// its identity callback.
struct SessionOptions
{
  std::filesystem::path vault_path = "escrow.vault";
  std::optional<std::filesystem::path> identity_path; // else identity_data
  std::optional<SecretBytes> identity_data;           // a private identity's text (CI), wiped on free
  std::filesystem::path state_dir;                    // where known.json lives
  bool allow_rollback = false;
  bool sandbox = false; // a rehearsal's throwaway copy: no notify hook runs for it
  Clock clock = Clock::fixed(0);
  std::chrono::milliseconds lock_wait = std::chrono::seconds(30); // for the vault lock
  // The agent asked first for an encrypted identity's keys (lib/escrow/agent.hpp); none = never.
  std::optional<std::filesystem::path> agent_socket;
  // Asked for a passphrase when the identity is encrypted; nullopt = none available.
  std::function<std::optional<SecretBytes>(std::string_view prompt)> passphrase;

  SessionOptions() = default;
  SessionOptions(const SessionOptions& other);
  SessionOptions& operator=(const SessionOptions& other);
  SessionOptions(SessionOptions&&) noexcept = default;
  SessionOptions& operator=(SessionOptions&&) noexcept = default;
  ~SessionOptions() = default;
};

// Loads and unlocks an identity as the options say (no vault involved).
Identity load_identity(const SessionOptions& options);
std::string identity_source(const SessionOptions& options);

// What `identity show` prints, read without the passphrase: the public half, whether a passphrase
// protects the keys, and whether the file is readable by other users (warned about).
struct IdentityInfo
{
  PublicIdentity pub;
  bool passphrase = false;
  bool group_readable = false;
};
IdentityInfo inspect_identity(const SessionOptions& options);

// This machine's host name, as the journal records it ("unknown" when it has none).
std::string host_name();

// Once at start, before anything else (libsodium's initialisation; Error when it fails).
void init_library();

} // namespace escrow
