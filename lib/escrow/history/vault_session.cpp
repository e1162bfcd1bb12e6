#include <escrow/atomic_file.hpp>
#include <escrow/canonical.hpp>
#include <escrow/crypto.hpp>
#include <escrow/history/apply.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/labels.hpp>
#include <escrow/history/replay.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/util/file.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <iterator>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

namespace escrow::history {

namespace fs = std::filesystem;

namespace {

// Where the last complete line of `text` starts (text: complete lines, non-empty).
std::size_t last_line_start(std::string_view text)
{
  const std::size_t nl = text.rfind('\n', text.size() - 2);
  return nl == std::string_view::npos ? 0 : nl + 1;
}

Hash hash_of_line(std::string_view line, std::string_view what)
{
  return parse_entry(line, what).hash;
}

} // namespace

namespace {

// A key line one secret record references, by reference into the record: its line key is
// line_key(as_key_line(name), *k), and two refs give the same key exactly when they compare equal
// (the kind, its fields, and the 12 bytes of K the key carries). A write's garbage is found by
// comparing them, not by building every key (issue 12 target 1: a bulk share's 1,000 secrets).
struct LineRef
{
  KeyLineKind kind = KeyLineKind::value;
  std::int64_t gen = 0;
  std::string_view vid;
  std::string_view member;
  std::string_view request;
  const Hash* k = nullptr;

  KeyLine as_key_line(const std::string& secret) const
  {
    return KeyLine{kind, secret, gen, std::string(vid), std::string(member), std::string(request)};
  }
  friend bool operator<(const LineRef& a, const LineRef& b)
  {
    if (std::tie(a.kind, a.gen, a.vid, a.member, a.request) != std::tie(b.kind, b.gen, b.vid, b.member, b.request)) {
      return std::tie(a.kind, a.gen, a.vid, a.member, a.request) < std::tie(b.kind, b.gen, b.vid, b.member, b.request);
    }
    return std::memcmp(a.k->data(), b.k->data(), 12) < 0;
  }
};

// Every key line one secret references (the one list of them: add_line_keys builds its keys).
void add_line_refs(const Secret& secret, std::vector<LineRef>& out)
{
  for (const auto& [g, gen] : secret.gens) {
    for (const auto& [m, k] : gen.holders) {
      out.push_back(LineRef{KeyLineKind::reader, g, {}, m, {}, &k});
    }
  }
  for (const auto& [vid, version] : secret.versions) {
    out.push_back(LineRef{KeyLineKind::value, 0, vid, {}, {}, &version.material});
    if (version.race_gen) {
      for (const auto& [m, k] : version.race_gen->holders) {
        out.push_back(LineRef{KeyLineKind::reader, version.gen, {}, m, {}, &k});
      }
    }
    for (const auto& [m, k] : version.shares) {
      out.push_back(LineRef{KeyLineKind::share, 0, vid, m, {}, &k});
    }
    for (const auto& [m, grant] : version.grants) {
      out.push_back(LineRef{KeyLineKind::grant, 0, vid, m, {}, &grant.key});
    }
  }
  for (const auto& [id, request] : secret.requests) {
    for (const auto& [a, approval] : request.approvals) {
      out.push_back(LineRef{KeyLineKind::approval, 0, approval.vid, a, id, &approval.share});
    }
  }
}

// The line keys of every key line one secret references.
void add_line_keys(const std::string& name, const Secret& secret, std::set<std::string>& out)
{
  std::vector<LineRef> refs;
  add_line_refs(secret, refs);
  for (const LineRef& ref : refs) {
    out.insert(line_key(ref.as_key_line(name), *ref.k));
  }
}

// The place's hint that the keys file holds exactly the lines a state references: a write then
// finds its garbage among the lines of the secrets it changes instead of reading every record
// (docs/PERFORMANCE.md, issue 12 target 3). The state is named by the journal position it was
// replayed to (as the cache's fast path names it), the file by its size:
// "escrow-keys-clean/2 <journal bytes> <entries> <b64 last entry hash> <keys file bytes>".
constexpr std::string_view k_keys_clean_file = "keys-clean";
constexpr std::string_view k_keys_clean_format = "escrow-keys-clean/2";

} // namespace

std::set<std::string> referenced_line_keys(const State& state)
{
  std::set<std::string> out;
  for (const auto& [name, secret] : state.secrets) {
    add_line_keys(name, *secret, out);
  }
  return out;
}

struct VaultSession::Impl
{
  VaultSessionOptions options;
  std::optional<Store> store;
  std::optional<Cache> cache;
  State state;
  Position position;
  // The verified entries: the place's log as `base` names it (read only when needed: the slow
  // path's loss check, a head the journal's heads do not name, an acknowledgement), then `fresh`,
  // those verified since.
  LogSummary base;
  std::vector<VerifiedEntry> fresh;
  // The state's digest while it is the one the cache named (nullopt: compute it at the next save).
  std::optional<Hash> digest;
  std::vector<Hash> head_file_known; // see load_head_file_hint
  std::optional<Unresolved> unresolved;
  // During an unresolved merge: the head file without the heads only theirs has (the journal is
  // ours). No write happens then, so it stays the file's.
  std::optional<HeadFile> ours_head;

  // The head file as this session judges it.
  const HeadFile& head_view() const { return ours_head ? *ours_head : store->head(); }
  bool head_file_dirty = false;
  std::vector<std::string> warnings;
  std::vector<VerifiedEntry> lost;
  bool fast = false;
  std::optional<Identity> identity;
  Timestamp now = 0;
  std::string git_checked_through;
  std::optional<FullReplay> kept_replay; // options.keep_full_replay

  std::string journal_name() const { return store->paths().journal.string(); }

  std::uint64_t log_count() const { return base.count + fresh.size(); }

  // Every verified entry, in order (reads the place's log).
  std::vector<VerifiedEntry> all_entries() const
  {
    std::vector<VerifiedEntry> out = base.count > 0 ? cache->entries(base) : std::vector<VerifiedEntry>{};
    out.insert(out.end(), fresh.begin(), fresh.end());
    return out;
  }

  void save_cache()
  {
    if (!lost.empty()) {
      return; // never forget a loss by advancing past it
    }
    try {
      // The state's digest is computed by the save only when it needs it (a small write whose
      // snapshot lags does not: its state is named by the entries ahead).
      if (const std::optional<LogSummary> saved = cache->save(position, state, git_checked_through, base, fresh, digest)) {
        base = *saved;
        fresh.clear();
        if (head_file_dirty) {
          save_head_file_hint();
          head_file_dirty = false;
        }
      }
    } catch (const Error& error) {
      // The vault is fine; this machine only failed to remember: the next command re-verifies.
      warnings.push_back(fmt::format("the verified-state cache was not updated: {}", error.what()));
    } catch (const std::filesystem::filesystem_error& error) {
      warnings.push_back(fmt::format("the verified-state cache was not updated: {}", error.code().message()));
    }
  }

  // The hint's first fields for this session's state: the journal position it was replayed to.
  std::string clean_keys_prefix() const
  {
    return fmt::format("{} {} {} {} ", k_keys_clean_format, position.size, position.entries,
                       canonical::b64(position.last_hash));
  }

  // Whether the place's hint says the keys file holds exactly the lines the state references
  // (the hint names the state's journal position and the file's size). Only a hint: a wrong one
  // can leave garbage lines (verify warns, a write on a fresh place removes them), never drop or
  // accept a line a reader uses (every reader checks each line it opens against the state).
  bool keys_hinted_clean(std::size_t keys_bytes) const
  {
    if (!cache || !lost.empty()) {
      return false;
    }
    try {
      const fs::path path = cache->dir() / k_keys_clean_file;
      if (!util::kind_of(path)) {
        return false;
      }
      return read_file(path, 256) == clean_keys_prefix() + fmt::format("{}\n", keys_bytes);
    } catch (const Error&) {
      return false;
    } catch (const std::filesystem::filesystem_error&) {
      return false;
    }
  }

  // Records the hint for the state (after the cache named it): best effort, not flushed (a hint
  // lost or torn by a crash only sends the next write to the full garbage scan).
  void note_clean_keys(std::size_t keys_bytes) const
  {
    if (!cache || !lost.empty()) {
      return;
    }
    const fs::path path = cache->dir() / k_keys_clean_file;
    const fs::path temp = cache->dir() / (std::string(k_keys_clean_file) + ".tmp");
    std::error_code ignored;
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      out << clean_keys_prefix() << keys_bytes << "\n";
      if (!out) {
        fs::remove(temp, ignored);
        return;
      }
    }
    fs::rename(temp, path, ignored);
  }

  // After a full replay (every record in memory): when the keys file holds exactly the lines the
  // state references, say so for the next write.
  void check_clean_keys()
  {
    try {
      const std::set<std::string> keep = referenced_line_keys(state);
      std::size_t lines = 0;
      bool clean = true;
      store->keys().for_each([&](std::string_view key, std::string_view) {
        ++lines;
        clean = clean && keep.count(std::string(key)) > 0;
      });
      if (clean && lines == keep.size()) {
        note_clean_keys(store->keys().bytes().size());
      }
    } catch (const Error&) {
      // No hint: the next write scans every line (and a damaged keys file is its reader's error).
    }
  }

  FileNames names() const
  {
    return FileNames{store->paths().journal.string(), store->paths().head.string(), store->paths().keys.string()};
  }

  // The replay's options; `seen` collects each entry's ts, action and actor (the replay hands
  // every entry whose signature it is about to check to signature_known; it is checked anyway).
  ReplayOptions replay_options(std::map<Hash, VerifiedEntry>& seen) const
  {
    ReplayOptions o;
    o.head = &head_view();
    // No vault_id pin: the head file is no pin (it is the file under test), and the replay
    // checks it against the journal's genesis, which names the head file when they differ.
    o.now = now;
    o.signature_known = [&seen](const Entry& entry, std::string_view) {
      seen.emplace(entry.hash, verified_entry(entry));
      return false;
    };
    return o;
  }

  // The accepted entries of `r`, in L order, with what the cache keeps of each.
  static std::vector<VerifiedEntry> accepted(const ReplayResult& r, const std::map<Hash, VerifiedEntry>& seen,
                                             std::string_view text, std::string_view what)
  {
    std::vector<VerifiedEntry> out;
    out.reserve(r.order.size());
    std::map<Hash, VerifiedEntry> parsed;
    for (const Hash& h : r.order) {
      auto found = seen.find(h);
      if (found == seen.end()) {
        if (parsed.empty()) {
          parsed = parse_all(text, what);
        }
        found = parsed.find(h);
        if (found == parsed.end()) {
          fail(ErrorKind::failed, "internal: replay accepted entry {} that no line holds", short_hash(h));
        }
      }
      out.push_back(found->second);
    }
    return out;
  }

  // Every line that parses as an entry (the others are findings of the replay).
  static std::map<Hash, VerifiedEntry> parse_all(std::string_view text, std::string_view what)
  {
    std::map<Hash, VerifiedEntry> out;
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t nl = text.find('\n', start);
      try {
        const Entry e = parse_entry(text.substr(start, nl - start), what);
        out.emplace(e.hash, verified_entry(e));
      } catch (const Error&) {
      }
      start = nl + 1;
    }
    return out;
  }

  void take_warnings(const ReplayResult& r)
  {
    for (const Finding& f : r.findings) {
      if (f.severity() == Severity::warning && f.kind != FindingKind::torn_write) { // the store's own warning
        warnings.push_back(format_finding(f, names()));
      }
    }
  }

  // Position after `text` (complete lines read from `offset`), or `previous` when it is empty.
  static Position advance(const Position& previous, std::string_view text, std::uint64_t offset,
                          const ReplayResult& r, std::string_view what)
  {
    Position p = previous;
    if (!text.empty()) {
      const std::size_t start = last_line_start(text);
      p.last_offset = offset + start;
      const std::string_view line = text.substr(start, text.size() - start - 1);
      p.last_hash = hash_of_line(line, what);
      p.last_line = crypto::hash(labels::k_cache_last_line, as_bytes(line));
      p.size = offset + text.size();
    }
    p.entries = r.entries;
    p.lines = r.lines;
    p.ts = r.ts;
    p.heads = r.heads;
    return p;
  }

  // Whether `last` (the last line verified, its hash already compared) is signed by its author's
  // key in the state it produced (the genesis member's for init; a member who removed themself
  // keeps their key in the state).
  static bool last_signature_ok(const State& state, const Entry& last)
  {
    const InitArgs* init = last.op ? std::get_if<InitArgs>(&last.op->args) : nullptr;
    if (init != nullptr) {
      return verify_signature(last, init->member.sign_pk);
    }
    const Member* author = state.member(last.actor);
    return author != nullptr && verify_signature(last, author->sign_pk);
  }

  bool still_verified(const std::string& line, const Position& from_position, const State& from_state) const
  {
    try {
      const Entry last = parse_entry(line, journal_name());
      return last.hash == from_position.last_hash && last_signature_ok(from_state, last);
    } catch (const Error&) {
      return false;
    }
  }

  // Fast path: continue the verified state with the lines after it. false when the journal is
  // not a continuation of what was verified (then the slow path). `ahead`: entries this place
  // verified past `from_position` (the snapshot lags them, Cache::save): each must be met again
  // among the lines after it, else they are gone and the slow path names the loss; they are not
  // logged twice.
  bool continue_from(const Position& from_position, const State& from_state, const std::vector<Hash>& ahead = {})
  {
    const std::optional<std::string> line = store->read_line_at(from_position.last_offset);
    if (!line || from_position.last_offset + line->size() + 1 != from_position.size) {
      return false;
    }
    // The last verified line must still be the entry verified, signature included (a flipped
    // byte in its "sig" keeps its hash): else the slow path replays everything and says why. A
    // place that kept the line's own hash compares it (the very bytes verified); an older one
    // parses the line and checks its signature again.
    const bool same_line = from_position.last_line != Hash{}
                               ? crypto::hash(labels::k_cache_last_line, as_bytes(*line)) == from_position.last_line
                               : still_verified(*line, from_position, from_state);
    if (!same_line) {
      return false;
    }
    const std::string tail = store->read_journal(from_position.size);
    if (tail.empty()) {
      if (!ahead.empty()) {
        return false; // the entries verified past the position are gone
      }
      if (&from_state != &state) {
        state = from_state;
      }
      position = from_position;
      return true;
    }
    const Snapshot from{from_state, from_position.heads, from_position.ts, from_position.entries,
                        static_cast<std::size_t>(from_position.lines)};
    std::map<Hash, VerifiedEntry> seen;
    const std::set<Hash> ahead_set(ahead.begin(), ahead.end());
    ReplayOptions o = replay_options(seen);
    o.accepted_before = &ahead_set;
    const ReplayResult r = replay_from(from, tail, o);
    if (r.needs_full_replay) {
      return false; // a merge of an older fork, or parents that are not the verified heads
    }
    std::vector<VerifiedEntry> verified = accepted(r, seen, tail, journal_name());
    if (!ahead.empty()) {
      const std::set<Hash> met(r.order.begin(), r.order.end());
      if (!std::all_of(ahead.begin(), ahead.end(), [&](const Hash& h) { return met.count(h) > 0; })) {
        return false; // an entry verified past the position is gone or was not accepted
      }
    }
    r.require_ok(names());
    if (r.state.lost.size() != from_state.lost.size()) {
      refuse_acknowledged_operations(all_entries(), from_state.lost, r.state.lost);
    }
    take_warnings(r);
    for (VerifiedEntry& e : verified) {
      if (ahead_set.count(e.hash) == 0) {
        fresh.push_back(std::move(e));
      }
    }
    state = r.state;
    digest.reset();
    position = advance(from_position, tail, from_position.size, r, journal_name());
    return true;
  }

  // A journal-loss may acknowledge only lost events (vault-2-replay.md §6): an entry this machine
  // verified as an operation, newly acknowledged as lost, is an operation cut out of history and
  // declared lost (whatever action the journal-loss claims for it). The replay cannot know what a
  // lost entry was; this machine can.
  void refuse_acknowledged_operations(const std::vector<VerifiedEntry>& verified, const std::set<Hash>& before,
                                      const std::set<Hash>& acknowledged) const
  {
    if (acknowledged.size() == before.size()) {
      return; // nothing newly acknowledged (acknowledgements are only ever added)
    }
    for (const VerifiedEntry& e : verified) {
      if (acknowledged.count(e.hash) > 0 && before.count(e.hash) == 0 && parse_op_kind(e.action)) {
        throw Error(ErrorKind::integrity,
                    fmt::format("{}: entry {} ({} by {}, {}) that this machine verified is acknowledged as lost, but "
                                "it is an operation: a lost operation cannot be acknowledged",
                                journal_name(), short_hash(e.hash), e.action, e.actor, format_time(e.ts)),
                    {"restore it: escrow audit restore --from <commit or file>"});
      }
    }
  }

  // `prior`: the entries this machine verified before (nullopt: none), `prior_lost` the losses
  // acknowledged then.
  void full_replay(const std::optional<std::vector<VerifiedEntry>>& prior, const std::set<Hash>& prior_lost)
  {
    std::string text = store->read_journal(0);
    std::map<Hash, VerifiedEntry> seen;
    ReplayResult r = replay(text, replay_options(seen));
    // The loss check comes first: a journal cut short also fails the replay (its head file
    // names an entry it lacks), and the loss is what the user must be told.
    if (prior) {
      std::set<Hash> present(r.order.begin(), r.order.end());
      if (!missing_entries(*prior, present, r.state.lost).empty()) {
        // Lines the replay rejected or skipped are still there: only a line that is gone is lost.
        for (const auto& [hash, entry] : parse_all(text, journal_name())) {
          (void)entry;
          present.insert(hash);
        }
      }
      refuse_acknowledged_operations(*prior, prior_lost, r.state.lost);
      std::vector<VerifiedEntry> missing = missing_entries(*prior, present, r.state.lost);
      if (!missing.empty()) {
        // A line still there but no longer the entry it was (edited until it no longer parses,
        // or no longer hashes to itself) is tampering on that line: name the line, not a loss.
        for (const Finding& f : r.findings) {
          if (f.file == VaultFile::journal && f.line > 0
              && (f.kind == FindingKind::malformed_entry || f.kind == FindingKind::modified_entry)) {
            throw Error(ErrorKind::integrity, format_finding(f, names()));
          }
        }
        if (!options.acknowledging_loss) {
          throw loss_error(store->paths().journal, missing);
        }
        lost = std::move(missing);
      }
    }
    if (lost.empty()) {
      r.require_ok(names());
    } else {
      // Acknowledging a loss: the findings a lost tail causes are expected; nothing else is.
      for (const Finding& f : r.findings) {
        if (f.severity() != Severity::warning && f.severity() != Severity::info
            && f.kind != FindingKind::truncated_tail) {
          throw Error(f.severity() == Severity::conflict ? ErrorKind::failed : ErrorKind::integrity,
                      format_finding(f, names()));
        }
      }
    }
    take_warnings(r);
    state = r.state;
    digest.reset();
    base = LogSummary{}; // the place's log is written anew
    fresh = accepted(r, seen, text, journal_name());
    position = advance(Position{}, text, 0, r, journal_name());
    if (options.keep_full_replay && lost.empty()) {
      kept_replay = FullReplay{std::move(text), std::move(r)};
    }
  }

  // Returns whether the place's record of the head file's heads changed (then save it).
  bool check_head()
  {
    if (!lost.empty()) {
      return false; // the loss is what is reported
    }
    // The head file names the journal's heads (the usual case: nothing read), or entries this
    // session verified, or older ones: then the place's log is read.
    std::optional<std::set<Hash>> known;
    const auto is_known = [&](const Hash& h) {
      if (std::find(position.heads.begin(), position.heads.end(), h) != position.heads.end()
          || std::find(head_file_known.begin(), head_file_known.end(), h) != head_file_known.end()
          || std::any_of(fresh.begin(), fresh.end(), [&](const VerifiedEntry& e) { return e.hash == h; })) {
        return true;
      }
      if (!known) {
        known.emplace();
        for (const VerifiedEntry& e : all_entries()) {
          known->insert(e.hash);
        }
      }
      return known->count(h) > 0;
    };
    for (const Hash& h : head_view().heads) {
      if (state.lost.count(h) == 0 && !is_known(h)) {
        throw Error(ErrorKind::integrity,
                    fmt::format("{}: names journal entry {} that {} lacks (the journal lost its tail)",
                                store->paths().head.string(), short_hash(h), journal_name()),
                    {"if the journal was checked out or reset, restore it from git (git checkout -- " +
                     store->paths().journal.filename().string() + ")"});
      }
    }
    if (head_file_known == head_view().heads) {
      return false;
    }
    head_file_known = head_view().heads;
    head_file_dirty = true; // written with the next cache save (an open alone writes nothing)
    return true;
  }

  // The head file's heads found among the verified entries, remembered in the place's
  // `head-file` (b64 hashes, one a line): an event does not move the head file, so it usually
  // names an older entry than the journal's heads, and without this every open would read
  // entries.log to find it. Only hashes this place verified are written; a file that does not
  // parse is ignored (the log is read instead). Replaced atomically, best effort.
  void load_head_file_hint()
  {
    head_file_known.clear();
    try {
      const fs::path file = cache->dir() / "head-file";
      if (!util::kind_of(file)) {
        return;
      }
      const std::string text = read_file(file, 64 * 1024);
      std::size_t start = 0;
      while (start < text.size()) {
        const std::size_t nl = text.find('\n', start);
        if (nl == std::string::npos) {
          head_file_known.clear();
          return;
        }
        const Bytes raw = canonical::unb64(std::string_view(text).substr(start, nl - start), file.string());
        Hash h{};
        if (raw.size() != h.size()) {
          head_file_known.clear();
          return;
        }
        std::copy(raw.begin(), raw.end(), h.begin());
        head_file_known.push_back(h);
        start = nl + 1;
      }
    } catch (const std::exception&) {
      head_file_known.clear();
    }
  }

  void save_head_file_hint() const
  {
    if (!lost.empty() || head_file_known.empty()) {
      return;
    }
    try {
      std::string text;
      for (const Hash& h : head_file_known) {
        text += canonical::b64(h) + "\n";
      }
      fs::create_directories(cache->dir());
      AtomicFile file(cache->dir() / "head-file", 0600);
      file.write(text);
      file.commit();
    } catch (const std::exception&) {
      // Only an optimisation: the next open reads entries.log instead.
    }
  }

  // An unresolved merge (unresolved.hpp): asked of git once, before anything is verified, so that
  // the head file's heads only theirs has are set aside (the journal is ours).
  void detect_unresolved()
  {
    if (!options.unresolved_merge) {
      return;
    }
    const std::optional<UnresolvedMerge> merge = options.unresolved_merge();
    if (!merge) {
      return;
    }
    unresolved = assess_unresolved(store->read_journal(0), *merge, journal_name());
    if (!unresolved) {
      return;
    }
    ours_head = store->head();
    std::erase_if(ours_head->heads, [&](const Hash& h) { return unresolved->theirs_only.count(h) > 0; });
    warnings.push_back(unresolved->warning());
  }

  void verify(Access access)
  {
    detect_unresolved();
    const VaultId& vault = store->head().vault_id;
    cache.emplace(Cache::place(options.state_home, vault, store->paths().journal, options.branch), vault);
    const std::optional<Verified> cached = cache->load();
    if (cached && !cached->legacy) {
      base = cached->log;
      digest = cached->state_digest;
      load_head_file_hint();
    }
    fast = cached && !cached->legacy && !options.replay_all
           && continue_from(cached->position, cached->state, cache->ahead_entries(cached->log));
    if (!fast) {
      std::optional<std::vector<VerifiedEntry>> prior;
      if (cached) {
        prior = cache->entries(cached->log);
      }
      full_replay(prior, cached ? cached->state.lost : std::set<Hash>{});
    }
    if (!state.initialised || state.vault_id != vault) {
      fail(ErrorKind::integrity, "{}: its journal is not the history of vault {}", store->paths().head.string(),
           canonical::b64(vault));
    }
    if (store->torn_tail()) {
      warnings.push_back(fmt::format("{}: its last line is incomplete (a write was interrupted); the next write "
                                     "removes it",
                                     journal_name()));
    }
    check_head();
    const bool checked = check_git_history(cached);
    if (unresolved && access == Access::write) {
      // Refused after the checks (a damaged journal is still exit 3), before anything is written.
      throw unresolved->refusal("no write until it is resolved");
    }
    if (!fast || !fresh.empty() || checked) {
      save_cache();
    }
    if (!fast) {
      check_clean_keys(); // the records are all in memory after a full replay
    }
  }

  // The git first-parent check (vault-2-replay.md §7). Returns whether it ran (the place records
  // the commit it checked through).
  bool check_git_history(const std::optional<Verified>& cached)
  {
    if (cached) {
      git_checked_through = cached->git_checked_through;
    }
    if (!options.history_check || !lost.empty()) {
      return false;
    }
    const std::string head = options.history_check->head();
    if (head.empty()) {
      return false;
    }
    if (fast && cached && cached->git_checked_through == head && !options.full_history_check) {
      return false; // checked through HEAD already, and the journal only grew since
    }
    std::unordered_map<std::string, std::vector<std::string>> parents;
    const std::string text = store->read_journal(0);
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t nl = text.find('\n', start);
      if (nl == std::string::npos) {
        break; // a torn tail (reported by the store)
      }
      try {
        const Entry e = parse_entry(std::string_view(text).substr(start, nl - start), journal_name());
        std::vector<std::string> ps;
        ps.reserve(e.parents.size());
        for (const Hash& p : e.parents) {
          ps.push_back(canonical::b64(p));
        }
        parents.emplace(canonical::b64(e.hash), std::move(ps));
      } catch (const Error&) {
        // The replay judged every line; one it rejected is no entry of the history.
      }
      start = nl + 1;
    }
    std::vector<std::string> heads;
    for (const Hash& h : position.heads) {
      heads.push_back(canonical::b64(h));
    }
    std::vector<std::string> file_heads;
    for (const Hash& h : head_view().heads) {
      file_heads.push_back(canonical::b64(h));
    }
    for (std::string& warning : options.history_check->check(parents, heads, file_heads)) {
      warnings.push_back(std::move(warning));
    }
    git_checked_through = head;
    return true;
  }

  // Under the lock, before a write: what other writers appended since open is verified first.
  void catch_up()
  {
    if (!lost.empty()) {
      return;
    }
    const std::size_t before = fresh.size();
    const Position from_position = position;
    if (!continue_from(from_position, state)) {
      const State from_state = state;
      full_replay(all_entries(), from_state.lost);
      check_head();
      save_cache();
      return;
    }
    check_head();
    if (fresh.size() != before) {
      save_cache();
    }
  }

  const Identity& load_identity()
  {
    if (identity) {
      return *identity;
    }
    if (!options.identity) {
      fail(ErrorKind::access, "{}: this command needs an identity and none was given", store->paths().head.string());
    }
    Identity id = options.identity();
    const Member* m = state.member(id.pub.name);
    if (m == nullptr) {
      throw Error(ErrorKind::access, fmt::format("{}: {} ({}) is not a member of this vault",
                                                 store->paths().head.string(), id.pub.name, id.pub.fingerprint()))
        .hint("an admin adds members with: escrow member add PUBFILE --role ROLE --env ENV");
    }
    if (!m->active()) {
      fail(ErrorKind::access, "{}: {} was removed from this vault on {} by {}", store->paths().head.string(),
           id.pub.name, format_time(*m->removed_at), m->removed_by.value_or("?"));
    }
    if (m->sign_pk != id.pub.sign_pk || m->box_pk != id.pub.box_pk) {
      fail(ErrorKind::access, "{}: the identity's keys are not those of member {}", store->paths().head.string(),
           id.pub.name);
    }
    identity.emplace(std::move(id));
    return *identity;
  }

  Entry base_entry(Action action, Result result, std::optional<std::string> why)
  {
    Entry e;
    e.vault = store->head().vault_id;
    e.actor = load_identity().pub.name;
    // Never before a parent (the replay requires ts ≥ the parents'): a clock behind another
    // machine's gives the parent's time.
    e.ts = std::max(now, position.ts);
    e.host = options.host;
    e.parents = position.heads;
    e.action = action;
    e.result = result;
    e.why = std::move(why);
    return e;
  }

  // Under the lock: the journal must still end where this session verified it (only a program
  // that ignores the lock can have appended since).
  void require_unchanged()
  {
    if (!store->read_journal(position.size).empty()) {
      throw Error(ErrorKind::io, fmt::format("{}: changed on disk since it was verified (written without the lock)",
                                             journal_name()))
          .hint("run the command again");
    }
  }

  // After the journal append: the position and the cache follow (rewrite: the whole log).
  // `line`: the entry's journal line as appended (with its newline).
  void committed(const Entry& e, std::string_view line, bool rewrite = false)
  {
    if (rewrite && base.count > 0) {
      fresh = all_entries();
      base = LogSummary{};
    }
    fresh.push_back(verified_entry(e));
    position.last_offset = position.size;
    position.size += line.size();
    position.last_hash = e.hash;
    position.last_line = crypto::hash(labels::k_cache_last_line, as_bytes(line.substr(0, line.size() - 1)));
    position.heads = {e.hash};
    position.entries += 1;
    position.lines += 1;
    position.ts = e.ts;
    save_cache();
  }
};

VaultSession::VaultSession(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
VaultSession::VaultSession(VaultSession&&) noexcept = default;
VaultSession& VaultSession::operator=(VaultSession&&) noexcept = default;
VaultSession::~VaultSession() = default;

VaultSession VaultSession::open(VaultSessionOptions options, Access access)
{
  auto impl = std::make_unique<Impl>();
  impl->now = options.clock.now();
  impl->options = std::move(options);
  StoreOptions store_options;
  store_options.lock_wait = impl->options.lock_wait;
  store_options.after_step = impl->options.after_step;
  impl->store.emplace(Store::open(impl->options.vault_path, access == Access::write, store_options));
  impl->verify(access);
  return VaultSession(std::move(impl));
}

VaultSession VaultSession::create(VaultSessionOptions options, const PolicyValue& policy, std::optional<std::string> why)
{
  auto impl = std::make_unique<Impl>();
  impl->now = options.clock.now();
  impl->options = std::move(options);
  if (!impl->options.identity) {
    fail(ErrorKind::usage, "{}: init needs an identity", impl->options.vault_path.string());
  }
  Identity id = impl->options.identity();
  InitArgs init;
  init.member.name = id.pub.name;
  init.member.sign_pk = id.pub.sign_pk;
  init.member.box_pk = id.pub.box_pk;
  const Bytes salt = crypto::random_bytes(init.member.salt.size());
  std::copy(salt.begin(), salt.end(), init.member.salt.begin());
  init.policy = policy;
  Entry e;
  e.genesis_format = true;
  e.vault = derive_vault_id(init.member, impl->now);
  e.actor = id.pub.name;
  e.ts = impl->now;
  e.host = impl->options.host;
  e.action = OpKind::init;
  e.result = Result::ok;
  e.why = std::move(why);
  e.op = Op{init, {}};
  const State empty;
  const std::string what = impl->options.vault_path.string();
  check_args(*e.op, ErrorKind::usage, what);
  require_authorized(empty, e, ErrorKind::usage, what);
  e.op->writes = compute_writes(empty, e);
  seal_entry(e, id, what);
  State state;
  apply(state, e, what);

  StoreOptions store_options;
  store_options.lock_wait = impl->options.lock_wait;
  store_options.after_step = impl->options.after_step;
  impl->store.emplace(Store::create(impl->options.vault_path, e, store_options));
  impl->identity.emplace(std::move(id));
  impl->state = std::move(state);
  impl->cache.emplace(Cache::place(impl->options.state_home, e.vault, impl->store->paths().journal, impl->options.branch),
                      e.vault);
  impl->fresh = {verified_entry(e)};
  const std::string genesis_line = dump_entry(e);
  impl->position = Position{genesis_line.size() + 1, 0, e.hash, {e.hash}, 1, 1, e.ts,
                            crypto::hash(labels::k_cache_last_line, as_bytes(genesis_line))};
  impl->save_cache();
  return VaultSession(std::move(impl));
}

const State& VaultSession::state() const
{
  return m_impl->state;
}

const VaultId& VaultSession::vault_id() const
{
  return m_impl->store->head().vault_id;
}

const std::vector<Hash>& VaultSession::heads() const
{
  return m_impl->position.heads;
}

const HeadFile& VaultSession::head_file() const
{
  return m_impl->store->head();
}

const VaultPaths& VaultSession::paths() const
{
  return m_impl->store->paths();
}

const fs::path& VaultSession::cache_place() const
{
  return m_impl->cache->dir();
}

bool VaultSession::fast_path() const
{
  return m_impl->fast;
}

const std::vector<std::string>& VaultSession::warnings() const
{
  return m_impl->warnings;
}

const std::optional<Unresolved>& VaultSession::unresolved() const
{
  return m_impl->unresolved;
}

void VaultSession::require_readable(std::string_view secret, ReadKind kind)
{
  const std::optional<Unresolved>& u = m_impl->unresolved;
  if (!u) {
    return;
  }
  if (const std::optional<std::size_t> n = u->conflict_of("s:" + std::string(secret))) {
    throw u->refusal(fmt::format("{} is in conflict {}: not served until the merge is resolved", secret, *n));
  }
  if (kind == ReadKind::record) {
    return;
  }
  const bool members_in_conflict = std::any_of(u->objects.begin(), u->objects.end(), [](const std::set<std::string>& o) {
    return std::any_of(o.begin(), o.end(), [](const std::string& path) { return path.rfind("m:", 0) == 0; });
  });
  if (members_in_conflict) {
    const std::string me = identity().pub.name;
    if (const std::optional<std::size_t> n = u->conflict_of("m:" + me)) {
      throw u->refusal(fmt::format("{}'s membership is in conflict {}: no value is served to {} until the merge is "
                                   "resolved",
                                   me, *n, me));
    }
  }
}

std::optional<FullReplay> VaultSession::take_full_replay()
{
  std::optional<FullReplay> out = std::move(m_impl->kept_replay);
  m_impl->kept_replay.reset();
  return out;
}

const std::vector<VerifiedEntry>& VaultSession::lost() const
{
  return m_impl->lost;
}

Timestamp VaultSession::now() const
{
  return m_impl->now;
}

bool VaultSession::writable() const
{
  return m_impl->store->locked();
}

const Identity& VaultSession::identity()
{
  return m_impl->load_identity();
}

const Member& VaultSession::me()
{
  return *m_impl->state.member(identity().pub.name);
}

const KeysFile& VaultSession::keys()
{
  return m_impl->store->keys();
}

void VaultSession::upgrade()
{
  if (m_impl->unresolved) {
    throw m_impl->unresolved->refusal("no write until it is resolved");
  }
  if (m_impl->store->locked()) {
    return;
  }
  m_impl->store->lock();
  m_impl->catch_up();
}

Entry VaultSession::submit(Args args, const Material& material, std::optional<std::string> why)
{
  Impl& s = *m_impl;
  if (s.unresolved) {
    throw s.unresolved->refusal("no write until it is resolved");
  }
  if (!s.store->locked()) {
    fail(ErrorKind::failed, "internal: submit on a read session");
  }
  const bool acknowledging = std::holds_alternative<JournalLossArgs>(args);
  if (!s.lost.empty() && !acknowledging) {
    throw loss_error(s.store->paths().journal, s.lost);
  }
  const std::string what = s.store->paths().journal.string();
  s.require_unchanged();
  const OpKind kind = kind_of(args);
  Entry e = s.base_entry(kind, Result::ok, std::move(why));
  Op op;
  op.args = std::move(args);
  for (const SealedLine& line : material.lines) {
    const std::optional<KeyLine> parsed = parse_line_key(line.key());
    if (!parsed) {
      fail(ErrorKind::failed, "internal: key line {} has no v2 name", line.key());
    }
    op.writes.push_back(Write{key_path(*parsed, line.hash), std::nullopt, line.hash});
  }
  std::sort(op.writes.begin(), op.writes.end(), [](const Write& a, const Write& b) { return a.path < b.path; });
  e.op = std::move(op);
  check_args(*e.op, ErrorKind::usage, what);
  // What this machine knows of the loss first (exit 3 for an operation), then the rules.
  if (acknowledging) {
    // Exactly what this machine found lost, nothing else (the rest of journal-loss's rule).
    std::set<Hash> named;
    for (const LostEntry& l : std::get<JournalLossArgs>(e.op->args).lost) {
      named.insert(l.hash);
    }
    std::set<Hash> found;
    for (const VerifiedEntry& l : s.lost) {
      found.insert(l.hash);
    }
    if (named != found) {
      fail(ErrorKind::usage, "{}: journal-loss must name exactly the {} entries this machine found missing", what,
           s.lost.size());
    }
    // A lost operation changed the state: a journal without it replays differently on every
    // fresh machine, so it must be restored, never acknowledged (vault-2-replay.md §6).
    for (const VerifiedEntry& l : s.lost) {
      if (parse_op_kind(l.action)) {
        throw Error(ErrorKind::integrity,
                    fmt::format("{}: lost entry {} ({} by {}, {}) is an operation: it cannot be acknowledged", what,
                                short_hash(l.hash), l.action, l.actor, format_time(l.ts)),
                    {"restore it: escrow audit restore --from <commit or file>"});
      }
    }
  }
  // "escrow.vault: member-add: bob is not an admin of *" (the reason names the kind).
  require_authorized(s.state, e, ErrorKind::access, s.store->paths().head.string());
  // The effect run once, on the next state (apply_own: its writes are what is signed).
  State next = s.state;
  e.op->writes = apply_own(next, e);
  seal_entry(e, s.load_identity(), what);

  // Garbage: lines the new state does not reference (a crash before an append, deleted lines).
  std::set<std::string> remove;
  const bool hinted = s.keys_hinted_clean(s.store->keys().bytes().size());
  if (hinted) {
    // The file holds exactly what the state references (the place's hint, its size unchanged):
    // only the secrets this operation writes can stop referencing a line. Their records are
    // read; the others are not (issue 12 target 3).
    std::vector<LineRef> before;
    std::vector<LineRef> after;
    std::vector<LineRef> dropped;
    for (const Write& w : e.op->writes) {
      const std::optional<ParsedPath> parsed = parse_path(w.path);
      if (!parsed || parsed->kind != PathKind::secret) {
        continue;
      }
      before.clear();
      after.clear();
      dropped.clear();
      if (const Secret* old = s.state.secret(parsed->name)) {
        add_line_refs(*old, before);
      }
      if (const Secret* now = next.secret(parsed->name)) {
        add_line_refs(*now, after);
      }
      std::sort(before.begin(), before.end());
      std::sort(after.begin(), after.end());
      std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(dropped));
      for (const LineRef& ref : dropped) {
        std::string key = line_key(ref.as_key_line(parsed->name), *ref.k);
        if (s.store->keys().find(key)) {
          remove.insert(std::move(key));
        }
      }
    }
  } else {
    const std::set<std::string> keep = referenced_line_keys(next);
    s.store->keys().for_each([&](std::string_view key, std::string_view) {
      if (keep.count(std::string(key)) == 0) {
        remove.insert(std::string(key));
      }
    });
  }
  for (const SealedLine& line : material.lines) {
    remove.erase(line.key());
  }
  std::vector<SealedLine> add;
  for (const SealedLine& line : material.lines) {
    if (!s.store->keys().find(line.key())) {
      add.push_back(line);
    }
  }
  if (hinted && add.empty() && remove.empty()) {
    // No rewrite scans the keys file this time: its layout is still checked line by line, so a
    // write refuses a damaged file before writing anything (tests/e2e/test_hostile.sh).
    s.store->keys().for_each([](std::string_view, std::string_view) {});
  }
  const std::string line = s.store->append(e, add, remove, HeadFile{e.vault, {e.hash}, s.log_count() + 1});
  s.state = std::move(next);
  s.digest.reset();
  if (acknowledging) {
    // The place still holds the entries that were lost: its log is rewritten from the journal's.
    s.lost.clear();
    s.committed(e, line, true);
    return e;
  }
  s.committed(e, line);
  // The keys file now holds exactly what the new state references (the garbage went above). Only
  // a hint, after the commit point: it never fails a write that is complete (e2e.fault_injection),
  // and a wrong one only sends the next write to the full scan.
  try {
    s.note_clean_keys(s.store->keys().bytes().size());
  } catch (const Error&) {
  } catch (const std::filesystem::filesystem_error&) {
  }
  return e;
}

Entry VaultSession::record(Action action, Result result, std::optional<Json> detail, std::optional<std::string> why)
{
  Impl& s = *m_impl;
  if (!s.lost.empty()) {
    throw loss_error(s.store->paths().journal, s.lost);
  }
  // A read session holds the lock only for the append (as v1's record()).
  const bool temporary = !s.store->locked();
  if (temporary) {
    s.store->lock();
  }
  try {
    if (temporary) {
      s.catch_up();
    }
    const std::string what = s.store->paths().journal.string();
    s.require_unchanged();
    Entry e = s.base_entry(action, result, std::move(why));
    e.detail = std::move(detail);
    require_authorized(s.state, e, ErrorKind::access, s.store->paths().head.string());
    seal_entry(e, s.load_identity(), what);
    const std::string line = s.store->append_event(e);
    s.committed(e, line);
    if (temporary) {
      s.store->unlock();
    }
    return e;
  } catch (...) {
    if (temporary) {
      s.store->unlock();
    }
    throw;
  }
}

VaultSession::Checkpoint VaultSession::checkpoint()
{
  Impl& s = *m_impl;
  if (!s.store->locked()) {
    fail(ErrorKind::failed, "internal: checkpoint on a read session");
  }
  s.require_unchanged();
  Checkpoint c;
  c.journal_size = s.position.size;
  c.head = read_file(s.store->paths().head, 64 * 1024);
  c.keys = std::string(s.store->keys().bytes());
  c.position = s.position;
  c.state = s.state;
  c.log = s.all_entries(); // reads the place's log: a rotation's phase 1 is rare, and must be exact
  c.git_checked_through = s.git_checked_through;
  return c;
}

std::vector<Hash> VaultSession::entries_after(std::uint64_t offset) const
{
  std::vector<Hash> out;
  const std::string text = m_impl->store->read_journal(offset);
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    out.push_back(hash_of_line(std::string_view(text).substr(start, nl - start), m_impl->journal_name()));
    start = nl + 1;
  }
  return out;
}

std::vector<Hash> VaultSession::undo(const Checkpoint& c)
{
  Impl& s = *m_impl;
  if (!s.store->locked()) {
    fail(ErrorKind::failed, "internal: undo on a read session");
  }
  const std::vector<Hash> undone = entries_after(c.journal_size);
  // The cache place first: a crash after it leaves entries this machine no longer counts as
  // verified (replayed again as new), never a verified entry missing (a false loss).
  s.state = c.state;
  s.position = c.position;
  // The log is written anew (base {}): the place's log now also holds the undone entries, so a
  // save on the checkpoint's summary would be refused as another process's change.
  s.base = LogSummary{};
  s.fresh = c.log;
  s.digest.reset();
  s.git_checked_through = c.git_checked_through;
  s.save_cache();
  s.store->undo_appends(c.journal_size, c.head, std::string_view(c.keys));
  return undone;
}

std::size_t VaultSession::drop_garbage_key_lines()
{
  Impl& s = *m_impl;
  if (!s.store->locked()) {
    fail(ErrorKind::failed, "internal: a keys rewrite on a read session");
  }
  const std::set<std::string> keep = referenced_line_keys(s.state);
  std::set<std::string> remove;
  s.store->keys().for_each([&](std::string_view key, std::string_view) {
    if (keep.count(std::string(key)) == 0) {
      remove.insert(std::string(key));
    }
  });
  s.store->remove_key_lines(remove);
  return remove.size();
}

} // namespace escrow::history
