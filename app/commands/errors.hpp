// How a failure is told: the JSON form of an error (with --json, on stdout, besides the usual
// "escrow: error:" line on stderr), and a helpful diagnosis of a command line CLI11 rejected
// (an unknown command or option, with "did you mean"). docs/JSON.md describes the document.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/error.hpp>

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace escrow::cli {

// The version of every JSON document escrow prints (its "schema" field; docs/JSON.md).
inline constexpr int k_json_schema = 1;

// {"schema": 1, "error": {"code": N, "kind": "usage", "message": "...", "hints": [...]}}
canonical::Json error_json(ErrorKind kind, std::string_view message, const std::vector<std::string>& hints);

// Why CLI11 refused `words` (in command-line order, before any "--"), when it is an unknown
// command or option: "escrow member: no command named lsit" with a "did you mean" hint.
std::optional<Error> diagnose_command_line(CLI::App& app, const std::vector<std::string>& words);

// The subcommands a user may type (hidden ones, with an empty group, left out).
std::vector<CLI::App*> visible_subcommands(CLI::App& app);

} // namespace escrow::cli
