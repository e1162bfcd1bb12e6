#include <escrow/agent.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <sys/stat.h>
#include <thread>

namespace fs = std::filesystem;
using namespace escrow;

namespace {

struct TempDir
{
  fs::path path;
  TempDir()
  {
    char pattern[] = "/tmp/escrow-agent-test-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() { fs::remove_all(path); }
};

} // namespace

TEST_CASE("agent: socket path precedence")
{
  CHECK(agent::socket_path("/x/a.sock", "/run/user/1") == fs::path("/x/a.sock"));
  CHECK(agent::socket_path("", "/run/user/1") == fs::path("/run/user/1/escrow/agent.sock"));
  CHECK(agent::socket_path("", "").string().starts_with("/tmp/escrow-"));
}

TEST_CASE("agent: signs and opens for its own identity; keys stay in the agent")
{
  TempDir dir;
  const fs::path socket = dir.path / "run" / "agent.sock";
  Identity alice = generate_identity("alice");
  const PublicIdentity pub = alice.pub;
  Identity local = generate_identity("alice"); // same name, other keys
  const Bytes sealed = crypto::seal(as_bytes("data key"), pub.box_pk);

  agent::Listener listener(socket);
  struct stat info{};
  REQUIRE(::stat(socket.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  REQUIRE(::stat(socket.parent_path().c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0700);

  std::string why;
  agent::ServeOptions options;
  options.idle_timeout = std::chrono::seconds(30);
  std::thread server([&] { why = agent::serve(listener, std::move(alice), options); });

  const auto status = agent::status(socket);
  REQUIRE(status);
  CHECK(status->identity.name == "alice");
  CHECK(status->idle_timeout == 30);
  CHECK_FALSE(agent::borrow_identity(socket, local.pub)); // a different key is never borrowed

  const auto borrowed = agent::borrow_identity(socket, pub);
  REQUIRE(borrowed);
  CHECK(borrowed->sign_sk.empty());
  CHECK(borrowed->box_sk.empty());
  const auto signature = borrowed->sign("escrow/v1/record", as_bytes("message"));
  CHECK(crypto::verify("escrow/v1/record", as_bytes("message"), signature, pub.sign_pk));
  CHECK_THROWS_AS(borrowed->sign("other/label", as_bytes("message")), Error); // only escrow's labels
  CHECK_THROWS_AS(borrowed->sign("escrow/v3/entry", as_bytes("message")), Error);
  // escrow-vault/2's entries are signed under escrow/v2/ labels.
  const auto v2 = borrowed->sign("escrow/v2/entry-sig", as_bytes("message"));
  CHECK(crypto::verify("escrow/v2/entry-sig", as_bytes("message"), v2, pub.sign_pk));
  const auto opened = borrowed->seal_open(sealed);
  REQUIRE(opened);
  CHECK(opened->expose_view() == "data key");
  const Bytes not_ours = crypto::seal(as_bytes("x"), local.pub.box_pk);
  CHECK_FALSE(borrowed->seal_open(not_ours));

  // A second agent on the same socket is refused.
  CHECK_THROWS_AS(agent::Listener(socket), Error);

  CHECK(agent::lock(socket));
  server.join();
  CHECK(why == "locked");
  CHECK_FALSE(agent::status(socket));
  CHECK_THROWS_AS(borrowed->sign("escrow/v1/record", as_bytes("m")), Error); // gone: a clear error
}

TEST_CASE("agent: the idle timeout ends it")
{
  TempDir dir;
  agent::Listener listener(dir.path / "a" / "agent.sock");
  agent::ServeOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  const auto start = std::chrono::steady_clock::now();
  CHECK(agent::serve(listener, generate_identity("bob"), options) == "idle timeout");
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::seconds(1));
}

TEST_CASE("agent: an unsafe folder is refused")
{
  TempDir dir;
  fs::create_directory(dir.path / "open");
  fs::permissions(dir.path / "open", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec
                                        | fs::perms::others_read | fs::perms::others_exec);
  try {
    agent::Listener listener(dir.path / "open" / "agent.sock");
    FAIL("an unsafe folder was accepted");
  } catch (const Error& error) {
    CHECK(error.exit_code() == 5);
    CHECK(std::string(error.what()).find("unsafe folder") != std::string::npos);
  }
}
