// history/material: RK generations, vid-bound versions, dk_box, rk_commit, and the three ways to
// a value (standing reader, grant, k approvals), with a wrong key (exit 4), a forged key that
// fails its commitment, corrupted material and a modified or missing line told apart.
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/history/material.hpp>
#include <escrow/shamir.hpp>

#include <algorithm>

using namespace escrow;
using namespace escrow::history;
using escrow::test::require_error;

namespace {

Recipient recipient(const Identity& identity)
{
  return {identity.pub.name, identity.pub.box_pk};
}

template<typename Action>
KeyFailure failure_of(Action&& action, std::string* message = nullptr)
{
  try {
    action();
  } catch (const KeyError& error) {
    if (message != nullptr) {
      *message = error.what();
    }
    CHECK(error.kind() == (error.failure() == KeyFailure::wrong_key ? ErrorKind::access : ErrorKind::integrity));
    return error.failure();
  } catch (const std::exception& other) {
    FAIL("not a KeyError: " << other.what());
  }
  FAIL("no error");
  return KeyFailure::missing;
}

// A secret prod/db: generation 1 held by alice and bob; version 1 under it, custodians carol and
// dave (2 of 2), a grant to frank, and erin's request approved by carol and dave.
struct Fixture
{
  Identity alice = generate_identity("alice");
  Identity bob = generate_identity("bob");
  Identity carol = generate_identity("carol");
  Identity dave = generate_identity("dave");
  Identity erin = generate_identity("erin");
  Identity frank = generate_identity("frank");
  SecretRef ref{{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6}, "prod/db"};
  ReaderKey gen1 = new_generation(ref, 1);
  SealedVersion v1 = seal_value(ref, gen1, SecretBytes::from("s3cret-value"));
  std::vector<SealedLine> lines;
  std::map<std::string, LineHash> holders; // rk lines of gen 1
  std::map<std::string, LineHash> shares;
  LineHash grant{};
  std::vector<ApprovalRef> approvals;
  std::string request = "00112233aabbccdd";

  Fixture()
  {
    for (const Identity* who : {&alice, &bob}) {
      lines.push_back(seal_reader_key(ref, gen1, recipient(*who)));
      holders[who->pub.name] = lines.back().hash;
    }
    lines.push_back(v1.value_line);
    const std::vector<Recipient> custodians{recipient(carol), recipient(dave)};
    for (SealedLine& line : seal_shares(ref, v1.vid, v1.data_key, 2, custodians)) {
      shares[line.name.holder] = line.hash;
      lines.push_back(std::move(line));
    }
    lines.push_back(seal_grant(ref, v1.vid, v1.data_key, recipient(frank)));
    grant = lines.back().hash;
    // Each custodian approves: opens their share and re-seals it to erin.
    const KeysFile before = file();
    for (const Identity* who : {&carol, &dave}) {
      const SecretBytes share = open_own_share(before, ref, version(), shares.at(who->pub.name), *who);
      lines.push_back(seal_approval(ref, v1.vid, request, who->pub.name, share, recipient(erin)));
      approvals.push_back({who->pub.name, lines.back().hash});
    }
  }

  VersionRef version() const { return {v1.vid, 1, v1.commit, v1.value_line.hash}; }
  GenerationRef generation() const { return {1, gen1.commit}; }
  KeysFile file(const std::vector<SealedLine>& extra = {}) const
  {
    std::vector<SealedLine> all = lines;
    for (const SealedLine& line : extra) {
      all.erase(std::remove_if(all.begin(), all.end(), [&](const SealedLine& l) { return l.name == line.name; }), all.end());
      all.push_back(line);
    }
    return KeysFile::parse(serialize_keys(ref.vault_id, all), "escrow.keys");
  }
  std::string value_of(const KeysFile& keys, const SecretBytes& data_key, const VersionRef& which) const
  {
    return std::string(decrypt_value(keys, ref, which, data_key).expose_view());
  }
};

} // namespace

TEST_CASE("material: labels and commitments are the design's byte layouts", "[material]")
{
  Fixture f;
  const auto bytes_of = [](std::initializer_list<std::string_view> parts, ByteView tail = {}) {
    Bytes out;
    for (const std::string_view part : parts) {
      out.insert(out.end(), part.begin(), part.end());
    }
    out.insert(out.end(), tail.begin(), tail.end());
    return out;
  };
  const std::string id(f.ref.vault_id.begin(), f.ref.vault_id.end());
  const std::string nul(1, '\0');
  const std::string vid(f.v1.vid.bytes.begin(), f.v1.vid.bytes.end());
  CHECK(value_ad(f.ref, f.v1.vid) == bytes_of({"escrow/v2/value", nul, id, "prod/db", nul, vid}));
  CHECK(dk_box_ad(f.ref, f.v1.vid, 12) == bytes_of({"escrow/v2/dk-box", nul, id, "prod/db", nul, vid, "12"}));
  CHECK(dk_commit(f.v1.data_key) == crypto::keyed_hash(f.v1.data_key.expose(), "escrow/v2/dk-commit"));
  const Bytes rk_data = bytes_of({"escrow/v2/rk-commit", nul, id, "prod/db", nul, "1"});
  CHECK(f.gen1.commit
        == crypto::keyed_hash(f.gen1.reader_key.expose(),
                              std::string_view(reinterpret_cast<const char*>(rk_data.data()), rk_data.size())));
  // The v line: nonce ‖ dk_nonce ‖ dk_box ‖ ciphertext.
  CHECK(f.v1.value_line.raw.size() == 112 + std::string("s3cret-value").size());
  // Another generation, secret or vault gives another commitment for the same key.
  CHECK(rk_commit(f.ref, 2, f.gen1.reader_key) != f.gen1.commit);
  SecretRef other = f.ref;
  other.secret = "prod/api";
  CHECK(rk_commit(other, 1, f.gen1.reader_key) != f.gen1.commit);
  other = f.ref;
  other.vault_id[0] ^= 1;
  CHECK(rk_commit(other, 1, f.gen1.reader_key) != f.gen1.commit);
  // vids are random.
  CHECK(Vid::random() != Vid::random());
}

TEST_CASE("material: the three paths to a value", "[material]")
{
  Fixture f;
  const KeysFile keys = f.file();
  REQUIRE(keys.verify_all() == f.lines.size());
  SECTION("standing readers")
  {
    for (const Identity* who : {&f.alice, &f.bob}) {
      const SecretBytes dk = open_as_reader(keys, f.ref, f.version(), f.generation(), f.holders.at(who->pub.name), *who);
      CHECK(f.value_of(keys, dk, f.version()) == "s3cret-value");
    }
  }
  SECTION("a grant")
  {
    const SecretBytes dk = open_grant(keys, f.ref, f.version(), f.grant, f.frank);
    CHECK(f.value_of(keys, dk, f.version()) == "s3cret-value");
  }
  SECTION("k approvals")
  {
    const SecretBytes dk = open_approvals(keys, f.ref, f.version(), f.request, f.approvals, 2, f.erin);
    CHECK(f.value_of(keys, dk, f.version()) == "s3cret-value");
    // Fewer than the threshold: no access (exit 4), before any line is read.
    const std::vector<ApprovalRef> one{f.approvals[0]};
    const std::string message = require_error(ErrorKind::access, [&] {
      (void)open_approvals(keys, f.ref, f.version(), f.request, one, 2, f.erin);
    });
    CHECK(message.find("request 00112233aabbccdd has 1 of 2 approvals") != std::string::npos);
  }
  SECTION("one generation, many versions; a new generation shuts out the old key")
  {
    const SealedVersion v2 = seal_value(f.ref, f.gen1, SecretBytes::from("second"));
    const ReaderKey gen2 = new_generation(f.ref, 2);
    const SealedVersion v3 = seal_value(f.ref, gen2, SecretBytes::from("third"));
    const KeysFile more = f.file({v2.value_line, v3.value_line, seal_reader_key(f.ref, gen2, recipient(f.alice))});
    const SecretBytes rk1 = open_reader_key(more, f.ref, f.generation(), f.holders.at("bob"), f.bob);
    const VersionRef ref2{v2.vid, 1, v2.commit, v2.value_line.hash};
    CHECK(f.value_of(more, open_data_key(more, f.ref, ref2, rk1), ref2) == "second");
    const VersionRef ref3{v3.vid, 2, v3.commit, v3.value_line.hash};
    // bob holds RK_1 only: generation 2's box does not open under it, even claimed as gen 2.
    CHECK(failure_of([&] { (void)open_data_key(more, f.ref, ref3, rk1); }) == KeyFailure::corrupted);
    const VersionRef ref3_as_gen1{v3.vid, 1, v3.commit, v3.value_line.hash};
    CHECK(failure_of([&] { (void)open_data_key(more, f.ref, ref3_as_gen1, rk1); }) == KeyFailure::corrupted);
    const SecretBytes rk2 = gen2.reader_key.clone();
    CHECK(f.value_of(more, open_data_key(more, f.ref, ref3, rk2), ref3) == "third");
  }
}

TEST_CASE("material: a wrong key is not a forgery", "[material]")
{
  Fixture f;
  const KeysFile keys = f.file();
  // Someone else's key under alice's name (an old identity, a copied config).
  const Identity impostor = generate_identity("alice");
  std::string message;
  CHECK(failure_of([&] { (void)open_as_reader(keys, f.ref, f.version(), f.generation(), f.holders.at("alice"), impostor); },
                   &message)
        == KeyFailure::wrong_key);
  CHECK(message == "escrow.keys: prod/db generation 1: the reader key sealed to alice does not open with this identity (wrong key)");
  const Identity frank2 = generate_identity("frank");
  CHECK(failure_of([&] { (void)open_grant(keys, f.ref, f.version(), f.grant, frank2); }) == KeyFailure::wrong_key);
  const Identity erin2 = generate_identity("erin");
  CHECK(failure_of([&] { (void)open_approvals(keys, f.ref, f.version(), f.request, f.approvals, 2, erin2); })
        == KeyFailure::wrong_key);
  const Identity carol2 = generate_identity("carol");
  CHECK(failure_of([&] { (void)open_own_share(keys, f.ref, f.version(), f.shares.at("carol"), carol2); })
        == KeyFailure::wrong_key);
}

TEST_CASE("material: forged key material fails its commitment", "[material]")
{
  Fixture f;
  SECTION("an rk line sealing another reader key (the state recorded this line's hash)")
  {
    const ReaderKey fake = new_generation(f.ref, 1);
    const SealedLine forged = seal_reader_key(f.ref, fake, recipient(f.bob));
    const KeysFile keys = f.file({forged});
    std::string message;
    CHECK(failure_of([&] { (void)open_as_reader(keys, f.ref, f.version(), f.generation(), forged.hash, f.bob); }, &message)
          == KeyFailure::commitment);
    CHECK(message == "escrow.keys: prod/db generation 1: the reader key sealed to bob fails the reader key commitment "
                     "(forged by a writer)");
  }
  SECTION("an rk line of another secret or vault moved here fails the commitment too")
  {
    SecretRef api = f.ref;
    api.secret = "prod/api";
    const ReaderKey theirs = new_generation(api, 1);
    const SealedLine moved = SealedLine::make(LineName::reader_key("prod/db", 1, "bob"),
                                        seal_reader_key(api, theirs, recipient(f.bob)).raw);
    const KeysFile keys = f.file({moved});
    CHECK(failure_of([&] { (void)open_reader_key(keys, f.ref, f.generation(), moved.hash, f.bob); })
          == KeyFailure::commitment);
  }
  SECTION("a v line whose box holds another data key")
  {
    const SealedVersion other = seal_value(f.ref, f.gen1, SecretBytes::from("attacker"), f.v1.vid);
    const KeysFile keys = f.file({other.value_line});
    const VersionRef claimed{f.v1.vid, 1, f.v1.commit, other.value_line.hash};
    CHECK(failure_of([&] { (void)open_as_reader(keys, f.ref, claimed, f.generation(), f.holders.at("alice"), f.alice); })
          == KeyFailure::commitment);
  }
  SECTION("a grant sealing another data key")
  {
    const SealedLine forged = seal_grant(f.ref, f.v1.vid, crypto::random_secret(32), recipient(f.frank));
    const KeysFile keys = f.file({forged});
    CHECK(failure_of([&] { (void)open_grant(keys, f.ref, f.version(), forged.hash, f.frank); }) == KeyFailure::commitment);
  }
  SECTION("an approval re-sealing a forged share")
  {
    const shamir::Share bogus{1, crypto::random_secret(32)};
    const SealedLine forged = seal_approval(f.ref, f.v1.vid, f.request, "carol", shamir::encode(bogus), recipient(f.erin));
    const KeysFile keys = f.file({forged});
    const std::vector<ApprovalRef> approvals{{"carol", forged.hash}, f.approvals[1]};
    std::string message;
    CHECK(failure_of([&] { (void)open_approvals(keys, f.ref, f.version(), f.request, approvals, 2, f.erin); }, &message)
          == KeyFailure::commitment);
    CHECK(message.find("do not rebuild the data key (a forged share)") != std::string::npos);
  }
  SECTION("an approval sealed to someone else than the requester")
  {
    const SecretBytes share = open_own_share(f.file(), f.ref, f.version(), f.shares.at("dave"), f.dave);
    const SealedLine misdirected = seal_approval(f.ref, f.v1.vid, f.request, "dave", share, recipient(f.bob));
    const KeysFile keys = f.file({misdirected});
    const std::vector<ApprovalRef> approvals{f.approvals[0], {"dave", misdirected.hash}};
    std::string message;
    CHECK(failure_of([&] { (void)open_approvals(keys, f.ref, f.version(), f.request, approvals, 2, f.erin); }, &message)
          == KeyFailure::commitment);
    CHECK(message.find("misdirected by its approver") != std::string::npos);
  }
  SECTION("two approvers re-sealing one share")
  {
    const SecretBytes share = open_own_share(f.file(), f.ref, f.version(), f.shares.at("carol"), f.carol);
    const SealedLine copy = seal_approval(f.ref, f.v1.vid, f.request, "dave", share, recipient(f.erin));
    const KeysFile keys = f.file({copy});
    const std::vector<ApprovalRef> approvals{f.approvals[0], {"dave", copy.hash}};
    CHECK(failure_of([&] { (void)open_approvals(keys, f.ref, f.version(), f.request, approvals, 2, f.erin); })
          == KeyFailure::corrupted);
  }
  SECTION("a data key that is not the version's")
  {
    const KeysFile keys = f.file();
    CHECK(failure_of([&] { (void)decrypt_value(keys, f.ref, f.version(), crypto::random_secret(32)); })
          == KeyFailure::commitment);
  }
}

TEST_CASE("material: a reader key opened into a reused buffer (bulk share)", "[material]")
{
  Fixture f;
  const KeysFile keys = f.file();
  const SealedLine bob_line = keys.get(LineName::reader_key("prod/db", 1, "bob"), f.holders.at("bob"));
  ReaderKey reused;
  SECTION("the same key and commitment as the one-key path, key after key")
  {
    SecretRef api = f.ref;
    api.secret = "prod/api";
    const ReaderKey other = new_generation(api, 3);
    const SealedLine api_line = seal_reader_key(api, other, recipient(f.bob));
    open_reader_key_into(bob_line, keys.what(), f.ref, f.generation(), f.bob, reused);
    CHECK(reused.gen == 1);
    CHECK(reused.commit == f.gen1.commit);
    CHECK(reused.reader_key.equals(f.gen1.reader_key));
    // Resealed from the buffer, it opens for the new member as the one-key path's would.
    const SealedLine to_erin = seal_reader_key(f.ref, reused, recipient(f.erin));
    CHECK(open_reader_key(to_erin, keys.what(), f.ref, f.generation(), f.erin).equals(f.gen1.reader_key));
    open_reader_key_into(api_line, keys.what(), api, GenerationRef{3, other.commit}, f.bob, reused);
    CHECK(reused.gen == 3);
    CHECK(reused.commit == other.commit);
    CHECK(reused.reader_key.equals(other.reader_key));
  }
  // Every refusal: the same failure and message as open_reader_key.
  const auto same_refusal = [&](const SealedLine& line, const Identity& who, KeyFailure expected) {
    std::string one;
    std::string into;
    CHECK(failure_of([&] { (void)open_reader_key(line, keys.what(), f.ref, f.generation(), who); }, &one) == expected);
    CHECK(failure_of([&] { open_reader_key_into(line, keys.what(), f.ref, f.generation(), who, reused); }, &into)
          == expected);
    CHECK(into == one);
  };
  SECTION("a line sealed to someone else: wrong key")
  {
    same_refusal(bob_line, f.carol, KeyFailure::wrong_key);
  }
  SECTION("a forged reader key: the commitment")
  {
    same_refusal(seal_reader_key(f.ref, new_generation(f.ref, 1), recipient(f.bob)), f.bob, KeyFailure::commitment);
  }
  // Lines of another size than a sealed key (no keys file holds one: its reader refuses them
  // first), built by hand: the one-key path judges them, so the errors stay the same.
  const auto odd_line = [&](Bytes raw) {
    SealedLine line = bob_line;
    line.raw = std::move(raw);
    return line;
  };
  SECTION("a box holding a key of another size: the commitment, as before")
  {
    const SecretBytes short_key = crypto::random_secret(16);
    same_refusal(odd_line(crypto::seal(short_key.expose(), f.bob.pub.box_pk)), f.bob, KeyFailure::commitment);
  }
  SECTION("a box of another size that does not open: wrong key")
  {
    Bytes raw = bob_line.raw;
    raw.push_back(0);
    same_refusal(odd_line(std::move(raw)), f.bob, KeyFailure::wrong_key);
  }
}

TEST_CASE("material: corrupted material under a committed key", "[material]")
{
  Fixture f;
  const auto corrupt = [&](std::size_t at) {
    Bytes raw = f.v1.value_line.raw;
    raw[at] ^= 0x01;
    return SealedLine::make(f.v1.value_line.name, std::move(raw)); // as its writer recorded it
  };
  SECTION("the ciphertext")
  {
    const SealedLine line = corrupt(f.v1.value_line.raw.size() - 1);
    const KeysFile keys = f.file({line});
    const VersionRef version{f.v1.vid, 1, f.v1.commit, line.hash};
    const SecretBytes dk = open_as_reader(keys, f.ref, version, f.generation(), f.holders.at("alice"), f.alice);
    std::string message;
    CHECK(failure_of([&] { (void)decrypt_value(keys, f.ref, version, dk); }, &message) == KeyFailure::corrupted);
    CHECK(message == fmt::format("escrow.keys: prod/db version {}: the ciphertext does not decrypt under its committed "
                                 "data key (corrupted)",
                                 f.v1.vid.hex()));
  }
  SECTION("the value nonce")
  {
    const SealedLine line = corrupt(0);
    const KeysFile keys = f.file({line});
    const VersionRef version{f.v1.vid, 1, f.v1.commit, line.hash};
    CHECK(failure_of([&] { (void)decrypt_value(keys, f.ref, version, f.v1.data_key); }) == KeyFailure::corrupted);
  }
  SECTION("the data key box")
  {
    const SealedLine line = corrupt(60);
    const KeysFile keys = f.file({line});
    const VersionRef version{f.v1.vid, 1, f.v1.commit, line.hash};
    std::string message;
    CHECK(failure_of([&] { (void)open_as_reader(keys, f.ref, version, f.generation(), f.holders.at("bob"), f.bob); },
                     &message)
          == KeyFailure::corrupted);
    CHECK(message.find("its data key box does not open under the reader key of generation 1") != std::string::npos);
  }
  SECTION("a v line moved to another secret or vid: the associated data refuses it")
  {
    const SealedLine moved = SealedLine::make(LineName::value("prod/api", f.v1.vid), f.v1.value_line.raw);
    SecretRef api = f.ref;
    api.secret = "prod/api";
    const KeysFile keys = f.file({moved});
    const VersionRef at_api{f.v1.vid, 1, f.v1.commit, moved.hash};
    const SecretBytes rk = f.gen1.reader_key.clone();
    CHECK(failure_of([&] { (void)open_data_key(keys, api, at_api, rk); }) == KeyFailure::corrupted);
    CHECK(failure_of([&] { (void)decrypt_value(keys, api, at_api, f.v1.data_key); }) == KeyFailure::corrupted);
    Vid other = f.v1.vid;
    other.bytes[0] ^= 1;
    const SealedLine renamed = SealedLine::make(LineName::value("prod/db", other), f.v1.value_line.raw);
    const KeysFile keys2 = f.file({renamed});
    const VersionRef at_other{other, 1, f.v1.commit, renamed.hash};
    CHECK(failure_of([&] { (void)decrypt_value(keys2, f.ref, at_other, f.v1.data_key); }) == KeyFailure::corrupted);
  }
  SECTION("a share that opens but is not a share")
  {
    const SealedLine junk = SealedLine::make(LineName::share("prod/db", f.v1.vid, "carol"),
                                       crypto::seal(Bytes(33, 0), f.carol.pub.box_pk)); // x = 0
    const KeysFile keys = f.file({junk});
    CHECK(failure_of([&] { (void)open_own_share(keys, f.ref, f.version(), junk.hash, f.carol); }) == KeyFailure::corrupted);
  }
}

TEST_CASE("material: missing and modified lines come before any key is used", "[material]")
{
  Fixture f;
  const KeysFile keys = f.file();
  LineHash unknown = f.holders.at("alice");
  unknown[0] ^= 1;
  CHECK(failure_of([&] { (void)open_as_reader(keys, f.ref, f.version(), f.generation(), unknown, f.alice); })
        == KeyFailure::missing);
  LineHash tail = f.holders.at("alice");
  tail[31] ^= 1;
  CHECK(failure_of([&] { (void)open_as_reader(keys, f.ref, f.version(), f.generation(), tail, f.alice); })
        == KeyFailure::modified);
  // carol has a share, no reader key.
  CHECK(failure_of([&] { (void)open_as_reader(keys, f.ref, f.version(), f.generation(), f.shares.at("carol"), f.carol); })
        == KeyFailure::missing);
  VersionRef version = f.version();
  version.material[31] ^= 1;
  CHECK(failure_of([&] { (void)decrypt_value(keys, f.ref, version, f.v1.data_key); }) == KeyFailure::modified);
}

TEST_CASE("material: no value or key byte is in the keys file; limits", "[material]")
{
  Fixture f;
  const KeysFile keys = f.file();
  const std::string_view bytes = keys.bytes();
  CHECK(bytes.find("s3cret") == std::string_view::npos);
  for (const SecretBytes* key : {&f.v1.data_key, &f.gen1.reader_key}) {
    const std::string raw(key->expose_view());
    CHECK(bytes.find(raw) == std::string_view::npos);
    CHECK(bytes.find(canonical::b64(key->expose()).substr(0, 40)) == std::string_view::npos);
  }
  require_error(ErrorKind::usage, [&] { (void)seal_value(f.ref, f.gen1, SecretBytes(k_max_value_size + 1)); });
  CHECK(seal_value(f.ref, f.gen1, SecretBytes(k_max_value_size)).value_line.raw.size() == 112 + k_max_value_size);
  CHECK(seal_value(f.ref, f.gen1, SecretBytes()).value_line.raw.size() == 112);
  require_error(ErrorKind::failed, [&] { (void)new_generation(f.ref, 0); });
  const std::vector<Recipient> twice{recipient(f.carol), recipient(f.carol)};
  require_error(ErrorKind::failed, [&] { (void)seal_shares(f.ref, f.v1.vid, f.v1.data_key, 1, twice); });
}

TEST_CASE("material: known answers, computed with another BLAKE2b (Python's hashlib)", "[material]")
{
  // hashlib.blake2b(data, key=..., digest_size=32) over the byte layouts of vault-2.md §4.
  Bytes raw(80);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    raw[i] = static_cast<std::uint8_t>(i);
  }
  CHECK(canonical::hex(line_hash("prod/db:g1:rk:alice", raw))
        == "d4ae2bc70847178214073f47e61cc396a18f67f08151a9fba99d869af8cd9b0f");
  CHECK(line_key("prod/db:g1:rk:alice", line_hash("prod/db:g1:rk:alice", raw))
        == "prod/db:g1:rk:alice#d4ae2bc70847178214073f47");
  SecretBytes rk(32);
  SecretBytes dk(32);
  for (std::size_t i = 0; i < 32; ++i) {
    rk.expose_mut()[i] = static_cast<std::uint8_t>(100 + i);
    dk.expose_mut()[i] = static_cast<std::uint8_t>(200 + i);
  }
  const SecretRef ref{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, "prod/db"};
  CHECK(canonical::hex(rk_commit(ref, 7, rk)) == "9919fed2208ab805b4c5c9d6a8096af595405a647da41931de02e976e4a7d8f8");
  CHECK(canonical::hex(dk_commit(dk)) == "d74d26a562fee67b46e182821755aaef52001f1f2486bd77e0f6e16d69d18bce");
}
