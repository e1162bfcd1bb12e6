// The postgres connector kind without a server: what `connector add` refuses (a password in the
// conninfo above all), libpq's messages redacted of every value, the timeout bounding a server
// that never answers. The real-server tests (ALTER ROLE, login, server log) are the integration
// suite's.
#include "foundation_support.hpp"

#include <escrow/connectors/connector.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace escrow;
using escrow::test::require_error;

namespace {

connector::Spec pg_spec()
{
  connector::Spec spec;
  spec.name = "db";
  spec.env = "prod";
  spec.kind = ConnectorKind::postgres;
  spec.conninfo = "host=127.0.0.1 port=5432 dbname=app user=admin";
  spec.role = "app_user";
  return spec;
}

connector::StepResult run(const ConnectorRecord& record, connector::Step step, const SecretBytes& value,
                          const SecretBytes* auth)
{
  Redactor redactor;
  redactor.add("prod/db@v2", value);
  if (auth != nullptr) {
    redactor.add("prod/pg-admin (auth)", *auth);
  }
  connector::Invocation invocation{"prod/db", "prod", 2, 1, connector::Action::rotate};
  invocation.auth = auth;
  return connector::run_step(record, step, invocation, value, redactor);
}

// A loopback port that accepts connections (the kernel's backlog) and never answers.
struct SilentPort
{
  int fd = -1;
  int port = 0;
  SilentPort()
  {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    socklen_t size = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    port = ntohs(address.sin_port);
  }
  ~SilentPort() { ::close(fd); }
};

} // namespace

TEST_CASE("postgres connector: connector add refuses a password in the conninfo and bad settings", "[connector][postgres]")
{
  connector::validate(pg_spec());
  {
    connector::Spec spec = pg_spec();
    spec.auth_secret = "prod/pg-admin";
    connector::validate(spec);
    spec.auth_secret = "ops/pg-admin";
    CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
          == "connector db: --auth-secret ops/pg-admin belongs to ops, not prod (environments never mix)");
  }
  for (const char* conninfo : {"host=127.0.0.1 user=admin password=hunter2", "postgresql://admin:hunter2@127.0.0.1/app"}) {
    connector::Spec spec = pg_spec();
    spec.conninfo = conninfo;
    const auto error = escrow::test::error_of([&] { connector::validate(spec); });
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()) == "connector db: --conninfo must not hold a password (it is stored in clear)");
    CHECK(std::string(error->what()).find("hunter2") == std::string::npos);
  }
  {
    connector::Spec spec = pg_spec();
    spec.conninfo = "host=127.0.0.1 nonsense";
    CHECK_THAT(require_error(ErrorKind::usage, [&] { connector::validate(spec); }),
               Catch::StartsWith("connector db: --conninfo: missing \"=\" after \"nonsense\""));
    spec.conninfo = "host=127.0.0.1 colour=blue";
    CHECK_THAT(require_error(ErrorKind::usage, [&] { connector::validate(spec); }),
               Catch::StartsWith("connector db: --conninfo: invalid connection option \"colour\""));
  }
  {
    connector::Spec spec = pg_spec();
    spec.role.clear();
    CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
          == "connector db: a postgres connector needs --conninfo and --role");
    spec.role = std::string(64, 'r');
    CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
          == "connector db: --role must be UTF-8 text of at most 63 bytes without control characters");
    spec.role = "app";
    spec.url = "https://x";
    CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
          == "connector db: --url does not apply to postgres connectors");
  }
}

TEST_CASE("postgres connector: libpq's messages are redacted of every value in play", "[connector][postgres]")
{
  // libpq quotes an unknown service name: make it the new value, and the admin's password.
  const SecretBytes value = SecretBytes::from("n3w-value-99");
  const SecretBytes auth = SecretBytes::from("adm1n-pw-99");
  ConnectorRecord record = connector::record_of(pg_spec());
  record.timeout = 5;
  record.conninfo = "service=n3w-value-99";
  for (const connector::Step step : {connector::Step::update, connector::Step::verify}) {
    const connector::StepResult result = run(record, step, value, &auth);
    CHECK_FALSE(result.ok);
    CHECK(result.exit_code == -1);
    CHECK_THAT(result.output, Catch::Contains("<redacted:prod/db@v2>"));
    CHECK(result.output.find("n3w-value-99") == std::string::npos);
  }
  record.conninfo = "service=adm1n-pw-99";
  record.auth_secret = "prod/pg-admin";
  const connector::StepResult result = run(record, connector::Step::update, value, &auth);
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.output, Catch::Contains("<redacted:prod/pg-admin (auth)>"));
  CHECK(result.output.find("adm1n-pw-99") == std::string::npos);
  // The auth secret not read: refused before connecting.
  const connector::StepResult unread = run(record, connector::Step::update, value, nullptr);
  CHECK(unread.output == "its auth secret prod/pg-admin was not read");
  // A value PostgreSQL cannot take.
  const SecretBytes nul = SecretBytes::from(std::string_view("a\0b", 3));
  CHECK(run(record, connector::Step::update, nul, &auth).output
        == "the value holds a NUL byte, which PostgreSQL cannot take as a password");
}

TEST_CASE("postgres connector: the timeout bounds a server that never answers", "[connector][postgres]")
{
  SilentPort silent;
  ConnectorRecord record = connector::record_of(pg_spec());
  record.conninfo = "host=127.0.0.1 port=" + std::to_string(silent.port) + " dbname=app user=admin sslmode=disable";
  record.timeout = 1;
  const SecretBytes value = SecretBytes::from("n3w");
  const auto started = std::chrono::steady_clock::now();
  const connector::StepResult result = run(record, connector::Step::verify, value, nullptr);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took < std::chrono::milliseconds(2500));
  CHECK_FALSE(result.ok);
  CHECK(result.timed_out);
  CHECK(result.output == "cannot connect within 1s");
  CHECK_THAT(result.describe(), Catch::StartsWith("verify timed out after 1s"));
  // Nobody listening: a quick failure, not a timeout.
  int port = silent.port;
  {
    SilentPort other;
    port = other.port;
  }
  record.conninfo = "host=127.0.0.1 port=" + std::to_string(port) + " dbname=app user=admin";
  const connector::StepResult refused = run(record, connector::Step::update, value, nullptr);
  CHECK_FALSE(refused.ok);
  CHECK_FALSE(refused.timed_out);
  CHECK_THAT(refused.output, Catch::StartsWith("cannot connect: "));
}
