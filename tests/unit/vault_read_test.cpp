// vault reading for speed (issue 6): Vault::read maps the file and finds one record through the
// manifest without scanning the others; whatever it does not look at is checked when a command
// needs every record. These tests pin that a lazy read finds exactly what the strict read finds,
// refuses what it touches when tampered, leaves the rest to verify_all (which reports the first
// bad record in name order, though it verifies on several threads), and falls back to the
// strict reader, and its messages, for a file not in escrow's layout. Also: the canonical
// scanner's fast string path and base64 decoder agree with the byte-wise rules.
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/vault.hpp>
#include <escrow/versions.hpp>

#include <random>

using namespace escrow;
using escrow::test::require_error;
using escrow::test::spit;
using escrow::test::TempDir;

namespace {

constexpr Timestamp k_t0 = 1768467600; // 2026-01-15T09:00:00Z

// Names that exercise the bisection: first, last, neighbours that share prefixes, '/' and '.'.
std::vector<std::string> names(std::size_t count)
{
  std::vector<std::string> out;
  const char* envs[] = {"dev", "prod", "prod-eu", "staging"};
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(fmt::format("{}/svc{}/{}", envs[i % 4], i / 4, i % 3 == 0 ? "db.password" : "api-key"));
  }
  out.push_back("prod/a");
  out.push_back("prod/a-b");
  out.push_back("prod/a/b");
  std::sort(out.begin(), out.end());
  return out;
}

struct Fixture
{
  Identity alice = generate_identity("alice");
  TempDir dir;
  std::vector<std::string> secrets;
  std::string text;

  explicit Fixture(std::size_t count)
  {
    Vault vault = Vault::create(alice, k_t0);
    secrets = names(count);
    for (const auto& full_name : secrets) {
      const auto [env, name] = split_secret_name(full_name);
      SecretRecord secret;
      secret.env = env;
      secret.name = name;
      secret.owner = "alice";
      secret.purpose = "value of " + full_name;
      secret.created_at = k_t0;
      VersionPlan plan;
      plan.why = "added";
      plan.readers = {"alice"};
      VersionRecord version = seal_version(vault, secret, SecretBytes::from("v:" + full_name), plan, k_t0, "alice");
      vault.sign(secret, version, alice);
      secret.versions.push_back(std::move(version));
      vault.sign_meta(secret, alice);
      vault.put_secret(std::move(secret));
    }
    text = vault.serialize(alice, "");
    spit(path(), text);
  }

  std::filesystem::path path() const { return dir / "t.vault"; }
  void write(const std::string& content) const { spit(path(), content); }

  // The span of a secret's record, from the strict scanner.
  canonical::Span record(const std::string& name) const
  {
    std::size_t end = 0;
    const auto top = canonical::scan_object(text, 0, end, "t");
    for (const auto& span : canonical::scan_object(text, top[10].begin, end, "t")) {
      if (span.key == name) {
        return span;
      }
    }
    FAIL("no record " << name);
    return {};
  }

  std::string value(const Vault& vault, const std::string& name) const
  {
    const SecretRecord& secret = vault.secret(name);
    const OpenedKey key = open_data_key(vault, secret, *secret.current(), alice, k_t0 + 10);
    return std::string(decrypt_version(vault, secret, *secret.current(), key.data_key).expose_view());
  }
};

} // namespace

TEST_CASE("vault read: a lazy read finds every record the strict read finds", "[vault][read]")
{
  Fixture f(40);
  const Vault eager = Vault::parse(f.text, f.path().string());
  const Vault lazy = Vault::read(f.path());
  CHECK(lazy.head() == eager.head());
  CHECK(lazy.revision() == eager.revision());
  CHECK(lazy.bytes() == f.text);
  CHECK(lazy.text() == f.text);
  for (const auto& name : f.secrets) {
    INFO(name);
    // A fresh read for each, so that each is found by bisection, not from an index.
    const Vault one = Vault::read(f.path());
    CHECK(one.has_secret(name));
    CHECK(to_json(one.secret(name)) == to_json(eager.secret(name)));
    CHECK(f.value(one, name) == "v:" + name);
    CHECK(to_json(lazy.secret(name)) == to_json(eager.secret(name)));
  }
  CHECK(lazy.secret_names() == eager.secret_names());
  CHECK_NOTHROW(lazy.verify_all());
  CHECK(require_error(ErrorKind::usage, [&] { (void)Vault::read(f.path()).secret("prod/a-"); })
        == f.path().string() + ": no secret named prod/a-");
  CHECK_FALSE(Vault::read(f.path()).has_secret("prod/zzz"));
  CHECK_FALSE(Vault::read(f.path()).has_secret("aaa/zzz"));
}

TEST_CASE("vault read: one read record is checked, the others wait for verify_all", "[vault][read]")
{
  Fixture f(20);
  const std::string first = f.secrets.front();
  const std::string middle = f.secrets[f.secrets.size() / 2];
  const std::string last = f.secrets.back();

  SECTION("a tampered record is refused when it is read, and by verify_all")
  {
    std::string text = f.text;
    const auto span = f.record(middle);
    const auto at = text.find("value of ", span.begin);
    REQUIRE(at < span.end);
    text[at] = 'V';
    f.write(text);
    CHECK(f.value(Vault::read(f.path()), first) == "v:" + first);
    CHECK(f.value(Vault::read(f.path()), last) == "v:" + last);
    CHECK(require_error(ErrorKind::integrity, [&] { (void)Vault::read(f.path()).secret(middle); })
          == f.path().string() + ": secrets/" + middle + ": record does not match the signed manifest (modified outside escrow)");
    CHECK(require_error(ErrorKind::integrity, [&] { Vault::read(f.path()).verify_all(); })
          == f.path().string() + ": secrets/" + middle + ": record does not match the signed manifest (modified outside escrow)");
  }

  SECTION("broken JSON elsewhere is found as soon as every record is needed")
  {
    std::string text = f.text;
    const auto span = f.record(middle);
    const auto at = text.find("\"purpose\"", span.begin);
    REQUIRE(at < span.end);
    text[at] = 'x'; // a key without its opening quote
    f.write(text);
    // The strict read refuses the file at once; a lazy read serves the records it can prove.
    require_error(ErrorKind::integrity, [&] { (void)Vault::parse(text, "t"); });
    CHECK(f.value(Vault::read(f.path()), first) == "v:" + first);
    require_error(ErrorKind::integrity, [&] { (void)Vault::read(f.path()).secret_names(); });
    require_error(ErrorKind::integrity, [&] { Vault::read(f.path()).verify_all(); });
    require_error(ErrorKind::integrity, [&] { (void)Vault::read(f.path()).secret(middle); });
  }

  SECTION("a record the manifest does not name")
  {
    // Rename the last record's key to a name after it: its line is still in order.
    std::string text = f.text;
    const std::string key = "\"" + last + "\": {";
    const auto at = text.rfind(key);
    REQUIRE(at != std::string::npos);
    text.replace(at, key.size(), "\"" + last + "x\": {");
    f.write(text);
    CHECK(require_error(ErrorKind::integrity, [&] { (void)Vault::read(f.path()).secret(last + "x"); })
          == f.path().string() + ": secrets/" + last + "x: record is not in the signed manifest (added outside escrow?)");
    require_error(ErrorKind::integrity, [&] { Vault::read(f.path()).verify_all(); });
  }

  SECTION("the same tampering gives the same message lazily and strictly")
  {
    std::string text = f.text;
    const auto span = f.record(first);
    text.insert(span.begin + 1, " "); // not escrow's layout
    f.write(text);
    const std::string strict = require_error(ErrorKind::integrity, [&] { (void)Vault::parse(text, f.path().string()).verify_all(); });
    const std::string lazy = require_error(ErrorKind::integrity, [&] { Vault::read(f.path()).verify_all(); });
    CHECK(lazy == strict);
  }
}

TEST_CASE("vault read: a file not in the layout is read by the strict reader", "[vault][read]")
{
  Fixture f(5);
  const auto strict = [&](const std::string& text) {
    return require_error(ErrorKind::integrity, [&] { (void)Vault::parse(text, f.path().string()); });
  };
  const auto lazy = [&](const std::string& text) {
    f.write(text);
    return require_error(ErrorKind::integrity, [&] { (void)Vault::read(f.path()).secret_names(); });
  };
  for (const std::string& text : {f.text.substr(0, f.text.size() / 2),          // truncated in the secrets
                                  f.text.substr(0, f.text.size() - 1),          // the last newline cut
                                  " " + f.text,                                  // leading space
                                  f.text + "x",                                  // trailing data
                                  std::string("{}\n"),                           // no fields
                                  f.text.substr(0, 200)}) {                      // truncated in the head
    INFO(text.substr(0, 60));
    CHECK(lazy(text) == strict(text));
  }
  f.write("");
  CHECK(require_error(ErrorKind::integrity, [&] { (void)Vault::read(f.path()); }) == f.path().string() + ": empty file (not an escrow vault)");
  CHECK(require_error(ErrorKind::io, [&] { (void)Vault::read(f.dir / "missing.vault"); })
        == (f.dir / "missing.vault").string() + ": cannot open: No such file or directory");
}

TEST_CASE("vault read: a lazily read vault writes what a strictly read one writes", "[vault][read]")
{
  Fixture f(12);
  const std::string name = f.secrets[3];
  const auto next = [&](Vault vault) {
    SecretRecord& secret = vault.secret_mut(name);
    secret.purpose = "changed";
    vault.sign_meta(secret, f.alice);
    return vault.serialize(f.alice, "");
  };
  const std::string strict = next(Vault::parse(f.text, f.path().string()));
  const std::string lazy = next(Vault::read(f.path()));
  CHECK(lazy == strict);
  const Vault reread = Vault::parse(lazy, "t");
  CHECK(reread.secret(name).purpose == "changed");
  CHECK_NOTHROW(reread.verify_all());
}

TEST_CASE("vault read: verify_all on several threads reports the first bad record in name order", "[vault][read]")
{
  Fixture f(100); // enough records for the parallel pass
  std::string text = f.text;
  const std::string second = f.secrets[1];
  for (const std::size_t index : {std::size_t{90}, std::size_t{1}, std::size_t{50}}) {
    const auto span = f.record(f.secrets[index]);
    const auto at = text.find("value of ", span.begin);
    REQUIRE(at < span.end);
    text[at] = 'V';
  }
  f.write(text);
  for (int round = 0; round < 5; ++round) {
    CHECK(require_error(ErrorKind::integrity, [&] { Vault::read(f.path()).verify_all(); })
          == f.path().string() + ": secrets/" + second + ": record does not match the signed manifest (modified outside escrow)");
  }
  const Vault good = Vault::parse(f.text, "t");
  good.verify_all();
  // The genesis member, the head and the policy when read; each secret's record and its version.
  CHECK(good.verified_signatures() == 3 + 2 * f.secrets.size());
}

TEST_CASE("canonical: the fast string scan agrees with the byte-wise rules at every offset", "[canonical][read]")
{
  // A long plain run with one special byte at each position; quoted as a JSON string value.
  const std::string specials[] = {"\"", "\\\\", "\\n", "\\u00e9", "\xc3\xa9", "\x01", "\x7f", "\xff", "\xc3"};
  for (const auto& special : specials) {
    for (std::size_t at = 0; at < 20; ++at) {
      const std::string body = std::string(at, 'a') + special + std::string(19 - at, 'b');
      const std::string text = "{\"k\": \"" + body + "\"}";
      INFO("special " << canonical::hex(as_bytes(special)) << " at " << at);
      const bool valid = special != "\"" && special != "\x01" && special != "\xff" && special != "\xc3";
      if (valid) {
        const Json json = canonical::parse(text, "t");
        std::string expected = std::string(at, 'a');
        expected += special == "\\\\" ? "\\" : special == "\\n" ? "\n" : special == "\\u00e9" ? "\xc3\xa9" : special;
        expected += std::string(19 - at, 'b');
        CHECK(json["k"].get<std::string>() == expected);
        std::size_t end = 0;
        CHECK(canonical::scan_object(text, 0, end, "t").size() == 1);
        CHECK(end == text.size());
      } else {
        require_error(ErrorKind::integrity, [&] { (void)canonical::parse(text, "t"); });
        require_error(ErrorKind::integrity, [&] {
          std::size_t end = 0;
          (void)canonical::scan_object(text, 0, end, "t");
        });
      }
    }
  }
}

TEST_CASE("canonical: base64 decoding agrees with encoding and refuses what it refused", "[canonical][read]")
{
  std::mt19937 random(6);
  for (std::size_t size = 0; size < 70; ++size) {
    Bytes data(size);
    for (auto& byte : data) {
      byte = static_cast<std::uint8_t>(random());
    }
    const std::string text = canonical::b64(data);
    CHECK(canonical::unb64(text, "t") == data);
    for (std::size_t at = 0; at < text.size(); ++at) {
      for (const char bad : {'-', '_', '=', ' ', '\0'}) {
        std::string broken = text;
        broken[at] = bad;
        const auto error = escrow::test::error_of([&] { (void)canonical::unb64(broken, "t"); });
        if (error) {
          CHECK(error->kind() == ErrorKind::integrity);
        } else {
          // Only padding in the last two places can still decode: then it is canonical again.
          CHECK(bad == '=');
          CHECK(canonical::b64(canonical::unb64(broken, "t")) == broken);
        }
      }
    }
  }
}
