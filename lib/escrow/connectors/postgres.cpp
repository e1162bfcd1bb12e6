// The postgres kind: changes a role's password through libpq (Debian libpq-dev).
//
// update: connect with --conninfo (the admin's password, when --auth-secret names one, goes
//   through the "password" keyword of PQconnectStartParams, never into a conninfo string or the
//   environment), compute the SCRAM-SHA-256 verifier of the new value on this machine
//   (PQencryptPasswordConn), and send ALTER ROLE "<role>" PASSWORD '<verifier>'. The plain value
//   never reaches the server, so neither a failing statement nor log_statement = all can put it
//   in the server's log.
// verify: connect with the same conninfo as --role with the new value and run SELECT 1. A server
//   that lets the role in without asking for a password (trust, peer) proves nothing: the step
//   fails.
// Alternating roles (--alternate-role; alternation.cpp, docs/CONNECTORS.md): the role a step acts
//   on is the one of the version's slot; re-applying the old value after a failed rotation also
//   removes the other role's password (PASSWORD NULL), which held the failed value.
// Every libpq message is redacted of every value in play (and of the verifier) before it is kept.
// The connector's timeout bounds the whole step: connection (non-blocking, polled against the
// deadline) and statement (cancelled at the deadline).
#include <escrow/connectors/c_string.hpp>
#include <escrow/connectors/kinds.hpp>
#include <escrow/connectors/template.hpp>
#include <escrow/connectors/dynlib.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>

#include <libpq-fe.h>

#include <poll.h>

#include <cerrno>
#include <cstring>

namespace escrow::connector {

namespace {
// libpq.so.5, loaded on first use (dynlib.hpp).
#define ESCROW_LIBPQ_FUNCTIONS(X) \
  X(PQcancel) \
  X(PQclear) \
  X(PQconnectPoll) \
  X(PQconnectStartParams) \
  X(PQconnectionUsedPassword) \
  X(PQconninfoFree) \
  X(PQconninfoParse) \
  X(PQconsumeInput) \
  X(PQencryptPasswordConn) \
  X(PQerrorMessage) \
  X(PQescapeIdentifier) \
  X(PQescapeLiteral) \
  X(PQfinish) \
  X(PQfreeCancel) \
  X(PQfreemem) \
  X(PQgetCancel) \
  X(PQgetResult) \
  X(PQisBusy) \
  X(PQresultErrorMessage) \
  X(PQresultStatus) \
  X(PQsendQuery) \
  X(PQsocket) \
  X(PQstatus)
ESCROW_DYNLIB_TABLE(LibPq, libpq, ESCROW_LIBPQ_FUNCTIONS, "libpq.so.5", "libpq5")


struct Connection
{
  PGconn* conn = nullptr;
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection()
  {
    if (conn != nullptr) {
      libpq().PQfinish(conn); // libpq wipes its copy of the password
    }
  }
};

std::string trimmed(const char* message)
{
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// Waits for the connection's socket; false at the deadline.
bool wait_socket(PGconn* conn, bool for_read, Clock::time_point deadline)
{
  for (;;) {
    const int ms = remaining_poll_ms(deadline);
    if (ms == 0) {
      return false;
    }
    pollfd fd{libpq().PQsocket(conn), static_cast<short>(for_read ? POLLIN : POLLOUT), 0};
    const int ready = ::poll(&fd, 1, ms);
    if (ready > 0) {
      return true;
    }
    if (ready == 0) {
      return false;
    }
    if (errno != EINTR) {
      return true; // let libpq find and report the error
    }
  }
}

// Connects; `user` and `password` (C strings) override the conninfo when given.
std::optional<Stop> connect(Connection& out,
                            const ConnectorRecord& connector,
                            const char* user,
                            const char* password,
                            Clock::time_point deadline)
{
  const std::string timeout = std::to_string(std::max<std::int64_t>(2, connector.timeout));
  std::vector<const char*> keywords{"dbname", "connect_timeout", "fallback_application_name"};
  std::vector<const char*> values{connector.conninfo.c_str(), timeout.c_str(), "escrow"};
  if (user != nullptr) {
    keywords.push_back("user");
    values.push_back(user);
  }
  if (password != nullptr) {
    keywords.push_back("password");
    values.push_back(password);
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  out.conn = libpq().PQconnectStartParams(keywords.data(), values.data(), 1);
  if (out.conn == nullptr) {
    return Stop{"libpq: out of memory"};
  }
  if (libpq().PQstatus(out.conn) == CONNECTION_BAD) {
    return Stop{"cannot connect: " + trimmed(libpq().PQerrorMessage(out.conn))};
  }
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  for (;;) {
    if (state == PGRES_POLLING_OK) {
      return std::nullopt;
    }
    if (state == PGRES_POLLING_FAILED) {
      return Stop{"cannot connect: " + trimmed(libpq().PQerrorMessage(out.conn))};
    }
    if (!wait_socket(out.conn, state == PGRES_POLLING_READING, deadline)) {
      return Stop{fmt::format("cannot connect within {}s", connector.timeout), true};
    }
    state = libpq().PQconnectPoll(out.conn);
  }
}

// Runs one statement; its error (or the deadline, which cancels it) is a Stop.
std::optional<Stop> execute(PGconn* conn, const char* sql, Clock::time_point deadline, std::int64_t timeout)
{
  if (libpq().PQsendQuery(conn, sql) == 0) {
    return Stop{trimmed(libpq().PQerrorMessage(conn))};
  }
  std::optional<Stop> stop;
  for (;;) {
    while (libpq().PQisBusy(conn) != 0) {
      if (!wait_socket(conn, true, deadline)) {
        if (PGcancel* cancel = libpq().PQgetCancel(conn)) {
          char ignored[256];
          (void)libpq().PQcancel(cancel, ignored, sizeof ignored);
          libpq().PQfreeCancel(cancel);
        }
        return Stop{fmt::format("the statement did not finish within {}s (cancelled)", timeout), true};
      }
      if (libpq().PQconsumeInput(conn) == 0) {
        return Stop{trimmed(libpq().PQerrorMessage(conn))};
      }
    }
    PGresult* result = libpq().PQgetResult(conn);
    if (result == nullptr) {
      return stop;
    }
    const ExecStatusType status = libpq().PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !stop) {
      stop = Stop{trimmed(libpq().PQresultErrorMessage(result))};
    }
    libpq().PQclear(result);
  }
}

class PostgresDriver final : public Driver
{
public:
  ConnectorKind kind() const override { return ConnectorKind::postgres; }

  bool pushes() const override { return true; }

  void validate(const Spec& spec) const override
  {
    check_settings(spec, {Setting::conninfo, Setting::role, Setting::alternate_role, Setting::auth_secret});
    if (spec.conninfo.empty() || spec.role.empty()) {
      throw Error(ErrorKind::usage,
                  fmt::format("connector {}: a postgres connector needs --conninfo and --role", spec.name))
        .hint("e.g. --conninfo 'host=127.0.0.1 port=5432 dbname=app user=admin' --role app_user");
    }
    check_text(spec, "--conninfo", spec.conninfo, 4096);
    check_text(spec, "--role", spec.role, 63);
    check_text(spec, "--alternate-role", spec.alternate_role, 63);
    if (spec.alternate_role == spec.role) {
      fail(ErrorKind::usage, "connector {}: --alternate-role must name another role than --role", spec.name);
    }
    char* error = nullptr;
    PQconninfoOption* options = libpq().PQconninfoParse(spec.conninfo.c_str(), &error);
    if (options == nullptr) {
      const std::string reason = error != nullptr ? trimmed(error) : std::string("out of memory");
      libpq().PQfreemem(error);
      fail(ErrorKind::usage, "connector {}: --conninfo: {}", spec.name, one_line(reason, 200));
    }
    bool password = false;
    for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
      if (std::strcmp(option->keyword, "password") == 0 && option->val != nullptr && option->val[0] != '\0') {
        password = true;
      }
    }
    libpq().PQconninfoFree(options);
    if (password) {
      throw Error(ErrorKind::usage,
                  fmt::format("connector {}: --conninfo must not hold a password (it is stored in clear)", spec.name))
        .hint("keep the admin's password in the vault and name it: --auth-secret ENV/NAME");
    }
  }

  StepResult run(const ConnectorRecord& connector,
                 Step step,
                 const Invocation& invocation,
                 const SecretBytes& value,
                 const Redactor& redactor) const override
  {
    return run_native(connector, step, invocation, redactor,
                      [&](Clock::time_point deadline, Redactor& local, std::string& output) -> std::optional<Stop> {
                        if (std::string_view(value.expose_view()).find('\0') != std::string_view::npos) {
                          return Stop{"the value holds a NUL byte, which PostgreSQL cannot take as a password"};
                        }
                        const std::string& role = role_for_slot(connector, invocation.slot);
                        const std::string alternating =
                          connector.alternate_role.empty() ? "" : fmt::format("; alternating roles: the consumers use {}", role);
                        if (step == Step::update) {
                          if (auto stop = update(connector, role, invocation, value, deadline, local)) {
                            return stop;
                          }
                          output = fmt::format("password of role {} set (SCRAM-SHA-256 verifier{})", role, alternating);
                          return std::nullopt;
                        }
                        if (auto stop = verify(connector, role, value, deadline)) {
                          return stop;
                        }
                        output = fmt::format("{} logged in with the value{}", role, alternating);
                        return std::nullopt;
                      });
  }

  std::string describe(const ConnectorRecord& connector) const override
  {
    if (!connector.alternate_role.empty()) {
      return one_line(fmt::format("roles {}/{} (alternating) via {}", connector.role, connector.alternate_role,
                                  connector.conninfo), 60);
    }
    return one_line(fmt::format("role {} via {}", connector.role, connector.conninfo), 60);
  }

  bool verifies(const ConnectorRecord& connector) const override
  {
    (void)connector;
    return true; // a login as the role
  }

private:
  static std::optional<Stop> update(const ConnectorRecord& connector,
                                    const std::string& role_name,
                                    const Invocation& invocation,
                                    const SecretBytes& value,
                                    Clock::time_point deadline,
                                    Redactor& redactor)
  {
    std::optional<SecretBytes> admin_password;
    if (!connector.auth_secret.empty()) {
      if (invocation.auth == nullptr) {
        return Stop{fmt::format("its auth secret {} was not read", connector.auth_secret)};
      }
      if (std::string_view(invocation.auth->expose_view()).find('\0') != std::string_view::npos) {
        return Stop{fmt::format("the auth secret {} holds a NUL byte", connector.auth_secret)};
      }
      admin_password = c_string(*invocation.auth);
    }
    Connection connection;
    if (auto stop = connect(connection, connector, nullptr, admin_password ? c_str(*admin_password) : nullptr,
                            deadline)) {
      return stop;
    }
    PGconn* conn = connection.conn;
    const SecretBytes password = c_string(value);
    char* verifier = libpq().PQencryptPasswordConn(conn, c_str(password), role_name.c_str(), "scram-sha-256");
    if (verifier == nullptr) {
      return Stop{"cannot compute the SCRAM-SHA-256 verifier: " + trimmed(libpq().PQerrorMessage(conn))};
    }
    SecretBytes verifier_bytes = SecretBytes::from(verifier);
    crypto::wipe(verifier, std::strlen(verifier));
    libpq().PQfreemem(verifier);
    redactor.add("scram-verifier", verifier_bytes);

    char* role = libpq().PQescapeIdentifier(conn, role_name.c_str(), role_name.size());
    if (role == nullptr) {
      return Stop{"cannot quote the role name: " + trimmed(libpq().PQerrorMessage(conn))};
    }
    char* literal = libpq().PQescapeLiteral(conn, c_str(c_string(verifier_bytes)), verifier_bytes.size());
    if (literal == nullptr) {
      libpq().PQfreemem(role);
      return Stop{"cannot quote the verifier: " + trimmed(libpq().PQerrorMessage(conn))};
    }
    SecretWriter sql;
    sql.append("ALTER ROLE ");
    sql.append(role);
    sql.append(" PASSWORD ");
    sql.append(literal);
    sql.append(std::string_view("\0", 1));
    libpq().PQfreemem(role);
    crypto::wipe(literal, std::strlen(literal));
    libpq().PQfreemem(literal);
    const SecretBytes statement = sql.take();
    if (auto stop = execute(conn, c_str(statement), deadline, connector.timeout)) {
      return stop;
    }
    if (invocation.action == Action::restore && !connector.alternate_role.empty()) {
      // Re-applying the old value after a failed rotation: the other role holds the failed new
      // value. Its password is removed, so that value logs in nowhere; the next rotation sets it.
      const std::string& other = role_for_slot(connector, 1 - invocation.slot);
      char* quoted = libpq().PQescapeIdentifier(conn, other.c_str(), other.size());
      if (quoted == nullptr) {
        return Stop{"cannot quote the role name: " + trimmed(libpq().PQerrorMessage(conn))};
      }
      const std::string clear = std::string("ALTER ROLE ") + quoted + " PASSWORD NULL";
      libpq().PQfreemem(quoted);
      return execute(conn, clear.c_str(), deadline, connector.timeout);
    }
    return std::nullopt;
  }

  static std::optional<Stop> verify(const ConnectorRecord& connector,
                                    const std::string& role,
                                    const SecretBytes& value,
                                    Clock::time_point deadline)
  {
    const SecretBytes password = c_string(value);
    Connection connection;
    if (auto stop = connect(connection, connector, role.c_str(), c_str(password), deadline)) {
      return stop;
    }
    if (libpq().PQconnectionUsedPassword(connection.conn) == 0) {
      return Stop{fmt::format("the server let {} in without asking for a password (trust or peer authentication), "
                              "so the new value is not checked",
                              role)};
    }
    return execute(connection.conn, "SELECT 1", deadline, connector.timeout);
  }
};

} // namespace

const Driver& postgres_driver()
{
  static const PostgresDriver k_driver;
  return k_driver;
}

} // namespace escrow::connector
