// Env files (`exec --env-file`, `import`; lib/escrow/env_file.hpp) and the escrow:// references
// they hold (lib/escrow/references.hpp).
// Properties: every input is entries or an Error(usage); names are valid variable names, each
// set once; a value written back double-quoted with the documented escapes reads back to the
// same bytes; every reference find_references reports is a span of the template that
// parse_reference reads alone to the same reference; Reference::text writes what reads back.
#include "fuzz.hpp"

#include <escrow/env_file.hpp>
#include <escrow/references.hpp>

#include <set>

using namespace escrow;

namespace {

// NAME="value" with \n \r \t \\ \" \$ escaped, as the reader documents.
std::string quoted_line(const EnvEntry& entry)
{
  std::string line = entry.name + "=\"";
  for (const std::uint8_t byte : entry.value.expose()) {
    const char c = static_cast<char>(byte);
    switch (c) {
    case '\n': line += "\\n"; break;
    case '\r': line += "\\r"; break;
    case '\t': line += "\\t"; break;
    case '\\': line += "\\\\"; break;
    case '"': line += "\\\""; break;
    case '$': line += "\\$"; break;
    default: line.push_back(c); break;
    }
  }
  return line + "\"\n";
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  std::vector<EnvEntry> entries;
  if (fuzz::accepted({ErrorKind::usage}, [&] { entries = parse_env_file(text, "fuzz.env"); })) {
    std::set<std::string> names;
    std::string written;
    for (const EnvEntry& entry : entries) {
      fuzz::check(valid_variable_name(entry.name) && names.insert(entry.name).second, "names are valid and set once");
      written += quoted_line(entry);
    }
    std::vector<EnvEntry> again;
    fuzz::must("an env file written back parses", [&] { again = parse_env_file(written, "fuzz.env (written)"); });
    fuzz::check(again.size() == entries.size(), "an env file reads back every entry");
    for (std::size_t i = 0; i < again.size(); ++i) {
      fuzz::check(again[i].name == entries[i].name && again[i].value.equals(entries[i].value),
                  "an env file value reads back byte for byte");
    }
    fuzz::round_tripped();
  }

  std::vector<TemplateReference> references;
  if (fuzz::accepted({ErrorKind::usage}, [&] { references = find_references(text, "fuzz.template"); })) {
    for (const TemplateReference& found : references) {
      fuzz::check(found.begin < found.end && found.end <= text.size(), "a reference lies in the template");
      const std::string_view span = std::string_view(text).substr(found.begin, found.end - found.begin);
      std::optional<Reference> again;
      fuzz::must("a found reference parses alone", [&] { again = parse_reference(span, "fuzz.reference"); });
      fuzz::check(again && again->secret == found.reference.secret && again->version == found.reference.version,
                  "a found reference reads alone as found");
    }
    fuzz::round_tripped();
  }
  std::optional<Reference> whole;
  if (fuzz::accepted({ErrorKind::usage}, [&] { whole = parse_reference(text, "fuzz.reference"); }) && whole) {
    std::optional<Reference> again;
    fuzz::must("a reference's text parses", [&] { again = parse_reference(whole->text(), "fuzz.reference (written)"); });
    fuzz::check(again && again->secret == whole->secret && again->version == whole->version && again->text() == whole->text(),
                "parse_reference(r.text()) == r");
  }
  return 0;
}
