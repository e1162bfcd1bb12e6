#include <escrow/git/team.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>
#include <escrow/git/history.hpp>
#include <escrow/journal.hpp>
#include <escrow/summary.hpp>
#include <escrow/util/file.hpp>
#include <escrow/vault.hpp>

#include <fcntl.h>

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
  return setup(repo, repo.relative(vault_path), repo.relative(Journal::path_for(vault_path)));
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

SyncReport sync_vault(const VaultSyncOptions& options)
{
  const Repo repo = work_tree_of(options.vault_path);
  const fs::path journal = Journal::path_for(options.vault_path);
  const std::string vault_rel = repo.relative(options.vault_path);
  const std::string journal_rel = repo.relative(journal);
  if (!util::kind_of(options.vault_path)) {
    throw Error(ErrorKind::io, fmt::format("{}: no such vault", options.vault_path.string()))
      .hint("create one with 'escrow init', or pass --vault PATH");
  }
  // The freshness of what is about to be committed and of what a pull brings in.
  const auto check = [&] {
    const Vault vault = Vault::read(options.vault_path);
    FreshnessInput input;
    input.vault_rel = vault_rel;
    input.journal_rel = journal_rel;
    input.working_revision = vault.revision();
    input.working_vault_id = vault.id_b64();
    input.cache = options.state_dir;
    input.working_journal = read_or_empty(journal, k_max_journal_read);
    (void)check_freshness(repo, input);
  };
  check();
  SyncOptions sync_options;
  sync_options.files = {vault_rel, journal_rel};
  sync_options.lock = fs::path(options.vault_path.string() + ".lock");
  sync_options.lock_wait = options.lock_wait;
  sync_options.attempts = options.attempts;
  sync_options.check = check;
  const std::string committed = repo.head() ? show(repo, "HEAD", journal_rel).value_or("") : std::string();
  sync_options.message = sync_message(committed, read_or_empty(journal, k_max_journal_read));
  return sync(repo, sync_options);
}

std::string textconv(const fs::path& file)
{
  // git hands a temporary copy (or the work tree's file): read it as a person-named file.
  const util::FileHandle handle = util::open_regular(file, O_RDONLY, util::Links::follow);
  return summarize(util::read_all(handle, file, k_max_vault_size));
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
