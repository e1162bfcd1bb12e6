// escrow-bench-trivial: the start-up floor for `escrow --version` — a C++ program that starts,
// calls sodium_init() and prints one line through iostreams, as escrow does.
#include <sodium.h>

#include <iostream>

int main()
{
  if (sodium_init() < 0) {
    return 1;
  }
  std::cout << "trivial 0.1.0\n";
  return 0;
}
