// The node-red connector kind against a fake Admin API on loopback: the login (password grant),
// GET /flows (v2), POST /flows with the config node's credential and the document's rev
// (deployment type "nodes"), the token revoked, the verify request; and the refusals.
#include "foundation_support.hpp"
#include "loopback_server.hpp"

#include <escrow/canonical.hpp>
#include <escrow/connectors/connector.hpp>

#include <mutex>

using namespace escrow;
using escrow::test::HttpReply;
using escrow::test::HttpRequest;
using escrow::test::LoopbackServer;
using escrow::test::require_error;

namespace {

const char* const k_flows = R"({"rev":"rev-1","flows":[
  {"id":"tab1","type":"tab","label":"Flow 1"},
  {"id":"db-config","type":"MySQLdatabase","host":"127.0.0.1","user":"app","db":"app"},
  {"id":"q1","type":"mysql","z":"tab1","mydb":"db-config","wires":[]}]})";

// The Admin API's answers; `flows_status` and `deploy_status` break it on purpose.
struct FakeNodeRed
{
  int flows_status = 200;
  int deploy_status = 200;
  int verify_status = 200;
  int login_status = 200;
  bool admin_auth = true;

  HttpReply operator()(const HttpRequest& request) const
  {
    const bool authorised = !admin_auth || request.header("authorization") == "Bearer tok-123";
    if (request.method == "POST" && request.path == "/auth/token") {
      return login_status == 200 ? HttpReply{200, R"({"access_token":"tok-123","expires_in":604800,"token_type":"Bearer"})"}
                                 : HttpReply{login_status, R"({"error":"unauthorized"})"};
    }
    if (request.method == "POST" && request.path == "/auth/revoke") {
      return HttpReply{200, ""};
    }
    if (!authorised && request.path == "/flows") {
      return HttpReply{401, "Unauthorized"};
    }
    if (request.method == "GET" && request.path == "/flows") {
      return HttpReply{flows_status, k_flows};
    }
    if (request.method == "POST" && request.path == "/flows") {
      // A real Node-RED may quote what it rejects: the test server echoes the body.
      return deploy_status == 200 ? HttpReply{200, R"({"rev":"rev-2"})"} : HttpReply{deploy_status, request.body};
    }
    if (request.method == "GET" && request.path == "/check") {
      return HttpReply{verify_status, "{}"};
    }
    return HttpReply{404, "not found"};
  }
};

ConnectorRecord node_red_record(const LoopbackServer& server, bool with_auth)
{
  connector::Spec spec;
  spec.name = "flows";
  spec.env = "prod";
  spec.kind = ConnectorKind::node_red;
  spec.url = server.url();
  spec.node = "db-config";
  spec.field = "password";
  spec.verify_url = server.url("/check");
  spec.timeout = 10;
  if (with_auth) {
    spec.auth_user = "admin";
    spec.auth_secret = "prod/node-red-admin";
  }
  connector::validate(spec);
  return connector::record_of(spec);
}

connector::StepResult run(const ConnectorRecord& record, connector::Step step, const SecretBytes& value,
                          const SecretBytes* auth)
{
  Redactor redactor;
  redactor.add("prod/db@v2", value);
  if (auth != nullptr) {
    redactor.add("prod/node-red-admin (auth)", *auth);
  }
  connector::Invocation invocation{"prod/db", "prod", 2, 1, connector::Action::rotate};
  invocation.auth = auth;
  return connector::run_step(record, step, invocation, value, redactor);
}

} // namespace

TEST_CASE("node-red connector: connector add needs url, node, field and verify URL", "[connector][node-red]")
{
  connector::Spec spec;
  spec.name = "flows";
  spec.env = "prod";
  spec.kind = ConnectorKind::node_red;
  spec.url = "http://127.0.0.1:1880";
  spec.node = "db-config";
  spec.field = "password";
  CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
        == "connector flows: a node-red connector needs --url, --node, --field and --verify-url");
  spec.verify_url = "http://127.0.0.1:1880/check";
  connector::validate(spec);
  spec.auth_user = "admin";
  CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
        == "connector flows: --auth-user and --auth-secret go together (Node-RED's adminAuth login)");
  spec.auth_secret = "prod/nr-admin";
  connector::validate(spec);
  spec.url = "http://node-red.internal:1880";
  CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
        == "connector flows: --url must be https:// (http:// only to a loopback host: 127.0.0.1, ::1, localhost)");
  spec.url = "https://node-red.internal";
  spec.body = "{\"v\": \"{{value}}\"}";
  CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
        == "connector flows: --body does not apply to node-red connectors");
  spec.body.clear();
  spec.verify_expect_status = 1000;
  CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
        == "connector flows: --verify-expect-status must be an HTTP status (100-599)");
}

TEST_CASE("node-red connector: logs in, sets the config node's credential, deploys with the rev", "[connector][node-red]")
{
  LoopbackServer server(FakeNodeRed{});
  const ConnectorRecord record = node_red_record(server, true);
  const SecretBytes value = SecretBytes::from("n3w \"pass\"\\word");
  const SecretBytes auth = SecretBytes::from("adm1n pass&=");
  const connector::StepResult result = run(record, connector::Step::update, value, &auth);
  INFO(result.output);
  REQUIRE(result.ok);
  CHECK(result.output == "credential password of node db-config deployed");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 4);
  // 1. the password grant, form-encoded.
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].path == "/auth/token");
  CHECK(requests[0].header("content-type") == "application/x-www-form-urlencoded");
  CHECK(requests[0].body
        == "client_id=node-red-admin&grant_type=password&scope=*&username=admin&password=adm1n%20pass%26%3D");
  // 2. the flows, v2, with the token.
  CHECK(requests[1].method == "GET");
  CHECK(requests[1].path == "/flows");
  CHECK(requests[1].header("node-red-api-version") == "v2");
  CHECK(requests[1].header("authorization") == "Bearer tok-123");
  // 3. the deploy: same document, the rev, the credential on the config node only.
  CHECK(requests[2].method == "POST");
  CHECK(requests[2].path == "/flows");
  CHECK(requests[2].header("node-red-deployment-type") == "nodes");
  CHECK(requests[2].header("node-red-api-version") == "v2");
  CHECK(requests[2].header("authorization") == "Bearer tok-123");
  const Json deployed = Json::parse(requests[2].body);
  Json expected = Json::parse(k_flows);
  expected["flows"][1]["credentials"] = Json{{"password", std::string(value.expose_view())}};
  CHECK(deployed == expected);
  // 4. the token revoked.
  CHECK(requests[3].path == "/auth/revoke");
  CHECK(requests[3].body == "token=tok-123");
  // The verify step: the flow's endpoint.
  CHECK(run(record, connector::Step::verify, value, &auth).ok);
  CHECK(server.requests().back().path == "/check");
}

TEST_CASE("node-red connector: without adminAuth there is no login and no token", "[connector][node-red]")
{
  FakeNodeRed fake;
  fake.admin_auth = false;
  LoopbackServer server(fake);
  const ConnectorRecord record = node_red_record(server, false);
  const SecretBytes value = SecretBytes::from("v4lue");
  REQUIRE(run(record, connector::Step::update, value, nullptr).ok);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].path == "/flows");
  CHECK(requests[0].header("authorization").empty());
  CHECK(requests[1].path == "/flows");
  CHECK(requests[1].method == "POST");
}

TEST_CASE("node-red connector: failures are steps that fail, never holding a value", "[connector][node-red]")
{
  const SecretBytes value = SecretBytes::from("n3w-value-77");
  const SecretBytes auth = SecretBytes::from("adm1n-pass-77");
  {
    // adminAuth on, but the connector has no login.
    LoopbackServer server(FakeNodeRed{});
    const connector::StepResult result = run(node_red_record(server, false), connector::Step::update, value, nullptr);
    CHECK_FALSE(result.ok);
    CHECK(result.output == "GET " + server.url("/flows") + " answered HTTP 401 (adminAuth is on: give --auth-user and --auth-secret)");
  }
  {
    FakeNodeRed fake;
    fake.login_status = 403;
    LoopbackServer server(fake);
    const connector::StepResult result = run(node_red_record(server, true), connector::Step::update, value, &auth);
    CHECK_FALSE(result.ok);
    CHECK(result.output == "the Admin API refused the login of admin (HTTP 403)");
    CHECK(server.requests().size() == 1);
  }
  {
    // The auth secret was not read.
    LoopbackServer server(FakeNodeRed{});
    const connector::StepResult result = run(node_red_record(server, true), connector::Step::update, value, nullptr);
    CHECK_FALSE(result.ok);
    CHECK(result.output == "its auth secret prod/node-red-admin was not read");
    CHECK(server.requests().empty());
  }
  {
    // The flows changed meanwhile.
    FakeNodeRed fake;
    fake.deploy_status = 409;
    LoopbackServer server(fake);
    const connector::StepResult result = run(node_red_record(server, true), connector::Step::update, value, &auth);
    CHECK_FALSE(result.ok);
    CHECK(result.output == "the flows changed while escrow deployed (HTTP 409 version_mismatch); nothing was deployed");
    CHECK(server.requests().back().path == "/auth/revoke"); // the token is revoked on failure too
  }
  {
    // A rejected deploy whose answer quotes the document: redacted.
    FakeNodeRed fake;
    fake.deploy_status = 400;
    LoopbackServer server(fake);
    const connector::StepResult result = run(node_red_record(server, true), connector::Step::update, value, &auth);
    CHECK_FALSE(result.ok);
    CHECK_THAT(result.output, Catch::StartsWith("POST " + server.url("/flows") + " answered HTTP 400: "));
    CHECK(result.output.find("n3w-value-77") == std::string::npos);
    CHECK(result.output.find("adm1n-pass-77") == std::string::npos);
  }
  {
    // No such node.
    LoopbackServer server(FakeNodeRed{});
    ConnectorRecord record = node_red_record(server, true);
    record.node = "missing";
    const connector::StepResult result = run(record, connector::Step::update, value, &auth);
    CHECK_FALSE(result.ok);
    CHECK(result.output == "the flows have no node with id missing");
    for (const auto& request : server.requests()) {
      CHECK_FALSE((request.method == "POST" && request.path == "/flows"));
    }
  }
  {
    // The flow's check keeps failing: three tries, then the step fails.
    FakeNodeRed fake;
    fake.verify_status = 500;
    LoopbackServer server(fake);
    const connector::StepResult result = run(node_red_record(server, true), connector::Step::verify, value, &auth);
    CHECK_FALSE(result.ok);
    CHECK(result.output == "GET " + server.url("/check") + " answered HTTP 500 (expected 200): {}");
    CHECK(server.requests().size() == 3);
  }
}
