// The command-line front end: parses with CLI11, runs one subcommand, maps errors to exit codes.
#pragma once

#include <commands/context.hpp>

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::cli {

// The whole program. Tests call run() in-process with their own streams.
int main(int argc, char* argv[]);
// With the process's own environment and stdin (Io::process()).
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// With the given environment, stdin and terminal (tests: no setenv, no dup2).
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, Io io);

// The command tree: with `invoked` naming a top-level command, only that command's set-up runs
// (one set-up function may add two, e.g. share and unshare); otherwise (no command, an unknown
// word, completion or man, which walk the tree) every command's.
void setup_commands(CLI::App& app, Context& context, std::string_view invoked);
// The command-line word that names the command: the first that is neither a global option nor
// the value of --vault / --identity ("" when there is none).
std::string_view invoked_command(const std::vector<std::string>& words);
// The same over argv[1], ..., argv[argc - 1], without allocating (app/main.cpp reads it before
// the allocator is set up).
std::string_view invoked_command(int argc, const char* const* argv);
// The top-level command names each set-up function adds, in `escrow --help`'s order.
std::vector<std::vector<std::string_view>> command_groups();

} // namespace escrow::cli
