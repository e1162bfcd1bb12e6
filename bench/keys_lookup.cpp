// escrow-bench-keys: the escrow-keys/2 key store (lib/escrow/history/keys_file.hpp) at team scale,
// for the "Speed at team scale" targets (issue 12; docs/design/vault-2-replay.md §5).
//
//   escrow-bench-keys [--secrets N] [--readers R] [--lookups L] [--opens O] [--dir DIR]
//
// Writes DIR/escrow.keys (a temp folder by default, removed after) holding, per secret, the shape
// of vault-2.md §4 "Bytes per secret": R rk lines (generation 1), 2 kept versions (v lines with a
// 32-byte value) and 3 custodian shares per version. Line bytes are random of each kind's exact
// size (a sealed box is indistinguishable from them, and sealing 100,000+ boxes would time
// libsodium, not the layout); keys and hashes are computed as escrow computes them.
// Prints one JSON document: file size and bytes per secret; write (serialize_keys) and file
// write; full check (verify_all); a `get`'s key-file work from a cold start of the reader (open +
// the reader's rk line + the v line, by bisection, each checked against its K), median of O; one
// bisecting lookup (get(name, K)) on an open file over L random lines (median of batches of 100);
// the rewrite that an `add` of one secret costs (every line's layout checked, runs of lines
// copied), median of 5, beside its floor (one copy of the file's bytes). bench/run runs it.
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/history/keys_file.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace escrow;
using namespace escrow::history;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start)
{
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU time of this process (user + system), in ms: on a shared machine the wall time includes
// waiting for a core.
double cpu_ms()
{
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1000.0 + static_cast<double>(now.tv_nsec) / 1e6;
}

double median(std::vector<double> values)
{
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

std::vector<SealedLine> secret_lines(std::size_t s, std::size_t readers)
{
  const std::string secret = fmt::format("prod/service-{:05}", s);
  std::vector<SealedLine> lines;
  for (std::size_t r = 0; r < readers; ++r) {
    lines.push_back(SealedLine::make(LineName::reader_key(secret, 1, fmt::format("member{:02}", r)), crypto::random_bytes(80)));
  }
  for (int v = 0; v < 2; ++v) {
    const Vid vid = Vid::random();
    lines.push_back(SealedLine::make(LineName::value(secret, vid), crypto::random_bytes(112 + 32)));
    for (const char* custodian : {"cust-a", "cust-b", "cust-c"}) {
      lines.push_back(SealedLine::make(LineName::share(secret, vid, custodian), crypto::random_bytes(81)));
    }
  }
  return lines;
}

} // namespace

int main(int argc, char* argv[])
{
  std::size_t secrets = 10000;
  std::size_t readers = 10;
  std::size_t lookups = 100000;
  std::size_t opens = 200;
  fs::path dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    const std::string value = argv[i + 1];
    if (option == "--secrets") {
      secrets = std::stoul(value);
    } else if (option == "--readers") {
      readers = std::stoul(value);
    } else if (option == "--lookups") {
      lookups = std::stoul(value);
    } else if (option == "--opens") {
      opens = std::stoul(value);
    } else if (option == "--dir") {
      dir = value;
    } else {
      std::fprintf(stderr, "escrow-bench-keys: unknown option %s\n", option.c_str());
      return 2;
    }
  }
  try {
    crypto::init();
    const bool temporary = dir.empty();
    if (temporary) {
      std::string pattern = (fs::temp_directory_path() / "escrow-bench-keys.XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) {
        std::fprintf(stderr, "escrow-bench-keys: cannot create a temp folder\n");
        return 1;
      }
      dir = pattern;
    }
    fs::create_directories(dir);
    const fs::path path = dir / "escrow.keys";

    VaultId vault_id{};
    const Bytes id = crypto::random_bytes(vault_id.size());
    std::copy(id.begin(), id.end(), vault_id.begin());
    std::vector<SealedLine> lines;
    lines.reserve(secrets * (readers + 8));
    for (std::size_t s = 0; s < secrets; ++s) {
      auto more = secret_lines(s, readers);
      std::move(more.begin(), more.end(), std::back_inserter(lines));
    }

    auto start = Clock::now();
    const std::string text = serialize_keys(vault_id, lines);
    const double serialize_ms = ms_since(start);
    start = Clock::now();
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(text.data(), static_cast<std::streamsize>(text.size()));
    }
    const double write_ms = ms_since(start);

    start = Clock::now();
    std::size_t verified = 0;
    {
      const KeysFile file = KeysFile::open(path);
      verified = file.verify_all();
    }
    const double verify_ms = ms_since(start);

    // A `get`: open the file, bisect to the reader's rk line and to the version's v line.
    std::mt19937_64 random(42);
    std::uniform_int_distribution<std::size_t> pick_secret(0, secrets - 1);
    std::vector<double> get_ms;
    const std::size_t per_secret = readers + 8;
    for (std::size_t i = 0; i < opens; ++i) {
      const std::size_t s = pick_secret(random);
      const SealedLine& rk = lines[s * per_secret + (i % readers)];
      const SealedLine& v = lines[s * per_secret + readers + 4]; // the second version's v line
      start = Clock::now();
      const KeysFile file = KeysFile::open(path);
      const SealedLine a = file.get(rk.name, rk.hash);
      const SealedLine b = file.get(v.name, v.hash);
      get_ms.push_back(ms_since(start));
      if (a.raw != rk.raw || b.raw != v.raw) {
        std::fprintf(stderr, "escrow-bench-keys: a lookup returned other bytes\n");
        return 1;
      }
    }

    std::uniform_int_distribution<std::size_t> pick_line(0, lines.size() - 1);
    const KeysFile file = KeysFile::open(path);
    // Batches of 100 lookups; the median batch (a shared machine preempts some).
    std::size_t found = 0;
    std::vector<double> batch_us;
    for (std::size_t done = 0; done < lookups;) {
      const std::size_t batch = std::min<std::size_t>(100, lookups - done);
      start = Clock::now();
      for (std::size_t i = 0; i < batch; ++i) {
        const SealedLine& line = lines[pick_line(random)];
        found += file.get(line.name, line.hash).raw.size() == line.raw.size() ? 1 : 0;
      }
      batch_us.push_back(ms_since(start) * 1000.0 / static_cast<double>(batch));
      done += batch;
    }
    const double lookup_us = median(batch_us);
    if (found != lookups) {
      std::fprintf(stderr, "escrow-bench-keys: a lookup returned other bytes\n");
      return 1;
    }

    const auto added = secret_lines(secrets, readers);
    std::vector<double> add_ms;
    std::vector<double> add_cpu_ms;
    std::vector<double> copy_ms;
    std::string rewritten;
    for (int i = 0; i < 5; ++i) {
      start = Clock::now();
      const double cpu_start = cpu_ms();
      rewritten = file.rewrite(added, {});
      add_cpu_ms.push_back(cpu_ms() - cpu_start);
      add_ms.push_back(ms_since(start));
      // The floor: one copy of the file's bytes into a fresh buffer.
      start = Clock::now();
      std::string copy(file.bytes());
      copy_ms.push_back(ms_since(start));
      if (copy.size() != text.size()) {
        return 1;
      }
    }
    const double add_one_ms = median(add_ms);

    std::printf("{\n");
    std::printf("  \"secrets\": %zu,\n  \"readers\": %zu,\n  \"lines\": %zu,\n", secrets, readers, verified);
    std::printf("  \"file_bytes\": %zu,\n  \"bytes_per_secret\": %.0f,\n", text.size(),
                static_cast<double>(text.size()) / static_cast<double>(secrets));
    std::printf("  \"serialize_ms\": %.2f,\n  \"write_ms\": %.2f,\n  \"verify_all_ms\": %.2f,\n", serialize_ms, write_ms,
                verify_ms);
    std::printf("  \"get_open_and_two_lookups_ms_median\": %.4f,\n", median(get_ms));
    std::printf("  \"lookup_us_median\": %.3f,\n  \"lookups\": %zu,\n", lookup_us, lookups);
    std::printf("  \"rewrite_add_one_secret_ms_median\": %.2f,\n  \"rewrite_add_one_secret_cpu_ms_median\": %.2f,\n",
                add_one_ms, median(add_cpu_ms));
    std::printf("  \"copy_floor_ms_median\": %.2f,\n", median(copy_ms));
    std::printf("  \"rewritten_bytes\": %zu\n}\n", rewritten.size());
    if (temporary) {
      fs::remove_all(dir);
    }
  } catch (const Error& error) {
    std::fprintf(stderr, "escrow-bench-keys: %s\n", error.what());
    return 1;
  }
  return 0;
}
