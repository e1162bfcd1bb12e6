// Linked into the instrumented executables only (ESCROW_INSTRUMENTED; see CMakeLists.txt).
//
// clang 14's LeakSanitizer tracks dynamic TLS blocks by intercepting __tls_get_addr; with
// glibc 2.36 it records a bogus block for a library that libcurl brings in when escrow loads it
// (dlopen, connectors/dynlib.hpp), and its exit-time scan then faults inside its own tracer
// ("Tracer caught signal 11 ... DTLS 5 at 0x2dab") after every test has passed. Not tracking
// dynamic TLS only means pointers held there are not scanned as roots; the leak check itself
// stays on. The environment's ASAN_OPTIONS still apply on top of these defaults.
extern "C" __attribute__((visibility("default"), used, no_sanitize("address", "undefined")))
const char* __asan_default_options()
{
  return "intercept_tls_get_addr=0";
}
