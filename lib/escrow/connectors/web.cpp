#include <escrow/connectors/template.hpp>
#include <escrow/connectors/web.hpp>
#include <escrow/connectors/dynlib.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>

// The calls go through a table (dynlib.hpp), which curl's type-checking macros cannot wrap.
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

namespace escrow::connector::web {

namespace {
// libcurl.so.4, loaded on first use (dynlib.hpp).
#define ESCROW_LIBCURL_FUNCTIONS(X) \
  X(curl_easy_cleanup) \
  X(curl_easy_getinfo) \
  X(curl_easy_init) \
  X(curl_easy_perform) \
  X(curl_easy_setopt) \
  X(curl_easy_strerror) \
  X(curl_free) \
  X(curl_global_init) \
  X(curl_slist_append) \
  X(curl_slist_free_all) \
  X(curl_url) \
  X(curl_url_cleanup) \
  X(curl_url_get) \
  X(curl_url_set)
ESCROW_DYNLIB_TABLE(LibCurl, libcurl, ESCROW_LIBCURL_FUNCTIONS, "libcurl.so.4", "libcurl4")


void global_init()
{
  static std::once_flag once;
  std::call_once(once, [] {
    if (libcurl().curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      fail(ErrorKind::io, "libcurl cannot start");
    }
  });
}

struct UrlParts
{
  std::string scheme;
  std::string host;
  bool has_user = false;
  std::string problem;
};

UrlParts parts_of(std::string_view url)
{
  UrlParts parts;
  const std::string text(url);
  std::unique_ptr<CURLU, decltype(libcurl().curl_url_cleanup)> handle(libcurl().curl_url(), libcurl().curl_url_cleanup);
  if (!handle) {
    fail(ErrorKind::io, "libcurl: out of memory");
  }
  if (libcurl().curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    parts.problem = "is not a valid URL";
    return parts;
  }
  const auto get = [&](CURLUPart part, std::string& out) {
    char* value = nullptr;
    if (libcurl().curl_url_get(handle.get(), part, &value, 0) == CURLUE_OK && value != nullptr) {
      out = value;
      libcurl().curl_free(value);
      return true;
    }
    return false;
  };
  get(CURLUPART_SCHEME, parts.scheme);
  get(CURLUPART_HOST, parts.host);
  std::string ignored;
  parts.has_user = get(CURLUPART_USER, ignored) || get(CURLUPART_PASSWORD, ignored);
  std::transform(parts.scheme.begin(), parts.scheme.end(), parts.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::transform(parts.host.begin(), parts.host.end(), parts.host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return parts;
}

bool loopback(const std::string& host)
{
  if (host == "localhost" || host == "[::1]") {
    return true;
  }
  // 127.0.0.0/8, written as a dotted quad.
  if (host.rfind("127.", 0) != 0) {
    return false;
  }
  int dots = 0;
  for (const char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user)
{
  auto* writer = static_cast<SecretWriter*>(user);
  const std::size_t bytes = size * count;
  const std::size_t room = writer->size() < k_max_response ? k_max_response - writer->size() : 0;
  writer->append(std::string_view(data, std::min(bytes, room)));
  return bytes; // the rest is dropped, not an error
}

// Header lines copied into libcurl's list: wiped before the list is freed.
struct HeaderList
{
  curl_slist* list = nullptr;
  ~HeaderList()
  {
    for (curl_slist* item = list; item != nullptr; item = item->next) {
      if (item->data != nullptr) {
        crypto::wipe(item->data, std::strlen(item->data));
      }
    }
    libcurl().curl_slist_free_all(list);
  }
  void add(std::string_view line)
  {
    // curl_slist_append copies a NUL-terminated string: build it in locked memory first.
    SecretWriter writer;
    writer.append(line);
    writer.append(std::string_view("\0", 1));
    const SecretBytes text = writer.take();
    curl_slist* next = libcurl().curl_slist_append(list, reinterpret_cast<const char*>(text.expose().data()));
    if (next == nullptr) {
      fail(ErrorKind::io, "libcurl: out of memory");
    }
    list = next;
  }
};

} // namespace

std::string url_problem(std::string_view url)
{
  if (url.find("{{") != std::string_view::npos) {
    return "holds a placeholder (a value never goes into a URL)";
  }
  if (std::any_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return "holds spaces or control characters";
  }
  global_init();
  const UrlParts parts = parts_of(url);
  if (!parts.problem.empty()) {
    return parts.problem;
  }
  if (parts.has_user) {
    return "holds a user or password (give credentials with --auth-secret)";
  }
  if (parts.scheme == "https") {
    return "";
  }
  if (parts.scheme == "http") {
    return loopback(parts.host) ? "" : "must be https:// (http:// only to a loopback host: 127.0.0.1, ::1, localhost)";
  }
  return "must be an https:// URL";
}

Response perform(const Request& request)
{
  global_init();
  Response response;
  const std::string problem = url_problem(request.url);
  if (!problem.empty()) {
    response.error = "the URL " + problem;
    return response;
  }
  const UrlParts parts = parts_of(request.url);
  std::unique_ptr<CURL, decltype(libcurl().curl_easy_cleanup)> curl(libcurl().curl_easy_init(), libcurl().curl_easy_cleanup);
  if (!curl) {
    fail(ErrorKind::io, "libcurl: cannot start a request");
  }
  CURL* h = curl.get();
  char error_buffer[CURL_ERROR_SIZE] = {};
  HeaderList headers;
  for (const SecretBytes& line : request.headers) {
    headers.add(line.expose_view());
  }
  headers.add("Expect:"); // no 100-continue round trip
  SecretWriter received;
  libcurl().curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  libcurl().curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  libcurl().curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  libcurl().curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  libcurl().curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  libcurl().curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  libcurl().curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  libcurl().curl_easy_setopt(h, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_IGNORED));
  libcurl().curl_easy_setopt(h, CURLOPT_USERAGENT, "escrow");
  const auto timeout_ms = static_cast<long>(std::max<std::int64_t>(request.timeout.count(), 1));
  libcurl().curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  libcurl().curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  if (parts.scheme == "http") {
    libcurl().curl_easy_setopt(h, CURLOPT_PROXY, ""); // loopback: never through a proxy
  }
  curl_blob ca{};
  if (!request.cacert.empty()) {
    ca.data = const_cast<char*>(request.cacert.data());
    ca.len = request.cacert.size();
    ca.flags = CURL_BLOB_COPY;
    libcurl().curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    libcurl().curl_easy_setopt(h, CURLOPT_CAPATH, nullptr); // these CAs only, not the system's as well
  }
  libcurl().curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
  libcurl().curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  libcurl().curl_easy_setopt(h, CURLOPT_WRITEDATA, &received);
  if (request.method == "GET") {
    libcurl().curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    // POSTFIELDS points at the caller's locked buffer (libcurl does not copy it).
    static const char k_empty[] = "";
    libcurl().curl_easy_setopt(h, CURLOPT_POSTFIELDS,
                     request.body != nullptr ? reinterpret_cast<const char*>(request.body->expose().data()) : k_empty);
    libcurl().curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body != nullptr ? request.body->size() : 0));
    if (request.method != "POST") {
      libcurl().curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
  }
  const CURLcode code = libcurl().curl_easy_perform(h);
  long status = 0;
  libcurl().curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  response.body = received.take();
  if (code != CURLE_OK) {
    response.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    response.error = error_buffer[0] != '\0' ? std::string(error_buffer) : std::string(libcurl().curl_easy_strerror(code));
    return response;
  }
  response.sent = true;
  response.status = status;
  return response;
}

} // namespace escrow::connector::web
