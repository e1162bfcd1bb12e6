// Strict readers of already-parsed canonical JSON, shared by the entry, operation and record
// readers of lib/escrow/history/. Every failure is Error(integrity) "<where>: <problem>", where
// `where` names the file or line and the field, never a value.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/clock.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history::json_read {

using canonical::Json;

// The members of one object: each field read at most once; finish() refuses any not read.
class Fields
{
public:
  // `separator` joins `where` and a key in at(): "." inside a value ("…: args.ttl"), ": " at the
  // top of a line or record ("escrow.journal: line 7: actor").
  Fields(const Json& json, std::string where, std::string_view separator = ".");

  const Json& need(std::string_view key);
  const Json* maybe(std::string_view key);
  // "<where>.<key>"
  std::string at(std::string_view key) const;
  void finish() const;

private:
  const Json& m_json;
  std::string m_where;
  std::string m_separator;
  // The values of the keys read (an object's keys are unique, so every key was read when this
  // holds as many distinct values as the object has keys): no string copied per field.
  mutable std::vector<const Json*> m_read;
};

const std::string& string(const Json& json, std::string_view where);
std::int64_t integer(const Json& json, std::string_view where, std::int64_t min, std::int64_t max);
bool boolean(const Json& json, std::string_view where);
// "YYYY-MM-DDTHH:MM:SSZ" exactly (the one spelling format_time writes).
Timestamp time(const Json& json, std::string_view where);
// Standard base64 of exactly N bytes.
template<std::size_t N>
std::array<std::uint8_t, N> fixed_b64(const Json& json, std::string_view where)
{
  const Bytes raw = canonical::unb64(string(json, where), where);
  if (raw.size() != N) {
    fail(ErrorKind::integrity, "{}: expected {} bytes of base64, got {}", where, N, raw.size());
  }
  std::array<std::uint8_t, N> out{};
  std::copy(raw.begin(), raw.end(), out.begin());
  return out;
}
const Json& array(const Json& json, std::string_view where, std::size_t max);
const Json& object(const Json& json, std::string_view where);
// A JSON array of strings, strictly increasing (a set in its one spelling).
std::set<std::string> string_set(const Json& json, std::string_view where, std::size_t max);

} // namespace escrow::history::json_read
