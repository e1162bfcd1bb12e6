// Loading the native kinds' client libraries on first use (dynlib.hpp).
#include <escrow/connectors/dynlib.hpp>
#include <escrow/error.hpp>

#include <dlfcn.h>

#include <fmt/format.h>

#include <mutex>

namespace escrow::connector::dynlib {

namespace {

std::string last_error()
{
  const char* text = dlerror();
  return text != nullptr ? text : "unknown error";
}

} // namespace

void* open(const char* soname, const char* package)
{
  // dlerror() is per thread but dlopen itself may run concurrently; one at a time keeps the
  // message paired with its call.
  static std::mutex mutex;
  const std::lock_guard<std::mutex> lock(mutex);
  void* library = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    throw Error(ErrorKind::io, fmt::format("{}: cannot load this connector library: {}", soname, last_error()))
      .hint(fmt::format("install the Debian package {}", package));
  }
  return library;
}

void* symbol(void* library, const char* soname, const char* package, const char* name)
{
  (void)dlerror();
  void* address = dlsym(library, name);
  if (address == nullptr) {
    throw Error(ErrorKind::io, fmt::format("{}: has no function {} ({})", soname, name, last_error()))
      .hint(fmt::format("install a current version of the Debian package {}", package));
  }
  return address;
}

} // namespace escrow::connector::dynlib
