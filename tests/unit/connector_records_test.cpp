// The connector record's native-kind fields and the secret's escrow_only flag: each kind writes
// exactly its own fields, parsing is strict (another kind's field, a missing one, a wrong type or
// range is Error(integrity)), and records of the older kinds keep their bytes.
#include "foundation_support.hpp"

#include <escrow/records.hpp>

using namespace escrow;
using escrow::test::require_error;

namespace {

ConnectorRecord base(ConnectorKind kind)
{
  ConnectorRecord r;
  r.name = "c1";
  r.env = "prod";
  r.kind = kind;
  r.timeout = 30;
  r.created_at = 1700000000;
  r.by = "alice";
  return r;
}

ConnectorRecord postgres()
{
  ConnectorRecord r = base(ConnectorKind::postgres);
  r.conninfo = "host=127.0.0.1 port=5432 dbname=app user=admin";
  r.role = "app_user";
  r.auth_secret = "prod/pg-admin";
  return r;
}

ConnectorRecord http()
{
  ConnectorRecord r = base(ConnectorKind::http);
  r.url = "https://api.example.com/v1/secret";
  r.method = HttpMethod::patch;
  r.body = "{\n  \"value\": \"{{value}}\"\n}";
  r.headers = {"Authorization: Bearer {{auth}}", "X-Team: ops"};
  r.expect_status = 204;
  r.verify_url = "https://api.example.com/v1/health";
  r.verify_expect_status = 200;
  r.cacert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  r.auth_secret = "prod/api-token";
  return r;
}

ConnectorRecord node_red()
{
  ConnectorRecord r = base(ConnectorKind::node_red);
  r.url = "http://127.0.0.1:1880";
  r.node = "db-config";
  r.field = "password";
  r.auth_user = "admin";
  r.auth_secret = "prod/nr-admin";
  r.verify_url = "http://127.0.0.1:1880/check";
  r.verify_expect_status = 200;
  return r;
}

ConnectorRecord parse(const Json& json)
{
  return connector_from_json(json, "c1", "vault: connector c1");
}

void same(const ConnectorRecord& a, const ConnectorRecord& b)
{
  CHECK(to_json(a) == to_json(b));
  CHECK(a.kind == b.kind);
  CHECK(a.auth_secret == b.auth_secret);
  CHECK(a.conninfo == b.conninfo);
  CHECK(a.role == b.role);
  CHECK(a.url == b.url);
  CHECK(a.method == b.method);
  CHECK(a.body == b.body);
  CHECK(a.headers == b.headers);
  CHECK(a.expect_status == b.expect_status);
  CHECK(a.verify_url == b.verify_url);
  CHECK(a.verify_expect_status == b.verify_expect_status);
  CHECK(a.cacert == b.cacert);
  CHECK(a.node == b.node);
  CHECK(a.field == b.field);
  CHECK(a.auth_user == b.auth_user);
}

std::string refused(Json json)
{
  return require_error(ErrorKind::integrity, [&] { (void)parse(json); });
}

} // namespace

TEST_CASE("connector records: each native kind round-trips with exactly its own fields", "[records][connector]")
{
  same(parse(to_json(postgres())), postgres());
  same(parse(to_json(http())), http());
  same(parse(to_json(node_red())), node_red());
  CHECK(to_json(http())["method"] == "PATCH");
  CHECK(to_json(node_red())["kind"] == "node-red");
  // The older kinds write none of the new fields: their bytes do not change.
  const Json command = to_json(base(ConnectorKind::command));
  for (const char* key : {"auth_secret", "conninfo", "role", "url", "method", "body", "headers", "node", "field",
                          "auth_user", "verify_url", "cacert"}) {
    CHECK_FALSE(command.contains(key));
  }
  CHECK_FALSE(to_json(postgres()).contains("url"));
  CHECK_FALSE(to_json(node_red()).contains("body"));
}

TEST_CASE("connector records: the native fields are parsed strictly", "[records][connector]")
{
  // Another kind's field.
  Json json = to_json(postgres());
  json["url"] = "https://x";
  CHECK(refused(json) == "vault: connector c1: unknown field \"url\"");
  json = to_json(base(ConnectorKind::command));
  json["auth_secret"] = "prod/x";
  CHECK(refused(json) == "vault: connector c1: unknown field \"auth_secret\"");
  // A missing one.
  json = to_json(http());
  json.erase("headers");
  CHECK(refused(json) == "vault: connector c1: missing \"headers\"");
  // Wrong values.
  json = to_json(http());
  json["method"] = "DELETE";
  CHECK(refused(json) == "vault: connector c1: unknown HTTP method \"DELETE\" in \"method\"");
  json = to_json(http());
  json["expect_status"] = 99;
  CHECK_THAT(refused(json), Catch::Contains("\"expect_status\" must be 100-599"));
  json = to_json(http());
  json["verify_url"] = "";
  CHECK_THAT(refused(json), Catch::Contains("\"verify_expect_status\" must be 100-599 with a verify_url, else 0"));
  json = to_json(http());
  json["url"] = "ftp://x";
  CHECK(refused(json) == "vault: connector c1: \"url\" must be an http:// or https:// URL");
  json = to_json(http());
  json["headers"] = Json::array({"X-Evil: a\r\nX-Other: b"});
  CHECK(refused(json) == "vault: connector c1: \"headers\" must list \"Name: value\" lines");
  json = to_json(http());
  json["cacert"] = "not a certificate";
  CHECK(refused(json) == "vault: connector c1: \"cacert\" must hold PEM certificates");
  json = to_json(postgres());
  json["auth_secret"] = "staging/pg-admin";
  CHECK(refused(json) == "vault: connector c1: \"auth_secret\" names a secret of another environment");
  json["auth_secret"] = "not a name";
  CHECK(refused(json) == "vault: connector c1: \"auth_secret\" is not a secret name (ENV/NAME)");
  json = to_json(postgres());
  json["role"] = "";
  CHECK(refused(json) == "vault: connector c1: a postgres connector needs \"conninfo\" and \"role\"");
  json = to_json(postgres());
  json["conninfo"] = "host=x\u0001";
  CHECK_THAT(refused(json), Catch::Contains("\"conninfo\" must be UTF-8 text of at most 4096 bytes"));
  json = to_json(node_red());
  json["auth_secret"] = "";
  CHECK(refused(json) == "vault: connector c1: \"auth_user\" and \"auth_secret\" go together");
  json = to_json(node_red());
  json["verify_url"] = "";
  json["verify_expect_status"] = 0;
  CHECK(refused(json) == "vault: connector c1: \"verify_url\" must be an http:// or https:// URL");
}

TEST_CASE("secret records: escrow_only is written only when true", "[records]")
{
  SecretRecord secret;
  secret.env = "prod";
  secret.name = "token";
  secret.owner = "alice";
  secret.created_at = 1700000000;
  secret.by = "alice";
  CHECK_FALSE(to_json(secret).contains("escrow_only"));
  CHECK_FALSE(secret_from_json(to_json(secret), "prod/token", "s").escrow_only);
  secret.escrow_only = true;
  Json json = to_json(secret);
  CHECK(json["escrow_only"] == true);
  CHECK(secret_from_json(json, "prod/token", "s").escrow_only);
  json["escrow_only"] = false;
  CHECK(require_error(ErrorKind::integrity, [&] { (void)secret_from_json(json, "prod/token", "s"); })
        == "s: \"escrow_only\" is written only as true, and only without connectors");
  json["escrow_only"] = true;
  json["connectors"] = Json::array({"c1"});
  CHECK(require_error(ErrorKind::integrity, [&] { (void)secret_from_json(json, "prod/token", "s"); })
        == "s: \"escrow_only\" is written only as true, and only without connectors");
}

TEST_CASE("connector records: the mysql kind and postgres alternating roles", "[records][connector][mysql]")
{
  ConnectorRecord mysql = base(ConnectorKind::mysql);
  mysql.conninfo = "host=127.0.0.1 port=3306 user=escrow_admin";
  mysql.db_user = "app";
  mysql.db_host = "10.0.0.%";
  mysql.auth_secret = "prod/my-admin";
  const ConnectorRecord back = parse(to_json(mysql));
  same(back, mysql);
  CHECK(back.db_user == "app");
  CHECK(back.db_host == "10.0.0.%");
  CHECK(to_json(mysql)["kind"] == "mysql");
  CHECK_FALSE(to_json(mysql).contains("role"));
  Json json = to_json(mysql);
  json.erase("host");
  CHECK(refused(json) == "vault: connector c1: missing \"host\"");
  json = to_json(mysql);
  json["user"] = "";
  CHECK(refused(json) == "vault: connector c1: a mysql connector needs \"conninfo\", \"user\" and \"host\"");
  json = to_json(mysql);
  json["role"] = "app";
  CHECK(refused(json) == "vault: connector c1: unknown field \"role\"");

  // A postgres record without alternate_role keeps its bytes; with one, it round-trips.
  CHECK_FALSE(to_json(postgres()).contains("alternate_role"));
  ConnectorRecord alternating = postgres();
  alternating.alternate_role = "app_green";
  const ConnectorRecord parsed = parse(to_json(alternating));
  CHECK(parsed.alternate_role == "app_green");
  CHECK(to_json(parsed) == to_json(alternating));
  json = to_json(alternating);
  json["alternate_role"] = alternating.role;
  CHECK(refused(json) == "vault: connector c1: \"alternate_role\" must name a second role");
  json["alternate_role"] = "";
  CHECK(refused(json) == "vault: connector c1: \"alternate_role\" must name a second role");
}
