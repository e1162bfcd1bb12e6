// The git merge driver of escrow-vault/2 (lib/escrow/history/merge_files.hpp, git::merge_driver):
// the journal union replayed (commuting sides, reads, the conflict table, forgeries on either
// side, criss-cross, idempotence, ours first), the keys set merge, the head union, the format
// dispatch, the driver on files (atomic %A, nothing written on a conflict or an error), and the
// driver run by REAL git (`git merge` in a temporary repository, the driver configured to the
// built escrow binary).
#include <test_paths.hpp>

#include "replay_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/error.hpp>
#include <escrow/git/team.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/history/merge_files.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace replay_test;
namespace fs = std::filesystem;

namespace {

const std::string k_req = "0123456789abcdef";
constexpr std::string_view k_name = "escrow.journal";

struct Fork
{
  World base;
  World a;
  World b;

  explicit Fork(World w) : base(w), a(w), b(std::move(w)) { b.now += 30; }

  std::string o() const { return journal_of(base.log); }
  std::string ours() const { return journal_of(a.log); }
  std::string theirs() const { return journal_of(b.log); }
  MergeOutcome merged(bool swapped = false) const
  {
    return swapped ? merge_texts(o(), theirs(), ours(), k_name) : merge_texts(o(), ours(), theirs(), k_name);
  }
};

World requested_team()
{
  World w = team();
  w.run("dave", RequestArgs{k_db, k_req, 3600}, {}, std::string("debugging"));
  return w;
}

SecretSetArgs purpose(std::string text)
{
  SecretSetArgs s;
  s.secret = k_db;
  s.purpose = std::move(text);
  return s;
}

SecretAddArgs api_args()
{
  SecretAddArgs s = db_args("prod/api", "00000000000000d4");
  s.custodians = {};
  s.threshold = 0;
  return s;
}

std::vector<KeyLine> api_lines()
{
  return {rk("prod/api", 1, "erin"), rk("prod/api", 1, "olive"), vline("prod/api", "00000000000000d4")};
}

std::string all(const std::vector<std::string>& lines)
{
  std::string out;
  for (const std::string& l : lines) {
    out += l + "\n";
  }
  return out;
}

bool mentions(const MergeOutcome& m, const Entry& e)
{
  const std::string h = short_hash(e.hash);
  return std::any_of(m.conflicts.begin(), m.conflicts.end(),
                     [&h](const std::string& line) { return line.find(h) != std::string::npos; });
}

// A conflict: both orders list it (nothing merged), every line one line, and together the lines
// name x (ours) and y (theirs).
void require_conflict(const Fork& f, const Entry& x, const Entry& y)
{
  for (const bool swapped : {false, true}) {
    const MergeOutcome m = f.merged(swapped);
    INFO((swapped ? "theirs first:\n" : "ours first:\n") << all(m.conflicts));
    CHECK(m.format == MergedFormat::journal);
    REQUIRE_FALSE(m.ok());
    CHECK(m.text.empty());
    CHECK_FALSE(m.changed);
    for (const std::string& line : m.conflicts) {
      CHECK(line.find('\n') == std::string::npos);
    }
    CHECK(mentions(m, x));
    CHECK(mentions(m, y));
  }
}

ErrorKind error_of(const std::function<void()>& run, std::string* message = nullptr)
{
  try {
    run();
  } catch (const Error& e) {
    if (message != nullptr) {
      *message = e.what();
    }
    return e.kind();
  }
  FAIL("no error");
  return ErrorKind::failed;
}

SealedLine key_line(const std::string& member, std::uint8_t fill)
{
  return SealedLine::make(LineName::reader_key(k_db, 1, member), Bytes(80, fill));
}

std::string keys_text(const VaultId& id, const std::vector<SealedLine>& lines)
{
  return serialize_keys(id, lines);
}

std::string head_text(const VaultId& id, std::vector<Hash> heads, std::uint64_t entries)
{
  HeadFile h;
  h.vault_id = id;
  h.heads = std::move(heads);
  h.entries = entries;
  return serialize_head_file(h);
}

std::string slurp(const fs::path& path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void spit(const fs::path& path, std::string_view text)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

struct TempDir
{
  fs::path path;
  TempDir()
  {
    std::string templ = (fs::temp_directory_path() / "escrow-merge-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir()
  {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

} // namespace

TEST_CASE("merge files: the format of each file is found from its first bytes", "[merge][driver]")
{
  const World w = team();
  const VaultId id = w.state.vault_id;
  CHECK(detect_format(journal_of(w.log)) == MergedFormat::journal);
  CHECK(detect_format(keys_text(id, {key_line("olive", 1)})) == MergedFormat::keys);
  CHECK(detect_format(head_text(id, {w.heads[0]}, 3)) == MergedFormat::head);
  CHECK(detect_format("{\n  \"format\": \"escrow-vault/1\",\n") == MergedFormat::other);
  CHECK(detect_format("") == MergedFormat::other);
  CHECK(detect_format("{\"detail\":\"\\\"format\\\":\\\"escrow-journal/2\\\"\"}\n") == MergedFormat::other);
}

TEST_CASE("merge files: two sides adding different things merge, ours first", "[merge][driver]")
{
  Fork f(team());
  f.a.run("olive", api_args(), api_lines(), std::string("api key"));
  f.b.add_member("alice", "quinn", {Role::requester}, {"prod"});
  ConnectorAddArgs c;
  c.name = "vendor";
  c.env = "prod";
  c.kind = ConnectorKind::manual;
  c.instructions = "tell the vendor";
  f.b.run("alice", c);

  const MergeOutcome m = f.merged();
  INFO(all(m.conflicts));
  REQUIRE(m.ok());
  CHECK(m.changed);
  CHECK(m.warnings.empty());
  // ours' bytes, then theirs' new entries in theirs' order.
  const std::vector<std::string> b_lines = lines_of(f.theirs());
  std::string expected = f.ours();
  for (std::size_t i = f.base.log.size(); i < b_lines.size(); ++i) {
    expected += b_lines[i] + "\n";
  }
  CHECK(m.text == expected);
  const ReplayResult r = replay(m.text);
  REQUIRE(r.has_conflicts() == false);
  CHECK(r.heads == std::vector<Hash>{f.a.heads[0], f.b.heads[0]});
  CHECK(r.state.secret("prod/api") != nullptr);
  CHECK(r.state.member("quinn") != nullptr);
  CHECK(r.state.connector("vendor") != nullptr);

  // The other clone merges the other way round: its own bytes first, the same state.
  const MergeOutcome n = f.merged(true);
  REQUIRE(n.ok());
  CHECK(n.text.substr(0, f.theirs().size()) == f.theirs());
  const ReplayResult s = replay(n.text);
  CHECK(s.heads == std::vector<Hash>{f.b.heads[0], f.a.heads[0]});
  CHECK(s.state.digest() == r.state.digest());

  // Idempotent: merging the result with either side again changes nothing.
  const MergeOutcome again = merge_texts(f.o(), m.text, f.theirs(), k_name);
  REQUIRE(again.ok());
  CHECK_FALSE(again.changed);
  CHECK(again.text == m.text);
  const MergeOutcome again2 = merge_texts(f.o(), m.text, f.ours(), k_name);
  CHECK_FALSE(again2.changed);
}

TEST_CASE("merge files: reads on both sides merge", "[merge][driver]")
{
  Fork f(team());
  const Entry ra = event(f.a, "olive", EventKind::reveal, f.a.heads);
  f.a.log.push_back(ra);
  f.a.heads = {ra.hash};
  const Entry rb = event(f.b, "erin", EventKind::reveal, f.b.heads);
  f.b.log.push_back(rb);
  f.b.heads = {rb.hash};
  const MergeOutcome m = f.merged();
  REQUIRE(m.ok());
  CHECK(lines_of(m.text).size() == f.base.log.size() + 2);
  CHECK(replay(m.text).ok());
}

TEST_CASE("merge files: nothing new, fast-forward, merging X with X", "[merge][driver]")
{
  Fork f(team());
  f.b.add_member("alice", "quinn", {Role::requester}, {"prod"});
  SECTION("X with X")
  {
    const MergeOutcome m = merge_texts(f.o(), f.theirs(), f.theirs(), k_name);
    REQUIRE(m.ok());
    CHECK_FALSE(m.changed);
    CHECK(m.text == f.theirs());
  }
  SECTION("theirs is behind ours")
  {
    const MergeOutcome m = merge_texts(f.o(), f.theirs(), f.o(), k_name);
    REQUIRE(m.ok());
    CHECK_FALSE(m.changed);
  }
  SECTION("ours is behind theirs: theirs' bytes")
  {
    const MergeOutcome m = merge_texts(f.o(), f.o(), f.theirs(), k_name);
    REQUIRE(m.ok());
    CHECK(m.changed);
    CHECK(m.text == f.theirs());
  }
  SECTION("an empty base (both sides created the file): the journals still say what is common")
  {
    f.a.add_member("alice", "rose", {Role::requester}, {"prod"});
    const MergeOutcome m = merge_texts("", f.ours(), f.theirs(), k_name);
    REQUIRE(m.ok());
    CHECK(replay(m.text).ok());
  }
}

TEST_CASE("merge files: the conflict table is listed, nothing merged", "[merge][driver]")
{
  SECTION("the same secret rotated on both sides")
  {
    Fork f(team());
    const Entry x = f.a.run("erin", RotateStartArgs{{next_version(f.a, k_v2)}},
                            {vline(k_db, k_v2), sh(k_db, k_v2, "bob"), sh(k_db, k_v2, "carol")});
    const Entry y = f.b.run("erin", RotateStartArgs{{next_version(f.b, k_v3)}},
                            {vline(k_db, k_v3), sh(k_db, k_v3, "bob"), sh(k_db, k_v3, "carol")});
    require_conflict(f, x, y);
  }
  SECTION("a member removed on one side, shared to on the other")
  {
    Fork f(team());
    const Entry x = f.a.run("alice", MemberRemoveArgs{"dave"});
    const Entry y = f.b.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
    require_conflict(f, x, y);
  }
  SECTION("approved on one side, denied on the other")
  {
    Fork f(requested_team());
    const Entry x = f.a.run("carol", approval_of_dave(k_req), {ap(k_db, k_v1, k_req, "carol")});
    const Entry y = f.b.run("bob", DenyArgs{k_db, k_req}, {}, std::string("not on call"));
    require_conflict(f, x, y);
  }
  SECTION("the same field set on both sides: one line naming both operations")
  {
    Fork f(team());
    const Entry x = f.a.run("olive", purpose("ours"));
    const Entry y = f.b.run("olive", purpose("theirs"));
    require_conflict(f, x, y);
    const MergeOutcome m = f.merged();
    const std::string both = short_hash(x.hash);
    CHECK(std::any_of(m.conflicts.begin(), m.conflicts.end(), [&](const std::string& line) {
      return line.find(short_hash(x.hash)) != std::string::npos && line.find(short_hash(y.hash)) != std::string::npos
             && line.find("secret-set by olive, ours line") != std::string::npos
             && line.find("secret-set by olive, theirs line") != std::string::npos;
    }));
  }
}

TEST_CASE("merge files: a forged or altered entry on either side is refused", "[merge][driver]")
{
  Fork f(team());
  f.a.add_member("alice", "quinn", {Role::requester}, {"prod"});
  f.b.add_member("alice", "rose", {Role::requester}, {"prod"});
  World evil = f.b;
  const Entry forged = evil.entry("dave", MemberRemoveArgs{"carol"}); // dave is no admin
  evil.log.push_back(forged);
  std::string message;
  SECTION("an unauthorised operation on theirs")
  {
    CHECK(error_of([&] { (void)merge_texts(f.o(), f.ours(), journal_of(evil.log), k_name); }, &message)
          == ErrorKind::integrity);
    CHECK(message.find("escrow.journal (theirs): line " + std::to_string(evil.log.size())) != std::string::npos);
    CHECK(message.find("member-remove by dave") != std::string::npos);
  }
  SECTION("an unauthorised operation on ours")
  {
    CHECK(error_of([&] { (void)merge_texts(f.o(), journal_of(evil.log), f.ours(), k_name); }, &message)
          == ErrorKind::integrity);
    CHECK(message.find("escrow.journal (ours): line " + std::to_string(evil.log.size())) != std::string::npos);
  }
  SECTION("a line altered on theirs (its hash no longer matches)")
  {
    std::vector<std::string> lines = lines_of(f.theirs());
    const std::size_t at = lines.back().find("\"host\":\"test\"");
    REQUIRE(at != std::string::npos);
    lines.back().replace(at, 13, "\"host\":\"evil\"");
    CHECK(error_of([&] { (void)merge_texts(f.o(), f.ours(), join(lines), k_name); }, &message) == ErrorKind::integrity);
    CHECK(message.find("escrow.journal (theirs): line " + std::to_string(lines.size())) != std::string::npos);
  }
  SECTION("an entry of theirs deleted (a parent no line holds)")
  {
    std::vector<std::string> lines = lines_of(f.theirs());
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(lines.size()) - 1);
    World more = f.b;
    more.add_member("alice", "sam", {Role::requester}, {"prod"});
    lines.push_back(lines_of(journal_of(more.log)).back());
    CHECK(error_of([&] { (void)merge_texts(f.o(), f.ours(), join(lines), k_name); }) == ErrorKind::integrity);
  }
  SECTION("a torn last line")
  {
    std::string torn = f.theirs();
    torn.pop_back();
    CHECK(error_of([&] { (void)merge_texts(f.o(), f.ours(), torn, k_name); }, &message) == ErrorKind::integrity);
    CHECK(message.find("escrow.journal (theirs)") != std::string::npos);
  }
  SECTION("another vault's journal")
  {
    World other;
    other.genesis("zed");
    CHECK(error_of([&] { (void)merge_texts(f.o(), f.ours(), journal_of(other.log), k_name); }) == ErrorKind::integrity);
  }
}

TEST_CASE("merge files: criss-cross merges", "[merge][driver]")
{
  World a = team();
  World b = a;
  a.add_member("alice", "quinn", {Role::requester}, {"prod"});
  b.now += 30;
  b.add_member("alice", "rose", {Role::requester}, {"prod"});
  World a2 = a;
  World b2 = b;
  join_into(a2, b, "alice");
  join_into(b2, a, "alice");
  a2.add_member("alice", "sam", {Role::requester}, {"prod"});
  b2.run("olive", purpose("orders db (primary)"));
  const MergeOutcome m = merge_texts(journal_of(a.log), journal_of(a2.log), journal_of(b2.log), k_name);
  INFO(all(m.conflicts));
  REQUIRE(m.ok());
  const ReplayResult r = replay(m.text);
  REQUIRE(r.ok());
  CHECK(r.heads.size() == 2);
  for (const std::string name : {"quinn", "rose", "sam"}) {
    CHECK(r.state.member(name) != nullptr);
  }
  CHECK(r.state.secret(k_db)->purpose == "orders db (primary)");
}

TEST_CASE("merge files: formats are checked across the three versions", "[merge][driver]")
{
  Fork f(team());
  const VaultId id = f.base.state.vault_id;
  const std::string keys = keys_text(id, {key_line("olive", 1)});
  std::string message;
  CHECK(error_of([&] { (void)merge_texts(f.o(), f.ours(), keys, k_name); }, &message) == ErrorKind::integrity);
  CHECK(message == "escrow.journal (theirs): escrow-keys/2 where ours is escrow-journal/2; nothing merged");
  CHECK(error_of([&] { (void)merge_texts(keys, f.ours(), f.theirs(), k_name); }, &message) == ErrorKind::integrity);
  CHECK(message.find("escrow.journal (base)") == 0);
  CHECK(error_of([&] { (void)merge_texts(f.o(), "{\n  \"format\": \"escrow-vault/1\"\n}\n", f.theirs(), k_name); })
        == ErrorKind::integrity);
  // Three v1 files: not merged here (git::merge_driver says how).
  const MergeOutcome v1 = merge_texts("a", "b", "c", k_name);
  CHECK(v1.format == MergedFormat::other);
}

TEST_CASE("merge files: keys, a three-way set merge", "[merge][driver]")
{
  const VaultId id = team().state.vault_id;
  const SealedLine l1 = key_line("olive", 1);
  const SealedLine l2 = key_line("erin", 2);
  const SealedLine l3 = key_line("dave", 3);
  const std::string o = keys_text(id, {l1});
  SECTION("both sides add: the union")
  {
    const MergeOutcome m = merge_texts(o, keys_text(id, {l1, l2}), keys_text(id, {l1, l3}), "escrow.keys");
    REQUIRE(m.ok());
    CHECK(m.format == MergedFormat::keys);
    CHECK(m.text == keys_text(id, {l1, l2, l3}));
    CHECK(merge_texts(o, keys_text(id, {l1, l3}), keys_text(id, {l1, l2}), "escrow.keys").text == m.text);
  }
  SECTION("one side deletes, the other adds")
  {
    const MergeOutcome m = merge_texts(o, keys_text(id, {l2}), keys_text(id, {l1, l3}), "escrow.keys");
    CHECK(m.text == keys_text(id, {l2, l3}));
  }
  SECTION("X with X")
  {
    const MergeOutcome m = merge_texts(o, keys_text(id, {l1, l2}), keys_text(id, {l1, l2}), "escrow.keys");
    CHECK_FALSE(m.changed);
  }
  SECTION("one key with two contents (forged): refused")
  {
    std::string forged = keys_text(id, {l1, l3});
    const std::string b64 = canonical::b64(l3.raw);
    const std::size_t at = forged.find(b64);
    REQUIRE(at != std::string::npos);
    forged.replace(at, b64.size(), canonical::b64(Bytes(80, 9)));
    CHECK(error_of([&] { (void)merge_texts(o, keys_text(id, {l1, l3}), forged, "escrow.keys"); })
          == ErrorKind::integrity);
  }
  SECTION("another vault's keys")
  {
    VaultId other = id;
    other[0] ^= 1;
    CHECK(error_of([&] { (void)merge_texts(o, keys_text(id, {l1}), keys_text(other, {l1}), "escrow.keys"); })
          == ErrorKind::integrity);
  }
}

TEST_CASE("merge files: head, ours' heads then theirs'", "[merge][driver]")
{
  Fork f(team());
  f.a.add_member("alice", "quinn", {Role::requester}, {"prod"});
  f.b.add_member("alice", "rose", {Role::requester}, {"prod"});
  const VaultId id = f.base.state.vault_id;
  const std::string o = head_text(id, f.base.heads, f.base.log.size());
  const std::string a = head_text(id, f.a.heads, f.a.log.size());
  const std::string b = head_text(id, f.b.heads, f.b.log.size());
  const MergeOutcome m = merge_texts(o, a, b, "escrow.vault");
  REQUIRE(m.ok());
  CHECK(m.format == MergedFormat::head);
  const HeadFile h = parse_head_file(m.text, "merged");
  CHECK(h.heads == std::vector<Hash>{f.a.heads[0], f.b.heads[0]});
  CHECK_FALSE(merge_texts(o, a, a, "escrow.vault").changed);
  CHECK(merge_texts(o, b, a, "escrow.vault").text == head_text(id, {f.b.heads[0], f.a.heads[0]}, f.a.log.size()));
}

TEST_CASE("merge files: the driver on files writes ours only on success", "[merge][driver]")
{
  TempDir dir;
  const fs::path o = dir.path / "o";
  const fs::path a = dir.path / "a";
  const fs::path b = dir.path / "b";
  const git::DriverFiles files{o, a, b, "escrow.journal"};
  SECTION("a clean merge replaces ours")
  {
    Fork f(team());
    f.a.add_member("alice", "quinn", {Role::requester}, {"prod"});
    f.b.add_member("alice", "rose", {Role::requester}, {"prod"});
    spit(o, f.o());
    spit(a, f.ours());
    spit(b, f.theirs());
    const MergeOutcome m = git::merge_driver(files);
    REQUIRE(m.ok());
    CHECK(slurp(a) == m.text);
    CHECK(slurp(b) == f.theirs());
    CHECK(slurp(o) == f.o());
  }
  SECTION("a conflict writes nothing")
  {
    Fork f(team());
    f.a.run("olive", purpose("ours"));
    f.b.run("olive", purpose("theirs"));
    spit(o, f.o());
    spit(a, f.ours());
    spit(b, f.theirs());
    const MergeOutcome m = git::merge_driver(files);
    CHECK_FALSE(m.ok());
    CHECK(slurp(a) == f.ours());
    CHECK(slurp(b) == f.theirs());
  }
  SECTION("a forgery or a v1 file: an error, every file byte-identical")
  {
    Fork f(team());
    World evil = f.b;
    evil.log.push_back(evil.entry("dave", MemberRemoveArgs{"carol"}));
    spit(o, f.o());
    spit(a, f.ours());
    spit(b, journal_of(evil.log));
    CHECK(error_of([&] { (void)git::merge_driver(files); }) == ErrorKind::integrity);
    CHECK(slurp(a) == f.ours());
    spit(o, "base");
    spit(a, "ours");
    spit(b, "theirs");
    std::string message;
    CHECK(error_of([&] { (void)git::merge_driver(files); }, &message) == ErrorKind::failed);
    CHECK(message.find("escrow.journal: the merge driver merges escrow-vault/2 files") == 0);
    CHECK(slurp(a) == "ours");
    fs::remove(b);
    CHECK(error_of([&] { (void)git::merge_driver(files); }) == ErrorKind::io);
    CHECK(slurp(a) == "ours");
  }
}

namespace {

// Runs a shell command line in `dir` with a private git configuration; returns its exit status.
int sh_in(const fs::path& dir, const std::string& command)
{
  const std::string line = "cd '" + dir.string() + "' && HOME='" + dir.string()
                            + "' GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com "
                              "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com " + command
                            + " >>git.log 2>&1";
  const int status = std::system(line.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

struct Vault3
{
  std::string head, journal, keys;
};

Vault3 files_of(const World& w, const std::vector<SealedLine>& lines)
{
  return {head_text(w.state.vault_id, w.heads, w.log.size()), journal_of(w.log), keys_text(w.state.vault_id, lines)};
}

void write3(const fs::path& repo, const Vault3& v)
{
  spit(repo / "escrow.vault", v.head);
  spit(repo / "escrow.journal", v.journal);
  spit(repo / "escrow.keys", v.keys);
}

} // namespace

TEST_CASE("merge files: git merge runs the driver on the three files", "[merge][driver][git]")
{
  TempDir dir;
  const fs::path repo = dir.path / "repo";
  fs::create_directories(repo);
  REQUIRE(sh_in(repo, "git init -q -b main .") == 0);
  REQUIRE(sh_in(repo, std::string("git config merge.escrow.driver \"'") + ESCROW_BINARY + "' merge %O %A %B %P\"") == 0);
  REQUIRE(sh_in(repo, "git config merge.escrow.name 'escrow vault merge'") == 0);
  spit(repo / ".gitattributes",
       "/escrow.vault merge=escrow\n/escrow.journal merge=escrow\n/escrow.keys merge=escrow\n");
  spit(repo / ".gitignore", "git.log\n");

  Fork f(team());
  const SealedLine l1 = key_line("olive", 1);
  write3(repo, files_of(f.base, {l1}));
  REQUIRE(sh_in(repo, "git add -A && git commit -q -m base") == 0);
  REQUIRE(sh_in(repo, "git checkout -q -b theirs") == 0);

  SECTION("two sides adding different things: merged, both heads, keys united")
  {
    f.b.add_member("alice", "rose", {Role::requester}, {"prod"});
    const SealedLine l3 = key_line("dave", 3);
    write3(repo, files_of(f.b, {l1, l3}));
    REQUIRE(sh_in(repo, "git commit -q -am theirs && git checkout -q main") == 0);
    f.a.run("olive", api_args(), api_lines(), std::string("api key"));
    const SealedLine l2 = key_line("erin", 2);
    write3(repo, files_of(f.a, {l1, l2}));
    REQUIRE(sh_in(repo, "git commit -q -am ours") == 0);

    INFO(slurp(repo / "git.log"));
    REQUIRE(sh_in(repo, "git merge -q --no-edit theirs") == 0);
    const std::string journal = slurp(repo / "escrow.journal");
    CHECK(journal == merge_texts(f.o(), f.ours(), f.theirs(), k_name).text);
    const ReplayResult r = replay(journal);
    REQUIRE(r.ok());
    CHECK(r.state.member("rose") != nullptr);
    CHECK(r.state.secret("prod/api") != nullptr);
    CHECK(parse_head_file(slurp(repo / "escrow.vault"), "head").heads == std::vector<Hash>{f.a.heads[0], f.b.heads[0]});
    CHECK(slurp(repo / "escrow.keys") == keys_text(f.base.state.vault_id, {l1, l2, l3}));
    CHECK(slurp(repo / "escrow.journal").find("<<<<<<<") == std::string::npos);
  }
  SECTION("a conflict: git leaves the journal unmerged holding ours, no markers")
  {
    f.b.run("olive", purpose("theirs"));
    write3(repo, files_of(f.b, {l1}));
    REQUIRE(sh_in(repo, "git commit -q -am theirs && git checkout -q main") == 0);
    f.a.run("olive", purpose("ours"));
    write3(repo, files_of(f.a, {l1}));
    REQUIRE(sh_in(repo, "git commit -q -am ours") == 0);

    CHECK(sh_in(repo, "git merge -q --no-edit theirs") != 0);
    CHECK(sh_in(repo, "git diff --name-only --diff-filter=U | tee unmerged.txt") == 0);
    const std::string unmerged = slurp(repo / "unmerged.txt");
    CHECK(unmerged.find("escrow.journal") != std::string::npos);
    CHECK(slurp(repo / "escrow.journal") == f.ours());
    const std::string log = slurp(repo / "git.log");
    INFO(log);
    CHECK(log.find("escrow: conflict: entry " + short_hash(f.a.heads[0])) != std::string::npos);
    CHECK(log.find("escrow: error: escrow.journal: ") != std::string::npos);
    CHECK(log.find(" between the two sides; nothing merged") != std::string::npos);
  }
}

TEST_CASE("merge files: escrow merge, exit statuses and one-line errors", "[merge][driver][cli]")
{
  TempDir dir;
  const fs::path o = dir.path / "o";
  const fs::path a = dir.path / "a";
  const fs::path b = dir.path / "b";
  const auto run = [&](const std::string& extra = "") {
    return sh_in(dir.path, std::string("'") + ESCROW_BINARY + "' merge o a b" + extra);
  };
  const auto err = [&] { return slurp(dir.path / "git.log"); };
  Fork f(team());
  SECTION("clean: exit 0, ours rewritten")
  {
    f.a.add_member("alice", "quinn", {Role::requester}, {"prod"});
    f.b.add_member("alice", "rose", {Role::requester}, {"prod"});
    spit(o, f.o());
    spit(a, f.ours());
    spit(b, f.theirs());
    CHECK(run(" escrow.journal") == 0);
    CHECK(slurp(a) == merge_texts(f.o(), f.ours(), f.theirs(), k_name).text);
    CHECK(err().empty());
  }
  SECTION("conflict: exit 1, the list, ours untouched")
  {
    f.a.run("olive", purpose("ours"));
    f.b.run("olive", purpose("theirs"));
    spit(o, f.o());
    spit(a, f.ours());
    spit(b, f.theirs());
    CHECK(run() == 1);
    CHECK(slurp(a) == f.ours());
    CHECK(err().find("escrow: conflict: entry ") == 0);
    CHECK(err().find("escrow: error: escrow.journal: ") != std::string::npos);
  }
  SECTION("a forgery: exit 3, one line, every file byte-identical")
  {
    World evil = f.b;
    evil.log.push_back(evil.entry("dave", MemberRemoveArgs{"carol"}));
    spit(o, f.o());
    spit(a, f.ours());
    spit(b, journal_of(evil.log));
    CHECK(run(" escrow.journal") == 3);
    CHECK(slurp(a) == f.ours());
    CHECK(slurp(b) == journal_of(evil.log));
    CHECK(err().find("escrow: error: escrow.journal (theirs): line ") == 0);
  }
  SECTION("mismatched formats: exit 3")
  {
    spit(o, f.o());
    spit(a, f.ours());
    spit(b, keys_text(f.base.state.vault_id, {key_line("olive", 1)}));
    CHECK(run() == 3);
    CHECK(slurp(a) == f.ours());
    CHECK(err().rfind("escrow: error: escrow.journal (theirs): escrow-keys/2 where ours is escrow-journal/2", 0) == 0);
  }
  SECTION("v1 files: exit 1, untouched")
  {
    spit(o, "{\n  \"format\": \"escrow-vault/1\"\n}\n");
    spit(a, "{\n  \"format\": \"escrow-vault/1\", \"a\": 1\n}\n");
    spit(b, "{\n  \"format\": \"escrow-vault/1\", \"b\": 1\n}\n");
    CHECK(run(" escrow.vault") == 1);
    CHECK(err().find("escrow: error: escrow.vault: the merge driver merges escrow-vault/2 files") == 0);
  }
}
