// atomic_file: replace-by-rename, no commit without commit(), bounded reads, durable appends,
// O_EXCL creation, and the cleanup of temp files a killed writer left behind.
#include "foundation_support.hpp"

#include <escrow/atomic_file.hpp>
#include <escrow/util/file.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace escrow;
using escrow::test::require_error;
using escrow::test::slurp;
using escrow::test::spit;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> names_in(const fs::path& folder)
{
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

unsigned mode_of(const fs::path& path)
{
  struct stat info{};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 0777;
}

} // namespace

TEST_CASE("atomic_file: commit replaces the target, no commit leaves it untouched", "[atomic_file]")
{
  escrow::test::TempDir dir;
  const fs::path target = dir / "escrow.vault";
  spit(target, "old");
  {
    AtomicFile file(target);
    file.write("new ");
    file.write("content");
    CHECK(slurp(target) == "old"); // nothing visible before commit
    CHECK(names_in(dir.path()).size() == 2);
    file.commit();
  }
  CHECK(slurp(target) == "new content");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"escrow.vault"});
  CHECK(mode_of(target) == 0600);
  {
    AtomicFile file(target, 0644);
    file.write("abandoned");
  } // destroyed without commit: e.g. an exception on the way
  CHECK(slurp(target) == "new content");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"escrow.vault"});
  {
    AtomicFile file(target, 0644);
    file.write("");
    file.commit();
  }
  CHECK(slurp(target).empty());
  CHECK(mode_of(target) == 0644);
}

TEST_CASE("atomic_file: a missing folder is an I/O error naming the file", "[atomic_file]")
{
  escrow::test::TempDir dir;
  const std::string message = require_error(ErrorKind::io, [&] { AtomicFile file(dir / "missing/escrow.vault"); });
  CHECK_THAT(message, Catch::Contains("missing/escrow.vault"));
}

TEST_CASE("atomic_file: read_file is bounded and names the file", "[atomic_file]")
{
  escrow::test::TempDir dir;
  spit(dir / "f", "0123456789");
  CHECK(read_file(dir / "f", 10) == "0123456789");
  CHECK(read_file(dir / "f", 100) == "0123456789");
  const std::string big = require_error(ErrorKind::integrity, [&] { (void)read_file(dir / "f", 9); });
  CHECK_THAT(big, Catch::Contains("/f: larger than the limit of 9 bytes"));
  CHECK_THAT(require_error(ErrorKind::io, [&] { (void)read_file(dir / "nope", 10); }), Catch::Contains("nope: cannot open"));
  CHECK_THAT(require_error(ErrorKind::io, [&] { (void)read_file(dir.path(), 10); }), Catch::Contains("not a regular file"));
  spit(dir / "empty", "");
  CHECK(read_file(dir / "empty", 0).empty());
}

TEST_CASE("atomic_file: append_durably creates 0644 and appends", "[atomic_file]")
{
  escrow::test::TempDir dir;
  append_durably(dir / "j", "a\n");
  append_durably(dir / "j", "b\n");
  CHECK(slurp(dir / "j") == "a\nb\n");
  CHECK(mode_of(dir / "j") == 0644);
  require_error(ErrorKind::io, [&] { append_durably(dir / "no/j", "x"); });
}

TEST_CASE("atomic_file: create_exclusive never overwrites", "[atomic_file]")
{
  escrow::test::TempDir dir;
  create_exclusive(dir / "id.json", "keys", 0600);
  CHECK(slurp(dir / "id.json") == "keys");
  CHECK(mode_of(dir / "id.json") == 0600);
  const std::string message = require_error(ErrorKind::usage, [&] { create_exclusive(dir / "id.json", "other"); });
  CHECK_THAT(message, Catch::EndsWith("id.json: already exists; refusing to overwrite"));
  CHECK(slurp(dir / "id.json") == "keys");
  require_error(ErrorKind::io, [&] { create_exclusive(dir / "no/id.json", "x"); });
}

TEST_CASE("atomic_file: cleanup_stale_temps removes only this target's leftovers", "[atomic_file]")
{
  escrow::test::TempDir dir;
  spit(dir / "escrow.vault", "v");
  spit(dir / ".escrow.vault.tmp.123.abcdef", "partial");
  spit(dir / ".escrow.vault.tmp.9.00", "partial");
  spit(dir / ".other.vault.tmp.1.2", "someone else's");
  spit(dir / "escrow.vault.tmp", "not a temp of ours");
  cleanup_stale_temps(dir / "escrow.vault");
  CHECK(names_in(dir.path()) == std::vector<std::string>{".other.vault.tmp.1.2", "escrow.vault", "escrow.vault.tmp"});
  cleanup_stale_temps(dir / "missing-folder/escrow.vault"); // no throw
}

TEST_CASE("atomic_file: write(parts) writes them in order, past the writev batch limit", "[atomic_file]")
{
  escrow::test::TempDir dir;
  const fs::path target = dir / "escrow.keys";
  std::vector<std::string> owned;
  std::string expected;
  for (int i = 0; i < 2500; ++i) { // more than IOV_MAX (1024) parts, some empty
    owned.push_back(i % 7 == 0 ? std::string() : fmt::format("part {};", i));
    expected += owned.back();
  }
  std::vector<std::string_view> parts(owned.begin(), owned.end());
  AtomicFile file(target);
  file.write("head:");
  file.write(parts);
  file.write(std::span<const std::string_view>{});
  file.write(":tail");
  file.commit();
  CHECK(slurp(target) == "head:" + expected + ":tail");
}

TEST_CASE("atomic_file: copy appends a range of another file, short when it ends first", "[atomic_file]")
{
  escrow::test::TempDir dir;
  std::string source_text;
  for (int i = 0; i < 20000; ++i) {
    source_text += fmt::format("{:05}\n", i);
  }
  const auto check_from = [&](const fs::path& source) {
    spit(source, source_text);
    const util::FileHandle from = util::open_regular(source, O_RDONLY, util::Links::refuse);
    const fs::path target = dir / "state.snap";
    AtomicFile file(target);
    file.write("[");
    CHECK(file.copy(from, source, 6, 60000) == 60000);
    file.write("|");
    CHECK(file.copy(from, source, 0, 0) == 0);
    // Past its end: what there is, then nothing.
    CHECK(file.copy(from, source, source_text.size() - 12, 100) == 12);
    CHECK(file.copy(from, source, source_text.size() + 5, 10) == 0);
    file.write("]");
    file.commit();
    CHECK(slurp(target) == "[" + source_text.substr(6, 60000) + "|" + source_text.substr(source_text.size() - 12) + "]");
  };
  SECTION("same filesystem (the kernel copies)") { check_from(dir / "previous.snap"); }
  SECTION("another filesystem (copied here where the kernel refuses)")
  {
    const fs::path shm = "/dev/shm";
    if (!fs::is_directory(shm)) {
      SUCCEED("no /dev/shm here");
      return;
    }
    const fs::path source = shm / fmt::format("escrow-atomic-copy-{}", ::getpid());
    check_from(source);
    fs::remove(source);
  }
}
