// Escrow in the library (lib/escrow/escrow.hpp), on an in-memory vault: requests, k-of-n
// approvals, denials, grants that expire and survive a new version, separation of duties, and
// forged or replayed approvals caught by verification.
#include <escrow/error.hpp>
#include <escrow/escrow.hpp>
#include <escrow/policy.hpp>
#include <escrow/shamir.hpp>
#include <escrow/versions.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <regex>
#include <set>
#include <string>

using namespace escrow;

namespace {

constexpr Timestamp k_t0 = 1'900'000'000; // 2030-03-17
constexpr std::int64_t k_hour = 3600;
const std::string k_db = "prod/db";
const std::string k_value = "hunter2-escrow-unit";

template<typename F>
std::optional<ErrorKind> thrown_kind(F&& action, std::string* message = nullptr)
{
  try {
    action();
  } catch (const Error& error) {
    if (message != nullptr) {
      *message = error.what();
    }
    return error.kind();
  }
  return std::nullopt;
}

// alice: genesis admin. bob, carol, erin: approving custodians of prod/db (2 of 3); erin is also
// a requester. dave: requester. frank: approver, not a custodian. rob: rotator. sam: requester in
// staging only. ann: auditor.
struct World
{
  Identity alice = generate_identity("alice");
  Identity bob = generate_identity("bob");
  Identity carol = generate_identity("carol");
  Identity dave = generate_identity("dave");
  Identity erin = generate_identity("erin");
  Identity frank = generate_identity("frank");
  Identity rob = generate_identity("rob");
  Identity sam = generate_identity("sam");
  Identity ann = generate_identity("ann");
  Vault vault = Vault::create(alice, k_t0);

  World()
  {
    add_member(bob, {Role::approver}, {"prod"});
    add_member(carol, {Role::approver}, {"prod"});
    add_member(dave, {Role::requester}, {"prod"});
    add_member(erin, {Role::approver, Role::requester}, {"prod"});
    add_member(frank, {Role::approver, Role::requester}, {"prod"});
    add_member(rob, {Role::rotator}, {"prod"});
    add_member(sam, {Role::requester}, {"staging"});
    add_member(ann, {Role::auditor}, {"prod"});
    add_secret(k_db, k_value, {"bob", "carol", "erin"}, 2);
    reload();
  }

  void add_member(const Identity& id, std::set<Role> roles, std::set<std::string> envs)
  {
    MemberRecord record;
    record.name = id.pub.name;
    record.sign_pk = id.pub.sign_pk;
    record.box_pk = id.pub.box_pk;
    record.roles = std::move(roles);
    record.envs = std::move(envs);
    record.added_by = "alice";
    record.added_at = k_t0;
    vault.sign(record, alice);
    vault.put_member(record);
  }

  void add_secret(const std::string& full_name, const std::string& value, std::vector<std::string> custodians,
                  std::int64_t threshold)
  {
    const auto [env, name] = split_secret_name(full_name);
    SecretRecord secret;
    secret.env = env;
    secret.name = name;
    secret.owner = "alice";
    secret.purpose = "test";
    secret.custodians = std::move(custodians);
    secret.threshold = threshold;
    secret.created_at = k_t0;
    VersionPlan plan;
    plan.readers = policy::standing_readers(vault, secret);
    VersionRecord version = seal_version(vault, secret, SecretBytes::from(value), plan, k_t0, "alice");
    vault.sign(secret, version, alice);
    secret.versions.push_back(std::move(version));
    vault.sign_meta(secret, alice);
    vault.put_secret(std::move(secret));
  }

  // Writes and re-reads the vault: every changed record is verified on the way out, and the
  // whole document on the way in.
  void reload()
  {
    std::string text = vault.serialize(alice, "");
    vault = Vault::parse(std::move(text), "test.vault");
    vault.verify_all();
  }

  const SecretRecord& db() const { return vault.secret(k_db); }
  std::string db_json() const { return canonical::dump(to_json(db())); }

  std::string read_db(const Identity& who, Timestamp now) const
  {
    const SecretRecord& secret = db();
    const OpenedKey key = open_data_key(vault, secret, *secret.current(), who, now);
    return std::string(decrypt_version(vault, secret, *secret.current(), key.data_key).expose_view());
  }

  std::string request(const Identity& who, Timestamp now = k_t0, std::int64_t ttl = 4 * k_hour)
  {
    return request_access(vault, k_db, who, ttl, "incident 812", now).id;
  }

  // A new current version of prod/db made the way rotation makes it: grants carried over.
  void new_version(Timestamp now, const std::string& value)
  {
    SecretRecord& secret = vault.secret_mut(k_db);
    VersionPlan plan;
    plan.v = secret.next_version();
    plan.why = "rotated";
    plan.readers = policy::standing_readers(vault, secret);
    plan.grants = carried_grants(vault, secret, now);
    VersionRecord version = seal_version(vault, secret, SecretBytes::from(value), plan, now, "alice");
    vault.sign(secret, version, alice);
    for (auto& old : secret.versions) {
      if (old.state == VersionState::current) {
        old.state = VersionState::previous;
        vault.sign(secret, old, alice);
      }
    }
    secret.versions.push_back(std::move(version));
    reload();
  }
};

} // namespace

TEST_CASE("escrow: request ids are 16 lowercase hex characters, unique", "[escrow]")
{
  World w;
  std::set<std::string> ids;
  const std::regex shape("[0-9a-f]{16}");
  for (int i = 0; i < 20; ++i) {
    const std::string id = w.request(w.dave);
    CHECK(std::regex_match(id, shape));
    CHECK(valid_request_id(id));
    ids.insert(id);
  }
  CHECK(ids.size() == 20);
  CHECK_FALSE(valid_request_id(""));
  CHECK_FALSE(valid_request_id("ABCDEF0123456789"));
  CHECK_FALSE(valid_request_id("../../x"));
  w.reload(); // every request verifies
  CHECK(w.db().requests.size() == 20);
}

TEST_CASE("escrow: k approvals open the value, k-1 do not, expiry ends it", "[escrow]")
{
  World w;
  const std::string id = w.request(w.dave);
  w.reload();
  CHECK(request_status(w.vault, w.db(), find_request(w.vault, w.db(), id), k_t0).state == RequestState::pending);

  ApprovalResult first = approve_request(w.vault, k_db, id, w.bob, k_t0 + 60);
  CHECK(first.approvals == 1);
  CHECK(first.threshold == 2);
  CHECK_FALSE(first.granted());
  w.reload();
  std::string message;
  CHECK(thrown_kind([&] { (void)w.read_db(w.dave, k_t0 + 120); }, &message) == ErrorKind::access);
  CHECK(message.find("1 of 2 approvals") != std::string::npos);

  ApprovalResult second = approve_request(w.vault, k_db, id, w.carol, k_t0 + 180);
  CHECK(second.granted());
  CHECK(second.requester == "dave");
  CHECK(second.v == 1);
  w.reload();
  CHECK(w.read_db(w.dave, k_t0 + 240) == k_value);
  const Request& request = find_request(w.vault, w.db(), id);
  CHECK(request_status(w.vault, w.db(), request, k_t0 + 240).state == RequestState::granted);
  CHECK(active_grant(w.vault, w.db(), "dave", k_t0 + 240) == &request);

  // The last second of the grant works; its end does not.
  CHECK(w.read_db(w.dave, k_t0 + 4 * k_hour - 1) == k_value);
  CHECK(thrown_kind([&] { (void)w.read_db(w.dave, k_t0 + 4 * k_hour); }, &message) == ErrorKind::access);
  CHECK(message.find("expired") != std::string::npos);
  CHECK(request_status(w.vault, w.db(), request, k_t0 + 4 * k_hour).state == RequestState::expired);
  CHECK(active_grant(w.vault, w.db(), "dave", k_t0 + 4 * k_hour) == nullptr);
  // Other members are not helped by dave's approvals.
  CHECK(thrown_kind([&] { (void)w.read_db(w.frank, k_t0 + 240); }) == ErrorKind::access);
}

TEST_CASE("escrow: separation of duties on approve, each refused without a change", "[escrow]")
{
  World w;
  const std::string by_dave = w.request(w.dave);
  const std::string by_erin = w.request(w.erin);
  w.reload();
  const std::string before = w.db_json();
  const auto refused = [&](const Identity& who, const std::string& id, std::string_view expected) {
    std::string message;
    CHECK(thrown_kind([&] { (void)approve_request(w.vault, k_db, id, who, k_t0 + 60); }, &message)
          == ErrorKind::access);
    INFO(message);
    CHECK(message.find(expected) != std::string::npos);
    CHECK(w.db_json() == before);
  };
  refused(w.erin, by_erin, "cannot approve their own request");
  refused(w.frank, by_dave, "is not a custodian");
  refused(w.rob, by_dave, "rotator role");
  refused(w.dave, by_erin, "needs the approver role");
  refused(w.alice, by_dave, "is not a custodian"); // an admin is not a custodian
  w.reload();
  CHECK(w.db().requests[0].approvals.empty());
  CHECK(w.db().requests[1].approvals.empty());
}

TEST_CASE("escrow: who may request", "[escrow]")
{
  World w;
  std::string message;
  const auto refused = [&](const Identity& who, std::int64_t ttl, const std::string& why, ErrorKind kind,
                           std::string_view expected) {
    const std::string before = w.db_json();
    CHECK(thrown_kind([&] { (void)request_access(w.vault, k_db, who, ttl, why, k_t0); }, &message) == kind);
    INFO(message);
    CHECK(message.find(expected) != std::string::npos);
    CHECK(w.db_json() == before);
  };
  refused(w.rob, k_hour, "x", ErrorKind::access, "rotator role");
  refused(w.bob, k_hour, "x", ErrorKind::access, "requester role");
  refused(w.ann, k_hour, "x", ErrorKind::access, "requester role");
  refused(w.sam, k_hour, "x", ErrorKind::access, "not assigned to the prod environment");
  refused(w.alice, k_hour, "x", ErrorKind::usage, "already has standing access");
  refused(w.dave, 25 * k_hour, "x", ErrorKind::access, "over the prod policy's maximum of 1d");
  refused(w.dave, k_hour, "", ErrorKind::access, "requires a justification");
  refused(w.dave, 0, "x", ErrorKind::usage, "must be positive");
  refused(w.dave, k_hour, "line\nbreak", ErrorKind::usage, "control characters");
  refused(w.dave, k_hour, std::string(k_max_why_size + 1, 'a'), ErrorKind::usage, "longer than");
  refused(w.dave, k_hour, "\xff\xfe", ErrorKind::usage, "UTF-8");

  // The policy decides: a longer cap, no justification needed.
  PolicyChange change;
  change.max_ttl = 48 * k_hour;
  change.require_why = false;
  (void)change_policy(w.vault, w.alice, "prod", change);
  w.reload();
  const Request& request = request_access(w.vault, k_db, w.dave, 25 * k_hour, "", k_t0);
  CHECK(request.ttl == 25 * k_hour);
  CHECK(request.why.empty());
  w.reload();
}

TEST_CASE("escrow: a custodian-requester needs k approvals from others, though k-1 suffice cryptographically", "[escrow]")
{
  World w;
  const std::string id = w.request(w.erin);
  (void)approve_request(w.vault, k_db, id, w.bob, k_t0 + 60);
  w.reload();
  std::string message;
  CHECK(thrown_kind([&] { (void)w.read_db(w.erin, k_t0 + 120); }, &message) == ErrorKind::access);
  CHECK(message.find("1 of 2 approvals") != std::string::npos);

  // What the docs say: erin's own share plus bob's re-sealed one reconstruct the key. The tool's
  // demand for k approvals by others is policy, not cryptography.
  const SecretRecord& secret = w.db();
  const VersionRecord& v1 = *secret.current();
  auto own = crypto::seal_open(canonical::unb64(v1.shares.at("erin"), "share"), w.erin.pub.box_pk, w.erin.box_sk);
  auto approved = crypto::seal_open(canonical::unb64(secret.requests[0].approvals[0].share, "approval"),
                                    w.erin.pub.box_pk, w.erin.box_sk);
  REQUIRE(own);
  REQUIRE(approved);
  std::vector<shamir::Share> shares;
  shares.push_back(shamir::decode(own->expose()));
  shares.push_back(shamir::decode(approved->expose()));
  CHECK(matches_commitment(v1, shamir::combine(shares)));

  (void)approve_request(w.vault, k_db, id, w.carol, k_t0 + 180);
  w.reload();
  CHECK(w.read_db(w.erin, k_t0 + 240) == k_value);

  // With only k-1 other custodians a custodian's request could never be granted: refused at once.
  w.add_secret("prod/pair", "v", {"bob", "erin"}, 2);
  w.reload();
  CHECK(thrown_kind([&] { (void)request_access(w.vault, "prod/pair", w.erin, k_hour, "x", k_t0); }, &message)
        == ErrorKind::access);
  CHECK(message.find("only 1 other custodian(s) could approve") != std::string::npos);
}

TEST_CASE("escrow: approving twice counts once, expired and denied requests cannot be approved", "[escrow]")
{
  World w;
  const std::string id = w.request(w.dave);
  (void)approve_request(w.vault, k_db, id, w.bob, k_t0 + 60);
  w.reload();
  std::string message;
  CHECK(thrown_kind([&] { (void)approve_request(w.vault, k_db, id, w.bob, k_t0 + 61); }, &message)
        == ErrorKind::access);
  CHECK(message.find("already approved") != std::string::npos);
  CHECK(w.db().requests[0].approvals.size() == 1);

  // A second approval by the same custodian smuggled in is rejected by verification.
  {
    SecretRecord& secret = w.vault.secret_mut(k_db);
    Approval copy = secret.requests[0].approvals[0];
    secret.requests[0].approvals.push_back(copy);
    CHECK(counted_approvals(w.vault, secret, secret.requests[0], 1).size() == 1);
    CHECK(thrown_kind([&] { (void)w.vault.serialize(w.alice, ""); }, &message) == ErrorKind::integrity);
    CHECK(message.find("approved twice") != std::string::npos);
  }

  World x;
  const std::string late = x.request(x.dave, k_t0, k_hour);
  CHECK(thrown_kind([&] { (void)approve_request(x.vault, k_db, late, x.bob, k_t0 + k_hour); }, &message)
        == ErrorKind::access);
  CHECK(message.find("expired") != std::string::npos);

  const std::string closed = x.request(x.dave);
  (void)deny_request(x.vault, k_db, closed, x.carol, "not during the freeze", k_t0 + 10);
  x.reload();
  CHECK(thrown_kind([&] { (void)approve_request(x.vault, k_db, closed, x.bob, k_t0 + 20); }, &message)
        == ErrorKind::access);
  CHECK(message.find("was denied by carol") != std::string::npos);
  CHECK(request_status(x.vault, x.db(), find_request(x.vault, x.db(), closed), k_t0 + 20).state
        == RequestState::denied);
}

TEST_CASE("escrow: deny closes a request and revokes a grant, who may deny", "[escrow]")
{
  World w;
  const std::string id = w.request(w.dave);
  std::string message;
  CHECK(thrown_kind([&] { (void)deny_request(w.vault, k_db, id, w.frank, "no", k_t0); }, &message)
        == ErrorKind::access);
  CHECK(message.find("only a custodian") != std::string::npos);
  CHECK(thrown_kind([&] { (void)deny_request(w.vault, k_db, id, w.sam, "no", k_t0); }) == ErrorKind::access);
  CHECK(thrown_kind([&] { (void)deny_request(w.vault, k_db, id, w.bob, "", k_t0); }) == ErrorKind::usage);

  (void)approve_request(w.vault, k_db, id, w.bob, k_t0 + 1);
  (void)approve_request(w.vault, k_db, id, w.carol, k_t0 + 2);
  w.reload();
  CHECK(w.read_db(w.dave, k_t0 + 3) == k_value);
  const Request& denied = deny_request(w.vault, k_db, id, w.erin, "scope too wide", k_t0 + 4);
  CHECK(denied.denial->by == "erin");
  w.reload();
  CHECK(thrown_kind([&] { (void)w.read_db(w.dave, k_t0 + 5); }, &message) == ErrorKind::access);
  CHECK(message.find("denied by erin") != std::string::npos);
  CHECK(thrown_kind([&] { (void)deny_request(w.vault, k_db, id, w.bob, "again", k_t0 + 6); }, &message)
        == ErrorKind::access);
  CHECK(message.find("already denied") != std::string::npos);

  // The owner (an admin) and the requester may close requests too.
  const std::string second = w.request(w.dave);
  (void)deny_request(w.vault, k_db, second, w.dave, "withdrawn", k_t0 + 7);
  const std::string third = w.request(w.dave);
  (void)deny_request(w.vault, k_db, third, w.alice, "ask the owner", k_t0 + 8);
  w.reload();
  CHECK(w.db().requests[1].denial->by == "dave");
  CHECK(w.db().requests[2].denial->by == "alice");
}

TEST_CASE("escrow: grants survive a new version until they expire, expired ones are dropped", "[escrow]")
{
  World w;
  const std::string long_id = w.request(w.dave, k_t0, 4 * k_hour);
  const std::string short_id = w.request(w.frank, k_t0, k_hour);
  for (const auto& id : {long_id, short_id}) {
    (void)approve_request(w.vault, k_db, id, w.bob, k_t0 + 1);
    (void)approve_request(w.vault, k_db, id, w.carol, k_t0 + 2);
  }
  w.reload();
  CHECK(w.read_db(w.frank, k_t0 + 10) == k_value);

  // Two hours in: frank's grant has expired, dave's has two hours left.
  const auto carried = carried_grants(w.vault, w.db(), k_t0 + 2 * k_hour);
  REQUIRE(carried.size() == 1);
  CHECK(carried.at("dave").until == k_t0 + 4 * k_hour);
  CHECK(carried.at("dave").request == long_id);
  w.new_version(k_t0 + 2 * k_hour, "rotated-value-2");
  const SecretRecord& after = w.db();
  REQUIRE(after.current()->v == 2);
  CHECK(after.current()->granted.count("dave") == 1);
  CHECK(after.current()->granted.count("frank") == 0);
  // dave's approvals were for v1; the carried grant opens v2.
  CHECK(counted_approvals(w.vault, after, after.requests[0], 2).empty());
  const OpenedKey key = open_data_key(w.vault, after, *after.current(), w.dave, k_t0 + 2 * k_hour + 1);
  CHECK(key.path == AccessPath::granted);
  CHECK(key.request == long_id);
  CHECK(w.read_db(w.dave, k_t0 + 3 * k_hour) == "rotated-value-2");
  CHECK(request_status(w.vault, after, after.requests[0], k_t0 + 3 * k_hour).state == RequestState::granted);
  CHECK(request_status(w.vault, after, after.requests[0], k_t0 + 3 * k_hour).carried);
  CHECK(thrown_kind([&] { (void)w.read_db(w.frank, k_t0 + 2 * k_hour + 1); }) == ErrorKind::access);
  // ... until it expires.
  CHECK(thrown_kind([&] { (void)w.read_db(w.dave, k_t0 + 4 * k_hour); }) == ErrorKind::access);

  // A second rotation while the grant lives carries it again; one after it expired does not.
  w.new_version(k_t0 + 3 * k_hour, "rotated-value-3");
  CHECK(w.read_db(w.dave, k_t0 + 3 * k_hour + 1) == "rotated-value-3");
  w.new_version(k_t0 + 5 * k_hour, "rotated-value-4");
  CHECK(w.db().current()->granted.empty());
  CHECK(thrown_kind([&] { (void)w.read_db(w.dave, k_t0 + 3 * k_hour + 2); }) == ErrorKind::access);
}

TEST_CASE("escrow: a denial revokes a carried grant too", "[escrow]")
{
  World w;
  const std::string id = w.request(w.dave);
  (void)approve_request(w.vault, k_db, id, w.bob, k_t0 + 1);
  (void)approve_request(w.vault, k_db, id, w.carol, k_t0 + 2);
  w.reload();
  w.new_version(k_t0 + 10, "rotated");
  CHECK(w.read_db(w.dave, k_t0 + 11) == "rotated");
  (void)deny_request(w.vault, k_db, id, w.bob, "revoked", k_t0 + 12);
  w.reload();
  CHECK(thrown_kind([&] { (void)w.read_db(w.dave, k_t0 + 13); }) == ErrorKind::access);
  CHECK(carried_grants(w.vault, w.db(), k_t0 + 13).empty());
}

TEST_CASE("escrow: an approval of an older version does not count, re-approving replaces it", "[escrow]")
{
  World w;
  const std::string id = w.request(w.dave);
  (void)approve_request(w.vault, k_db, id, w.bob, k_t0 + 1);
  w.reload();
  w.new_version(k_t0 + 10, "rotated"); // 1 of 2: nothing carried
  CHECK(w.db().current()->granted.empty());
  ApprovalResult carol = approve_request(w.vault, k_db, id, w.carol, k_t0 + 20);
  CHECK(carol.v == 2);
  CHECK(carol.approvals == 1); // bob's approval of v1 is a replay for v2
  w.reload();
  std::string message;
  CHECK(thrown_kind([&] { (void)w.read_db(w.dave, k_t0 + 21); }, &message) == ErrorKind::access);
  CHECK(message.find("1 of 2 approvals") != std::string::npos);
  ApprovalResult bob = approve_request(w.vault, k_db, id, w.bob, k_t0 + 30);
  CHECK(bob.approvals == 2);
  w.reload();
  CHECK(w.db().requests[0].approvals.size() == 2); // bob's old approval was replaced
  CHECK(w.read_db(w.dave, k_t0 + 31) == "rotated");
}

TEST_CASE("escrow: an approval moved to another request, secret or replayed from an older request fails verification", "[escrow]")
{
  World w;
  w.add_secret("prod/other", "other-value", {"bob", "carol", "erin"}, 2);
  w.reload();
  const std::string old_id = w.request(w.dave, k_t0, k_hour);
  (void)approve_request(w.vault, k_db, old_id, w.bob, k_t0 + 1);
  (void)approve_request(w.vault, k_db, old_id, w.carol, k_t0 + 2);
  const std::string new_id = w.request(w.dave, k_t0 + 2 * k_hour, k_hour);
  const std::string other_id = request_access(w.vault, "prod/other", w.dave, k_hour, "x", k_t0 + 2 * k_hour).id;
  w.reload();
  const std::vector<Approval> old_approvals = w.db().requests[0].approvals;

  std::string message;
  SECTION("replayed into a newer request of the same requester")
  {
    SecretRecord& secret = w.vault.secret_mut(k_db);
    secret.requests[1].approvals = old_approvals;
    CHECK(thrown_kind([&] { (void)w.vault.serialize(w.alice, ""); }, &message) == ErrorKind::integrity);
    CHECK(message.find("#request/" + new_id + "/approval/bob") != std::string::npos);
    CHECK(message.find("does not verify") != std::string::npos);
  }
  SECTION("moved to another secret")
  {
    SecretRecord& other = w.vault.secret_mut("prod/other");
    other.requests[0].approvals = old_approvals;
    CHECK(thrown_kind([&] { (void)w.vault.serialize(w.alice, ""); }, &message) == ErrorKind::integrity);
    CHECK(message.find("prod/other#request/" + other_id) != std::string::npos);
  }
  SECTION("re-labelled to another version")
  {
    SecretRecord& secret = w.vault.secret_mut(k_db);
    secret.requests[0].approvals[0].v = 2;
    CHECK(thrown_kind([&] { (void)w.vault.serialize(w.alice, ""); }) == ErrorKind::integrity);
  }
  SECTION("an approval by a member who was removed since")
  {
    MemberRecord bob = *w.vault.member("bob");
    bob.removed_at = k_t0 + 3;
    bob.removed_by = "alice";
    w.vault.sign(bob, w.alice);
    w.vault.put_member(bob);
    // Not counted, and rejected by verification: 'member remove' drops such approvals.
    CHECK(counted_approvals(w.vault, w.db(), w.db().requests[0], 1).size() == 1);
    (void)w.vault.secret_mut(k_db);
    CHECK(thrown_kind([&] { (void)w.vault.serialize(w.alice, ""); }, &message) == ErrorKind::integrity);
    CHECK(message.find("removed member") != std::string::npos);
  }
}

TEST_CASE("escrow: a share sealed to the wrong member is caught, never used", "[escrow]")
{
  World w;
  const std::string id = w.request(w.dave);
  (void)approve_request(w.vault, k_db, id, w.carol, k_t0 + 1);
  // bob signs an approval whose share is sealed to frank instead of dave.
  {
    const SecretRecord& secret = w.db();
    auto own = crypto::seal_open(canonical::unb64(secret.current()->shares.at("bob"), "share"), w.bob.pub.box_pk,
                                 w.bob.box_sk);
    REQUIRE(own);
    Approval approval;
    approval.v = 1;
    approval.share = canonical::b64(crypto::seal(own->expose(), w.frank.pub.box_pk));
    approval.created_at = k_t0 + 2;
    SecretRecord& target = w.vault.secret_mut(k_db);
    w.vault.sign(target, target.requests[0], approval, w.bob);
    target.requests[0].approvals.push_back(approval);
  }
  w.reload(); // the signature is valid: the record verifies
  std::string message;
  CHECK(thrown_kind([&] { (void)w.read_db(w.dave, k_t0 + 3); }, &message) == ErrorKind::integrity);
  CHECK(message.find("approved by bob is not sealed to dave") != std::string::npos);
}

TEST_CASE("escrow: a forged share fails the key commitment", "[escrow]")
{
  World w;
  const std::string id = w.request(w.dave);
  (void)approve_request(w.vault, k_db, id, w.carol, k_t0 + 1);
  {
    // bob seals a made-up share (right x, random y) to dave.
    const SecretRecord& secret = w.db();
    auto own = crypto::seal_open(canonical::unb64(secret.current()->shares.at("bob"), "share"), w.bob.pub.box_pk,
                                 w.bob.box_sk);
    REQUIRE(own);
    shamir::Share fake{own->expose()[0], crypto::random_secret(crypto::k_key_size)};
    Approval approval;
    approval.v = 1;
    approval.share = canonical::b64(crypto::seal(shamir::encode(fake).expose(), w.dave.pub.box_pk));
    approval.created_at = k_t0 + 2;
    SecretRecord& target = w.vault.secret_mut(k_db);
    w.vault.sign(target, target.requests[0], approval, w.bob);
    target.requests[0].approvals.push_back(approval);
  }
  w.reload();
  std::string message;
  CHECK(thrown_kind([&] { (void)w.read_db(w.dave, k_t0 + 3); }, &message) == ErrorKind::integrity);
  CHECK(message.find("do not reconstruct the data key") != std::string::npos);
}

TEST_CASE("escrow: the grants overview sorts requests for the requester and the custodians", "[escrow]")
{
  World w;
  const std::string pending = w.request(w.dave);
  const std::string granted = w.request(w.dave);
  const std::string expired_grant = w.request(w.dave, k_t0, k_hour);
  const std::string denied = w.request(w.dave);
  const std::string lapsed = w.request(w.dave, k_t0, k_hour);
  const std::string erins = w.request(w.erin);
  for (const auto& id : {granted, expired_grant}) {
    (void)approve_request(w.vault, k_db, id, w.bob, k_t0 + 1);
    (void)approve_request(w.vault, k_db, id, w.carol, k_t0 + 2);
  }
  (void)approve_request(w.vault, k_db, pending, w.bob, k_t0 + 3);
  (void)deny_request(w.vault, k_db, denied, w.carol, "no", k_t0 + 4);
  w.reload();
  const Timestamp now = k_t0 + 2 * k_hour;
  const auto ids = [](const std::vector<GrantsItem>& items) {
    std::set<std::string> out;
    for (const auto& item : items) {
      out.insert(item.request->id);
    }
    return out;
  };
  const GrantsOverview dave = grants_overview(w.vault, "dave", now);
  CHECK(ids(dave.pending) == std::set<std::string>{pending});
  CHECK(ids(dave.grants) == std::set<std::string>{granted, expired_grant});
  CHECK(ids(dave.closed) == std::set<std::string>{denied, lapsed});
  CHECK(dave.awaiting.empty());
  for (const auto& item : dave.grants) {
    CHECK(item.status.state == (item.request->id == granted ? RequestState::granted : RequestState::expired));
  }
  // bob approved `pending` already; erin's own request never awaits her.
  CHECK(ids(grants_overview(w.vault, "bob", now).awaiting) == std::set<std::string>{erins});
  CHECK(ids(grants_overview(w.vault, "carol", now).awaiting) == std::set<std::string>{pending, erins});
  CHECK(ids(grants_overview(w.vault, "erin", now).awaiting) == std::set<std::string>{pending});
  CHECK(grants_overview(w.vault, "frank", now).awaiting.empty());
  CHECK(grants_overview(w.vault, "sam", now).pending.empty());
}

TEST_CASE("escrow: mark_grant_used records the first use only, signed by the requester", "[escrow]")
{
  World w;
  const std::string id = w.request(w.dave);
  CHECK_FALSE(mark_grant_used(w.vault, k_db, id, w.bob, k_t0 + 1));
  CHECK(mark_grant_used(w.vault, k_db, id, w.dave, k_t0 + 5));
  CHECK_FALSE(mark_grant_used(w.vault, k_db, id, w.dave, k_t0 + 6));
  w.reload();
  REQUIRE(w.db().requests[0].used_at);
  CHECK(*w.db().requests[0].used_at == k_t0 + 5);
}

TEST_CASE("escrow: policy changes are for admins, validated and round-trip", "[escrow]")
{
  World w;
  PolicyChange change;
  change.min_threshold = 2;
  change.max_ttl = 8 * k_hour;
  change.require_why = false;
  change.every = 30 * 24 * k_hour;
  change.keep = 5;
  std::string message;
  CHECK(thrown_kind([&] { (void)change_policy(w.vault, w.bob, "prod", change); }, &message) == ErrorKind::access);
  CHECK(message.find("admin role") != std::string::npos);
  CHECK(thrown_kind([&] { (void)change_policy(w.vault, w.alice, "prod", PolicyChange{}); }) == ErrorKind::usage);
  CHECK(thrown_kind([&] { (void)change_policy(w.vault, w.alice, "Prod!", change); }) == ErrorKind::usage);
  CHECK(thrown_kind([&] { (void)change_policy(w.vault, w.alice, "", change); }) == ErrorKind::usage);
  for (auto bad : {std::int64_t{0}, std::int64_t{256}}) {
    PolicyChange c;
    c.min_threshold = bad;
    CHECK(thrown_kind([&] { (void)change_policy(w.vault, w.alice, "prod", c); }) == ErrorKind::usage);
  }
  {
    PolicyChange c;
    c.keep = -1;
    CHECK(thrown_kind([&] { (void)change_policy(w.vault, w.alice, "prod", c); }) == ErrorKind::usage);
    c.keep.reset();
    c.notify = "bad\ncommand";
    CHECK(thrown_kind([&] { (void)change_policy(w.vault, w.alice, "", c); }) == ErrorKind::usage);
  }
  CHECK(w.vault.policy().envs.count("prod") == 0);

  (void)change_policy(w.vault, w.alice, "prod", change);
  PolicyChange notify;
  notify.notify = "logger -t escrow";
  (void)change_policy(w.vault, w.alice, "", notify);
  w.reload();
  const PolicyRecord& policy = w.vault.policy();
  CHECK(policy.by == "alice");
  CHECK(policy.notify == "logger -t escrow");
  const EnvPolicy& prod = policy.for_env("prod");
  CHECK(prod.min_threshold == 2);
  CHECK(prod.max_ttl == 8 * k_hour);
  CHECK_FALSE(prod.require_why);
  CHECK(prod.every == 30 * 24 * k_hour);
  CHECK(prod.keep == 5);
  CHECK(policy.for_env("staging").max_ttl == 24 * k_hour); // the default is untouched

  // Only what was given changes; --every 0 clears the cadence.
  PolicyChange clear;
  clear.every = 0;
  (void)change_policy(w.vault, w.alice, "prod", clear);
  w.reload();
  CHECK(w.vault.policy().for_env("prod").every == 0);
  CHECK(w.vault.policy().for_env("prod").keep == 5);
  CHECK(thrown_kind([&] { (void)request_access(w.vault, k_db, w.dave, 9 * k_hour, "", k_t0); }) == ErrorKind::access);
}

TEST_CASE("escrow: one approval rule — a custodian who no longer reaches the environment is neither accepted nor counted",
          "[escrow][policy]")
{
  World w;
  const std::string first = w.request(w.dave);
  approve_request(w.vault, k_db, first, w.bob, k_t0);
  const Request* request = &find_request(w.vault, w.db(), first);
  REQUIRE(counted_approvals(w.vault, w.db(), *request, 1).size() == 1);

  // bob stays a custodian with the approver role, but an admin moves him to staging only.
  MemberRecord moved = *w.vault.member("bob");
  moved.envs = {"staging"};
  w.vault.sign(moved, w.alice);
  w.vault.put_member(moved);
  const MemberRecord& bob = *w.vault.member("bob");

  // The predicate says why, and both of its users agree with it.
  const auto refusal = policy::approval_refusal(bob, w.db(), *request);
  REQUIRE(refusal);
  CHECK(refusal->kind() == ErrorKind::access);
  CHECK(std::string(refusal->what()).find("not assigned to the prod environment") != std::string::npos);
  // Not counted: his approval given before the move no longer opens anything.
  request = &find_request(w.vault, w.db(), first);
  CHECK(counted_approvals(w.vault, w.db(), *request, 1).empty());
  // Not accepted: a new approval by him is refused, and the vault is unchanged.
  const std::string second = w.request(w.frank);
  const std::string before = w.db_json();
  std::string message;
  CHECK(thrown_kind([&] { approve_request(w.vault, k_db, second, w.bob, k_t0); }, &message) == ErrorKind::access);
  CHECK(message.find("not assigned to the prod environment") != std::string::npos);
  CHECK(w.db_json() == before);

  // With carol's approval dave has one counted approval of the two needed: no access.
  approve_request(w.vault, k_db, first, w.carol, k_t0);
  request = &find_request(w.vault, w.db(), first);
  CHECK(counted_approvals(w.vault, w.db(), *request, 1).size() == 1);
  CHECK(request_status(w.vault, w.db(), *request, k_t0).state == RequestState::pending);
  CHECK(thrown_kind([&] { (void)w.read_db(w.dave, k_t0); }) == ErrorKind::access);
  // Back in prod, his approval counts again (the rule is evaluated, not frozen).
  moved.envs = {"prod"};
  w.vault.sign(moved, w.alice);
  w.vault.put_member(moved);
  request = &find_request(w.vault, w.db(), first);
  CHECK(counted_approvals(w.vault, w.db(), *request, 1).size() == 2);
  CHECK(w.read_db(w.dave, k_t0) == k_value);
}

TEST_CASE("policy: the auditor rule and read access are one predicate each", "[policy]")
{
  World w;
  const SecretRecord& db = w.db();
  std::string message;
  CHECK(policy::auditor_only(*w.vault.member("ann")));
  CHECK_FALSE(policy::auditor_only(*w.vault.member("alice")));
  CHECK(thrown_kind([&] { policy::require_can_read(*w.vault.member("ann"), db, "get"); }, &message)
        == ErrorKind::access);
  CHECK(message == "get: ann is an auditor and may not read values");
  CHECK(thrown_kind([&] { policy::require_can_read(*w.vault.member("ann"), db, "exec", "use"); }, &message)
        == ErrorKind::access);
  CHECK(message == "exec: ann is an auditor and may not use values");
  CHECK(thrown_kind([&] { policy::require_can_read(*w.vault.member("sam"), db, "get"); }, &message)
        == ErrorKind::access);
  CHECK(message.find("not assigned to the prod environment") != std::string::npos);
  CHECK_NOTHROW(policy::require_can_read(*w.vault.member("dave"), db, "get"));
  SecretRecord retired = db;
  retired.state = SecretState::retired;
  CHECK(thrown_kind([&] { policy::require_can_read(*w.vault.member("alice"), retired, "get"); }, &message)
        == ErrorKind::access);
  CHECK(message == "get: prod/db is retired and is never served");
}

TEST_CASE("policy: rotation rights — who may rotate, and who is asked to", "[policy]")
{
  World w;
  const SecretRecord& db = w.db();
  CHECK(policy::may_rotate(*w.vault.member("alice"), db)); // owner (and admin)
  CHECK(policy::may_rotate(*w.vault.member("rob"), db));   // rotator in prod
  CHECK_FALSE(policy::may_rotate(*w.vault.member("bob"), db));
  CHECK_FALSE(policy::may_rotate(*w.vault.member("sam"), db));
  CHECK(policy::rotators_of(w.vault, db) == std::vector<std::string>{"alice", "rob"});
}
