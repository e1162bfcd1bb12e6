// The http connector kind: what `connector add` refuses, the request it sends (method, URL,
// headers, JSON body with the escaped value), the status checks, the verify request, and that no
// value reaches its output — against a loopback server the test runs.
#include "foundation_support.hpp"
#include "loopback_server.hpp"

#include <escrow/canonical.hpp>
#include <escrow/connectors/connector.hpp>
#include <escrow/connectors/kinds.hpp>
#include <escrow/connectors/web.hpp>

#include <thread>

using namespace escrow;
using escrow::test::HttpReply;
using escrow::test::HttpRequest;
using escrow::test::LoopbackServer;
using escrow::test::require_error;

namespace {

connector::Spec http_spec()
{
  connector::Spec spec;
  spec.name = "saas";
  spec.env = "prod";
  spec.kind = ConnectorKind::http;
  spec.url = "https://api.example.com/v1/secrets/db";
  spec.body = "{\"value\": \"{{value}}\"}";
  return spec;
}

ConnectorRecord http_record(const std::string& url, const std::string& body)
{
  connector::Spec spec = http_spec();
  spec.url = url;
  spec.body = body;
  spec.timeout = 5;
  ConnectorRecord record = connector::record_of(spec);
  return record;
}

struct Run
{
  SecretBytes value = SecretBytes::from("n3w-\"value\"\\é");
  SecretBytes old_value = SecretBytes::from("0ld-value-42");
  SecretBytes auth = SecretBytes::from("t0ken-Secret");
  bool with_auth = true;

  connector::StepResult operator()(const ConnectorRecord& record, connector::Step step)
  {
    Redactor redactor;
    redactor.add("prod/db@v2", value);
    redactor.add("prod/db@v1", old_value);
    redactor.add("prod/token (auth)", auth);
    connector::Invocation invocation{"prod/db", "prod", 2, 1, connector::Action::rotate};
    invocation.auth = with_auth ? &auth : nullptr;
    return connector::run_step(record, step, invocation, value, redactor);
  }
};

void refused(const connector::Spec& spec, const std::string& expected)
{
  CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); }) == expected);
}

} // namespace

TEST_CASE("http connector: connector add refuses what cannot work or would leak", "[connector][http]")
{
  connector::validate(http_spec());
  {
    connector::Spec spec = http_spec();
    spec.url.clear();
    refused(spec, "connector saas: an http connector needs --url URL and --body TEMPLATE");
  }
  {
    connector::Spec spec = http_spec();
    spec.url = "http://api.example.com/v1";
    refused(spec, "connector saas: --url must be https:// (http:// only to a loopback host: 127.0.0.1, ::1, localhost)");
    for (const char* loopback : {"http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:9/x", "http://127.1.2.3/"}) {
      spec.url = loopback;
      connector::validate(spec);
    }
    spec.url = "https://api.example.com/v1?key={{value}}";
    refused(spec, "connector saas: --url holds a placeholder (a value never goes into a URL)");
    spec.url = "https://user:pw@api.example.com/v1";
    refused(spec, "connector saas: --url holds a user or password (give credentials with --auth-secret)");
    spec.url = "ftp://api.example.com/v1";
    refused(spec, "connector saas: --url must be an https:// URL");
  }
  {
    connector::Spec spec = http_spec();
    spec.body = "{\"value\": \"fixed\"}";
    refused(spec, "connector saas: --body must hold {{value}} (where the new value goes)");
    spec.body = "{\"value\": {{value}}}";
    refused(spec, "connector saas: --body is not JSON once {{value}} is filled in");
    spec.body = "{\"value\": \"{{valeu}}\"}";
    refused(spec, "connector saas: --body: unknown placeholder {{valeu}} (placeholders are {{value}}, {{auth}} and {{role}})");
  }
  {
    connector::Spec spec = http_spec();
    spec.headers = {"X-Value: {{value}}"};
    refused(spec, "connector saas: {{value}} goes in the body only, never in a header");
    spec.headers = {"Authorization: Bearer {{auth}}"};
    refused(spec, "connector saas: {{auth}} needs --auth-secret ENV/NAME (the credential it stands for)");
    spec.auth_secret = "prod/saas-token";
    connector::validate(spec);
    spec.headers = {"no colon here"};
    refused(spec, "connector saas: --header must be \"Name: value\" with a name of letters, digits and -");
    spec.headers.clear();
    refused(spec, "connector saas: --auth-secret is used only through {{auth}} in --body or --header");
    spec.auth_secret = "staging/saas-token";
    spec.body = "{\"value\": \"{{value}}\", \"key\": \"{{auth}}\"}";
    refused(spec, "connector saas: --auth-secret staging/saas-token belongs to staging, not prod (environments never mix)");
  }
  {
    connector::Spec spec = http_spec();
    spec.expect_status = 42;
    refused(spec, "connector saas: --expect-status must be an HTTP status (100-599)");
    spec.expect_status = 204;
    spec.verify_expect_status = 200;
    refused(spec, "connector saas: --verify-expect-status needs --verify-url");
    spec.verify_url = "http://example.com/health";
    refused(spec, "connector saas: --verify-url must be https:// (http:// only to a loopback host: 127.0.0.1, ::1, localhost)");
  }
  {
    connector::Spec spec = http_spec();
    spec.role = "app";
    refused(spec, "connector saas: --role does not apply to http connectors");
    spec.role.clear();
    spec.update = "./push";
    refused(spec, "connector saas: --update does not apply to http connectors");
  }
  // The defaults a record gets.
  const ConnectorRecord record = connector::record_of(http_spec());
  CHECK(record.method == HttpMethod::put);
  CHECK(record.expect_status == 0);
  CHECK(record.verify_expect_status == 0);
  connector::Spec verified = http_spec();
  verified.verify_url = "https://api.example.com/health";
  CHECK(connector::record_of(verified).verify_expect_status == 200);
}

TEST_CASE("http connector: the update sends the value JSON-escaped in the body only", "[connector][http]")
{
  LoopbackServer server([](const HttpRequest&) { return HttpReply{201, "{\"ok\": true}"}; });
  ConnectorRecord record =
    http_record(server.url("/v1/secrets/db"), "{\"name\": \"db\", \"password\": \"{{value}}\", \"key\": \"{{auth}}\"}");
  record.method = HttpMethod::patch;
  record.headers = {"Authorization: Bearer {{auth}}", "X-Team: ops"};
  record.auth_secret = "prod/token";
  Run run;
  const connector::StepResult result = run(record, connector::Step::update);
  INFO(result.output);
  CHECK(result.ok);
  CHECK(result.exit_code == 0);
  CHECK(result.output == "HTTP 201");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const HttpRequest& request = requests[0];
  CHECK(request.method == "PATCH");
  CHECK(request.path == "/v1/secrets/db");
  CHECK(request.header("authorization") == "Bearer t0ken-Secret");
  CHECK(request.header("x-team") == "ops");
  CHECK(request.header("content-type") == "application/json");
  CHECK(request.header("expect").empty());
  const Json body = Json::parse(request.body);
  CHECK(body["password"] == std::string(run.value.expose_view()));
  CHECK(body["key"] == "t0ken-Secret");
  CHECK(body["name"] == "db");
  // The value is nowhere but the body.
  CHECK(request.path.find("n3w") == std::string::npos);
  for (const auto& [name, header] : request.headers) {
    CHECK(header.find("n3w") == std::string::npos);
  }
  // The verify step without a verify URL sends nothing and succeeds.
  CHECK(run(record, connector::Step::verify).ok);
  CHECK(server.requests().size() == 1);
}

TEST_CASE("http connector: a failing status fails the step, with a redacted answer", "[connector][http]")
{
  // The server echoes the request body back (a value, the auth) with an error status.
  LoopbackServer server([](const HttpRequest& request) { return HttpReply{500, "rejected: " + request.body}; });
  ConnectorRecord record = http_record(server.url("/v1"), "{\"v\": \"{{value}}\", \"old\": \"0ld-value-42\", \"k\": \"{{auth}}\"}");
  record.auth_secret = "prod/token";
  Run run;
  run.value = SecretBytes::from("n3w-value-123");
  const connector::StepResult result = run(record, connector::Step::update);
  CHECK_FALSE(result.ok);
  CHECK(result.exit_code == -1);
  CHECK_FALSE(result.timed_out);
  CHECK_THAT(result.output, Catch::StartsWith("PUT " + server.url("/v1") + " answered HTTP 500 (expected a 2xx status): rejected:"));
  CHECK_THAT(result.output, Catch::Contains("<redacted:prod/db@v2>"));
  CHECK_THAT(result.output, Catch::Contains("<redacted:prod/db@v1>"));
  CHECK_THAT(result.output, Catch::Contains("<redacted:prod/token (auth)>"));
  for (const char* value : {"n3w-value-123", "0ld-value-42", "t0ken-Secret"}) {
    CHECK(result.output.find(value) == std::string::npos);
    CHECK(result.describe().find(value) == std::string::npos);
    CHECK(result.to_json().dump().find(value) == std::string::npos);
  }
  CHECK_THAT(result.describe(), Catch::StartsWith("update failed: PUT "));
  // An exact status is expected when one is given.
  LoopbackServer ok_server([](const HttpRequest&) { return HttpReply{200, ""}; });
  ConnectorRecord exact = http_record(ok_server.url("/v1"), "{\"v\": \"{{value}}\"}");
  exact.expect_status = 204;
  const connector::StepResult wrong = run(exact, connector::Step::update);
  CHECK_FALSE(wrong.ok);
  CHECK(wrong.output == "PUT " + ok_server.url("/v1") + " answered HTTP 200 (expected status 204)");
}

TEST_CASE("http connector: the verify step GETs the verify URL with the headers", "[connector][http]")
{
  int status = 200;
  LoopbackServer server([&status](const HttpRequest&) { return HttpReply{status, "{}"}; });
  ConnectorRecord record = http_record(server.url("/v1"), "{\"v\": \"{{value}}\"}");
  record.verify_url = server.url("/health?deep=1");
  record.verify_expect_status = 200;
  record.headers = {"Authorization: Bearer {{auth}}"};
  record.auth_secret = "prod/token";
  Run run;
  CHECK(run(record, connector::Step::verify).ok);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].path == "/health?deep=1");
  CHECK(requests[0].body.empty());
  CHECK(requests[0].header("authorization") == "Bearer t0ken-Secret");
  record.verify_expect_status = 204;
  const connector::StepResult failed = run(record, connector::Step::verify);
  CHECK_FALSE(failed.ok);
  CHECK(failed.output == "GET " + server.url("/health?deep=1") + " answered HTTP 200 (expected status 204): {}");
}

TEST_CASE("http connector: nothing is sent when a value cannot go where the template puts it", "[connector][http]")
{
  LoopbackServer server([](const HttpRequest&) { return HttpReply{200, ""}; });
  ConnectorRecord record = http_record(server.url("/v1"), "{\"v\": \"{{value}}\"}");
  record.headers = {"Authorization: Bearer {{auth}}"};
  record.auth_secret = "prod/token";
  Run run;
  // The auth secret was not read (a caller that did not read it): the step fails naming it.
  run.with_auth = false;
  connector::StepResult result = run(record, connector::Step::update);
  CHECK_FALSE(result.ok);
  CHECK(result.output == "its auth secret prod/token was not read");
  // An auth value with a line break would end the header.
  run.with_auth = true;
  run.auth = SecretBytes::from("tok\r\nX-Evil: 1");
  result = run(record, connector::Step::update);
  CHECK_FALSE(result.ok);
  CHECK(result.output == "the auth cannot go into a header (it holds a line break)");
  // A value that is not UTF-8 cannot go into JSON.
  run.auth = SecretBytes::from("tok");
  run.value = SecretBytes::from("\xff\xfe\xfd");
  result = run(record, connector::Step::update);
  CHECK_FALSE(result.ok);
  CHECK(result.output == "the value is not UTF-8 text, so it cannot go into a JSON body");
  // A record edited to a plain-http remote URL is refused at run time too.
  record.url = "http://example.com/v1";
  run.value = SecretBytes::from("fine");
  result = run(record, connector::Step::update);
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.output, Catch::Contains("the URL must be https://"));
  CHECK(server.requests().empty());
}

TEST_CASE("http connector: the timeout bounds the request; a closed port fails fast", "[connector][http]")
{
  LoopbackServer slow([](const HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    return HttpReply{200, ""};
  });
  ConnectorRecord record = http_record(slow.url("/v1"), "{\"v\": \"{{value}}\"}");
  record.timeout = 1;
  Run run;
  const auto started = std::chrono::steady_clock::now();
  const connector::StepResult result = run(record, connector::Step::update);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(2000));
  CHECK_FALSE(result.ok);
  CHECK(result.timed_out);
  CHECK_THAT(result.describe(), Catch::StartsWith("update timed out after 1s"));

  // A port nobody listens on (taken from a server that is gone).
  int port = 0;
  {
    LoopbackServer gone([](const HttpRequest&) { return HttpReply{}; });
    port = gone.port();
  }
  ConnectorRecord closed = http_record("http://127.0.0.1:" + std::to_string(port) + "/v1", "{\"v\": \"{{value}}\"}");
  const connector::StepResult refused_result = run(closed, connector::Step::update);
  CHECK_FALSE(refused_result.ok);
  CHECK_FALSE(refused_result.timed_out);
  CHECK_THAT(refused_result.output, Catch::StartsWith("PUT http://127.0.0.1:" + std::to_string(port) + "/v1: "));
}
