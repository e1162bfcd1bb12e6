// The signed records of a vault (members, policy, connectors, secrets with their versions,
// requests, approvals and denials; lib/escrow/records.hpp). The vault reader checks a record's
// manifest hash before it parses it, so mutated vaults never reach these parsers: this target
// feeds them directly. Properties: every input is a record or an Error(integrity); a record
// that reads is written (to_json) and read back to the same record, and writing it again gives
// the same JSON (times and durations are normalised on the first write, never after).
#include "fuzz.hpp"

#include <escrow/canonical.hpp>
#include <escrow/records.hpp>

using namespace escrow;

namespace {

// parse → to_json → parse → to_json: the second write is the first.
template<typename Parse>
void round_trip(const canonical::Json& json, Parse parse)
{
  decltype(parse(json)) record;
  if (!fuzz::accepted({ErrorKind::integrity}, [&] { record = parse(json); })) {
    return;
  }
  const canonical::Json written = to_json(record);
  decltype(parse(json)) again;
  fuzz::must("a written record reads back", [&] { again = parse(written); });
  fuzz::check(to_json(again) == written, "a record reads back as written");
  fuzz::check(canonical::dump(written) == canonical::dump(to_json(again)), "writing a record is stable");
  fuzz::round_tripped();
}

std::string string_or(const canonical::Json& json, const char* key, const char* otherwise)
{
  return json.is_object() && json.contains(key) && json[key].is_string() ? json[key].get<std::string>() : otherwise;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  canonical::Json json;
  if (!fuzz::accepted({ErrorKind::integrity}, [&] { json = canonical::parse(text, "fuzz.record"); })) {
    return 0;
  }
  const std::string member = string_or(json, "by", "alice");
  const std::string full_name = string_or(json, "env", "prod") + "/" + string_or(json, "name", "db");
  round_trip(json, [&](const canonical::Json& j) { return member_from_json(j, member, "fuzz: members/x"); });
  round_trip(json, [&](const canonical::Json& j) { return policy_from_json(j, "fuzz: policy"); });
  round_trip(json, [&](const canonical::Json& j) { return connector_from_json(j, "c", "fuzz: connectors/c"); });
  round_trip(json, [&](const canonical::Json& j) { return secret_from_json(j, full_name, "fuzz: secrets/x"); });
  return 0;
}
