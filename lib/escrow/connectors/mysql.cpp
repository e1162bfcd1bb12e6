// The mysql kind: changes a MariaDB or MySQL account's password through the MariaDB Connector/C
// (Debian libmariadb-dev).
//
// update: connect with --conninfo (the admin's password, when --auth-secret names one, goes
//   straight to mysql_real_connect: never into a string of settings, the environment or a file),
//   compute the account's mysql_native_password hash on this machine — "*" and the upper-case hex
//   of SHA1(SHA1(value)), SHA-1 from OpenSSL's libcrypto — and send
//     ALTER USER '<user>'@'<host>' IDENTIFIED WITH mysql_native_password AS '*<hex>'
//   (the spelling both MariaDB ≥ 10.2 and MySQL 5.7/8.0 accept; MariaDB's older
//   IDENTIFIED BY PASSWORD is gone from MySQL 8). The plain value never reaches the server, so
//   neither the general log nor the error log of a failing statement can hold it (the hash may
//   appear there; it is not the password). User and host are string literals escaped by
//   mysql_real_escape_string for the connection (which honours NO_BACKSLASH_ESCAPES).
//   mysql_native_password is the strongest scheme both servers take pre-hashed from a client
//   without a server plugin: MariaDB's ed25519 needs auth_ed25519 installed, and MySQL's
//   caching_sha2_password hashes are salted server-side formats.
// verify: connect as the account with the new value (same host, port, database, TLS settings) and
//   check with SELECT CURRENT_USER() that the server took it as that account — not as an
//   anonymous account that happened to match.
// --conninfo: space-separated key=value words (a value may be single-quoted, \' and \\ escaped):
//   host, port, user (the admin), database, socket (a local socket instead of TCP), tls
//   (off | required | verify: required plus the server's certificate and name checked), tls-ca (a
//   PEM file for verify). No password (refused: keep it in the vault, --auth-secret). No option
//   file is read.
// Every message is redacted of every value in play (and of the hash) before it is kept. The
// connector's timeout bounds the whole step: Connector/C's non-blocking calls are polled against
// the deadline; at the deadline the socket is shut down and the connection closed.
// Connector/C keeps its own copy of the password it logged in with until mysql_close(), which
// frees it without wiping: that copy is out of escrow's reach (as libpq's is not: it wipes).
#include <escrow/connectors/c_string.hpp>
#include <escrow/connectors/kinds.hpp>
#include <escrow/connectors/template.hpp>
#include <escrow/connectors/dynlib.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>

#include <mysql.h>
#include <openssl/evp.h>

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace escrow::connector {

namespace {
// libcrypto.so.3 (OpenSSL), loaded on first use (dynlib.hpp): SHA-1 for the password hash.
#define ESCROW_LIBCRYPTO_FUNCTIONS(X) \
  X(EVP_Digest) \
  X(EVP_sha1)
ESCROW_DYNLIB_TABLE(LibCrypto, libcrypto, ESCROW_LIBCRYPTO_FUNCTIONS, "libcrypto.so.3", "libssl3")

// libmariadb.so.3, loaded on first use (dynlib.hpp).
#define ESCROW_LIBMARIADB_FUNCTIONS(X) \
  X(mysql_close) \
  X(mysql_errno) \
  X(mysql_error) \
  X(mysql_fetch_lengths) \
  X(mysql_fetch_row) \
  X(mysql_field_count) \
  X(mysql_free_result) \
  X(mysql_get_socket) \
  X(mysql_get_timeout_value_ms) \
  X(mysql_init) \
  X(mysql_server_init) \
  X(mysql_options) \
  X(mysql_real_connect_cont) \
  X(mysql_real_connect_start) \
  X(mysql_real_escape_string) \
  X(mysql_real_query_cont) \
  X(mysql_real_query_start) \
  X(mysql_store_result_cont) \
  X(mysql_store_result_start)
ESCROW_DYNLIB_TABLE(LibMariaDb, libmariadb, ESCROW_LIBMARIADB_FUNCTIONS, "libmariadb.so.3", "libmariadb3")


enum class Tls { off, required, verify };

// --conninfo, parsed.
struct Settings
{
  std::string host = "localhost";
  unsigned int port = 0; // 0 = the library's default (3306)
  std::string user;
  std::string database;
  std::string socket;
  Tls tls = Tls::off;
  std::string tls_ca;
};

// Parses --conninfo; the problem (free of values: a conninfo holds none) or "".
std::string parse_conninfo(std::string_view text, Settings& out)
{
  std::size_t i = 0;
  bool host = false;
  int word = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == '\t') {
      ++i;
      continue;
    }
    ++word;
    std::size_t end = i;
    while (end < text.size() && text[end] != '=' && text[end] != ' ' && text[end] != '\t') {
      ++end;
    }
    if (end == text.size() || text[end] != '=' || end == i) {
      // Not quoted back: a stray word may be a password typed without its key.
      return fmt::format("word {} is not key=value", word);
    }
    const std::size_t equals = end;
    std::string key(text.substr(i, equals - i));
    i = equals + 1;
    std::string value;
    if (i < text.size() && text[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        const char c = text[i++];
        if (c == '\\' && i < text.size()) {
          value.push_back(text[i++]);
        } else if (c == '\'') {
          closed = true;
          break;
        } else {
          value.push_back(c);
        }
      }
      if (!closed) {
        return fmt::format("the value of {} lacks its closing quote", key);
      }
    } else {
      while (i < text.size() && text[i] != ' ' && text[i] != '\t') {
        value.push_back(text[i++]);
      }
    }
    if (key == "host") {
      out.host = value;
      host = true;
    } else if (key == "port") {
      char* rest = nullptr;
      const long port = std::strtol(value.c_str(), &rest, 10);
      if (value.empty() || *rest != '\0' || port < 1 || port > 65535) {
        return "port must be 1-65535";
      }
      out.port = static_cast<unsigned int>(port);
    } else if (key == "user") {
      out.user = value;
    } else if (key == "database" || key == "dbname") {
      out.database = value;
    } else if (key == "socket") {
      out.socket = value;
    } else if (key == "tls") {
      if (value == "off") {
        out.tls = Tls::off;
      } else if (value == "required") {
        out.tls = Tls::required;
      } else if (value == "verify") {
        out.tls = Tls::verify;
      } else {
        return "tls must be off, required or verify";
      }
    } else if (key == "tls-ca") {
      out.tls_ca = value;
    } else if (key == "password" || key == "passwd" || key == "pwd") {
      return "password";
    } else {
      return fmt::format("unknown key \"{}\" (host, port, user, database, socket, tls, tls-ca)", one_line(key, 40));
    }
  }
  if (out.user.empty()) {
    return "user= (the admin account) is required";
  }
  if (host && !out.socket.empty()) {
    return "host and socket exclude each other";
  }
  if (!out.tls_ca.empty() && out.tls != Tls::verify) {
    return "tls-ca goes with tls=verify";
  }
  return "";
}

struct Connection
{
  MYSQL* mysql = nullptr;
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection()
  {
    if (mysql != nullptr) {
      libmariadb().mysql_close(mysql);
    }
  }
  // At the deadline: no more waiting on the server, whatever state the call was in.
  void abandon()
  {
    if (mysql != nullptr) {
      const my_socket fd = libmariadb().mysql_get_socket(mysql);
      if (fd >= 0) {
        ::shutdown(fd, SHUT_RDWR);
      }
    }
  }
};

std::string error_of(MYSQL* mysql)
{
  const char* message = libmariadb().mysql_error(mysql);
  return fmt::format("{} (error {})", message != nullptr && message[0] != '\0' ? message : "unknown error",
                     libmariadb().mysql_errno(mysql));
}

// Drives one non-blocking call: `status` is what its _start returned, `cont` calls its _cont with
// the events that happened. false at the deadline (the connection is then abandoned).
template <typename Cont>
bool drive(Connection& connection, int status, Clock::time_point deadline, Cont cont)
{
  while (status != 0) {
    int ms = remaining_poll_ms(deadline);
    if (ms == 0) {
      connection.abandon();
      return false;
    }
    if ((status & MYSQL_WAIT_TIMEOUT) != 0) {
      ms = std::min<int>(ms, static_cast<int>(libmariadb().mysql_get_timeout_value_ms(connection.mysql)));
    }
    pollfd fd{libmariadb().mysql_get_socket(connection.mysql), 0, 0};
    if ((status & MYSQL_WAIT_READ) != 0) {
      fd.events |= POLLIN;
    }
    if ((status & MYSQL_WAIT_WRITE) != 0) {
      fd.events |= POLLOUT;
    }
    if ((status & MYSQL_WAIT_EXCEPT) != 0) {
      fd.events |= POLLPRI;
    }
    const int ready = ::poll(&fd, 1, ms);
    int happened = 0;
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      happened = status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE); // let the library find the error
    } else if (ready == 0) {
      if ((status & MYSQL_WAIT_TIMEOUT) == 0 || remaining_poll_ms(deadline) == 0) {
        continue; // the deadline: checked at the top
      }
      happened = MYSQL_WAIT_TIMEOUT;
    } else {
      if ((fd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        happened |= MYSQL_WAIT_READ;
      }
      if ((fd.revents & (POLLOUT | POLLHUP | POLLERR)) != 0) {
        happened |= MYSQL_WAIT_WRITE;
      }
      if ((fd.revents & POLLPRI) != 0) {
        happened |= MYSQL_WAIT_EXCEPT;
      }
    }
    status = cont(happened);
  }
  return true;
}

// Connects as `user` (nullptr: the admin of --conninfo) with `password` (nullptr: none).
std::optional<Stop> connect(Connection& out,
                            const ConnectorRecord& connector,
                            const Settings& settings,
                            const char* user,
                            const char* password,
                            Clock::time_point deadline)
{
  static std::once_flag library;
  std::call_once(library, [] { libmariadb().mysql_server_init(0, nullptr, nullptr); });
  out.mysql = libmariadb().mysql_init(nullptr);
  if (out.mysql == nullptr) {
    return Stop{"Connector/C: out of memory"};
  }
  MYSQL* mysql = out.mysql;
  const unsigned int seconds = static_cast<unsigned int>(std::max<std::int64_t>(1, connector.timeout));
  if (libmariadb().mysql_options(mysql, MYSQL_OPT_NONBLOCK, nullptr) != 0) {
    return Stop{"Connector/C: cannot use its non-blocking calls (out of memory)"};
  }
  libmariadb().mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &seconds);
  libmariadb().mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &seconds);
  libmariadb().mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &seconds);
  libmariadb().mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  const unsigned int no_local_infile = 0; // LOAD DATA LOCAL stays off (a null argument would turn it on)
  libmariadb().mysql_options(mysql, MYSQL_OPT_LOCAL_INFILE, &no_local_infile);
  unsigned int protocol = settings.socket.empty() ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
  libmariadb().mysql_options(mysql, MYSQL_OPT_PROTOCOL, &protocol);
  if (settings.tls != Tls::off) {
    const my_bool yes = 1;
    libmariadb().mysql_options(mysql, MYSQL_OPT_SSL_ENFORCE, &yes);
    const my_bool verify = settings.tls == Tls::verify ? 1 : 0;
    libmariadb().mysql_options(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    if (!settings.tls_ca.empty()) {
      libmariadb().mysql_options(mysql, MYSQL_OPT_SSL_CA, settings.tls_ca.c_str());
    }
  }
  MYSQL* connected = nullptr;
  const int status = libmariadb().mysql_real_connect_start(
    &connected, mysql, settings.socket.empty() ? settings.host.c_str() : nullptr,
    user != nullptr ? user : settings.user.c_str(), password, settings.database.empty() ? nullptr : settings.database.c_str(),
    settings.port, settings.socket.empty() ? nullptr : settings.socket.c_str(), 0);
  if (!drive(out, status, deadline, [&](int events) { return libmariadb().mysql_real_connect_cont(&connected, mysql, events); })) {
    return Stop{fmt::format("cannot connect within {}s", connector.timeout), true};
  }
  if (connected == nullptr) {
    return Stop{"cannot connect: " + error_of(mysql)};
  }
  return std::nullopt;
}

// Runs one statement and reads its result; the first column of its first row in `first` (when
// given). The deadline abandons the connection.
std::optional<Stop> execute(Connection& connection,
                            std::string_view sql,
                            Clock::time_point deadline,
                            std::int64_t timeout,
                            std::string* first = nullptr)
{
  MYSQL* mysql = connection.mysql;
  int error = 0;
  const auto late = [&] {
    return Stop{fmt::format("the statement did not finish within {}s (connection closed)", timeout), true};
  };
  int status = libmariadb().mysql_real_query_start(&error, mysql, sql.data(), static_cast<unsigned long>(sql.size()));
  if (!drive(connection, status, deadline, [&](int events) { return libmariadb().mysql_real_query_cont(&error, mysql, events); })) {
    return late();
  }
  if (error != 0) {
    return Stop{error_of(mysql)};
  }
  MYSQL_RES* result = nullptr;
  status = libmariadb().mysql_store_result_start(&result, mysql);
  if (!drive(connection, status, deadline, [&](int events) { return libmariadb().mysql_store_result_cont(&result, mysql, events); })) {
    return late();
  }
  if (result == nullptr) {
    if (libmariadb().mysql_field_count(mysql) != 0) {
      return Stop{error_of(mysql)};
    }
    return std::nullopt; // a statement without rows
  }
  std::optional<Stop> stop;
  if (first != nullptr) {
    MYSQL_ROW row = libmariadb().mysql_fetch_row(result); // stored: no I/O
    unsigned long* lengths = row != nullptr ? libmariadb().mysql_fetch_lengths(result) : nullptr;
    if (row == nullptr || row[0] == nullptr || lengths == nullptr) {
      stop = Stop{"the statement returned no row"};
    } else {
      first->assign(row[0], lengths[0]);
    }
  }
  libmariadb().mysql_free_result(result); // a stored result: no I/O
  return stop;
}

} // namespace

std::optional<SecretBytes> mysql_native_password_hash(const SecretBytes& value)
{
  std::array<unsigned char, EVP_MAX_MD_SIZE> stage1{};
  std::array<unsigned char, EVP_MAX_MD_SIZE> stage2{};
  unsigned int size1 = 0;
  unsigned int size2 = 0;
  const auto bytes = value.expose();
  const LibCrypto& openssl = libcrypto();
  const bool ok = openssl.EVP_Digest(bytes.data(), bytes.size(), stage1.data(), &size1, openssl.EVP_sha1(), nullptr) == 1
                  && size1 == 20 && openssl.EVP_Digest(stage1.data(), size1, stage2.data(), &size2, openssl.EVP_sha1(), nullptr) == 1
                  && size2 == 20;
  crypto::wipe(stage1.data(), stage1.size()); // SHA1(value) logs in as the account: never kept
  if (!ok) {
    crypto::wipe(stage2.data(), stage2.size());
    return std::nullopt;
  }
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::array<char, 41> text{};
  text[0] = '*';
  for (unsigned int i = 0; i < size2; ++i) {
    text[1 + 2 * i] = k_hex[stage2[i] >> 4];
    text[2 + 2 * i] = k_hex[stage2[i] & 0x0f];
  }
  SecretWriter writer;
  writer.append(std::string_view(text.data(), text.size()));
  crypto::wipe(stage2.data(), stage2.size());
  crypto::wipe(text.data(), text.size());
  return writer.take();
}

namespace {

// A string literal for the connection: '…' with mysql_real_escape_string.
std::string literal(MYSQL* mysql, const std::string& text)
{
  std::string out(text.size() * 2 + 1, '\0');
  const unsigned long size = libmariadb().mysql_real_escape_string(mysql, out.data(), text.data(), static_cast<unsigned long>(text.size()));
  out.resize(size == static_cast<unsigned long>(-1) ? 0 : size);
  return "'" + out + "'";
}

bool has_nul(const SecretBytes& bytes)
{
  return std::string_view(bytes.expose_view()).find('\0') != std::string_view::npos;
}

class MysqlDriver final : public Driver
{
public:
  ConnectorKind kind() const override { return ConnectorKind::mysql; }

  bool pushes() const override { return true; }

  void validate(const Spec& spec) const override
  {
    check_settings(spec, {Setting::conninfo, Setting::db_user, Setting::db_host, Setting::auth_secret});
    if (spec.conninfo.empty() || spec.db_user.empty()) {
      throw Error(ErrorKind::usage, fmt::format("connector {}: a mysql connector needs --conninfo and --user", spec.name))
        .hint("e.g. --conninfo 'host=127.0.0.1 port=3306 user=admin' --user app --host '%'");
    }
    check_text(spec, "--conninfo", spec.conninfo, 4096);
    check_text(spec, "--user", spec.db_user, 80);
    check_text(spec, "--host", spec.db_host, 255);
    Settings settings;
    const std::string problem = parse_conninfo(spec.conninfo, settings);
    if (problem == "password") {
      throw Error(ErrorKind::usage,
                  fmt::format("connector {}: --conninfo must not hold a password (it is stored in clear)", spec.name))
        .hint("keep the admin's password in the vault and name it: --auth-secret ENV/NAME");
    }
    if (!problem.empty()) {
      fail(ErrorKind::usage, "connector {}: --conninfo: {}", spec.name, problem);
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
                        Settings settings;
                        if (const std::string problem = parse_conninfo(connector.conninfo, settings); !problem.empty()) {
                          return Stop{"conninfo: " + (problem == "password" ? "holds a password" : problem)};
                        }
                        if (has_nul(value)) {
                          return Stop{"the value holds a NUL byte, which MariaDB/MySQL cannot take as a password"};
                        }
                        const std::string account = fmt::format("'{}'@'{}'", connector.db_user, connector.db_host);
                        if (step == Step::update) {
                          if (auto stop = update(connector, settings, invocation, value, deadline, local)) {
                            return stop;
                          }
                          output = fmt::format("password of {} set (mysql_native_password hash)", account);
                          return std::nullopt;
                        }
                        if (auto stop = verify(connector, settings, value, deadline)) {
                          return stop;
                        }
                        output = fmt::format("{} logged in with the new value", account);
                        return std::nullopt;
                      });
  }

  std::string describe(const ConnectorRecord& connector) const override
  {
    return one_line(fmt::format("'{}'@'{}' via {}", connector.db_user, connector.db_host, connector.conninfo), 60);
  }

  bool verifies(const ConnectorRecord& connector) const override
  {
    (void)connector;
    return true; // a login as the account
  }

private:
  static std::optional<Stop> update(const ConnectorRecord& connector,
                                    const Settings& settings,
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
      if (has_nul(*invocation.auth)) {
        return Stop{fmt::format("the auth secret {} holds a NUL byte", connector.auth_secret)};
      }
      admin_password = c_string(*invocation.auth);
    }
    std::optional<SecretBytes> hash = mysql_native_password_hash(value);
    if (!hash) {
      return Stop{"cannot compute the mysql_native_password hash (libcrypto's SHA-1 failed)"};
    }
    redactor.add("mysql-native-hash", *hash);
    Connection connection;
    if (auto stop = connect(connection, connector, settings, nullptr,
                            admin_password ? c_str(*admin_password) : nullptr, deadline)) {
      return stop;
    }
    SecretWriter sql;
    sql.append("ALTER USER ");
    sql.append(literal(connection.mysql, connector.db_user));
    sql.append("@");
    sql.append(literal(connection.mysql, connector.db_host));
    sql.append(" IDENTIFIED WITH mysql_native_password AS '");
    sql.append(*hash);
    sql.append("'");
    const SecretBytes statement = sql.take();
    return execute(connection, statement.expose_view(), deadline, connector.timeout);
  }

  static std::optional<Stop> verify(const ConnectorRecord& connector,
                                    const Settings& settings,
                                    const SecretBytes& value,
                                    Clock::time_point deadline)
  {
    const SecretBytes password = c_string(value);
    Connection connection;
    if (auto stop = connect(connection, connector, settings, connector.db_user.c_str(), c_str(password), deadline)) {
      return stop;
    }
    std::string who;
    if (auto stop = execute(connection, "SELECT CURRENT_USER()", deadline, connector.timeout, &who)) {
      return stop;
    }
    const std::string expected = connector.db_user + "@" + connector.db_host;
    if (who != expected) {
      return Stop{fmt::format("the server took the login as {}, not {} (an anonymous or other account matched first)",
                              one_line(who, 100), expected)};
    }
    return std::nullopt;
  }
};

} // namespace

const Driver& mysql_driver()
{
  static const MysqlDriver k_driver;
  return k_driver;
}

} // namespace escrow::connector
