#include <commands/cli.hpp>

int main(int argc, char* argv[])
{
  return escrow::cli::main(argc, argv);
}
