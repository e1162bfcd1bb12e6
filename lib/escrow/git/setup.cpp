#include <escrow/git/setup.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>
#include <escrow/util/file.hpp>

#include <fcntl.h>

namespace escrow::git {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_max_ignore_file = 1 << 20;

// A pattern naming exactly this path from the top of the work tree.
std::string anchored(const std::string& rel)
{
  if (rel.find_first_of(" \t\r\n*?[]\\#!\"") != std::string::npos) {
    fail(ErrorKind::usage, "{}: git-setup cannot name this path in .gitattributes (spaces or pattern characters); "
                           "rename the vault",
         rel);
  }
  return "/" + rel;
}

std::string read_if_exists(const fs::path& path)
{
  const auto file = util::open_regular_if_exists(path, O_RDONLY, util::Links::refuse);
  return file ? util::read_all(*file, path, k_max_ignore_file) : std::string();
}

bool has_line(const std::string& text, const std::string& wanted)
{
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    std::string line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.pop_back();
    }
    if (line == wanted) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// Appends the lines not yet present; returns those it added.
std::vector<std::string> ensure_lines(const fs::path& path, const std::vector<std::string>& lines)
{
  std::string text = read_if_exists(path);
  std::vector<std::string> added;
  for (const auto& line : lines) {
    if (!has_line(text, line)) {
      added.push_back(line);
    }
  }
  if (added.empty()) {
    return added;
  }
  if (!text.empty() && text.back() != '\n') {
    text += '\n';
  }
  for (const auto& line : added) {
    text += line + "\n";
  }
  AtomicFile file(path, 0644);
  file.write(text);
  file.commit();
  return added;
}

std::vector<std::string> attribute_lines(const std::string& vault_rel, const std::string& journal_rel,
                                         const std::string& keys_rel)
{
  return {anchored(vault_rel) + " merge=escrow diff=escrow", anchored(journal_rel) + " merge=escrow diff=escrow",
          anchored(keys_rel) + " merge=escrow diff=escrow"};
}

// The keys file beside the head file ("X.vault" → "X.keys"), as history::VaultPaths names it.
std::string keys_beside(const std::string& vault_rel)
{
  const std::string suffix = ".vault";
  if (vault_rel.size() > suffix.size() && vault_rel.compare(vault_rel.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return vault_rel.substr(0, vault_rel.size() - suffix.size()) + ".keys";
  }
  return vault_rel + ".keys";
}

} // namespace

SetupReport setup(const Repo& repo, const std::string& vault_rel, const std::string& journal_rel,
                  const std::string& keys_rel)
{
  SetupReport report;
  for (const auto& line :
       ensure_lines(repo.top() / ".gitattributes", attribute_lines(vault_rel, journal_rel, keys_rel))) {
    report.changed.push_back(".gitattributes: " + line);
  }
  for (const auto& line : ensure_lines(repo.top() / ".gitignore", {anchored(vault_rel) + ".lock"})) {
    report.changed.push_back(".gitignore: " + line);
  }
  const std::vector<std::pair<std::string, std::string>> config{
    {"diff.escrow.textconv", k_textconv_command},
    {"merge.escrow.name", "escrow vault merge (escrow-vault/2: journal, keys, head)"},
    {"merge.escrow.driver", k_merge_command},
  };
  for (const auto& [key, value] : config) {
    if (repo.config_get(key) != value) {
      repo.config_set(key, value);
      report.changed.push_back(fmt::format("git config {} = {}", key, value));
    }
  }
  return report;
}

std::vector<std::string> missing_setup(const Repo& repo, const std::string& vault_rel)
{
  std::vector<std::string> missing;
  const Run config = repo.run({"config", "--local", "--get-regexp", "^(diff|merge)\\.escrow\\."});
  if (config.out.find("diff.escrow.textconv " + std::string(k_textconv_command)) == std::string::npos) {
    missing.push_back("the diff textconv (git config diff.escrow.textconv)");
  }
  if (config.out.find("merge.escrow.driver " + std::string(k_merge_command)) == std::string::npos) {
    missing.push_back("the merge driver (git config merge.escrow.driver)");
  }
  std::string pattern;
  try {
    pattern = anchored(vault_rel);
  } catch (const Error&) {
    return missing; // a path git-setup cannot name: nothing it could fix
  }
  const std::string attributes = read_if_exists(repo.top() / ".gitattributes");
  std::string keys_pattern;
  try {
    keys_pattern = anchored(keys_beside(vault_rel));
  } catch (const Error&) {
    keys_pattern = pattern;
  }
  if (!has_line(attributes, pattern + " merge=escrow diff=escrow")
      || !has_line(attributes, keys_pattern + " merge=escrow diff=escrow")) {
    missing.push_back("the .gitattributes lines");
  }
  return missing;
}

} // namespace escrow::git
