// The http kind: the generic way to reach a SaaS API. The update step sends one request (PUT by
// default, POST or PATCH) whose JSON body is a template: {{value}} is the new value and {{auth}}
// the connector's auth secret, both JSON-escaped (write them inside quotes:
// {"password": "{{value}}"}). Headers may hold {{auth}} only ("Authorization: Bearer {{auth}}");
// the URL holds no placeholder, so a value travels only in the body. The update succeeds on the
// expected status (--expect-status, else any 2xx). The verify step GETs --verify-url (with the
// same headers) and expects --verify-expect-status (200 by default); without a verify URL there is
// nothing to check and it succeeds. Requests go through web.hpp (TLS verified, no redirects).
#include <escrow/canonical.hpp>
#include <escrow/connectors/kinds.hpp>
#include <escrow/connectors/template.hpp>
#include <escrow/connectors/web.hpp>
#include <escrow/error.hpp>

namespace escrow::connector {

namespace {

bool header_name_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// "Name: template" → the name (Error(usage) when it is not an HTTP token).
std::string header_name(const std::string& connector, const std::string& header)
{
  const std::size_t colon = header.find(':');
  const std::string name = header.substr(0, colon);
  if (colon == std::string::npos || name.empty() || !std::all_of(name.begin(), name.end(), header_name_char)) {
    fail(ErrorKind::usage, "connector {}: --header must be \"Name: value\" with a name of letters, digits and -",
         connector);
  }
  return name;
}

bool same_name(std::string_view a, std::string_view b)
{
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string describe_status(std::int64_t expected)
{
  return expected == 0 ? std::string("a 2xx status") : fmt::format("status {}", expected);
}

class HttpDriver final : public Driver
{
public:
  ConnectorKind kind() const override { return ConnectorKind::http; }

  bool pushes() const override { return true; }

  void validate(const Spec& spec) const override
  {
    check_settings(spec, {Setting::url, Setting::method, Setting::body, Setting::headers, Setting::expect_status,
                          Setting::verify_url, Setting::verify_expect_status, Setting::cacert, Setting::auth_secret});
    if (spec.url.empty() || spec.body.empty()) {
      throw Error(ErrorKind::usage, fmt::format("connector {}: an http connector needs --url URL and --body TEMPLATE",
                                                spec.name))
        .hint("e.g. --url https://api.example.com/v1/secrets/db --body '{\"value\": \"{{value}}\"}'");
    }
    check_text(spec, "--url", spec.url, 2048);
    if (const std::string problem = web::url_problem(spec.url); !problem.empty()) {
      fail(ErrorKind::usage, "connector {}: --url {}", spec.name, problem);
    }
    check_text(spec, "--body", spec.body, 16 * 1024, true);
    const auto body = parse_template(spec.body, fmt::format("connector {}: --body", spec.name));
    if (!uses(body, Placeholder::value)) {
      fail(ErrorKind::usage, "connector {}: --body must hold {{{{value}}}} (where the new value goes)", spec.name);
    }
    // The body must be JSON once the placeholders are filled (with text needing no escape).
    std::string sample;
    for (const TemplatePart& part : body) {
      sample += part.literal ? part.text : std::string("x");
    }
    if (!Json::accept(sample)) {
      throw Error(ErrorKind::usage,
                  fmt::format("connector {}: --body is not JSON once {{{{value}}}} is filled in", spec.name))
        .hint("placeholders are JSON-escaped, not quoted: write \"{{value}}\" inside quotes");
    }
    bool auth_used = uses(body, Placeholder::auth);
    if (spec.headers.size() > 32) {
      fail(ErrorKind::usage, "connector {}: at most 32 --header", spec.name);
    }
    for (const std::string& header : spec.headers) {
      check_text(spec, "--header", header, 4096);
      (void)header_name(spec.name, header);
      const auto parts = parse_template(header, fmt::format("connector {}: --header", spec.name));
      if (uses(parts, Placeholder::value)) {
        fail(ErrorKind::usage, "connector {}: {{{{value}}}} goes in the body only, never in a header", spec.name);
      }
      auth_used = auth_used || uses(parts, Placeholder::auth);
    }
    if (auth_used && spec.auth_secret.empty()) {
      fail(ErrorKind::usage, "connector {}: {{{{auth}}}} needs --auth-secret ENV/NAME (the credential it stands for)",
           spec.name);
    }
    if (!auth_used && !spec.auth_secret.empty()) {
      fail(ErrorKind::usage, "connector {}: --auth-secret is used only through {{{{auth}}}} in --body or --header",
           spec.name);
    }
    check_status(spec, "--expect-status", spec.expect_status);
    check_status(spec, "--verify-expect-status", spec.verify_expect_status);
    if (!spec.verify_url.empty()) {
      check_text(spec, "--verify-url", spec.verify_url, 2048);
      if (const std::string problem = web::url_problem(spec.verify_url); !problem.empty()) {
        fail(ErrorKind::usage, "connector {}: --verify-url {}", spec.name, problem);
      }
    } else if (spec.verify_expect_status != 0) {
      fail(ErrorKind::usage, "connector {}: --verify-expect-status needs --verify-url", spec.name);
    }
  }

  StepResult run(const ConnectorRecord& connector,
                 Step step,
                 const Invocation& invocation,
                 const SecretBytes& value,
                 const Redactor& redactor) const override
  {
    return run_native(connector, step, invocation, redactor,
                      [&](Clock::time_point deadline, Redactor& local, std::string& output) {
                        return send(connector, step, invocation, value, local, deadline, output);
                      });
  }

  std::string describe(const ConnectorRecord& connector) const override
  {
    return one_line(fmt::format("{} {}", connector.method, connector.url), 60);
  }

  bool verifies(const ConnectorRecord& connector) const override
  {
    return !connector.verify_url.empty();
  }

private:
  static std::optional<Stop> send(const ConnectorRecord& connector,
                                  Step step,
                                  const Invocation& invocation,
                                  const SecretBytes& value,
                                  const Redactor& redactor,
                                  Clock::time_point deadline,
                                  std::string& output)
  {
    if (step == Step::verify && connector.verify_url.empty()) {
      return std::nullopt; // nothing to check
    }
    const std::string what = fmt::format("connector {}", connector.name);
    web::Request request;
    request.timeout = remaining(deadline);
    request.cacert = connector.cacert;
    bool content_type = false;
    for (const std::string& header : connector.headers) {
      const auto parts = parse_template(header, what + ": header");
      if (uses(parts, Placeholder::auth) && invocation.auth == nullptr) {
        return Stop{fmt::format("its auth secret {} was not read", connector.auth_secret)};
      }
      SecretWriter line;
      std::string refused;
      if (!render(parts, nullptr, invocation.auth, Escape::header, line, refused, invocation.role)) {
        return Stop{fmt::format("the {} cannot go into a header (it holds a line break)", refused)};
      }
      content_type = content_type || same_name(header.substr(0, header.find(':')), "Content-Type");
      request.headers.push_back(line.take());
    }
    SecretBytes body;
    if (step == Step::update) {
      if (!content_type) {
        SecretWriter line;
        line.append("Content-Type: application/json");
        request.headers.push_back(line.take());
      }
      const auto parts = parse_template(connector.body, what + ": body");
      if (uses(parts, Placeholder::auth) && invocation.auth == nullptr) {
        return Stop{fmt::format("its auth secret {} was not read", connector.auth_secret)};
      }
      SecretWriter writer;
      std::string refused;
      if (!render(parts, &value, invocation.auth, Escape::json, writer, refused, invocation.role)) {
        return Stop{fmt::format("the {} is not UTF-8 text, so it cannot go into a JSON body", refused)};
      }
      body = writer.take();
      request.method = std::string(http_method_name(connector.method));
      request.url = connector.url;
      request.body = &body;
    } else {
      request.method = "GET";
      request.url = connector.verify_url;
    }
    const std::int64_t expected = step == Step::update ? connector.expect_status : connector.verify_expect_status;
    const web::Response response = web::perform(request);
    if (!response.sent) {
      return Stop{fmt::format("{} {}: {}", request.method, request.url, response.error), response.timed_out};
    }
    const bool ok = expected == 0 ? response.status >= 200 && response.status < 300 : response.status == expected;
    const std::string answer = redactor.redact_all(response.body.expose_view());
    if (!ok) {
      return Stop{fmt::format("{} {} answered HTTP {} (expected {}){}{}", request.method, request.url, response.status,
                              describe_status(expected), answer.empty() ? "" : ": ", answer)};
    }
    output = fmt::format("HTTP {}", response.status);
    return std::nullopt;
  }
};

} // namespace

const Driver& http_driver()
{
  static const HttpDriver k_driver;
  return k_driver;
}

} // namespace escrow::connector
