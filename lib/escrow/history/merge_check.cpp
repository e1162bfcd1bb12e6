#include <escrow/history/merge_check.hpp>

#include <escrow/history/apply.hpp>
#include <escrow/history/authorize.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <set>

namespace escrow::history {

namespace {

bool rotation_kind(OpKind kind)
{
  return kind == OpKind::rotate_start || kind == OpKind::confirm || kind == OpKind::rotate_finish
         || kind == OpKind::rotate_fail;
}

std::vector<const Entry*> operations_of(const std::vector<const Entry*>& entries)
{
  std::vector<const Entry*> out;
  for (const Entry* e : entries) {
    if (e != nullptr && e->op) {
      out.push_back(e);
    }
  }
  return out;
}

// Members removed by the operations of one side: target -> the removal entry.
std::map<std::string, const Entry*> removals(const std::vector<const Entry*>& ops)
{
  std::map<std::string, const Entry*> out;
  for (const Entry* e : ops) {
    if (const auto* remove = std::get_if<MemberRemoveArgs>(&e->op->args)) {
      out.emplace(remove->name, e);
    }
  }
  return out;
}

// Whether a is senior to b: added earlier (the genesis member first), then by name.
bool senior(const State& s, const std::string& a, const std::string& b)
{
  const Member* ma = s.member(a);
  const Member* mb = s.member(b);
  const Timestamp ta = ma != nullptr ? ma->added_at : k_max_time;
  const Timestamp tb = mb != nullptr ? mb->added_at : k_max_time;
  if (ta != tb) {
    return ta < tb;
  }
  if ((s.genesis_name == a) != (s.genesis_name == b)) {
    return s.genesis_name == a;
  }
  return a < b;
}

// The record paths an entry's signed writes name (keys excluded).
std::set<std::string> record_paths(const Entry& e)
{
  std::set<std::string> out;
  for (const Write& w : e.op->writes) {
    if (w.path.rfind("k:", 0) != 0) {
      out.insert(w.path);
    }
  }
  return out;
}

struct Folded
{
  State state;
  std::vector<std::pair<const Entry*, std::string>> refused;
};

using Applier = std::function<std::optional<std::string>(State&, const Entry&)>;

Folded fold(State state, const std::vector<const Entry*>& ops, const Applier& apply_one)
{
  Folded out;
  for (const Entry* e : ops) {
    if (std::optional<std::string> refusal = apply_one(state, *e)) {
      out.refused.emplace_back(e, std::move(*refusal));
    }
  }
  out.state = std::move(state);
  return out;
}

// An operation's effects without authorize (an exposed rotation in the order that refuses it).
std::optional<std::string> apply_effects(State& state, const Entry& entry)
{
  State after = state;
  try {
    Trace trace;
    run_effects(after, context_of(entry), entry.op->args, trace);
  } catch (const Error& error) {
    return std::string(error.what());
  }
  state = std::move(after);
  return std::nullopt;
}

// The versions one side's rotate-starts (kind rotate) create for `secret`.
std::vector<std::string> race_vids(const std::vector<const Entry*>& side, const std::string& secret)
{
  std::vector<std::string> out;
  for (const Entry* e : side) {
    if (const auto* start = std::get_if<RotateStartArgs>(&e->op->args)) {
      for (const RotateItem& item : start->items) {
        if (item.kind == RotationKind::rotate && item.secret == secret) {
          out.push_back(item.vid);
        }
      }
    }
  }
  return out;
}

// A rotation operation without its items (and key lines) of `secrets`; nullopt when nothing is left.
std::optional<Entry> without_secrets(const Entry& e, const std::set<std::string>& secrets)
{
  Entry out = e;
  bool left = true;
  std::visit(
    [&](auto& a) {
      using T = std::decay_t<decltype(a)>;
      if constexpr (std::is_same_v<T, ConfirmArgs>) {
        left = secrets.count(a.secret) == 0;
      } else if constexpr (std::is_same_v<T, RotateStartArgs> || std::is_same_v<T, RotateFinishArgs>
                           || std::is_same_v<T, RotateFailArgs>) {
        a.items.erase(std::remove_if(a.items.begin(), a.items.end(),
                                     [&](const auto& item) { return secrets.count(item.secret) > 0; }),
                      a.items.end());
        left = !a.items.empty();
      }
    },
    out.op->args);
  if (!left) {
    return std::nullopt;
  }
  std::vector<Write> writes;
  for (const Write& w : out.op->writes) {
    const std::optional<ParsedPath> p = parse_path(w.path);
    if (p && ((p->kind == PathKind::key && p->key && secrets.count(p->key->secret) > 0)
              || (p->kind == PathKind::secret && secrets.count(p->name) > 0))) {
      continue;
    }
    writes.push_back(w);
  }
  out.op->writes = std::move(writes);
  return out;
}

// `e` onto `kept` as it is when it names no secret of `drop` (only a rotation operation names
// any), else its copy without those secrets' items (without_secrets, held in `trimmed`: stable
// addresses) when anything is left of it, else nothing.
void keep_without(const Entry* e, const std::set<std::string>& drop, std::deque<Entry>& trimmed,
                  std::vector<const Entry*>& kept)
{
  const std::set<std::string> named = rotation_kind(e->op->kind()) ? rotation_secrets(*e) : std::set<std::string>{};
  const bool touches =
    std::any_of(named.begin(), named.end(), [&](const std::string& n) { return drop.count(n) > 0; });
  if (!touches) {
    kept.push_back(e);
  } else if (std::optional<Entry> rest = without_secrets(*e, drop)) {
    trimmed.push_back(std::move(*rest));
    kept.push_back(&trimmed.back());
  }
}

// Due reasons keep their earliest time (as apply's).
void add_due_reason(Secret& secret, const std::string& reason, Timestamp at)
{
  const auto it = secret.due.find(reason);
  if (it == secret.due.end() || at < it->second) {
    secret.due[reason] = at;
  }
}

Secret& edit(State& state, const std::string& name)
{
  auto copy = std::make_shared<Secret>(*state.secrets.at(name));
  Secret& out = *copy;
  state.secrets[name] = std::move(copy);
  return out;
}

// A version's state ordered by how far rotations moved it (the furthest wins when two records differ).
int state_rank(VersionState s)
{
  switch (s) {
  case VersionState::current: return 0;
  case VersionState::previous: return 1;
  case VersionState::retired: return 2;
  default: return 3;
  }
}

// `state` moved as far as `other` moved the same version (current → previous → retired; pending
// and failed neither move nor are moved).
void move_furthest(VersionState& state, VersionState other)
{
  if (state_rank(state) < 3 && state_rank(other) < 3 && state_rank(other) > state_rank(state)) {
    state = other;
  }
}

// Whether a version of `secret` uses its own generation `g` (not a race generation of that number).
bool generation_used(const Secret& secret, std::int64_t g)
{
  return std::any_of(secret.versions.begin(), secret.versions.end(),
                     [g](const auto& item) { return item.second.gen == g && !item.second.race_gen; });
}

// Drops the generations no version uses, except those `keep` holds (both sides had them).
template <typename Keep>
void drop_unused_generations(Secret& secret, Keep keep)
{
  for (auto it = secret.gens.begin(); it != secret.gens.end();) {
    it = generation_used(secret, it->first) || keep(it->first) ? std::next(it) : secret.gens.erase(it);
  }
}

// A version's generation put on `out`: in gens when the number is free or holds the same key (the
// holders of both lines kept: either opens the same key); false when it is another key there
// (the caller keeps it as the version's race_gen).
bool put_generation(Secret& out, std::int64_t g, const Generation& gen)
{
  const auto it = out.gens.find(g);
  if (it == out.gens.end()) {
    out.gens[g] = gen;
    return true;
  }
  if (it->second.rk_commit != gen.rk_commit) {
    return false;
  }
  for (const auto& [member, k] : gen.holders) {
    it->second.holders.emplace(member, k);
  }
  it->second.ever.insert(gen.ever.begin(), gen.ever.end());
  return true;
}

// A version removed from a merged record with the approvals that name it.
void erase_version(Secret& record, const std::string& vid)
{
  for (auto& [id, request] : record.requests) {
    for (auto ap = request.approvals.begin(); ap != request.approvals.end();) {
      ap = ap->second.vid == vid ? request.approvals.erase(ap) : std::next(ap);
    }
  }
  record.versions.erase(vid);
}

// A settlement kept a rotation exposed: whoever lost access on the other side (their reader key
// lines deleted by that resolve, the due reason names them) holds no reader key in the merged
// record, whichever settlement's versions it keeps.
void drop_lost_readers(const State& merged, Secret& record)
{
  const std::set<std::string> readers = standing_readers(merged, record);
  const auto drop_lost = [&readers](Generation& g) {
    for (auto it = g.holders.begin(); it != g.holders.end();) {
      it = readers.count(it->first) > 0 ? std::next(it) : g.holders.erase(it);
    }
  };
  for (auto& [g, generation] : record.gens) {
    drop_lost(generation);
  }
  for (auto& [vid, version] : record.versions) {
    if (version.race_gen) {
      drop_lost(*version.race_gen);
    }
  }
}

struct Race
{
  const RaceResolution* resolution = nullptr;
  MergeSide chosen = MergeSide::ours; // the side that created `current`
  std::string current;
  std::vector<std::string> chosen_side; // the versions the chosen side's rotations created, in its order
  std::vector<std::string> other_side;  // the other side's, in its order
};

// A rotation race settled on the merged state (MergeInput::races): a refusal, or nullopt. Either
// side may have rotated the secret several times since the common history (vault-2-merge.md §5
// "As built"): every version either side created and still keeps stays, with its key lines; the
// chosen one is previous (the command re-applies it as a rollback to it), the other side's
// versions are renumbered after the highest number of the rest (1 + max v, 2 + max v, … in their
// side's order), and the other side's current version (else its last) is current until the
// re-apply, so the vault never claims the connectors hold the chosen value before they do.
std::optional<std::string> settle_race(State& merged, const State& ours, const State& theirs, const Race& race,
                                       Timestamp at)
{
  const std::string& name = race.resolution->secret;
  const Secret* m = merged.secret(name);
  const Secret* c = (race.chosen == MergeSide::ours ? ours : theirs).secret(name);
  const Secret* o = (race.chosen == MergeSide::ours ? theirs : ours).secret(name);
  if (m == nullptr || c == nullptr || o == nullptr) {
    return fmt::format("{} is missing on a side of the merge", name);
  }
  const Version* vc = c->find(race.current);
  if (vc == nullptr) {
    return fmt::format("its side no longer keeps {} (its retention dropped it): choose a version it keeps",
                       race.current);
  }
  for (const Secret* side : {c, o}) {
    if (side->rotation) {
      return fmt::format("the rotation of {} to {} is still in flight on its side: it must finish or fail first", name,
                         side->rotation->vid);
    }
  }
  // The other side's versions its own retention kept, in its order; the one current until the re-apply.
  std::vector<std::string> others;
  for (const std::string& vid : race.other_side) {
    if (o->find(vid) != nullptr) {
      others.push_back(vid);
    }
  }
  if (others.empty()) {
    return fmt::format("the other side keeps none of its versions of {}", name);
  }
  std::string other = others.back();
  for (const std::string& vid : others) {
    if (o->find(vid)->state == VersionState::current) {
      other = vid;
    }
  }
  Secret out = *m;
  // The versions both sides had: the state the sides' finishes moved them to (the furthest);
  // one that either side's retention dropped is gone (its key lines are deleted in the merge).
  for (auto it = out.versions.begin(); it != out.versions.end();) {
    const Version* a = c->find(it->first);
    const Version* b = o->find(it->first);
    if (a == nullptr || b == nullptr) {
      const std::string vid = (it++)->first;
      erase_version(out, vid);
      continue;
    }
    VersionState& state = it->second.state;
    if (state_rank(state) < 3) {
      move_furthest(state, a->state);
      move_furthest(state, b->state);
      if (state == VersionState::current) {
        state = VersionState::previous;
      }
    }
    ++it;
  }
  drop_unused_generations(out, [&](std::int64_t g) { return c->gens.count(g) > 0 && o->gens.count(g) > 0; });
  // Each race version with its generation: in gens when the number is free or holds the same key
  // (the chosen side's first), else as the version's race_gen.
  const auto take = [&](const Secret& side, const std::string& vid) -> std::optional<std::string> {
    const Version* v = side.find(vid);
    const Generation* g = v != nullptr ? side.generation_of(*v) : nullptr;
    if (g == nullptr) {
      return fmt::format("a version of {} names a generation its side does not have", name);
    }
    Version copy = *v;
    copy.race_gen.reset();
    if (!put_generation(out, copy.gen, *g)) {
      if (vid == race.current) {
        return fmt::format("generation {} of {} is another key on the merged side", copy.gen, name);
      }
      copy.race_gen = *g;
    }
    if (copy.state == VersionState::current) {
      copy.state = VersionState::previous;
    }
    out.versions[vid] = std::move(copy);
    return std::nullopt;
  };
  if (std::optional<std::string> refusal = take(*c, race.current)) {
    return refusal;
  }
  out.versions.at(race.current).state = VersionState::previous;
  for (const std::string& vid : race.chosen_side) {
    if (vid != race.current && c->find(vid) != nullptr) {
      if (std::optional<std::string> refusal = take(*c, vid)) {
        return refusal;
      }
    }
  }
  std::int64_t max_v = 0;
  for (const auto& [vid, v] : out.versions) {
    max_v = std::max(max_v, v.v);
  }
  // The renumbering: exactly the other side's kept versions, 1 + max v onwards in their order.
  std::map<std::string, std::int64_t> expected;
  for (const std::string& vid : others) {
    expected.emplace(vid, max_v + 1 + static_cast<std::int64_t>(expected.size()));
  }
  if (race.resolution->renumber != expected) {
    std::string want;
    for (const std::string& vid : others) {
      want += fmt::format("{}{} as v{}", want.empty() ? "" : ", ", vid, expected.at(vid));
    }
    std::string got;
    for (const auto& [vid, v] : race.resolution->renumber) {
      got += fmt::format("{}{} as v{}", got.empty() ? "" : ", ", vid, v);
    }
    return fmt::format("the versions not chosen must be renumbered after the highest version number of {} ({}), "
                       "not {}",
                       name, want, got.empty() ? "nothing" : got);
  }
  for (const std::string& vid : others) {
    if (std::optional<std::string> refusal = take(*o, vid)) {
      return refusal;
    }
    out.versions.at(vid).v = expected.at(vid);
  }
  out.versions.at(other).state = VersionState::current;
  out.rotation.reset();
  for (const Secret* side : {c, o}) {
    for (const auto& [reason, since] : side->due) {
      add_due_reason(out, reason, since);
    }
  }
  add_due_reason(out, std::string(k_due_race_resolved), at);
  merged.secrets[name] = std::make_shared<Secret>(std::move(out));
  return std::nullopt;
}

// What one side's settled prefix (MergeInput::ours_settled) settled: the secrets its resolve
// entries settled a rotation race of or kept a rotation of exposed, each race's resolution, the
// resolve entry that settled each secret last, and its last resolve entry.
struct Prefix
{
  std::set<std::string> secrets;
  std::map<std::string, std::pair<const RaceResolution*, const Entry*>> races;
  std::map<std::string, const Entry*> by;
  const Entry* last = nullptr;
};

Prefix prefix_of(const std::vector<const Entry*>& side, const std::set<Hash>& settled,
                 const std::function<const Entry*(const Hash&)>& find_entry)
{
  Prefix out;
  std::map<Hash, const Entry*> by_hash;
  for (const Entry* e : side) {
    by_hash.emplace(e->hash, e);
  }
  // An exposed rotation is usually in the common history (both clones merged it).
  const auto lookup = [&](const Hash& h) -> const Entry* {
    const auto found = by_hash.find(h);
    if (found != by_hash.end()) {
      return found->second;
    }
    return find_entry ? find_entry(h) : nullptr;
  };
  for (const Entry* e : side) {
    const auto* resolve = settled.count(e->hash) > 0 ? std::get_if<ResolveArgs>(&e->op->args) : nullptr;
    if (resolve == nullptr) {
      continue;
    }
    for (const RaceResolution& r : resolve->rotations) {
      out.secrets.insert(r.secret);
      out.races[r.secret] = {&r, e};
      out.by[r.secret] = e;
    }
    for (const Hash& h : resolve->exposed) {
      if (const Entry* found = lookup(h); found != nullptr && found->op) {
        for (const std::string& name : rotation_secrets(*found)) {
          out.secrets.insert(name);
          out.by[name] = e;
        }
      }
    }
    if (!resolve->rotations.empty() || !resolve->exposed.empty()) {
      out.last = e;
    }
  }
  return out;
}

// The entries of a side's first re-apply of `vid` to `secret` after its settled prefix: the
// rollback's rotate-start, its confirms and its successful rotate-finish. Empty when the side has
// none, or when it did not finish (a rotate-fail): only a re-apply that set the value everywhere
// is the same as another's.
std::set<Hash> reapply_of(const std::vector<const Entry*>& side, const std::set<Hash>& settled,
                          const std::string& secret, const std::string& vid)
{
  std::set<Hash> out;
  bool started = false;
  for (const Entry* e : side) {
    if (settled.count(e->hash) > 0 || !rotation_kind(e->op->kind()) || rotation_secrets(*e).count(secret) == 0) {
      continue;
    }
    if (const auto* start = std::get_if<RotateStartArgs>(&e->op->args)) {
      const bool back = std::any_of(start->items.begin(), start->items.end(), [&](const RotateItem& item) {
        return item.secret == secret && item.kind == RotationKind::rollback && item.vid == vid;
      });
      if (started || !back) {
        return {};
      }
      started = true;
      out.insert(e->hash);
    } else if (!started || std::holds_alternative<RotateFailArgs>(e->op->args)) {
      return {};
    } else if (const auto* finish = std::get_if<RotateFinishArgs>(&e->op->args)) {
      const bool done = std::any_of(finish->items.begin(), finish->items.end(), [&](const FinishItem& item) {
        return item.secret == secret && item.vid == vid;
      });
      if (!done) {
        return {};
      }
      out.insert(e->hash);
      return out;
    } else {
      out.insert(e->hash); // a confirm
    }
  }
  return {};
}

void copy_record(State& to, const State& from, const std::string& path)
{
  if (const std::optional<Json> record = from.record(path)) {
    load_record(to, path, *record, "the merge check");
  }
}

bool earlier(const Entry& a, const Entry& b)
{
  return a.ts != b.ts ? a.ts < b.ts : a.hash < b.hash;
}

// A settlement's choice for `secret`: the version its race resolution chose, else (a rotation kept
// exposed) the version current in the state after it; "" when it has none.
std::string choice_of(const Prefix& prefix, const State& settled, const std::string& secret)
{
  if (const auto race = prefix.races.find(secret); race != prefix.races.end()) {
    return race->second.first->current;
  }
  std::string vid;
  const Secret* s = settled.secret(secret);
  if (s == nullptr || s->find_state(VersionState::current, &vid) == nullptr) {
    return {};
  }
  return vid;
}

// Whether `a` keeps every version `b` keeps.
bool keeps_all(const Secret& a, const Secret& b)
{
  return std::all_of(b.versions.begin(), b.versions.end(),
                     [&](const auto& item) { return a.find(item.first) != nullptr; });
}

// One settlement of a secret's side: its record after the settling resolve (with the other
// side's prefix operations on it), its state at its head, and the versions its own rotations
// made (rotate-starts the other side lacks).
struct Settlement
{
  const Secret* record = nullptr;
  const Secret* head = nullptr;
  std::set<std::string> own;
};

// Two settlements made apart that chose the same version, each re-applied to the connectors (or
// current there all along, a rotation kept exposed), though neither record keeps every version
// the other keeps (each side rotated again before it settled): every connector holds `chosen`
// (each clone's last push of the secret was its re-apply), so they are one settlement and the
// record is their union, the same in both orders. `first` is the earlier settlement (its version
// numbers stand); the other's versions come after its highest number, in their order. A version
// stays while every side that ever had its key lines keeps it at its head: both records' while
// both heads keep it; one record's only when that side's own rotation made it (the other side
// never had its lines) and its head keeps it; a version of the common history that one side
// dropped (its retention deleted the lines) is gone. The re-applies' effect (`reapplied`): the
// chosen version current, every other one as far as either side moved it (current → previous),
// the connectors' due reasons cleared. nullopt: the chosen version is not kept, or a version
// names a generation its side lacks (the conflict stays listed).
std::optional<Secret> union_of_settlements(const Settlement& first, const Settlement& second,
                                           const std::string& chosen, bool reapplied)
{
  const auto kept = [&](const std::string& vid) {
    const bool in_first = first.record->find(vid) != nullptr;
    const bool in_second = second.record->find(vid) != nullptr;
    if (in_first && in_second) {
      return first.head->find(vid) != nullptr && second.head->find(vid) != nullptr;
    }
    const Settlement& side = in_first ? first : second;
    return side.own.count(vid) > 0 && side.head->find(vid) != nullptr;
  };
  if (!kept(chosen)) {
    return std::nullopt;
  }
  Secret out = *first.record;
  std::int64_t max_v = 0;
  for (auto it = out.versions.begin(); it != out.versions.end();) {
    const std::string vid = (it++)->first;
    if (!kept(vid)) {
      erase_version(out, vid);
      continue;
    }
    Version& version = out.versions.at(vid);
    if (const Version* other = second.record->find(vid)) {
      move_furthest(version.state, other->state);
    }
    max_v = std::max(max_v, version.v);
  }
  std::vector<std::pair<std::int64_t, std::string>> added;
  for (const auto& [vid, version] : second.record->versions) {
    if (out.find(vid) == nullptr && kept(vid)) {
      added.emplace_back(version.v, vid);
    }
  }
  std::sort(added.begin(), added.end());
  for (const auto& [v, vid] : added) {
    const Version& version = *second.record->find(vid);
    const Generation* g = second.record->generation_of(version);
    if (g == nullptr) {
      return std::nullopt;
    }
    Version copy = version;
    copy.race_gen.reset();
    if (!put_generation(out, copy.gen, *g)) {
      copy.race_gen = *g;
    }
    copy.v = ++max_v;
    out.versions[vid] = std::move(copy);
  }
  drop_unused_generations(out, [](std::int64_t) { return false; });
  for (auto& [vid, version] : out.versions) {
    if (version.state == VersionState::current) {
      version.state = VersionState::previous;
    }
  }
  out.versions.at(chosen).state = VersionState::current;
  out.rotation.reset();
  for (const auto& [reason, since] : second.record->due) {
    add_due_reason(out, reason, since);
  }
  if (reapplied) {
    out.due.erase(std::string(k_due_rollback_incomplete));
    out.due.erase(std::string(k_due_race_resolved));
  }
  return out;
}

} // namespace

std::string_view merge_side_name(MergeSide side)
{
  return side == MergeSide::ours ? "ours" : "theirs";
}

std::optional<std::string> apply_merged(State& state, const Entry& entry)
{
  if (!entry.op) {
    return std::nullopt;
  }
  if (Verdict v = authorize(state, entry)) {
    return v->reason;
  }
  return apply_effects(state, entry);
}

MergeCheck check_merge(const MergeInput& input)
{
  if (input.ours == nullptr || input.theirs == nullptr) {
    fail(ErrorKind::failed, "check_merge: a side's state is missing");
  }
  MergeCheck out;
  std::vector<const Entry*> x = operations_of(input.x);
  std::vector<const Entry*> y = operations_of(input.y);
  const bool choices = (input.voids != nullptr && !input.voids->empty())
                       || (input.exposed != nullptr && !input.exposed->empty())
                       || (input.races != nullptr && !input.races->empty());
  if ((x.empty() || y.empty()) && !choices) {
    // One side made no operation (reads only): its state is the common one, and the other side's
    // operations were each authorised causally on top of it, so the merge is the other side's
    // state. (Folding that side again would not repeat a rotation race settled inside it.)
    out.merged = x.empty() ? *input.theirs : *input.ours;
    return out;
  }
  const std::vector<const Entry*> x_all = x;
  const std::vector<const Entry*> y_all = y;
  const auto is_exposed = [&](const Entry* e) {
    return input.exposed != nullptr && input.exposed->count(e->hash) > 0;
  };
  std::set<Hash> removed_rotators; // exposed operations whose author the other side removes

  // 1. Strong remove.
  std::map<std::string, const Entry*> removed_by_x = removals(x);
  std::map<std::string, const Entry*> removed_by_y = removals(y);
  // Mutual removals: the senior's removal stands; the junior's is void with all their operations.
  const auto mutual = [](const std::string& senior_name, const std::string& junior_name) {
    return fmt::format("{} and {} removed each other on the two sides: the removal by {} (senior) stands, {}'s "
                       "operations are void",
                       senior_name, junior_name, senior_name, junior_name);
  };
  for (auto it = removed_by_y.begin(); it != removed_by_y.end();) {
    const std::string& target = it->first;     // removed by theirs
    const std::string& remover = it->second->actor; // theirs' author
    const auto back = removed_by_x.find(remover);
    if (back != removed_by_x.end() && back->second->actor == target) {
      if (senior(*input.ours, target, remover)) {
        out.warnings.push_back(mutual(target, remover));
        it = removed_by_y.erase(it); // the junior's (theirs') removal is void below
        continue;
      }
      out.warnings.push_back(mutual(remover, target));
      removed_by_x.erase(back);
    }
    ++it;
  }
  const auto strong_remove = [&](const std::vector<const Entry*>& side, MergeSide which,
                                 const std::map<std::string, const Entry*>& removed_by_other) {
    std::vector<const Entry*> kept;
    for (const Entry* e : side) {
      if (removed_by_other.count(e->actor) == 0) {
        kept.push_back(e);
        continue;
      }
      if (rotation_kind(e->op->kind())) {
        kept.push_back(e);
        if (is_exposed(e)) {
          removed_rotators.insert(e->hash); // kept exposed by the resolve: due below
          continue;
        }
        out.conflicts.push_back(Conflict{e->hash, which, removed_by_other.at(e->actor)->hash, {},
                                         fmt::format("{} by {}, whom the other side removes: its value may be in a "
                                                     "connector (keep it exposed or void it)",
                                                     action_name(e->action), e->actor)});
        continue;
      }
      out.voided.push_back(e->hash);
    }
    return kept;
  };
  const std::size_t x_size = x.size();
  const std::size_t y_size = y.size();
  x = strong_remove(x, MergeSide::ours, removed_by_y);
  y = strong_remove(y, MergeSide::theirs, removed_by_x);
  const bool removed = x.size() != x_size || y.size() != y_size;

  // Rotation races the resolve settles: their secrets' rotation operations leave both orders.
  std::vector<Race> races;
  std::set<std::string> race_secrets;
  if (input.races != nullptr) {
    // A secret both sides' settled prefixes settled (two settlements made apart) is chosen among
    // the settlements below, even when one side rotated it again before its settlement.
    std::set<std::string> settled_apart;
    if (input.ours_settled != nullptr && input.theirs_settled != nullptr) {
      const Prefix px = prefix_of(x, input.ours_settled_ops, input.find_entry);
      const Prefix py = prefix_of(y, input.theirs_settled_ops, input.find_entry);
      std::set_intersection(px.secrets.begin(), px.secrets.end(), py.secrets.begin(), py.secrets.end(),
                            std::inserter(settled_apart, settled_apart.end()));
    }
    for (const RaceResolution& r : *input.races) {
      if (settled_apart.count(r.secret) > 0) {
        continue;
      }
      const std::vector<std::string> vx = race_vids(x, r.secret);
      const std::vector<std::string> vy = race_vids(y, r.secret);
      if (vx.empty() && vy.empty()) {
        continue; // not at this level of the merge
      }
      const auto refuse_race = [&](const std::string& why) {
        out.void_refusals.push_back(fmt::format("resolve: the rotation race of {}: {}", r.secret, why));
      };
      const bool shared = std::any_of(vx.begin(), vx.end(), [&](const std::string& vid) {
        return std::find(vy.begin(), vy.end(), vid) != vy.end();
      });
      if (vx.empty() || vy.empty() || shared) {
        refuse_race("not a rotation race (each side must have started its own rotation of it)");
        continue;
      }
      const bool in_x = std::find(vx.begin(), vx.end(), r.current) != vx.end();
      const bool in_y = std::find(vy.begin(), vy.end(), r.current) != vy.end();
      if (!in_x && !in_y) {
        std::string all;
        for (const std::vector<std::string>* side : {&vx, &vy}) {
          for (const std::string& vid : *side) {
            all += fmt::format("{}{}", all.empty() ? "" : ", ", vid);
          }
        }
        refuse_race(fmt::format("{} is not one of its versions ({})", r.current, all));
        continue;
      }
      Race race{&r, in_x ? MergeSide::ours : MergeSide::theirs, r.current, in_x ? vx : vy, in_x ? vy : vx};
      races.push_back(std::move(race));
      race_secrets.insert(r.secret);
    }
  }
  std::deque<Entry> trimmed; // rotation operations without the races' items (stable addresses)
  const auto without_races = [&](const std::vector<const Entry*>& side) {
    std::vector<const Entry*> kept;
    for (const Entry* e : side) {
      keep_without(e, race_secrets, trimmed, kept);
    }
    return kept;
  };
  if (!races.empty()) {
    x = without_races(x);
    y = without_races(y);
  }

  // An exposed rotation refused in an order is applied there anyway (MergeInput::exposed).
  const Applier apply_one = [&](State& state, const Entry& e) -> std::optional<std::string> {
    std::optional<std::string> refusal = apply_merged(state, e);
    if (refusal && is_exposed(&e) && !apply_effects(state, e)) {
      return std::nullopt;
    }
    return refusal;
  };

  const auto is_void = [&](const Entry* e) { return input.voids != nullptr && input.voids->count(e->hash) > 0; };
  const bool resolving = std::any_of(x.begin(), x.end(), is_void) || std::any_of(y.begin(), y.end(), is_void);

  State ours = *input.ours;
  State theirs = *input.theirs;
  if (removed || resolving || !races.empty()) {
    if (!input.base) {
      fail(ErrorKind::failed, "check_merge: strong remove needs the common state");
    }
    const State base = input.base();
    // One side re-folded from the common state without the voided operations (the resolve's
    // authority judged where each stood); returns the side's operations that remain.
    const auto refold = [&](const std::vector<const Entry*>& side, MergeSide which, State& state) {
      std::vector<const Entry*> kept;
      state = base;
      for (const Entry* e : side) {
        if (is_void(e)) {
          out.resolved.push_back(e->hash);
          State probe = state;
          if (!apply_merged(probe, *e)) {
            if (Verdict v = may_void(state, *e, input.resolver, side)) {
              out.void_refusals.push_back(v->reason);
            }
          }
          continue;
        }
        kept.push_back(e);
        if (std::optional<std::string> refusal = apply_one(state, *e)) {
          out.conflicts.push_back(Conflict{e->hash, which, {}, {},
                                           fmt::format("fails without the voided operations: {}", *refusal)});
        }
      }
      return kept;
    };
    x = refold(x, MergeSide::ours, ours);
    y = refold(y, MergeSide::theirs, theirs);
  }

  // 2. Both orders. A side with a settled prefix (MergeInput::ours_settled) has its other order
  // start from that prefix's state.
  const bool refolded = removed || resolving || !races.empty();
  const bool ours_prefix = !refolded && input.ours_settled != nullptr && input.theirs_settled == nullptr;
  const bool theirs_prefix = !refolded && input.theirs_settled != nullptr && input.ours_settled == nullptr;
  const auto rest = [](const std::vector<const Entry*>& side, const std::set<Hash>& settled) {
    std::vector<const Entry*> out_ops;
    std::copy_if(side.begin(), side.end(), std::back_inserter(out_ops),
                 [&](const Entry* e) { return settled.count(e->hash) == 0; });
    return out_ops;
  };
  std::vector<std::pair<const Entry*, std::string>> refused_ours;   // after theirs' operations
  std::vector<std::pair<const Entry*, std::string>> refused_theirs; // after ours' operations
  Folded xy;
  Folded yx;
  // Both sides carry a settling resolve the other lacks (two resolutions made apart): each side's
  // settled prefix is fixed. The prefixes' other operations are checked onto the other side's
  // settled state (both orders); the secrets each settled take that side's record (with the other
  // side's operations on them); a secret both settled the same way takes the earlier
  // resolution's record; one settled differently is a conflict until a resolve entry here
  // chooses (`--current VID`, one of the two settlements' versions, re-applied to the connectors).
  // Then the operations after the prefixes are folded on that combined state in both orders.
  const bool both_prefix = !refolded && input.ours_settled != nullptr && input.theirs_settled != nullptr;
  std::vector<std::pair<const RaceResolution*, MergeSide>> apart_races; // settled here: the chosen settlement's side
  if (both_prefix) {
    const Prefix px = prefix_of(x, input.ours_settled_ops, input.find_entry);
    const Prefix py = prefix_of(y, input.theirs_settled_ops, input.find_entry);
    const auto trim_prefix = [&](const std::vector<const Entry*>& side, const std::set<Hash>& settled,
                                 const Prefix& own) {
      std::vector<const Entry*> kept;
      for (const Entry* e : side) {
        if (settled.count(e->hash) == 0 || std::holds_alternative<ResolveArgs>(e->op->args)) {
          continue;
        }
        if (!rotation_kind(e->op->kind())) {
          kept.push_back(e);
        } else if (std::optional<Entry> left = without_secrets(*e, own.secrets)) {
          trimmed.push_back(std::move(*left));
          kept.push_back(&trimmed.back());
        }
      }
      return kept;
    };
    Folded sxy = fold(*input.ours_settled, trim_prefix(y, input.theirs_settled_ops, py), apply_one);
    Folded syx = fold(*input.theirs_settled, trim_prefix(x, input.ours_settled_ops, px), apply_one);
    refused_theirs = std::move(sxy.refused);
    refused_ours = std::move(syx.refused);
    State combined = sxy.state;
    std::set<std::string> reapplied; // secrets whose later rotation operations (re-applies) leave both orders
    std::map<Hash, std::set<std::string>> repeated; // a second identical re-apply's entries -> its secrets
    std::set<std::string> paths;
    for (const State* st : {&sxy.state, &syx.state}) {
      for (const std::string& p : st->paths()) {
        paths.insert(p);
      }
    }
    for (const std::string& path : paths) {
      const std::string name = path.rfind("s:", 0) == 0 ? path.substr(2) : std::string();
      const bool in_x = !name.empty() && px.secrets.count(name) > 0;
      const bool in_y = !name.empty() && py.secrets.count(name) > 0;
      if (in_x && !in_y) {
        continue; // ours' settled record, with theirs' operations on it (sxy)
      }
      if (in_y && !in_x) {
        copy_record(combined, syx.state, path);
        continue;
      }
      if (!in_x && !in_y) {
        if (sxy.state.record_hash(path) != syx.state.record_hash(path)) {
          out.conflicts.push_back(Conflict{px.last != nullptr ? px.last->hash : Hash{}, MergeSide::ours,
                                           py.last != nullptr ? std::optional<Hash>(py.last->hash) : std::nullopt, path,
                                           fmt::format("{} differs by the order of the two sides' settled operations", path)});
        }
        continue;
      }
      const auto rx = px.races.find(name);
      const auto ry = py.races.find(name);
      const bool same = rx != px.races.end() && ry != py.races.end()
                        && rx->second.first->current == ry->second.first->current
                        && rx->second.first->renumber == ry->second.first->renumber;
      if (same) {
        const bool y_first = earlier(*ry->second.second, *rx->second.second);
        if (y_first) {
          copy_record(combined, syx.state, path);
        }
        // Both clones re-applied the same choice successfully: the same value set and tested on
        // every connector twice. The later settlement's re-apply is the earlier's again, not a
        // second rotation: it leaves both orders (the earlier one's is applied).
        const std::string& vid = rx->second.first->current;
        const std::set<Hash> again_x = reapply_of(x, input.ours_settled_ops, name, vid);
        const std::set<Hash> again_y = reapply_of(y, input.theirs_settled_ops, name, vid);
        if (!again_x.empty() && !again_y.empty()) {
          const std::set<Hash>& later = y_first ? again_x : again_y;
          for (const Hash& h : later) {
            repeated[h].insert(name);
          }
        }
        continue;
      }
      // A settlement that kept a rotation of the secret exposed (on one side or both): each
      // settlement's choice is the version current after it (a race's: its chosen version).
      const std::string ours_choice = choice_of(px, *input.ours_settled, name);
      const std::string theirs_choice = choice_of(py, *input.theirs_settled, name);
      const bool exposure = rx == px.races.end() || ry == py.races.end();
      if (exposure && !ours_choice.empty() && ours_choice == theirs_choice) {
        // The same version current after both: the record that keeps every version the other
        // keeps (both: the earlier resolution's), with both sides' due reasons (an exposure's).
        const Secret* sa = sxy.state.secret(name);
        const Secret* sb = syx.state.secret(name);
        const bool a_all = sa != nullptr && sb != nullptr && keeps_all(*sa, *sb);
        const bool b_all = sa != nullptr && sb != nullptr && keeps_all(*sb, *sa);
        if (a_all || b_all) {
          const bool take_y = b_all && (!a_all || earlier(*py.by.at(name), *px.by.at(name)));
          Secret record = take_y ? *sb : *sa;
          for (const Secret* side : {sa, sb}) {
            for (const auto& [reason, since] : side->due) {
              add_due_reason(record, reason, since);
            }
          }
          combined.secrets[name] = std::make_shared<Secret>(std::move(record));
          continue;
        }
      }
      if (!ours_choice.empty() && ours_choice == theirs_choice) {
        // The same version chosen apart, neither record keeping all the other's versions (each
        // side rotated again before settling), or two races numbered apart: one settlement when
        // each race's re-apply finished (union_of_settlements); the re-applies leave both orders.
        const Secret* sa = sxy.state.secret(name);
        const Secret* sb = syx.state.secret(name);
        const Secret* ha = input.ours->secret(name);
        const Secret* hb = input.theirs->secret(name);
        const bool race_x = rx != px.races.end();
        const bool race_y = ry != py.races.end();
        const std::set<Hash> again_x = race_x ? reapply_of(x, input.ours_settled_ops, name, ours_choice) : std::set<Hash>{};
        const std::set<Hash> again_y = race_y ? reapply_of(y, input.theirs_settled_ops, name, theirs_choice) : std::set<Hash>{};
        if (sa != nullptr && sb != nullptr && ha != nullptr && hb != nullptr && !ha->rotation && !hb->rotation
            && race_x == !again_x.empty() && race_y == !again_y.empty()) {
          const auto own_vids = [&name](const std::vector<const Entry*>& side) {
            const std::vector<std::string> made = race_vids(side, name);
            return std::set<std::string>(made.begin(), made.end());
          };
          const Settlement ours_s{sa, ha, own_vids(x)};
          const Settlement theirs_s{sb, hb, own_vids(y)};
          const bool y_first = earlier(*py.by.at(name), *px.by.at(name));
          std::optional<Secret> record = y_first ? union_of_settlements(theirs_s, ours_s, ours_choice, race_x || race_y)
                                                 : union_of_settlements(ours_s, theirs_s, ours_choice, race_x || race_y);
          if (record) {
            if (exposure) {
              drop_lost_readers(combined, *record);
            }
            combined.secrets[name] = std::make_shared<Secret>(std::move(*record));
            for (const std::set<Hash>* again : {&again_x, &again_y}) {
              for (const Hash& h : *again) {
                repeated[h].insert(name);
              }
            }
            continue;
          }
        }
      }
      const RaceResolution* chosen = nullptr;
      if (input.races != nullptr) {
        for (const RaceResolution& r : *input.races) {
          chosen = r.secret == name ? &r : chosen;
        }
      }
      if (chosen == nullptr) {
        const auto described = [](const Prefix& p, const std::string& vid, const std::string& secret) {
          return p.races.count(secret) > 0 ? vid : fmt::format("{} (kept exposed)", vid.empty() ? "?" : vid);
        };
        SettledApart apart{name, ours_choice, theirs_choice,
                           px.by.count(name) > 0 && py.by.count(name) > 0 && earlier(*py.by.at(name), *px.by.at(name))
                             ? MergeSide::ours
                             : MergeSide::theirs};
        out.conflicts.push_back(Conflict{px.by.count(name) > 0 ? px.by.at(name)->hash
                                         : px.last != nullptr  ? px.last->hash
                                                               : Hash{},
                                         MergeSide::ours,
                                         py.by.count(name) > 0 ? std::optional<Hash>(py.by.at(name)->hash)
                                         : py.last != nullptr  ? std::optional<Hash>(py.last->hash)
                                                               : std::nullopt,
                                         path,
                                         fmt::format("{} was settled differently on the two sides (two resolutions "
                                                     "made apart: ours {}, theirs {})",
                                                     name, described(px, ours_choice, name),
                                                     described(py, theirs_choice, name))});
        if (!ours_choice.empty() && !theirs_choice.empty()) {
          out.settled_apart.push_back(std::move(apart));
        }
        continue;
      }
      // The resolve entry here chose one of the two settlements: its record, with the version it
      // chose previous and the other settlement's current version current until the re-apply.
      const auto refuse_apart = [&](const std::string& why) {
        out.void_refusals.push_back(fmt::format("resolve: the rotation race of {} settled apart: {}", name, why));
      };
      const bool by_x = !ours_choice.empty() && ours_choice == chosen->current;
      const bool by_y = !theirs_choice.empty() && theirs_choice == chosen->current;
      if (!by_x && !by_y) {
        refuse_apart(fmt::format("{} is not the version either settlement chose", chosen->current));
        continue;
      }
      if (!chosen->renumber.empty()) {
        refuse_apart("it renumbers nothing (each settlement numbered the versions already)");
        continue;
      }
      const State& own_final = by_x ? *input.ours : *input.theirs;
      const State& other_final = by_x ? *input.theirs : *input.ours;
      const Secret* a = own_final.secret(name);
      const Secret* b = other_final.secret(name);
      if (a == nullptr || b == nullptr || a->rotation || b->rotation) {
        refuse_apart("a rotation of it is still in flight on a side: it must finish or fail first");
        continue;
      }
      std::string other_current;
      if (b->find_state(VersionState::current, &other_current) == nullptr || other_current == chosen->current) {
        refuse_apart(fmt::format("{} is current on both sides already: nothing to re-apply", chosen->current));
        continue;
      }
      // The chosen settlement's record; when it lacks the other's current version (a rotation
      // kept exposed on one side, raced with a new rotation on the other), the other's record,
      // which keeps both: no version a connector may hold is lost.
      const auto keeps_both = [&](const State& st) {
        const Secret* s_rec = st.secret(name);
        return s_rec != nullptr && s_rec->find(chosen->current) != nullptr && s_rec->find(other_current) != nullptr;
      };
      const State& own_record = by_x ? sxy.state : syx.state;
      const State& other_record = by_x ? syx.state : sxy.state;
      const Secret* settled = keeps_both(own_record)     ? own_record.secret(name)
                              : keeps_both(other_record) ? other_record.secret(name)
                                                         : nullptr;
      if (settled == nullptr) {
        refuse_apart(fmt::format("its settlement no longer keeps {} or {}", chosen->current, other_current));
        continue;
      }
      Secret record = *settled;
      // A version either side's later rotations (the re-applies) dropped by retention is gone,
      // its key lines deleted in the merge; a generation no kept version uses goes with it.
      // (A version one side never had, a rotation the other settlement kept, stays.)
      const auto dropped = [&](const std::string& vid) {
        for (const auto& [then, now] :
             {std::pair{input.ours_settled, input.ours}, std::pair{input.theirs_settled, input.theirs}}) {
          const Secret* before = then->secret(name);
          const Secret* after = now->secret(name);
          if (before != nullptr && before->find(vid) != nullptr && (after == nullptr || after->find(vid) == nullptr)) {
            return true;
          }
        }
        return false;
      };
      for (auto it = record.versions.begin(); it != record.versions.end();) {
        const std::string vid = (it++)->first;
        if (dropped(vid)) {
          erase_version(record, vid);
        }
      }
      drop_unused_generations(record, [&](std::int64_t g) { return a->gens.count(g) > 0 && b->gens.count(g) > 0; });
      if (record.find(chosen->current) == nullptr || record.find(other_current) == nullptr) {
        refuse_apart(fmt::format("a side's retention dropped {} or {}", chosen->current, other_current));
        continue;
      }
      if (exposure) {
        drop_lost_readers(combined, record); // a race's record keeps every version's keys
      }
      for (auto& [vid, version] : record.versions) {
        if (version.state == VersionState::current) {
          version.state = VersionState::previous;
        }
      }
      record.versions.at(chosen->current).state = VersionState::previous;
      record.versions.at(other_current).state = VersionState::current;
      record.rotation.reset();
      for (const Secret* side : {a, b}) {
        for (const auto& [reason, since] : side->due) {
          add_due_reason(record, reason, since);
        }
      }
      add_due_reason(record, std::string(k_due_race_resolved), input.at);
      combined.secrets[name] = std::make_shared<Secret>(std::move(record));
      reapplied.insert(name);
      apart_races.emplace_back(chosen, by_x ? MergeSide::ours : MergeSide::theirs);
    }
    // The operations after the prefixes (a re-apply of a secret settled here leaves both orders).
    const auto after_prefix = [&](const std::vector<const Entry*>& side, const std::set<Hash>& settled) {
      std::vector<const Entry*> kept;
      for (const Entry* e : side) {
        if (settled.count(e->hash) > 0) {
          continue;
        }
        std::set<std::string> drop = reapplied;
        if (const auto again = repeated.find(e->hash); again != repeated.end()) {
          drop.insert(again->second.begin(), again->second.end());
        }
        keep_without(e, drop, trimmed, kept);
      }
      return kept;
    };
    const std::vector<const Entry*> rest_x = after_prefix(x, input.ours_settled_ops);
    const std::vector<const Entry*> rest_y = after_prefix(y, input.theirs_settled_ops);
    Folded first_x = fold(combined, rest_x, apply_one);
    refused_ours.insert(refused_ours.end(), first_x.refused.begin(), first_x.refused.end());
    xy = fold(std::move(first_x.state), rest_y, apply_one);
    Folded first_y = fold(std::move(combined), rest_y, apply_one);
    refused_theirs.insert(refused_theirs.end(), first_y.refused.begin(), first_y.refused.end());
    yx = fold(std::move(first_y.state), rest_x, apply_one);
  } else if (theirs_prefix) {
    Folded first = fold(*input.theirs_settled, x, apply_one);
    refused_ours = std::move(first.refused);
    xy = fold(std::move(first.state), rest(y, input.theirs_settled_ops), apply_one);
  } else {
    xy = fold(std::move(ours), y, apply_one);
  }
  refused_theirs.insert(refused_theirs.end(), xy.refused.begin(), xy.refused.end());
  if (both_prefix) {
    // yx folded above
  } else if (ours_prefix) {
    Folded first = fold(*input.ours_settled, y, apply_one);
    refused_theirs.insert(refused_theirs.end(), first.refused.begin(), first.refused.end());
    yx = fold(std::move(first.state), rest(x, input.ours_settled_ops), apply_one);
  } else {
    yx = fold(std::move(theirs), x, apply_one);
  }
  refused_ours.insert(refused_ours.end(), yx.refused.begin(), yx.refused.end());
  for (const auto& [e, reason] : refused_theirs) {
    out.conflicts.push_back(Conflict{e->hash, MergeSide::theirs, {}, {},
                                     fmt::format("refused after ours' operations: {}", reason)});
  }
  for (const auto& [e, reason] : refused_ours) {
    out.conflicts.push_back(Conflict{e->hash, MergeSide::ours, {}, {},
                                     fmt::format("refused after theirs' operations: {}", reason)});
  }

  // Exposed rotations: the records they write may differ by the order (the access taken away
  // before or after them); the merged state is then the order in which their side comes first.
  std::set<std::string> exposed_paths;
  bool exposed_in_x = false;
  for (const std::vector<const Entry*>* side : {&x_all, &y_all}) {
    for (const Entry* e : *side) {
      if (is_exposed(e)) {
        out.exposed.push_back(e->hash);
        const std::set<std::string> paths = record_paths(*e);
        exposed_paths.insert(paths.begin(), paths.end());
        exposed_in_x = exposed_in_x || side == &x_all;
      }
    }
  }
  bool accept_exposed = false;

  // 3. Equal results, record by record.
  const bool differ = xy.state.digest() != yx.state.digest();
  if (differ && !exposed_paths.empty()) {
    accept_exposed = true;
    for (const State* st : {&xy.state, &yx.state}) {
      for (const std::string& p : st->paths()) {
        accept_exposed = accept_exposed
                         && (xy.state.record_hash(p) == yx.state.record_hash(p) || exposed_paths.count(p) > 0);
      }
    }
  }
  if (differ && !accept_exposed) {
    std::set<std::string> paths;
    for (const std::string& p : xy.state.paths()) {
      paths.insert(p);
    }
    for (const std::string& p : yx.state.paths()) {
      paths.insert(p);
    }
    for (const std::string& path : paths) {
      if (xy.state.record_hash(path) == yx.state.record_hash(path)) {
        continue;
      }
      const auto writer = [&](const std::vector<const Entry*>& side) -> const Entry* {
        const Entry* last = nullptr;
        for (const Entry* e : side) {
          if (record_paths(*e).count(path) > 0) {
            last = e;
          }
        }
        return last;
      };
      const Entry* ox = writer(x);
      const Entry* oy = writer(y);
      Conflict c;
      c.object = path;
      c.reason = fmt::format("{} differs by the order of the two sides", path);
      if (ox != nullptr) {
        c.entry = ox->hash;
        c.side = MergeSide::ours;
        if (oy != nullptr) {
          c.other = oy->hash;
        }
      } else if (oy != nullptr) {
        c.entry = oy->hash;
        c.side = MergeSide::theirs;
      }
      out.conflicts.push_back(std::move(c));
    }
  }
  out.merged = std::move(accept_exposed && !exposed_in_x ? yx.state : xy.state);

  // The exposures, as due reasons of their secrets, and the resolver's authority over them.
  for (const std::vector<const Entry*>* side : {&x_all, &y_all}) {
    const std::vector<const Entry*>& other = side == &x_all ? y_all : x_all;
    for (const Entry* e : *side) {
      if (!is_exposed(e)) {
        continue;
      }
      if (!input.resolver.empty()) {
        if (Verdict v = may_expose(out.merged, *e, input.resolver, other)) {
          out.void_refusals.push_back(v->reason);
        }
      }
      for (const std::string& name : rotation_secrets(*e)) {
        if (out.merged.secret(name) == nullptr) {
          continue;
        }
        Secret& secret = edit(out.merged, name);
        if (removed_rotators.count(e->hash) > 0) {
          add_due_reason(secret, fmt::format("rotated by {} concurrently with their removal", e->actor), input.at);
        }
        const std::set<std::string> readers = standing_readers(out.merged, secret);
        for (const KeyWrite& k : context_of(*e).keys) {
          const bool recipient = k.line.kind == KeyLineKind::reader || k.line.kind == KeyLineKind::share
                                 || k.line.kind == KeyLineKind::grant;
          if (!k.added || k.line.secret != name || !recipient) {
            continue;
          }
          const std::string& m = k.line.member;
          const bool lost = !active(out.merged, m) || (k.line.kind == KeyLineKind::reader && readers.count(m) == 0)
                            || (k.line.kind == KeyLineKind::share && secret.custodians.count(m) == 0)
                            || (k.line.kind == KeyLineKind::grant && !reaches(out.merged, m, secret.env));
          if (lost) {
            add_due_reason(secret, fmt::format("exposed to {} by a concurrent rotation", m), input.at);
          }
        }
      }
    }
  }

  // The rotation races.
  for (const Race& race : races) {
    if (!input.resolver.empty()) {
      if (Verdict v = may_settle_race(out.merged, race.resolution->secret, input.resolver)) {
        out.void_refusals.push_back(v->reason);
        continue;
      }
    }
    if (std::optional<std::string> refusal = settle_race(out.merged, *input.ours, *input.theirs, race, input.at)) {
      out.void_refusals.push_back(fmt::format("resolve: the rotation race of {}: {}", race.resolution->secret, *refusal));
      continue;
    }
    out.races.push_back(race.resolution->secret);
  }
  for (const auto& [resolution, side] : apart_races) {
    if (!input.resolver.empty()) {
      if (Verdict v = may_settle_race(out.merged, resolution->secret, input.resolver)) {
        out.void_refusals.push_back(v->reason);
        continue;
      }
    }
    out.races.push_back(resolution->secret);
  }
  return out;
}

MergeCheck check_merge(const State& base, const std::vector<const Entry*>& ours, const std::vector<const Entry*>& theirs,
                       const std::set<Hash>* voids, std::string_view resolver)
{
  ResolveArgs resolution;
  if (voids != nullptr) {
    resolution.voided = *voids;
  }
  return check_merge(base, ours, theirs, resolution, resolver, 0);
}

MergeCheck check_merge(const State& base, const std::vector<const Entry*>& ours, const std::vector<const Entry*>& theirs,
                       const ResolveArgs& resolution, std::string_view resolver, Timestamp at)
{
  // Each side causally; an operation that fails there is reported once, as causal, and left out.
  std::vector<Conflict> causal;
  const auto side = [&](const std::vector<const Entry*>& entries, MergeSide which, std::vector<const Entry*>& valid) {
    State s = base;
    for (const Entry* e : operations_of(entries)) {
      if (Verdict v = authorize(s, *e)) {
        causal.push_back(Conflict{e->hash, which, {}, {}, fmt::format("causally: {}", v->reason)});
        continue;
      }
      try {
        apply(s, *e, "entry");
        valid.push_back(e);
      } catch (const Error& error) {
        causal.push_back(Conflict{e->hash, which, {}, {}, fmt::format("causally: {}", error.what())});
      }
    }
    return s;
  };
  MergeInput input;
  const State s_x = side(ours, MergeSide::ours, input.x);
  const State s_y = side(theirs, MergeSide::theirs, input.y);
  input.ours = &s_x;
  input.theirs = &s_y;
  input.base = [&base] { return base; };
  input.voids = &resolution.voided;
  input.exposed = &resolution.exposed;
  input.races = &resolution.rotations;
  input.at = at;
  input.resolver = std::string(resolver);
  MergeCheck out = check_merge(input);
  out.conflicts.insert(out.conflicts.begin(), causal.begin(), causal.end());
  return out;
}

std::optional<Hash> find_culprit(const State& base, const std::vector<const Entry*>& own, const Entry& e,
                                 const std::vector<const Entry*>& other)
{
  constexpr std::size_t k_max_search = 256;
  for (std::size_t k = 1; k <= other.size() && k <= k_max_search; ++k) {
    State s = base;
    for (std::size_t i = 0; i < k; ++i) {
      (void)apply_merged(s, *other[i]);
    }
    for (const Entry* op : own) {
      const std::optional<std::string> refused = apply_merged(s, *op);
      if (op->hash == e.hash) {
        if (refused) {
          return other[k - 1]->hash;
        }
        break;
      }
    }
  }
  return std::nullopt;
}

} // namespace escrow::history
