#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <escrow/crypto.hpp>

int main(int argc, char* argv[])
{
  escrow::crypto::init();
  return Catch::Session().run(argc, argv);
}
