// Verifying the audit journal offline (DESIGN §6, §7; docs/AUDIT.md).
//
// Every line must be one entry in canonical form (journal.hpp) whose "hash" is the BLAKE2b-256,
// under "escrow/v1/journal", of the entry without "hash" and "sig", whose "sig" verifies with
// the signing key of the member named by "actor", and whose "vault" is this vault's id. Every
// parent must be an entry earlier in the file (a merge has two). The vault's "journal_head"
// must be in the journal, and so must the newest entry this machine appended or verified (its
// pin in known.json): either missing means the newest entries were cut off.
//
// Each problem is a Finding with its own kind, the line and the entry it concerns:
//   modified-entry      a line that is not a well-formed canonical entry, whose hash does not
//                       match its content, or whose signature does not verify
//   deleted-entry       an entry names a parent that is nowhere in the journal
//   reordered-entries   an entry comes before its parent (or claims to be the first one)
//   truncated-tail      the vault's journal_head, or this machine's last-seen entry, is missing
//   unknown-author      signed by a name that is not a member of the vault
//   removed-member      signed by a member after their removal (by date, or after the
//                       member-remove entry in the journal)
//   foreign-entry       written for another vault
//   duplicate-entry     the same entry twice (a replay)
//   anchor-mismatch     the vault's journal_head names an entry written for another revision
//   intent-not-applied  (a warning) an entry written for a vault revision that never landed:
//                       the crash window between the journal append and the vault rename
//   torn-write          (a warning) the last line has no final newline: a writer killed mid-append
//                       left a fragment (not an entry; the next append cuts it off) or a
//                       complete entry without its newline (the next append adds it)
// Everything but the two warnings is tampering (exit 3).
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/journal.hpp>
#include <escrow/session.hpp>
#include <escrow/vault.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace escrow::audit {

enum class Problem {
  modified,
  deleted,
  reordered,
  truncated,
  unknown_author,
  removed_author,
  foreign,
  duplicate,
  anchor,
  not_applied,
  torn,
};
// "modified-entry", "deleted-entry", ... as listed above.
std::string_view problem_name(Problem problem);

struct Finding
{
  Problem problem = Problem::modified;
  std::size_t line = 0; // the line concerned (for truncated-tail: the last line left)
  std::string entry;    // b64 hash of the entry concerned ("" when unknown)
  std::string message;  // one line; never quotes a line's content

  bool warning() const { return problem == Problem::not_applied || problem == Problem::torn; }
  canonical::Json to_json() const;
};

// The newest entry this machine has appended or verified, and the journal's size then.
struct JournalPin
{
  std::string head;
  std::uint64_t size = 0;
};

// What the checks of one line found; a pure function of the line's bytes and the vault's
// roster and id.
struct CheckedLine
{
  bool parsed = false; // the fields below are known
  std::optional<Problem> problem; // modified, unknown_author or foreign
  std::string reason;
  std::string hash; // as stored in the line
  std::vector<std::string> parents;
  std::string actor;
  JournalAction action = JournalAction::init;
  Timestamp ts = 0;
  std::optional<std::int64_t> revision; // detail.revision
  std::string removed;                  // detail.member of a member-remove entry
  bool signature_checked = false;
};

// Per-line results keyed by the line's bytes, reusable across verifications of edited copies of
// one journal against the SAME vault (the mutation tests re-verify hundreds of variants).
struct LineCache
{
  std::unordered_map<std::string, CheckedLine> lines;
};

struct VerifyOptions
{
  std::optional<JournalPin> pin;
  LineCache* cache = nullptr;
  unsigned threads = 0; // 0: one per core (at most 8)
};

struct VerifyReport
{
  std::vector<Finding> findings; // in the order of the lines they concern
  std::size_t entries = 0;
  std::size_t signatures = 0; // verified in this run (cached lines are not counted)
  std::string head;           // hash of the last entry
  std::uint64_t size = 0;     // bytes

  std::size_t errors() const;
  std::size_t warnings() const;
  bool ok() const { return errors() == 0; }
  const Finding* first_error() const;
  canonical::Json to_json() const;
};

// `text` is the journal's content; `vault` supplies the id, the members and the anchor.
VerifyReport verify_journal(std::string_view text, const Vault& vault, const VerifyOptions& options = {});
// Reads the journal beside the vault (a missing journal is an empty one).
VerifyReport verify_journal(const Journal& journal, const Vault& vault, const VerifyOptions& options = {});

// The session's journal against its vault and this machine's pin (known.json).
VerifyReport verify_session_journal(const Session& session);
// After a clean verification: this machine has now seen the journal up to its head.
void pin_verified(const Session& session, const VerifyReport& report);
// Throws Error(integrity) "<journal>: <first problem> (and N more)" when the report has errors.
void require_clean(const VerifyReport& report, const std::filesystem::path& journal);

} // namespace escrow::audit
