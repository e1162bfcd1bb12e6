// The replay of an escrow-vault/2 journal (docs/design/vault-2-replay.md §1-§2): from the
// journal's bytes to the verified state, or to the list of what is wrong with them.
//
// Pass 1 (one pass over the lines; every parsed entry is held until the replay returns, see
// vault-2-plan.md §2.3 for what streaming is left to step 6/8): a final line without "\n" is a torn write (a warning, not an
// entry); every other line is parsed strictly (entry.hpp: canonical, every field, check_args) and
// its hash checked; a hash seen before is a duplicate; every parent must be on an earlier line or
// acknowledged lost (named by a journal-loss entry anywhere in the file); the vault id must be
// the genesis entry's (and the head file's). The DAG is indexed (entries, children, heads), and
// the head file's heads must be entries of the journal.
//
// The linearization L (vault-2-replay.md §1), a function of the DAG alone:
//   L(e) = L(p1) ++ new(p2) ++ … ++ new(pn) ++ [e]       e.parents = [p1, …, pn]
//   new(pi) = pi and its ancestors not already in the list before it, in file order
//   L(journal) = L(a virtual entry whose parents are the journal's heads, in file order)
// (several parents are left-nested merges: [p1, p2, p3] is (p1 merged with p2) merged with p3.)
//
// Pass 2, in L order, the causal state of every entry: after its parent on its own branch (a
// snapshot of the state is kept at each fork point and dropped when its last child is done),
// or for a merge point the merged state (merge_check.hpp, both orders, strong remove). Per entry:
// ts ≥ every parent's (and ≤ now + 10 min when `now` is given); the actor an active member of the
// causal state; the signature with that member's key; authorize; apply (with the writes check).
// A journal-loss entry may name only hashes absent from the journal. A merge that fails the
// check is an `unresolved-conflict` (error, exit 3) at a merge entry and a `conflict` (exit 1)
// between the journal's open heads; the operations strong remove voids are `voided-by-removal`
// warnings and stay void in every later merge.
//
// An entry that fails is rejected and its descendants are skipped (not reported again); every
// independent problem is reported once. The state returned is meaningful only when ok().
//
// Signatures: the key of an actor is fixed by its member-add (names are never reused, keys never
// change), so every signature is checked in one separable pass over a vector of jobs
// (verify_signatures) before the fold; the fold checks that the causal state's key is the one
// used (else it verifies again with the causal key). That pass runs on two threads in batches
// (batches.hpp) while the fold runs, which waits only for the batch of the entry it judges; the
// lines are parsed the same way ahead of pass 1 (issue 12 target 5).
#pragma once

#include <escrow/history/entry.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/history/merge_check.hpp>
#include <escrow/history/state.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

// ---- findings (vault-2-operations.md §8) ----

enum class FindingKind {
  torn_write,             // warning: an unterminated last line (not an entry)
  malformed_entry,        // not an entry: JSON, grammar, canonical form, a field out of range
  modified_entry,         // an entry whose hash is not the hash of its content
  malformed_operation,    // check_args refused its op
  duplicate_entry,        // the same entry twice
  deleted_entry,          // a parent no line holds (and no journal-loss acknowledges)
  reordered_entries,      // a parent on a later line
  foreign_entry,          // another vault's id (entry or head file)
  truncated_tail,         // the head file names an entry the journal lacks
  head_behind,            // info: the head file names an ancestor of the journal's heads
  unknown_author,         // the actor is not a member in the causal state
  removed_author,         // the actor was removed in the causal state
  forged_signature,       // the signature does not verify with the actor's key
  dated_before_parent,    // ts before a parent's
  future_dated,           // ts more than 10 minutes after `now`
  unauthorised_operation, // authorize refused it (or a journal-loss names a present entry)
  wrong_writes,           // its writes are not what apply computes
  conflict,               // an unsealed merge whose sides do not commute (exit 1)
  unresolved_conflict,    // a sealed merge point whose sides do not commute (exit 3)
  voided_by_removal,      // warning: strong remove voided an operation, or seniority decided
  malformed_file,         // the head or keys file is not readable as its format
  key_line_missing,       // a key line the state names is absent
  key_line_modified,      // a key line does not hash to the state's K
  key_line_unknown,       // a key line no accepted operation wrote
  garbage_key_line,       // warning: a line an operation wrote that the state no longer names
};
std::string_view finding_kind_name(FindingKind kind); // "modified-entry", …

enum class Severity {
  error,    // integrity: exit 3
  conflict, // work to finish (an unsealed merge): exit 1
  warning,
  info,
};
Severity severity_of(FindingKind kind);

enum class VaultFile { journal, head, keys };

struct Finding
{
  FindingKind kind = FindingKind::malformed_entry;
  VaultFile file = VaultFile::journal;
  std::size_t line = 0;        // 1-based line of `file`; 0: the file as a whole
  std::optional<Hash> entry;   // the entry concerned, when known
  std::string action;          // its action ("secret-set"), when known
  std::string actor;           // its actor, when known
  std::string reason;          // the rule, one line, value-free
  std::optional<Hash> other;   // a conflict: the other side's operation of the pair, when there is one

  Severity severity() const { return severity_of(kind); }
};

struct FileNames
{
  std::string journal = "escrow.journal";
  std::string head = "escrow.vault";
  std::string keys = "escrow.keys";
};

// "escrow.journal: line 41: entry 7f3ac29e01bd (secret-set by req): <reason>"; the parts that
// are unknown are left out ("escrow.journal: line 3: <reason>", "escrow.vault: <reason>").
std::string format_finding(const Finding& finding, const FileNames& names = {});

// ---- signatures, separable (the replay runs this on two threads, in batches) ----

struct SignatureJob
{
  const Entry* entry = nullptr; // parsed by parse_entry (so its hash is its content's)
  crypto::SignPublicKey key{};
  bool ok = false; // set by verify_signatures
};
// Sets every job's `ok`: whether entry.sig is key's signature of entry.hash (the hash itself was
// checked by parse_entry, so it is not recomputed). Independent jobs: any split works.
void verify_signatures(std::span<SignatureJob> jobs);

// ---- the replay ----

// A verified point to continue from: what a previous replay reached.
struct Snapshot
{
  State state;               // the verified state after `heads`
  std::vector<Hash> heads;   // the journal's heads then, in L order
  Timestamp ts = 0;          // the largest ts of the heads (no later entry may precede it)
  std::uint64_t entries = 0; // entries verified so far
  std::size_t lines = 0;     // lines read so far (the tail's first line is lines + 1)
};

struct ReplayOptions
{
  // The head file, when there is one: its vault id must be the journal's and its heads entries
  // of the journal (truncated-tail), an ancestor of a journal head is head-behind (info).
  // replay_from judges only heads that are tail entries or the snapshot's heads: any other is
  // older than the snapshot or absent, which only the caller's index of verified entries knows.
  const HeadFile* head = nullptr;
  // The vault id this machine expects (a pin), checked against the genesis entry.
  std::optional<VaultId> vault_id;
  // When set, an entry dated more than 10 minutes after it is future-dated.
  std::optional<Timestamp> now;
  // Returns true when this machine verified exactly this line's signature before (the cache,
  // vault-2-replay.md §3: it must compare the line's bytes, hash and sig, not the hash alone,
  // which does not cover the signature). Its signature is then not checked again. The entry is
  // given without its detail (checked and hashed, then freed: the replay never reads it).
  std::function<bool(const Entry& entry, std::string_view line)> signature_known;
  // Entries this machine accepted before (the cache's entries ahead of its snapshot, replayed
  // again from it): not judged against `now` again, so a clock set back since does not reject
  // what it accepted. Everything else is checked as for any entry.
  const std::set<Hash>* accepted_before = nullptr;
};

struct ReplayResult
{
  State state;                     // the state after L (only meaningful when ok())
  std::vector<Hash> heads;         // the journal's heads, in L order (first: "ours")
  std::vector<Hash> order;         // accepted entries in L order (replay_from: the tail's only)
  std::vector<std::size_t> order_lines; // the journal line of each entry of `order`
  Timestamp ts = 0;                // the largest ts of the heads
  std::uint64_t entries = 0;       // entries read (replay_from: including the snapshot's)
  std::size_t lines = 0;           // lines read, the torn fragment excluded (replay_from: idem)
  std::size_t signatures_checked = 0;
  std::vector<Finding> findings;   // by file, then line
  // replay_from only: the tail names an entry older than the snapshot's heads (a merge with an
  // older fork, or parents that are not exactly the snapshot's heads). Nothing was verified; the
  // caller replays the whole journal (the slow path).
  bool needs_full_replay = false;

  bool has_errors() const;    // a finding of severity error
  bool has_conflicts() const; // a finding of severity conflict
  bool ok() const { return !has_errors() && !has_conflicts() && !needs_full_replay; }
  // The first error (else the first conflict); nullptr when there is none.
  const Finding* first_problem() const;
  // Throws the first problem: Error(integrity) for an error, Error(failed) for a conflict, with
  // format_finding's message (and a hint with the count when there are more). No-op when ok().
  void require_ok(const FileNames& names = {}) const;
  // Where a later replay_from can continue (meaningful only when ok()).
  Snapshot snapshot() const;
};

// The whole journal, from its genesis entry. Never throws for what the bytes say (every problem
// is a finding); Error(failed) only for a bug.
ReplayResult replay(std::string_view journal, const ReplayOptions& options = {});

// The lines after a snapshot: `tail` is the journal's bytes after the first `from.lines` lines.
// Every tail entry's parents must be tail entries or exactly `from.heads` (in that order);
// otherwise needs_full_replay. Gives the same state, heads and findings for the tail as
// replay() of the whole journal (tested), checking only the tail.
ReplayResult replay_from(const Snapshot& from, std::string_view tail, const ReplayOptions& options = {});

// ---- a whole vault directory, from bytes (nothing is written) ----

struct VerifiedVault
{
  std::optional<HeadFile> head; // nullopt when the head file is malformed (a finding)
  ReplayResult replay;          // state, heads and every finding (head and keys files' included)
  std::size_t key_lines = 0;    // lines of the keys file

  bool ok() const { return head.has_value() && replay.ok(); }
};

// The keys file against a verified state (verify_vault's check; `audit verify` runs it after its
// streamed replay): a keys file of another vault, every line the state names present and hashing
// to its K (key-line-missing / -modified), every other line garbage (a warning: `written` names
// it) or key-line-unknown. Appends the findings (VaultFile::keys, unsorted) and returns the keys
// file's line count. `written(wanted)` (the key lines among `wanted` that an accepted operation
// wrote; it may return more) is called only when the keys file holds lines the state does not
// name (`wanted`), at most once.
using WrittenKeyLines = std::function<std::set<std::string>(const std::set<std::string, std::less<>>& wanted)>;
std::size_t check_keys_file(const State& state, const KeysFile& keys, const WrittenKeyLines& written,
                            std::vector<Finding>& findings);
// Adds the key lines `entry`'s operation wrote (its "k:" writes with an after) to `lines`.
void add_written_key_lines(const Entry& entry, std::set<std::string>& lines);

// `verify` without a cache: the head file (format, vault id, heads in the journal), the journal
// (replay), and the keys file against the state: every line the state names is present and
// hashes to its K (key-line-missing / -modified), every other line was written by an accepted
// operation (garbage, a warning) or not (key-line-unknown), the keys file's vault id is the
// journal's. `keys` may be null (not checked).
VerifiedVault verify_vault(std::string_view head_text, std::string_view journal, const KeysFile* keys,
                           const ReplayOptions& options = {});
// The same when the journal was replayed already (`replayed`: replay(journal) with `head` and the
// same options, as VaultSession's full replay): only the keys file is left to check.
VerifiedVault verify_vault(HeadFile head, std::string_view journal, ReplayResult replayed, const KeysFile* keys);

} // namespace escrow::history
