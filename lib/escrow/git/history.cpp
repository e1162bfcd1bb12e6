#include <escrow/git/history.hpp>

#include <escrow/error.hpp>

#include <algorithm>
#include <charconv>
#include <string_view>

namespace escrow::git {

namespace {

constexpr std::size_t k_log_limit = std::size_t{512} << 20;

// The vault's top-level lines, in its one layout (vault.hpp): two spaces, the key, a value.
constexpr std::string_view k_revision_line = "+  \"revision\": ";
constexpr std::string_view k_vault_id_line = "+  \"vault_id\": ";

std::string short_id(const std::string& commit)
{
  return commit.substr(0, 12);
}

std::optional<std::int64_t> parse_revision(std::string_view rest)
{
  if (!rest.empty() && rest.back() == ',') {
    rest.remove_suffix(1);
  }
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (error != std::errc() || end != rest.data() + rest.size()) {
    return std::nullopt;
  }
  return value;
}

template<typename Visit>
void for_each_line(std::string_view text, Visit visit)
{
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    visit(text.substr(start, end - start));
    start = end + 1;
  }
}

} // namespace

std::vector<std::string> first_parent_commits(const Repo& repo, const std::string& rel, const std::string& rev)
{
  const Run run = repo.run_checked({"log", "--first-parent", "--format=%H", rev, "--", rel}, k_log_limit);
  std::vector<std::string> commits;
  for_each_line(run.out, [&](std::string_view line) {
    if (!line.empty()) {
      commits.emplace_back(line);
    }
  });
  return commits;
}

std::optional<std::string> show(const Repo& repo, const std::string& rev, const std::string& rel)
{
  Run run = repo.run({"cat-file", "blob", rev + ":" + rel}, k_log_limit);
  if (!run.ok()) {
    return std::nullopt;
  }
  return std::move(run.out);
}

VaultHistory read_vault_history(const Repo& repo, const std::string& vault_rel)
{
  // One process: every first-parent commit that changed the vault, with only the changed lines
  // of its diff against its first parent (--first-parent implies --diff-merges=first-parent, so
  // a merge shows what it brought into this branch). No textconv, no external diff: the raw
  // lines are read, and only the "revision" and "vault_id" ones are kept.
  const Run run = repo.run_checked({"log", "--first-parent", "--reverse", "--format=%x01%H %s", "-p", "-U0",
                                    "--no-textconv", "--no-ext-diff", "--no-renames", "--no-color", "HEAD", "--",
                                    vault_rel},
                                   k_log_limit);
  struct Commit
  {
    std::string id;
    std::string subject;
    std::optional<std::int64_t> revision;
    bool new_vault = false; // created, or replaced by a vault with another id
    bool deleted = false;
  };
  std::vector<Commit> commits;
  for_each_line(run.out, [&](std::string_view line) {
    if (!line.empty() && line.front() == '\x01') {
      line.remove_prefix(1);
      const std::size_t space = line.find(' ');
      Commit commit;
      commit.id = std::string(line.substr(0, space));
      commit.subject = space == std::string_view::npos ? std::string() : std::string(line.substr(space + 1));
      commits.push_back(std::move(commit));
      return;
    }
    if (commits.empty()) {
      return;
    }
    Commit& commit = commits.back();
    if (line.rfind(k_revision_line, 0) == 0) {
      commit.revision = parse_revision(line.substr(k_revision_line.size()));
    } else if (line.rfind(k_vault_id_line, 0) == 0) {
      commit.new_vault = true;
    } else if (line == "+++ /dev/null") {
      commit.deleted = true;
    }
  });

  VaultHistory history;
  bool seen = false; // `highest` holds a revision of this vault
  std::int64_t highest = 0;
  std::string highest_commit;
  std::optional<Rollback> open;
  for (const Commit& commit : commits) {
    history.head_commit = commit.id;
    if (commit.deleted || commit.new_vault) {
      // Another vault (or none) from here on: its revisions start over.
      seen = false;
      open.reset();
      history.head_revision.reset();
    }
    if (commit.deleted || !commit.revision) {
      continue;
    }
    const std::int64_t revision = *commit.revision;
    history.steps.push_back(RevisionStep{commit.id, revision});
    history.head_revision = revision;
    if (seen && revision < highest) {
      if (!open) {
        open = Rollback{commit.id, commit.subject, revision, highest, highest_commit, {}};
      }
      continue;
    }
    if (open) {
      open->healed_by = commit.id;
      history.rollbacks.push_back(std::move(*open));
      open.reset();
    }
    seen = true;
    highest = revision;
    highest_commit = commit.id;
  }
  if (open) {
    history.rollbacks.push_back(std::move(*open));
  }
  return history;
}

FreshnessReport check_freshness(const Repo& repo, const FreshnessInput& input)
{
  FreshnessReport report;
  report.head = repo.head();
  if (!report.head) {
    return report; // no commit yet: no history to be fresh against
  }
  const VaultHistory history = read_vault_history(repo, input.vault_rel);
  report.commits = history.steps.size();
  for (const Rollback& rollback : history.rollbacks) {
    if (rollback.healed_by.empty()) {
      throw Error(ErrorKind::integrity,
                  fmt::format("{}: rolled back by commit {} (\"{}\"): revision {} follows revision {} (commit {}) "
                              "in the branch's first-parent history",
                              input.vault_rel, short_id(rollback.commit), rollback.subject, rollback.revision,
                              rollback.highest, short_id(rollback.highest_commit)))
        .hint(fmt::format("if that commit is not wanted, undo it: git revert {}; a vault never goes back to an "
                          "older revision (docs/TEAM.md)",
                          short_id(rollback.commit)));
    }
    report.warnings.push_back(fmt::format("{}: commit {} rolled the vault back from revision {} to {}; commit {} "
                                          "restored it",
                                          input.vault_rel, short_id(rollback.commit), rollback.highest,
                                          rollback.revision, short_id(rollback.healed_by)));
  }
  if (history.head_revision && input.working_revision < *history.head_revision) {
    // The working file is another vault only if HEAD's has another id: read HEAD's first lines.
    const std::optional<std::string> committed = show(repo, "HEAD", input.vault_rel);
    const bool same_vault =
      committed && committed->find("\"vault_id\": \"" + input.working_vault_id + "\"") != std::string::npos;
    if (same_vault) {
      throw Error(ErrorKind::integrity,
                  fmt::format("{}: the working file is revision {}, older than revision {} committed at HEAD "
                              "(commit {})",
                              input.vault_rel, input.working_revision, *history.head_revision,
                              short_id(history.head_commit)))
        .hint(fmt::format("put the committed vault back: git checkout HEAD -- {}", input.vault_rel));
    }
  }
  // The journal: HEAD's entries must all still be here, as the start of the working file.
  if (const std::optional<std::string> committed = show(repo, "HEAD", input.journal_rel)) {
    // A torn last line (a writer killed mid-append, committed so) is cut off by the next append:
    // only HEAD's complete lines are owed.
    const std::size_t complete = committed->rfind('\n') == std::string::npos ? 0 : committed->rfind('\n') + 1;
    const std::string_view owed(committed->data(), complete);
    if (input.working_journal.size() < owed.size()
        || std::string_view(input.working_journal).substr(0, owed.size()) != owed) {
      const std::size_t lines = static_cast<std::size_t>(std::count(owed.begin(), owed.end(), '\n'));
      throw Error(ErrorKind::integrity,
                  fmt::format("{}: entries committed at HEAD (commit {}, {} entries) are missing or changed in the "
                              "working file",
                              input.journal_rel, short_id(*report.head), lines))
        .hint(fmt::format("the journal only grows; compare with: git diff HEAD -- {}", input.journal_rel));
    }
  }
  return report;
}

} // namespace escrow::git
