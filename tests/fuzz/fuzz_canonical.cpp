// canonical JSON (every file escrow reads goes through it) and strict base64.
// Properties: parse → dump → parse gives the same value and dump is a fixed point; the pretty
// layout reads back to the same value and is itself a fixed point (docs/FORMAT.md); the lazy
// scanner never crashes, and agrees with the parser on every object the parser accepts (same
// keys, each span parsing to the member's value, the object ending where the document does);
// a base64 text that decodes is the canonical encoding of the bytes it decodes to.
#include "fuzz.hpp"

#include <escrow/canonical.hpp>

#include <set>
#include <vector>

using namespace escrow;

namespace {

bool blank(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void round_trip(const canonical::Json& json)
{
  const std::string compact = canonical::dump(json);
  canonical::Json again;
  fuzz::must("the compact form parses", [&] { again = canonical::parse(compact, "fuzz (compact)"); });
  fuzz::check(again == json, "parse(dump(x)) == x");
  fuzz::check(canonical::dump(again) == compact, "dump is a fixed point");
  const std::string pretty = canonical::dump_pretty(json);
  fuzz::must("the pretty form parses", [&] { again = canonical::parse(pretty, "fuzz (pretty)"); });
  fuzz::check(again == json, "parse(dump_pretty(x)) == x");
  fuzz::check(canonical::dump_pretty(again) == pretty, "dump_pretty is a fixed point");
  fuzz::check(canonical::valid_utf8(compact) && canonical::valid_utf8(pretty), "what escrow writes is UTF-8");
  fuzz::round_tripped();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  canonical::Json json;
  const bool parsed = fuzz::accepted({ErrorKind::integrity}, [&] { json = canonical::parse(text, "fuzz"); });
  if (parsed) {
    round_trip(json);
  }

  std::size_t start = 0;
  while (start < text.size() && blank(text[start])) {
    ++start;
  }
  if (start < text.size() && text[start] == '{') {
    std::vector<canonical::Span> spans;
    std::size_t end = 0;
    const bool scanned =
      fuzz::accepted({ErrorKind::integrity}, [&] { spans = canonical::scan_object(text, start, end, "fuzz"); });
    if (parsed) {
      fuzz::check(scanned, "scan_object accepts every object parse accepts");
      fuzz::check(spans.size() == json.size(), "scan_object finds every member");
      std::set<std::string> keys;
      for (const auto& span : spans) {
        fuzz::check(json.contains(span.key) && keys.insert(span.key).second, "scan_object's keys are the object's");
        canonical::Json member;
        fuzz::must("a scanned span parses", [&] {
          member = canonical::parse(std::string_view(text).substr(span.begin, span.end - span.begin), "fuzz (span)");
        });
        fuzz::check(member == json[span.key], "a scanned span holds the member's value");
      }
      for (std::size_t i = end; i < text.size(); ++i) {
        fuzz::check(blank(text[i]), "scan_object ends where the document ends");
      }
    }
  }

  Bytes decoded;
  if (fuzz::accepted({ErrorKind::integrity}, [&] { decoded = canonical::unb64(text, "fuzz (base64)"); })) {
    fuzz::check(canonical::b64(decoded) == text, "base64 decoding is strict: b64(unb64(x)) == x");
  }
  return 0;
}
