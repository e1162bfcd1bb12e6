// The command-line front end: parses with CLI11, runs one subcommand, maps errors to exit codes.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace escrow::cli {

// The whole program. Tests call run() in-process with their own streams.
int main(int argc, char* argv[]);
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

} // namespace escrow::cli
