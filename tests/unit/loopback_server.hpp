// A tiny HTTP/1.1 server on 127.0.0.1 (a free port) for the http and node-red connector tests:
// one request per connection, answered by a handler the test gives, every request recorded
// (method, path, headers, body) for the test to inspect. Runs in a thread; stopped by the
// destructor on every exit path.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace escrow::test {

struct HttpRequest
{
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers; // names in lower case
  std::string body;

  std::string header(const std::string& name) const
  {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpReply
{
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

class LoopbackServer
{
public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;

  explicit LoopbackServer(Handler handler) : m_handler(std::move(handler))
  {
    m_listen = ::socket(AF_INET, SOCK_STREAM, 0);
    if (m_listen < 0) {
      throw std::runtime_error("socket");
    }
    const int one = 1;
    ::setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    if (::bind(m_listen, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(m_listen, 16) != 0) {
      ::close(m_listen);
      throw std::runtime_error("bind/listen");
    }
    socklen_t size = sizeof address;
    ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&address), &size);
    m_port = ntohs(address.sin_port);
    m_thread = std::thread([this] { serve(); });
  }

  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  ~LoopbackServer()
  {
    m_stop = true;
    m_thread.join();
    ::close(m_listen);
  }

  int port() const { return m_port; }
  std::string url(const std::string& path = "") const
  {
    return "http://127.0.0.1:" + std::to_string(m_port) + path;
  }

  std::vector<HttpRequest> requests() const
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_requests;
  }

private:
  void serve()
  {
    while (!m_stop) {
      pollfd fd{m_listen, POLLIN, 0};
      if (::poll(&fd, 1, 50) <= 0) {
        continue;
      }
      const int client = ::accept(m_listen, nullptr, nullptr);
      if (client < 0) {
        continue;
      }
      handle(client);
      ::close(client);
    }
  }

  static bool read_more(int client, std::string& data)
  {
    pollfd fd{client, POLLIN, 0};
    if (::poll(&fd, 1, 5000) <= 0) {
      return false;
    }
    char buffer[4096];
    const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
    if (got <= 0) {
      return false;
    }
    data.append(buffer, static_cast<std::size_t>(got));
    return true;
  }

  void handle(int client)
  {
    std::string data;
    std::size_t end = std::string::npos;
    while ((end = data.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more(client, data)) {
        return;
      }
    }
    HttpRequest request;
    std::size_t line_end = data.find("\r\n");
    const std::string first = data.substr(0, line_end);
    const std::size_t space = first.find(' ');
    request.method = first.substr(0, space);
    request.path = first.substr(space + 1, first.find(' ', space + 1) - space - 1);
    std::size_t at = line_end + 2;
    while (at < end) {
      const std::size_t next = data.find("\r\n", at);
      const std::string line = data.substr(at, next - at);
      const std::size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = colon == std::string::npos ? std::string() : line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      request.headers[name] = value;
      at = next + 2;
    }
    const std::size_t length = request.headers.count("content-length") > 0 ? std::stoul(request.headers["content-length"]) : 0;
    while (data.size() < end + 4 + length) {
      if (!read_more(client, data)) {
        break;
      }
    }
    request.body = data.substr(end + 4, length);
    const HttpReply reply = m_handler(request);
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_requests.push_back(request);
    }
    const std::string response = "HTTP/1.1 " + std::to_string(reply.status) + " Status\r\nContent-Type: " + reply.content_type
                                 + "\r\nContent-Length: " + std::to_string(reply.body.size())
                                 + "\r\nConnection: close\r\n\r\n" + reply.body;
    std::size_t sent = 0;
    while (sent < response.size()) {
      const ssize_t n = ::send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        break;
      }
      sent += static_cast<std::size_t>(n);
    }
  }

  Handler m_handler;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
  mutable std::mutex m_mutex;
  std::vector<HttpRequest> m_requests;
};

} // namespace escrow::test
