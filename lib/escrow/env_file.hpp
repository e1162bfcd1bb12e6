// Env files (".env"), as `exec --env-file` and `import` read them. Values are parsed straight
// into locked memory; errors name the file and a line number, never a line's text.
//
//   # comment                   blank lines and comments are skipped
//   NAME=value                  unquoted: trimmed; " #..." starts a comment
//   export NAME=value           "export " is allowed (files shared with a shell)
//   NAME='value'                single quotes: literal
//   NAME="a\nb"                 double quotes: \n \r \t \\ \" \$ escapes
// NAME is [A-Za-z_][A-Za-z0-9_]*; a name set twice, an unterminated quote, text after a closing
// quote or a line without '=' is an error (Error(usage)). Lines may end in CRLF.
#pragma once

#include <escrow/secret_bytes.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace escrow {

struct EnvEntry
{
  std::string name;
  SecretBytes value;
  std::size_t line = 0;
};

std::vector<EnvEntry> parse_env_file(std::string_view text, std::string_view what);

// Whether `name` is a shell variable name ([A-Za-z_][A-Za-z0-9_]*).
[[nodiscard]] bool valid_variable_name(std::string_view name);

// Reads a file that may hold secret values into locked memory: a regular file (never through a
// symlink, never a FIFO), at most `max_size` bytes. Error(io) / Error(integrity) name the file.
SecretBytes read_secret_file(const std::filesystem::path& path, std::size_t max_size);

} // namespace escrow
