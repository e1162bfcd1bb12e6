// The vault file ("escrow-vault/1"): layout, lazy verified reading, and writing.
//
// Layout (always written exactly so; docs/FORMAT.md):
//   {
//     "format": "escrow-vault/1",
//     "vault_id": b64(16),          BLAKE2b-128 of the genesis admin's identity fields
//     "revision": N,
//     "parents": [b64(32)...],      head digests of the revision(s) this one follows
//     "journal_head": b64(32)|"",  the newest journal entry this revision has seen
//     "manifest": { "connectors/C": h, "members/M": h, "policy": h, "secrets/E/N": h },
//     "head_sig": { "by": M, "sig": b64(64) },
//     "policy": {...}, "members": {...}, "connectors": {...}, "secrets": {...}
//   }
// h = BLAKE2b-256 of the record's bytes exactly as stored (pretty layout at depth 2, the policy
// at depth 1). head_sig signs, under "escrow/v1/head", the file's bytes from its first byte to
// the end of the manifest; the digest of those bytes under the same label is the revision's
// head digest. A reader hashes bytes as stored and never re-serialises the document, so it
// checks the head and only the records a command touches (secrets are verified lazily, on first
// use); verify_all() checks everything.
#pragma once

#include <escrow/identity.hpp>
#include <escrow/records.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace escrow {

constexpr std::string_view k_vault_format = "escrow-vault/1";
constexpr std::size_t k_max_vault_size = std::size_t{512} << 20;

class Vault
{
public:
  // Reads and verifies structure, head signature, members, policy and connectors.
  // `what` names the file in messages.
  static Vault parse(std::string text, std::string what);
  // A new vault whose genesis admin is `admin` (signed by it).
  static Vault create(const Identity& admin, Timestamp now);

  Vault(Vault&&) = default;
  Vault& operator=(Vault&&) = default;
  ~Vault();

  const std::string& what() const { return m_what; }
  ByteView id() const { return m_id; }
  const std::string& id_b64() const { return m_id_b64; }
  std::int64_t revision() const { return m_revision; }
  // Head digest of the revision as read ("" for a vault not yet written).
  const std::string& head() const { return m_head; }
  const std::vector<std::string>& parents() const { return m_parents; }
  const std::string& journal_head() const { return m_journal_head; }
  const std::string& head_signer() const { return m_head_by; }
  const std::string& text() const { return m_text; }

  const MemberRecord& genesis() const;
  const std::map<std::string, MemberRecord>& members() const { return m_members; }
  const MemberRecord* member(std::string_view name) const;
  const PolicyRecord& policy() const { return m_policy; }
  const std::map<std::string, ConnectorRecord>& connectors() const { return m_connectors; }
  const ConnectorRecord* connector(std::string_view name) const;

  std::vector<std::string> secret_names() const;
  bool has_secret(std::string_view full_name) const;
  // Parses and verifies the record on first use. Throws Error(usage) if there is no such secret.
  const SecretRecord& secret(std::string_view full_name) const;

  // Changes. The caller signs what it changed (sign_* below) before saving.
  void put_member(MemberRecord record);
  void put_policy(PolicyRecord record);
  void put_connector(ConnectorRecord record);
  void erase_connector(std::string_view name);
  SecretRecord& secret_mut(std::string_view full_name);
  void put_secret(SecretRecord record);

  // Signing, as the identity (which must be a member).
  void sign(MemberRecord& record, const Identity& signer) const;
  void sign(PolicyRecord& record, const Identity& signer) const;
  void sign(ConnectorRecord& record, const Identity& signer) const;
  void sign_meta(SecretRecord& record, const Identity& signer) const;
  void sign(const SecretRecord& secret, VersionRecord& version, const Identity& signer) const;
  void sign(const SecretRecord& secret, Request& request, const Identity& signer) const;
  void sign(const SecretRecord& secret, const Request& request, Approval& approval, const Identity& signer) const;
  void sign(const SecretRecord& secret, const Request& request, Denial& denial, const Identity& signer) const;

  // Everything: every secret record, the manifest's coverage. Throws Error(integrity).
  void verify_all() const;
  std::size_t verified_signatures() const { return m_verified; }

  // The next revision's file text, signed by `signer`, naming `journal_head`. Re-verifies every
  // changed record first. Records not changed are copied byte for byte.
  std::string serialize(const Identity& signer, const std::string& journal_head);
  // What serialize() produced last: its revision and head digest.
  std::int64_t written_revision() const { return m_written_revision; }
  const std::string& written_head() const { return m_written_head; }

private:
  struct SecretSlot
  {
    std::size_t begin = 0;
    std::size_t end = 0;
    std::string manifest_hash;
    mutable std::unique_ptr<SecretRecord> parsed;
    bool dirty = false;
  };
  struct Slot
  {
    std::size_t begin = 0;
    std::size_t end = 0;
    bool dirty = false;
  };

  Vault() = default;
  void verify_secret(const SecretRecord& record, const Json& json) const;
  void check_member_signature(const MemberRecord& record, const Json& json) const;
  const MemberRecord& signer_of(const Signed& record, std::string_view path) const;
  void check_signature(const Signed& record, std::string_view path, const Json& json) const;

  std::string m_what;
  std::string m_text;
  Bytes m_id;
  std::string m_id_b64;
  std::int64_t m_revision = 0;
  std::string m_head;
  std::vector<std::string> m_parents;
  std::string m_journal_head;
  std::string m_head_by;
  std::map<std::string, std::string> m_manifest;

  std::map<std::string, MemberRecord> m_members;
  std::map<std::string, Slot> m_member_slots;
  PolicyRecord m_policy;
  Slot m_policy_slot;
  std::map<std::string, ConnectorRecord> m_connectors;
  std::map<std::string, Slot> m_connector_slots;
  std::map<std::string, SecretSlot, std::less<>> m_secrets;
  mutable std::size_t m_verified = 0;

  std::int64_t m_written_revision = 0;
  std::string m_written_head;
};

// Who may sign what (also used by commands before they change anything).
bool can_write_secret(const MemberRecord& member, const SecretRecord& secret);
bool can_write_connector(const MemberRecord& member, std::string_view env);

} // namespace escrow
