// References: "escrow://ENV/NAME" or "escrow://ENV/NAME@vN" stand for a secret's current (or
// N-th) value in a config file, so files hold references and values are fetched at use
// (`escrow inject`, `escrow exec --env-file`; 1Password's `op inject` / `op run --env-file`).
//
// In a template, a reference is "escrow://" followed by the longest run of name characters
// (letters, digits, '.', '_', '-', '/') not ending in '.' or '/' (so "see escrow://prod/db." ends
// before the full stop), then optionally "@v" and digits. The caller reads the values (the vault
// session's read rules, one journal entry per secret read: history/secrets.hpp). An unknown
// secret or version is Error(usage) (exit 2), no access Error(access) (exit 4); either
// way nothing is written and no command runs.
#pragma once

#include <functional>

#include <escrow/secret_bytes.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace escrow {

inline constexpr std::string_view k_reference_scheme = "escrow://";

struct Reference
{
  std::string secret;       // ENV/NAME
  std::int64_t version = 0; // 0 = current
  std::string text() const; // "escrow://ENV/NAME[@vN]"
};

// A whole string that is a reference. nullopt when it does not start with "escrow://";
// Error(usage) when it does but is malformed.
std::optional<Reference> parse_reference(std::string_view text, std::string_view what);

struct TemplateReference
{
  std::size_t begin = 0; // byte offsets in the template
  std::size_t end = 0;
  std::size_t line = 0;
  Reference reference;
};
// The references of a template, in order. Error(usage) names the file and line of a bad one.
std::vector<TemplateReference> find_references(std::string_view text, std::string_view what);

struct InjectResult
{
  std::vector<std::pair<std::string, std::int64_t>> secrets; // each secret read, with its version
  std::size_t references = 0;
};

// inject() with the reading supplied by the caller (escrow-vault/2's session, vault-2-plan.md
// step 5b): `read_all` gets each distinct reference once, in template order, and returns their
// values after journaling the reads (or throws: then nothing is written).
using ReadReferences = std::function<std::vector<SecretBytes>(const std::vector<Reference>& distinct)>;
InjectResult inject_with(const std::filesystem::path& input,
                         const std::filesystem::path& output,
                         SecretBytes* to_stdout,
                         const ReadReferences& read_all);

} // namespace escrow
