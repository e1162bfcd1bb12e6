// history/keys_file: the escrow-keys/2 layout (vault-2.md §3.3) — names, the canonical writer,
// the lazy bisecting reader (owned and mapped), rewrite, the 3-way set merge, and a rejection for
// every malformed line, each naming the file and the line.
#include "foundation_support.hpp"
#include "threads_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/history/keys_file.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sys/stat.h>

using namespace escrow;
using namespace escrow::history;
using escrow::test::require_error;

namespace {

const VaultId k_vault{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
const Vid k_vid = *Vid::from_hex("5f3a9c0e12ab34cd");

Bytes filled(std::size_t size, std::uint8_t seed)
{
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<std::uint8_t>(seed + i * 7);
  }
  return out;
}

// One line of each kind.
std::vector<SealedLine> sample_lines()
{
  return {
    SealedLine::make(LineName::reader_key("prod/db", 1, "alice"), filled(80, 1)),
    SealedLine::make(LineName::reader_key("prod/db", 1, "ci"), filled(80, 2)),
    SealedLine::make(LineName::value("prod/db", k_vid), filled(112 + 5, 3)),
    SealedLine::make(LineName::share("prod/db", k_vid, "bob"), filled(81, 4)),
    SealedLine::make(LineName::grant("prod/db", k_vid, "dave"), filled(80, 5)),
    SealedLine::make(LineName::approval("prod/db", k_vid, "0123456789abcdef", "bob"), filled(81, 6)),
  };
}

std::string layout_of(std::vector<std::pair<std::string, std::string>> lines)
{
  std::sort(lines.begin(), lines.end());
  std::string out = "{\n  \"format\": \"escrow-keys/2\",\n  \"lines\": {";
  if (lines.empty()) {
    out += "},\n";
  } else {
    out += "\n";
    for (std::size_t i = 0; i < lines.size(); ++i) {
      out += "    \"" + lines[i].first + "\": \"" + lines[i].second + "\"" + (i + 1 < lines.size() ? ",\n" : "\n");
    }
    out += "  },\n";
  }
  return out + "  \"vault_id\": \"" + canonical::b64(k_vault) + "\"\n}\n";
}

// The sample file's text, with the line at `index` (0-based, in key order) replaced by `line`
// (no newline) — or the whole text passed through `edit`.
std::string sample_text()
{
  return serialize_keys(k_vault, sample_lines());
}

std::vector<std::string> text_lines(const std::string& text)
{
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto newline = text.find('\n', start);
    out.push_back(text.substr(start, newline - start));
    start = newline + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& lines)
{
  std::string out;
  for (const auto& line : lines) {
    out += line + "\n";
  }
  return out;
}

} // namespace

TEST_CASE("key line names: every kind reads back; each field is checked", "[keys_file]")
{
  for (const SealedLine& line : sample_lines()) {
    const std::string logical = line.name.logical();
    const auto again = LineName::parse(logical);
    REQUIRE(again.has_value());
    CHECK(*again == line.name);
    CHECK(line.key() == logical + "#" + canonical::hex(ByteView(line.hash.data(), 12)));
  }
  CHECK(LineName::reader_key("prod/db", 12, "alice").logical() == "prod/db:g12:rk:alice");
  CHECK(LineName::parse("prod/db:g1000000000:rk:alice").has_value()); // the largest generation
  CHECK(LineName::value("prod/db", k_vid).logical() == "prod/db:5f3a9c0e12ab34cd:v");
  CHECK(LineName::approval("prod/a/b", k_vid, "ab12", "bob").logical() == "prod/a/b:5f3a9c0e12ab34cd:ap:ab12:bob");

  for (const char* bad : {"", "prod/db", "prod/db:g1:rk", "prod/db:g0:rk:alice", "prod/db:g01:rk:alice",
                          "prod/db:g1000000001:rk:alice", "prod/db:g10000000000:rk:alice", "prod/db:1:rk:alice", "prod/db:g1:rk:alice:x",
                          "prod/db:g1:rk:-alice", "prod/db:g1:rk:al ice", "prod/db:5F3A9C0E12AB34CD:v",
                          "prod/db:5f3a9c0e12ab34c:v", "prod/db:5f3a9c0e12ab34cd:v:x", "prod/db:5f3a9c0e12ab34cd:x",
                          "prod/db:5f3a9c0e12ab34cd:sh", "prod/db:5f3a9c0e12ab34cd:ap:bob",
                          "prod/db:5f3a9c0e12ab34cd:ap:ABC:bob", "prod/db:5f3a9c0e12ab34cd:gr:bob:x",
                          "Prod/db:g1:rk:alice", "prod/../db:g1:rk:alice", "prod:g1:rk:alice",
                          "prod/db:g1:rk:alice\n", "prod/d\"b:g1:rk:alice"}) {
    INFO(bad);
    CHECK_FALSE(LineName::parse(bad).has_value());
  }
  // A name the state could never hold is never written.
  require_error(ErrorKind::failed, [] { (void)LineName::reader_key("prod/db", 0, "alice").logical(); });
  require_error(ErrorKind::failed, [] { (void)LineName::grant("prod/db", k_vid, "a:b").logical(); });
  // Sizes: a line of the wrong size for its kind is never made.
  require_error(ErrorKind::failed, [] { (void)SealedLine::make(LineName::reader_key("prod/db", 1, "alice"), filled(81, 0)); });
  require_error(ErrorKind::failed, [] { (void)SealedLine::make(LineName::value("prod/db", k_vid), filled(111, 0)); });
  require_error(ErrorKind::failed,
                [] { (void)SealedLine::make(LineName::value("prod/db", k_vid), filled(112 + k_max_value_size + 1, 0)); });
}

TEST_CASE("the line hash is BLAKE2b-256 of the label, the logical name and the bytes", "[keys_file]")
{
  const Bytes raw = filled(80, 9);
  Bytes message(raw.size() + 32);
  const std::string logical = "prod/db:g1:rk:alice";
  message.assign(logical.begin(), logical.end());
  message.push_back(0);
  message.insert(message.end(), raw.begin(), raw.end());
  CHECK(line_hash(logical, raw) == crypto::hash("escrow/v2/key", message));
  CHECK(line_key(logical, line_hash(logical, raw)).size() == logical.size() + 25);
}

TEST_CASE("keys file layout: the writer's bytes, read back", "[keys_file]")
{
  SECTION("empty")
  {
    const std::string text = serialize_keys(k_vault, {});
    CHECK(text == layout_of({}));
    CHECK(text == "{\n  \"format\": \"escrow-keys/2\",\n  \"lines\": {},\n  \"vault_id\": \"AQIDBAUGBwgJCgsMDQ4PEA==\"\n}\n");
    const KeysFile file = KeysFile::parse(text, "escrow.keys");
    CHECK(file.empty());
    CHECK(file.vault_id() == k_vault);
    CHECK(file.verify_all() == 0);
    CHECK_FALSE(file.find("prod/db:g1:rk:alice#000000000000000000000000").has_value());
    CHECK(file.with_prefix("").empty());
  }
  SECTION("one of each kind")
  {
    const auto lines = sample_lines();
    std::vector<std::pair<std::string, std::string>> expected;
    for (const SealedLine& line : lines) {
      expected.emplace_back(line.key(), canonical::b64(line.raw));
    }
    const std::string text = serialize_keys(k_vault, lines);
    CHECK(text == layout_of(expected));
    const KeysFile file = KeysFile::parse(text, "escrow.keys");
    CHECK_FALSE(file.empty());
    CHECK(file.verify_all() == lines.size());
    std::vector<std::string> seen;
    file.for_each([&](std::string_view key, std::string_view) { seen.emplace_back(key); });
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(seen.size() == lines.size());
    for (const SealedLine& line : lines) {
      const auto found = file.find(line.key());
      REQUIRE(found.has_value());
      CHECK(found->raw == line.raw);
      CHECK(found->hash == line.hash);
      CHECK(found->name == line.name);
      CHECK(file.get(line.name, line.hash).raw == line.raw);
    }
    CHECK(file.with_prefix("prod/db:g1:rk:").size() == 2);
    CHECK(file.with_prefix("prod/db:5f3a9c0e12ab34cd:").size() == 4);
    CHECK(file.with_prefix("prod/db:").size() == lines.size());
    CHECK(file.with_prefix("prod/dc").empty());
    // The writer's order does not depend on the order it is given.
    auto reversed = lines;
    std::reverse(reversed.begin(), reversed.end());
    CHECK(serialize_keys(k_vault, reversed) == text);
  }
  SECTION("two lines under one key are never written")
  {
    const auto lines = sample_lines();
    const std::vector<SealedLine> twice{lines[0], lines[0]};
    require_error(ErrorKind::failed, [&] { (void)serialize_keys(k_vault, twice); });
  }
}

TEST_CASE("keys file lookups: missing and modified lines are told apart", "[keys_file]")
{
  const auto lines = sample_lines();
  const KeysFile file = KeysFile::parse(serialize_keys(k_vault, lines), "escrow.keys");
  // Absent: another holder; another vid.
  const auto missing = [&](const LineName& name, const LineHash& hash) {
    try {
      (void)file.get(name, hash);
      FAIL("no error");
    } catch (const KeyError& error) {
      CHECK(error.failure() == KeyFailure::missing);
      CHECK(error.kind() == ErrorKind::integrity);
      CHECK(std::string(error.what()).find("escrow.keys: the key line") == 0);
    }
  };
  missing(LineName::reader_key("prod/db", 1, "bob"), lines[0].hash);
  missing(LineName::reader_key("prod/db", 2, "alice"), lines[0].hash);
  LineHash other_hash = lines[0].hash;
  other_hash[0] ^= 1; // the key names other bytes
  missing(lines[0].name, other_hash);
  // The key's 12 bytes match, the rest of K does not: the bytes are not those the journal recorded.
  LineHash tail_differs = lines[0].hash;
  tail_differs[31] ^= 1;
  try {
    (void)file.get(lines[0].name, tail_differs);
    FAIL("no error");
  } catch (const KeyError& error) {
    CHECK(error.failure() == KeyFailure::modified);
    CHECK(error.kind() == ErrorKind::integrity);
    CHECK(std::string(error.what()).find("escrow.keys: line ") == 0);
  }
}

namespace {

// 2,000 secrets × 10 readers + a value line each: 22,000 lines, ~3.5 MB (the 10,000-secret figure
// is in bench/keys_lookup.cpp).
std::vector<SealedLine> large_lines()
{
  std::vector<SealedLine> lines;
  for (int s = 0; s < 2000; ++s) {
    const std::string secret = fmt::format("prod/service-{:04}", s);
    for (int r = 0; r < 10; ++r) {
      lines.push_back(SealedLine::make(LineName::reader_key(secret, 1 + static_cast<std::uint32_t>(s % 3),
                                                         fmt::format("member{}", r)),
                                    filled(80, static_cast<std::uint8_t>(s + r))));
    }
    Vid vid;
    vid.bytes[0] = static_cast<std::uint8_t>(s);
    vid.bytes[1] = static_cast<std::uint8_t>(s >> 8);
    lines.push_back(SealedLine::make(LineName::value(secret, vid), filled(112 + static_cast<std::size_t>(s % 300),
                                                                       static_cast<std::uint8_t>(s))));
  }
  return lines;
}

} // namespace

TEST_CASE("keys file bisection on a large mapped file", "[keys_file]")
{
  const std::vector<SealedLine> lines = large_lines();
  const std::string text = serialize_keys(k_vault, lines);
  escrow::test::TempDir dir;
  const auto path = dir.path() / "escrow.keys";
  escrow::test::spit(path, text);
  const KeysFile file = KeysFile::open(path);
  CHECK(file.what() == path.string());
  CHECK(file.bytes() == text);
  CHECK(file.verify_all() == lines.size());
  for (std::size_t i = 0; i < lines.size(); i += 37) {
    const auto found = file.find(lines[i].key());
    REQUIRE(found.has_value());
    CHECK(found->raw == lines[i].raw);
  }
  // The first and last lines, and keys before, between and after them.
  std::vector<std::string> keys;
  for (const auto& line : lines) {
    keys.push_back(line.key());
  }
  std::sort(keys.begin(), keys.end());
  CHECK(file.find(keys.front()).has_value());
  CHECK(file.find(keys.back()).has_value());
  CHECK_FALSE(file.find("a").has_value());
  CHECK_FALSE(file.find("zzz").has_value());
  CHECK_FALSE(file.find(keys[100] + "0").has_value());
  CHECK_FALSE(file.find(keys[100].substr(0, keys[100].size() - 1)).has_value());
  CHECK(file.with_prefix("prod/service-0042:g").size() == 10);

  SECTION("a damaged line far from the lookups: lazy reads still find theirs; verify_all names it")
  {
    auto damaged = text_lines(text);
    const std::size_t target = damaged.size() - 40; // a line near the end
    damaged[target].insert(6, "X");
    const std::string damaged_text = join(damaged);
    escrow::test::spit(path, damaged_text);
    const KeysFile lazy = KeysFile::open(path);
    CHECK(lazy.find(keys[5]).has_value());
    const std::string message = require_error(ErrorKind::integrity, [&] { (void)lazy.verify_all(); });
    CHECK(message == fmt::format("{}: line {}: the line key is not a valid key line name", path.string(), target + 1));
  }
}

TEST_CASE("keys file for_each_hash on a large file: two halves, what one pass gives", "[keys_file]")
{
  // Past 1 MiB the lines are decoded and hashed in two halves on two threads (keys_file.cpp): the
  // lines visited, in order, and the first error with its line number are those of one pass.
  const std::vector<SealedLine> lines = large_lines();
  const std::string text = serialize_keys(k_vault, lines);
  REQUIRE(text.size() > (1u << 20));
  using Visited = std::vector<std::pair<std::string, LineHash>>;
  const auto visit_all = [](const std::string& bytes, const char* threads) {
    const escrow::test::ScopedThreads scoped(threads);
    const KeysFile file = KeysFile::parse(bytes, "escrow.keys");
    Visited out;
    file.for_each_hash([&out](std::string_view key, const LineHash& hash) { out.emplace_back(std::string(key), hash); });
    return out;
  };
  const Visited one = visit_all(text, "1");
  const Visited two = visit_all(text, "2");
  CHECK(one.size() == lines.size());
  CHECK(one == two);
  const std::map<std::string, LineHash> by_key(two.begin(), two.end());
  for (const SealedLine& line : lines) {
    const auto found = by_key.find(line.key());
    REQUIRE(found != by_key.end());
    CHECK(found->second == line.hash);
  }

  // Damage in either half, at the line the split lands on or next to it, keys out of order across
  // the middle, a newline inside a line: the same error (the first in file order) either way.
  const std::vector<std::string> good = text_lines(text);
  const std::size_t middle = good.size() / 2;
  std::vector<std::pair<std::string, std::vector<std::string>>> damaged;
  for (const std::size_t at : {std::size_t{3}, std::size_t{10}, middle - 1, middle, middle + 1, good.size() - 6}) {
    auto l = good;
    l[at].insert(6, "X");
    damaged.emplace_back(fmt::format("a bad key at line {}", at + 1), l);
  }
  {
    auto l = good;
    std::swap(l[middle], l[middle + 1]);
    damaged.emplace_back("two lines swapped at the middle", l);
  }
  {
    auto l = good;
    l[middle].insert(l[middle].size() - 12, "\n");
    damaged.emplace_back("a newline inside the middle line's base64", l);
  }
  {
    auto l = good;
    l[12].insert(l[12].size() - 12, "A");
    l[middle + 2].insert(6, "X");
    damaged.emplace_back("bad base64 early and a bad key late", l);
  }
  for (const auto& [what, edited] : damaged) {
    INFO(what);
    const std::string bytes = join(edited);
    const std::string first = require_error(ErrorKind::integrity, [&] { (void)visit_all(bytes, "1"); });
    const std::string second = require_error(ErrorKind::integrity, [&] { (void)visit_all(bytes, "2"); });
    CHECK(first == second);
    CHECK(first.find("escrow.keys: line ") == 0);
  }
}

TEST_CASE("keys file rewrite: add and remove lines, canonical bytes", "[keys_file]")
{
  const auto lines = sample_lines();
  const std::vector<SealedLine> first(lines.begin(), lines.begin() + 3);
  const KeysFile file = KeysFile::parse(serialize_keys(k_vault, first), "escrow.keys");
  const std::vector<SealedLine> more(lines.begin() + 3, lines.end());
  const std::string grown = file.rewrite(more, {});
  CHECK(grown == serialize_keys(k_vault, lines));
  const KeysFile grown_file = KeysFile::parse(grown, "escrow.keys");
  // Remove two, add one already present (a no-op).
  const std::string shrunk = grown_file.rewrite(std::span(lines).subspan(0, 1), {lines[1].key(), lines[4].key()});
  std::vector<SealedLine> left;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i != 1 && i != 4) {
      left.push_back(lines[i]);
    }
  }
  CHECK(shrunk == serialize_keys(k_vault, left));
  CHECK(KeysFile::parse(shrunk, "k").verify_all() == left.size());
  // Everything removed: the empty layout.
  std::set<std::string> all;
  for (const auto& line : lines) {
    all.insert(line.key());
  }
  CHECK(grown_file.rewrite({}, all) == serialize_keys(k_vault, {}));
  // Removing a line that is not there is the caller's error.
  require_error(ErrorKind::failed, [&] { (void)file.rewrite({}, {lines[5].key()}); });
  // A key already present with other bytes is refused.
  SealedLine clash = lines[0];
  clash.raw[0] ^= 1; // its key still names the old bytes' hash
  require_error(ErrorKind::integrity, [&] { (void)grown_file.rewrite(std::span(&clash, 1), {}); });
}

TEST_CASE("keys file rewrite: the layout and order of every line are checked on the way", "[keys_file]")
{
  const auto lines = text_lines(sample_text());
  const auto refused = [&](std::vector<std::string> damaged, std::size_t line) {
    const KeysFile file = KeysFile::parse(join(damaged), "escrow.keys");
    const std::string message = require_error(ErrorKind::integrity, [&] { (void)file.rewrite({}, {}); });
    CHECK(message.find(fmt::format("escrow.keys: line {}: ", line)) == 0);
  };
  auto swapped = lines;
  std::swap(swapped[6], swapped[7]);
  refused(swapped, 8);
  auto split = lines;
  split[5].insert(split[5].rfind('"') - 4, "\\n"); // a JSON escape
  refused(split, 6);
  auto newline = lines;
  newline[5].insert(newline[5].rfind('"') - 4, "\n");
  refused(newline, 6);
  auto indent = lines;
  indent[7] = " " + indent[7];
  refused(indent, 8);
  auto control = lines;
  control[4][6] = '\x01';
  refused(control, 5);
  // The bytes of a line are its reader's to check: rewrite carries them, verify_all refuses them.
  auto content = lines;
  const std::size_t at = content[4].rfind("\": \"") + 4;
  content[4][at] = content[4][at] == 'A' ? 'B' : 'A';
  const std::string carried = KeysFile::parse(join(content), "escrow.keys").rewrite({}, {});
  CHECK(carried == join(content));
  require_error(ErrorKind::integrity, [&] { (void)KeysFile::parse(carried, "escrow.keys").verify_all(); });
}

TEST_CASE("keys file merge: a 3-way set merge by key", "[keys_file]")
{
  const auto lines = sample_lines();
  const auto file_of = [&](std::initializer_list<std::size_t> which, std::string what) {
    std::vector<SealedLine> chosen;
    for (const std::size_t i : which) {
      chosen.push_back(lines[i]);
    }
    return KeysFile::parse(serialize_keys(k_vault, chosen), std::move(what));
  };
  const auto expect = [&](std::initializer_list<std::size_t> which) {
    std::vector<SealedLine> chosen;
    for (const std::size_t i : which) {
      chosen.push_back(lines[i]);
    }
    return serialize_keys(k_vault, chosen);
  };
  const KeysFile base = file_of({0, 1, 2}, "base");
  // Ours adds 3 and deletes 1; theirs adds 4 and 5 and deletes 0; both keep 2.
  const KeysFile ours = file_of({0, 2, 3}, "ours");
  const KeysFile theirs = file_of({1, 2, 4, 5}, "theirs");
  CHECK(merge_keys(&base, ours, theirs) == expect({2, 3, 4, 5}));
  CHECK(merge_keys(&base, theirs, ours) == expect({2, 3, 4, 5}));
  // Both add the same line; both delete the same one.
  CHECK(merge_keys(&base, file_of({0, 2, 5}, "a"), file_of({0, 2, 5}, "b")) == expect({0, 2, 5}));
  // No base: a union.
  CHECK(merge_keys(nullptr, ours, theirs) == expect({0, 1, 2, 3, 4, 5}));
  // Different vaults.
  VaultId other = k_vault;
  other[0] ^= 1;
  const KeysFile foreign = KeysFile::parse(serialize_keys(other, {}), "foreign");
  require_error(ErrorKind::integrity, [&] { (void)merge_keys(&base, ours, foreign); });
  // One key, other bytes (a forged line: its bytes do not match its key's hash).
  auto forged_lines = text_lines(theirs.bytes().data());
  const std::size_t at = forged_lines[3].rfind("\": \"") + 4;
  forged_lines[3][at] = forged_lines[3][at] == 'A' ? 'B' : 'A';
  const KeysFile forged = KeysFile::parse(join(forged_lines), "theirs");
  const std::string message = require_error(ErrorKind::integrity, [&] { (void)merge_keys(&base, ours, forged); });
  CHECK(message.find("theirs: line 4: ") == 0);
}

TEST_CASE("keys file: every malformed line is rejected, naming the file and the line", "[keys_file]")
{
  const std::string good = sample_text();
  REQUIRE(KeysFile::parse(good, "k").verify_all() == 6);
  const auto lines = text_lines(good); // [0] "{", [1] format, [2] lines, [3..8] key lines, [9] "  },", [10] vault, [11] "}"
  REQUIRE(lines.size() == 12);

  // Whole-file damage: refused at open, naming the file.
  const std::vector<std::pair<std::string, std::string>> whole = {
    {"empty", ""},
    {"not JSON", "hello\n"},
    {"no final newline", good.substr(0, good.size() - 1)},
    {"trailing bytes", good + "\n"},
    {"CRLF", [&] {
       std::string t;
       for (const auto& l : lines) {
         t += l + "\r\n";
       }
       return t;
     }()},
    {"BOM", "\xEF\xBB\xBF" + good},
    {"compact JSON", canonical::dump(canonical::parse(good, "k"))},
    {"tab indent", [&] {
       auto l = lines;
       l[1][0] = '\t';
       return join(l);
     }()},
    {"fields reordered", [&] {
       auto l = lines;
       std::swap(l[1], l[2]);
       return join(l);
     }()},
    {"vault id not base64", [&] {
       auto l = lines;
       l[10] = "  \"vault_id\": \"!!!!!!!!!!!!!!!!!!!!!!!!\"";
       return join(l);
     }()},
    {"vault id of 15 bytes", [&] {
       auto l = lines;
       l[10] = "  \"vault_id\": \"" + canonical::b64(Bytes(15, 1)) + "\"";
       return join(l);
     }()},
    {"vault id of 17 bytes", [&] {
       auto l = lines;
       l[10] = "  \"vault_id\": \"" + canonical::b64(Bytes(17, 1)) + "\"";
       return join(l);
     }()},
    {"lines closed on the key line", [&] {
       auto l = lines;
       l.erase(l.begin() + 3, l.begin() + 10);
       l[2] = "  \"lines\": {";
       l.insert(l.begin() + 3, "  },");
       return join(l);
     }()},
  };
  for (const auto& item : whole) {
    const std::string& name = item.first;
    const std::string& text = item.second;
    INFO(name);
    const std::string message = require_error(ErrorKind::integrity, [&] { (void)KeysFile::parse(text, "escrow.keys").verify_all(); });
    CHECK(message.find("escrow.keys: ") == 0);
  }
  for (const char* format : {"escrow-keys/1", "escrow-keys/3", "escrow-vault/2"}) {
    auto l = lines;
    l[1] = fmt::format("  \"format\": \"{}\",", format);
    const std::string message = require_error(ErrorKind::integrity, [&] { (void)KeysFile::parse(join(l), "escrow.keys"); });
    CHECK(message == fmt::format("escrow.keys: format \"{}\" is not escrow-keys/2 (this escrow reads escrow-keys/2)", format));
  }

  // Line damage: each rejected by verify_all with "line N" (N = its 1-based line number).
  const auto key_of = [&](std::size_t i) {
    const auto& l = lines[i];
    return l.substr(5, l.find('"', 5) - 5);
  };
  const auto b64_of = [&](std::size_t i) {
    const auto& l = lines[i];
    const auto start = l.find("\": \"") + 4;
    return l.substr(start, l.find('"', start) - start);
  };
  const auto with_line = [&](std::size_t i, std::string replacement) {
    auto l = lines;
    l[i] = std::move(replacement);
    return join(l);
  };
  const SealedLine resized = SealedLine::make(LineName::share("prod/db", k_vid, "bob"), filled(81, 4));
  struct Case
  {
    std::string name;
    std::string text;
    std::size_t line;
  };
  std::vector<Case> cases = {
    {"3-space indent", with_line(4, lines[4].substr(1)), 5},
    {"5-space indent", with_line(4, " " + lines[4]), 5},
    {"space before the colon", with_line(4, "    \"" + key_of(4) + "\" : \"" + b64_of(4) + "\","), 5},
    {"no space after the colon", with_line(4, "    \"" + key_of(4) + "\":\"" + b64_of(4) + "\","), 5},
    {"trailing space", with_line(4, lines[4] + " "), 5},
    {"missing comma", with_line(4, lines[4].substr(0, lines[4].size() - 1)), 5},
    {"comma on the last line", with_line(8, lines[8] + ","), 9},
    {"unterminated key", with_line(4, "    \"" + key_of(4)), 5},
    {"key too long", with_line(4, "    \"" + std::string(600, 'a') + "\": \"" + b64_of(4) + "\","), 5},
    {"bad logical name", with_line(4, "    \"prod/db:g0:rk:x#" + std::string(24, '0') + "\": \"" + b64_of(4) + "\","), 5},
    {"no hash suffix", with_line(4, "    \"" + key_of(4).substr(0, key_of(4).size() - 25) + "\": \"" + b64_of(4) + "\","), 5},
    {"upper-case hash suffix", [&] {
       std::string k = key_of(4);
       std::transform(k.end() - 24, k.end(), k.end() - 24, [](char c) { return static_cast<char>(std::toupper(c)); });
       return with_line(4, "    \"" + k + "\": \"" + b64_of(4) + "\",");
     }(), 5},
    {"short hash suffix", with_line(4, "    \"" + key_of(4).substr(0, key_of(4).size() - 1) + "\": \"" + b64_of(4) + "\","), 5},
    {"escaped quote in key", with_line(4, "    \"prod/d\\\"b" + key_of(4).substr(7) + "\": \"" + b64_of(4) + "\","), 5},
    {"NUL in key", with_line(4, "    \"prod/d" + std::string(1, '\0') + key_of(4).substr(7) + "\": \"" + b64_of(4) + "\","), 5},
    {"material not base64", with_line(4, "    \"" + key_of(4) + "\": \"" + std::string(b64_of(4).size(), '*') + "\","), 5},
    {"material with a space", with_line(4, "    \"" + key_of(4) + "\": \" " + b64_of(4).substr(1) + "\","), 5},
    {"material unpadded", with_line(4, "    \"" + key_of(4) + "\": \"" + b64_of(4).substr(0, b64_of(4).find('=')) + "\","), 5},
    {"material as a JSON escape", with_line(4, "    \"" + key_of(4) + "\": \"\\u0041" + b64_of(4).substr(1) + "\","), 5},
    {"material unterminated", with_line(4, "    \"" + key_of(4) + "\": \"" + b64_of(4)), 5},
    {"material not a string", with_line(4, "    \"" + key_of(4) + "\": 12,"), 5},
    {"material changed (hash suffix)", [&] {
       std::string b = b64_of(4);
       b[0] = b[0] == 'A' ? 'B' : 'A';
       return with_line(4, "    \"" + key_of(4) + "\": \"" + b + "\",");
     }(), 5},
    {"material of the wrong size for its kind", [&] {
       // An rk line holding 81 bytes, with a hash suffix that matches them.
       const std::string logical = "prod/db:g1:rk:alice";
       const Bytes raw = filled(81, 1);
       return with_line(3, "    \"" + line_key(logical, line_hash(logical, raw)) + "\": \"" + canonical::b64(raw) + "\",");
     }(), 4},
    {"duplicate key", with_line(5, lines[4]), 6},
    {"keys out of order", [&] {
       auto l = lines;
       std::swap(l[4], l[5]);
       return join(l);
     }(), 6},
    {"blank line", [&] {
       auto l = lines;
       l.insert(l.begin() + 5, "");
       return join(l);
     }(), 6},
    {"line of another kind under a share's key", [&] {
       return with_line(6, "    \"" + key_of(6) + "\": \"" + canonical::b64(filled(80, 4)) + "\",");
     }(), 7},
  };
  (void)resized;
  for (const auto& c : cases) {
    INFO(c.name);
    const std::string message = require_error(ErrorKind::integrity, [&] { (void)KeysFile::parse(c.text, "escrow.keys").verify_all(); });
    CHECK(message.find(fmt::format("escrow.keys: line {}: ", c.line)) == 0);
    // Line content is never quoted.
    CHECK(message.find(b64_of(4)) == std::string::npos);
  }
}

TEST_CASE("keys file: lookups through damaged lines refuse, never guess", "[keys_file]")
{
  const std::string good = sample_text();
  auto lines = text_lines(good);
  const auto sample = sample_lines();
  std::vector<std::string> keys;
  for (const auto& line : sample) {
    keys.push_back(line.key());
  }
  std::sort(keys.begin(), keys.end());
  // Every key line replaced by garbage in turn: a lookup of the key at that line refuses with the
  // line's number, and never returns another line.
  for (std::size_t i = 3; i <= 8; ++i) {
    auto damaged = lines;
    damaged[i] = "    \"garbage";
    const KeysFile file = KeysFile::parse(join(damaged), "escrow.keys");
    const std::string message = require_error(ErrorKind::integrity, [&] { (void)file.find(keys[i - 3]); });
    CHECK(message.find("escrow.keys: line ") == 0);
  }
  // The bytes of a line changed under its key: find() names it; get() with K says modified.
  auto changed = lines;
  const std::size_t at = changed[5].rfind("\": \"") + 4;
  changed[5][at] = changed[5][at] == 'A' ? 'B' : 'A';
  const KeysFile file = KeysFile::parse(join(changed), "escrow.keys");
  const std::string message = require_error(ErrorKind::integrity, [&] { (void)file.find(keys[2]); });
  CHECK(message == "escrow.keys: line 6: the key material does not match the hash in its key (modified outside escrow?)");
  const SealedLine& original = *std::find_if(sample.begin(), sample.end(), [&](const SealedLine& l) { return l.key() == keys[2]; });
  try {
    (void)file.get(original.name, original.hash);
    FAIL("no error");
  } catch (const KeyError& error) {
    CHECK(error.failure() == KeyFailure::modified);
    CHECK(std::string(error.what()).find("escrow.keys: line 6: ") == 0);
  }
}

TEST_CASE("keys file open: limits and special files", "[keys_file]")
{
  escrow::test::TempDir dir;
  require_error(ErrorKind::io, [&] { (void)KeysFile::open(dir.path() / "absent.keys"); });
  const auto target = dir.path() / "real.keys";
  escrow::test::spit(target, sample_text());
  std::filesystem::create_symlink(target, dir.path() / "link.keys");
  require_error(ErrorKind::io, [&] { (void)KeysFile::open(dir.path() / "link.keys"); });
  REQUIRE(::mkfifo((dir.path() / "fifo.keys").c_str(), 0600) == 0);
  require_error(ErrorKind::io, [&] { (void)KeysFile::open(dir.path() / "fifo.keys"); });
  std::filesystem::create_directory(dir.path() / "folder.keys");
  require_error(ErrorKind::io, [&] { (void)KeysFile::open(dir.path() / "folder.keys"); });
  escrow::test::spit(dir.path() / "empty.keys", "");
  require_error(ErrorKind::integrity, [&] { (void)KeysFile::open(dir.path() / "empty.keys"); });
  CHECK(KeysFile::open(target).verify_all() == 6);
}

TEST_CASE("keys file rewrite_parts: the lines carried over are views of the file, valid after a move",
          "[keys_file]")
{
  const auto lines = sample_lines();
  std::vector<SealedLine> kept;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i != 2) {
      kept.push_back(lines[i]);
    }
  }
  std::optional<KeysFile> file = KeysFile::parse(serialize_keys(k_vault, kept), "escrow.keys");
  const KeysFile::Parts parts = file->rewrite_parts(std::span(lines).subspan(2, 1), {lines[4].key()});
  const std::string_view bytes = file->bytes();
  const auto inside = [&](std::string_view part) {
    return part.data() >= bytes.data() && part.data() + part.size() <= bytes.data() + bytes.size();
  };
  CHECK(std::count_if(parts.views.begin(), parts.views.end(), inside) >= 2); // before and after the added line
  const KeysFile moved = std::move(*file);
  file.reset();
  std::vector<SealedLine> expected;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i != 4) {
      expected.push_back(lines[i]);
    }
  }
  CHECK(parts.joined() == serialize_keys(k_vault, expected));
  CHECK(parts.size() == parts.joined().size());
  CHECK(moved.rewrite({}, {}) == moved.bytes());
}
