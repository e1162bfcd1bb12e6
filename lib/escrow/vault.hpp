// The vault file ("escrow-vault/1"): layout, lazy verified reading, and writing.
//
// Layout (always written exactly so, and refused when the bytes around the records differ;
// docs/FORMAT.md):
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
// use); verify_all() checks everything. A lazy read (read(), Reading::lazy) does not even scan the
// secrets: in the one layout, top-level key lines are the only lines starting with two spaces
// and a quote and a section's record lines the only ones starting with four, in key order, so a
// record and its manifest entry are found by bisection (docs/PERFORMANCE.md).
#pragma once

#include <escrow/identity.hpp>
#include <escrow/records.hpp>

#include <atomic>
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
  // eager: everything is located and checked now, as `escrow verify` needs (secret records are
  // still verified on first use). lazy: the head, members, policy and connectors now; the secret
  // records are not scanned: one is found through the manifest when first used, and the rest of
  // the checks run when a command needs every record (secret_names, verify_all, serialize).
  enum class Reading { eager, lazy };
  // Reads and verifies structure, head signature, members, policy and connectors.
  // `what` names the file in messages.
  static Vault parse(std::string text, std::string what, Reading reading = Reading::eager);
  // Reads the file lazily (a read command's way in): its first bytes now (head, manifest,
  // roster), a secret's record when first used, all of it only when a command needs every record.
  static Vault read(const std::filesystem::path& path);
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
  // The file's bytes as read (for a lazy read, the rest of the file is read on first call).
  std::string_view bytes() const;
  const std::string& text() const;

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
  std::size_t verified_signatures() const { return m_verified.value.load(); }

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
    std::string text; // the record's bytes, when read on its own (lazy reads)
    mutable std::unique_ptr<SecretRecord> parsed;
    bool dirty = false;
  };
  struct Slot
  {
    std::size_t begin = 0;
    std::size_t end = 0;
    bool dirty = false;
  };

  struct Source;

  Vault() = default;
  static Vault parse_source(std::shared_ptr<const Source> source, std::string what, Reading reading);
  void read_manifest(const Json& manifest) const;
  void index_secrets() const;
  std::optional<std::string> manifest_hash(std::string_view full_name) const;
  SecretSlot* find_slot(std::string_view full_name) const;
  void verify_secret(const SecretRecord& record, const Json& json) const;
  void check_member_signature(const MemberRecord& record, const Json& json) const;
  const MemberRecord& signer_of(const Signed& record, std::string_view path) const;
  void check_signature(const Signed& record, std::string_view path, const Json& json) const;

  std::string m_what;
  std::shared_ptr<const Source> m_source;
  Bytes m_id;
  std::string m_id_b64;
  std::int64_t m_revision = 0;
  std::string m_head;
  std::vector<std::string> m_parents;
  std::string m_journal_head;
  std::string m_head_by;
  mutable std::map<std::string, std::string> m_manifest;
  mutable bool m_manifest_complete = false;
  std::pair<std::size_t, std::size_t> m_manifest_secrets{0, 0}; // lazy: where its secrets/ lines are
  std::vector<canonical::Span> m_top;                           // the top-level fields as read
  std::vector<canonical::Span> m_member_spans;
  std::vector<canonical::Span> m_connector_spans;
  Json m_head_sig;

  std::map<std::string, MemberRecord> m_members;
  std::map<std::string, Slot> m_member_slots;
  PolicyRecord m_policy;
  Slot m_policy_slot;
  std::map<std::string, ConnectorRecord> m_connectors;
  std::map<std::string, Slot> m_connector_slots;
  mutable std::map<std::string, SecretSlot, std::less<>> m_secrets;
  mutable bool m_indexed = true; // every secret located and the deferred checks done
  // Signatures verified so far (verify_all verifies on several threads).
  struct Count
  {
    std::atomic<std::size_t> value{0};
    Count() = default;
    Count(Count&& other) noexcept : value(other.value.load()) {}
    Count& operator=(Count&& other) noexcept
    {
      value = other.value.load();
      return *this;
    }
    void operator++() { ++value; }
  };
  mutable Count m_verified;

  std::int64_t m_written_revision = 0;
  std::string m_written_head;
};

// Who may sign what (also used by commands before they change anything).
bool can_write_secret(const MemberRecord& member, const SecretRecord& secret);
bool can_write_connector(const MemberRecord& member, std::string_view env);

} // namespace escrow
