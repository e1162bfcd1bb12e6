// The client libraries of the native connector kinds (libpq, libcurl, the MariaDB Connector/C and
// OpenSSL's libcrypto) are loaded when a connector first needs them, not when escrow starts:
// linked into the binary they made every command — a `get` that touches no connector — pay for
// loading and relocating 33 more shared objects (3.4 ms of a 4.7 ms start-up, docs/PERFORMANCE.md).
//
// Each kind lists the functions it calls (an X-macro) and reaches them through a table filled by
// dlsym on first use, typed from the library's own header (decltype), so a call is checked by the
// compiler exactly as a direct one. A library or function that is missing is Error(io), naming the
// shared object and the Debian package that provides it. Include only from
// lib/escrow/connectors/*.cpp.
#pragma once

namespace escrow::connector::dynlib {

// dlopen(soname) once per process (RTLD_NOW | RTLD_LOCAL); throws Error(io) when it cannot load.
void* open(const char* soname, const char* package);
// dlsym, or Error(io) naming the function and the library.
void* symbol(void* library, const char* soname, const char* package, const char* name);

} // namespace escrow::connector::dynlib

// Declares one member of a function table: `decltype(&::f) f`.
#define ESCROW_DYNLIB_MEMBER(f) decltype(&::f) f = nullptr;
// Fills one member of `table` from `library`.
#define ESCROW_DYNLIB_LOAD(f) \
  table.f = reinterpret_cast<decltype(&::f)>(::escrow::connector::dynlib::symbol(library, soname, package, #f));
// A function table `Type` holding every function FUNCTIONS lists (an X-macro), and `accessor()`,
// which loads `soname` (from Debian's `package`) and fills the table on first use:
//   #define ESCROW_LIBPQ_FUNCTIONS(X) X(PQconnectStartParams) X(PQfinish) …
//   ESCROW_DYNLIB_TABLE(LibPq, libpq, ESCROW_LIBPQ_FUNCTIONS, "libpq.so.5", "libpq5")
//   … libpq().PQfinish(conn);
#define ESCROW_DYNLIB_TABLE(Type, accessor, FUNCTIONS, soname_, package_) \
  struct Type \
  { \
    FUNCTIONS(ESCROW_DYNLIB_MEMBER) \
  }; \
  const Type& accessor() \
  { \
    static const Type loaded = [] { \
      const char* soname = soname_; \
      const char* package = package_; \
      void* library = ::escrow::connector::dynlib::open(soname, package); \
      Type table; \
      FUNCTIONS(ESCROW_DYNLIB_LOAD) \
      return table; \
    }(); \
    return loaded; \
  }
