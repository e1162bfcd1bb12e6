// The escrow-keys/2 key store (lib/escrow/history/keys_file.hpp): KeysFile::parse (owned bytes)
// and KeysFile::open (mapped), the lazy bisecting lookups and the full check.
// Properties: every input is a file or an Error(integrity) (a lookup may refuse a damaged line it
// probes, never crash); a file verify_all accepts is the writer's canonical bytes for its lines
// (serialize_keys(lines) == input), rewrite with nothing to change gives the same bytes, and every
// line is found by bisection (mapped and owned alike) with its bytes; keys just beside a line's
// are not found; the mapped reader decides as the owned one.
#include "fuzz.hpp"

#include <escrow/canonical.hpp>
#include <escrow/history/keys_file.hpp>

#include <optional>

using namespace escrow;
using namespace escrow::history;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  std::optional<KeysFile> file;
  if (!fuzz::accepted({ErrorKind::integrity}, [&] { file.emplace(KeysFile::parse(text, "fuzz.keys")); })) {
    static fuzz::ScratchFile scratch("fuzz.keys");
    const auto& path = scratch.write(text);
    fuzz::check(!fuzz::accepted({ErrorKind::integrity}, [&] { (void)KeysFile::open(path); }),
                "the mapped reader refuses what the owned reader refuses");
    return 0;
  }
  // Lazy lookups on any file that opened: an answer or a refusal, never a crash.
  for (const std::string_view probe : {std::string_view("prod/db:g1:rk:alice#000000000000000000000000"),
                                       std::string_view(""), std::string_view("~")}) {
    (void)fuzz::accepted({ErrorKind::integrity}, [&] { (void)file->find(probe); });
    (void)fuzz::accepted({ErrorKind::integrity}, [&] { (void)file->with_prefix(probe.substr(0, 8)); });
  }
  std::vector<SealedLine> lines;
  const bool whole = fuzz::accepted({ErrorKind::integrity}, [&] {
    (void)file->verify_all();
    file->for_each([&](std::string_view key, std::string_view) {
      auto found = file->find(key);
      fuzz::check(found.has_value(), "every line of a verified file is found by bisection");
      fuzz::check(found->key() == key, "a found line has the key looked up");
      lines.push_back(std::move(*found));
    });
  });
  if (!whole) {
    return 0;
  }
  fuzz::must("a verified file is written back byte for byte", [&] {
    fuzz::check(serialize_keys(file->vault_id(), lines) == text, "serialize_keys(lines(f)) == f");
    fuzz::check(file->rewrite({}, {}) == text, "rewrite with no change == f");
  });
  static fuzz::ScratchFile scratch("fuzz.keys");
  const auto& path = scratch.write(text);
  fuzz::must("a verified file opens mapped", [&] {
    const KeysFile mapped = KeysFile::open(path);
    fuzz::check(mapped.verify_all() == lines.size(), "the mapped reader sees the same lines");
    for (const SealedLine& line : lines) {
      const auto found = mapped.find(line.key());
      fuzz::check(found && found->raw == line.raw, "the mapped reader finds each line's bytes");
      fuzz::check(mapped.get(line.name, line.hash).raw == line.raw, "get(name, K) returns the line");
      const std::string key = line.key();
      fuzz::check(!mapped.find(key + "0") && !mapped.find(key.substr(0, key.size() - 1)),
                  "keys beside a line's are not found");
    }
  });
  fuzz::round_tripped();
  return 0;
}
