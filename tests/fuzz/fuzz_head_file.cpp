// The escrow-vault/2 head file (lib/escrow/history/head_file.hpp).
// Properties: every input is a head or an Error(integrity); a head that parses is the writer's
// bytes (serialize_head_file(parse(b)) == b); it merges with itself to itself.
#include "fuzz.hpp"

#include <escrow/history/head_file.hpp>

using namespace escrow;
using namespace escrow::history;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);
  HeadFile head;
  if (!fuzz::accepted({ErrorKind::integrity}, [&] { head = parse_head_file(text, "fuzz.vault"); })) {
    return 0;
  }
  fuzz::must("a parsed head file is written back byte for byte", [&] {
    fuzz::check(serialize_head_file(head) == text, "serialize_head_file(parse(b)) == b");
    fuzz::check(merge_head_files(head, head, "fuzz.vault") == head, "a head merged with itself is itself");
  });
  fuzz::round_tripped();
  return 0;
}
