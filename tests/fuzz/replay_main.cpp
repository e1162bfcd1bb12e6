// The fuzz targets without libFuzzer: runs LLVMFuzzerTestOneInput once on each file named on
// the command line (folders: every file in them, in name order). Built with every compiler, so
// the committed corpus (tests/fuzz/corpus/<target>/, crashes found included) is a regression
// test in every build: ctest runs it as `fuzz.<target>`, and it fails when no input of the
// corpus reached the target's round-trip check.
#include "fuzz.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv)
{
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg = argv[i];
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file()) {
          inputs.push_back(entry.path());
        }
      }
    } else {
      inputs.push_back(arg);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: %s FILE|FOLDER... (no input found)\n", argv[0]);
    return 2;
  }
  for (const auto& input : inputs) {
    std::ifstream file(input, std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "cannot read %s\n", input.c_str());
      return 2;
    }
    const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "%s\n", input.c_str()); // names the input if it aborts
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%zu inputs passed, %zu round trips checked\n", inputs.size(), escrow::fuzz::g_round_trips);
  if (escrow::fuzz::g_round_trips == 0) {
    std::fprintf(stderr, "no input of the corpus reached the round-trip check: add a valid seed\n");
    return 1;
  }
  return 0;
}
