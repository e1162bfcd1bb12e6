// summary.hpp: the textconv summaries git shows in diffs. They must say what changed, one line
// per thing, and never carry a value, a ciphertext, a sealed key, a share, a signature or a hash.
#include "foundation_support.hpp"

#include <escrow/summary.hpp>

#include <catch2/catch.hpp>

#include <regex>
#include <set>

using namespace escrow;

namespace {

// Every base64 string of 16 bytes or more the file holds (ids, keys, nonces, ciphertexts, sigs).
std::set<std::string> opaque_strings(const std::string& text)
{
  std::set<std::string> found;
  const std::regex b64("[A-Za-z0-9+/]{22,}={0,2}");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), b64); it != std::sregex_iterator(); ++it) {
    found.insert(it->str());
  }
  return found;
}

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return lines;
}

} // namespace

TEST_CASE("summary: the vault, one line per member, connector, secret, version and request, nothing opaque")
{
  const std::string vault = escrow::test::slurp(escrow::test::golden_dir() / "escrow.vault");
  REQUIRE(summary_kind(vault) == SummaryKind::vault);
  const std::string summary = summarize(vault);
  const auto lines = lines_of(summary);
  REQUIRE(!lines.empty());
  CHECK(lines[0].rfind("vault ", 0) == 0);
  CHECK(lines[0].find("revision ") != std::string::npos);
  std::size_t members = 0, secrets = 0, versions = 0;
  for (const auto& line : lines) {
    members += line.rfind("member ", 0) == 0 ? 1 : 0;
    secrets += line.rfind("secret ", 0) == 0 ? 1 : 0;
    versions += line.rfind("version ", 0) == 0 ? 1 : 0;
  }
  CHECK(members == 4);
  CHECK(secrets == 4);
  CHECK(versions == 4);
  CHECK(summary.find("secret prod/db: owner ") != std::string::npos);
  CHECK(summary.find("member carol:") != std::string::npos);
  // The vault id is shown (it names the vault); no other opaque string is.
  std::set<std::string> opaque = opaque_strings(vault);
  for (const auto& item : opaque) {
    if (vault.find("\"vault_id\": \"" + item + "\"") != std::string::npos) {
      continue;
    }
    INFO(item);
    CHECK(summary.find(item) == std::string::npos);
  }
}

TEST_CASE("summary: the journal, one line per entry, no hash or signature")
{
  const std::string journal = escrow::test::slurp(escrow::test::golden_dir() / "escrow.journal");
  REQUIRE(summary_kind(journal) == SummaryKind::journal);
  const std::string summary = summarize(journal);
  const auto lines = lines_of(summary);
  CHECK(lines.size() == 11);
  for (const auto& line : lines) {
    CHECK(std::regex_search(line, std::regex("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ ")));
  }
  CHECK(summary.find("vault created by alice") != std::string::npos);
  CHECK(summary.find("member dave removed by alice") != std::string::npos);
  for (const auto& item : opaque_strings(journal)) {
    INFO(item);
    CHECK(summary.find(item) == std::string::npos);
  }
}

TEST_CASE("summary: a rotation and an approval read as people say them")
{
  const std::string rotation =
    R"({"action":"rotate","actor":"alice","detail":{"previous":4,"revision":9},"env":"prod","hash":"h","host":"x","parents":[],"result":"ok","secret":"prod/stripe-key","sig":"s","ts":"2026-12-01T14:00:00Z","vault":"v","version":5})"
    "\n"
    R"({"action":"approve","actor":"bob","detail":{"revision":10},"env":"prod","hash":"h","host":"x","parents":[],"request":"7f3a9c0e12ab34cd","result":"ok","secret":"prod/stripe-key","sig":"s","ts":"2026-12-01T14:05:00Z","vault":"v","version":5})"
    "\n";
  const std::string summary = summarize_journal(rotation);
  CHECK(summary
        == "2026-12-01T14:00:00Z prod/stripe-key: v4 → v5 by alice (rotation)\n"
           "2026-12-01T14:05:00Z request 7f3a9c0e… on prod/stripe-key approved by bob\n");
}

TEST_CASE("summary: what cannot be read is one line that never quotes it")
{
  const std::string garbage = "{\"format\": \"escrow-vault/1\", SECRETVALUE";
  const std::string vault = summarize(garbage);
  CHECK(vault.find("SECRETVALUE") == std::string::npos);
  CHECK(lines_of(vault).size() == 1);
  const std::string journal = summarize_journal("{\"action\":\"reveal\",\"value\":\"hunter2\"}\nnot json hunter2\n");
  CHECK(journal == "line 1: not a journal entry (37 bytes)\nline 2: not a journal entry (16 bytes)\n");
  CHECK(summarize("\x01\x02 binary hunter2") == "(not an escrow vault or journal: 17 bytes)\n");
}
