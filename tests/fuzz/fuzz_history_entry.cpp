// The escrow-journal/2 entry parser (lib/escrow/history/entry.hpp) and what runs on what it
// accepts. Properties: every input is an Entry or an Error(integrity); an entry that parses is
// its own canonical line (dump_entry gives back the input, byte for byte) with the hash its
// content determines; it reads back to the same entry; check_args accepts its op again; and
// authorize() never throws and apply() throws only Error(integrity), against the empty state and
// against a small team (members, a connector, a secret with custodians, a request).
//
// So that the fuzzer reaches the predicates with mutated operations, an input whose only fault is
// its hash is also tried with the hash its content gives (mutations rarely keep a BLAKE2b right).
#include "fuzz.hpp"

#include <escrow/history/apply.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/labels.hpp>

using namespace escrow;
using namespace escrow::history;

namespace {

Hash fake_k(const KeyLine& line)
{
  return crypto::hash(labels::k_key, as_bytes(logical_name(line)));
}

// The team of tests/unit/history_support.hpp, built through authorize + apply (no signatures:
// neither looks at them).
const State& team()
{
  static const State state = [] {
    State s;
    Timestamp t = 1796119200; // 2026-12-01T10:00:00Z
    std::uint8_t key = 1;
    const auto run = [&](const std::string& actor, Args args, std::vector<KeyLine> lines = {},
                         std::optional<std::string> why = std::nullopt) {
      Entry e;
      e.actor = actor;
      e.ts = t;
      e.host = "fuzz";
      e.action = kind_of(args);
      e.why = std::move(why);
      e.op = Op{std::move(args), {}};
      for (const KeyLine& line : lines) {
        e.op->writes.push_back(Write{key_path(line, fake_k(line)), std::nullopt, fake_k(line)});
      }
      if (const auto* init = std::get_if<InitArgs>(&e.op->args)) {
        e.genesis_format = true;
        e.vault = derive_vault_id(init->member, t);
      } else {
        e.vault = s.vault_id;
        e.parents = {Hash{}};
      }
      e.op->writes = compute_writes(s, e);
      const Verdict v = authorize(s, e);
      fuzz::check(!v, "the fuzz team is built by allowed operations");
      apply(s, e);
      t += 60;
    };
    const auto member = [&](std::string name, std::set<Role> roles, std::set<std::string> envs) {
      MemberAddArgs a;
      a.name = std::move(name);
      a.sign_pk.fill(key);
      a.box_pk.fill(static_cast<std::uint8_t>(key + 100));
      ++key;
      a.roles = std::move(roles);
      a.envs = std::move(envs);
      return a;
    };
    InitArgs init;
    init.member.name = "alice";
    init.member.sign_pk.fill(250);
    init.member.box_pk.fill(251);
    init.policy.envs["*"] = EnvPolicy{};
    run("alice", init);
    run("alice", member("bob", {Role::approver, Role::requester}, {"prod"}));
    run("alice", member("carol", {Role::approver}, {"prod"}));
    run("alice", member("dave", {Role::requester}, {"prod"}));
    run("alice", member("erin", {Role::rotator}, {"prod"}));
    run("alice", member("gina", {Role::admin}, {"dev"}));
    run("alice", member("olive", {Role::requester}, {"prod"}));
    ConnectorAddArgs crm;
    crm.name = "crm";
    crm.env = "prod";
    crm.kind = ConnectorKind::manual;
    crm.instructions = "paste";
    run("alice", crm);
    SecretAddArgs db;
    db.secret = "prod/db";
    db.owner = "olive";
    db.tier = "standard";
    db.connectors = {"crm"};
    db.custodians = {"bob", "carol"};
    db.threshold = 2;
    db.version.vid = "00000000000000a1";
    const std::string vid = db.version.vid;
    run("alice", db,
        {KeyLine{KeyLineKind::reader, "prod/db", 1, {}, "erin", {}}, KeyLine{KeyLineKind::reader, "prod/db", 1, {}, "olive", {}},
         KeyLine{KeyLineKind::value, "prod/db", 0, vid, {}, {}}, KeyLine{KeyLineKind::share, "prod/db", 0, vid, "bob", {}},
         KeyLine{KeyLineKind::share, "prod/db", 0, vid, "carol", {}}},
        std::string("seed"));
    run("dave", RequestArgs{"prod/db", "0123456789abcdef", 3600}, {}, std::string("seed"));
    run("bob", ApproveArgs{"prod/db", "0123456789abcdef", "dave", vid, 1, Hash{}},
        {KeyLine{KeyLineKind::approval, "prod/db", 0, vid, "bob", "0123456789abcdef"}});
    return s;
  }();
  return state;
}

void judge(const State& before, Entry entry)
{
  if (before.initialised) {
    entry.vault = before.vault_id; // authorize and apply do not look at the hash
  }
  State state = before;
  Verdict verdict;
  fuzz::must("authorize does not throw", [&] { verdict = authorize(state, entry); });
  if (!verdict) {
    fuzz::accepted({ErrorKind::integrity}, [&] { apply(state, entry, "fuzz"); });
  }
}

// The input with "hash" set to what its content gives, or nullopt when it is not such an object.
std::optional<std::string> rehashed(const std::string& text)
{
  std::optional<std::string> out;
  fuzz::accepted({ErrorKind::integrity, ErrorKind::usage}, [&] {
    Json json = canonical::parse(text, "fuzz");
    if (!json.is_object() || !json.contains("hash") || !json.contains("vault") || !json["vault"].is_string()) {
      return;
    }
    const Bytes vault = canonical::unb64(json["vault"].get<std::string>(), "fuzz");
    Json body = json;
    body.erase("hash");
    body.erase("sig");
    Bytes message = vault;
    const std::string dumped = canonical::dump(body);
    message.insert(message.end(), dumped.begin(), dumped.end());
    const Hash h = crypto::hash(labels::k_entry, message);
    json["hash"] = canonical::b64(ByteView(h.data(), h.size()));
    out = canonical::dump(json);
  });
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  std::optional<Entry> entry;
  fuzz::accepted({ErrorKind::integrity}, [&] { entry = parse_entry(text, "fuzz.journal: line 1"); });
  std::string line = text;
  if (!entry) {
    const std::optional<std::string> fixed = rehashed(text);
    if (!fixed || *fixed == text) {
      return 0;
    }
    fuzz::accepted({ErrorKind::integrity}, [&] { entry = parse_entry(*fixed, "fuzz.journal: line 1"); });
    if (!entry) {
      return 0;
    }
    line = *fixed;
  }
  fuzz::check(dump_entry(*entry) == line, "an accepted line is its own canonical form");
  fuzz::check(canonical::dump(entry_to_json(*entry)) == line, "the DOM-free writer spells it as the JSON reference does");
  fuzz::check(compute_hash(*entry) == entry->hash, "an accepted line carries the hash of its content");
  Entry again;
  fuzz::must("a written entry reads back", [&] { again = parse_entry(dump_entry(*entry), "fuzz (written)"); });
  fuzz::check(dump_entry(again) == line, "writing an entry is stable");
  if (entry->op) {
    fuzz::must("check_args accepts a parsed op", [&] { check_args(*entry->op, ErrorKind::integrity, "fuzz"); });
  }
  fuzz::round_tripped();

  // The predicates and apply on whatever the parser lets through: verdicts, never crashes.
  judge(State{}, *entry);
  judge(team(), *entry);
  return 0;
}
