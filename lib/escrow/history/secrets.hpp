// Secrets on escrow-vault/2 (vault-2-plan.md step 5b, secrets group): add, show/list (public
// reads of the state), get/exec (the three opening paths of material.hpp, journaled as reveal and
// exec events), share/unshare (one operation; 'ENV/*' shares every secret of ENV the actor owns
// in one bulk operation). The rules are history::authorize's; a refusal of a read or a write by a
// member is journaled as a denied event (value-free detail) before Error(access) is rethrown.
#pragma once

#include <escrow/generator.hpp>
#include <escrow/history/lookup.hpp> // find_secret, find_member, find_connector
#include <escrow/history/vault_session.hpp>
#include <escrow/references.hpp>
#include <escrow/secret_bytes.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace escrow::history {

struct SecretSpec
{
  std::string name; // ENV/NAME
  std::string owner; // "" = the adding member
  std::string purpose;
  std::string tier = "standard";
  std::vector<std::string> connectors; // rotation order
  std::vector<std::string> custodians;
  std::int64_t threshold = 0;
  std::int64_t every = 0; // 0 = the environment policy's default
  std::string generator;  // as typed (--generate), "" = none
  bool after_access = false;
  bool escrow_only = false; // lives only in escrow: rotate --due rotates it with no connector
};

// What can be checked without the vault (Error(usage), before the value is read and before the
// lock): name, purpose, tier, custodians listed once, 1 <= threshold <= custodians, connectors
// listed once, a generator that parses and runs here (no cmd=), not both connectors and
// escrow_only.
void check_secret_spec(const SecretSpec& spec);

// escrow add: secret-add with v1 under generation 1: rk lines for the standing readers of the new
// secret, the v line, one sh line per custodian. A refusal is journaled (secret-add, denied).
const Secret& add_secret(VaultSession& session, const SecretSpec& spec, const SecretBytes& value);

// The value of version `vid` of `secret` as the identity can open it, in order: standing reader,
// carried grant, k approvals (vault-2.md §4); Error(access) "<what>: …" saying why not;
// Error(failed) for a secret in a conflict of an unresolved merge (VaultSession::require_readable).
// Journals nothing: the caller records the read (a reveal, an exec) before the value leaves escrow.
struct Opened
{
  SecretBytes value;
  std::string via;     // reader | grant | approvals
  std::string request; // grant or approvals
};
Opened open_version(VaultSession& session, const Secret& secret, const std::string& vid, const Version& version,
                    std::string_view what);

// escrow add ENV/NAME --update: secret-set of the fields given (unset = unchanged). A new owner
// gets a reader key of every live generation they lack, re-sealed from the actor's own (the actor
// must hold one: Error(access) otherwise). Usage errors (text, a name that does not exist) are
// raised before the vault is touched; a refusal by the rules is journaled (secret-set, denied).
struct SecretUpdate
{
  std::string name; // ENV/NAME
  std::optional<std::string> owner;
  std::optional<std::string> purpose;
  std::optional<std::string> tier;
  std::optional<std::vector<std::string>> connectors; // rotation order
  std::optional<std::int64_t> every;
  std::optional<std::string> generator; // as typed, may be cmd= (admins of the environment)
  std::optional<bool> after_access;
  std::optional<bool> escrow_only; // --escrow-only (true): it lives only in escrow
};
// What can be checked without the vault (Error(usage)): the name, at least one field, text
// fields as add checks them, connectors listed once, a generator that parses.
void check_secret_update(const SecretUpdate& update);
const Secret& update_secret(VaultSession& session, const SecretUpdate& update);

// escrow custodians ENV/NAME --custodians a,b --threshold K: custodians-set (no key lines: the
// next rotation splits the new value among them; the secret becomes due "custodians changed").
// An empty list with threshold 0 removes escrow. A refusal is journaled (custodians-set, denied).
void check_custodians(const std::vector<std::string>& custodians, std::int64_t threshold);
const Secret& set_custodians(VaultSession& session, std::string_view name, const std::vector<std::string>& custodians,
                             std::int64_t threshold);

// The secrets of `env` ("" = all), in name order: a public read of the state (the journal is
// readable by every member; no identity is needed). Error(usage) for a malformed env.
std::vector<const Secret*> inventory(const State& state, std::string_view env);

// The secret's cadence, else its environment policy's; 0 = none.
std::int64_t cadence(const State& state, const Secret& secret);

StatusFacts status_facts(const Secret& secret);
// One line for people: retired, pending vN, compromised, due: <reasons>, overdue …, in …, manual.
std::string status(const State& state, const StatusFacts& facts, Timestamp now);
std::string status(const State& state, const Secret& secret, Timestamp now);

// Why a secret is due for rotation at `now`: the one rule `rotate --due` acts on and `audit
// report` lists (DESIGN §5). An event recorded in its `due` (a member removed, an unshare, a grant
// used on an after-access secret, an owner or custodian change, an incomplete rollback), no
// current version ("compromised" when a version is), or the cadence passed. Never while a
// rotation is in flight or a version is pending, nor for a retired secret. `since`: when it
// became due, when the state knows (a compromise's time is in the journal, not the state).
struct DueReason
{
  std::string reason;
  std::optional<Timestamp> since;
};
std::optional<DueReason> due_for_rotation(const State& state, const Secret& secret, Timestamp now);

// The same without a session (restore test-decrypts a backup's versions before anything is
// written). Error(access) when the rules or the key lines give `identity` no way in.
Opened open_readable(const State& state, const KeysFile& keys, const Identity& identity, Timestamp now,
                     const Secret& secret, const std::string& vid, const Version& version, std::string_view what);

// escrow get --reveal: the value of version `v` (0 = the current one), journaled as a reveal event
// {secret, version, via, request?}; a refusal as a denied reveal. The first use of a grant to an
// after_access secret is then submitted as grant-used (the session is upgraded to a writer).
struct Revealed
{
  std::string secret;
  std::int64_t version = 0;
  std::string via; // reader | grant | approvals
  SecretBytes value;
};
Revealed reveal(VaultSession& session, std::string_view name, std::int64_t v);

// escrow exec: the current value of every binding; every read journaled (exec {secret, version,
// via, program, variable}) before any value is returned; a refusal journaled, nothing returned.
struct Binding
{
  std::string variable;
  std::string secret;
  std::int64_t version = 0; // 0 = the current one
  std::string env_file;     // the --env-file it came from ("" = --set), journaled
};
std::vector<SecretBytes> load_values(VaultSession& session, const std::vector<Binding>& bindings, std::string_view program);

// escrow inject: references.hpp inject_with, each distinct reference read under the rules and
// journaled as a reveal {into: inject, template, output} before anything is written.
InjectResult inject(VaultSession& session, const std::filesystem::path& input, const std::filesystem::path& output,
                    SecretBytes* to_stdout);

// escrow exec --env-file: the file's plain (non-secret) variables and its escrow:// references
// as bindings (references.hpp grammar; nothing is read here).
struct EnvFileBindings
{
  std::vector<std::pair<std::string, std::string>> plain;
  std::vector<Binding> bindings;
};
EnvFileBindings read_env_file(const std::filesystem::path& path);

// escrow share NAME|'ENV/*' --with MEMBER: one share operation (bulk for 'ENV/*': every active
// secret of ENV the actor owns and MEMBER cannot already read). Returns the secrets shared. A
// secret or member that does not exist is Error(usage) with a hint (history/lookup.hpp).
std::vector<std::string> share(VaultSession& session, std::string_view target, const std::string& member);
// Key debts (docs/design/vault-2-merge.md §7): for each member, the active secrets `owner` owns
// that the member reads standing (shared, a rotator, …) but lacks the key of a live generation
// of — a rotation merged with a concurrent share, a rotator added since the last rotation — and
// whose owed generations `owner` holds (only those can be paid). An empty `owner`: every owner's
// (whether anyone has a debt to pay, known without opening an identity).
std::map<std::string, std::vector<std::string>> key_debts(const State& state, const std::string& owner);
// escrow sync pays them: one share operation per member as `share` writes it. Returns the
// (secret, member) pairs paid.
std::vector<std::pair<std::string, std::string>> pay_key_debts(VaultSession& session);
// escrow unshare NAME --with MEMBER. Returns true when the secret became due.
bool unshare(VaultSession& session, std::string_view name, const std::string& member);

} // namespace escrow::history
