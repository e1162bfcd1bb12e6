// The error hierarchy and the one exit-code table (DESIGN §8).
//
// Every failure escrow reports is an escrow::Error carrying an ErrorKind; the kind alone
// decides the process exit code. Messages name the file and what is wrong and never contain
// secret bytes or lines of secret files.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace escrow {

enum class ErrorKind {
  failed,    // the operation failed (e.g. a rotation rolled back)
  usage,     // bad command line or argument
  integrity, // a file is malformed, tampered, rolled back or of an unknown version
  access,    // no key, no grant, wrong role, expired, wrong passphrase
  io,        // lock or I/O
};

// The single exit-code table.
constexpr int exit_code(ErrorKind kind)
{
  switch (kind) {
  case ErrorKind::failed: return 1;
  case ErrorKind::usage: return 2;
  case ErrorKind::integrity: return 3;
  case ErrorKind::access: return 4;
  case ErrorKind::io: return 5;
  }
  return 1;
}

// The kind's name in JSON error documents (docs/JSON.md).
constexpr std::string_view error_kind_name(ErrorKind kind)
{
  switch (kind) {
  case ErrorKind::failed: return "failed";
  case ErrorKind::usage: return "usage";
  case ErrorKind::integrity: return "integrity";
  case ErrorKind::access: return "access";
  case ErrorKind::io: return "io";
  }
  return "failed";
}

class Error : public std::runtime_error
{
public:
  Error(ErrorKind kind, std::string message, std::vector<std::string> hints = {})
    : std::runtime_error(one_line(std::move(message))), m_kind(kind)
  {
    for (std::string& text : hints) {
      m_hints.push_back(one_line(std::move(text)));
    }
  }

  ErrorKind kind() const { return m_kind; }
  int exit_code() const { return escrow::exit_code(m_kind); }
  const std::vector<std::string>& hints() const { return m_hints; }
  Error& hint(std::string text)
  {
    m_hints.push_back(one_line(std::move(text)));
    return *this;
  }

  // A message or hint is one line of text whatever it quotes from a file: control characters
  // (a newline, a terminal escape) are written as \n, \r, \t or \xNN.
  static std::string one_line(std::string text)
  {
    const auto control = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; };
    if (std::none_of(text.begin(), text.end(), control)) {
      return text;
    }
    std::string out;
    for (const char c : text) {
      if (!control(c)) {
        out.push_back(c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else {
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
      }
    }
    return out;
  }

private:
  ErrorKind m_kind;
  std::vector<std::string> m_hints;
};

template<typename... Args>
[[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args)
{
  throw Error(kind, fmt::format(format, std::forward<Args>(args)...));
}

} // namespace escrow
