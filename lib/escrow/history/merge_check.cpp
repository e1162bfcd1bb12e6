#include <escrow/history/merge_check.hpp>

#include <escrow/history/apply.hpp>
#include <escrow/history/authorize.hpp>

#include <algorithm>
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

Folded fold(State state, const std::vector<const Entry*>& ops)
{
  Folded out;
  for (const Entry* e : ops) {
    if (std::optional<std::string> refusal = apply_merged(state, *e)) {
      out.refused.emplace_back(e, std::move(*refusal));
    }
  }
  out.state = std::move(state);
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

MergeCheck check_merge(const MergeInput& input)
{
  if (input.ours == nullptr || input.theirs == nullptr) {
    fail(ErrorKind::failed, "check_merge: a side's state is missing");
  }
  MergeCheck out;
  std::vector<const Entry*> x = operations_of(input.x);
  std::vector<const Entry*> y = operations_of(input.y);

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

  const auto is_void = [&](const Entry* e) { return input.voids != nullptr && input.voids->count(e->hash) > 0; };
  const bool resolving = std::any_of(x.begin(), x.end(), is_void) || std::any_of(y.begin(), y.end(), is_void);

  State ours = *input.ours;
  State theirs = *input.theirs;
  if (x.size() != x_size || y.size() != y_size || resolving) {
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
        if (std::optional<std::string> refusal = apply_merged(state, *e)) {
          out.conflicts.push_back(Conflict{e->hash, which, {}, {},
                                           fmt::format("fails without the voided operations: {}", *refusal)});
        }
      }
      return kept;
    };
    x = refold(x, MergeSide::ours, ours);
    y = refold(y, MergeSide::theirs, theirs);
  }

  // 2. Both orders.
  Folded xy = fold(std::move(ours), y);
  Folded yx = fold(std::move(theirs), x);
  for (const auto& [e, reason] : xy.refused) {
    out.conflicts.push_back(Conflict{e->hash, MergeSide::theirs, {}, {},
                                     fmt::format("refused after ours' operations: {}", reason)});
  }
  for (const auto& [e, reason] : yx.refused) {
    out.conflicts.push_back(Conflict{e->hash, MergeSide::ours, {}, {},
                                     fmt::format("refused after theirs' operations: {}", reason)});
  }

  // 3. Equal results, record by record.
  if (xy.state.digest() != yx.state.digest()) {
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
  out.merged = std::move(xy.state);
  return out;
}

MergeCheck check_merge(const State& base, const std::vector<const Entry*>& ours, const std::vector<const Entry*>& theirs,
                       const std::set<Hash>* voids, std::string_view resolver)
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
  input.voids = voids;
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
