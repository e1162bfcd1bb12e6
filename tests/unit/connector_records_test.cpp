// The native kinds' connector settings (records.hpp: put_native_settings /
// native_settings_from_json, the one spelling of escrow-vault/2's connector-add and `c:`): each
// kind writes exactly its own fields, parsing is strict (another kind's field, a missing one, a
// wrong type or range is Error(integrity)), and the command and manual kinds write none.
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

// The settings as escrow-vault/2 writes them.
Json to_json(const ConnectorRecord& r)
{
  Json json = Json::object();
  put_native_settings(json, r.kind, r);
  return json;
}

ConnectorRecord parse(ConnectorKind kind, const Json& json)
{
  ConnectorRecord r = base(kind);
  static_cast<ConnectorSettings&>(r) = native_settings_from_json(kind, "prod", json, "vault: connector c1");
  return r;
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

std::string refused(ConnectorKind kind, Json json)
{
  return require_error(ErrorKind::integrity, [&] { (void)parse(kind, json); });
}

} // namespace

TEST_CASE("connector settings: each native kind round-trips with exactly its own fields", "[records][connector]")
{
  same(parse(ConnectorKind::postgres, to_json(postgres())), postgres());
  same(parse(ConnectorKind::http, to_json(http())), http());
  same(parse(ConnectorKind::node_red, to_json(node_red())), node_red());
  CHECK(to_json(http())["method"] == "PATCH");
  // The command and manual kinds write none of the settings.
  const Json command = to_json(base(ConnectorKind::command));
  for (const char* key : {"auth_secret", "conninfo", "role", "url", "method", "body", "headers", "node", "field",
                          "auth_user", "verify_url", "cacert"}) {
    CHECK_FALSE(command.contains(key));
  }
  CHECK_FALSE(to_json(postgres()).contains("url"));
  CHECK_FALSE(to_json(node_red()).contains("body"));
}

TEST_CASE("connector settings: the native fields are parsed strictly", "[records][connector]")
{
  // Another kind's field.
  Json json = to_json(postgres());
  json["url"] = "https://x";
  CHECK(refused(ConnectorKind::postgres, json) == "vault: connector c1: unknown field \"url\"");
  json = to_json(base(ConnectorKind::command));
  json["auth_secret"] = "prod/x";
  CHECK(refused(ConnectorKind::command, json) == "vault: connector c1: unknown field \"auth_secret\"");
  // A missing one.
  json = to_json(http());
  json.erase("headers");
  CHECK(refused(ConnectorKind::http, json) == "vault: connector c1: missing \"headers\"");
  // Wrong values.
  json = to_json(http());
  json["method"] = "DELETE";
  CHECK(refused(ConnectorKind::http, json) == "vault: connector c1: unknown HTTP method \"DELETE\" in \"method\"");
  json = to_json(http());
  json["expect_status"] = 99;
  CHECK_THAT(refused(ConnectorKind::http, json), Catch::Contains("\"expect_status\" must be 100-599"));
  json = to_json(http());
  json["verify_url"] = "";
  CHECK_THAT(refused(ConnectorKind::http, json), Catch::Contains("\"verify_expect_status\" must be 100-599 with a verify_url, else 0"));
  json = to_json(http());
  json["url"] = "ftp://x";
  CHECK(refused(ConnectorKind::http, json) == "vault: connector c1: \"url\" must be an http:// or https:// URL");
  json = to_json(http());
  json["headers"] = Json::array({"X-Evil: a\r\nX-Other: b"});
  CHECK(refused(ConnectorKind::http, json) == "vault: connector c1: \"headers\" must list \"Name: value\" lines");
  json = to_json(http());
  json["cacert"] = "not a certificate";
  CHECK(refused(ConnectorKind::http, json) == "vault: connector c1: \"cacert\" must hold PEM certificates");
  json = to_json(postgres());
  json["auth_secret"] = "staging/pg-admin";
  CHECK(refused(ConnectorKind::postgres, json) == "vault: connector c1: \"auth_secret\" names a secret of another environment");
  json["auth_secret"] = "not a name";
  CHECK(refused(ConnectorKind::postgres, json) == "vault: connector c1: \"auth_secret\" is not a secret name (ENV/NAME)");
  json = to_json(postgres());
  json["role"] = "";
  CHECK(refused(ConnectorKind::postgres, json) == "vault: connector c1: a postgres connector needs \"conninfo\" and \"role\"");
  json = to_json(postgres());
  json["conninfo"] = "host=x\u0001";
  CHECK_THAT(refused(ConnectorKind::postgres, json), Catch::Contains("\"conninfo\" must be UTF-8 text of at most 4096 bytes"));
  json = to_json(node_red());
  json["auth_secret"] = "";
  CHECK(refused(ConnectorKind::node_red, json) == "vault: connector c1: \"auth_user\" and \"auth_secret\" go together");
  json = to_json(node_red());
  json["verify_url"] = "";
  json["verify_expect_status"] = 0;
  CHECK(refused(ConnectorKind::node_red, json) == "vault: connector c1: \"verify_url\" must be an http:// or https:// URL");
}
