// Secrets as a team uses them (DESIGN §3): add one, list the inventory, read a value (get and
// exec), share and unshare standing access. Each operation takes the command's Session, checks
// every rule BEFORE it changes anything (policy.hpp has the rules), journals through the session
// (commit for a change, record for a read, record_refusal for a refusal) and returns what the
// command prints. The commands in app/commands/ only parse, call one of these, and print.
#pragma once

#include <escrow/generator.hpp>
#include <escrow/secret_bytes.hpp>
#include <escrow/session.hpp>
#include <escrow/versions.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace escrow {

// escrow add.
struct NewSecret
{
  std::string name; // ENV/NAME
  std::string owner; // "" = the adding member
  std::string purpose;
  std::string tier = "standard";
  std::vector<std::string> connectors; // in the order they run (docs/CONNECTORS.md)
  bool escrow_only = false;            // lives only in escrow: `rotate --due` needs no connector
  std::vector<std::string> custodians;
  std::int64_t threshold = 0;
  std::int64_t every = 0; // 0 = the environment policy's default
  std::optional<GeneratorSpec> generator;
  bool after_access = false;
};

// Checks what can be checked without the vault (Error(usage)), so a refusal comes before the
// value is typed and before the lock: purpose given, metadata is text, custodians listed once and
// 1 <= threshold <= custodians, a generator makes its value here (no cmd=), connectors listed once,
// and not both connectors and escrow_only.
void check_new_secret(const NewSecret& secret);

// Adds the secret with `value` as v1, sealed for its standing readers (and whoever adds it) and
// split among its custodians; journaled "add". Refused (access) for a member who may not add in
// the environment; usage for a name in use, an owner, custodian or connector that does not fit.
const SecretRecord& add_secret(Session& session, const NewSecret& spec, const SecretBytes& value);

// A new secret's v1 (DESIGN §3), the one rule for add and import: sealed for its standing readers
// and the member adding it (who has had the value), split among its custodians, signed and put in
// the vault. The caller has checked the record and commits.
void put_new_secret(Session& session, SecretRecord secret, const SecretBytes& value, const std::string& why);

// escrow list: the secrets of the environments the member reaches (all of them, or one `env`).
std::vector<const SecretRecord*> inventory(Session& session, std::string_view env);
// escrow show: one secret's record, if the member reaches its environment.
const SecretRecord& show_secret(Session& session, std::string_view name);

// escrow get --reveal: the value of one version (0 = the current one). The read-access rule is
// policy::require_can_read; the key path is versions.hpp open_value. Journaled "reveal" (a
// refusal as "denied"). The first use of a grant to an after_access secret is recorded in the
// vault (the session is upgraded to a writer: one session, the identity unlocked once).
struct Revealed
{
  std::string secret; // ENV/NAME
  std::int64_t version = 0;
  SecretBytes value;
};
Revealed reveal(Session& session, std::string_view name, std::int64_t version);

// escrow exec: the current value of every binding, each journaled "exec" (with the program and
// the variable) before the command runs; a refusal is journaled and nothing is returned.
struct ValueBinding
{
  std::string variable;
  std::string secret; // ENV/NAME
};
std::vector<SecretBytes> load_values(Session& session, const std::vector<ValueBinding>& bindings,
                                     std::string_view program);

// escrow share / unshare (the owner only). Sharing wraps every live version's key for the
// member; unsharing removes it and makes an active secret due for rotation (they may have kept
// what they saw). Journaled "share" / "unshare".
void share_secret(Session& session, std::string_view name, const std::string& member);
void unshare_secret(Session& session, std::string_view name, const std::string& member);

} // namespace escrow
