// versions: sealing a value for its readers and custodians, the key commitment, the AEAD's
// associated data, the value size limit (64 KiB).
#include "foundation_support.hpp"

#include <escrow/shamir.hpp>
#include <escrow/versions.hpp>

using namespace escrow;
using escrow::test::require_error;

namespace {

constexpr Timestamp k_t0 = 1768467600;

struct Fixture
{
  Identity alice = generate_identity("alice");
  Identity bob = generate_identity("bob");
  Identity carol = generate_identity("carol");
  Vault vault = make();
  SecretRecord secret;

  Vault make()
  {
    Vault created = Vault::create(alice, k_t0);
    Vault v = Vault::parse(created.serialize(alice, ""), "v");
    for (const Identity* who : {&bob, &carol}) {
      MemberRecord record;
      record.name = who->pub.name;
      record.sign_pk = who->pub.sign_pk;
      record.box_pk = who->pub.box_pk;
      record.roles = {Role::approver};
      record.envs = {"prod"};
      record.added_by = "alice";
      record.added_at = k_t0;
      v.sign(record, alice);
      v.put_member(record);
    }
    return Vault::parse(v.serialize(alice, ""), "v");
  }

  Fixture()
  {
    secret.env = "prod";
    secret.name = "db";
    secret.owner = "alice";
    secret.custodians = {"bob", "carol"};
    secret.threshold = 2;
  }

  VersionRecord seal(std::string_view value, std::set<std::string> readers = {"alice"})
  {
    VersionPlan plan;
    plan.readers = std::move(readers);
    return seal_version(vault, secret, SecretBytes::from(value), plan, k_t0, "alice");
  }
};

} // namespace

TEST_CASE("versions: a sealed value opens for its readers only", "[versions]")
{
  Fixture f;
  const VersionRecord version = f.seal("s3cret");
  CHECK(version.v == 1);
  CHECK(version.state == VersionState::current);
  CHECK(version.wrapped.size() == 1);
  CHECK(version.shares.size() == 2);
  const OpenedKey key = open_data_key(f.vault, f.secret, version, f.alice, k_t0);
  CHECK(key.path == AccessPath::wrapped);
  CHECK(access_path_name(key.path) == "standing");
  CHECK(matches_commitment(version, key.data_key));
  CHECK(decrypt_version(f.vault, f.secret, version, key.data_key).expose_view() == "s3cret");
  CHECK_THAT(require_error(ErrorKind::access, [&] { (void)open_data_key(f.vault, f.secret, version, f.bob, k_t0); }),
             Catch::Contains("bob has no access to prod/db v1"));
  CHECK_FALSE(matches_commitment(version, crypto::random_secret(32)));
  CHECK_FALSE(matches_commitment(version, SecretBytes(16)));
  require_error(ErrorKind::integrity, [&] { (void)decrypt_version(f.vault, f.secret, version, crypto::random_secret(32)); });
}

TEST_CASE("versions: custodian shares reconstruct exactly the committed key", "[versions]")
{
  Fixture f;
  const VersionRecord version = f.seal("s3cret");
  std::vector<shamir::Share> shares;
  for (const Identity* custodian : {&f.bob, &f.carol}) {
    const Bytes sealed = canonical::unb64(version.shares.at(custodian->pub.name), "share");
    auto opened = crypto::seal_open(sealed, custodian->pub.box_pk, custodian->box_sk);
    REQUIRE(opened.has_value());
    shares.push_back(shamir::decode(opened->expose()));
  }
  const SecretBytes data_key = shamir::combine(shares);
  CHECK(matches_commitment(version, data_key));
  CHECK(decrypt_version(f.vault, f.secret, version, data_key).expose_view() == "s3cret");
  // One share is not enough: whatever it yields fails the commitment.
  CHECK_FALSE(matches_commitment(version, shamir::combine(std::span<const shamir::Share>(shares.data(), 1))));
}

TEST_CASE("versions: the value's associated data binds vault, name and version number", "[versions]")
{
  Fixture f;
  const VersionRecord version = f.seal("s3cret");
  const OpenedKey key = open_data_key(f.vault, f.secret, version, f.alice, k_t0);
  SecretRecord renamed = f.secret;
  renamed.name = "db2";
  require_error(ErrorKind::integrity, [&] { (void)decrypt_version(f.vault, renamed, version, key.data_key); });
  VersionRecord renumbered = version;
  renumbered.v = 2;
  require_error(ErrorKind::integrity, [&] { (void)decrypt_version(f.vault, f.secret, renumbered, key.data_key); });
}

TEST_CASE("versions: values up to 64 KiB, wrap_for adds a reader", "[versions]")
{
  Fixture f;
  const std::string largest(k_max_value_size, 'v');
  const VersionRecord big = f.seal(largest);
  const OpenedKey key = open_data_key(f.vault, f.secret, big, f.alice, k_t0);
  CHECK(decrypt_version(f.vault, f.secret, big, key.data_key).size() == k_max_value_size);
  CHECK_THAT(require_error(ErrorKind::usage, [&] { (void)f.seal(largest + "v"); }),
             Catch::Contains("larger than the limit of 65536 bytes"));

  VersionRecord version = f.seal("s3cret");
  wrap_for(f.vault, version, "bob", open_data_key(f.vault, f.secret, version, f.alice, k_t0).data_key);
  CHECK(decrypt_version(f.vault, f.secret, version, open_data_key(f.vault, f.secret, version, f.bob, k_t0).data_key).expose_view()
        == "s3cret");
  require_error(ErrorKind::usage, [&] { wrap_for(f.vault, version, "nobody", key.data_key); });
}
