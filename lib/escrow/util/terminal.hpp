// Terminal helpers that know nothing of escrow.
#pragma once

#include <escrow/secret_bytes.hpp>

#include <filesystem>
#include <optional>
#include <string_view>

namespace escrow::util {

// Prompts on /dev/tty with echo off and reads one line. nullopt when there is no terminal.
std::optional<SecretBytes> read_hidden_line(std::string_view prompt);
// Whether fd refers to a terminal.
bool is_terminal(int fd);
// Reads all of fd 0 into locked memory, at most max_size bytes (Error(usage) beyond).
SecretBytes read_stdin_secret(std::size_t max_size);
// A passphrase kept in a file: its bytes, trailing CR/LF dropped, straight into locked memory
// (never through a std::string). Error(io) when unreadable, Error(integrity) over max_size.
SecretBytes read_secret_line_file(const std::filesystem::path& path, std::size_t max_size);

} // namespace escrow::util
