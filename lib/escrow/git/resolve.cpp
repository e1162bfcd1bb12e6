// `escrow resolve` in a git work tree (resolve.hpp).
#include <escrow/git/resolve.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/canonical.hpp>
#include <escrow/error.hpp>
#include <escrow/git/repo.hpp>
#include <escrow/history/store.hpp>
#include <escrow/lock.hpp>
#include <escrow/util/file.hpp>

#include <fmt/format.h>

#include <fcntl.h>

#include <algorithm>
#include <cstring>

namespace escrow::git {

namespace fs = std::filesystem;
using history::Hash;
using history::MergeSide;

namespace {

constexpr std::size_t k_max_journal_read = std::size_t{1} << 32;
constexpr std::size_t k_max_choices = std::size_t{16} << 20;
constexpr unsigned k_file_mode = 0644; // committed to git (store.cpp)
constexpr std::string_view k_choices_format = "escrow-resolve/1";


std::string hash_b64(const Hash& h)
{
  return canonical::b64(ByteView(h.data(), h.size()));
}

Hash hash_of_b64(const std::string& text, std::string_view what)
{
  const Bytes raw = canonical::unb64(text, what);
  Hash h{};
  if (raw.size() != h.size()) {
    fail(ErrorKind::integrity, "{}: an entry hash of {} bytes", what, raw.size());
  }
  std::memcpy(h.data(), raw.data(), h.size());
  return h;
}

std::set<Hash> read_hashes(const canonical::Json& json, const std::string& what)
{
  std::set<Hash> out;
  for (const canonical::Json& h : json) {
    if (!h.is_string()) {
      fail(ErrorKind::integrity, "{}: an entry hash that is not a string", what);
    }
    out.insert(hash_of_b64(h.get<std::string>(), what));
  }
  return out;
}

// The choices made so far for this merge (a file of another merge is ignored: stale).
history::ResolveArgs read_choices(const fs::path& path, const std::string& merge_head)
{
  const auto file = util::open_regular_if_exists(path, O_RDONLY, util::Links::refuse);
  if (!file) {
    return {};
  }
  const std::string what = path.string();
  const canonical::Json json = canonical::parse(util::read_all(*file, path, k_max_choices), what);
  if (!json.is_object() || json.value("format", "") != k_choices_format || !json.contains("void")
      || !json["void"].is_array()) {
    fail(ErrorKind::integrity, "{}: not an {} file", what, k_choices_format);
  }
  if (json.value("merge_head", "") != merge_head) {
    return {};
  }
  history::ResolveArgs out;
  out.voided = read_hashes(json["void"], what + ": void");
  if (json.contains("exposed")) {
    if (!json["exposed"].is_array()) {
      fail(ErrorKind::integrity, "{}: exposed: not a list", what);
    }
    out.exposed = read_hashes(json["exposed"], what + ": exposed");
  }
  if (json.contains("rotations")) {
    if (!json["rotations"].is_array()) {
      fail(ErrorKind::integrity, "{}: rotations: not a list", what);
    }
    for (const canonical::Json& r : json["rotations"]) {
      if (!r.is_object() || !r.contains("secret") || !r["secret"].is_string() || !r.contains("current")
          || !r["current"].is_string() || !r.contains("renumber") || !r["renumber"].is_object()) {
        fail(ErrorKind::integrity, "{}: rotations: not a rotation race choice", what);
      }
      history::RaceResolution race;
      race.secret = r["secret"].get<std::string>();
      race.current = r["current"].get<std::string>();
      for (const auto& item : r["renumber"].items()) {
        if (!item.value().is_number_integer()) {
          fail(ErrorKind::integrity, "{}: rotations: renumber: not a version number", what);
        }
        race.renumber[item.key()] = item.value().get<std::int64_t>();
      }
      out.rotations.push_back(std::move(race));
    }
  }
  return out;
}

void write_choices(const fs::path& path, const std::string& merge_head, const history::ResolveArgs& choices)
{
  const auto hashes = [](const std::set<Hash>& set) {
    canonical::Json list = canonical::Json::array();
    for (const Hash& h : set) {
      list.push_back(hash_b64(h));
    }
    return list;
  };
  canonical::Json rotations = canonical::Json::array();
  for (const history::RaceResolution& r : choices.rotations) {
    canonical::Json renumber = canonical::Json::object();
    for (const auto& [vid, v] : r.renumber) {
      renumber[vid] = v;
    }
    rotations.push_back(canonical::Json{{"current", r.current}, {"renumber", renumber}, {"secret", r.secret}});
  }
  const canonical::Json json{{"exposed", hashes(choices.exposed)},
                             {"format", std::string(k_choices_format)},
                             {"merge_head", merge_head},
                             {"rotations", rotations},
                             {"void", hashes(choices.voided)}};
  AtomicFile file(path);
  file.write(canonical::dump(json) + "\n");
  file.commit();
}

std::string show_stage(const Repo& repo, int stage, const std::string& rel)
{
  const Run run = repo.run({"show", fmt::format(":{}:{}", stage, rel)}, k_max_journal_read);
  if (!run.ok()) {
    fail(ErrorKind::usage, "{}: git has no {} version of it in the index ({})", rel,
         stage == 2 ? "ours (:2:)" : "theirs (:3:)", run.first_error());
  }
  return run.out;
}

} // namespace

ResolveReport resolve_merge(const ResolveOptions& options)
{
  const history::VaultPaths paths = history::VaultPaths::of(options.vault_path);
  const std::optional<Repo> found = Repo::find(options.vault_path);
  if (!found) {
    throw Error(ErrorKind::usage, fmt::format("{}: not inside a git work tree: no merge to resolve", paths.head.string()))
      .hint("escrow resolve settles a merge git left unmerged (git pull / git merge)");
  }
  const Repo& repo = *found;
  const std::string journal_rel = repo.relative(paths.journal);
  const std::string keys_rel = repo.relative(paths.keys);
  const std::string head_rel = repo.relative(paths.head);
  if (!repo.merging()) {
    throw Error(ErrorKind::usage, fmt::format("{}: no merge in progress: nothing to resolve", journal_rel))
      .hint("escrow resolve settles the conflicts a git pull / git merge left unmerged in the journal");
  }
  const std::vector<FileStatus> status = repo.status({journal_rel});
  const bool unmerged = std::any_of(status.begin(), status.end(), [](const FileStatus& s) { return s.unmerged(); });
  if (!unmerged) {
    throw Error(ErrorKind::usage, fmt::format("{}: not unmerged: the merge in progress has no escrow conflict", journal_rel))
      .hint("git commit finishes the merge (escrow sync seals it)");
  }
  const std::string merge_head = repo.run_checked({"rev-parse", "MERGE_HEAD"}).out;
  const std::string ours_index = show_stage(repo, 2, journal_rel);
  const std::string theirs = show_stage(repo, 3, journal_rel);
  // The work tree's journal is ours (the driver wrote nothing), plus any event appended since.
  const std::string ours = util::read_all(
    [&] {
      auto file = util::open_regular_if_exists(paths.journal, O_RDONLY, util::Links::refuse);
      if (!file) {
        fail(ErrorKind::io, "{}: missing from the work tree", journal_rel);
      }
      return std::move(*file);
    }(),
    paths.journal, k_max_journal_read);
  if (ours.compare(0, ours_index.size(), ours_index) != 0) {
    throw Error(ErrorKind::integrity,
                fmt::format("{}: the work tree's file does not begin with ours (:2:): changed since the merge", journal_rel))
      .hint(fmt::format("git checkout --ours -- {} restores it", journal_rel));
  }
  const auto trimmed = [](std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
      text.pop_back();
    }
    return text;
  };
  const std::string choices_rel = trimmed(repo.run_checked({"rev-parse", "--git-path", "escrow-resolve.json"}).out);
  const fs::path choices_file = fs::path(choices_rel).is_absolute() ? fs::path(choices_rel) : repo.top() / choices_rel;
  const std::string head_commit = trimmed(merge_head);
  const history::ResolveArgs chosen = read_choices(choices_file, head_commit);

  ResolveReport report;
  report.analysis = history::analyse_choices(ours, theirs, chosen, "", journal_rel);
  if (options.action == ResolveOptions::Action::list) {
    return report;
  }

  // The choice, then the resolver's authority over it.
  history::ResolveArgs choices = chosen;
  const auto with_voids = [](const history::MergeAnalysis& analysis, std::set<Hash> voids) {
    history::ResolveArgs out = history::choices_of(analysis);
    out.voided = std::move(voids);
    return out;
  };
  if (options.action == ResolveOptions::Action::keep || options.action == ResolveOptions::Action::keep_exposed) {
    if (options.number == 0) {
      fail(ErrorKind::usage, "resolve: conflicts are numbered from 1");
    }
    choices = options.action == ResolveOptions::Action::keep
                ? with_voids(report.analysis, history::keep_side(report.analysis, options.number - 1, options.keep))
                : history::keep_exposed(report.analysis, options.number - 1);
  } else if (options.action == ResolveOptions::Action::current) {
    choices = history::choose_current(report.analysis, options.secret, options.vid);
  } else {
    if (report.analysis.conflicts.empty()) {
      fail(ErrorKind::usage, "{}: no conflict is left to settle", journal_rel);
    }
    history::MergeAnalysis step = report.analysis;
    for (std::size_t guard = 0; !step.conflicts.empty(); ++guard) {
      const history::MergeConflict& first = step.conflicts.front();
      if (guard > 1000) {
        fail(ErrorKind::failed, "{}: the suggestions do not settle the merge", journal_rel);
      }
      if (first.suggestion == history::SuggestionKind::rotation_race) {
        // The rule's suggestion is shown, never applied silently (vault-2-merge.md §5).
        throw Error(ErrorKind::failed,
                    fmt::format("{}: a rotation race of {}: both versions are kept and the resolver chooses the "
                                "current one; --suggested does not choose it (suggested: {}, {})",
                                journal_rel, first.secret, first.current, first.why))
          .hint(fmt::format("escrow resolve {} --current {}", first.secret, first.current));
      }
      choices = first.suggestion == history::SuggestionKind::keep_exposed
                  ? history::keep_exposed(step, 0)
                  : with_voids(step, history::keep_side(step, 0, first.keep));
      step = history::analyse_choices(ours, theirs, choices, "", journal_rel);
    }
  }
  const Identity identity = options.identity();
  history::MergeAnalysis after = history::analyse_choices(ours, theirs, choices, identity.pub.name, journal_rel);
  if (!after.refusals.empty()) {
    throw Error(ErrorKind::access, fmt::format("{}: {}", journal_rel, after.refusals.front()))
      .hint("the author of an operation, or a member who may do what it did, can void it; the owner or a rotator "
            "of a secret keeps its rotation exposed or settles its rotation race");
  }
  for (const Hash& h : choices.voided) {
    if (chosen.voided.count(h) == 0) {
      report.voided_now.push_back(h);
    }
  }
  for (const Hash& h : choices.exposed) {
    if (chosen.exposed.count(h) == 0) {
      report.exposed_now.push_back(h);
    }
  }
  for (const history::RaceResolution& r : choices.rotations) {
    const bool before = std::any_of(chosen.rotations.begin(), chosen.rotations.end(), [&](const auto& c) {
      return c.secret == r.secret && c.current == r.current;
    });
    if (!before) {
      report.settled_now.push_back(r);
    }
  }
  report.analysis = std::move(after);
  if (!report.analysis.conflicts.empty()) {
    write_choices(choices_file, head_commit, choices);
    return report;
  }

  // Every conflict has a choice: the resolve entry and the three files, under the vault lock.
  const FileLock lock(paths.lock, options.lock_wait);
  const history::KeysFile keys = history::KeysFile::open(paths.keys);
  history::SealedResolution sealed =
    history::seal_resolution(report.analysis, keys, identity, options.now, options.host);
  {
    AtomicFile file(paths.keys, k_file_mode);
    file.write(sealed.keys);
    file.commit();
  }
  {
    AtomicFile file(paths.journal, k_file_mode);
    file.write(sealed.journal);
    file.commit();
  }
  {
    AtomicFile file(paths.head, k_file_mode);
    file.write(sealed.head);
    file.commit();
  }
  repo.run_checked({"add", "--", head_rel, journal_rel, keys_rel});
  std::error_code ignored;
  fs::remove(choices_file, ignored);
  report.entry = std::move(sealed.entry);
  report.garbage_lines = sealed.garbage_lines;
  report.staged = {head_rel, journal_rel, keys_rel};
  return report;
}

std::function<std::optional<history::UnresolvedMerge>()> unresolved_merge_source(const fs::path& vault_path,
                                                                                 const fs::path& git_dir)
{
  return [vault_path, git_dir]() -> std::optional<history::UnresolvedMerge> {
    std::error_code ignored;
    if (!fs::exists(git_dir / "MERGE_HEAD", ignored)) {
      return std::nullopt;
    }
    const std::optional<Repo> found = Repo::find(vault_path);
    if (!found) {
      return std::nullopt;
    }
    const Repo& repo = *found;
    const std::string journal_rel = repo.relative(history::VaultPaths::of(vault_path).journal);
    const std::vector<FileStatus> status = repo.status({journal_rel});
    if (std::none_of(status.begin(), status.end(), [](const FileStatus& s) { return s.unmerged(); })) {
      return std::nullopt;
    }
    const Run theirs = repo.run({"show", fmt::format(":3:{}", journal_rel)}, k_max_journal_read);
    const Run merge_head = repo.run({"rev-parse", "-q", "--verify", "MERGE_HEAD"});
    if (!theirs.ok() || !merge_head.ok()) {
      return std::nullopt; // not a merge escrow's driver stopped (theirs deleted the file…)
    }
    std::string head = merge_head.out;
    while (!head.empty() && (head.back() == '\n' || head.back() == '\r')) {
      head.pop_back();
    }
    std::string choices = repo.run_checked({"rev-parse", "--git-path", "escrow-resolve.json"}).out;
    while (!choices.empty() && (choices.back() == '\n' || choices.back() == '\r')) {
      choices.pop_back();
    }
    const fs::path choices_file = fs::path(choices).is_absolute() ? fs::path(choices) : repo.top() / choices;
    history::UnresolvedMerge out;
    out.theirs = theirs.out;
    try {
      out.voids = read_choices(choices_file, head).voided;
    } catch (const Error&) {
      // A damaged choices file: resolve reports it; the merge is unresolved all the same.
    }
    return out;
  };
}

void stage_vault(const fs::path& vault_path)
{
  const history::VaultPaths paths = history::VaultPaths::of(vault_path);
  const std::optional<Repo> found = Repo::find(vault_path);
  if (!found) {
    fail(ErrorKind::usage, "{}: not inside a git work tree", paths.head.string());
  }
  found->run_checked({"add", "--", found->relative(paths.head), found->relative(paths.journal),
                      found->relative(paths.keys)});
}

void commit_merge(const fs::path& vault_path)
{
  const history::VaultPaths paths = history::VaultPaths::of(vault_path);
  const std::optional<Repo> found = Repo::find(vault_path);
  if (!found) {
    fail(ErrorKind::usage, "{}: not inside a git work tree", paths.head.string());
  }
  if (found->merging()) {
    found->run_checked({"commit", "-q", "--no-edit"});
  }
}

Reapplied reapply_races(const rotation::GitLockOptions& lock, rotation::Options rotate_options,
                        const std::vector<history::RaceResolution>& races,
                        const std::function<void(const std::string&)>& note)
{
  Reapplied out;
  const bool locked = rotation::git_lock_applies(lock.vault_path, lock.no_push);
  if (locked) {
    commit_merge(lock.vault_path);
    if (note) {
      note("git commit: the merge is finished; the chosen version is re-applied under the git lock");
    }
  }
  try {
    out.run = rotation::run_rotation(lock, std::move(rotate_options), [&](rotation::v2::Rotator& rotator) {
      for (const history::RaceResolution& race : races) {
        out.outcomes.push_back(rotator.reapply(race.secret, race.current));
      }
    });
  } catch (const Error&) {
    if (!locked) {
      stage_vault(lock.vault_path); // what the run wrote belongs to the merge too
    }
    throw;
  }
  if (!locked) {
    stage_vault(lock.vault_path);
  }
  return out;
}

} // namespace escrow::git
