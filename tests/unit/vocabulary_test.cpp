// The closed vocabularies (roles, version and secret states, connector kinds, journal actions and
// results): enums inside, names only at the format boundary. Every name round-trips, the written
// bytes are the ones the format always had, and an unknown name in a file is Error(integrity)
// (exit 3) naming the file and the field.
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/journal.hpp>
#include <escrow/records.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

using namespace escrow;
using escrow::test::require_error;

namespace {

const std::string k_key = canonical::b64(Bytes(32, 1));
const std::string k_sig = canonical::b64(Bytes(64, 2));
const std::string k_sealed = canonical::b64(Bytes(80, 3));

Json member_json(Json roles)
{
  return Json{{"sign_pk", k_key},   {"box_pk", k_key},
              {"roles", roles},     {"envs", {"prod"}},
              {"added_by", "alice"}, {"added_at", "2026-01-15T09:00:00Z"},
              {"by", "alice"},       {"sig", k_sig}};
}

Json connector_json(const std::string& kind, const std::string& method = "PUT")
{
  Json json{{"env", "prod"},        {"kind", kind},  {"update", ""}, {"verify", ""}, {"instructions", ""},
            {"timeout", 60},        {"created_at", "2026-01-15T09:00:00Z"}, {"by", "alice"}, {"sig", k_sig}};
  // The native kinds' own fields (docs/FORMAT.md).
  if (kind == "postgres") {
    json.update(Json{{"conninfo", "host=127.0.0.1"}, {"role", "app"}, {"auth_secret", ""}});
  } else if (kind == "mysql") {
    json.update(Json{{"conninfo", "host=127.0.0.1 user=admin"}, {"user", "app"}, {"host", "%"}, {"auth_secret", ""}});
  } else if (kind == "http") {
    json.update(Json{{"url", "https://api.example.com/v1"}, {"method", method}, {"body", "{\"v\": \"{{value}}\"}"},
                     {"headers", Json::array()}, {"expect_status", 0}, {"verify_url", ""}, {"verify_expect_status", 0},
                     {"cacert", ""}, {"auth_secret", ""}});
  } else if (kind == "node-red") {
    json.update(Json{{"url", "http://127.0.0.1:1880"}, {"node", "n1"}, {"field", "password"}, {"auth_user", ""},
                     {"auth_secret", ""}, {"verify_url", "http://127.0.0.1:1880/check"}, {"verify_expect_status", 200},
                     {"cacert", ""}});
  }
  return json;
}

Json version_json(const std::string& state)
{
  return Json{{"v", 1},
              {"state", state},
              {"created_at", "2026-01-15T09:00:00Z"},
              {"created_by", "alice"},
              {"why", "added"},
              {"nonce", canonical::b64(Bytes(24, 4))},
              {"ciphertext", canonical::b64(Bytes(20, 5))},
              {"dk_commit", canonical::b64(Bytes(32, 6))},
              {"wrapped", {{"alice", k_sealed}}},
              {"shares", Json::object()},
              {"granted", Json::object()},
              {"by", "alice"},
              {"sig", k_sig}};
}

Json secret_json(const std::string& state, const std::string& version_state)
{
  return Json{{"env", "prod"},          {"name", "db"},         {"owner", "alice"},
              {"purpose", "orders"},   {"tier", "standard"},   {"connectors", Json::array()},
              {"every", ""},           {"generator", ""},      {"after_access", false},
              {"custodians", Json::array()}, {"threshold", 0}, {"shared_with", Json::array()},
              {"due", ""},             {"due_since", ""},      {"state", state},
              {"created_at", "2026-01-15T09:00:00Z"},          {"versions", {version_json(version_state)}},
              {"requests", Json::array()}, {"by", "alice"},    {"sig", k_sig}};
}

// Error(integrity), exit 3; returns the message.
template<typename Action>
std::string integrity_error(Action&& action)
{
  const auto error = escrow::test::error_of(std::forward<Action>(action));
  REQUIRE(error.has_value());
  CHECK(error->exit_code() == 3);
  return require_error(ErrorKind::integrity, std::forward<Action>(action));
}

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

std::filesystem::path temp_journal(const std::string& line)
{
  const auto path = std::filesystem::temp_directory_path() / ("escrow-vocabulary-" + std::to_string(::getpid()) + ".journal");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << line << '\n';
  return path;
}

} // namespace

TEST_CASE("vocabulary: every name round-trips and parsing is exact", "[records][journal]")
{
  check_round_trip(k_roles, role_name, parse_role);
  check_round_trip(k_version_states, version_state_name, parse_version_state);
  check_round_trip(k_secret_states, secret_state_name, parse_secret_state);
  check_round_trip(k_connector_kinds, connector_kind_name, parse_connector_kind);
  check_round_trip(k_http_methods, http_method_name, parse_http_method);
  check_round_trip(journal_actions(), journal_action_name, parse_journal_action);
  check_round_trip(journal_results(), journal_result_name, parse_journal_result);
  CHECK(journal_actions().size() == 36); // 29 + import, backup, restore, drill, rehearse-setup, rehearsal, connector-auth
  CHECK(journal_results().size() == 7);
  // Case and spelling are exact: no near misses are accepted.
  CHECK(!parse_role("Admin").has_value());
  CHECK(!parse_version_state("current ").has_value());
  CHECK(!parse_journal_action("rotate_start").has_value());
  CHECK(parse_journal_action("rotate-start") == JournalAction::rotate_start);
  CHECK(!parse_journal_result("rolled_back").has_value());
}

TEST_CASE("vocabulary: roles are written in the order their names sort, as the format always was", "[records]")
{
  std::vector<std::string> names;
  for (const Role role : k_roles) {
    names.emplace_back(role_name(role));
  }
  CHECK(std::is_sorted(names.begin(), names.end()));
  // Read in any order, written sorted: the bytes a std::set<std::string> wrote before.
  const MemberRecord member =
    member_from_json(member_json({"rotator", "auditor", "admin"}), "bob", "v: members/bob");
  CHECK(member.roles == std::set<Role>{Role::admin, Role::auditor, Role::rotator});
  CHECK(canonical::dump(to_json(member)["roles"]) == R"(["admin","auditor","rotator"])");
  // --json output and fmt print names, never numbers.
  CHECK(Json(member.roles).dump() == R"(["admin","auditor","rotator"])");
  CHECK(Json(VersionState::compromised) == "compromised");
  CHECK(Json(JournalAction::grant_used) == "grant-used");
  CHECK(Json(JournalResult::rollback_incomplete) == "rollback-incomplete");
  CHECK(fmt::format("{} {} {}", ConnectorKind::manual, SecretState::retired, JournalAction::member_remove)
        == "manual retired member-remove");
  CHECK(join_roles(member.roles, ",") == "admin,auditor,rotator");
}

TEST_CASE("vocabulary: records round-trip byte for byte with every name", "[records]")
{
  for (const ConnectorKind kind : k_connector_kinds) {
    const Json json = connector_json(std::string(connector_kind_name(kind)));
    const ConnectorRecord record = connector_from_json(json, "crm", "c");
    CHECK(record.kind == kind);
    CHECK(canonical::dump(to_json(record)) == canonical::dump(json));
  }
  for (const HttpMethod method : k_http_methods) {
    const Json json = connector_json("http", std::string(http_method_name(method)));
    const ConnectorRecord record = connector_from_json(json, "crm", "c");
    CHECK(record.method == method);
    CHECK(canonical::dump(to_json(record)) == canonical::dump(json));
  }
  for (const SecretState state : k_secret_states) {
    for (const VersionState version_state : k_version_states) {
      const Json json = secret_json(std::string(secret_state_name(state)), std::string(version_state_name(version_state)));
      const SecretRecord record = secret_from_json(json, "prod/db", "s");
      CHECK(record.state == state);
      CHECK(record.versions.at(0).state == version_state);
      CHECK(canonical::dump(to_json(record)) == canonical::dump(json));
    }
  }
}

TEST_CASE("vocabulary: an unknown name in a record is an integrity error naming the file and field", "[records]")
{
  CHECK(integrity_error([] { (void)member_from_json(member_json({"approver", "superuser"}), "bob", "v.vault: members/bob"); })
        == R"(v.vault: members/bob: unknown role "superuser" in "roles")");
  CHECK(integrity_error([] { (void)member_from_json(member_json({"Admin"}), "bob", "v.vault: members/bob"); })
        == R"(v.vault: members/bob: unknown role "Admin" in "roles")");
  CHECK(integrity_error([] { (void)connector_from_json(connector_json("mariadb"), "crm", "v.vault: connectors/crm"); })
        == R"(v.vault: connectors/crm: unknown connector kind "mariadb" in "kind")");
  CHECK(integrity_error([] { (void)connector_from_json(connector_json("http", "put"), "crm", "v.vault: connectors/crm"); })
        == R"(v.vault: connectors/crm: unknown HTTP method "put" in "method")");
  CHECK(integrity_error([] { (void)secret_from_json(secret_json("deleted", "current"), "prod/db", "v.vault: secrets/prod/db"); })
        == R"(v.vault: secrets/prod/db: unknown secret state "deleted" in "state")");
  CHECK(integrity_error([] { (void)secret_from_json(secret_json("active", "lost"), "prod/db", "v.vault: secrets/prod/db"); })
        == R"(v.vault: secrets/prod/db: unknown version state "lost" in "state")");
  // A wrong type is still refused as a wrong type, before any name is looked up.
  Json json = connector_json("command");
  json["kind"] = 1;
  CHECK(integrity_error([&] { (void)connector_from_json(json, "crm", "c"); }) == R"(c: "kind" must be a string)");
  // Control bytes from a hostile file never reach the message raw.
  const std::string message =
    integrity_error([] { (void)connector_from_json(connector_json("x\x1b[2Jy"), "crm", "c"); });
  CHECK(message.find('\x1b') == std::string::npos);
  CHECK_THAT(message, Catch::Contains("unknown connector kind \"x?[2Jy\""));
}

TEST_CASE("vocabulary: an unknown journal action or result is an integrity error naming the line and field", "[journal]")
{
  JournalEntry entry;
  entry.ts = 1'700'000'000;
  entry.actor = "alice";
  entry.action = JournalAction::rotate_failed;
  entry.result = JournalResult::rolling_back;
  entry.host = "laptop";
  entry.vault = "dmF1bHQ=";
  entry.hash = "aGFzaA==";
  entry.sig = "c2ln";
  const Json good = to_json(entry);
  CHECK(good["action"] == "rotate-failed");
  CHECK(good["result"] == "rolling-back");
  const JournalEntry back = journal_entry_from_json(good, "j");
  CHECK(back.action == JournalAction::rotate_failed);
  CHECK(back.result == JournalResult::rolling_back);
  CHECK(canonical::dump(to_json(back)) == canonical::dump(good));

  Json bad = good;
  bad["action"] = "teleport";
  const auto path = temp_journal(canonical::dump(good) + "\n" + canonical::dump(bad));
  const Journal journal(path);
  CHECK(integrity_error([&] { (void)journal.read_all(); })
        == path.string() + R"(: line 2: unknown action "teleport" in "action")");
  bad = good;
  bad["result"] = "no";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << canonical::dump(bad) << '\n';
  CHECK(integrity_error([&] { (void)journal.read_all(); })
        == path.string() + R"(: line 1: unknown result "no" in "result")");
  std::filesystem::remove(path);
}
