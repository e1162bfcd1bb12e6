// Git is the lock for rotation (git_lock.hpp; docs/design/vault-2-merge.md §6).
#include <escrow/rotation/git_lock.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/canonical.hpp>
#include <escrow/git/repo.hpp>
#include <escrow/git/team.hpp>
#include <escrow/history/cache.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/store.hpp>
#include <escrow/history/team_sync.hpp>
#include <escrow/util/escape.hpp>
#include <escrow/util/file.hpp>

#include <fcntl.h>

#include <set>

namespace escrow::rotation {

using crypto::Hash;

namespace fs = std::filesystem;

namespace {

// rotate --due under the lock leaves a pending rotation younger than this to whoever started it.
constexpr std::int64_t k_in_flight_grace = 3600;
constexpr std::string_view k_marker_name = "tentative.json";
constexpr std::string_view k_marker_format = "escrow-tentative/1";

std::string trim(std::string text)
{
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// The index entries (stage 0) of the three files before phase 1, to put back on an undo.
struct IndexEntry
{
  std::string path;
  std::string mode;
  std::string blob;
};

std::vector<IndexEntry> index_entries(const git::Repo& repo, const std::vector<std::string>& rels)
{
  std::vector<std::string> args{"ls-files", "-s", "-z", "--"};
  args.insert(args.end(), rels.begin(), rels.end());
  const git::Run run = repo.run_checked(args);
  std::vector<IndexEntry> out;
  std::size_t start = 0;
  while (start < run.out.size()) {
    std::size_t end = run.out.find('\0', start);
    if (end == std::string::npos) {
      end = run.out.size();
    }
    // "MODE SHA STAGE\tPATH"
    const std::string record = run.out.substr(start, end - start);
    const std::size_t tab = record.find('\t');
    const std::size_t sp1 = record.find(' ');
    const std::size_t sp2 = sp1 == std::string::npos ? sp1 : record.find(' ', sp1 + 1);
    if (tab != std::string::npos && sp2 != std::string::npos && sp2 < tab && record.substr(sp2 + 1, tab - sp2 - 1) == "0") {
      out.push_back(IndexEntry{record.substr(tab + 1), record.substr(0, sp1), record.substr(sp1 + 1, sp2 - sp1 - 1)});
    }
    start = end + 1;
  }
  return out;
}

void restore_index(const git::Repo& repo, const std::vector<std::string>& rels, const std::vector<IndexEntry>& entries)
{
  for (const std::string& rel : rels) {
    const auto it = std::find_if(entries.begin(), entries.end(), [&](const IndexEntry& e) { return e.path == rel; });
    if (it != entries.end()) {
      repo.run_checked({"update-index", "--add", "--cacheinfo", it->mode + "," + it->blob + "," + rel});
    } else {
      repo.run_checked({"update-index", "--force-remove", "--", rel});
    }
  }
}

// The tentative marker (this machine's cache place): what an interrupted phase 1 needs undone.
struct Marker
{
  std::uint64_t journal_size = 0;
  std::string head;        // the head file's bytes before phase 1
  std::vector<IndexEntry> index;
  std::string head_commit; // HEAD before phase 1 ("" = none)
  std::string commit;      // the phase-1 commit, once made
  std::vector<std::string> entries; // b64 hashes of the entries phase 1 appended, once known
  std::string what;        // "rotate-start prod/db v5 (...)": for the note
};

void write_marker(const fs::path& path, const Marker& m)
{
  Json index = Json::array();
  for (const IndexEntry& e : m.index) {
    index.push_back(Json{{"path", e.path}, {"mode", e.mode}, {"blob", e.blob}});
  }
  const Json json{{"format", k_marker_format},
                  {"journal_size", m.journal_size},
                  {"head", canonical::b64(ByteView(reinterpret_cast<const std::uint8_t*>(m.head.data()), m.head.size()))},
                  {"index", index},
                  {"head_commit", m.head_commit},
                  {"commit", m.commit},
                  {"entries", m.entries},
                  {"what", m.what}};
  fs::create_directories(path.parent_path());
  AtomicFile file(path, 0600);
  file.write(json.dump() + "\n");
  file.commit();
}

std::optional<Marker> read_marker(const fs::path& path)
{
  const auto handle = util::open_regular_if_exists(path, O_RDONLY, util::Links::refuse);
  if (!handle) {
    return std::nullopt;
  }
  const std::string text = util::read_all(*handle, path, 1 << 20);
  const auto corrupt = [&](const std::string& why) {
    return Error(ErrorKind::integrity, fmt::format("{}: {}", path.string(), why))
      .hint("it records an interrupted rotation start of this machine; if you know it was resolved, remove it");
  };
  try {
    const Json json = Json::parse(text);
    if (json.at("format").get<std::string>() != k_marker_format) {
      throw corrupt("not an escrow-tentative/1 file");
    }
    Marker m;
    m.journal_size = json.at("journal_size").get<std::uint64_t>();
    const Bytes head = canonical::unb64(json.at("head").get<std::string>(), path.string());
    m.head.assign(head.begin(), head.end());
    for (const Json& e : json.at("index")) {
      m.index.push_back(IndexEntry{e.at("path").get<std::string>(), e.at("mode").get<std::string>(),
                                   e.at("blob").get<std::string>()});
    }
    m.head_commit = json.at("head_commit").get<std::string>();
    m.commit = json.at("commit").get<std::string>();
    m.entries = json.at("entries").get<std::vector<std::string>>();
    m.what = json.value("what", std::string());
    return m;
  } catch (const Json::exception&) {
    throw corrupt("malformed");
  }
}

void remove_marker(const fs::path& path)
{
  std::error_code ignored;
  fs::remove(path, ignored);
}

// The repository, its upstream and the branch's merge ref, when the git lock applies.
struct Where
{
  git::Repo repo;
  git::Upstream upstream;
  std::string merge_ref;
};

std::optional<Where> where_lock_applies(const fs::path& vault_path, bool no_push)
{
  if (no_push) {
    return std::nullopt;
  }
  std::optional<git::Repo> repo = git::Repo::find(vault_path);
  if (!repo) {
    return std::nullopt;
  }
  const std::optional<std::string> branch = repo->branch();
  const std::optional<git::Upstream> upstream = repo->upstream();
  if (!branch || !upstream) {
    return std::nullopt;
  }
  const std::optional<std::string> merge_ref = repo->config_get("branch." + *branch + ".merge");
  if (!merge_ref) {
    return std::nullopt;
  }
  // escrow.push = false (any scope: the repository's, the user's): no lock.
  const git::Run push = repo->run({"config", "--type=bool", "--get", "escrow.push"});
  if (push.ok() && trim(push.out) == "false") {
    return std::nullopt;
  }
  return Where{std::move(*repo), *upstream, *merge_ref};
}

std::string rev_parse(const git::Repo& repo, const std::string& rev)
{
  const git::Run run = repo.run({"rev-parse", "-q", "--verify", rev + "^{commit}"});
  return run.ok() ? trim(run.out) : std::string();
}

// The publisher of phase 1 (v2.hpp Publisher), and the resolution of a marker left by a crash.
class GitLock final : public Publisher
{
public:
  GitLock(const Where& where, const GitLockOptions& options)
    : m_where(where), m_options(options), m_paths(history::VaultPaths::of(options.vault_path))
  {
    m_rels = {m_where.repo.relative(m_paths.head), m_where.repo.relative(m_paths.journal),
              m_where.repo.relative(m_paths.keys)};
  }

  bool rejected() const { return m_rejected; }
  bool published() const { return m_published; }

  void begin(history::VaultSession& session) override
  {
    if (m_checkpoint) {
      return;
    }
    history::VaultSession::Checkpoint checkpoint = session.checkpoint();
    m_marker_path = session.cache_place() / std::string(k_marker_name);
    m_marker = Marker{};
    m_marker.journal_size = checkpoint.journal_size;
    m_marker.head = checkpoint.head;
    m_marker.index = index_entries(m_where.repo, m_rels);
    m_marker.head_commit = m_where.repo.head().value_or("");
    // Tentative BEFORE the entries exist: a crash from here on is resolved by the next command.
    write_marker(m_marker_path, m_marker);
    m_checkpoint.emplace(std::move(checkpoint));
  }

  void settle() override
  {
    if (!m_checkpoint) {
      return;
    }
    remove_marker(m_marker_path);
    m_checkpoint.reset();
  }

  void publish(history::VaultSession& session, const std::string& what) override
  {
    if (!m_checkpoint) {
      return;
    }
    m_marker.what = util::escape_controls(what);
    for (const Hash& h : session.entries_after(m_marker.journal_size)) {
      m_marker.entries.push_back(canonical::b64(h));
    }
    std::string problem;
    bool lost_race = false;
    try {
      write_marker(m_marker_path, m_marker);
      const std::optional<std::string> commit = m_where.repo.commit(m_rels, "escrow: " + m_marker.what);
      m_marker.commit = commit.value_or("");
      write_marker(m_marker_path, m_marker);
      const std::string before = rev_parse(m_where.repo, m_where.upstream.ref);
      const git::Run push =
        m_where.repo.run({"push", "--porcelain", m_where.upstream.remote, "HEAD:" + m_where.merge_ref});
      if (push.ok()) {
        remove_marker(m_marker_path);
        m_checkpoint.reset();
        m_published = true;
        return;
      }
      lost_race = push.out.find("[rejected]") != std::string::npos;
      if (!lost_race) {
        const git::Run fetch = m_where.repo.run({"fetch", "--quiet", m_where.upstream.remote});
        lost_race = fetch.ok() && rev_parse(m_where.repo, m_where.upstream.ref) != before;
      }
      const std::size_t refused = push.out.find("[remote rejected]");
      problem = refused != std::string::npos ? trim(push.out.substr(refused, push.out.find('\n', refused) - refused))
                                             : push.first_error();
    } catch (const Error& error) {
      problem = error.what();
    }
    undo(session);
    m_rejected = true;
    if (lost_race) {
      throw Error(ErrorKind::io, fmt::format("{}: someone else pushed first (rotation lock not acquired); no "
                                             "connector was touched",
                                             m_paths.head.string()))
        .hint("escrow sync, then run it again");
    }
    throw Error(ErrorKind::io, fmt::format("{}: the rotation lock could not be taken (git push {}: {}); the pending "
                                           "version was undone and no connector was touched",
                                           m_paths.head.string(), m_where.upstream.remote, problem))
      .hint("fix what git says, then run it again (or --no-push to rotate without the lock)");
  }

  // Resolves a marker a crash left in this machine's cache place (after a fetch): published
  // upstream → kept; else undone. Returns the note; nullopt when there was none.
  std::optional<std::string> resolve_interrupted()
  {
    const history::HeadFile head = history::read_head_file(m_paths.head);
    const fs::path place =
      history::Cache::place(m_options.state_home, head.vault_id, m_paths.journal, m_options.branch);
    const fs::path marker_path = place / std::string(k_marker_name);
    std::optional<Marker> marker = read_marker(marker_path);
    if (!marker) {
      return std::nullopt;
    }
    const std::string what = marker->what.empty() ? std::string("a rotation start") : marker->what;
    const std::string head_now = m_where.repo.head().value_or("");
    if (!marker->commit.empty()) {
      const bool published =
        m_where.repo.run({"merge-base", "--is-ancestor", marker->commit, m_where.upstream.ref}).ok();
      if (published) {
        remove_marker(marker_path);
        return fmt::format("the interrupted run's phase 1 ({}, commit {}) had been pushed before it stopped: kept; "
                           "escrow rotate --resume finishes it",
                           what, marker->commit.substr(0, 12));
      }
      if (head_now != marker->commit) {
        const bool below = m_where.repo.run({"merge-base", "--is-ancestor", marker->commit, "HEAD"}).ok();
        if (below) {
          remove_marker(marker_path);
          return fmt::format("the interrupted run's phase 1 ({}, commit {}) was never pushed, but commits were made on "
                             "top of it: kept as a local pending rotation (escrow rotate --resume finishes it, escrow "
                             "rollback cancels it)",
                             what, marker->commit.substr(0, 12));
        }
      }
    }
    // Not published: no connector ran for it (phase 2 starts only after the push). Undo it.
    std::set<Hash> hashes;
    for (const std::string& b64 : marker->entries) {
      const Bytes bytes = canonical::unb64(b64, marker_path.string());
      Hash h{};
      if (bytes.size() == h.size()) {
        std::copy(bytes.begin(), bytes.end(), h.begin());
        hashes.insert(h);
      }
    }
    {
      history::Store store = history::Store::open(m_paths.head, true, history::StoreOptions{m_options.lock_wait, {}});
      (void)store.read_journal(0); // the journal's size now, a torn tail excluded
      const bool present = store.journal_size() >= marker->journal_size;
      std::set<Hash> tail;
      if (present) {
        const std::string text = store.read_journal(marker->journal_size);
        std::size_t start = 0;
        while (start < text.size()) {
          const std::size_t nl = text.find('\n', start);
          try {
            tail.insert(history::parse_entry(std::string_view(text).substr(start, nl - start), "entry").hash);
          } catch (const Error&) {
            // not an entry: nothing the cache can hold
          }
          start = nl + 1;
        }
      }
      // Entries appended after phase 1 by later commands (a read): cutting the journal would drop
      // them too. Then the pending version is kept (it never reached a connector either way).
      const bool later = !hashes.empty() && std::any_of(tail.begin(), tail.end(), [&](const Hash& h) {
        return hashes.count(h) == 0;
      });
      if (later) {
        remove_marker(marker_path);
        return fmt::format("the interrupted run's phase 1 ({}) was never pushed, but later entries follow it in the "
                           "journal: kept as a local pending rotation (escrow rotate --resume finishes it, escrow "
                           "rollback cancels it; no connector had run for it)",
                           what);
      }
      hashes.insert(tail.begin(), tail.end());
      // The cache place first (never a verified entry missing from the journal: a false loss).
      history::Cache(place, head.vault_id).forget(hashes);
      if (present) {
        store.undo_appends(marker->journal_size, marker->head, std::nullopt);
      }
      if (!marker->commit.empty() && head_now == marker->commit) {
        m_where.repo.run_checked({"reset", "-q", "--soft", marker->head_commit});
      }
      if (m_where.repo.head().value_or("") == marker->head_commit) {
        restore_index(m_where.repo, m_rels, marker->index);
      }
      remove_marker(marker_path);
    }
    // The key lines the undone entries added are garbage now: removed as every write removes it.
    std::size_t dropped = 0;
    {
      history::VaultSession session = m_options.open(history::Access::write);
      dropped = session.drop_garbage_key_lines();
    }
    return fmt::format("the interrupted run's phase 1 ({}) was never pushed: undone ({} journal entr{}{}); no "
                       "connector had run for it",
                       what, hashes.size(), hashes.size() == 1 ? "y" : "ies",
                       dropped > 0 ? fmt::format(", {} key line(s)", dropped) : std::string());
  }

private:
  void undo(history::VaultSession& session)
  {
    session.undo(*m_checkpoint);
    if (!m_marker.commit.empty() && m_where.repo.head().value_or("") == m_marker.commit) {
      m_where.repo.run_checked({"reset", "-q", "--soft", m_marker.head_commit});
    }
    if (m_where.repo.head().value_or("") == m_marker.head_commit) {
      restore_index(m_where.repo, m_rels, m_marker.index);
    }
    remove_marker(m_marker_path);
    m_checkpoint.reset();
  }

  const Where& m_where;
  const GitLockOptions& m_options;
  history::VaultPaths m_paths;
  std::vector<std::string> m_rels;
  std::optional<history::VaultSession::Checkpoint> m_checkpoint;
  fs::path m_marker_path;
  Marker m_marker;
  bool m_rejected = false;
  bool m_published = false;
};

git::VaultSyncOptions sync_options(const GitLockOptions& options, int attempts)
{
  git::VaultSyncOptions sync;
  sync.vault_path = options.vault_path;
  sync.state_dir = options.state_home;
  sync.lock_wait = options.lock_wait;
  sync.attempts = attempts;
  sync.verify = [&options] { (void)options.open(history::Access::read); };
  sync.seal = [&options] {
    history::VaultSession vault = options.open(history::Access::read);
    try {
      return history::seal_merge(vault) ? git::VaultSyncOptions::Seal::sealed : git::VaultSyncOptions::Seal::nothing;
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::access) {
        throw;
      }
      return git::VaultSyncOptions::Seal::unsigned_;
    }
  };
  return sync;
}

} // namespace

bool git_lock_applies(const fs::path& vault_path, bool no_push)
{
  return where_lock_applies(vault_path, no_push).has_value();
}

LockedRun run_rotation(const GitLockOptions& options, Options rotate_options,
                       const std::function<void(v2::Rotator&)>& body)
{
  LockedRun report;
  const std::optional<Where> where = where_lock_applies(options.vault_path, options.no_push);
  if (!where) {
    history::VaultSession session = options.open(history::Access::write);
    v2::Rotator rotator(session, rotate_options);
    body(rotator);
    report.warnings = session.warnings();
    return report;
  }
  report.locked = true;
  report.upstream = where->upstream.ref;
  GitLock lock(*where, options);
  // 1. What the upstream holds now: an interrupted phase 1 is judged against it.
  const git::Run fetch = where->repo.run({"fetch", "--quiet", where->upstream.remote});
  if (!fetch.ok()) {
    throw Error(ErrorKind::io, fmt::format("{}: the rotation lock needs the upstream, and git fetch {} failed: {}; "
                                           "nothing was changed",
                                           options.vault_path.string(), where->upstream.remote, fetch.first_error()))
      .hint("fix the connection, or rotate without the lock: --no-push (docs/TEAM.md)");
  }
  if (std::optional<std::string> note = lock.resolve_interrupted()) {
    report.notes.push_back(std::move(*note));
  }
  // 2. New commits upstream are merged first, as escrow sync does (a rotation starts from them).
  const git::Run behind = where->repo.run_checked({"rev-list", "--count", "HEAD.." + where->upstream.ref});
  if (trim(behind.out) != "0") {
    const git::SyncReport pulled = git::sync_vault(sync_options(options, options.finish_attempts));
    report.notes.push_back(fmt::format("pulled {} commit(s) from {} first (as escrow sync)", pulled.pulled,
                                       where->upstream.ref));
    for (const std::string& note : pulled.notes) {
      report.notes.push_back(note);
    }
  }
  // 3. The run: phase 1 published through the lock before any connector runs.
  const history::VaultPaths paths = history::VaultPaths::of(options.vault_path);
  const auto journal_size = [&paths] {
    std::error_code ignored;
    const std::uintmax_t size = fs::file_size(paths.journal, ignored);
    return ignored ? std::uintmax_t{0} : size;
  };
  const std::uintmax_t size_before = journal_size();
  rotate_options.publisher = &lock;
  if (rotate_options.in_flight_grace == 0) {
    rotate_options.in_flight_grace = k_in_flight_grace;
  }
  try {
    history::VaultSession session = options.open(history::Access::write);
    v2::Rotator rotator(session, rotate_options);
    body(rotator);
    report.warnings = session.warnings();
  } catch (const Error&) {
    if (lock.rejected() || !lock.published()) {
      throw; // phase 1 undone, or never reached: nothing of a rotation to publish
    }
    // Whatever the run wrote after a published phase 1 (a rollback's record) is pushed too.
    try {
      (void)git::sync_vault(sync_options(options, options.finish_attempts));
    } catch (const Error&) {
    }
    throw;
  }
  report.start_pushed = lock.published();
  if (!lock.published() && journal_size() == size_before) {
    return report; // the run wrote nothing (nothing due, nothing to resume): nothing to publish
  }
  // 4. The finish: committed and pushed (a lost push: pull through the driver, push again).
  try {
    const git::SyncReport finished = git::sync_vault(sync_options(options, options.finish_attempts));
    report.finish_pushed = finished.pushed;
    if (finished.pulled > 0) {
      report.notes.push_back(fmt::format("merged {} commit(s) from {} before pushing the finish", finished.pulled,
                                         where->upstream.ref));
    }
    for (const std::string& note : finished.notes) {
      report.notes.push_back(note);
    }
  } catch (const Error& error) {
    report.finish_error = error;
  }
  return report;
}

} // namespace escrow::rotation
