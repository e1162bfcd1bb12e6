// escrow-bench-sodium: the limits libsodium sets on this machine, for bench/run.
//   Ed25519 verifications per second (32-byte messages, as escrow signs digests) on 1 and 2
//   threads, Ed25519 signatures per second, sealed-box seals and opens per second (a 32-byte
//   data key), BLAKE2b-256 throughput. Prints one JSON document.
// A reference program, not part of escrow: it calls libsodium directly on purpose.
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start)
{
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs `work(i)` repeatedly on `threads` threads for about `budget` seconds; returns ops/s.
template<typename Work>
double rate(unsigned threads, double budget, Work work)
{
  std::atomic<bool> stop{false};
  std::vector<unsigned long> done(threads, 0);
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      unsigned long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int k = 0; k < 16; ++k) {
          work(t, n++);
        }
      }
      done[t] = n;
    });
  }
  while (seconds_since(start) < budget) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  for (auto& thread : pool) {
    thread.join();
  }
  const double elapsed = seconds_since(start);
  unsigned long total = 0;
  for (const auto n : done) {
    total += n;
  }
  return static_cast<double>(total) / elapsed;
}

} // namespace

int main(int argc, char* argv[])
{
  if (sodium_init() < 0) {
    std::fprintf(stderr, "escrow-bench-sodium: sodium_init failed\n");
    return 1;
  }
  const double budget = argc > 1 ? std::atof(argv[1]) : 0.5; // seconds per measurement

  constexpr std::size_t k_keys = 64;
  std::vector<unsigned char> sign_pk(k_keys * crypto_sign_PUBLICKEYBYTES);
  std::vector<unsigned char> sign_sk(k_keys * crypto_sign_SECRETKEYBYTES);
  std::vector<unsigned char> messages(k_keys * 32);
  std::vector<unsigned char> signatures(k_keys * crypto_sign_BYTES);
  std::vector<unsigned char> box_pk(k_keys * crypto_box_PUBLICKEYBYTES);
  std::vector<unsigned char> box_sk(k_keys * crypto_box_SECRETKEYBYTES);
  std::vector<unsigned char> sealed(k_keys * (32 + crypto_box_SEALBYTES));
  randombytes_buf(messages.data(), messages.size());
  for (std::size_t i = 0; i < k_keys; ++i) {
    crypto_sign_keypair(&sign_pk[i * crypto_sign_PUBLICKEYBYTES], &sign_sk[i * crypto_sign_SECRETKEYBYTES]);
    crypto_sign_detached(&signatures[i * crypto_sign_BYTES], nullptr, &messages[i * 32], 32,
                         &sign_sk[i * crypto_sign_SECRETKEYBYTES]);
    crypto_box_keypair(&box_pk[i * crypto_box_PUBLICKEYBYTES], &box_sk[i * crypto_box_SECRETKEYBYTES]);
    crypto_box_seal(&sealed[i * (32 + crypto_box_SEALBYTES)], &messages[i * 32], 32,
                    &box_pk[i * crypto_box_PUBLICKEYBYTES]);
  }
  std::atomic<int> failures{0};
  const auto verify = [&](unsigned, unsigned long n) {
    const std::size_t i = n % k_keys;
    if (crypto_sign_verify_detached(&signatures[i * crypto_sign_BYTES], &messages[i * 32], 32,
                                    &sign_pk[i * crypto_sign_PUBLICKEYBYTES])
        != 0) {
      ++failures;
    }
  };
  const double verify_1 = rate(1, budget, verify);
  const double verify_2 = rate(2, budget, verify);
  const double sign_1 = rate(1, budget, [&](unsigned, unsigned long n) {
    unsigned char sig[crypto_sign_BYTES];
    const std::size_t i = n % k_keys;
    crypto_sign_detached(sig, nullptr, &messages[i * 32], 32, &sign_sk[i * crypto_sign_SECRETKEYBYTES]);
  });
  const double seal_1 = rate(1, budget, [&](unsigned, unsigned long n) {
    unsigned char out[32 + crypto_box_SEALBYTES];
    const std::size_t i = n % k_keys;
    crypto_box_seal(out, &messages[i * 32], 32, &box_pk[i * crypto_box_PUBLICKEYBYTES]);
  });
  const double open_1 = rate(1, budget, [&](unsigned, unsigned long n) {
    unsigned char out[32];
    const std::size_t i = n % k_keys;
    if (crypto_box_seal_open(out, &sealed[i * (32 + crypto_box_SEALBYTES)], 32 + crypto_box_SEALBYTES,
                             &box_pk[i * crypto_box_PUBLICKEYBYTES], &box_sk[i * crypto_box_SECRETKEYBYTES])
        != 0) {
      ++failures;
    }
  });
  std::vector<unsigned char> block(1 << 20);
  randombytes_buf(block.data(), block.size());
  const double blake2b_blocks = rate(1, budget, [&](unsigned, unsigned long) {
    unsigned char out[32];
    crypto_generichash(out, sizeof out, block.data(), block.size(), nullptr, 0);
  });
  if (failures != 0) {
    std::fprintf(stderr, "escrow-bench-sodium: %d verifications failed\n", failures.load());
    return 1;
  }
  std::printf("{\"threads\": %u, \"ed25519_verify_per_s_1t\": %.0f, \"ed25519_verify_per_s_2t\": %.0f, "
              "\"ed25519_sign_per_s\": %.0f, \"seal_per_s\": %.0f, \"seal_open_per_s\": %.0f, "
              "\"blake2b_mib_per_s\": %.1f, \"sodium\": \"%s\"}\n",
              std::thread::hardware_concurrency(), verify_1, verify_2, sign_1, seal_1, open_1, blake2b_blocks,
              sodium_version_string());
  return 0;
}
