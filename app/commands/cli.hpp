// The command-line front end: parses with CLI11, runs one subcommand, maps errors to exit codes.
#pragma once

#include <commands/context.hpp>

#include <iosfwd>
#include <string>
#include <vector>

namespace escrow::cli {

// The whole program. Tests call run() in-process with their own streams.
int main(int argc, char* argv[]);
// With the process's own environment and stdin (Io::process()).
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// With the given environment, stdin and terminal (tests: no setenv, no dup2).
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, Io io);

} // namespace escrow::cli
