#include <escrow/canonical.hpp>
#include <escrow/error.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>

namespace escrow::canonical {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is invalid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i)
{
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) {
    return 1;
  }
  std::size_t length = 0;
  std::uint32_t code = 0;
  std::uint32_t minimum = 0;
  if ((c & 0xE0) == 0xC0) {
    length = 2;
    code = c & 0x1Fu;
    minimum = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    length = 3;
    code = c & 0x0Fu;
    minimum = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    length = 4;
    code = c & 0x07u;
    minimum = 0x10000;
  } else {
    return 0;
  }
  if (i + length > s.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      return 0;
    }
    code = (code << 6) | (byte(i + k) & 0x3Fu);
  }
  if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// The length of the run of bytes from s[i] that a string holds as they are: printable ASCII
// other than '"' and '\\' (base64, names: most of escrow's bytes). Eight bytes at a time.
std::size_t plain_run(std::string_view s, std::size_t i)
{
  constexpr std::uint64_t k_ones = 0x0101010101010101ULL;
  constexpr std::uint64_t k_highs = 0x8080808080808080ULL;
  const std::size_t start = i;
  while (i + 8 <= s.size()) {
    std::uint64_t x = 0;
    std::memcpy(&x, s.data() + i, 8);
    const std::uint64_t quote = x ^ (k_ones * '"');
    const std::uint64_t backslash = x ^ (k_ones * '\\');
    // A byte >= 0x80, < 0x20, == '"' or == '\\' sets its high bit here (exact for "any").
    const std::uint64_t special =
      (x | ((x - k_ones * 0x20) & ~x) | ((quote - k_ones) & ~quote) | ((backslash - k_ones) & ~backslash)) & k_highs;
    if (special != 0) {
      break;
    }
    i += 8;
  }
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
      break;
    }
    ++i;
  }
  return i - start;
}

void append_utf8(std::string& out, std::uint32_t code)
{
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

class Parser
{
public:
  Parser(std::string_view text, std::string_view what) : m_text(text), m_what(what) {}

  Json parse_document()
  {
    if (m_text.size() >= 3 && m_text.substr(0, 3) == "\xEF\xBB\xBF") {
      fail_at("byte-order mark is not allowed");
    }
    skip_space();
    Json value = parse_value(0);
    skip_space();
    if (m_pos != m_text.size()) {
      fail_at("unexpected data after the end of the document");
    }
    return value;
  }

  // Skips one value without building it; used by scan_object.
  void skip_value(std::size_t depth)
  {
    if (depth >= k_max_depth) {
      fail_at("nesting deeper than 64 levels");
    }
    skip_space();
    const char c = peek();
    if (c == '{') {
      ++m_pos;
      skip_space();
      if (peek() == '}') {
        ++m_pos;
        return;
      }
      while (true) {
        skip_space();
        if (peek() != '"') {
          fail_at("expected a string key");
        }
        skip_string();
        skip_space();
        expect(':');
        skip_value(depth + 1);
        skip_space();
        if (peek() == ',') {
          ++m_pos;
          continue;
        }
        expect('}');
        return;
      }
    }
    if (c == '[') {
      ++m_pos;
      skip_space();
      if (peek() == ']') {
        ++m_pos;
        return;
      }
      while (true) {
        skip_value(depth + 1);
        skip_space();
        if (peek() == ',') {
          ++m_pos;
          continue;
        }
        expect(']');
        return;
      }
    }
    if (c == '"') {
      skip_string();
      return;
    }
    (void)parse_scalar();
  }

  std::vector<Span> scan_members(std::size_t begin, std::size_t& object_end)
  {
    m_pos = begin;
    std::vector<Span> members;
    std::set<std::string> seen;
    expect('{');
    skip_space();
    if (peek() == '}') {
      ++m_pos;
      object_end = m_pos;
      return members;
    }
    while (true) {
      skip_space();
      if (peek() != '"') {
        fail_at("expected a string key");
      }
      Span span;
      span.key = parse_string();
      if (!seen.insert(span.key).second) {
        fail_at("duplicate key");
      }
      skip_space();
      expect(':');
      skip_space();
      span.begin = m_pos;
      skip_value(1);
      span.end = m_pos;
      members.push_back(std::move(span));
      skip_space();
      if (peek() == ',') {
        ++m_pos;
        continue;
      }
      expect('}');
      object_end = m_pos;
      return members;
    }
  }

  std::size_t position() const { return m_pos; }

private:
  [[noreturn]] void fail_at(std::string_view problem) const
  {
    throw Error(ErrorKind::integrity, fmt::format("{}: {} at byte {}", m_what, problem, m_pos));
  }

  char peek() const
  {
    if (m_pos >= m_text.size()) {
      fail_at("unexpected end of data (truncated?)");
    }
    return m_text[m_pos];
  }

  void expect(char c)
  {
    if (peek() != c) {
      fail_at(fmt::format("expected '{}'", c));
    }
    ++m_pos;
  }

  void skip_space()
  {
    while (m_pos < m_text.size()) {
      const char c = m_text[m_pos];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        break;
      }
      ++m_pos;
    }
  }

  Json parse_value(std::size_t depth)
  {
    if (depth >= k_max_depth) {
      fail_at("nesting deeper than 64 levels");
    }
    const char c = peek();
    if (c == '{') {
      ++m_pos;
      Json object = Json::object();
      skip_space();
      if (peek() == '}') {
        ++m_pos;
        return object;
      }
      while (true) {
        skip_space();
        if (peek() != '"') {
          fail_at("expected a string key");
        }
        std::string key = parse_string();
        skip_space();
        expect(':');
        skip_space();
        Json member = parse_value(depth + 1);
        auto [it, inserted] = object.get_ref<Json::object_t&>().emplace(std::move(key), Json());
        if (!inserted) {
          fail_at("duplicate key");
        }
        it->second = std::move(member);
        skip_space();
        if (peek() == ',') {
          ++m_pos;
          continue;
        }
        expect('}');
        return object;
      }
    }
    if (c == '[') {
      ++m_pos;
      Json array = Json::array();
      skip_space();
      if (peek() == ']') {
        ++m_pos;
        return array;
      }
      while (true) {
        skip_space();
        array.push_back(parse_value(depth + 1));
        skip_space();
        if (peek() == ',') {
          ++m_pos;
          continue;
        }
        expect(']');
        return array;
      }
    }
    if (c == '"') {
      return parse_string();
    }
    return parse_scalar();
  }

  Json parse_scalar()
  {
    const char c = peek();
    const auto literal = [&](std::string_view word, Json value) {
      if (m_text.substr(m_pos, word.size()) != word) {
        fail_at("invalid literal");
      }
      m_pos += word.size();
      return value;
    };
    if (c == 't') {
      return literal("true", true);
    }
    if (c == 'f') {
      return literal("false", false);
    }
    if (c == 'n') {
      return literal("null", nullptr);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      return parse_number();
    }
    fail_at("unexpected character");
  }

  Json parse_number()
  {
    const std::size_t start = m_pos;
    if (m_text[m_pos] == '-') {
      ++m_pos;
    }
    if (m_pos >= m_text.size() || m_text[m_pos] < '0' || m_text[m_pos] > '9') {
      fail_at("invalid number");
    }
    if (m_text[m_pos] == '0') {
      ++m_pos;
      if (m_pos < m_text.size() && m_text[m_pos] >= '0' && m_text[m_pos] <= '9') {
        fail_at("number with a leading zero");
      }
    } else {
      while (m_pos < m_text.size() && m_text[m_pos] >= '0' && m_text[m_pos] <= '9') {
        ++m_pos;
      }
    }
    if (m_pos < m_text.size()
        && (m_text[m_pos] == '.' || m_text[m_pos] == 'e' || m_text[m_pos] == 'E')) {
      fail_at("only integers are allowed (no fraction or exponent)");
    }
    const std::string_view digits = m_text.substr(start, m_pos - start);
    if (digits == "-0") {
      fail_at("negative zero is not allowed");
    }
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size()) {
      fail_at("integer out of range");
    }
    return value;
  }

  unsigned read_hex4()
  {
    if (m_pos + 4 > m_text.size()) {
      fail_at("truncated \\u escape");
    }
    unsigned value = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = m_text[m_pos++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        fail_at("invalid \\u escape");
      }
    }
    return value;
  }

  // Parses (build = true) or checks a string starting at the opening quote.
  std::string string_body(bool build)
  {
    expect('"');
    std::string out;
    while (true) {
      if (const std::size_t run = plain_run(m_text, m_pos); run > 0) {
        if (build) {
          out.append(m_text.substr(m_pos, run));
        }
        m_pos += run;
      }
      if (m_pos >= m_text.size()) {
        fail_at("unterminated string (truncated?)");
      }
      const unsigned char c = static_cast<unsigned char>(m_text[m_pos]);
      if (c == '"') {
        ++m_pos;
        return out;
      }
      if (c < 0x20) {
        fail_at("unescaped control character in a string");
      }
      if (c == '\\') {
        ++m_pos;
        const char e = peek();
        ++m_pos;
        switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          std::uint32_t code = read_hex4();
          if (code >= 0xDC00 && code <= 0xDFFF) {
            fail_at("lone low surrogate in a \\u escape");
          }
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (m_pos + 2 > m_text.size() || m_text[m_pos] != '\\' || m_text[m_pos + 1] != 'u') {
              fail_at("lone high surrogate in a \\u escape");
            }
            m_pos += 2;
            const std::uint32_t low = read_hex4();
            if (low < 0xDC00 || low > 0xDFFF) {
              fail_at("invalid surrogate pair in a \\u escape");
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          if (code == 0) {
            fail_at("NUL character in a string");
          }
          if (build) {
            append_utf8(out, code);
          }
          break;
        }
        default: fail_at("invalid escape in a string");
        }
        continue;
      }
      const std::size_t length = utf8_sequence_length(m_text, m_pos);
      if (length == 0) {
        fail_at("invalid UTF-8");
      }
      if (build) {
        out.append(m_text.substr(m_pos, length));
      }
      m_pos += length;
    }
  }

  std::string parse_string() { return string_body(true); }
  void skip_string() { (void)string_body(false); }

  std::string_view m_text;
  std::string_view m_what;
  std::size_t m_pos = 0;
};

void indent(std::string& out, std::size_t depth)
{
  out.append(2 * depth, ' ');
}

} // namespace

Json parse(std::string_view text, std::string_view what)
{
  Parser parser(text, what);
  return parser.parse_document();
}

std::string dump(const Json& value)
{
  try {
    return value.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::type_error&) {
    // Parsed files are checked already, so only text from the command line gets here.
    fail(ErrorKind::usage, "a text argument is not valid UTF-8");
  }
}

void dump_pretty(const Json& value, std::size_t depth, std::string& out)
{
  if (value.is_object()) {
    if (value.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (const auto& [key, member] : value.items()) {
      if (!first) {
        out += ",\n";
      }
      first = false;
      indent(out, depth + 1);
      out += dump(Json(key));
      out += ": ";
      dump_pretty(member, depth + 1, out);
    }
    out += "\n";
    indent(out, depth);
    out += "}";
    return;
  }
  if (value.is_array()) {
    if (value.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    bool first = true;
    for (const auto& element : value) {
      if (!first) {
        out += ",\n";
      }
      first = false;
      indent(out, depth + 1);
      dump_pretty(element, depth + 1, out);
    }
    out += "\n";
    indent(out, depth);
    out += "]";
    return;
  }
  out += dump(value);
}

std::string dump_pretty(const Json& value)
{
  std::string out;
  dump_pretty(value, 0, out);
  return out;
}

std::vector<Span> scan_object(std::string_view text,
                              std::size_t begin,
                              std::size_t& object_end,
                              std::string_view what)
{
  Parser parser(text, what);
  return parser.scan_members(begin, object_end);
}

namespace {
constexpr std::string_view k_b64_alphabet =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

namespace {

// Standard base64 with padding, one character at a time into `put`.
template<typename Put>
void b64_into(ByteView data, Put&& put)
{
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8)
                            | data[i + 2];
    put(k_b64_alphabet[(n >> 18) & 63]);
    put(k_b64_alphabet[(n >> 12) & 63]);
    put(k_b64_alphabet[(n >> 6) & 63]);
    put(k_b64_alphabet[n & 63]);
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const std::uint32_t n = std::uint32_t{data[i]} << 16;
    put(k_b64_alphabet[(n >> 18) & 63]);
    put(k_b64_alphabet[(n >> 12) & 63]);
    put('=');
    put('=');
  } else if (rest == 2) {
    const std::uint32_t n = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    put(k_b64_alphabet[(n >> 18) & 63]);
    put(k_b64_alphabet[(n >> 12) & 63]);
    put(k_b64_alphabet[(n >> 6) & 63]);
    put('=');
  }
}

} // namespace

std::string b64(ByteView data)
{
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  b64_into(data, [&](char c) { out.push_back(c); });
  return out;
}

SecretBytes b64_secret(const SecretBytes& data)
{
  SecretBytes out((data.size() + 2) / 3 * 4);
  std::size_t at = 0;
  b64_into(data.expose(), [&](char c) { out.expose_mut()[at++] = static_cast<std::uint8_t>(c); });
  return out;
}

Bytes unb64(std::string_view text, std::string_view what)
{
  const auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    if (c == '+') {
      return 62;
    }
    if (c == '/') {
      return 63;
    }
    return -1;
  };
  if (text.size() % 4 != 0) {
    fail(ErrorKind::integrity, "{}: invalid base64 (length)", what);
  }
  static const auto k_values = [] {
    std::array<std::int8_t, 256> values{};
    values.fill(-1);
    for (std::size_t k = 0; k < k_b64_alphabet.size(); ++k) {
      values[static_cast<unsigned char>(k_b64_alphabet[k])] = static_cast<std::int8_t>(k);
    }
    return values;
  }();
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  // Fast path: every quad but the last, while all four are alphabet characters.
  std::size_t start = 0;
  for (; start + 4 < text.size(); start += 4) {
    const int a = k_values[static_cast<unsigned char>(text[start])];
    const int b = k_values[static_cast<unsigned char>(text[start + 1])];
    const int c = k_values[static_cast<unsigned char>(text[start + 2])];
    const int d = k_values[static_cast<unsigned char>(text[start + 3])];
    if ((a | b | c | d) < 0) {
      break;
    }
    const auto n = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6) | d);
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
  }
  for (std::size_t i = start; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    std::size_t padding = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++padding;
        continue;
      }
      if (padding > 0) {
        fail(ErrorKind::integrity, "{}: invalid base64 (padding)", what);
      }
      v[k] = value_of(c);
      if (v[k] < 0) {
        fail(ErrorKind::integrity, "{}: invalid base64 (character)", what);
      }
    }
    const std::uint32_t n = (static_cast<std::uint32_t>(v[0]) << 18)
                            | (static_cast<std::uint32_t>(v[1]) << 12)
                            | (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    if (padding < 2) {
      out.push_back(static_cast<std::uint8_t>(n >> 8));
    }
    if (padding < 1) {
      out.push_back(static_cast<std::uint8_t>(n));
    }
    // Canonical: the bits dropped by padding must be zero.
    if ((padding == 1 && (n & 0xFF) != 0) || (padding == 2 && (n & 0xFFFF) != 0)) {
      fail(ErrorKind::integrity, "{}: invalid base64 (non-canonical padding bits)", what);
    }
  }
  return out;
}

std::string hex(ByteView data)
{
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (const std::uint8_t b : data) {
    out.push_back(k_digits[b >> 4]);
    out.push_back(k_digits[b & 15]);
  }
  return out;
}

bool valid_utf8(std::string_view text)
{
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      return false;
    }
    i += length;
  }
  return true;
}

} // namespace escrow::canonical
