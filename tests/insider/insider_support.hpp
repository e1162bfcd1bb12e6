// The insider suite's team (docs/design/vault-2-plan.md §1.2): one vault built honestly through
// VaultSession, every signer of the matrix a real identity, saved once as a template (the three
// files and this machine's cache place) and restored before each cell at the same paths (the cache
// place is keyed by the journal's absolute path).
#pragma once

#include "forger.hpp"

#include <escrow/error.hpp>
#include <escrow/history/material.hpp>
#include <escrow/history/replay.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/identity.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace insider {

using namespace escrow;
using namespace escrow::history;
namespace fs = std::filesystem;
using Files = std::map<std::string, std::string>;

std::string slurp(const fs::path& path);
void spit(const fs::path& path, const std::string& text);
Files snapshot(const fs::path& dir);
void restore(const fs::path& dir, const Files& files);

// The signers of §1.2 (`a` = the admin of `*`; `rma` = the removed admin; `outsider` never added).
const std::vector<std::string>& signers();

struct SecretKeys
{
  std::string vid;       // the current version
  SecretBytes data_key;  // its DK (the test made it)
  ReaderKey generation;  // RK of generation 1
};

class Team
{
public:
  // The shared team (built once per process).
  static Team& get();
  ~Team();
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;

  fs::path root;
  fs::path vault_dir;
  fs::path state_home;  // warm: the cache place verified up to the template's last entry
  fs::path empty_state; // an empty state directory (the fresh replay)
  Timestamp now = 1796119200; // 2026-12-01T10:00:00Z
  Timestamp template_now = 0;
  Files vault_template;
  Files cache_template;
  std::map<std::string, std::shared_ptr<Identity>> ids;
  std::map<std::string, SecretKeys> secrets; // "prod/db", "prod/api"
  std::uint64_t template_lines = 0;
  fs::path ids_dir; // <name>.id for every identity (no passphrase), for the command line

  fs::path head() const { return vault_dir / "escrow.vault"; }
  fs::path journal() const { return vault_dir / "escrow.journal"; }
  fs::path keys() const { return vault_dir / "escrow.keys"; }
  const Identity& id(const std::string& name) const { return *ids.at(name); }
  Recipient recipient(const std::string& name) const { return Recipient{name, id(name).pub.box_pk}; }

  // Puts the template back (vault files and the warm cache place; the empty state emptied).
  void reset();
  // Options of a session reading as `actor` ("" = a public read) with the warm or empty state.
  VaultSessionOptions options(const std::string& actor, bool warm) const;
  // An honest operation through VaultSession (the warm cache place follows it).
  Entry honest(const std::string& actor, Args args, const Material& material = {},
               std::optional<std::string> why = std::nullopt);
  // A Forger on the vault, its clock at `now`.
  test::Forger forger() const;

  // Material for a new secret `secret` owned by `owner`: G=1 rk lines for `readers`, the v line,
  // sh lines for `custodians`.
  struct NewSecret
  {
    NewVersion version;
    Material material;
  };
  NewSecret seal_new(const std::string& secret, std::uint32_t gen, const std::vector<std::string>& readers,
                     const std::vector<std::string>& custodians, unsigned threshold);
  // The ap line `approver` would write for `request` of `requester` on the secret's first version:
  // their own share re-sealed; an approver without a share re-seals the custodian's (stolen) one.
  SealedLine approval_line(const std::string& secret, const std::string& request, const std::string& approver,
                           const std::string& requester) const;

private:
  Team();
};

// Runs `body`; requires Error(kind) and returns its message.
template<typename Body>
std::string error_of(Body&& body, ErrorKind kind)
{
  try {
    body();
  } catch (const Error& error) {
    INFO(error.what());
    CHECK(error.kind() == kind);
    return error.what();
  }
  FAIL("no error");
  return {};
}

// verify_vault from the files' bytes: the first problem (nullptr when the vault verifies).
std::optional<Finding> verify_bytes(const Team& team);

// The four opens of a refused cell: read and write, warm cache place and empty state directory.
// Each must fail with Error(integrity) whose message contains `expect`; every vault file and both
// state directories must be byte-identical afterwards. Returns the first message.
std::string require_refused_everywhere(const Team& team, const std::string& expect);
// The four opens succeed (the control cases).
void require_opens_everywhere(const Team& team);

// The commands that would act on a forged vault (issue 15 deliverable 5), run through the real
// command-line front end (cli::run, in process) with the team's identity files, warm cache place
// or empty state directory, ESCROW_NOW at the team's clock:
//   verify (no identity), audit verify (the auditor), get prod/db --reveal (its owner),
//   approve prod/db r1 (its custodian), rotate --due (the rotator).
struct CliRun
{
  std::string label; // e.g. "get prod/db --reveal as owner, warm cache place"
  int code = 0;
  std::string out;
  std::string err;
};
std::vector<CliRun> run_acting_commands(const Team& team, bool warm);
// Each acting command, warm and empty: exit 3, a first stderr line `escrow: error: …` containing
// `expect`, and every vault file and both state directories byte-identical.
void require_cli_refused(const Team& team, const std::string& expect);
// Each acting command, warm and empty, on an honest vault: not refused (exit 0), so a refusal of a
// forged vault is the forgery's. Resets the team after each (approve and rotate write).
void require_cli_accepts(Team& team);

} // namespace insider
