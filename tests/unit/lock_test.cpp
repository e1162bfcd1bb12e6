// lock: the sidecar flock. A second holder waits then fails with exit 5 naming the holder; a
// holder killed with SIGKILL leaves nothing stale behind.
#include "foundation_support.hpp"

#include <escrow/lock.hpp>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

using namespace escrow;
using escrow::test::require_error;
using namespace std::chrono_literals;

TEST_CASE("lock: exclusive, released on destruction, and names its holder", "[lock]")
{
  escrow::test::TempDir dir;
  const auto path = dir / "escrow.vault.lock";
  {
    FileLock first(path, 1s);
    // flock locks belong to the open file description: a second open in this process conflicts.
    const auto started = std::chrono::steady_clock::now();
    const std::string message = require_error(ErrorKind::io, [&] { FileLock second(path, 200ms); });
    CHECK(std::chrono::steady_clock::now() - started >= 200ms);
    CHECK_THAT(message, Catch::Contains("escrow.vault.lock: the vault is locked by another escrow process (pid "
                                        + std::to_string(::getpid())));
    CHECK(message.find('\n') == std::string::npos);
    FileLock moved(std::move(first));
    require_error(ErrorKind::io, [&] { FileLock third(path, 0ms); });
  }
  FileLock again(path, 0ms); // released
  require_error(ErrorKind::io, [&] { FileLock elsewhere(dir / "missing/x.lock", 0ms); });
}

TEST_CASE("lock: a holder killed with SIGKILL leaves no stale lock", "[lock]")
{
  escrow::test::TempDir dir;
  const auto path = dir / "escrow.vault.lock";
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      FileLock held(path, 1s);
      (void)!::write(ready[1], "x", 1);
      ::pause();
    } catch (...) {
    }
    ::_exit(1);
  }
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  ::close(ready[0]);
  ::close(ready[1]);
  require_error(ErrorKind::io, [&] { FileLock blocked(path, 50ms); });
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK_NOTHROW(FileLock(path, 1s)); // the kernel dropped the dead holder's lock
}

TEST_CASE("lock: ESCROW_LOCK_WAIT", "[lock]")
{
  CHECK(parse_lock_wait("") == 30s);
  CHECK(parse_lock_wait("2.5") == 2500ms);
  CHECK(parse_lock_wait("0") == 0ms);
  for (const char* bad : {"soon", "-1", "5s", "1e9"}) {
    const std::string message = require_error(ErrorKind::usage, [&] { (void)parse_lock_wait(bad); });
    CHECK(message.rfind("ESCROW_LOCK_WAIT", 0) == 0);
  }
}
