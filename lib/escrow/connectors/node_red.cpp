// The node-red kind: sets one credential of a config node in a running Node-RED through its Admin
// API, then checks the flow through one of its HTTP endpoints.
//
// update:
//   1. with --auth-user (adminAuth on): POST <url>/auth/token (client_id node-red-admin,
//      grant_type password, scope *, the auth secret as password) for a bearer token, revoked
//      (POST <url>/auth/revoke) when the step ends;
//   2. GET <url>/flows (Node-RED-API-Version: v2): {"rev": …, "flows": [...]}. Node-RED never
//      sends credentials here, and escrow keeps nothing of this document but its rev;
//   3. the config node --node gets "credentials": {"<field>": value} (Node-RED keeps the node's
//      other credentials), and the document goes back with its rev: POST <url>/flows with
//      Node-RED-Deployment-Type: nodes, which restarts the changed config node and the nodes using
//      it (Node-RED 4.1 counts a node posted with "credentials" as changed: flows/util.js
//      diffConfigs; no full redeploy is needed). A 409 (the flows changed meanwhile) fails the step.
// verify: GET --verify-url, expecting --verify-expect-status (200 by default); tried up to three
//   times a second apart within the timeout, as the redeployed nodes may take a moment to connect.
// The body carrying the value is built in locked memory; the value is spliced into the serialised
// document at a random marker, so it never enters a std::string or the JSON library.
#include <escrow/canonical.hpp>
#include <escrow/connectors/kinds.hpp>
#include <escrow/connectors/template.hpp>
#include <escrow/connectors/web.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>

#include <thread>

namespace escrow::connector {

namespace {

std::string join_url(const std::string& base, std::string_view path)
{
  std::string url = base;
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  return url + std::string(path);
}

SecretBytes line(std::string_view text)
{
  SecretWriter writer;
  writer.append(text);
  return writer.take();
}

class NodeRedDriver final : public Driver
{
public:
  ConnectorKind kind() const override { return ConnectorKind::node_red; }

  bool pushes() const override { return true; }

  void validate(const Spec& spec) const override
  {
    check_settings(spec, {Setting::url, Setting::node, Setting::field, Setting::auth_user, Setting::auth_secret,
                          Setting::verify_url, Setting::verify_expect_status, Setting::cacert});
    if (spec.url.empty() || spec.node.empty() || spec.field.empty() || spec.verify_url.empty()) {
      throw Error(ErrorKind::usage,
                  fmt::format("connector {}: a node-red connector needs --url, --node, --field and --verify-url",
                              spec.name))
        .hint("e.g. --url http://127.0.0.1:1880 --node 3f2a1c --field password --verify-url http://127.0.0.1:1880/health");
    }
    for (const auto& [option, url] : {std::pair<const char*, const std::string*>{"--url", &spec.url},
                                      std::pair<const char*, const std::string*>{"--verify-url", &spec.verify_url}}) {
      check_text(spec, option, *url, 2048);
      if (const std::string problem = web::url_problem(*url); !problem.empty()) {
        fail(ErrorKind::usage, "connector {}: {} {}", spec.name, option, problem);
      }
    }
    check_text(spec, "--node", spec.node, 128);
    check_text(spec, "--field", spec.field, 128);
    check_text(spec, "--auth-user", spec.auth_user, 256);
    if (spec.auth_user.empty() != spec.auth_secret.empty()) {
      fail(ErrorKind::usage, "connector {}: --auth-user and --auth-secret go together (Node-RED's adminAuth login)",
           spec.name);
    }
    check_status(spec, "--verify-expect-status", spec.verify_expect_status);
  }

  StepResult run(const ConnectorRecord& connector,
                 Step step,
                 const Invocation& invocation,
                 const SecretBytes& value,
                 const Redactor& redactor) const override
  {
    return run_native(connector, step, invocation, redactor,
                      [&](Clock::time_point deadline, Redactor&, std::string& output) -> std::optional<Stop> {
                        if (step == Step::update) {
                          if (auto stop = update(connector, invocation, value, deadline)) {
                            return stop;
                          }
                          output = fmt::format("credential {} of node {} deployed", connector.field, connector.node);
                          return std::nullopt;
                        }
                        if (auto stop = verify(connector, deadline)) {
                          return stop;
                        }
                        output = "the flow answered as expected";
                        return std::nullopt;
                      });
  }

  std::string describe(const ConnectorRecord& connector) const override
  {
    return one_line(fmt::format("node {} {} at {}", connector.node, connector.field, connector.url), 60);
  }

  bool verifies(const ConnectorRecord& connector) const override
  {
    (void)connector;
    return true; // --verify-url is required
  }

private:
  static std::optional<Stop> failed_request(const web::Request& request, const web::Response& response,
                                            std::string_view doing)
  {
    if (!response.sent) {
      return Stop{fmt::format("{}: {} {}: {}", doing, request.method, request.url, response.error), response.timed_out};
    }
    return std::nullopt;
  }

  static std::string answer(const web::Response& response)
  {
    // Node-RED's error bodies are short JSON ({"code": …, "message": …}); the caller redacts.
    return std::string(response.body.expose_view().substr(0, 200));
  }

  static std::optional<Stop> update(const ConnectorRecord& connector,
                                    const Invocation& invocation,
                                    const SecretBytes& value,
                                    Clock::time_point deadline)
  {
    std::optional<SecretBytes> token;
    if (!connector.auth_user.empty()) {
      if (invocation.auth == nullptr) {
        return Stop{fmt::format("its auth secret {} was not read", connector.auth_secret), false};
      }
      web::Request login;
      login.method = "POST";
      login.url = join_url(connector.url, "/auth/token");
      login.cacert = connector.cacert;
      login.timeout = remaining(deadline);
      login.headers.push_back(line("Content-Type: application/x-www-form-urlencoded"));
      SecretWriter form;
      form.append("client_id=node-red-admin&grant_type=password&scope=*&username=");
      (void)form.append_escaped(connector.auth_user, Escape::form);
      form.append("&password=");
      (void)form.append_escaped(invocation.auth->expose_view(), Escape::form);
      const SecretBytes body = form.take();
      login.body = &body;
      const web::Response response = web::perform(login);
      if (auto stop = failed_request(login, response, "logging in")) {
        return stop;
      }
      if (response.status != 200) {
        return Stop{fmt::format("the Admin API refused the login of {} (HTTP {})", connector.auth_user,
                                response.status),
                    false};
      }
      token = access_token(response.body);
      if (!token) {
        return Stop{"the Admin API's login answer holds no access_token", false};
      }
    }
    std::optional<Stop> stop = deploy(connector, value, token ? &*token : nullptr, deadline);
    if (token) {
      revoke(connector, *token, deadline);
    }
    return stop;
  }

  // The access_token of a login answer, copied into locked memory (the parsed copy is wiped).
  static std::optional<SecretBytes> access_token(const SecretBytes& body)
  {
    Json parsed = Json::parse(body.expose_view(), nullptr, false);
    if (!parsed.is_object() || !parsed.contains("access_token") || !parsed["access_token"].is_string()) {
      return std::nullopt;
    }
    std::string& text = parsed["access_token"].get_ref<std::string&>();
    SecretBytes token = SecretBytes::from(text);
    crypto::wipe(text.data(), text.size());
    if (token.empty() || std::string_view(token.expose_view()).find_first_of("\r\n") != std::string_view::npos) {
      return std::nullopt;
    }
    return token;
  }

  static void authorize(web::Request& request, const SecretBytes* token)
  {
    if (token != nullptr) {
      SecretWriter header;
      header.append("Authorization: Bearer ");
      header.append(*token);
      request.headers.push_back(header.take());
    }
  }

  static void revoke(const ConnectorRecord& connector, const SecretBytes& token, Clock::time_point deadline)
  {
    if (Clock::now() >= deadline) {
      return; // the token expires on its own (Node-RED: 7 days by default)
    }
    web::Request request;
    request.method = "POST";
    request.url = join_url(connector.url, "/auth/revoke");
    request.cacert = connector.cacert;
    request.timeout = remaining(deadline);
    request.headers.push_back(line("Content-Type: application/x-www-form-urlencoded"));
    authorize(request, &token);
    SecretWriter form;
    form.append("token=");
    (void)form.append_escaped(token.expose_view(), Escape::form);
    const SecretBytes body = form.take();
    request.body = &body;
    (void)web::perform(request); // best effort: the rotation's outcome does not depend on it
  }

  static std::optional<Stop> deploy(const ConnectorRecord& connector,
                                    const SecretBytes& value,
                                    const SecretBytes* token,
                                    Clock::time_point deadline)
  {
    web::Request get;
    get.url = join_url(connector.url, "/flows");
    get.cacert = connector.cacert;
    get.timeout = remaining(deadline);
    get.headers.push_back(line("Node-RED-API-Version: v2"));
    authorize(get, token);
    const web::Response flows = web::perform(get);
    if (auto stop = failed_request(get, flows, "reading the flows")) {
      return stop;
    }
    if (flows.status != 200) {
      return Stop{fmt::format("GET {} answered HTTP {}{}", get.url, flows.status,
                              flows.status == 401 ? " (adminAuth is on: give --auth-user and --auth-secret)" : ""),
                  false};
    }
    Json document = Json::parse(flows.body.expose_view(), nullptr, false);
    if (!document.is_object() || !document.contains("flows") || !document["flows"].is_array()
        || !document.contains("rev") || !document["rev"].is_string()) {
      return Stop{fmt::format("GET {} did not answer a v2 flows document (rev and flows)", get.url), false};
    }
    Json* node = nullptr;
    for (Json& item : document["flows"]) {
      if (item.is_object() && item.contains("id") && item["id"] == connector.node) {
        node = &item;
        break;
      }
    }
    if (node == nullptr) {
      return Stop{fmt::format("the flows have no node with id {}", connector.node), false};
    }
    // The value is spliced in at a random marker, never written into the JSON library.
    const std::string marker = "escrow-value-" + canonical::hex(crypto::random_bytes(16));
    (*node)["credentials"] = Json{{connector.field, marker}};
    const std::string serialised = document.dump();
    const std::string quoted = "\"" + marker + "\"";
    const std::size_t at = serialised.find(quoted);
    if (at == std::string::npos || serialised.find(quoted, at + 1) != std::string::npos) {
      return Stop{"the flows document could not be prepared", false};
    }
    SecretWriter writer;
    writer.append(std::string_view(serialised).substr(0, at));
    writer.append("\"");
    if (!writer.append_escaped(value.expose_view(), Escape::json)) {
      return Stop{"the value is not UTF-8 text, so Node-RED cannot take it as a credential", false};
    }
    writer.append("\"");
    writer.append(std::string_view(serialised).substr(at + quoted.size()));
    const SecretBytes body = writer.take();

    web::Request post;
    post.method = "POST";
    post.url = get.url;
    post.cacert = connector.cacert;
    post.timeout = remaining(deadline);
    post.headers.push_back(line("Content-Type: application/json"));
    post.headers.push_back(line("Node-RED-API-Version: v2"));
    post.headers.push_back(line("Node-RED-Deployment-Type: nodes"));
    authorize(post, token);
    post.body = &body;
    const web::Response deployed = web::perform(post);
    if (auto stop = failed_request(post, deployed, "deploying")) {
      return stop;
    }
    if (deployed.status == 409) {
      return Stop{"the flows changed while escrow deployed (HTTP 409 version_mismatch); nothing was deployed", false};
    }
    if (deployed.status != 200 && deployed.status != 204) {
      return Stop{fmt::format("POST {} answered HTTP {}: {}", post.url, deployed.status, answer(deployed)), false};
    }
    return std::nullopt;
  }

  static std::optional<Stop> verify(const ConnectorRecord& connector, Clock::time_point deadline)
  {
    const std::int64_t expected = connector.verify_expect_status > 0 ? connector.verify_expect_status : 200;
    std::optional<Stop> stop;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (attempt > 0) {
        if (Clock::now() + std::chrono::seconds(1) >= deadline) {
          break;
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      web::Request get;
      get.url = connector.verify_url;
      get.cacert = connector.cacert;
      get.timeout = remaining(deadline);
      const web::Response response = web::perform(get);
      if (auto failed = failed_request(get, response, "checking the flow")) {
        stop = failed;
        if (failed->timed_out) {
          break;
        }
        continue;
      }
      if (response.status == expected) {
        return std::nullopt;
      }
      stop = Stop{fmt::format("GET {} answered HTTP {} (expected {}): {}", get.url, response.status, expected,
                              answer(response)),
                  false};
    }
    return stop;
  }
};

} // namespace

const Driver& node_red_driver()
{
  static const NodeRedDriver k_driver;
  return k_driver;
}

} // namespace escrow::connector
