// records: strict from_json/to_json for every record, the signing message (label, vault id,
// path, canonical body minus sig and nested signed lists), and names.
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/records.hpp>

using namespace escrow;
using escrow::test::require_error;

namespace {

const std::string k_key = canonical::b64(Bytes(32, 1));
const std::string k_sig = canonical::b64(Bytes(64, 2));
const std::string k_sealed = canonical::b64(Bytes(80, 3));

Json member_json()
{
  return Json{{"sign_pk", k_key},     {"box_pk", k_key},
              {"roles", {"approver"}}, {"envs", {"prod"}},
              {"added_by", "alice"},   {"added_at", "2026-01-15T09:00:00Z"},
              {"by", "alice"},         {"sig", k_sig}};
}

Json version_json()
{
  return Json{{"v", 1},
              {"state", "current"},
              {"created_at", "2026-01-15T09:00:00Z"},
              {"created_by", "alice"},
              {"why", "added"},
              {"nonce", canonical::b64(Bytes(24, 4))},
              {"ciphertext", canonical::b64(Bytes(20, 5))},
              {"dk_commit", canonical::b64(Bytes(32, 6))},
              {"wrapped", {{"alice", k_sealed}}},
              {"shares", {{"bob", k_sealed}}},
              {"granted", Json::object()},
              {"by", "alice"},
              {"sig", k_sig}};
}

Json secret_json()
{
  return Json{{"env", "prod"},         {"name", "db"},          {"owner", "alice"},
              {"purpose", "orders"},  {"tier", "standard"},    {"connectors", Json::array()},
              {"every", "30d"},       {"generator", ""},       {"after_access", false},
              {"custodians", {"bob"}}, {"threshold", 1},        {"shared_with", Json::array()},
              {"due", ""},            {"due_since", ""},       {"state", "active"},
              {"created_at", "2026-01-15T09:00:00Z"},           {"versions", {version_json()}},
              {"requests", Json::array()}, {"by", "alice"},    {"sig", k_sig}};
}

std::string secret_problem(const Json& json)
{
  return require_error(ErrorKind::integrity, [&] { (void)secret_from_json(json, "prod/db", "v: secrets/prod/db"); });
}

std::string member_problem(const Json& json)
{
  return require_error(ErrorKind::integrity, [&] { (void)member_from_json(json, "bob", "v: members/bob"); });
}

} // namespace

TEST_CASE("records: every record round-trips through its JSON", "[records]")
{
  const MemberRecord member = member_from_json(member_json(), "bob", "m");
  CHECK(member.name == "bob");
  CHECK(member.active());
  CHECK(member.has_role(Role::approver));
  CHECK_FALSE(member.has_role(Role::admin));
  CHECK(member.reaches("prod"));
  CHECK_FALSE(member.reaches("dev"));
  CHECK(to_json(member) == member_json());

  Json removed = member_json();
  removed["removed_at"] = "2026-02-01T12:00:00Z";
  removed["removed_by"] = "alice";
  CHECK_FALSE(member_from_json(removed, "bob", "m").active());
  CHECK(to_json(member_from_json(removed, "bob", "m")) == removed);

  const SecretRecord secret = secret_from_json(secret_json(), "prod/db", "s");
  CHECK(secret.full_name() == "prod/db");
  CHECK(secret.every == 30 * 86400);
  REQUIRE(secret.current() != nullptr);
  CHECK(secret.current()->v == 1);
  CHECK(secret.next_version() == 2);
  CHECK(secret.find_version(1) == secret.current());
  CHECK(secret.find_version(2) == nullptr);
  CHECK(to_json(secret) == secret_json());

  const Json policy{{"envs", {{"*", {{"min_threshold", 1}, {"max_ttl", "1d"}, {"require_why", true}, {"every", ""}, {"keep", 3}}},
                              {"prod", {{"min_threshold", 2}, {"max_ttl", "4h"}, {"require_why", true}, {"every", "30d"}, {"keep", 5}}}}},
                    {"notify", ""},
                    {"by", "alice"},
                    {"sig", k_sig}};
  const PolicyRecord parsed_policy = policy_from_json(policy, "p");
  CHECK(parsed_policy.for_env("prod").min_threshold == 2);
  CHECK(parsed_policy.for_env("dev").max_ttl == 86400);
  CHECK(to_json(parsed_policy) == policy);

  const Json connector{{"env", "prod"},   {"kind", "command"}, {"update", "./update"}, {"verify", "./verify"},
                       {"instructions", ""}, {"timeout", 60},   {"created_at", "2026-01-15T09:00:00Z"},
                       {"by", "alice"},   {"sig", k_sig}};
  CHECK(to_json(connector_from_json(connector, "crm", "c")) == connector);
}

TEST_CASE("records: from_json is strict", "[records]")
{
  Json json = member_json();
  json["extra"] = 1;
  CHECK(member_problem(json) == "v: members/bob: unknown field \"extra\"");
  json = member_json();
  json.erase("added_at");
  CHECK(member_problem(json) == "v: members/bob: missing \"added_at\"");
  json = member_json();
  json["added_at"] = "2026-01-15T10:00:00+01:00"; // a time, but not the one UTC spelling
  CHECK_THAT(member_problem(json), Catch::Contains("not a UTC time"));
  json = member_json();
  json["roles"] = {"approver", "superuser"};
  CHECK_THAT(member_problem(json), Catch::Contains("unknown role"));
  json = member_json();
  json["roles"] = {"approver", "approver"};
  CHECK_THAT(member_problem(json), Catch::Contains("twice"));
  json = member_json();
  json["envs"] = {"Prod"};
  CHECK_THAT(member_problem(json), Catch::Contains("invalid environment"));
  json = member_json();
  json["sign_pk"] = canonical::b64(Bytes(31, 1));
  CHECK_THAT(member_problem(json), Catch::Contains("\"sign_pk\" has the wrong length"));
  json = member_json();
  json["sig"] = "not base64!";
  CHECK_THAT(member_problem(json), Catch::Contains("invalid base64"));
  json = member_json();
  json["by"] = 7;
  CHECK_THAT(member_problem(json), Catch::Contains("\"by\" must be a string"));
  require_error(ErrorKind::integrity, [] { (void)member_from_json(member_json(), "bad name", "m"); });
  require_error(ErrorKind::integrity, [] { (void)member_from_json(Json::array(), "bob", "m"); });

  Json secret = secret_json();
  secret["name"] = "other";
  CHECK_THAT(secret_problem(secret), Catch::Contains("do not match the record's key"));
  secret = secret_json();
  secret["threshold"] = 2;
  CHECK_THAT(secret_problem(secret), Catch::Contains("threshold"));
  secret = secret_json();
  secret["state"] = "deleted";
  CHECK_THAT(secret_problem(secret), Catch::Contains("unknown secret state"));
  secret = secret_json();
  secret["every"] = "soon";
  CHECK_THAT(secret_problem(secret), Catch::Contains("\"every\" is not a duration"));
  secret = secret_json();
  secret["versions"].push_back(version_json());
  CHECK_THAT(secret_problem(secret), Catch::Contains("version 1 appears twice"));
  secret = secret_json();
  Json second = version_json();
  second["v"] = 2;
  secret["versions"].push_back(second);
  CHECK_THAT(secret_problem(secret), Catch::Contains("more than one current version"));
  secret = secret_json();
  secret["versions"][0]["state"] = "lost";
  CHECK_THAT(secret_problem(secret), Catch::Contains("unknown version state"));
  secret = secret_json();
  secret["versions"][0]["nonce"] = canonical::b64(Bytes(12, 4));
  CHECK_THAT(secret_problem(secret), Catch::Contains("\"nonce\" has the wrong length"));
  secret = secret_json();
  secret["versions"][0]["wrapped"]["alice"] = canonical::b64(Bytes(48, 1));
  CHECK_THAT(secret_problem(secret), Catch::Contains("too short"));
  secret = secret_json();
  secret["versions"][0]["wrapped"]["not valid"] = k_sealed;
  CHECK_THAT(secret_problem(secret), Catch::Contains("invalid member"));
  secret = secret_json();
  secret["versions"][0]["v"] = std::int64_t{1} << 50;
  CHECK_THAT(secret_problem(secret), Catch::Contains("out of range"));
  secret = secret_json();
  secret["versions"][0]["v"] = 0;
  CHECK_THAT(secret_problem(secret), Catch::Contains("out of range"));
  secret = secret_json();
  secret["requests"].push_back(Json{{"id", "abc"}, {"why", "x"}, {"ttl", INT64_MAX}, {"created_at", "2026-01-15T09:00:00Z"},
                                    {"approvals", Json::array()}, {"by", "bob"}, {"sig", k_sig}});
  CHECK_THAT(secret_problem(secret), Catch::Contains("\"ttl\" is out of range"));
  secret["requests"][0]["ttl"] = 3600;
  secret["requests"][0]["id"] = "ABC";
  CHECK_THAT(secret_problem(secret), Catch::Contains("invalid request id"));
  secret["requests"][0]["id"] = "abc";
  CHECK_NOTHROW(secret_from_json(secret, "prod/db", "s"));
  secret = secret_json();
  secret["purpose"] = 5;
  CHECK_THAT(secret_problem(secret), Catch::Contains("\"purpose\" must be a string"));
}

TEST_CASE("records: the signing message binds label, vault id and path, not the signature or nested records", "[records]")
{
  const Bytes vault_a(16, 0xAA);
  const Bytes vault_b(16, 0xBB);
  Json body = secret_json();
  const Bytes message = signing_message(vault_a, "secrets/prod/db", body);
  // vault_id || path || 0x00 || canonical(body without sig, versions, requests)
  Json stripped = body;
  stripped.erase("sig");
  stripped.erase("versions");
  stripped.erase("requests");
  Bytes expected(vault_a.begin(), vault_a.end());
  const std::string path = "secrets/prod/db";
  expected.insert(expected.end(), path.begin(), path.end());
  expected.push_back(0);
  const std::string canonical_body = canonical::dump(stripped);
  expected.insert(expected.end(), canonical_body.begin(), canonical_body.end());
  CHECK(message == expected);

  // Nested signed lists and the signature itself do not change the message.
  Json changed = body;
  changed["versions"] = Json::array();
  changed["sig"] = canonical::b64(Bytes(64, 9));
  CHECK(signing_message(vault_a, "secrets/prod/db", changed) == message);

  const crypto::SignKeypair keys = crypto::sign_keypair();
  const crypto::Signature sig = sign_body(vault_a, "secrets/prod/db", body, keys.secret_key);
  CHECK(verify_body(vault_a, "secrets/prod/db", body, sig, keys.public_key));
  CHECK_FALSE(verify_body(vault_b, "secrets/prod/db", body, sig, keys.public_key)); // copied from another vault
  CHECK_FALSE(verify_body(vault_a, "secrets/prod/db2", body, sig, keys.public_key)); // moved to another name
  Json owner = body;
  owner["owner"] = "mallory";
  CHECK_FALSE(verify_body(vault_a, "secrets/prod/db", owner, sig, keys.public_key));
  // A raw signature of the same bytes under another label does not pass as a record signature.
  const crypto::Signature other = crypto::sign("escrow/v1/head", message, keys.secret_key);
  CHECK_FALSE(verify_body(vault_a, "secrets/prod/db", body, other, keys.public_key));

  CHECK(member_path("bob") == "members/bob");
  CHECK(connector_path("crm") == "connectors/crm");
  CHECK(secret_path("prod/db") == "secrets/prod/db");
  CHECK(version_path("prod/db", 3) == "secrets/prod/db#v3");
  CHECK(request_path("prod/db", "r1") == "secrets/prod/db#request/r1");
  CHECK(approval_path("prod/db", "r1", "bob") == "secrets/prod/db#request/r1/approval/bob");
  CHECK(denial_path("prod/db", "r1") == "secrets/prod/db#request/r1/denial");
}

TEST_CASE("records: secret names", "[records]")
{
  CHECK(split_secret_name("prod/stripe-key") == std::pair<std::string, std::string>{"prod", "stripe-key"});
  CHECK(split_secret_name("dev/a/b.c_d") == std::pair<std::string, std::string>{"dev", "a/b.c_d"});
  CHECK(split_secret_name("x/" + std::string(128, 'n')).second.size() == 128);
  const std::pair<std::string, std::string> bad[] = {
    {std::string("prod/a\0b", 8), "NUL"},
    {"prod/a/../b", "'..'"},
    {"prod/..", "'..'"},
    {"prod/./a", "'..'"},
    {"prod/a//b", "empty path segment"},
    {"prod/a/", "empty path segment"},
    {"prod/", "1-128"},
    {"prod", "ENV/NAME"},
    {"/name", "environment"},
    {"Prod/x", "environment"},
    {std::string(33, 'e') + "/x", "environment"},
    {"prod/" + std::string(129, 'n'), "1-128"},
    {"prod/a b", "letters, digits"},
    {"prod/\xC3\xA9", "letters, digits"},
    {"prod/\xFF", "UTF-8"},
    {"prod/a\\b", "letters, digits"},
  };
  for (const auto& [name, reason] : bad) {
    INFO(name);
    const std::string message = require_error(ErrorKind::usage, [&] { (void)split_secret_name(name); });
    CHECK_THAT(message, Catch::StartsWith("invalid secret name: ") && Catch::Contains(reason));
  }
  CHECK(valid_env_name("prod"));
  CHECK(valid_env_name("eu-west_1"));
  CHECK_FALSE(valid_env_name(""));
  CHECK_FALSE(valid_env_name("*"));
  CHECK_FALSE(valid_env_name("Prod"));
}

TEST_CASE("records: roles and the vault id", "[records]")
{
  for (Role role : {Role::admin, Role::approver, Role::requester, Role::rotator, Role::auditor}) {
    CHECK(parse_role(role_name(role)) == role);
  }
  CHECK_FALSE(parse_role("root").has_value());

  MemberRecord genesis = member_from_json(member_json(), "alice", "m");
  genesis.genesis = canonical::b64(Bytes(16, 7));
  const auto id = derive_vault_id(genesis);
  CHECK(derive_vault_id(genesis) == id);
  genesis.genesis = canonical::b64(Bytes(16, 8));
  CHECK(derive_vault_id(genesis) != id); // a fresh salt makes a fresh vault
  genesis.genesis = canonical::b64(Bytes(16, 7));
  genesis.roles.insert(Role::admin); // roles are not part of the id
  CHECK(derive_vault_id(genesis) == id);
  genesis.added_at += 1;
  CHECK(derive_vault_id(genesis) != id);
}
