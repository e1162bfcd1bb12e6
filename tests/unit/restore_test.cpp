// escrow audit restore (lib/escrow/audit/restore.hpp, vault-2-replay.md §6): lost journal entries
// put back from a journal file, in place, exactly as they were; every refusal leaves the vault and
// this machine's cache byte-identical.
#include "vault_session_support.hpp"

#include <escrow/audit/restore.hpp>
#include <escrow/error.hpp>
#include <escrow/lock.hpp>

#include <algorithm>

using namespace v2_test;

namespace {

template <typename Body>
void require_error(Body&& body, ErrorKind kind, const std::string& text)
{
  try {
    body();
    FAIL("no error; expected: " << text);
  } catch (const Error& error) {
    INFO(error.what());
    CHECK(error.kind() == kind);
    CHECK(std::string(error.what()).find(text) != std::string::npos);
  }
}

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& lines)
{
  std::string out;
  for (const std::string& l : lines) {
    out += l + '\n';
  }
  return out;
}

// Without lines [first, first + count) (0-based).
std::string without(const std::string& text, std::size_t first, std::size_t count = 1)
{
  std::vector<std::string> lines = lines_of(text);
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(first), lines.begin() + static_cast<std::ptrdiff_t>(first + count));
  return join(lines);
}

// The three files of the vault (the lock file may appear: it is no part of the vault).
std::vector<std::string> vault_files(const Fixture& f)
{
  return {slurp(f.head()), slurp(f.journal()), slurp(f.keys())};
}

// A different signature on line `n` (0-based); its hash does not cover it.
std::string forge_signature(const std::string& text, std::size_t n)
{
  std::vector<std::string> lines = lines_of(text);
  const std::string sig = canonical::parse(lines[n], "line")["sig"].get<std::string>();
  std::string forged = sig;
  forged[0] = sig[0] == 'B' ? 'C' : 'B';
  lines[n].replace(lines[n].find(sig), sig.size(), forged);
  return join(lines);
}

// alice (admin *), bob (approver, prod), then a secret and reads: 7 lines, each the child of the
// one before. This machine verified all of them.
std::string make_history(Fixture& f)
{
  {
    VaultSession s = f.init();
    s.submit(member(f, "bob", {Role::approver}, {"prod"}));
    const SecretAdd add = secret_add(f, s.vault_id(), "prod/db", "restore-unit-1");
    s.submit(add.args, add.material);
  }
  for (const char* who : {"bob", "alice", "bob", "alice"}) {
    VaultSession s = VaultSession::open(f.options(who), Access::read);
    s.record(EventKind::reveal, Result::ok, Json{{"secret", "prod/db"}});
  }
  (void)VaultSession::open(f.options(""), Access::read);
  const std::string full = slurp(f.journal());
  REQUIRE(line_count(full) == 7);
  return full;
}

} // namespace

TEST_CASE("audit restore: a line cut from the middle is put back in place, from a file", "[audit][restore]")
{
  Fixture f;
  const std::string full = make_history(f);
  spit(f.root / "copy.journal", full);
  spit(f.journal(), without(full, 2)); // the secret-add: every later line depends on it
  require_error([&] { VaultSession::open(f.options(""), Access::read); }, ErrorKind::integrity,
                "1 entry this machine verified is missing");
  const audit::Restored done = audit::restore_entries(f.options(""), (f.root / "copy.journal").string());
  REQUIRE(done.restored.size() == 1);
  CHECK(done.restored[0].action == "secret-add");
  CHECK(done.source.kind == audit::RestoreSource::Kind::file);
  CHECK(slurp(f.journal()) == full);
  // Every command works again, from this machine's cache.
  VaultSession s = VaultSession::open(f.options("bob"), Access::read);
  CHECK(s.state().secret("prod/db") != nullptr);
}

TEST_CASE("audit restore: several cuts, a shuffled source with foreign lines: the order follows the parents",
          "[audit][restore]")
{
  Fixture f;
  const std::string full = make_history(f);
  // Another vault's journal: its lines are ignored (not missing entries).
  Fixture other;
  const std::string foreign = make_history(other);
  std::vector<std::string> source = lines_of(full);
  std::reverse(source.begin(), source.end());
  for (const std::string& l : lines_of(foreign)) {
    source.push_back(l);
  }
  source.emplace_back("not json at all");
  source.push_back(lines_of(full)[2] + " "); // not canonical: not an entry
  spit(f.root / "shuffled.journal", join(source));

  SECTION("two lines cut from the middle")
  {
    spit(f.journal(), without(without(full, 4), 1));
  }
  SECTION("a truncated tail")
  {
    spit(f.journal(), without(full, 4, 3));
  }
  SECTION("an older copy of the journal: only its first two lines")
  {
    spit(f.journal(), without(full, 2, 5));
  }
  const audit::Restored done = audit::restore_entries(f.options(""), (f.root / "shuffled.journal").string());
  CHECK(slurp(f.journal()) == full);
  CHECK(!done.restored.empty());
  CHECK(VaultSession::open(f.options(""), Access::read).state().secret("prod/db") != nullptr);
}

TEST_CASE("audit restore: refusals leave the vault and this machine's cache byte-identical", "[audit][restore]")
{
  Fixture f;
  const std::string full = make_history(f);
  spit(f.root / "full.journal", full);
  const std::string from = (f.root / "full.journal").string();

  SECTION("nothing is missing")
  {
    const auto files = vault_files(f);
    const auto cache = f.cache_files();
    require_error([&] { audit::restore_entries(f.options(""), from); }, ErrorKind::usage,
                  "no entry this machine verified is missing: nothing to restore");
    CHECK(vault_files(f) == files);
    CHECK(f.cache_files() == cache);
  }
  spit(f.journal(), without(full, 3));
  const auto files = vault_files(f);
  const auto cache = f.cache_files();
  SECTION("no --from outside a git work tree")
  {
    require_error([&] { audit::restore_entries(f.options(""), std::nullopt); }, ErrorKind::usage,
                  "not in a git work tree: --from is needed");
  }
  SECTION("a file that is not there")
  {
    require_error([&] { audit::restore_entries(f.options(""), (f.root / "nope.journal").string()); },
                  ErrorKind::usage, "nope.journal: no such file");
  }
  SECTION("a source without the missing entry")
  {
    spit(f.root / "old.journal", without(full, 3, 4));
    require_error([&] { audit::restore_entries(f.options(""), (f.root / "old.journal").string()); },
                  ErrorKind::integrity, "no missing entry is in " + (f.root / "old.journal").string());
  }
  SECTION("a restored line with a forged signature")
  {
    spit(f.root / "forged.journal", forge_signature(full, 3));
    require_error([&] { audit::restore_entries(f.options(""), (f.root / "forged.journal").string()); },
                  ErrorKind::integrity, "has a signature that does not verify with bob's key: it is not restored");
  }
  SECTION("the vault lock is held")
  {
    const FileLock writer(VaultPaths::of(f.head()).lock, std::chrono::milliseconds(100));
    require_error([&] { audit::restore_entries(f.options(""), from); }, ErrorKind::io, "lock");
  }
  CHECK(vault_files(f) == files);
  CHECK(f.cache_files() == cache);
}

TEST_CASE("audit restore: when the proof fails the journal is put back byte-identical", "[audit][restore]")
{
  Fixture f;
  const std::string full = make_history(f);
  spit(f.root / "full.journal", full);
  // Cut line 4, and another line's signature forged (a damage the restore does not repair).
  spit(f.journal(), forge_signature(without(full, 3), 4));
  const auto files = vault_files(f);
  const auto cache = f.cache_files();
  require_error([&] { audit::restore_entries(f.options(""), (f.root / "full.journal").string()); },
                ErrorKind::integrity, "in the journal as restored; audit restore put " + f.journal().string() + " back as it was)");
  CHECK(vault_files(f) == files);
  CHECK(f.cache_files() == cache);
}

TEST_CASE("audit restore: a partial restore keeps what it restored and names what remains", "[audit][restore]")
{
  Fixture f;
  const std::string full = make_history(f);
  spit(f.journal(), without(full, 3, 4));
  const std::string partial = without(full, 6);
  spit(f.root / "partial.journal", partial);
  require_error([&] { audit::restore_entries(f.options(""), (f.root / "partial.journal").string()); },
                ErrorKind::integrity, "restored 3 entries from " + (f.root / "partial.journal").string()
                                        + ", but 1 entry this machine verified is still missing");
  CHECK(slurp(f.journal()) == partial);
  spit(f.root / "full.journal", full);
  const audit::Restored rest = audit::restore_entries(f.options(""), (f.root / "full.journal").string());
  CHECK(rest.restored.size() == 1);
  CHECK(slurp(f.journal()) == full);
}
