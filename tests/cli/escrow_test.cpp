// escrow request | approve | deny | grants | policy, in-process: the 2-of-3 flow, every abuse
// case of issue 3 (exit 4, or 3 for forgery, the vault byte-identical), journaling, policy.
#include "fixture.hpp"

#include <escrow/canonical.hpp>
#include <escrow/crypto.hpp>
#include <escrow/identity.hpp>
#include <escrow/history/material.hpp>
#include <escrow/history/vault_session.hpp>
#include "../unit/foundation_support.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <regex>
#include <sstream>

using escrow::test::Fixture;
using escrow::test::Result;
using nlohmann::json;

namespace {

const std::string k_value = "pg-pass-Zq81-escrow-cli";
const std::string k_t0 = "2030-01-01T00:00:00Z";

void at(const std::string& when)
{
  Fixture::current().set_env("ESCROW_NOW", when);
}

// Three custodians (bob, carol, erin; erin may also request), threshold 2; dave requests;
// frank is an approver but no custodian; rob is a rotator.
struct World
{
  Fixture f;

  World()
  {
    at(k_t0);
    f.init();
    f.member("bob", {"approver"}, {"prod"});
    f.member("carol", {"approver"}, {"prod"});
    f.member("erin", {"approver", "requester"}, {"prod"});
    f.member("dave", {"requester"}, {"prod"});
    f.member("frank", {"approver", "requester"}, {"prod"});
    f.member("rob", {"rotator"}, {"prod"});
    f.add("alice", "prod/db", k_value, {"--custodians", "bob,carol,erin", "--threshold", "2"});
  }

  std::string request(const std::string& who, const std::string& ttl = "4h", const std::string& name = "prod/db")
  {
    const Result r = f.as(who, {"request", name, "--ttl", ttl, "--why", "incident 812"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    REQUIRE(r.out.size() == 17);
    return r.out.substr(0, 16);
  }

  void approve(const std::string& who, const std::string& id, const std::string& name = "prod/db")
  {
    const Result r = f.as(who, {"approve", name, id});
    INFO(r.err);
    REQUIRE(r.code == 0);
  }

  std::vector<json> journal() const
  {
    std::vector<json> entries;
    std::istringstream lines(f.read("escrow.journal"));
    for (std::string line; std::getline(lines, line);) {
      entries.push_back(json::parse(line));
    }
    return entries;
  }

  // escrow-vault/2: the secret as `show --json` prints it (a public read of the state).
  json shown() const { return json::parse(f.run({"--json", "show", "prod/db"}).out); }

  escrow::Identity identity(const std::string& who) const
  {
    const std::string path = f.path(who + ".id").string();
    return escrow::open_identity(escrow::canonical::parse(f.read(who + ".id"), path), nullptr, path);
  }

  // A session as the CLI opens it for `who` (the fixture's state home: this machine's cache).
  escrow::history::VaultSession session(const std::string& who) const
  {
    escrow::history::VaultSessionOptions o;
    o.vault_path = f.vault();
    o.state_home = f.dir() / "state";
    o.clock = escrow::Clock::from_setting(f.env("ESCROW_NOW"));
    o.lock_wait = std::chrono::seconds(5);
    const std::string path = f.path(who + ".id").string();
    o.identity = [path] {
      return escrow::open_identity(escrow::canonical::parse(escrow::test::slurp(path), path), nullptr, path);
    };
    return escrow::history::VaultSession::open(std::move(o), escrow::history::Access::write);
  }

  // The journal's lines (without their newlines).
  std::vector<std::string> lines() const
  {
    std::vector<std::string> out;
    std::istringstream text(f.read("escrow.journal"));
    for (std::string line; std::getline(text, line);) {
      out.push_back(line);
    }
    return out;
  }

  // What a member with push access and their own key can do to the journal: take an entry,
  // edit it, and append it signed by themselves after the journal's last entry (a well-formed
  // line; only the rules of the state before it can refuse it).
  std::string forge(const std::string& line, const std::string& signer,
                    const std::function<void(escrow::history::Entry&)>& edit) const
  {
    escrow::history::Entry entry = escrow::history::parse_entry(line, "entry");
    const escrow::history::Entry last = escrow::history::parse_entry(lines().back(), "entry");
    entry.actor = signer;
    entry.parents = {last.hash};
    entry.ts = last.ts + 1;
    edit(entry);
    escrow::history::seal_entry(entry, identity(signer));
    return escrow::history::dump_entry(entry) + "\n";
  }
};

// A refusal: the exit code, one error line naming the problem, the vault byte-identical.
void refused(World& w, const std::string& who, const std::vector<std::string>& args, int code,
             const std::string& expected)
{
  const std::string before = w.f.read("escrow.vault");
  const Result r = w.f.as(who, args);
  INFO(who << " " << args[0] << ": " << r.err);
  CHECK(r.code == code);
  CHECK(r.err.rfind("escrow: error: ", 0) == 0);
  CHECK(r.err.find(expected) != std::string::npos);
  CHECK(r.err.find(k_value) == std::string::npos);
  CHECK(r.out.find(k_value) == std::string::npos);
  CHECK(w.f.read("escrow.vault") == before);
}

// The request id an escrow-vault/2 entry names: request op {id}, approve/deny op {request}, an
// event's detail {request}; "" when none.
std::string request_of(const json& entry)
{
  if (entry.contains("op")) {
    const json& args = entry["op"]["args"];
    return args.contains("id") ? args["id"].get<std::string>() : args.value("request", std::string());
  }
  return entry.contains("detail") ? entry["detail"].value("request", std::string()) : std::string();
}

// The newest journal entry records the refusal by `who`.
void journaled_refusal(const World& w, const std::string& who, const std::string& action)
{
  const json last = w.journal().back();
  CHECK(last["actor"] == who);
  CHECK(last["action"] == action);
  CHECK(last["result"] == "denied");
  CHECK(last["detail"].contains("reason"));
}

} // namespace

TEST_CASE("escrow cli: 2 of 3 custodians, request to expiry", "[cli][escrow]")
{
  World w;
  const Result req = w.f.as("dave", {"request", "prod/db", "--ttl", "4h", "--why", "incident 812"});
  INFO(req.err);
  REQUIRE(req.code == 0);
  CHECK(std::regex_match(req.out, std::regex("[0-9a-f]{16}\n")));
  CHECK(req.err.find("escrow approve prod/db") != std::string::npos);
  const std::string id = req.out.substr(0, 16);

  const Result j = w.f.as("dave", {"--json", "request", "prod/db", "--ttl", "1h", "--why", "second"});
  REQUIRE(j.code == 0);
  const json doc = json::parse(j.out);
  CHECK(std::regex_match(doc["id"].get<std::string>(), std::regex("[0-9a-f]{16}")));
  CHECK(doc["expires_at"] == "2030-01-01T01:00:00Z");
  CHECK(doc["threshold"] == 2);

  const Result first = w.f.as("bob", {"approve", "prod/db", id});
  REQUIRE(first.code == 0);
  CHECK(first.out.find("1 of 2 approvals") != std::string::npos);

  at("2030-01-01T00:10:00Z");
  const Result still = w.f.as("dave", {"get", "prod/db", "--reveal"});
  CHECK(still.code == 4);
  CHECK(still.err.find("1 of 2 approvals") != std::string::npos);

  const Result second = w.f.as("carol", {"--json", "approve", "prod/db", id});
  REQUIRE(second.code == 0);
  const json approved = json::parse(second.out);
  CHECK(approved["granted"] == true);
  CHECK(approved["approvals"] == 2);
  CHECK(approved["requester"] == "dave");

  const Result read = w.f.as("dave", {"get", "prod/db", "--reveal"});
  INFO(read.err);
  CHECK(read.code == 0);
  CHECK(read.out == k_value);

  const Result grants = w.f.as("dave", {"--json", "grants"});
  REQUIRE(grants.code == 0);
  const json g = json::parse(grants.out);
  REQUIRE(g["grants"].size() == 1);
  CHECK(g["grants"][0]["id"] == id);
  CHECK(g["grants"][0]["state"] == "granted");
  REQUIRE(g["pending"].size() == 1); // the second request
  CHECK(g["awaiting"].empty());
  const Result text = w.f.as("dave", {"grants"});
  CHECK(text.out.find("your grants") != std::string::npos);
  CHECK(text.out.find("active") != std::string::npos);
  const json erin = json::parse(w.f.as("erin", {"--json", "grants"}).out);
  CHECK(erin["awaiting"].size() == 1); // the second request; the first is granted

  at("2030-01-01T04:00:00Z");
  const Result expired = w.f.as("dave", {"get", "prod/db", "--reveal"});
  CHECK(expired.code == 4);
  CHECK(expired.err.find("expired") != std::string::npos);
  const json later = json::parse(w.f.as("dave", {"--json", "grants"}).out);
  CHECK(later["grants"][0]["state"] == "expired");

  // Journal: request, approvals and reveals, with the request id; never the value.
  std::vector<std::string> actions;
  for (const json& entry : w.journal()) {
    actions.push_back(entry["action"].get<std::string>() + "/" + entry["result"].get<std::string>());
    if ((entry["action"] == "request" || entry["action"] == "approve") && entry["result"] == "ok") {
      CHECK(request_of(entry).size() == 16);
    }
  }
  const std::vector<std::string> tail(actions.end() - 7, actions.end());
  CHECK(tail == std::vector<std::string>{"request/ok", "request/ok", "approve/ok", "reveal/denied", "approve/ok",
                                         "reveal/ok", "reveal/denied"});
  const json request_entry = w.journal()[w.journal().size() - 7];
  CHECK(request_of(request_entry) == id);
  CHECK(request_entry["why"] == "incident 812");
  CHECK(w.f.read("escrow.journal").find(k_value) == std::string::npos);
  CHECK(w.f.read("escrow.vault").find(k_value) == std::string::npos);
  CHECK(w.f.as("alice", {"verify"}).code == 0);
}

TEST_CASE("escrow cli: separation of duties, each refusal exit 4, journaled, vault unchanged", "[cli][escrow]")
{
  World w;
  const std::string by_dave = w.request("dave");
  const std::string by_erin = w.request("erin");

  refused(w, "erin", {"approve", "prod/db", by_erin}, 4, "cannot approve their own request");
  journaled_refusal(w, "erin", "approve");
  refused(w, "frank", {"approve", "prod/db", by_dave}, 4, "(not a custodian of it)");
  journaled_refusal(w, "frank", "approve");
  refused(w, "rob", {"approve", "prod/db", by_dave}, 4, "rob may not approve requests of prod");
  journaled_refusal(w, "rob", "approve");
  refused(w, "rob", {"request", "prod/db", "--ttl", "1h", "--why", "x"}, 4, "rob does not have the requester role");
  journaled_refusal(w, "rob", "request");
  refused(w, "bob", {"request", "prod/db", "--ttl", "1h", "--why", "x"}, 4, "requester role");

  w.approve("bob", by_dave);
  refused(w, "bob", {"approve", "prod/db", by_dave}, 4, "already approved");
  journaled_refusal(w, "bob", "approve");
  bool found = false;
  const json shown = w.shown();
  INFO(shown.dump());
  for (const json& request : shown["requests"]) {
    if (request["id"] == by_dave) {
      CHECK(request["approvals"] == 1);
      found = true;
    }
  }
  CHECK(found);

  // Unknown ids and secrets are usage errors.
  refused(w, "bob", {"approve", "prod/db", "0123456789abcdef"}, 2, "has no request 0123456789abcdef");
  refused(w, "bob", {"approve", "prod/db", "../x"}, 2, "is not a request id");
  refused(w, "bob", {"approve", "prod/nope", by_dave}, 2, "no secret named prod/nope");
}

TEST_CASE("escrow cli: requests over the TTL cap or without justification are refused", "[cli][escrow]")
{
  World w;
  refused(w, "dave", {"request", "prod/db", "--ttl", "25h", "--why", "x"}, 4, "over the policy maximum of 1d for prod");
  journaled_refusal(w, "dave", "request");
  refused(w, "dave", {"request", "prod/db", "--ttl", "1h"}, 4, "requires a justification");
  refused(w, "dave", {"request", "prod/db", "--ttl", "1h", "--why", ""}, 4, "requires a justification");
  refused(w, "dave", {"request", "prod/db", "--ttl", "soon", "--why", "x"}, 2, "--ttl must be a duration");
  refused(w, "dave", {"request", "prod/db", "--why", "x"}, 2, "--ttl");
  // escrow-vault/2: the genesis admin holds the admin role only (vault-2-plan.md §2.4): no request.
  refused(w, "alice", {"request", "prod/db", "--ttl", "1h", "--why", "x"}, 4, "requester role");
  CHECK(w.shown()["requests"].empty());

  // The policy can lift both.
  REQUIRE(w.f.as("alice", {"policy", "set", "prod", "--max-ttl", "2d", "--require-why", "no"}).code == 0);
  const Result ok = w.f.as("dave", {"request", "prod/db", "--ttl", "25h"});
  INFO(ok.err);
  CHECK(ok.code == 0);
}

TEST_CASE("escrow cli: expired and denied requests cannot be approved", "[cli][escrow]")
{
  World w;
  const std::string brief = w.request("dave", "1h");
  const std::string denied = w.request("dave");
  const Result deny = w.f.as("carol", {"deny", "prod/db", denied, "--why", "change freeze"});
  INFO(deny.err);
  REQUIRE(deny.code == 0);
  CHECK(deny.out.find("denied request " + denied) != std::string::npos);
  const json entry = w.journal().back();
  CHECK(entry["action"] == "deny");
  CHECK(request_of(entry) == denied);
  CHECK(entry["why"] == "change freeze");

  refused(w, "bob", {"approve", "prod/db", denied}, 4, "was denied by carol");
  refused(w, "bob", {"deny", "prod/db", denied, "--why", "again"}, 4, "is denied already");
  refused(w, "frank", {"deny", "prod/db", brief, "--why", "no"}, 4, "only a custodian");
  journaled_refusal(w, "frank", "deny");
  refused(w, "bob", {"deny", "prod/db", brief, "--why", ""}, 2, "a reason is required");
  refused(w, "bob", {"deny", "prod/db", brief}, 2, "--why");

  at("2030-01-01T01:00:00Z");
  refused(w, "bob", {"approve", "prod/db", brief}, 4, "expired at 2030-01-01T01:00:00Z");
  journaled_refusal(w, "bob", "approve");

  const json grants = json::parse(w.f.as("dave", {"--json", "grants"}).out);
  REQUIRE(grants["closed"].size() == 2);
  const Result text = w.f.as("dave", {"grants"});
  CHECK(text.out.find("denied by carol: change freeze") != std::string::npos);
  CHECK(text.out.find("expired unapproved") != std::string::npos);
}

TEST_CASE("escrow cli: a removed member's approval is void and they cannot approve", "[cli][escrow]")
{
  World w;
  const std::string id = w.request("dave");
  w.approve("carol", id);
  w.approve("bob", id);
  REQUIRE(w.f.as("dave", {"get", "prod/db", "--reveal"}).code == 0);
  // escrow-vault/2: show --json counts the approvals that count (counted: active approvers).
  const json before = w.shown();
  REQUIRE(before["requests"][0]["approvals"] == 2);

  REQUIRE(w.f.as("alice", {"member", "remove", "bob"}).code == 0);
  const json after = w.shown();
  const Result grants = w.f.as("dave", {"--json", "grants"});
  INFO(grants.err);
  REQUIRE(grants.code == 0);
  CHECK(json::parse(grants.out)["closed"].size() + json::parse(grants.out)["grants"].size()
        + json::parse(grants.out)["pending"].size() == 1);
  CHECK(after["custodians"] == json::array({"carol", "erin"}));
  const Result read = w.f.as("dave", {"get", "prod/db", "--reveal"});
  CHECK(read.code == 4);
  CHECK(read.err.find("1 of 2 approvals") != std::string::npos);
  refused(w, "bob", {"approve", "prod/db", id}, 4, "bob was removed");

  // (escrow-vault/2: putting the removed member's approval back by hand is the insider forger's
  // 'replayed record' class, tests/insider/ on branch session2; the v1 re-signing helper here
  // writes escrow-vault/1 and no longer applies.)
}

// escrow-vault/2: an approval is an `approve` operation in the journal, signed by the approver and
// valid only if the approver may approve that request in the state before it (vault-2.md §1.1
// "unbound approval"). v1's hand-moved approval records and re-signed heads become journal
// entries moved, replayed, edited or re-signed; every one is exit 3 naming the journal line, and
// nothing is written.
TEST_CASE("escrow cli: forged and replayed approvals are integrity failures", "[cli][escrow]")
{
  World w;
  at("2030-01-01T00:00:00Z");
  const std::string old_id = w.request("dave", "1h");
  w.approve("bob", old_id);
  w.approve("carol", old_id);
  at("2030-01-01T02:00:00Z");
  const std::string new_id = w.request("dave", "1h");
  const std::string other_id = w.request("frank", "1h");
  REQUIRE(w.f.as("dave", {"get", "prod/db", "--reveal"}).code == 4);
  // bob's approval of the old request.
  std::string bobs;
  for (const std::string& line : w.lines()) {
    const json entry = json::parse(line);
    if (entry["action"] == "approve" && entry["actor"] == "bob") {
      bobs = line;
    }
  }
  REQUIRE_FALSE(bobs.empty());
  const std::string journal = w.f.read("escrow.journal");
  const auto refused = [&](const std::string& who, const std::string& part) {
    const std::string head = w.f.read("escrow.vault");
    const std::string keys = w.f.read("escrow.keys");
    const std::string forged = w.f.read("escrow.journal");
    const Result r = w.f.as(who, {"get", "prod/db", "--reveal"});
    INFO(r.err);
    CHECK(r.code == 3);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("escrow: error: " + w.f.journal().string() + ": line ", 0) == 0);
    CHECK(r.err.find(part) != std::string::npos);
    CHECK(w.f.read("escrow.vault") == head);
    CHECK(w.f.read("escrow.keys") == keys);
    CHECK(w.f.read("escrow.journal") == forged);
    CHECK(w.f.as("alice", {"verify"}).code == 3);
  };

  SECTION("replayed verbatim: the same approve line again")
  {
    escrow::test::spit(w.f.journal(), journal + bobs + "\n");
    refused("dave", "(approve by bob): the same entry as line ");
  }
  SECTION("moved to the new request by hand: the entry no longer hashes to its content")
  {
    std::string moved = bobs;
    moved.replace(moved.find(old_id), old_id.size(), new_id);
    escrow::test::spit(w.f.journal(), journal + moved + "\n");
    refused("dave", "its hash is not the hash of its content");
  }
  SECTION("replayed onto the new request, re-signed by the requester")
  {
    escrow::test::spit(w.f.journal(), journal + w.forge(bobs, "dave", [&](escrow::history::Entry& e) {
                                        std::get<escrow::history::ApproveArgs>(e.op->args).request = new_id;
                                      }));
    refused("dave", "entry ");
  }
  SECTION("valid signature, wrong request: bob's approval moved to another member's request")
  {
    // The forger cannot sign as bob: signed by frank (an approver, but no custodian).
    escrow::test::spit(w.f.journal(), journal + w.forge(bobs, "frank", [&](escrow::history::Entry& e) {
                                        auto& args = std::get<escrow::history::ApproveArgs>(e.op->args);
                                        args.request = other_id;
                                        args.requester = "frank";
                                      }));
    refused("frank", "(approve by frank)");
  }
  SECTION("bob's signature kept, the actor changed: the signature is not the actor's")
  {
    escrow::history::Entry entry = escrow::history::parse_entry(bobs, "entry");
    entry.actor = "dave";
    const escrow::history::Entry parent = escrow::history::parse_entry(w.lines().back(), "entry");
    entry.parents = {parent.hash};
    entry.ts = parent.ts + 1; // after its parent, so the signature is what is wrong
    entry.hash = escrow::history::compute_hash(entry);
    escrow::test::spit(w.f.journal(), journal + escrow::history::dump_entry(entry) + "\n");
    refused("dave", "the signature is not dave's");
  }
}

TEST_CASE("escrow cli: a share sealed to the wrong member is caught", "[cli][escrow]")
{
  World w;
  const std::string id = w.request("dave");
  w.approve("carol", id);
  // bob's tool (or bob) re-seals his share to erin instead of dave and signs a valid approve
  // entry for it: no rule can see inside a sealed box, so the journal accepts it.
  {
    escrow::history::VaultSession session = w.session("bob");
    const escrow::history::Secret& secret = *session.state().secret("prod/db");
    std::string vid;
    const escrow::history::Version* version = secret.find_state(escrow::VersionState::current, &vid);
    REQUIRE(version != nullptr);
    const escrow::history::SecretRef ref{session.vault_id(), "prod/db"};
    const escrow::history::Vid parsed = *escrow::history::Vid::from_hex(vid);
    const escrow::history::VersionRef vref{parsed, static_cast<std::uint32_t>(version->gen), version->dk_commit,
                                           version->material};
    const escrow::SecretBytes share =
      escrow::history::open_own_share(session.keys(), ref, vref, version->shares.at("bob"), session.identity());
    const escrow::history::Member* erin = session.state().member("erin");
    escrow::history::Material material;
    material.lines.push_back(
      escrow::history::seal_approval(ref, parsed, id, "bob", share, escrow::history::Recipient{"erin", erin->box_pk}));
    escrow::history::ApproveArgs args;
    args.secret = "prod/db";
    args.request = id;
    args.requester = "dave";
    args.vid = vid;
    args.v = version->v;
    args.dk_commit = version->dk_commit;
    session.submit(std::move(args), material);
  }
  REQUIRE(w.f.as("alice", {"verify"}).code == 0);
  const std::string head = w.f.read("escrow.vault");
  const std::string journal = w.f.read("escrow.journal");
  const std::string keys = w.f.read("escrow.keys");
  const Result r = w.f.as("dave", {"get", "prod/db", "--reveal"});
  INFO(r.err);
  CHECK(r.code == 3);
  CHECK(r.err.find("the share approved by bob for dave is not sealed to the requester (misdirected by its approver)")
        != std::string::npos);
  CHECK(r.out.empty());
  CHECK(w.f.read("escrow.vault") == head);
  CHECK(w.f.read("escrow.journal") == journal);
  CHECK(w.f.read("escrow.keys") == keys);
}

TEST_CASE("escrow cli: a custodian-requester needs k approvals from others", "[cli][escrow]")
{
  World w;
  const std::string id = w.request("erin");
  w.approve("bob", id);
  const Result r = w.f.as("erin", {"get", "prod/db", "--reveal"});
  CHECK(r.code == 4);
  CHECK(r.err.find("1 of 2 approvals") != std::string::npos);
  w.approve("carol", id);
  CHECK(w.f.as("erin", {"get", "prod/db", "--reveal"}).out == k_value);
}

TEST_CASE("escrow cli: using a grant to an after_access secret makes it due", "[cli][escrow]")
{
  World w;
  w.f.add("alice", "prod/root", "root-value-after", {"--custodians", "bob,carol", "--threshold", "2", "--after-access"});
  const std::string id = w.request("dave", "4h", "prod/root");
  w.approve("bob", id, "prod/root");
  w.approve("carol", id, "prod/root");
  const json before = json::parse(w.f.as("alice", {"--json", "show", "prod/root"}).out);
  CHECK(before["status"].get<std::string>().find("due") == std::string::npos);
  REQUIRE(w.f.as("dave", {"get", "prod/root", "--reveal"}).out == "root-value-after");
  const json after = json::parse(w.f.as("alice", {"--json", "show", "prod/root"}).out);
  CHECK(after["status"] == "due: accessed via grant");
  const json grants = json::parse(w.f.as("dave", {"--json", "grants"}).out);
  REQUIRE(grants["grants"].size() == 1);
  CHECK(grants["grants"][0]["used_at"] == k_t0);
  CHECK(w.f.read("escrow.journal").find("root-value-after") == std::string::npos);

  // exec is a use too.
  w.f.add("alice", "prod/root2", "root2-value-after", {"--custodians", "bob,carol", "--threshold", "2", "--after-access"});
  const std::string second = w.request("dave", "4h", "prod/root2");
  w.approve("bob", second, "prod/root2");
  w.approve("carol", second, "prod/root2");
  const Result exec = w.f.as("dave", {"exec", "--set", "V=prod/root2", "--", "true"});
  INFO(exec.err);
  REQUIRE(exec.code == 0);
  CHECK(json::parse(w.f.as("alice", {"--json", "show", "prod/root2"}).out)["status"] == "due: accessed via grant");
  CHECK(w.journal().back()["action"] == "grant-used");
  CHECK(w.f.as("alice", {"verify"}).code == 0);
}

TEST_CASE("escrow cli: policy show, set and set-notify (admins, journaled)", "[cli][escrow]")
{
  World w;
  const json initial = json::parse(w.f.as("bob", {"--json", "policy", "show"}).out);
  CHECK(initial["envs"]["*"]["max_ttl"] == "1d");
  CHECK(initial["envs"]["*"]["require_why"] == true);

  const Result set = w.f.as("alice", {"policy", "set", "prod", "--min-threshold", "2", "--max-ttl", "8h",
                                      "--require-why", "yes", "--every", "30d", "--keep", "5"});
  INFO(set.err);
  REQUIRE(set.code == 0);
  CHECK(set.out == "policy for prod: min-threshold 2, max-ttl 8h, require-why yes, every 30d, keep 5\n");
  const json entry = w.journal().back();
  CHECK(entry["action"] == "policy-set");
  CHECK(entry["op"]["args"]["max_ttl"] == 8 * 3600);
  REQUIRE(w.f.as("alice", {"policy", "set-notify", "logger -t escrow"}).code == 0);
  REQUIRE(w.f.as("alice", {"policy", "set", "*", "--max-ttl", "2h", "--notify", "logger -t escrow2"}).code == 0);

  const json policy = json::parse(w.f.as("dave", {"--json", "policy", "show"}).out);
  CHECK(policy["envs"]["prod"] == json{{"min_threshold", 2}, {"max_ttl", "8h"}, {"require_why", true},
                                       {"every", "30d"}, {"keep", 5}});
  CHECK(policy["envs"]["*"]["max_ttl"] == "2h");
  CHECK(policy["notify"] == "logger -t escrow2");
  CHECK(w.journal().back()["actor"] == "alice"); // escrow-vault/2: who changed it is in the journal
  const Result text = w.f.as("dave", {"policy", "show"});
  CHECK(text.out.find("prod  2              8h       yes          30d    5") != std::string::npos);

  // The cap and the minimum threshold apply.
  refused(w, "dave", {"request", "prod/db", "--ttl", "9h", "--why", "x"}, 4, "maximum of 8h");
  const std::string one = "v";
  const Result add = w.f.as("alice", {"add", "prod/low", "--purpose", "t", "--custodians", "bob", "--threshold", "1"}, &one);
  CHECK(add.code == 4); // escrow-vault/2: the rules refuse it (secret-add), journaled
  CHECK(add.err.find("threshold 1 is outside 2..1") != std::string::npos);

  refused(w, "bob", {"policy", "set", "prod", "--keep", "1"}, 4, "bob is not an admin of prod");
  journaled_refusal(w, "bob", "policy-set");
  refused(w, "bob", {"policy", "set-notify", "rm -rf /"}, 4, "bob is not an admin of *");
  refused(w, "alice", {"policy", "set", "prod"}, 2, "nothing to change");
  refused(w, "alice", {"policy", "set", "prod", "--require-why", "maybe"}, 2, "yes or no");
  refused(w, "alice", {"policy", "set", "prod", "--max-ttl", "forever"}, 2, "--max-ttl");
  refused(w, "alice", {"policy", "set", "prod", "--min-threshold", "0"}, 2, "min_threshold: out of range (1..255)");
  refused(w, "alice", {"policy", "set", "Prod/x", "--keep", "1"}, 2, "invalid environment");
  CHECK(w.f.as("alice", {"verify"}).code == 0);
}
