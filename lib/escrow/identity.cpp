#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>
#include <escrow/identity.hpp>
#include <escrow/labels.hpp>
#include <escrow/seal_into.hpp>

#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>

namespace escrow {

namespace fs = std::filesystem;
using canonical::Json;

namespace {

// Wipes a buffer of key material when it goes out of scope, exceptions included.
class WipeOnExit
{
public:
  WipeOnExit(void* data, std::size_t size) : m_data(data), m_size(size) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { crypto::wipe(m_data, m_size); }

private:
  void* m_data;
  std::size_t m_size;
};

// The same for a string (its current contents at exit).
struct WipeString
{
  std::string& text;
  ~WipeString() { crypto::wipe(text.data(), text.size()); }
};


constexpr std::string_view k_format = "escrow-identity/1";
constexpr std::string_view k_public_format = "escrow-public-identity/1";
constexpr std::string_view k_identity_label = labels::k_identity;
constexpr std::string_view k_check_label = labels::k_identity_check;
// A tampered file must not make the reader derive with absurd limits (minutes of CPU, GiBs):
// nothing above what `identity new --kdf sensitive` writes (libsodium's SENSITIVE: 4 passes,
// 1 GiB) is attempted, nor anything below its minimum.
constexpr std::uint64_t k_max_opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE;
constexpr std::uint64_t k_max_memlimit = crypto_pwhash_MEMLIMIT_SENSITIVE;
constexpr std::uint64_t k_min_opslimit = crypto_pwhash_OPSLIMIT_MIN;
constexpr std::uint64_t k_min_memlimit = crypto_pwhash_MEMLIMIT_MIN;

// Tells a wrong passphrase (the check differs) from a modified file (the check matches but
// the AEAD fails). Computing it costs the same Argon2id run as trying the AEAD, so it gives an
// attacker guessing passphrases nothing.
std::string passphrase_check(const SecretBytes& key)
{
  return canonical::b64(crypto::keyed_hash(key.expose(), k_check_label));
}

Bytes associated_data(const PublicIdentity& pub)
{
  Bytes ad(k_identity_label.begin(), k_identity_label.end());
  ad.reserve(ad.size() + pub.name.size() + 2 + pub.sign_pk.size() + pub.box_pk.size());
  ad.push_back(0);
  ad.insert(ad.end(), pub.name.begin(), pub.name.end());
  ad.push_back(0);
  ad.insert(ad.end(), pub.sign_pk.begin(), pub.sign_pk.end());
  ad.insert(ad.end(), pub.box_pk.begin(), pub.box_pk.end());
  return ad;
}

const std::string& string_field(const Json& json, std::string_view key, std::string_view what)
{
  const auto it = json.find(key);
  if (it == json.end() || !it->is_string()) {
    fail(ErrorKind::integrity, "{}: missing or invalid \"{}\"", what, key);
  }
  return it->get_ref<const std::string&>();
}

std::uint64_t uint_field(const Json& json, std::string_view key, std::string_view what)
{
  const auto it = json.find(key);
  if (it == json.end() || !it->is_number_integer() || it->get<std::int64_t>() <= 0) {
    fail(ErrorKind::integrity, "{}: missing or invalid \"{}\"", what, key);
  }
  return static_cast<std::uint64_t>(it->get<std::int64_t>());
}

template<std::size_t N>
std::array<std::uint8_t, N> key_field(const Json& json, std::string_view key, std::string_view what)
{
  const Bytes bytes = canonical::unb64(string_field(json, key, what), fmt::format("{}: \"{}\"", what, key));
  if (bytes.size() != N) {
    fail(ErrorKind::integrity, "{}: \"{}\" has the wrong length", what, key);
  }
  std::array<std::uint8_t, N> out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

SecretBytes pack_secrets(const Identity& identity)
{
  SecretBytes packed(crypto::k_sign_secret_size + crypto::k_box_secret_size);
  std::memcpy(packed.expose_mut().data(), identity.sign_sk.expose().data(), crypto::k_sign_secret_size);
  std::memcpy(packed.expose_mut().data() + crypto::k_sign_secret_size,
              identity.box_sk.expose().data(),
              crypto::k_box_secret_size);
  return packed;
}

} // namespace

std::string PublicIdentity::fingerprint() const
{
  Bytes both(sign_pk.begin(), sign_pk.end());
  both.insert(both.end(), box_pk.begin(), box_pk.end());
  const crypto::Hash digest = crypto::hash_raw(both);
  const std::string hex = canonical::hex(ByteView(digest.data(), 16));
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i > 0) {
      out.push_back(' ');
    }
    out += hex.substr(i, 4);
  }
  return out;
}

Json PublicIdentity::to_json() const
{
  return Json{{"format", k_public_format},
              {"name", name},
              {"sign_pk", canonical::b64(sign_pk)},
              {"box_pk", canonical::b64(box_pk)}};
}

PublicIdentity PublicIdentity::from_json(const Json& json, std::string_view what)
{
  if (!json.is_object()) {
    fail(ErrorKind::integrity, "{}: not a public identity (expected a JSON object)", what);
  }
  const std::string& format = string_field(json, "format", what);
  if (format != k_public_format && format != k_format) {
    fail(ErrorKind::integrity, "{}: unknown format \"{}\" (expected {})", what, format, k_public_format);
  }
  PublicIdentity pub;
  pub.name = string_field(json, "name", what);
  if (!valid_member_name(pub.name)) {
    fail(ErrorKind::integrity, "{}: invalid member name", what);
  }
  pub.sign_pk = key_field<crypto::k_sign_public_size>(json, "sign_pk", what);
  pub.box_pk = key_field<crypto::k_box_public_size>(json, "box_pk", what);
  return pub;
}

Identity generate_identity(std::string name)
{
  if (!valid_member_name(name)) {
    fail(ErrorKind::usage,
         "invalid member name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
  }
  crypto::SignKeypair sign = crypto::sign_keypair();
  crypto::BoxKeypair box = crypto::box_keypair();
  Identity identity;
  identity.pub.name = std::move(name);
  identity.pub.sign_pk = sign.public_key;
  identity.pub.box_pk = box.public_key;
  identity.sign_sk = std::move(sign.secret_key);
  identity.box_sk = std::move(box.secret_key);
  return identity;
}

std::string serialize_identity(const Identity& identity,
                               Protection protection,
                               const SecretBytes* passphrase,
                               const crypto::KdfLimits& limits)
{
  Json json = identity.pub.to_json();
  json["format"] = k_format;
  const SecretBytes packed = pack_secrets(identity);
  // The clear keys' base64 (unprotected identities) is wiped on every way out, exceptions too.
  std::string clear_b64;
  const WipeString wipe_clear{clear_b64};
  if (protection == Protection::none) {
    clear_b64 = canonical::b64(packed.expose());
    json["secret"] = clear_b64;
  } else {
    if (passphrase == nullptr) {
      fail(ErrorKind::usage, "a passphrase is required");
    }
    const Bytes salt = crypto::random_bytes(crypto::k_salt_size);
    const SecretBytes key = crypto::derive_key(*passphrase, salt, limits);
    const crypto::Sealed sealed = crypto::aead_encrypt(packed.expose(), associated_data(identity.pub), key);
    json["kdf"] = Json{{"alg", "argon2id13"},
                       {"opslimit", static_cast<std::int64_t>(limits.opslimit)},
                       {"memlimit", static_cast<std::int64_t>(limits.memlimit)},
                       {"salt", canonical::b64(salt)},
                       {"check", passphrase_check(key)}};
    json["nonce"] = canonical::b64(sealed.nonce);
    json["ciphertext"] = canonical::b64(sealed.ciphertext);
  }
  std::string text = canonical::dump_pretty(json);
  text.push_back('\n');
  if (protection == Protection::none) {
    auto& secret = json["secret"].get_ref<std::string&>();
    crypto::wipe(secret.data(), secret.size());
  }
  // The serialised JSON holds the clear secret keys for unprotected identities; the caller
  // writes it straight to a 0600 file (or prints it for CI on request).
  return text;
}

bool identity_needs_passphrase(const Json& json)
{
  return json.is_object() && json.contains("ciphertext");
}

Identity open_identity(const Json& json, const SecretBytes* passphrase, std::string_view what)
{
  if (!json.is_object()) {
    fail(ErrorKind::integrity, "{}: not an identity file (expected a JSON object)", what);
  }
  const std::string& format = string_field(json, "format", what);
  if (format == k_public_format) {
    fail(ErrorKind::access, "{}: this is a public identity; it holds no private keys", what);
  }
  if (format != k_format) {
    fail(ErrorKind::integrity, "{}: unknown format \"{}\" (expected {})", what, format, k_format);
  }
  const bool clear_keys = json.contains("secret");
  for (const auto& [key, value] : json.items()) {
    static const std::set<std::string> k_common = {"format", "name", "sign_pk", "box_pk"};
    const bool known = k_common.count(key) > 0
                       || (clear_keys ? key == "secret" : key == "kdf" || key == "nonce" || key == "ciphertext");
    if (!known) {
      fail(ErrorKind::integrity, "{}: unexpected field \"{}\"", what, key);
    }
  }
  Identity identity;
  identity.pub = PublicIdentity::from_json(json, what);

  SecretBytes packed;
  if (json.contains("secret")) {
    Bytes clear = canonical::unb64(string_field(json, "secret", what), what);
    const WipeOnExit wipe_clear(clear.data(), clear.size());
    packed = SecretBytes(clear.data(), clear.size());
  } else {
    const auto kdf_it = json.find("kdf");
    if (kdf_it == json.end() || !kdf_it->is_object()) {
      fail(ErrorKind::integrity, "{}: missing \"kdf\"", what);
    }
    if (string_field(*kdf_it, "alg", what) != "argon2id13") {
      fail(ErrorKind::integrity, "{}: unknown key derivation algorithm", what);
    }
    crypto::KdfLimits limits{uint_field(*kdf_it, "opslimit", what), uint_field(*kdf_it, "memlimit", what)};
    if (limits.opslimit > k_max_opslimit || limits.memlimit > k_max_memlimit || limits.opslimit < k_min_opslimit
        || limits.memlimit < k_min_memlimit) {
      fail(ErrorKind::integrity,
           "{}: key derivation limits are out of range: opslimit {} (from {} to {}), memlimit {} bytes (from {} to {}); "
           "file modified?",
           what, limits.opslimit, k_min_opslimit, k_max_opslimit, limits.memlimit, k_min_memlimit, k_max_memlimit);
    }
    const Bytes salt = canonical::unb64(string_field(*kdf_it, "salt", what), what);
    const Bytes check = canonical::unb64(string_field(*kdf_it, "check", what), what);
    const Bytes nonce = canonical::unb64(string_field(json, "nonce", what), what);
    const Bytes ciphertext = canonical::unb64(string_field(json, "ciphertext", what), what);
    if (passphrase == nullptr) {
      fail(ErrorKind::access, "{}: a passphrase is required to open this identity", what);
    }
    if (salt.size() != crypto::k_salt_size) {
      fail(ErrorKind::integrity, "{}: \"salt\" has the wrong length", what);
    }
    if (check.size() != crypto::Hash{}.size()) {
      fail(ErrorKind::integrity, "{}: \"check\" has the wrong length", what);
    }
    const SecretBytes key = crypto::derive_key(*passphrase, salt, limits);
    if (!crypto::equal(canonical::unb64(passphrase_check(key), what), check)) {
      fail(ErrorKind::access, "{}: wrong passphrase", what);
    }
    auto opened = crypto::aead_decrypt(nonce, ciphertext, associated_data(identity.pub), key);
    if (!opened) {
      fail(ErrorKind::integrity, "{}: the private keys do not decrypt with the right passphrase (file modified)", what);
    }
    packed = std::move(*opened);
  }
  if (packed.size() != crypto::k_sign_secret_size + crypto::k_box_secret_size) {
    fail(ErrorKind::integrity, "{}: private keys have the wrong length", what);
  }
  identity.sign_sk = SecretBytes(packed.expose().data(), crypto::k_sign_secret_size);
  identity.box_sk =
    SecretBytes(packed.expose().data() + crypto::k_sign_secret_size, crypto::k_box_secret_size);
  if (crypto::sign_public_from_secret(identity.sign_sk) != identity.pub.sign_pk
      || crypto::box_public_from_secret(identity.box_sk) != identity.pub.box_pk) {
    fail(ErrorKind::integrity, "{}: private keys do not match the public keys", what);
  }
  return identity;
}

crypto::Signature Identity::sign(std::string_view label, ByteView message) const
{
  return holder ? holder->sign(label, message) : crypto::sign(label, message, sign_sk);
}

std::optional<SecretBytes> Identity::seal_open(ByteView sealed) const
{
  return holder ? holder->seal_open(sealed) : crypto::seal_open(sealed, pub.box_pk, box_sk);
}

bool seal_open_into(const Identity& identity, ByteView sealed, SecretBytes& out)
{
  if (!identity.holder) {
    return crypto::seal_open_into(sealed, identity.pub.box_pk, identity.box_sk, out);
  }
  const std::optional<SecretBytes> opened = identity.holder->seal_open(sealed);
  if (!opened || opened->size() != out.size()) {
    sodium_memzero(out.expose_mut().data(), out.size());
    return false;
  }
  std::copy(opened->expose().begin(), opened->expose().end(), out.expose_mut().begin());
  return true;
}

bool valid_member_name(std::string_view name)
{
  if (name.empty() || name.size() > 64) {
    return false;
  }
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return alnum(c) || c == '.' || c == '_' || c == '-';
  });
}

fs::path default_identity_path(std::string_view escrow_identity, std::string_view xdg_config_home,
                               std::string_view home)
{
  if (!escrow_identity.empty()) {
    return fs::path(escrow_identity);
  }
  if (!xdg_config_home.empty()) {
    return fs::path(xdg_config_home) / "escrow" / "identity.json";
  }
  return fs::path(home.empty() ? std::string_view(".") : home) / ".config" / "escrow" / "identity.json";
}

crypto::KdfLimits identity_kdf(std::string_view strength, bool fast)
{
  if (fast) {
    return crypto::kdf_limits(crypto::KdfStrength::fast);
  }
  if (strength == "moderate") {
    return crypto::kdf_limits(crypto::KdfStrength::moderate);
  }
  if (strength == "sensitive") {
    return crypto::kdf_limits(crypto::KdfStrength::sensitive);
  }
  return crypto::kdf_limits(crypto::KdfStrength::interactive);
}

void write_identity_file(const fs::path& path,
                         const Identity& identity,
                         Protection protection,
                         const SecretBytes* passphrase,
                         const crypto::KdfLimits& limits)
{
  SecretBytes text = [&] {
    std::string serialized = serialize_identity(identity, protection, passphrase, limits);
    return SecretBytes::take(serialized);
  }();
  if (path.has_parent_path() && !fs::exists(path.parent_path())) {
    fs::create_directories(path.parent_path());
    fs::permissions(path.parent_path(), fs::perms::owner_all);
  }
  create_exclusive(path, text.expose_view(), 0600);
}

PublicIdentity parse_public_identity(std::string_view text, const std::string& what)
{
  const Json json = canonical::parse(text, what);
  if (json.is_object() && (json.contains("secret") || json.contains("ciphertext"))) {
    fail(ErrorKind::usage, "{}: this is a private identity; pass the output of 'escrow identity show --public'", what);
  }
  return PublicIdentity::from_json(json, what);
}

PublicIdentity read_public_identity(const std::filesystem::path& path)
{
  return parse_public_identity(read_file(path, 64 * 1024, util::Links::follow), path.string());
}

} // namespace escrow
