// Canonical JSON, the strict reader, the stable pretty layout, and base64.
//
// escrow's files are a strict profile of JSON (RFC 8259, close to I-JSON, RFC 7493):
//   - UTF-8 only, checked (no overlong forms, no surrogates, nothing above U+10FFFF), no BOM;
//   - escapes are checked too: a \u escape must not produce a lone surrogate or U+0000;
//   - numbers are integers that fit in 64 bits: no fraction, no exponent, no "-0";
//   - no duplicate keys in an object; nesting at most k_max_depth deep;
//   - literals true/false/null; whitespace is space, tab, CR, LF.
// Canonical form (what signatures cover): keys sorted bytewise, no whitespace, strings as
// nlohmann_json writes them (UTF-8 kept, control characters escaped).
// Pretty layout (what is on disk): 2-space indent, keys sorted, one member per line, "{}" and
// "[]" for empty containers; one layout, so git diffs are small and a reader can hash a
// record's bytes as stored.
#pragma once

#include <escrow/crypto.hpp>
#include <escrow/secret_bytes.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::canonical {

using Json = nlohmann::json;

constexpr std::size_t k_max_depth = 64;

// Strict parse. On any violation throws Error(ErrorKind::integrity) whose message is
// "<what>: <problem> at byte <offset>" — it never quotes the input.
Json parse(std::string_view text, std::string_view what);

// Canonical compact serialisation.
std::string dump(const Json& value);

// Appends the pretty layout of `value` as it stands at nesting `depth` (the first line is not
// indented; nested lines are indented by 2 * (depth + 1) spaces).
void dump_pretty(const Json& value, std::size_t depth, std::string& out);
std::string dump_pretty(const Json& value);

// A member of an object found by scan_object: its key and the byte span of its value.
struct Span
{
  std::string key;
  std::size_t begin = 0; // first byte of the value
  std::size_t end = 0;   // one past its last byte
};

// Lists the members of the object that starts at text[begin] ('{'), without building their
// values: strings are checked for termination and escapes, brackets for balance and depth.
// Returns the members in file order and sets `object_end` one past the closing '}'.
// Throws Error(integrity) naming `what` on malformed input or duplicate keys.
std::vector<Span> scan_object(std::string_view text,
                              std::size_t begin,
                              std::size_t& object_end,
                              std::string_view what);

// Standard base64 with padding; decode is strict (canonical padding, no whitespace) and
// throws Error(integrity) naming `what`.
std::string b64(ByteView data);
// b64 of a secret, into locked memory (get --json of a binary value).
SecretBytes b64_secret(const SecretBytes& data);
Bytes unb64(std::string_view text, std::string_view what);
// Lower-case hex.
std::string hex(ByteView data);

// Checks that text is valid UTF-8 (the same rules as the parser).
[[nodiscard]] bool valid_utf8(std::string_view text);

} // namespace escrow::canonical
