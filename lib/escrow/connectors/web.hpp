// HTTP requests for the http and node-red kinds, through libcurl (Debian libcurl4-openssl-dev).
//
// What every request keeps, whatever the caller asks:
//   - https:// with the peer's certificate and host name verified (there is no way to turn that
//     off; a private CA is given as PEM, `cacert`), or http:// to a loopback host only
//     (127.0.0.0/8, ::1, localhost), so a value never crosses a network in clear text;
//   - no redirects, no credentials in the URL, no cookies, no .netrc; a proxy from the
//     environment only for https (a TLS tunnel), never for loopback http;
//   - one deadline for the whole request (the connector's timeout);
//   - headers and body that may hold values are built in locked memory and wiped by the caller;
//     the copies libcurl makes of the header lines are wiped before they are freed. (libcurl's
//     own send buffer is outside escrow's reach: it is freed, not wiped.)
//   - the response body is kept in locked memory, at most k_max_response bytes.
#pragma once

#include <escrow/secret_bytes.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::connector::web {

constexpr std::size_t k_max_response = 256 * 1024;

// Checks a URL the way every request will (scheme, loopback rule, no user:password@, no
// placeholder). Returns "" when fine, else the problem ("must be https:// (http:// only to a
// loopback host)").
std::string url_problem(std::string_view url);

struct Request
{
  std::string method = "GET"; // GET, POST, PUT, PATCH
  std::string url;
  std::vector<SecretBytes> headers; // "Name: value" lines
  const SecretBytes* body = nullptr;
  std::string cacert; // PEM; "" = the system's CAs
  std::chrono::milliseconds timeout{60000};
};

struct Response
{
  bool sent = false;      // a status line was received
  bool timed_out = false;
  long status = 0;
  SecretBytes body;       // truncated at k_max_response
  std::string error;      // libcurl's reason when not sent (free of values: it never sees the body)
};

Response perform(const Request& request);

} // namespace escrow::connector::web
