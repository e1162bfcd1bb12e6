// Templates of the native connector kinds, and the text they are rendered into.
//
// A template is text with placeholders: {{value}} (the new value), {{auth}} (the value of the
// connector's auth secret) and {{role}} (the role of the value, with alternating roles; else "";
// not secret). Which placeholders a template may hold is the caller's rule (an http
// body: both; a header: {{auth}} only; a URL: none). Anything else between "{{" and "}}" is an
// unknown placeholder, refused when the connector is added. Rendering writes into locked memory
// (SecretBytes): a rendered template holds values, so it never lives in a std::string.
#pragma once

#include <escrow/secret_bytes.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace escrow::connector {

enum class Placeholder { value, auth, role };

struct TemplatePart
{
  bool literal = true;
  std::string text;                        // literal text
  Placeholder placeholder = Placeholder::value; // when !literal
};

// Splits a template; Error(usage) "<what>: unknown placeholder {{x}}" (or an unclosed "{{").
std::vector<TemplatePart> parse_template(std::string_view text, std::string_view what);
// Whether a template uses a placeholder.
bool uses(const std::vector<TemplatePart>& parts, Placeholder placeholder);

// How a value is written where a placeholder stands.
enum class Escape {
  json,   // inside a JSON string: '"', '\\' and control characters escaped (the value must be UTF-8)
  header, // as is; a value holding CR, LF or NUL is refused (it would end the header)
  form,   // application/x-www-form-urlencoded
};

// Grows in locked memory; the text it holds never reaches a std::string.
class SecretWriter
{
public:
  void append(std::string_view text);
  void append(const SecretBytes& bytes) { append(bytes.expose_view()); }
  // Appends `value` escaped; false (and nothing appended) when the escape refuses it.
  [[nodiscard]] bool append_escaped(std::string_view value, Escape escape);
  std::size_t size() const { return m_size; }
  // The text written so far; the writer is empty afterwards.
  SecretBytes take();

private:
  SecretBytes m_buffer;
  std::size_t m_size = 0;
};

// Renders a parsed template. `value` and `auth` may be null when the template does not use them.
// Returns false when an escape refuses a value (`refused` names which: "value", "auth" or "role").
[[nodiscard]] bool render(const std::vector<TemplatePart>& parts,
                          const SecretBytes* value,
                          const SecretBytes* auth,
                          Escape escape,
                          SecretWriter& out,
                          std::string& refused,
                          std::string_view role = {});

// The JSON escape of `text` for use inside a JSON string, as a plain string (for text that is
// not secret).
std::string json_escape(std::string_view text);

} // namespace escrow::connector
