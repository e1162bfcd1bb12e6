#include <escrow/audit/restore.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/clock.hpp>
#include <escrow/error.hpp>
#include <escrow/git/history.hpp>
#include <escrow/git/repo.hpp>
#include <escrow/history/store.hpp>
#include <escrow/util/file.hpp>

#include <map>
#include <set>
#include <string_view>
#include <utility>

namespace escrow::audit {

using namespace escrow::history;
namespace fs = std::filesystem;

namespace {

struct Line
{
  std::string text;             // without "\n"
  std::optional<Entry> entry;   // nullopt: not an entry (kept where it is, judged by the replay)
};

// The complete lines of `text` (a final fragment without "\n" is not a line).
std::vector<std::string_view> split_lines(std::string_view text)
{
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::optional<Entry> parse_line(std::string_view line, std::string_view what)
{
  try {
    Entry e = parse_entry(line, what);
    if (compute_hash(e) != e.hash) {
      return std::nullopt; // not the entry it claims to be
    }
    return e;
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::string plural(std::size_t n, std::string_view one, std::string_view many)
{
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// The source's bytes, and what it is.
std::pair<RestoreSource, std::string> read_source(const std::optional<std::string>& from, const VaultPaths& paths)
{
  RestoreSource source;
  if (from && from->empty()) {
    fail(ErrorKind::usage, "audit restore: --from must name a git revision or a journal file");
  }
  if (from && util::kind_of(*from)) {
    source.kind = RestoreSource::Kind::file;
    source.path = *from;
    return {source, read_file(source.path, static_cast<std::size_t>(k_max_journal_size), util::Links::follow)};
  }
  const std::optional<git::Repo> repo = git::Repo::find(paths.journal);
  if (!repo) {
    if (!from) {
      throw Error(ErrorKind::usage,
                  fmt::format("audit restore: {} is not in a git work tree: --from is needed", paths.journal.string()))
        .hint("name a journal file that holds the missing lines (a backup, a copy): escrow audit restore --from FILE");
    }
    throw Error(ErrorKind::usage, fmt::format("{}: no such file (and {} is not in a git work tree, so it is no revision)",
                                              *from, paths.journal.string()));
  }
  source.kind = RestoreSource::Kind::git;
  source.rev = from ? *from : std::string("HEAD");
  // A revision is never an option of git's.
  const git::Run parsed = source.rev.front() == '-'
                            ? git::Run{}
                            : repo->run({"rev-parse", "--verify", "--quiet", "--end-of-options", source.rev + "^{commit}"});
  if (!parsed.ok() || parsed.out.empty()) {
    throw Error(ErrorKind::usage, fmt::format("{}: not a file, nor a revision of the git repository at {}", source.rev,
                                              repo->top().string()))
      .hint("give a commit (HEAD, HEAD~1, a hash, a branch) or a journal file");
  }
  source.commit = parsed.out.substr(0, parsed.out.find('\n'));
  const std::string rel = repo->relative(fs::absolute(paths.journal));
  source.path = rel;
  std::optional<std::string> text = git::show(*repo, source.commit, rel);
  if (!text) {
    fail(ErrorKind::usage, "{}: commit {} holds no {}", source.rev, source.commit.substr(0, 12), rel);
  }
  return {source, std::move(*text)};
}

// The key `entry` must be signed with, from what this machine verified (keys never change, names
// are never reused); nullopt when it does not know it.
std::optional<crypto::SignPublicKey> signing_key(const Entry& entry, const State& verified)
{
  if (entry.op) {
    if (const auto* init = std::get_if<InitArgs>(&entry.op->args)) {
      return init->member.sign_pk;
    }
  }
  if (const Member* m = verified.member(entry.actor)) {
    return m->sign_pk;
  }
  return std::nullopt;
}

// The new journal: the present lines in their order, each restored entry after its parents and
// before its first child (depth-first over restored parents, no recursion), the rest at the end in
// the source's order.
class Merger
{
public:
  Merger(const std::map<Hash, const Line*>& restore, std::string& out) : m_restore(restore), m_out(out) {}

  void emit(const Hash& root)
  {
    if (!take(root)) {
      return;
    }
    std::vector<std::pair<Hash, std::size_t>> stack{{root, 0}};
    while (!stack.empty()) {
      const Hash h = stack.back().first;
      const std::size_t i = stack.back().second;
      const Line& line = *m_restore.at(h);
      if (i < line.entry->parents.size()) {
        ++stack.back().second;
        const Hash parent = line.entry->parents[i];
        if (take(parent)) {
          stack.emplace_back(parent, 0);
        }
        continue;
      }
      m_out += line.text;
      m_out += '\n';
      order.push_back(h);
      stack.pop_back();
    }
  }

  std::vector<Hash> order;

private:
  bool take(const Hash& h)
  {
    return m_restore.count(h) > 0 && m_done.insert(h).second;
  }

  const std::map<Hash, const Line*>& m_restore;
  std::string& m_out;
  std::set<Hash> m_done;
};

} // namespace

std::string RestoreSource::describe() const
{
  if (kind == Kind::git) {
    return fmt::format("{} (commit {})", rev, commit.substr(0, 12));
  }
  return path.string();
}

Restored restore_entries(VaultSessionOptions options, const std::optional<std::string>& from)
{
  StoreOptions store_options;
  store_options.lock_wait = options.lock_wait;
  Store store = Store::open(options.vault_path, true, store_options);
  const VaultPaths paths = store.paths();
  const std::string journal_name = paths.journal.string();
  const VaultId vault = store.head().vault_id;

  // What this machine verified, and what of it the journal lacks.
  const Cache cache(Cache::place(options.state_home, vault, paths.journal, options.branch), vault);
  const std::optional<Verified> cached = cache.load();
  const std::string original = read_file(paths.journal, static_cast<std::size_t>(k_max_journal_size));
  const std::string text = store.read_journal(0);
  std::vector<Line> present;
  std::set<Hash> present_hashes;
  std::set<Hash> acknowledged = cached ? cached->state.lost : std::set<Hash>{};
  for (const std::string_view l : split_lines(text)) {
    Line line{std::string(l), parse_line(l, journal_name)};
    if (line.entry) {
      present_hashes.insert(line.entry->hash);
      if (line.entry->op) {
        if (const auto* loss = std::get_if<JournalLossArgs>(&line.entry->op->args)) {
          for (const LostEntry& e : loss->lost) {
            acknowledged.insert(e.hash);
          }
        }
      }
    }
    present.push_back(std::move(line));
  }
  const std::vector<VerifiedEntry> missing =
    cached ? missing_entries(cache.entries(cached->log), present_hashes, acknowledged) : std::vector<VerifiedEntry>{};
  std::set<Hash> wanted;
  for (const VerifiedEntry& e : missing) {
    wanted.insert(e.hash);
  }
  for (const Hash& h : store.head().heads) {
    if (present_hashes.count(h) == 0 && acknowledged.count(h) == 0) {
      wanted.insert(h); // the head file names it: an entry some write saw
    }
  }
  if (wanted.empty()) {
    throw Error(ErrorKind::usage, fmt::format("{}: no entry this machine verified is missing: nothing to restore",
                                              journal_name))
      .hint("escrow audit verify says what is wrong with the journal, if anything");
  }

  auto [source, source_text] = read_source(from, paths);
  const std::string source_name = source.describe();

  // The source's entries the journal lacks, by hash; then the wanted ones and their ancestors
  // among them (a parent's hash is covered by its child's: they are the history).
  std::vector<Line> offered;
  std::map<Hash, const Line*> by_hash;
  for (const std::string_view l : split_lines(source_text)) {
    std::optional<Entry> e = parse_line(l, source_name);
    if (e && present_hashes.count(e->hash) == 0) {
      offered.push_back(Line{std::string(l), std::move(e)});
    }
  }
  for (const Line& l : offered) {
    by_hash.emplace(l.entry->hash, &l);
  }
  std::map<Hash, const Line*> restore;
  std::vector<Hash> todo(wanted.begin(), wanted.end());
  while (!todo.empty()) {
    const Hash h = todo.back();
    todo.pop_back();
    const auto found = by_hash.find(h);
    if (found == by_hash.end() || !restore.emplace(h, found->second).second) {
      continue;
    }
    for (const Hash& p : found->second->entry->parents) {
      todo.push_back(p);
    }
  }
  std::vector<VerifiedEntry> remaining;
  for (const VerifiedEntry& e : missing) {
    if (restore.count(e.hash) == 0) {
      remaining.push_back(e);
    }
  }
  if (restore.empty()) {
    throw Error(ErrorKind::integrity,
                fmt::format("{}: no missing entry is in {} ({} missing)", journal_name, source_name,
                            plural(wanted.size(), "entry is", "entries are")))
      .hint("restore from another revision or file that holds them: escrow audit restore --from REV|FILE")
      .hint("if they are gone, an admin acknowledges the loss: escrow audit ack-loss --why TEXT");
  }

  // Every restored line's signature, with the key this machine verified for its author (the hash
  // does not cover the signature). A key this machine does not know is checked by the proving
  // replay below, unless entries remain missing (then that replay stops at the loss first).
  for (const auto& [hash, line] : restore) {
    const Entry& e = *line->entry;
    const std::optional<crypto::SignPublicKey> key = cached ? signing_key(e, cached->state) : std::nullopt;
    if (key ? !verify_signature(e, *key) : !remaining.empty()) {
      throw Error(ErrorKind::integrity,
                  fmt::format("{}: the line of entry {} ({} by {}, {}) {}", source_name, short_hash(hash),
                              action_name(e.action), e.actor, format_time(e.ts),
                              key ? fmt::format("has a signature that does not verify with {}'s key: it is not restored",
                                                e.actor)
                                  : std::string("is signed by a member this machine has no key of: it is not "
                                                "restored while entries are still missing")));
    }
  }

  std::string rewritten;
  rewritten.reserve(text.size() + source_text.size());
  Merger merger(restore, rewritten);
  for (const Line& line : present) {
    if (line.entry) {
      for (const Hash& p : line.entry->parents) {
        merger.emit(p);
      }
    }
    rewritten += line.text;
    rewritten += '\n';
  }
  for (const Line& l : offered) {
    merger.emit(l.entry->hash);
  }

  store.replace_journal(rewritten);

  // The proof: the vault opened as every command opens it, every line replayed.
  Restored out;
  out.source = source;
  out.journal = paths.journal;
  for (const Hash& h : merger.order) {
    out.restored.push_back(verified_entry(*restore.at(h)->entry));
  }
  VaultSessionOptions proof = std::move(options);
  proof.acknowledging_loss = false;
  proof.replay_all = true;
  try {
    const VaultSession session = VaultSession::open(std::move(proof), Access::read);
    out.warnings = session.warnings();
  } catch (const Error& error) {
    const bool still_missing = !remaining.empty() && error.kind() == ErrorKind::integrity
                               && std::string_view(error.what()) == loss_error(paths.journal, remaining).what();
    if (!still_missing) {
      store.replace_journal(original);
      Error refused(error.kind(), fmt::format("{} (in the journal as restored; audit restore put {} back as it was)", error.what(), journal_name));
      for (const std::string& h : error.hints()) {
        refused.hint(h);
      }
      throw refused;
    }
    const VerifiedEntry& newest = remaining.back();
    throw Error(ErrorKind::integrity,
                fmt::format("{}: restored {} from {}, but {} this machine verified {} still missing: the newest is "
                            "{} ({} by {}, {})",
                            journal_name, plural(out.restored.size(), "entry", "entries"), source_name,
                            plural(remaining.size(), "entry", "entries"), remaining.size() == 1 ? "is" : "are",
                            short_hash(newest.hash), newest.action, newest.actor, format_time(newest.ts)),
                {"restore the rest from another revision or file: escrow audit restore --from REV|FILE",
                 "if they are gone, an admin acknowledges the loss: escrow audit ack-loss --why TEXT"});
  }
  return out;
}

} // namespace escrow::audit
