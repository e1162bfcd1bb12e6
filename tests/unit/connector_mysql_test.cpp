// The mysql connector kind without a server: what `connector add` refuses (a password in the
// conninfo above all), the mysql_native_password hash against known answers, Connector/C's
// messages redacted of every value, the timeout bounding a server that never answers. The
// real-server tests (ALTER USER, login, general and error logs) are the integration suite's
// (tests/integration/test_nocode.sh).
#include "foundation_support.hpp"

#include <escrow/connectors/connector.hpp>
#include <escrow/connectors/kinds.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace escrow;
using escrow::test::require_error;

namespace {

connector::Spec my_spec()
{
  connector::Spec spec;
  spec.name = "db";
  spec.env = "prod";
  spec.kind = ConnectorKind::mysql;
  spec.conninfo = "host=127.0.0.1 port=3306 user=admin database=app";
  spec.db_user = "app";
  return spec;
}

connector::StepResult run(const ConnectorRecord& record, connector::Step step, const SecretBytes& value,
                          const SecretBytes* auth)
{
  Redactor redactor;
  redactor.add("prod/db@v2", value);
  if (auth != nullptr) {
    redactor.add("prod/my-admin (auth)", *auth);
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

std::string hash_of(std::string_view value)
{
  const std::optional<SecretBytes> hash = connector::mysql_native_password_hash(SecretBytes::from(value));
  REQUIRE(hash.has_value());
  return std::string(hash->expose_view());
}

} // namespace

TEST_CASE("mysql connector: the mysql_native_password hash matches the server's PASSWORD()", "[connector][mysql]")
{
  // Known answers: MariaDB's SELECT PASSWORD('password') and PASSWORD('') is the empty string
  // there, but the hash of the empty value is still SHA1(SHA1("")).
  CHECK(hash_of("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
  CHECK(hash_of("") == "*BE1BDEC0AA74B4DCB079943E70528096CCA985F8");
  CHECK(hash_of("p\xc3\xa4ss w'rd\"") != hash_of("p\xc3\xa4ss w'rd"));
  CHECK(hash_of("x").size() == 41);
}

TEST_CASE("mysql connector: connector add refuses a password in the conninfo and bad settings", "[connector][mysql]")
{
  connector::validate(my_spec());
  {
    const ConnectorRecord record = connector::record_of(my_spec());
    CHECK(record.db_host == "%");
    CHECK(connector::settings_of(record)
          == Json{{"conninfo", "host=127.0.0.1 port=3306 user=admin database=app"},
                  {"user", "app"},
                  {"host", "%"},
                  {"auth_secret", ""}});
    connector::Spec spec = my_spec();
    spec.db_host = "10.0.0.%";
    spec.auth_secret = "prod/my-admin";
    connector::validate(spec);
    CHECK(connector::record_of(spec).db_host == "10.0.0.%");
    spec.auth_secret = "ops/my-admin";
    CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
          == "connector db: --auth-secret ops/my-admin belongs to ops, not prod (environments never mix)");
  }
  for (const char* conninfo : {"host=127.0.0.1 user=admin password=hunter2", "user=admin passwd='hunter2'",
                               "user=admin pwd=hunter2"}) {
    connector::Spec spec = my_spec();
    spec.conninfo = conninfo;
    const auto error = escrow::test::error_of([&] { connector::validate(spec); });
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()) == "connector db: --conninfo must not hold a password (it is stored in clear)");
    CHECK(error->kind() == ErrorKind::usage);
  }
  const std::pair<const char*, const char*> bad[] = {
    {"host=127.0.0.1 hunter2 user=admin", "connector db: --conninfo: word 2 is not key=value"},
    {"host=127.0.0.1 port=99999 user=admin", "connector db: --conninfo: port must be 1-65535"},
    {"host=127.0.0.1 port=3306", "connector db: --conninfo: user= (the admin account) is required"},
    {"host=127.0.0.1 user=admin colour=blue",
     "connector db: --conninfo: unknown key \"colour\" (host, port, user, database, socket, tls, tls-ca)"},
    {"host=127.0.0.1 socket=/run/mysqld.sock user=admin", "connector db: --conninfo: host and socket exclude each other"},
    {"user=admin tls=maybe", "connector db: --conninfo: tls must be off, required or verify"},
    {"user=admin tls-ca=/etc/ca.pem", "connector db: --conninfo: tls-ca goes with tls=verify"},
    {"user='admin", "connector db: --conninfo: the value of user lacks its closing quote"},
  };
  for (const auto& [conninfo, message] : bad) {
    connector::Spec spec = my_spec();
    spec.conninfo = conninfo;
    CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); }) == message);
  }
  {
    connector::Spec spec = my_spec();
    spec.conninfo = "socket='/run/my sql/x.sock' user=admin tls=verify tls-ca=/etc/ca.pem";
    connector::validate(spec);
    spec.db_user.clear();
    CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
          == "connector db: a mysql connector needs --conninfo and --user");
    spec.db_user = std::string(81, 'u');
    CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
          == "connector db: --user must be UTF-8 text of at most 80 bytes without control characters");
    spec.db_user = "app";
    spec.role = "app";
    CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
          == "connector db: --role does not apply to mysql connectors");
  }
  {
    // --user and --host belong to the mysql kind only.
    connector::Spec spec;
    spec.name = "pg";
    spec.env = "prod";
    spec.kind = ConnectorKind::postgres;
    spec.conninfo = "host=127.0.0.1 user=admin";
    spec.role = "app";
    spec.db_host = "%";
    CHECK(require_error(ErrorKind::usage, [&] { connector::validate(spec); })
          == "connector pg: --host does not apply to postgres connectors");
  }
}

TEST_CASE("mysql connector: messages are redacted of every value in play", "[connector][mysql]")
{
  // Connector/C quotes a host it cannot resolve: make it the new value, then the admin's password.
  const SecretBytes value = SecretBytes::from("n3w-value-99.invalid");
  const SecretBytes auth = SecretBytes::from("adm1n-pw-99.invalid");
  ConnectorRecord record = connector::record_of(my_spec());
  record.timeout = 5;
  record.conninfo = "host=n3w-value-99.invalid user=admin";
  for (const connector::Step step : {connector::Step::update, connector::Step::verify}) {
    const connector::StepResult result = run(record, step, value, &auth);
    CHECK_FALSE(result.ok);
    CHECK(result.exit_code == -1);
    CHECK_THAT(result.output, Catch::StartsWith("cannot connect: "));
    CHECK_THAT(result.output, Catch::Contains("<redacted:prod/db@v2>"));
    CHECK(result.output.find("n3w-value-99") == std::string::npos);
  }
  record.conninfo = "host=adm1n-pw-99.invalid user=admin";
  const connector::StepResult admin = run(record, connector::Step::update, value, &auth);
  CHECK_THAT(admin.output, Catch::Contains("<redacted:prod/my-admin (auth)>"));
  CHECK(admin.output.find("adm1n-pw-99") == std::string::npos);
  // Nobody listening: a quick failure, not a timeout.
  int port = 0;
  {
    SilentPort gone;
    port = gone.port;
  }
  record.conninfo = "host=127.0.0.1 port=" + std::to_string(port) + " user=admin";
  const connector::StepResult refused = run(record, connector::Step::verify, value, &auth);
  CHECK_FALSE(refused.ok);
  CHECK_FALSE(refused.timed_out);
  CHECK_THAT(refused.output, Catch::StartsWith("cannot connect: "));
  record.auth_secret = "prod/my-admin";
  // The auth secret not read: refused before connecting.
  const connector::StepResult unread = run(record, connector::Step::update, value, nullptr);
  CHECK(unread.output == "its auth secret prod/my-admin was not read");
  // Values MariaDB cannot take.
  const SecretBytes nul = SecretBytes::from(std::string_view("a\0b", 3));
  CHECK(run(record, connector::Step::update, nul, &auth).output
        == "the value holds a NUL byte, which MariaDB/MySQL cannot take as a password");
  const SecretBytes nul_auth = SecretBytes::from(std::string_view("a\0b", 3));
  CHECK(run(record, connector::Step::update, value, &nul_auth).output
        == "the auth secret prod/my-admin holds a NUL byte");
  // A stored conninfo the kind refuses (an edited vault) fails the step, naming no value.
  record.conninfo = "user=admin password=hunter2";
  CHECK(run(record, connector::Step::verify, value, &auth).output == "conninfo: holds a password");
}

TEST_CASE("mysql connector: the timeout bounds a server that never answers", "[connector][mysql]")
{
  SilentPort silent;
  ConnectorRecord record = connector::record_of(my_spec());
  record.conninfo = "host=127.0.0.1 port=" + std::to_string(silent.port) + " user=admin";
  record.timeout = 1;
  const SecretBytes value = SecretBytes::from("n3w");
  for (const connector::Step step : {connector::Step::update, connector::Step::verify}) {
    const auto started = std::chrono::steady_clock::now();
    const connector::StepResult result = run(record, step, value, nullptr);
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took < std::chrono::milliseconds(2500));
    CHECK_FALSE(result.ok);
    CHECK(result.timed_out);
    CHECK(result.output == "cannot connect within 1s");
    CHECK_THAT(result.describe(), Catch::EndsWith("timed out after 1s: cannot connect within 1s"));
  }
}
