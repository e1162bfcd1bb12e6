#include <escrow/canonical.hpp>
#include <escrow/connectors/template.hpp>
#include <escrow/error.hpp>

#include <algorithm>
#include <cstring>

namespace escrow::connector {

std::vector<TemplatePart> parse_template(std::string_view text, std::string_view what)
{
  std::vector<TemplatePart> parts;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t open = text.find("{{", at);
    if (open == std::string_view::npos) {
      parts.push_back(TemplatePart{true, std::string(text.substr(at)), Placeholder::value});
      break;
    }
    if (open > at) {
      parts.push_back(TemplatePart{true, std::string(text.substr(at, open - at)), Placeholder::value});
    }
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      fail(ErrorKind::usage, "{}: \"{{{{\" without \"}}}}\" (placeholders are {{{{value}}}}, {{{{auth}}}} and {{{{role}}}})", what);
    }
    const std::string_view name = text.substr(open + 2, close - open - 2);
    TemplatePart part;
    part.literal = false;
    if (name == "value") {
      part.placeholder = Placeholder::value;
    } else if (name == "auth") {
      part.placeholder = Placeholder::auth;
    } else if (name == "role") {
      part.placeholder = Placeholder::role;
    } else {
      std::string shown;
      for (const char c : name.substr(0, 32)) {
        shown.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
      }
      fail(ErrorKind::usage, "{}: unknown placeholder {{{{{}}}}} (placeholders are {{{{value}}}}, {{{{auth}}}} and {{{{role}}}})", what,
           shown);
    }
    parts.push_back(std::move(part));
    at = close + 2;
  }
  return parts;
}

bool uses(const std::vector<TemplatePart>& parts, Placeholder placeholder)
{
  return std::any_of(parts.begin(), parts.end(),
                     [&](const TemplatePart& part) { return !part.literal && part.placeholder == placeholder; });
}

void SecretWriter::append(std::string_view text)
{
  if (text.empty()) {
    return;
  }
  if (m_size + text.size() > m_buffer.size()) {
    m_buffer.resize(std::max<std::size_t>({64, m_buffer.size() * 2, m_size + text.size()}));
  }
  std::memcpy(m_buffer.expose_mut().data() + m_size, text.data(), text.size());
  m_size += text.size();
}

namespace {

constexpr char k_hex[] = "0123456789ABCDEF";

} // namespace

bool SecretWriter::append_escaped(std::string_view value, Escape escape)
{
  switch (escape) {
  case Escape::header:
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      return false;
    }
    append(value);
    return true;
  case Escape::json: {
    if (!canonical::valid_utf8(value)) {
      return false;
    }
    std::size_t start = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const auto u = static_cast<unsigned char>(value[i]);
      if (u >= 0x20 && u != '"' && u != '\\' && u != 0x7f) {
        continue;
      }
      append(value.substr(start, i - start));
      const char escaped[] = {'\\', 'u', '0', '0', k_hex[u >> 4], k_hex[u & 0xF], '\0'};
      if (u == '"') {
        append("\\\"");
      } else if (u == '\\') {
        append("\\\\");
      } else {
        append(std::string_view(escaped, 6));
      }
      start = i + 1;
    }
    append(value.substr(start));
    return true;
  }
  case Escape::form:
    for (const char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
          || c == '_' || c == '~') {
        append(std::string_view(&c, 1));
      } else {
        const char escaped[] = {'%', k_hex[u >> 4], k_hex[u & 0xF]};
        append(std::string_view(escaped, 3));
      }
    }
    return true;
  }
  return false;
}

SecretBytes SecretWriter::take()
{
  SecretBytes out(m_buffer.expose().data(), m_size);
  m_buffer = SecretBytes();
  m_size = 0;
  return out;
}

bool render(const std::vector<TemplatePart>& parts,
            const SecretBytes* value,
            const SecretBytes* auth,
            Escape escape,
            SecretWriter& out,
            std::string& refused,
            std::string_view role)
{
  for (const TemplatePart& part : parts) {
    if (part.literal) {
      out.append(part.text);
      continue;
    }
    if (part.placeholder == Placeholder::role) {
      if (!out.append_escaped(role, escape)) {
        refused = "role";
        return false;
      }
      continue;
    }
    const SecretBytes* bytes = part.placeholder == Placeholder::value ? value : auth;
    const char* name = part.placeholder == Placeholder::value ? "value" : "auth";
    if (bytes == nullptr || !out.append_escaped(bytes->expose_view(), escape)) {
      refused = name;
      return false;
    }
  }
  return true;
}

std::string json_escape(std::string_view text)
{
  SecretWriter writer;
  if (!writer.append_escaped(text, Escape::json)) {
    fail(ErrorKind::usage, "text is not valid UTF-8");
  }
  const SecretBytes bytes = writer.take();
  return std::string(bytes.expose_view());
}

} // namespace escrow::connector
