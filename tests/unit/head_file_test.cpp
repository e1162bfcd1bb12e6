// history/head_file: the escrow-vault/2 head file (vault-2.md §3.1) — exact layout, strict
// reader, the head merge driver.
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/history/head_file.hpp>

#include <sys/stat.h>

using namespace escrow;
using namespace escrow::history;
using escrow::test::require_error;

namespace {

EntryHash hash_of(std::uint8_t seed)
{
  EntryHash hash{};
  for (std::size_t i = 0; i < hash.size(); ++i) {
    hash[i] = static_cast<std::uint8_t>(seed + i);
  }
  return hash;
}

HeadFile sample(std::size_t heads = 1)
{
  HeadFile head;
  head.vault_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  for (std::size_t i = 0; i < heads; ++i) {
    head.heads.push_back(hash_of(static_cast<std::uint8_t>(10 * i + 1)));
  }
  head.entries = 104213;
  return head;
}

std::string layout(const std::vector<std::string>& heads, std::string entries = "104213",
                   std::string vault_id = "AQIDBAUGBwgJCgsMDQ4PEA==")
{
  std::string text = "{\n  \"format\": \"escrow-vault/2\",\n  \"journal\": {\n    \"entries\": " + entries
                     + ",\n    \"heads\": [";
  if (heads.empty()) {
    text += "]";
  } else {
    text += "\n";
    for (std::size_t i = 0; i < heads.size(); ++i) {
      text += "      \"" + heads[i] + "\"" + (i + 1 < heads.size() ? ",\n" : "\n");
    }
    text += "    ]";
  }
  return text + "\n  },\n  \"vault_id\": \"" + vault_id + "\"\n}\n";
}

// `text` with [at, at + size) replaced (by concatenation: GCC 12 warns falsely on
// std::string::replace, bug 105329).
std::string spliced(const std::string& text, std::size_t at, std::size_t size, const std::string& with)
{
  return text.substr(0, at) + with + text.substr(at + size);
}

} // namespace

TEST_CASE("head file: the exact layout of the design, read back", "[head_file]")
{
  const HeadFile one = sample();
  const std::string text = serialize_head_file(one);
  CHECK(text == layout({canonical::b64(one.heads[0])}));
  CHECK(parse_head_file(text, "escrow.vault") == one);

  const HeadFile two = sample(2);
  const std::string text2 = serialize_head_file(two);
  CHECK(text2 == layout({canonical::b64(two.heads[0]), canonical::b64(two.heads[1])}));
  const HeadFile again = parse_head_file(text2, "escrow.vault");
  CHECK(again == two);
  CHECK(again.heads[0] == hash_of(1)); // linearization order is kept

  escrow::test::TempDir dir;
  escrow::test::spit(dir.path() / "escrow.vault", text2);
  CHECK(read_head_file(dir.path() / "escrow.vault") == two);
}

TEST_CASE("head file: the writer refuses what the reader would refuse", "[head_file]")
{
  HeadFile none = sample(0);
  require_error(ErrorKind::failed, [&] { (void)serialize_head_file(none); });
  HeadFile twice = sample(1);
  twice.heads.push_back(twice.heads[0]);
  require_error(ErrorKind::failed, [&] { (void)serialize_head_file(twice); });
  HeadFile zero = sample();
  zero.entries = 0;
  require_error(ErrorKind::failed, [&] { (void)serialize_head_file(zero); });
  HeadFile many = sample(0);
  for (std::size_t i = 0; i <= k_max_heads; ++i) {
    EntryHash hash{};
    hash[0] = static_cast<std::uint8_t>(i);
    hash[1] = static_cast<std::uint8_t>(i >> 8);
    many.heads.push_back(hash);
  }
  require_error(ErrorKind::failed, [&] { (void)serialize_head_file(many); });
  many.heads.pop_back();
  CHECK(parse_head_file(serialize_head_file(many), "h").heads.size() == k_max_heads);
}

TEST_CASE("head file: every malformed file is refused, naming the file", "[head_file]")
{
  const std::string h1 = canonical::b64(hash_of(1));
  const std::string h2 = canonical::b64(hash_of(2));
  const std::string good = layout({h1});
  REQUIRE(parse_head_file(good, "escrow.vault") == sample());

  const std::vector<std::pair<std::string, std::string>> cases = {
    {"empty", ""},
    {"not JSON", "escrow\n"},
    {"no final newline", good.substr(0, good.size() - 1)},
    {"two final newlines", good + "\n"},
    {"CRLF", [&] {
       std::string t;
       for (const char c : good) {
         t += c == '\n' ? std::string("\r\n") : std::string(1, c);
       }
       return t;
     }()},
    {"BOM", "\xEF\xBB\xBF" + good},
    {"compact", canonical::dump(canonical::parse(good, "h")) + "\n"},
    {"4-space indent", [&] {
       std::string t;
       for (const char c : good) {
         t += c;
         if (c == '\n') {
           t += "  ";
         }
       }
       return t;
     }()},
    {"no heads", layout({})},
    {"duplicate head", layout({h1, h1})},
    {"head not base64", layout({"!!!!"})},
    {"head of 31 bytes", layout({canonical::b64(Bytes(31, 1))})},
    {"head of 33 bytes", layout({canonical::b64(Bytes(33, 1))})},
    {"head non-canonical base64", layout({h1.substr(0, 42) + "B="})},
    {"entries zero", layout({h1}, "0")},
    {"entries negative", layout({h1}, "-1")},
    {"entries too large", layout({h1}, "9007199254740993")},
    {"entries a string", layout({h1}, "\"7\"")},
    {"entries a fraction", layout({h1}, "7.5")},
    {"vault id of 15 bytes", layout({h1}, "1", canonical::b64(Bytes(15, 1)))},
    {"vault id not base64", layout({h1}, "1", "????????????????????????")},
    {"unknown top field", [&] {
       auto t = good;
       t.insert(t.find("  \"vault_id\""), "  \"x\": 1,\n");
       return t;
     }()},
    {"unknown journal field", [&] {
       auto t = good;
       t.insert(t.find("    \"heads\""), "    \"extra\": 1,\n");
       return t;
     }()},
    {"missing journal", "{\n  \"format\": \"escrow-vault/2\",\n  \"vault_id\": \"AQIDBAUGBwgJCgsMDQ4PEA==\"\n}\n"},
    {"missing heads", "{\n  \"format\": \"escrow-vault/2\",\n  \"journal\": {\n    \"entries\": 1\n  },\n"
                      "  \"vault_id\": \"AQIDBAUGBwgJCgsMDQ4PEA==\"\n}\n"},
    {"heads an object", [&] {
       auto t = layout({h1});
       const auto at = t.find("[");
       return spliced(t, at, t.find("]") - at + 1, "{}");
     }()},
    {"duplicate key", [&] {
       auto t = good;
       t.insert(t.find("  \"vault_id\""), "  \"format\": \"escrow-vault/2\",\n");
       return t;
     }()},
    {"fields out of order", "{\n  \"journal\": {\n    \"entries\": 104213,\n    \"heads\": [\n      \"" + h1
                              + "\"\n    ]\n  },\n  \"format\": \"escrow-vault/2\",\n  \"vault_id\": "
                                "\"AQIDBAUGBwgJCgsMDQ4PEA==\"\n}\n"},
    {"escaped format", [&] {
       return spliced(good, good.find("escrow-vault/2"), 14, "escrow\\u002dvault/2");
     }()},
    {"too large", good + std::string(k_max_head_file_size, ' ')},
    {"a NUL", spliced(good, 5, 1, std::string(1, '\0'))},
  };
  for (const auto& item : cases) {
    const std::string& name = item.first;
    const std::string& text = item.second;
    INFO(name);
    const std::string message = require_error(ErrorKind::integrity, [&] { (void)parse_head_file(text, "escrow.vault"); });
    CHECK(message.find("escrow.vault: ") == 0);
  }
  (void)h2;

  // Formats are named.
  const std::string v1 = spliced(good, good.find("escrow-vault/2"), 14, "escrow-vault/1");
  CHECK(require_error(ErrorKind::integrity, [&] { (void)parse_head_file(v1, "escrow.vault"); })
        == "escrow.vault: escrow-vault/1 is not read by the escrow-vault/2 reader");
  const std::string v3 = spliced(good, good.find("escrow-vault/2"), 14, "escrow-vault/3");
  CHECK(require_error(ErrorKind::integrity, [&] { (void)parse_head_file(v3, "escrow.vault"); })
        == "escrow.vault: format \"escrow-vault/3\" is not escrow-vault/2 (this escrow reads escrow-vault/2)");
}

TEST_CASE("head file: reading refuses links, FIFOs and large files", "[head_file]")
{
  escrow::test::TempDir dir;
  require_error(ErrorKind::io, [&] { (void)read_head_file(dir.path() / "absent.vault"); });
  const auto real = dir.path() / "real.vault";
  escrow::test::spit(real, serialize_head_file(sample()));
  std::filesystem::create_symlink(real, dir.path() / "link.vault");
  require_error(ErrorKind::io, [&] { (void)read_head_file(dir.path() / "link.vault"); });
  REQUIRE(::mkfifo((dir.path() / "fifo.vault").c_str(), 0600) == 0);
  require_error(ErrorKind::io, [&] { (void)read_head_file(dir.path() / "fifo.vault"); });
  // A big v1 vault is named by its format, not its size.
  std::string v1 = "{\n  \"format\": \"escrow-vault/1\",\n" + std::string(k_max_head_file_size * 2, ' ');
  escrow::test::spit(dir.path() / "v1.vault", v1);
  CHECK(require_error(ErrorKind::integrity, [&] { (void)read_head_file(dir.path() / "v1.vault"); }).find("escrow-vault/1")
        != std::string::npos);
  escrow::test::spit(dir.path() / "big.vault", std::string(k_max_head_file_size + 1, ' '));
  CHECK(require_error(ErrorKind::integrity, [&] { (void)read_head_file(dir.path() / "big.vault"); }).find("larger than")
        != std::string::npos);
}

TEST_CASE("head file merge: ours first, then theirs not in ours", "[head_file]")
{
  HeadFile ours = sample(1);
  HeadFile theirs = sample(2); // shares ours' head, adds one
  theirs.entries = 200000;
  const HeadFile merged = merge_head_files(ours, theirs, "escrow.vault");
  CHECK(merged.heads == std::vector<EntryHash>{hash_of(1), hash_of(11)});
  CHECK(merged.entries == 200000);
  const HeadFile reversed = merge_head_files(theirs, ours, "escrow.vault");
  CHECK(reversed.heads == std::vector<EntryHash>{hash_of(1), hash_of(11)});
  CHECK(merge_head_files(ours, ours, "escrow.vault") == ours);
  HeadFile foreign = sample();
  foreign.vault_id[0] ^= 1;
  require_error(ErrorKind::integrity, [&] { (void)merge_head_files(ours, foreign, "escrow.vault"); });
}
