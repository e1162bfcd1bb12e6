#include <escrow/git/history.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/canonical.hpp>
#include <escrow/error.hpp>
#include <escrow/lock.hpp>
#include <escrow/util/file.hpp>

#include <fcntl.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <cctype>
#include <set>
#include <unordered_set>

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

namespace {

struct Commit
{
  std::string id;
  std::string subject;
  std::optional<std::int64_t> revision;
  bool new_vault = false; // created, or replaced by a vault with another id
  bool deleted = false;
};

// `git log --first-parent -p -U0` of the vault over `range`, oldest first: the commits that
// changed it, with only the changed lines of each diff against its first parent
// (--first-parent implies --diff-merges=first-parent, so a merge shows what it brought into this
// branch). No textconv, no external diff: the raw lines are read, and only the "revision" and
// "vault_id" ones are kept.
std::vector<Commit> vault_commits(const Repo& repo, const std::string& vault_rel, const std::string& range)
{
  const Run run = repo.run_checked({"log", "--first-parent", "--reverse", "--format=%x01%H %s", "-p", "-U0",
                                    "--no-textconv", "--no-ext-diff", "--no-renames", "--no-color", range, "--",
                                    vault_rel},
                                   k_log_limit);
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
  return commits;
}

void fold(VaultHistory& history, const Commit& commit)
{
  history.head_commit = commit.id;
  if (commit.deleted || commit.new_vault) {
    // Another vault (or none) from here on: its revisions start over.
    history.highest.reset();
    history.open.reset();
    history.head_revision.reset();
  }
  if (commit.deleted || !commit.revision) {
    return;
  }
  const std::int64_t revision = *commit.revision;
  ++history.commits;
  history.head_revision = revision;
  if (history.highest && revision < *history.highest) {
    if (!history.open) {
      history.open = Rollback{commit.id, commit.subject, revision, *history.highest, history.highest_commit, {}};
    }
    return;
  }
  if (history.open) {
    history.open->healed_by = commit.id;
    history.rollbacks.push_back(std::move(*history.open));
    history.open.reset();
  }
  history.highest = revision;
  history.highest_commit = commit.id;
}

using canonical::Json;

Json rollback_json(const Rollback& r)
{
  return Json{{"commit", r.commit},   {"subject", r.subject},   {"revision", r.revision},
              {"highest", r.highest}, {"highest_commit", r.highest_commit}, {"healed_by", r.healed_by}};
}

Rollback rollback_from(const Json& j)
{
  return Rollback{j.at("commit").get<std::string>(),         j.at("subject").get<std::string>(),
                  j.at("revision").get<std::int64_t>(),      j.at("highest").get<std::int64_t>(),
                  j.at("highest_commit").get<std::string>(), j.at("healed_by").get<std::string>()};
}

Json history_json(const VaultHistory& h)
{
  Json rollbacks = Json::array();
  for (const auto& r : h.rollbacks) {
    rollbacks.push_back(rollback_json(r));
  }
  return Json{{"commits", h.commits},
              {"rollbacks", rollbacks},
              {"open", h.open ? rollback_json(*h.open) : Json(nullptr)},
              {"highest", h.highest ? Json(*h.highest) : Json(nullptr)},
              {"highest_commit", h.highest_commit},
              {"head_revision", h.head_revision ? Json(*h.head_revision) : Json(nullptr)},
              {"head_commit", h.head_commit}};
}

VaultHistory history_from(const Json& j, const std::string& at)
{
  VaultHistory h;
  h.at = at;
  h.commits = j.at("commits").get<std::size_t>();
  for (const auto& r : j.at("rollbacks")) {
    h.rollbacks.push_back(rollback_from(r));
  }
  if (!j.at("open").is_null()) {
    h.open = rollback_from(j.at("open"));
  }
  if (!j.at("highest").is_null()) {
    h.highest = j.at("highest").get<std::int64_t>();
  }
  h.highest_commit = j.at("highest_commit").get<std::string>();
  if (!j.at("head_revision").is_null()) {
    h.head_revision = j.at("head_revision").get<std::int64_t>();
  }
  h.head_commit = j.at("head_commit").get<std::string>();
  return h;
}

constexpr std::size_t k_cache_entries = 64;

std::filesystem::path cache_file(const std::filesystem::path& folder)
{
  return folder / "history.json";
}

Json read_cache(const std::filesystem::path& folder)
{
  try {
    const auto file = util::open_regular_if_exists(cache_file(folder), O_RDONLY, util::Links::refuse);
    if (file) {
      Json json = canonical::parse(util::read_all(*file, cache_file(folder), 16 << 20), "history cache");
      if (json.is_object() && json.value("format", "") == "escrow-git-history/1" && json.contains("entries")
          && json["entries"].is_object()) {
        return json;
      }
    }
  } catch (const Error&) {
    // A damaged cache is no cache: history is read again.
  }
  return Json{{"format", "escrow-git-history/1"}, {"entries", Json::object()}};
}

void write_cache(const std::filesystem::path& folder, const std::string& key, const VaultHistory& history)
{
  try {
    std::filesystem::create_directories(folder);
    FileLock lock(folder / "history.json.lock", std::chrono::seconds(5));
    Json cache = read_cache(folder);
    Json& entries = cache["entries"];
    entries[key] = history_json(history);
    entries[key]["stored"] = static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         std::chrono::system_clock::now().time_since_epoch())
                                                         .count());
    while (entries.size() > k_cache_entries) {
      auto oldest = entries.begin();
      for (auto it = entries.begin(); it != entries.end(); ++it) {
        if (it->value("stored", std::int64_t{0}) < oldest->value("stored", std::int64_t{0})) {
          oldest = it;
        }
      }
      entries.erase(oldest);
    }
    AtomicFile file(cache_file(folder));
    file.write(canonical::dump(cache) + "\n");
    file.commit();
  } catch (const Error&) {
    // The cache only saves time.
  }
}

} // namespace

VaultHistory read_vault_history(const Repo& repo, const std::string& vault_rel, const std::filesystem::path& cache)
{
  VaultHistory history;
  std::string range = "HEAD";
  // The newest first-parent commit whose folded history this machine has cached.
  const Run line = repo.run_checked({"rev-list", "--first-parent", "HEAD"}, k_log_limit);
  const std::string head = line.out.substr(0, line.out.find('\n'));
  Json cached;
  if (!cache.empty()) {
    cached = read_cache(cache);
    const Json& entries = cached["entries"];
    std::size_t start = 0;
    while (start < line.out.size()) {
      std::size_t end = line.out.find('\n', start);
      if (end == std::string::npos) {
        end = line.out.size();
      }
      const std::string commit = line.out.substr(start, end - start);
      start = end + 1;
      const auto it = entries.find(vault_rel + " " + commit);
      if (it != entries.end()) {
        try {
          history = history_from(*it, commit);
          range = commit + "..HEAD";
        } catch (const std::exception&) {
          history = VaultHistory{};
        }
        break;
      }
    }
  }
  if (history.at != head) {
    for (const Commit& commit : vault_commits(repo, vault_rel, range)) {
      fold(history, commit);
    }
    history.at = head;
    if (!cache.empty() && !head.empty()) {
      write_cache(cache, vault_rel + " " + head, history);
    }
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
  const VaultHistory history = read_vault_history(repo, input.vault_rel, input.cache);
  report.commits = history.commits;
  std::vector<Rollback> rollbacks = history.rollbacks;
  if (history.open) {
    rollbacks.push_back(*history.open);
  }
  for (const Rollback& rollback : rollbacks) {
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

namespace escrow::git {

namespace {

// The head file's lines in its one layout (history/head_file.hpp): two spaces before a top-level
// key, six before each head.
constexpr std::string_view k_v2_format_line = "  \"format\": \"escrow-vault/2\"";
constexpr std::string_view k_format_prefix = "  \"format\": ";
constexpr std::string_view k_head_prefix = "      \"";

struct HeadCommit
{
  std::string id;
  std::string subject;
  std::vector<std::string> heads; // the head file's heads after this commit (sorted)
};

// A head line's hash ("      \"<44 b64>\"" with an optional comma), or "".
std::string head_of_line(std::string_view line)
{
  if (line.rfind(k_head_prefix, 0) != 0) {
    return {};
  }
  line.remove_prefix(k_head_prefix.size());
  if (!line.empty() && line.back() == ',') {
    line.remove_suffix(1);
  }
  if (line.size() != 45 || line.back() != '"') {
    return {};
  }
  line.remove_suffix(1);
  for (const char c : line) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') {
      return {};
    }
  }
  return std::string(line);
}

// The first-parent commits that changed the head file, oldest first, each with the heads its
// head file names. A commit that replaced the file by another vault (a new vault_id), by a file
// of another format, or deleted it, starts the history over (`restart` marks it).
std::vector<HeadCommit> head_commits(const Repo& repo, const std::string& head_rel, std::vector<std::size_t>& restarts)
{
  const Run run = repo.run_checked({"log", "--first-parent", "--reverse", "--format=%x01%H %s", "-p", "-U0",
                                    "--no-textconv", "--no-ext-diff", "--no-renames", "--no-color", "HEAD", "--",
                                    head_rel},
                                   k_log_limit);
  std::vector<HeadCommit> commits;
  std::set<std::string> heads;
  bool v2 = false;
  std::set<std::string> removed;
  std::set<std::string> added;
  bool restart = false;
  const auto close = [&] {
    if (commits.empty()) {
      return;
    }
    if (restart) {
      heads.clear();
      restarts.push_back(commits.size() - 1);
    }
    for (const auto& h : removed) {
      heads.erase(h);
    }
    heads.insert(added.begin(), added.end());
    commits.back().heads.assign(heads.begin(), heads.end());
    if (!v2) {
      commits.back().heads.clear(); // not an escrow-vault/2 head file: nothing to check
    }
    removed.clear();
    added.clear();
    restart = false;
  };
  for_each_line(run.out, [&](std::string_view line) {
    if (!line.empty() && line.front() == '\x01') {
      close();
      line.remove_prefix(1);
      const std::size_t space = line.find(' ');
      HeadCommit commit;
      commit.id = std::string(line.substr(0, space));
      commit.subject = space == std::string_view::npos ? std::string() : std::string(line.substr(space + 1));
      commits.push_back(std::move(commit));
      return;
    }
    if (commits.empty() || line.empty()) {
      return;
    }
    if (line == "+++ /dev/null") {
      restart = true;
      v2 = false;
      return;
    }
    const char sign = line.front();
    if (sign != '+' && sign != '-') {
      return;
    }
    const std::string_view body = line.substr(1);
    if (sign == '+' && body.rfind(k_format_prefix, 0) == 0) {
      const bool now_v2 = body.rfind(k_v2_format_line, 0) == 0;
      if (now_v2 != v2) {
        restart = true;
      }
      v2 = now_v2;
      return;
    }
    if (sign == '+' && body.rfind(k_vault_id_line.substr(1), 0) == 0) {
      restart = true; // another vault from here on
      return;
    }
    const std::string head = head_of_line(body);
    if (!head.empty()) {
      (sign == '-' ? removed : added).insert(head);
    }
  });
  close();
  return commits;
}

} // namespace

JournalHistoryReport check_journal_history(const Repo& repo, const std::string& head_rel,
                                           const std::string& journal_rel, const JournalParents& parents,
                                           const std::vector<std::string>& work_heads,
                                           const std::vector<std::string>& file_heads)
{
  JournalHistoryReport report;
  if (!repo.head()) {
    return report; // no commit yet
  }
  std::vector<std::size_t> restarts;
  const std::vector<HeadCommit> commits = head_commits(repo, head_rel, restarts);
  report.commits = commits.size();
  const auto in_journal = [&](const std::string& h) { return parents.count(h) > 0; };

  // R: every entry reachable from `top`, the heads of the last commit known good (in the journal).
  std::unordered_set<std::string> reach;
  std::vector<std::string> top;
  const HeadCommit* top_commit = nullptr;
  // A commit whose heads did not reach `top`, and the commit `top` came from (nullptr: none open).
  const HeadCommit* open_commit = nullptr;
  const HeadCommit* open_had = nullptr;

  // Walks from `heads` towards the genesis, stopping at entries already in `reach`. Returns the
  // new entries; `hit` gets the entries of `reach` it touched, `inner` the heads reached as a
  // parent of another entry (not maximal).
  const auto walk = [&](const std::vector<std::string>& heads, std::set<std::string>& hit,
                        std::set<std::string>& inner) {
    const std::set<std::string> head_set(heads.begin(), heads.end());
    std::unordered_set<std::string> visited;
    std::vector<std::string> stack;
    for (const auto& h : heads) {
      if (reach.count(h) > 0) {
        hit.insert(h);
      } else if (in_journal(h) && visited.insert(h).second) {
        stack.push_back(h);
      }
    }
    while (!stack.empty()) {
      const std::string node = std::move(stack.back());
      stack.pop_back();
      for (const auto& p : parents.at(node)) {
        if (head_set.count(p) > 0) {
          inner.insert(p);
        }
        if (reach.count(p) > 0) {
          hit.insert(p);
        } else if (in_journal(p) && visited.insert(p).second) {
          stack.push_back(p);
        }
      }
    }
    return visited;
  };
  // Entries reachable from `from` and not from `to` (the count a message gives).
  const auto dropped = [&](const std::vector<std::string>& from, const std::vector<std::string>& to) {
    const auto closure = [&](const std::vector<std::string>& start) {
      std::unordered_set<std::string> seen(start.begin(), start.end());
      std::vector<std::string> stack(start.begin(), start.end());
      while (!stack.empty()) {
        const std::string node = std::move(stack.back());
        stack.pop_back();
        const auto it = parents.find(node);
        if (it == parents.end()) {
          continue;
        }
        for (const auto& p : it->second) {
          if (seen.insert(p).second) {
            stack.push_back(p);
          }
        }
      }
      return seen;
    };
    const auto a = closure(from);
    const auto b = closure(to);
    std::size_t n = 0;
    for (const auto& h : a) {
      n += b.count(h) == 0 ? 1 : 0;
    }
    return n;
  };
  // Whether `heads` reach every head of `top` (a head kept as it was counts).
  const auto reaches_top = [&](const std::vector<std::string>& heads, const std::set<std::string>& hit) {
    const std::set<std::string> head_set(heads.begin(), heads.end());
    return std::all_of(top.begin(), top.end(),
                       [&](const std::string& t) { return head_set.count(t) > 0 || hit.count(t) > 0; });
  };

  std::size_t next_restart = 0;
  for (std::size_t i = 0; i < commits.size(); ++i) {
    const HeadCommit& c = commits[i];
    if (next_restart < restarts.size() && restarts[next_restart] == i) {
      ++next_restart;
      reach.clear();
      top.clear();
      top_commit = nullptr;
      open_commit = nullptr;
      open_had = nullptr;
    }
    if (c.heads.empty()) {
      continue; // not an escrow-vault/2 head file
    }
    const bool judged = std::all_of(c.heads.begin(), c.heads.end(), in_journal);
    std::set<std::string> hit;
    std::set<std::string> inner;
    const std::unordered_set<std::string> fresh = walk(c.heads, hit, inner);
    if (!judged) {
      // It names entries this journal lacks: the commits after it (or the work tree) dropped
      // them; it is the new reference.
      top = c.heads;
      top_commit = &c;
      continue;
    }
    if (!reaches_top(c.heads, hit)) {
      if (open_commit == nullptr) {
        open_commit = &c;
        open_had = top_commit;
      }
      continue;
    }
    if (open_commit != nullptr && open_had != nullptr) {
      report.warnings.push_back(fmt::format("{}: commit {} (\"{}\") dropped journal entries that commit {} had; "
                                            "commit {} restored them",
                                            journal_rel, short_id(open_commit->id), open_commit->subject,
                                            short_id(open_had->id), short_id(c.id)));
      open_commit = nullptr;
      open_had = nullptr;
    }
    const std::set<std::string> old_top(top.begin(), top.end());
    std::vector<std::string> next;
    for (const auto& h : c.heads) {
      const bool behind = reach.count(h) > 0 && old_top.count(h) == 0;
      if (inner.count(h) == 0 && !behind) {
        next.push_back(h);
      }
    }
    reach.insert(fresh.begin(), fresh.end());
    top = std::move(next);
    top_commit = &c;
  }
  if (open_commit != nullptr && open_had != nullptr) {
    const HeadCommit* const culprit = open_commit;
    const HeadCommit* const had = open_had;
    const std::size_t n = dropped(had->heads, culprit->heads);
    throw Error(ErrorKind::integrity,
                fmt::format("{}: rolled back by commit {} (\"{}\"): it dropped {} journal entr{} that commit {} had, "
                            "in the branch's first-parent history",
                            journal_rel, short_id(culprit->id), culprit->subject, n, n == 1 ? "y" : "ies",
                            short_id(had->id)))
      .hint(fmt::format("the entries are still in commit {}; if commit {} is not wanted, undo it: git revert {} "
                        "(the journal only grows: docs/TEAM.md)",
                        short_id(had->id), short_id(culprit->id), short_id(culprit->id)));
  }
  if (top_commit != nullptr) {
    const std::string keys_rel = [&] {
      const std::string suffix = ".journal";
      return journal_rel.size() > suffix.size() ? journal_rel.substr(0, journal_rel.size() - suffix.size()) + ".keys"
                                                : journal_rel + ".keys";
    }();
    const std::string fix =
      fmt::format("put the committed files back: git checkout HEAD -- {} {} {}", head_rel, journal_rel, keys_rel);
    std::set<std::string> hit;
    std::set<std::string> inner;
    (void)walk(work_heads, hit, inner);
    if (!reaches_top(work_heads, hit)) {
      // How many: known only when HEAD's heads are entries of this journal (else they are gone
      // with what led to them).
      const bool known = std::all_of(top.begin(), top.end(), in_journal);
      const std::size_t n = known ? dropped(top, work_heads) : 0;
      throw Error(ErrorKind::integrity,
                  fmt::format("{}: the working files lack {}journal entr{} committed at HEAD (commit {}, \"{}\"): "
                              "they are older than HEAD's",
                              journal_rel, known ? std::to_string(n) + " " : std::string(),
                              known && n == 1 ? "y" : "ies", short_id(top_commit->id), top_commit->subject))
        .hint(fix);
    }
    hit.clear();
    inner.clear();
    (void)walk(file_heads, hit, inner);
    if (!reaches_top(file_heads, hit)) {
      throw Error(ErrorKind::integrity,
                  fmt::format("{}: the working head file is older than the one committed at HEAD (commit {}, \"{}\"): "
                              "its heads do not reach HEAD's",
                              head_rel, short_id(top_commit->id), top_commit->subject))
        .hint(fix);
    }
  }
  return report;
}

} // namespace escrow::git
