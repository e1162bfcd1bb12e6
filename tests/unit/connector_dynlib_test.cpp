// The connector kinds' client libraries loaded on first use (connectors/dynlib.hpp): a library
// that loads gives typed functions; a missing library or function is Error(io) naming the shared
// object and the Debian package to install, never a crash at start-up.
#include "foundation_support.hpp"

#include <escrow/connectors/dynlib.hpp>

#include <cstring>

using namespace escrow;
using escrow::test::require_error;

TEST_CASE("dynlib: a library loads and its functions are typed by their declarations", "[connector][dynlib]")
{
  void* library = connector::dynlib::open("libc.so.6", "libc6");
  REQUIRE(library != nullptr);
  const char* soname = "libc.so.6";
  const char* package = "libc6";
  struct
  {
    ESCROW_DYNLIB_MEMBER(strlen)
  } table;
  ESCROW_DYNLIB_LOAD(strlen)
  REQUIRE(table.strlen != nullptr);
  CHECK(table.strlen("escrow") == 6);
}

TEST_CASE("dynlib: a missing library is one io error naming it and the package", "[connector][dynlib]")
{
  const std::string message = require_error(ErrorKind::io, [] {
    (void)connector::dynlib::open("libescrow-no-such-library.so.7", "libescrow-no-such7");
  });
  CHECK(message.find("libescrow-no-such-library.so.7: cannot load this connector library") == 0);
  const auto error = escrow::test::error_of([] { (void)connector::dynlib::open("libescrow-no-such-library.so.7", "pkg7"); });
  REQUIRE(error);
  REQUIRE(error->hints().size() == 1);
  CHECK(error->hints().front() == "install the Debian package pkg7");
}

TEST_CASE("dynlib: a missing function is one io error naming it", "[connector][dynlib]")
{
  void* library = connector::dynlib::open("libc.so.6", "libc6");
  const std::string message = require_error(ErrorKind::io, [&] {
    (void)connector::dynlib::symbol(library, "libc.so.6", "libc6", "escrow_no_such_function");
  });
  CHECK(message.find("libc.so.6: has no function escrow_no_such_function") == 0);
}
