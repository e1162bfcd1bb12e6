// The closed vocabularies (roles, version and secret states, connector kinds, journal actions and
// results): enums inside, names only at the format boundary. Every name round-trips, the written
// bytes are the ones the format always had, and an unknown name in a file is Error(integrity)
// (exit 3) naming the file and the field.
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/records.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

using namespace escrow;
using escrow::test::require_error;

namespace {

// Every value's name is non-empty and unique, and parses back to the value.
template<typename Enum, typename Values>
void check_round_trip(const Values& values, std::string_view (*name_of)(Enum), std::optional<Enum> (*parse)(std::string_view))
{
  std::set<std::string> names;
  for (const Enum value : values) {
    const std::string name(name_of(value));
    INFO("name: " << name);
    CHECK(!name.empty());
    CHECK(names.insert(name).second);
    REQUIRE(parse(name).has_value());
    CHECK(*parse(name) == value);
  }
  CHECK(!parse("").has_value());
  CHECK(!parse("unknown").has_value());
}

} // namespace

TEST_CASE("vocabulary: every name round-trips and parsing is exact", "[records]")
{
  check_round_trip(k_roles, role_name, parse_role);
  check_round_trip(k_version_states, version_state_name, parse_version_state);
  check_round_trip(k_secret_states, secret_state_name, parse_secret_state);
  check_round_trip(k_connector_kinds, connector_kind_name, parse_connector_kind);
  check_round_trip(k_http_methods, http_method_name, parse_http_method);
  // Case and spelling are exact: no near misses are accepted.
  CHECK(!parse_role("Admin").has_value());
  CHECK(!parse_version_state("current ").has_value());
  CHECK(!parse_connector_kind("node_red").has_value());
  CHECK(parse_connector_kind("node-red") == ConnectorKind::node_red);
}

TEST_CASE("vocabulary: roles are written in the order their names sort, as the format always was", "[records]")
{
  std::vector<std::string> names;
  for (const Role role : k_roles) {
    names.emplace_back(role_name(role));
  }
  CHECK(std::is_sorted(names.begin(), names.end()));
  // A std::set<Role> holds them in that order; --json output and fmt print names, never numbers.
  const std::set<Role> roles{Role::rotator, Role::auditor, Role::admin};
  CHECK(Json(roles).dump() == R"(["admin","auditor","rotator"])");
  CHECK(Json(VersionState::compromised) == "compromised");
  CHECK(fmt::format("{} {} {}", ConnectorKind::manual, SecretState::retired, HttpMethod::patch)
        == "manual retired PATCH");
  CHECK(join_roles(roles, ",") == "admin,auditor,rotator");
}
