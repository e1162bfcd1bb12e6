// A small world for the history tests: members with real keys, a state built only through
// authorize + apply (as the replay will), and helpers for key lines and entries.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/history/apply.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/labels.hpp>
#include <escrow/history/op.hpp>
#include <escrow/history/state.hpp>
#include <escrow/identity.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace history_test {

using namespace escrow;
using namespace escrow::history;

inline Timestamp at(std::string_view text)
{
  return *parse_time(text);
}

// A stand-in for the hash K of a key line (the tests never read key material).
inline Hash fake_k(const KeyLine& line, int salt = 0)
{
  return crypto::hash(labels::k_key, as_bytes(logical_name(line) + "|" + std::to_string(salt)));
}

inline KeyLine rk(std::string secret, std::int64_t gen, std::string member)
{
  return KeyLine{KeyLineKind::reader, std::move(secret), gen, {}, std::move(member), {}};
}
inline KeyLine vline(std::string secret, std::string vid)
{
  return KeyLine{KeyLineKind::value, std::move(secret), 0, std::move(vid), {}, {}};
}
inline KeyLine sh(std::string secret, std::string vid, std::string member)
{
  return KeyLine{KeyLineKind::share, std::move(secret), 0, std::move(vid), std::move(member), {}};
}
inline KeyLine gr(std::string secret, std::string vid, std::string member)
{
  return KeyLine{KeyLineKind::grant, std::move(secret), 0, std::move(vid), std::move(member), {}};
}
inline KeyLine ap(std::string secret, std::string vid, std::string request, std::string approver)
{
  return KeyLine{KeyLineKind::approval, std::move(secret), 0, std::move(vid), std::move(approver), std::move(request)};
}

inline Hash commit(std::string_view what)
{
  return crypto::hash("test/commit", as_bytes(what));
}

inline PolicyValue default_policy()
{
  PolicyValue p;
  EnvPolicy star;
  star.min_threshold = 1;
  star.max_ttl = 8 * 3600;
  star.require_why = true;
  star.every = 0;
  star.keep = 2;
  p.envs["*"] = star;
  return p;
}

class World
{
public:
  State state;
  Timestamp now = at("2026-12-01T10:00:00Z");
  std::vector<Hash> heads;
  // Shared, so a World can be copied (a state to try an operation on) with the same keys.
  std::shared_ptr<std::map<std::string, Identity>> ids = std::make_shared<std::map<std::string, Identity>>();
  // Every entry run() appended, in order (the journal the replay tests write out).
  std::vector<Entry> log;
  // The K of a key line the entries add (default fake_k; the vault tests make real lines).
  std::function<Hash(const KeyLine&)> key_hash;

  Identity& id(const std::string& name)
  {
    auto it = ids->find(name);
    if (it == ids->end()) {
      it = ids->emplace(name, generate_identity(name)).first;
    }
    return it->second;
  }

  // An entry by `actor` carrying `args`, adding `keys`, with writes computed against the current
  // state and sealed. Time advances one minute per entry.
  Entry entry(const std::string& actor, Args args, const std::vector<KeyLine>& keys = {},
              std::optional<std::string> why = std::nullopt)
  {
    Entry e;
    e.actor = actor;
    e.ts = now;
    e.host = "test";
    e.parents = std::holds_alternative<InitArgs>(args) ? std::vector<Hash>{} : heads;
    e.action = kind_of(args);
    e.result = Result::ok;
    e.why = std::move(why);
    Op op;
    op.args = std::move(args);
    for (const KeyLine& line : keys) {
      const Hash k = key_hash ? key_hash(line) : fake_k(line);
      op.writes.push_back(Write{key_path(line, k), std::nullopt, k});
    }
    std::sort(op.writes.begin(), op.writes.end(), [](const Write& a, const Write& b) { return a.path < b.path; });
    e.op = std::move(op);
    if (const auto* init = std::get_if<InitArgs>(&e.op->args)) {
      e.genesis_format = true;
      e.vault = derive_vault_id(init->member, e.ts);
    } else {
      e.vault = state.vault_id;
    }
    // Writes as apply computes them (when the operation's object exists); refused operations
    // keep their key lines only.
    try {
      e.op->writes = compute_writes(state, e);
    } catch (const Error&) {
    }
    seal_entry(e, id(actor));
    return e;
  }

  Verdict judge(const Entry& e) const { return authorize(state, e); }

  // Authorises and applies; fails the test when refused.
  Entry run(const std::string& actor, Args args, const std::vector<KeyLine>& keys = {},
            std::optional<std::string> why = std::nullopt)
  {
    Entry e = entry(actor, std::move(args), keys, std::move(why));
    const Verdict v = judge(e);
    INFO(action_name(e.action) << " by " << actor << ": " << (v ? v->reason : std::string("allowed")));
    REQUIRE_FALSE(v.has_value());
    apply(state, e);
    heads = {e.hash};
    log.push_back(e);
    now += 60;
    return e;
  }

  void genesis(const std::string& name = "alice")
  {
    InitArgs init;
    init.member.name = name;
    init.member.sign_pk = id(name).pub.sign_pk;
    init.member.box_pk = id(name).pub.box_pk;
    init.member.salt.fill(7);
    init.policy = default_policy();
    run(name, init);
  }

  void add_member(const std::string& by, const std::string& name, std::set<Role> roles,
                  std::set<std::string> envs)
  {
    MemberAddArgs a;
    a.name = name;
    a.sign_pk = id(name).pub.sign_pk;
    a.box_pk = id(name).pub.box_pk;
    a.roles = std::move(roles);
    a.envs = std::move(envs);
    run(by, a);
  }
};

// The team of the authorisation tables (expectations are written against it by hand):
//   alice  admin              *      (genesis)
//   bob    approver requester prod   custodian of prod/db
//   carol  approver           prod   custodian of prod/db
//   dave   requester          prod
//   erin   rotator            prod
//   frank  auditor            *
//   gina   admin              dev
//   olive  requester          prod   owner of prod/db
//   paul   requester          dev
// prod/db: owner olive, custodians {bob, carol}, threshold 2, version 1 = vid k_v1 (generation 1,
// reader keys for olive and erin, shares for bob and carol); connector "crm" (manual, prod).
inline const std::string k_db = "prod/db";
inline const std::string k_v1 = "00000000000000a1";
inline const std::string k_v2 = "00000000000000b2";
inline const std::string k_v3 = "00000000000000c3";

inline SecretAddArgs db_args(std::string secret = k_db, std::string vid = k_v1)
{
  SecretAddArgs a;
  a.secret = std::move(secret);
  a.owner = "olive";
  a.purpose = "orders database";
  a.tier = "standard";
  a.every = 30 * 86400;
  a.generator = "len=32,alphabet=base62";
  a.custodians = {"bob", "carol"};
  a.threshold = 2;
  a.version.vid = std::move(vid);
  a.version.rk_commit = commit("rk1");
  a.version.dk_commit = commit("dk1");
  return a;
}

inline std::vector<KeyLine> db_lines(const std::string& secret = k_db, const std::string& vid = k_v1)
{
  return {rk(secret, 1, "erin"), rk(secret, 1, "olive"), vline(secret, vid), sh(secret, vid, "bob"),
          sh(secret, vid, "carol")};
}

inline World team()
{
  World w;
  w.genesis("alice");
  w.add_member("alice", "bob", {Role::approver, Role::requester}, {"prod"});
  w.add_member("alice", "carol", {Role::approver}, {"prod"});
  w.add_member("alice", "dave", {Role::requester}, {"prod"});
  w.add_member("alice", "erin", {Role::rotator}, {"prod"});
  w.add_member("alice", "frank", {Role::auditor}, {"*"});
  w.add_member("alice", "gina", {Role::admin}, {"dev"});
  w.add_member("alice", "olive", {Role::requester}, {"prod"});
  w.add_member("alice", "paul", {Role::requester}, {"dev"});
  ConnectorAddArgs crm;
  crm.name = "crm";
  crm.env = "prod";
  crm.kind = ConnectorKind::manual;
  crm.instructions = "paste it into the CRM settings";
  w.run("alice", crm);
  w.run("alice", db_args(), db_lines(), std::string("initial value"));
  return w;
}

// rotate-start item for the next version of prod/db in the current generation.
inline RotateItem next_version(const World& w, std::string vid = k_v2)
{
  const Secret& s = *w.state.secret(k_db);
  RotateItem item;
  item.kind = RotationKind::rotate;
  item.secret = k_db;
  item.vid = std::move(vid);
  item.v = s.max_v() + 1;
  item.gen = s.current_gen();
  item.dk_commit = commit("dk-next");
  item.custodians = s.custodians;
  item.threshold = s.threshold;
  item.why = "scheduled";
  return item;
}

inline RotateItem rollback_item(std::string vid)
{
  RotateItem item;
  item.kind = RotationKind::rollback;
  item.secret = k_db;
  item.vid = std::move(vid);
  return item;
}

inline std::string reason_of(const Verdict& v)
{
  return v ? v->reason : std::string("allowed");
}

} // namespace history_test
