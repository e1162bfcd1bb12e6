// The http connector over TLS against a real HTTPS server on loopback (python3's http.server with
// a certificate from a CA the test makes with openssl): the peer is verified against --cacert
// (only those CAs), an unknown CA or a host name the certificate does not name fails the step
// before any byte of the body is sent, and there is no way to turn verification off.
#include "foundation_support.hpp"

#include <escrow/connectors/connector.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

using namespace escrow;

namespace {

std::string slurp(const std::filesystem::path& path)
{
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void sh(const std::string& command)
{
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
}

// A CA, a second CA, and a server certificate for 127.0.0.1 signed by the first.
struct Certificates
{
  std::filesystem::path dir;
  explicit Certificates(std::filesystem::path folder) : dir(std::move(folder))
  {
    const std::string d = dir.string();
    const std::string quiet = " >/dev/null 2>&1";
    for (const char* ca : {"ca", "other"}) {
      sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=escrow-test-"
         + std::string(ca) + " -keyout '" + d + "/" + ca + ".key' -out '" + d + "/" + ca + ".pem'" + quiet);
    }
    std::ofstream(dir / "ext.cnf") << "subjectAltName=IP:127.0.0.1\n";
    sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 -keyout '" + d
       + "/server.key' -out '" + d + "/server.csr'" + quiet);
    sh("openssl x509 -req -days 2 -in '" + d + "/server.csr' -CA '" + d + "/ca.pem' -CAkey '" + d
       + "/ca.key' -CAcreateserial -extfile '" + d + "/ext.cnf' -out '" + d + "/server.pem'" + quiet);
  }
};

// python3 serving HTTPS on 127.0.0.1: answers 204 to PUT, records each body in bodies.txt.
struct HttpsServer
{
  pid_t pid = -1;
  int port = 0;
  std::filesystem::path dir;

  explicit HttpsServer(const std::filesystem::path& folder) : dir(folder)
  {
    std::ofstream(dir / "server.py") << R"PY(
import http.server, ssl, sys, os
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(d, "bodies.txt"), "ab") as f:
            f.write(body + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), H)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(os.path.join(d, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
server.serve_forever()
)PY";
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const std::string script = (dir / "server.py").string();
      const std::string folder_text = dir.string();
      ::execlp("python3", "python3", script.c_str(), folder_text.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !std::filesystem::exists(dir / "port"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    REQUIRE(std::filesystem::exists(dir / "port"));
    port = std::stoi(slurp(dir / "port"));
  }
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;
  ~HttpsServer()
  {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
  std::string bodies() const { return std::filesystem::exists(dir / "bodies.txt") ? slurp(dir / "bodies.txt") : ""; }
};

connector::StepResult put(const std::string& url, const std::string& cacert)
{
  connector::Spec spec;
  spec.name = "saas";
  spec.env = "prod";
  spec.kind = ConnectorKind::http;
  spec.url = url;
  spec.body = "{\"v\": \"{{value}}\"}";
  spec.timeout = 10;
  connector::validate(spec);
  ConnectorRecord record = connector::record_of(spec);
  record.cacert = cacert;
  const SecretBytes value = SecretBytes::from("tls-v4lue");
  Redactor redactor;
  redactor.add("prod/db@v2", value);
  const connector::Invocation invocation{"prod/db", "prod", 2, 1, connector::Action::rotate};
  return connector::run_step(record, connector::Step::update, invocation, value, redactor);
}

} // namespace

TEST_CASE("http connector over TLS: the peer is verified against --cacert, never skipped", "[connector][http][tls]")
{
  escrow::test::TempDir temp;
  const Certificates certificates(temp.path());
  HttpsServer server(temp.path());
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port) + "/v1/secret";
  const std::string ca = slurp(temp.path() / "ca.pem");
  const std::string other = slurp(temp.path() / "other.pem");

  // Trusted through --cacert: sent.
  const connector::StepResult ok = put(url, ca);
  INFO(ok.output);
  CHECK(ok.ok);
  CHECK(ok.output == "HTTP 204");
  CHECK(server.bodies() == "{\"v\": \"tls-v4lue\"}\n");

  // The system's CAs do not know the test CA; another CA is not it: refused before sending.
  for (const std::string* trusted : {static_cast<const std::string*>(nullptr), &other}) {
    const connector::StepResult refused = put(url, trusted != nullptr ? *trusted : std::string());
    CHECK_FALSE(refused.ok);
    CHECK_THAT(refused.output, Catch::Contains("certificate"));
  }
  // A name the certificate does not hold (it names 127.0.0.1 only).
  const connector::StepResult wrong_name = put("https://localhost:" + std::to_string(server.port) + "/v1/secret", ca);
  CHECK_FALSE(wrong_name.ok);
  CHECK(server.bodies() == "{\"v\": \"tls-v4lue\"}\n"); // only the first request got through
}
