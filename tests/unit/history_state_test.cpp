// history::State: canonical record forms, record hashes, the state digest, shared records
// (docs/design/vault-2-operations.md §3, §7).
#include "history_support.hpp"

#include <escrow/history/record_text.hpp>

using namespace history_test;

namespace {

std::string b64(const Hash& h)
{
  return canonical::b64(ByteView(h.data(), h.size()));
}

Hash k_of(const KeyLine& line)
{
  return fake_k(line);
}

} // namespace

TEST_CASE("history state: canonical member, policy and connector records", "[history][state]")
{
  Member m;
  m.name = "bob";
  m.sign_pk.fill(1);
  m.box_pk.fill(2);
  m.roles = {Role::requester, Role::approver};
  m.envs = {"prod", "dev"};
  m.added_by = "alice";
  m.added_at = at("2026-12-01T10:00:00Z");
  const std::string pk1 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
  const std::string pk2 = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
  CHECK(canonical::dump(to_json(m))
        == R"({"added_at":"2026-12-01T10:00:00Z","added_by":"alice","box_pk":")" + pk2
             + R"(","envs":["dev","prod"],"name":"bob","roles":["approver","requester"],"sign_pk":")" + pk1 + R"("})");
  m.removed_at = at("2026-12-02T08:30:00Z");
  m.removed_by = "alice";
  CHECK(canonical::dump(to_json(m)).find(R"("removed_at":"2026-12-02T08:30:00Z","removed_by":"alice","roles")")
        != std::string::npos);

  Policy p;
  p.envs["*"] = EnvPolicy{1, 28800, true, 0, 2};
  p.envs["prod"] = EnvPolicy{2, 3600, true, 2592000, 3};
  p.notify = "logger";
  CHECK(canonical::dump(to_json(p))
        == R"({"envs":{"*":{"every":0,"keep":2,"max_ttl":28800,"min_threshold":1,"require_why":true},)"
           R"("prod":{"every":2592000,"keep":3,"max_ttl":3600,"min_threshold":2,"require_why":true}},"notify":"logger"})");
  CHECK(p.for_env("prod").max_ttl == 3600);
  CHECK(p.for_env("staging").max_ttl == 28800);

  Connector c;
  c.name = "crm";
  c.env = "prod";
  c.kind = ConnectorKind::manual;
  c.instructions = "paste";
  c.timeout = 60;
  c.created_by = "erin";
  c.created_at = at("2026-12-01T10:05:00Z");
  CHECK(canonical::dump(to_json(c))
        == R"({"created_at":"2026-12-01T10:05:00Z","created_by":"erin","env":"prod","instructions":"paste",)"
           R"("kind":"manual","timeout":60,"update":"","verify":""})");
}

TEST_CASE("history state: canonical secret record", "[history][state]")
{
  Secret s;
  s.env = "prod";
  s.name = "prod/db";
  s.owner = "olive";
  s.purpose = "orders";
  s.tier = "standard";
  s.connectors = {"web", "crm"}; // rotation order is kept, not sorted
  s.every = 86400;
  s.generator = "len=32,alphabet=base62";
  s.custodians = {"carol", "bob"};
  s.threshold = 2;
  s.shared_with = {"dave"};
  s.created_by = "alice";
  s.created_at = at("2026-12-01T10:00:00Z");
  s.due["owner changed"] = at("2026-12-01T11:00:00Z");
  Generation& g = s.gens[1];
  g.rk_commit.fill(3);
  g.holders["olive"].fill(4);
  g.ever = {"olive", "dave"};
  Version& v = s.versions["00000000000000a1"];
  v.v = 1;
  v.gen = 1;
  v.state = VersionState::current;
  v.created_by = "alice";
  v.created_at = at("2026-12-01T10:00:00Z");
  v.why = "first";
  v.dk_commit.fill(5);
  v.material.fill(6);
  v.custodians = {"bob", "carol"};
  v.threshold = 2;
  v.shares["bob"].fill(7);
  RequestOf& r = s.requests["r1"];
  r.by = "dave";
  r.why = "incident";
  r.ttl = 3600;
  r.created_at = at("2026-12-01T12:00:00Z");
  r.until = at("2026-12-01T13:00:00Z");
  ApprovalOf& a = r.approvals["bob"];
  a.vid = "00000000000000a1";
  a.v = 1;
  a.dk_commit.fill(5);
  a.at = at("2026-12-01T12:10:00Z");
  a.share.fill(8);
  const std::string expected =
    R"({"after_access":false,"connectors":["web","crm"],"created_at":"2026-12-01T10:00:00Z","created_by":"alice",)"
    R"("custodians":["bob","carol"],"due":{"owner changed":"2026-12-01T11:00:00Z"},"every":86400,)"
    R"("generator":"len=32,alphabet=base62","gens":{"1":{"ever":["dave","olive"],"holders":{"olive":")"
    + b64(g.holders["olive"]) + R"("},"rk_commit":")" + b64(g.rk_commit) + R"("}},"owner":"olive","purpose":"orders",)"
    R"("requests":{"r1":{"approvals":{"bob":{"at":"2026-12-01T12:10:00Z","dk_commit":")" + b64(a.dk_commit)
    + R"(","share":")" + b64(a.share) + R"(","v":1,"vid":"00000000000000a1"}},"by":"dave","created_at":"2026-12-01T12:00:00Z",)"
    R"("ttl":3600,"until":"2026-12-01T13:00:00Z","why":"incident"}},"shared_with":["dave"],"state":"active",)"
    R"("threshold":2,"tier":"standard","versions":{"00000000000000a1":{"created_at":"2026-12-01T10:00:00Z",)"
    R"("created_by":"alice","custodians":["bob","carol"],"dk_commit":")" + b64(v.dk_commit)
    + R"(","gen":1,"grants":{},"material":")" + b64(v.material) + R"(","shares":{"bob":")" + b64(v.shares["bob"])
    + R"("},"state":"current","threshold":2,"v":1,"why":"first"}}})";
  CHECK(canonical::dump(to_json(s)) == expected);

  // Optional parts appear only when set.
  r.denial = DenialOf{"carol", "no", at("2026-12-01T12:20:00Z")};
  r.used_at = at("2026-12-01T12:15:00Z");
  r.voided = true;
  s.rotation = Rotation{"00000000000000b2", RotationKind::rotate, "erin", at("2026-12-01T14:00:00Z"), false, {"crm"}};
  const std::string more = canonical::dump(to_json(s));
  CHECK(more.find(R"("denial":{"at":"2026-12-01T12:20:00Z","by":"carol","why":"no"})") != std::string::npos);
  CHECK(more.find(R"("used_at":"2026-12-01T12:15:00Z","void":true)") != std::string::npos);
  CHECK(more.find(R"("rotation":{"confirmed":["crm"],"kind":"rotate","rolling_back":false,)"
                  R"("since":"2026-12-01T14:00:00Z","started_by":"erin","vid":"00000000000000b2"})")
        != std::string::npos);

  // The record hash of a Secret is computed from its canonical text without the DOM (and
  // remembered): the same hash as the DOM's, whatever the record holds.
  const auto same_hash = [](const Secret& x) {
    const Secret fresh = x; // a copy starts with no remembered hash
    const Hash direct = record_hash("s:prod/db", fresh);
    CHECK(record_hash("s:prod/db", fresh) == direct); // remembered
    return direct == record_hash("s:prod/db", to_json(x));
  };
  CHECK(same_hash(s));
  s.escrow_only = true;
  s.gens[2] = g;
  s.gens[10] = g; // "10" sorts before "2" as a key
  v.race_gen = g;
  v.grants["dave"] = GrantKey{"r1", at("2026-12-01T13:00:00Z"), Hash{}};
  s.versions["00000000000000b2"] = v;
  s.purpose = "a \"quote\", a back\\slash, a tab\t, \x01 and \x1f, DEL \x7f, \u00e9\u00fc \u65e5\u672c";
  s.due["access of \"x\" changed\n"] = at("2026-12-01T11:30:00Z");
  r.approvals["carol"] = a;
  CHECK(same_hash(s));
  s.rotation.reset();
  s.requests.clear();
  s.versions.clear();
  s.gens.clear();
  s.due.clear();
  s.connectors.clear();
  CHECK(same_hash(s));
  s.purpose = "not UTF-8 \xff";
  const Secret invalid = s;
  CHECK_THROWS_AS(record_hash("s:prod/db", invalid), Error); // as the DOM's dump refuses it
  CHECK_THROWS_AS(record_hash("s:prod/db", to_json(invalid)), Error);
}

TEST_CASE("history state: record hashes and the digest", "[history][state]")
{
  World w = team();
  const State& s = w.state;
  // A record hash is H("escrow/v2/record", path || 0x00 || canonical(record)).
  const std::string path = "m:bob";
  std::string message = path;
  message.push_back('\0');
  message += canonical::dump(to_json(*s.member("bob")));
  CHECK(*s.record_hash(path) == crypto::hash("escrow/v2/record", as_bytes(message)));
  CHECK_FALSE(s.record_hash("m:nobody").has_value());
  CHECK_FALSE(s.record_hash("k:whatever").has_value());
  // The same record at another path hashes differently (records cannot move).
  CHECK(record_hash("m:bob", to_json(*s.member("bob"))) != record_hash("m:bobby", to_json(*s.member("bob"))));

  // The digest is over every record in path order.
  const std::vector<std::string> paths = s.paths();
  CHECK(std::is_sorted(paths.begin(), paths.end()));
  CHECK(paths.size() == 9 + 1 + 1 + 1); // members, policy, connector, secret
  // record_text, what the cache's snapshot writes: the canonical dump of each record (a secret's
  // written without the DOM), hashing to its record hash; nothing where there is no record.
  for (const std::string& p : paths) {
    const std::optional<std::string> text = record_text(s, p);
    REQUIRE(text.has_value());
    CHECK(*text == canonical::dump(*s.record(p)));
    CHECK(record_hash_of_text(p, *text) == *s.record_hash(p));
  }
  CHECK_FALSE(record_text(s, "m:nobody").has_value());
  CHECK_FALSE(record_text(s, "s:prod/none").has_value());
  CHECK_FALSE(record_text(s, "k:whatever").has_value());
  std::string all;
  for (const std::string& p : paths) {
    const Hash h = *s.record_hash(p);
    all += p;
    all.push_back('\0');
    all.append(reinterpret_cast<const char*>(h.data()), h.size());
  }
  CHECK(s.digest() == crypto::hash("escrow/v2/state", as_bytes(all)));

  // Any change to any record changes the digest; the lost set (history) does not.
  State other = s;
  CHECK(other.digest() == s.digest());
  auto changed = std::make_shared<Member>(*other.member("dave"));
  changed->envs = {"dev"};
  other.members["dave"] = changed;
  CHECK(other.digest() != s.digest());
  State lost = s;
  lost.lost.insert(commit("gone"));
  CHECK(lost.digest() == s.digest());
  // The empty state has a digest too (the label alone).
  CHECK(State{}.digest() == crypto::hash("escrow/v2/state", ByteView()));
}

TEST_CASE("history state: snapshots share records, apply copies on write", "[history][state]")
{
  World w = team();
  const State snapshot = w.state;
  const Member* bob_before = snapshot.member("bob");
  const Secret* db_before = snapshot.secret(k_db);
  CHECK(w.state.member("bob") == bob_before); // a copy shares the record
  w.run("dave", RequestArgs{k_db, "0123456789abcdef", 3600}, {}, std::string("incident 812"));
  // The request replaced prod/db in the live state and left the snapshot's record alone.
  CHECK(w.state.secret(k_db) != db_before);
  CHECK(snapshot.secret(k_db) == db_before);
  CHECK(db_before->requests.empty());
  CHECK(w.state.secret(k_db)->requests.size() == 1);
  // Untouched records are still shared.
  CHECK(w.state.member("bob") == bob_before);
  CHECK(snapshot.digest() != w.state.digest());
}

TEST_CASE("history state: secret helpers", "[history][state]")
{
  World w = team();
  const Secret& s = *w.state.secret(k_db);
  std::string vid;
  REQUIRE(s.find_state(VersionState::current, &vid) != nullptr);
  CHECK(vid == k_v1);
  CHECK(s.find(k_v1)->v == 1);
  CHECK(s.find(k_v2) == nullptr);
  CHECK(s.max_v() == 1);
  CHECK(s.max_gen() == 1);
  CHECK(s.current_gen() == 1);
  CHECK(s.gens.at(1).holders.count("olive") == 1);
  CHECK(s.gens.at(1).holders.at("olive") == k_of(rk(k_db, 1, "olive")));
  CHECK(s.find(k_v1)->material == k_of(vline(k_db, k_v1)));
}

namespace {

// A world that has been through most kinds: shares, requests, approvals, a carried grant, a
// denial, a compromise, a rotation in flight with a confirmation, a removal, retention.
World busy()
{
  World w = team();
  w.run("olive", ShareArgs{"dave", {ShareItem{k_db, {1}}}}, {rk(k_db, 1, "dave")});
  w.run("olive", UnshareArgs{k_db, "dave"});
  w.run("alice", MemberAddArgs{"ivy", w.id("ivy").pub.sign_pk, w.id("ivy").pub.box_pk, {Role::requester}, {"prod"}});
  w.run("dave", RequestArgs{k_db, "d1", 3600}, {}, std::string("incident"));
  w.run("ivy", RequestArgs{k_db, "i1", 3600}, {}, std::string("curious"));
  w.run("carol", DenyArgs{k_db, "i1"}, {}, std::string("no"));
  w.run("bob", ApproveArgs{k_db, "d1", "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, "d1", "bob")});
  w.run("carol", ApproveArgs{k_db, "d1", "dave", k_v1, 1, commit("dk1")}, {ap(k_db, k_v1, "d1", "carol")});
  w.run("dave", GrantUsedArgs{k_db, "d1"});
  RotateItem item = next_version(w);
  item.gen = 2;
  item.new_gen_rk_commit = commit("rk2");
  item.grants = {GrantRef{"dave", "d1"}};
  w.run("erin", RotateStartArgs{{item}},
        {gr(k_db, k_v2, "dave"), rk(k_db, 2, "erin"), rk(k_db, 2, "olive"), vline(k_db, k_v2), sh(k_db, k_v2, "bob"),
         sh(k_db, k_v2, "carol")});
  w.run("erin", RotateFinishArgs{{FinishItem{k_db, k_v2}}});
  SecretSetArgs set;
  set.secret = k_db;
  set.connectors = std::vector<std::string>{"crm"};
  w.run("olive", set);
  w.run("erin", RotateStartArgs{{next_version(w, k_v3)}}, {vline(k_db, k_v3), sh(k_db, k_v3, "bob"), sh(k_db, k_v3, "carol")});
  w.run("erin", ConfirmArgs{k_db, k_v3, "crm"});
  w.run("olive", CompromiseArgs{k_db, k_v1}, {}, std::string("old leak"));
  w.run("alice", MemberRemoveArgs{"ivy"});
  PolicySetArgs p;
  p.env = "prod";
  p.max_ttl = 7200;
  p.notify = "logger";
  w.run("alice", p);
  w.run("olive", CustodiansSetArgs{k_db, {"bob", "carol"}, 1});
  return w;
}

} // namespace

TEST_CASE("history state: every record reads back to the same bytes", "[history][state]")
{
  const World w = busy();
  State loaded;
  for (const std::string& path : w.state.paths()) {
    const Json record = *w.state.record(path);
    INFO(path);
    load_record(loaded, path, canonical::parse(canonical::dump(record), path), path);
    CHECK(canonical::dump(*loaded.record(path)) == canonical::dump(record));
  }
  // The records carry every optional part at least once.
  const std::string db = canonical::dump(*w.state.record("s:prod/db"));
  for (const char* part : {"\"denial\"", "\"used_at\"", "\"void\":true", "\"rotation\"", "\"grants\":{\"dave\"",
                           "\"due\":{\"", "\"confirmed\":[\"crm\"]"}) {
    CHECK(db.find(part) != std::string::npos);
  }
  CHECK(canonical::dump(*w.state.record("m:ivy")).find("\"removed_by\":\"alice\"") != std::string::npos);
  loaded.initialised = true;
  loaded.vault_id = w.state.vault_id;
  CHECK(loaded.digest() == w.state.digest());
}

TEST_CASE("history state: the record readers are strict", "[history][state]")
{
  const World w = busy();
  const Json member = *w.state.record("m:bob");
  const Json secret = *w.state.record("s:prod/db");
  const Json policy = *w.state.record("p");
  const Json connector = *w.state.record("c:crm");
  const auto refused = [](const std::string& path, const Json& json, const char* expect) {
    State s;
    try {
      load_record(s, path, json, "state.snap: " + path);
      return std::string("accepted");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::integrity);
      INFO(path << ": " << e.what());
      CHECK(std::string(e.what()).find(expect) != std::string::npos);
      return std::string(e.what());
    }
  };
  Json j = member;
  j["extra"] = 1;
  CHECK(refused("m:bob", j, "unknown field \"extra\"") != "accepted");
  j = member;
  j.erase("sign_pk");
  CHECK(refused("m:bob", j, "missing field \"sign_pk\"") != "accepted");
  CHECK(refused("m:carol", member, "the record of carol names bob") != "accepted");
  j = member;
  j["roles"] = Json::array({"requester", "approver"});
  CHECK(refused("m:bob", j, "not sorted") != "accepted");
  j = member;
  j["removed_at"] = "2026-12-02T00:00:00Z";
  CHECK(refused("m:bob", j, "removed_at and removed_by go together") != "accepted");
  j = policy;
  j["envs"].erase("*");
  CHECK(refused("p", j, "the default \"*\" is missing") != "accepted");
  j = connector;
  j["kind"] = "pigeon";
  CHECK(refused("c:crm", j, "unknown connector kind") != "accepted");
  j = secret;
  j["versions"]["ZZ"] = j["versions"].begin().value();
  CHECK(refused("s:prod/db", j, "not a version id") != "accepted");
  j = secret;
  j["gens"]["01"] = j["gens"].begin().value();
  CHECK(refused("s:prod/db", j, "not a generation number") != "accepted");
  j = secret;
  j["requests"]["d1"]["void"] = false;
  CHECK(refused("s:prod/db", j, "written only as true") != "accepted");
  j = secret;
  j["state"] = "dormant";
  CHECK(refused("s:prod/db", j, "unknown secret state") != "accepted");
  j = secret;
  j["versions"].begin().value()["state"] = "zombie";
  CHECK(refused("s:prod/db", j, "unknown version state") != "accepted");
  j = secret;
  j["connectors"] = Json::array({"crm", "crm"});
  CHECK(refused("s:prod/db", j, "listed twice") != "accepted");
  CHECK(refused("k:prod/db:g1:rk:olive#000000000000000000000000", secret, "not a record path") != "accepted");
}
