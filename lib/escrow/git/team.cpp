#include <escrow/git/team.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>
#include <escrow/git/history.hpp>
#include <escrow/git/resolve.hpp>
#include <escrow/history/textconv.hpp>
#include <escrow/util/escape.hpp>
#include <escrow/util/file.hpp>

#include <fcntl.h>

#include <algorithm>
#include <set>

namespace escrow::git {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_max_journal_read = std::size_t{1} << 32;

Repo work_tree_of(const fs::path& vault_path)
{
  std::optional<Repo> repo = Repo::find(vault_path);
  if (!repo) {
    throw Error(ErrorKind::usage, fmt::format("{}: not inside a git work tree", vault_path.string()))
      .hint("escrow's team commands work on a vault committed to git: git init, or clone the team's repository");
  }
  return std::move(*repo);
}

std::string read_or_empty(const fs::path& path, std::size_t limit)
{
  const auto file = util::open_regular_if_exists(path, O_RDONLY, util::Links::refuse);
  return file ? util::read_all(*file, path, limit) : std::string();
}

} // namespace

SetupReport setup_vault(const fs::path& vault_path)
{
  const Repo repo = work_tree_of(vault_path);
  const history::VaultPaths paths = history::VaultPaths::of(vault_path);
  return setup(repo, repo.relative(paths.head), repo.relative(paths.journal), repo.relative(paths.keys));
}

std::optional<SetupReport> setup_vault_if_in_work_tree(const fs::path& vault_path)
{
  if (!Repo::find(vault_path)) {
    return std::nullopt;
  }
  return setup_vault(vault_path);
}

std::optional<std::string> setup_hint(const fs::path& vault_path)
{
  const std::optional<Repo> repo = Repo::find(vault_path);
  if (!repo) {
    return std::nullopt;
  }
  std::string rel;
  try {
    rel = repo->relative(vault_path);
  } catch (const Error&) {
    return std::nullopt;
  }
  const std::vector<std::string> missing = missing_setup(*repo, rel);
  if (missing.empty()) {
    return std::nullopt;
  }
  std::string what;
  for (const auto& item : missing) {
    what += (what.empty() ? "" : ", ") + item;
  }
  return fmt::format("warning: {}: this clone lacks escrow's git set-up ({}); fix: escrow git-setup",
                     repo->top().string(), what);
}

namespace {

// The commit message for an escrow-vault/2 journal grown from `committed` (HEAD's) to `working`:
// "escrow: <the one entry>" or "escrow: N journal entries by alice, bob" and one body line per
// entry (history/textconv.hpp). Value-free like the journal.
std::string sync_message_v2(std::string_view committed, std::string_view working)
{
  std::size_t skip = 0;
  if (working.substr(0, committed.size()) == committed) {
    skip = static_cast<std::size_t>(std::count(committed.begin(), committed.end(), '\n'));
  }
  const std::string summary = history::summarize_journal_v2(working);
  std::vector<std::string> lines;
  std::size_t start = 0;
  std::size_t index = 0;
  while (start < summary.size()) {
    const std::size_t end = summary.find('\n', start);
    if (index++ >= skip) {
      lines.push_back(summary.substr(start, end - start));
    }
    start = end == std::string::npos ? summary.size() : end + 1;
  }
  std::set<std::string> actors;
  start = 0;
  index = 0;
  while (start < working.size()) {
    std::size_t end = working.find('\n', start);
    if (end == std::string_view::npos) {
      break;
    }
    if (index++ >= skip) {
      try {
        actors.insert(util::escape_controls(history::parse_entry(working.substr(start, end - start), "entry").actor));
      } catch (const Error&) {
      }
    }
    start = end + 1;
  }
  std::string subject;
  if (lines.empty()) {
    subject = "escrow: update the vault";
  } else if (lines.size() == 1) {
    const std::size_t space = lines[0].find(' ');
    subject = "escrow: " + (space == std::string::npos ? lines[0] : lines[0].substr(space + 1));
  } else {
    std::string who;
    for (const auto& actor : actors) {
      who += (who.empty() ? "" : ", ") + actor;
    }
    subject = fmt::format("escrow: {} journal entries by {}", lines.size(), who.empty() ? "?" : who);
  }
  std::string message = subject + "\n";
  if (lines.size() > 1) {
    message += "\n";
    for (const auto& line : lines) {
      message += line + "\n";
    }
  }
  return message;
}

bool is_v2(const fs::path& head)
{
  try {
    return history::detect_format(read_or_empty(head, 4096)) == history::MergedFormat::head;
  } catch (const Error&) {
    return false;
  }
}

SyncReport sync_vault_v2(const Repo& repo, const VaultSyncOptions& options)
{
  const history::VaultPaths paths = history::VaultPaths::of(options.vault_path);
  const std::vector<std::string> files{repo.relative(paths.head), repo.relative(paths.journal),
                                       repo.relative(paths.keys)};
  // A merge git stopped on the journal is settled by escrow resolve, never committed or pushed as
  // it is (docs/design/vault-2-merge.md §3 "Commands while a merge is unresolved").
  if (const std::optional<Place> place = place_of(options.vault_path)) {
    if (const auto merge = unresolved_merge_source(options.vault_path, place->git_dir)()) {
      if (const auto unresolved =
            history::assess_unresolved(read_or_empty(paths.journal, k_max_journal_read), *merge, paths.journal.string())) {
        throw unresolved->refusal("no write until it is resolved (nothing is committed, pulled or pushed)");
      }
    }
  }
  if (options.verify) {
    options.verify();
  }
  std::size_t sealed = 0;
  std::vector<std::string> notes;
  SyncOptions sync_options;
  sync_options.files = files;
  sync_options.lock = paths.lock;
  sync_options.lock_wait = options.lock_wait;
  sync_options.attempts = options.attempts;
  sync_options.conflict_hint =
    "the operations above do not commute (docs/TEAM.md \"Conflicts on escrow-vault/2\"): git merge was undone; "
    "git pull --no-rebase, then escrow resolve settles them (or redo one side's operation on top of the other)";
  sync_options.check = [&] {
    if (options.verify) {
      options.verify();
    }
    const VaultSyncOptions::Seal seal = options.seal ? options.seal() : VaultSyncOptions::Seal::nothing;
    if (seal == VaultSyncOptions::Seal::sealed) {
      const std::string journal = read_or_empty(paths.journal, k_max_journal_read);
      const std::string committed = show(repo, "HEAD", files[1]).value_or("");
      if (repo.commit(files, sync_message_v2(committed, journal))) {
        ++sealed;
      }
    } else if (seal == VaultSyncOptions::Seal::unsigned_) {
      notes.push_back("the merge is not sealed by a signed entry yet: the next escrow write seals it");
    }
  };
  const std::string committed = repo.head() ? show(repo, "HEAD", files[1]).value_or("") : std::string();
  sync_options.message = sync_message_v2(committed, read_or_empty(paths.journal, k_max_journal_read));
  SyncReport report = sync(repo, sync_options);
  report.sealed = sealed;
  report.notes = std::move(notes);
  return report;
}

} // namespace

SyncReport sync_vault(const VaultSyncOptions& options)
{
  const Repo repo = work_tree_of(options.vault_path);
  if (is_v2(options.vault_path)) {
    return sync_vault_v2(repo, options);
  }
  if (!util::kind_of(options.vault_path)) {
    throw Error(ErrorKind::io, fmt::format("{}: no such vault", options.vault_path.string()))
      .hint("create one with 'escrow init', or pass --vault PATH");
  }
  fail(ErrorKind::integrity, "{}: not an escrow-vault/2 head file (escrow-vault/1 is no longer supported)",
       options.vault_path.string());
}

std::optional<history::VaultSessionOptions::HistoryCheck> journal_history_check(const fs::path& vault_path)
{
  if (!place_of(vault_path)) {
    return std::nullopt;
  }
  std::error_code ignored;
  const fs::path folder = fs::absolute(vault_path, ignored).parent_path();
  history::VaultSessionOptions::HistoryCheck check;
  check.head = [folder]() -> std::string {
    const Run run = run_git_in(folder, {"rev-parse", "-q", "--verify", "HEAD^{commit}"});
    if (!run.ok()) {
      return {}; // no commit yet (or git missing): no history to check
    }
    std::string head = run.out;
    while (!head.empty() && (head.back() == '\n' || head.back() == '\r')) {
      head.pop_back();
    }
    return head;
  };
  check.check = [vault_path](const JournalParents& parents, const std::vector<std::string>& heads,
                             const std::vector<std::string>& file_heads) {
    const std::optional<Repo> repo = Repo::find(vault_path);
    if (!repo) {
      return std::vector<std::string>{};
    }
    const history::VaultPaths paths = history::VaultPaths::of(vault_path);
    return check_journal_history(*repo, repo->relative(paths.head), repo->relative(paths.journal), parents, heads,
                                 file_heads)
      .warnings;
  };
  return check;
}

std::string textconv(const fs::path& file)
{
  // git hands a temporary copy (or the work tree's file): read it as a person-named file.
  const util::FileHandle handle = util::open_regular(file, O_RDONLY, util::Links::follow);
  const std::string bytes = util::read_all(handle, file, k_max_journal_read);
  if (std::optional<std::string> summary = history::summarize_v2(bytes)) {
    return std::move(*summary);
  }
  return fmt::format("(not an escrow-vault/2 file: {} bytes)\n", bytes.size());
}

history::MergeOutcome merge_driver(const DriverFiles& files)
{
  // git hands temporary copies it made itself: read them as person-named files (links followed).
  const auto read = [](const fs::path& path) { return read_file(path, k_max_journal_read, util::Links::follow); };
  const std::string base = read(files.base);
  const std::string ours = read(files.ours);
  const std::string theirs = read(files.theirs);
  // Without %P (a driver line without it), messages use the file's usual name, not git's temp name.
  std::string name = files.name;
  if (name.empty()) {
    name = std::string(history::usual_file_name(history::detect_format(ours)));
  }
  if (name.empty()) {
    name = files.ours.filename().string();
  }
  history::MergeOutcome outcome = history::merge_texts(base, ours, theirs, name);
  if (outcome.format == history::MergedFormat::other) {
    throw Error(ErrorKind::failed,
                fmt::format("{}: the merge driver merges escrow-vault/2 files; git leaves this escrow-vault/1 file "
                            "unmerged, holding this clone's version (never conflict markers)",
                            name))
      .hint("resolve by keeping one side and redoing the other side's change on top of it: git merge --abort, "
            "then docs/TEAM.md \"When sync reports a conflict\"");
  }
  if (outcome.ok() && outcome.changed) {
    AtomicFile out(files.ours, 0644);
    out.write(outcome.text);
    out.commit();
  }
  return outcome;
}

} // namespace escrow::git
