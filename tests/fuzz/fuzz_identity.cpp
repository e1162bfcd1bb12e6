// The private identity file ("escrow-identity/1", canonical JSON; lib/escrow/identity.hpp).
// Properties: every input is an identity or an Error(integrity) (Error(access) for a public
// identity, a wrong or missing passphrase); an identity that opens is written again
// (serialize_identity) and opens to the same keys; a clear identity is written back to exactly
// the bytes of its canonical pretty layout. Sealed files are opened with the golden passphrase
// (tests/data/escrow-vault-1/carol.id) when their Argon2id limits are cheap, so the fuzzer
// never runs a costly derivation; otherwise without a passphrase.
#include "fuzz.hpp"

#include <escrow/canonical.hpp>
#include <escrow/identity.hpp>

#include <optional>

using namespace escrow;

namespace {

constexpr std::int64_t k_cheap_opslimit = 2;
constexpr std::int64_t k_cheap_memlimit = 256 * 1024;

std::optional<crypto::KdfLimits> cheap_limits(const canonical::Json& json)
{
  if (!json.is_object() || !json.contains("kdf") || !json["kdf"].is_object()) {
    return std::nullopt;
  }
  const canonical::Json& kdf = json["kdf"];
  if (!kdf.contains("opslimit") || !kdf.contains("memlimit") || !kdf["opslimit"].is_number_integer()
      || !kdf["memlimit"].is_number_integer()) {
    return std::nullopt;
  }
  const auto ops = kdf["opslimit"].get<std::int64_t>();
  const auto mem = kdf["memlimit"].get<std::int64_t>();
  if (ops < 1 || ops > k_cheap_opslimit || mem < 1 || mem > k_cheap_memlimit) {
    return std::nullopt;
  }
  return crypto::KdfLimits{static_cast<std::uint64_t>(ops), static_cast<std::uint64_t>(mem)};
}

bool same_identity(const Identity& a, const Identity& b)
{
  return a.pub.to_json() == b.pub.to_json() && a.sign_sk.equals(b.sign_sk) && a.box_sk.equals(b.box_sk);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  static const SecretBytes passphrase = SecretBytes::from("golden passphrase");
  const std::string text = fuzz::text(data, size);

  canonical::Json json;
  if (!fuzz::accepted({ErrorKind::integrity}, [&] { json = canonical::parse(text, "fuzz.id"); })) {
    return 0;
  }
  const bool sealed = identity_needs_passphrase(json);
  const std::optional<crypto::KdfLimits> limits = cheap_limits(json);
  Identity identity;
  if (!fuzz::accepted({ErrorKind::integrity, ErrorKind::access}, [&] {
        identity = open_identity(json, limits ? &passphrase : nullptr, "fuzz.id");
      })) {
    return 0;
  }
  fuzz::check(!sealed || limits.has_value(), "a sealed identity opens only with its passphrase");

  // Written clear, it opens to the same keys; a clear input is written back byte for byte.
  std::string clear;
  fuzz::must("an identity can be written", [&] {
    clear = serialize_identity(identity, Protection::none, nullptr, crypto::KdfLimits{});
  });
  if (!sealed) {
    fuzz::check(clear == canonical::dump_pretty(json) + "\n", "a clear identity is written back as read");
  }
  Identity reopened;
  fuzz::must("a written identity opens", [&] {
    reopened = open_identity(canonical::parse(clear, "fuzz.id (written)"), nullptr, "fuzz.id (written)");
  });
  fuzz::check(same_identity(identity, reopened), "a written identity holds the same keys");

  // Sealed again with the same passphrase and limits, it opens to the same keys.
  if (sealed) {
    std::string resealed;
    fuzz::must("an identity can be sealed", [&] {
      resealed = serialize_identity(identity, Protection::passphrase, &passphrase, *limits);
    });
    fuzz::must("a sealed identity opens", [&] {
      reopened = open_identity(canonical::parse(resealed, "fuzz.id (sealed)"), &passphrase, "fuzz.id (sealed)");
    });
    fuzz::check(same_identity(identity, reopened), "a resealed identity holds the same keys");
  }

  // Its public part round-trips as a public identity.
  PublicIdentity pub;
  fuzz::must("an identity's public part reads", [&] { pub = PublicIdentity::from_json(identity.pub.to_json(), "fuzz.pub"); });
  fuzz::check(pub.to_json() == identity.pub.to_json(), "an identity's public part round-trips");
  fuzz::round_tripped();
  return 0;
}
