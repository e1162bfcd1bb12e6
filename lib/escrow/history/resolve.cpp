// Settling an unresolved merge (resolve.hpp).
#include <escrow/history/resolve.hpp>

#include <escrow/error.hpp>
#include <escrow/history/apply.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/open_merge.hpp>
#include <escrow/history/replay.hpp>
#include <escrow/history/textconv.hpp>
#include <escrow/history/vault_session.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>

namespace escrow::history {

struct MergeAnalysis::Impl
{
  std::vector<std::string> ours_lines;
  std::vector<std::string> theirs_lines;
  std::vector<Entry> ours_entries;
  std::vector<Entry> theirs_entries;
  std::vector<const Entry*> x; // ours' own entries, in ours' order
  std::vector<const Entry*> y; // theirs' own entries, in theirs' order
  State common;                // the fold of the history both sides have
  State merged;                // the merge check's result with the voids
};

namespace {

std::vector<std::string> split_lines(std::string_view text, std::string_view what)
{
  if (text.empty()) {
    fail(ErrorKind::integrity, "{}: empty (not an escrow-journal/2 file)", what);
  }
  if (text.back() != '\n') {
    fail(ErrorKind::integrity, "{}: an unterminated last line (a torn write)", what);
  }
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    out.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::vector<Entry> parse_lines(const std::vector<std::string>& lines, std::string_view what)
{
  std::vector<Entry> out;
  out.reserve(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out.push_back(parse_entry(lines[i], fmt::format("{}: line {}", what, i + 1)));
  }
  return out;
}

bool is_operation(const Entry* e)
{
  return e != nullptr && e->op.has_value();
}

std::vector<const Entry*> operations(const std::vector<const Entry*>& entries)
{
  std::vector<const Entry*> out;
  std::copy_if(entries.begin(), entries.end(), std::back_inserter(out), is_operation);
  return out;
}

std::set<std::string> record_paths(const Entry& e)
{
  std::set<std::string> out;
  if (e.op) {
    for (const Write& w : e.op->writes) {
      const std::optional<ParsedPath> p = parse_path(w.path);
      if (p && p->kind != PathKind::key) {
        out.insert(w.path);
      }
    }
  }
  return out;
}

bool has_kind(const std::vector<ConflictOp>& ops, const std::map<Hash, const Entry*>& by_hash, OpKind kind)
{
  return std::any_of(ops.begin(), ops.end(), [&](const ConflictOp& op) {
    const Entry* e = by_hash.at(op.hash);
    return e->op && e->op->kind() == kind;
  });
}

// The versions the rotate-starts of `secret` on one side created, in its order, with their start's time.
std::vector<std::pair<const RotateItem*, Timestamp>> rotations_of(const std::vector<const Entry*>& side,
                                                                  std::string_view secret)
{
  std::vector<std::pair<const RotateItem*, Timestamp>> out;
  for (const Entry* e : side) {
    if (const auto* start = e->op ? std::get_if<RotateStartArgs>(&e->op->args) : nullptr) {
      for (const RotateItem& item : start->items) {
        if (item.kind == RotationKind::rotate && item.secret == secret) {
          out.emplace_back(&item, e->ts);
        }
      }
    }
  }
  return out;
}

// The time of the side's last successful rotate-finish of `vid`, or 0.
Timestamp finished_at(const std::vector<const Entry*>& side, std::string_view secret, std::string_view vid)
{
  Timestamp at = 0;
  for (const Entry* e : side) {
    if (const auto* finish = e->op ? std::get_if<RotateFinishArgs>(&e->op->args) : nullptr) {
      for (const FinishItem& item : finish->items) {
        if (item.secret == secret && item.vid == vid) {
          at = std::max(at, e->ts);
        }
      }
    }
  }
  return at;
}

bool is_rotation(OpKind k)
{
  return k == OpKind::rotate_start || k == OpKind::confirm || k == OpKind::rotate_finish || k == OpKind::rotate_fail;
}

// Whether the side recorded the end of its rotation of `secret` to `vid` (finish, or a fail that
// ends it: rolled-back, cancelled).
bool ended_on(const std::vector<const Entry*>& side, std::string_view secret, std::string_view vid)
{
  for (const Entry* e : side) {
    if (!e->op) {
      continue;
    }
    if (const auto* finish = std::get_if<RotateFinishArgs>(&e->op->args)) {
      for (const FinishItem& item : finish->items) {
        if (item.secret == secret && item.vid == vid) {
          return true;
        }
      }
    }
    if (const auto* failed = std::get_if<RotateFailArgs>(&e->op->args)) {
      for (const FailItem& item : failed->items) {
        if (item.secret == secret && item.vid == vid
            && (item.result == FailResult::rolled_back || item.result == FailResult::cancelled)) {
          return true;
        }
      }
    }
  }
  return false;
}

bool cancelled_on(const std::vector<const Entry*>& side, const RotateItem& item)
{
  return std::any_of(side.begin(), side.end(), [&](const Entry* e) {
    const auto* fail_args = e->op ? std::get_if<RotateFailArgs>(&e->op->args) : nullptr;
    return fail_args != nullptr && std::any_of(fail_args->items.begin(), fail_args->items.end(), [&](const FailItem& f) {
             return f.secret == item.secret && f.vid == item.vid && f.result == FailResult::cancelled;
           });
  });
}

// The suggestion's reason that marks a secret settled differently on the two sides (two
// resolutions made apart: a race settled with different versions, or a rotation kept exposed on
// one side and settled otherwise on the other): its `race` holds the version each settlement left
// current (MergeCheck::settled_apart).
constexpr std::string_view k_settled_apart =
  "settled differently on the two sides (two resolutions made apart): the settlement made last";

// A conflict of two settlements made apart: a rotation race whose versions are the two
// settlements' choices, the one made last suggested.
void suggest_apart(MergeConflict& c, const SettledApart& apart)
{
  c.suggestion = SuggestionKind::rotation_race;
  c.secret = apart.secret;
  c.race = {RaceVersion{apart.ours, 0, MergeSide::ours, true}, RaceVersion{apart.theirs, 0, MergeSide::theirs, true}};
  c.current = apart.last == MergeSide::ours ? apart.ours : apart.theirs;
  c.why = std::string(k_settled_apart);
}

// The suggestion of vault-2-merge.md §3's table for one conflict.
void suggest(MergeConflict& c, const MergeAnalysis::Impl& impl, const std::map<Hash, const Entry*>& by_hash)
{
  // A rotation race: both sides started a rotation of one secret (each side one or more).
  std::vector<ConflictOp> both = c.ours;
  both.insert(both.end(), c.theirs.begin(), c.theirs.end());
  for (const ConflictOp& op : both) {
    const Entry* e = by_hash.at(op.hash);
    const auto* start = e->op ? std::get_if<RotateStartArgs>(&e->op->args) : nullptr;
    if (start == nullptr) {
      continue;
    }
    for (const RotateItem& item : start->items) {
      if (item.kind != RotationKind::rotate || rotations_of(impl.x, item.secret).empty()
          || rotations_of(impl.y, item.secret).empty()) {
        continue;
      }
      c.suggestion = SuggestionKind::rotation_race;
      c.secret = item.secret;
      c.race.clear();
      // The suggestion: the version whose rotation finished most recently; with no finish on
      // either side, the one created last (ties: theirs, published already).
      Timestamp best_finish = 0;
      Timestamp best_start = 0;
      std::string by_finish;
      std::string by_start;
      for (const auto& [side, which] : {std::pair{&impl.x, MergeSide::ours}, std::pair{&impl.y, MergeSide::theirs}}) {
        for (const auto& [made, at] : rotations_of(*side, item.secret)) {
          c.race.push_back(RaceVersion{made->vid, made->v, which, ended_on(*side, item.secret, made->vid)});
          const Timestamp finish = finished_at(*side, item.secret, made->vid);
          if (finish > 0 && finish >= best_finish) {
            best_finish = finish;
            by_finish = made->vid;
          }
          if (at >= best_start) {
            best_start = at;
            by_start = made->vid;
          }
        }
      }
      if (!by_finish.empty()) {
        c.current = by_finish;
        c.why = "the version whose rotation finished most recently";
      } else {
        c.current = by_start;
        c.why = "no rotation finished on either side: the version created last";
      }
      return;
    }
  }
  // A rotation by a member the other side removes: keep it exposed (its value may be in a connector).
  const auto removed_rotator = [&](const std::vector<ConflictOp>& own, const std::vector<ConflictOp>& other) {
    for (const ConflictOp& op : own) {
      const Entry* e = by_hash.at(op.hash);
      const OpKind k = e->op->kind();
      if (k != OpKind::rotate_start && k != OpKind::confirm && k != OpKind::rotate_finish && k != OpKind::rotate_fail) {
        continue;
      }
      for (const ConflictOp& o : other) {
        const Entry* r = by_hash.at(o.hash);
        const auto* remove = std::get_if<MemberRemoveArgs>(&r->op->args);
        if (remove != nullptr && remove->name == e->actor) {
          return true;
        }
      }
    }
    return false;
  };
  if (removed_rotator(c.ours, c.theirs) || removed_rotator(c.theirs, c.ours)) {
    c.suggestion = SuggestionKind::keep_exposed;
    c.why = "a rotation by a member removed concurrently: its value may be in a connector, keep it exposed";
    return;
  }
  // A rotation on one side that sealed to someone who lost access on the other (§3 table).
  const auto rotation = [&](const std::vector<ConflictOp>& ops) {
    return std::any_of(ops.begin(), ops.end(), [&](const ConflictOp& op) {
      return is_rotation(by_hash.at(op.hash)->op->kind());
    });
  };
  const auto loses_access = [&](const std::vector<ConflictOp>& ops) {
    return std::any_of(ops.begin(), ops.end(), [&](const ConflictOp& op) {
      const OpKind k = by_hash.at(op.hash)->op->kind();
      return k == OpKind::member_remove || k == OpKind::member_set || k == OpKind::unshare || k == OpKind::secret_set
             || k == OpKind::custodians_set;
    });
  };
  if ((rotation(c.ours) && loses_access(c.theirs)) || (rotation(c.theirs) && loses_access(c.ours))) {
    c.suggestion = SuggestionKind::keep_exposed;
    c.why = "a rotation sealed to someone who lost access concurrently: its value may be in a connector, keep it "
            "exposed (the secret becomes due)";
    return;
  }
  c.suggestion = SuggestionKind::keep;
  const auto side_with = [&](OpKind kind) -> std::optional<MergeSide> {
    const bool a = has_kind(c.ours, by_hash, kind);
    const bool b = has_kind(c.theirs, by_hash, kind);
    if (a == b) {
      return std::nullopt;
    }
    return a ? MergeSide::ours : MergeSide::theirs;
  };
  if (const auto side = side_with(OpKind::member_remove)) {
    c.keep = *side;
    c.why = "keep the removal, void what the other side gave the removed member";
  } else if (const auto denied = side_with(OpKind::deny); denied && side_with(OpKind::approve)) {
    c.keep = *denied;
    c.why = "keep the denial, void the approval";
  } else if (const auto compromised = side_with(OpKind::compromise)) {
    c.keep = *compromised;
    c.why = "keep the compromise, void the request or approval";
  } else {
    c.keep = MergeSide::theirs;
    c.why = "theirs is published already: keep it, redo ours on top if it is still wanted";
  }
}

} // namespace

MergeAnalysis analyse_merge(std::string_view ours, std::string_view theirs, const std::set<Hash>& voids,
                            std::string_view resolver, std::string_view name)
{
  ResolveArgs choices;
  choices.voided = voids;
  return analyse_choices(ours, theirs, choices, resolver, name);
}

ResolveArgs choices_of(const MergeAnalysis& analysis)
{
  return ResolveArgs{analysis.voids, analysis.exposed, analysis.rotations};
}

MergeAnalysis analyse_choices(std::string_view ours, std::string_view theirs, const ResolveArgs& choices,
                              std::string_view resolver, std::string_view name)
{
  const std::set<Hash>& voids = choices.voided;
  auto impl = std::make_shared<MergeAnalysis::Impl>();
  const std::string ours_what = fmt::format("{} (ours)", name);
  const std::string theirs_what = fmt::format("{} (theirs)", name);
  impl->ours_lines = split_lines(ours, ours_what);
  impl->theirs_lines = split_lines(theirs, theirs_what);
  impl->ours_entries = parse_lines(impl->ours_lines, ours_what);
  impl->theirs_entries = parse_lines(impl->theirs_lines, theirs_what);

  std::set<Hash> in_ours;
  std::set<Hash> in_theirs;
  for (const Entry& e : impl->ours_entries) {
    in_ours.insert(e.hash);
  }
  for (const Entry& e : impl->theirs_entries) {
    in_theirs.insert(e.hash);
  }
  // Each side's summary, one line per entry (versions followed through the side's own file).
  const auto summaries = [](std::string_view text) {
    std::vector<std::string> lines;
    const std::string all = summarize_journal_v2(text);
    std::size_t pos = 0;
    while (pos < all.size()) {
      std::size_t end = all.find('\n', pos);
      if (end == std::string::npos) {
        end = all.size();
      }
      lines.push_back(all.substr(pos, end - pos));
      pos = end + 1;
    }
    return lines;
  };
  const std::vector<std::string> ours_summary = summaries(ours);
  const std::vector<std::string> theirs_summary = summaries(theirs);
  const auto summary_at = [](const std::vector<std::string>& lines, std::size_t i) {
    return i < lines.size() ? lines[i] : std::string("(no summary)");
  };
  MergeAnalysis out;
  out.union_text = std::string(ours);
  std::string common_text;
  std::map<Hash, ConflictOp> listed;
  std::map<Hash, const Entry*> by_hash;
  for (std::size_t i = 0; i < impl->ours_entries.size(); ++i) {
    const Entry& e = impl->ours_entries[i];
    if (in_theirs.count(e.hash) > 0) {
      common_text += impl->ours_lines[i];
      common_text += '\n';
    } else {
      impl->x.push_back(&e);
      listed.emplace(e.hash, ConflictOp{e.hash, MergeSide::ours, i + 1, e.actor, e.ts, action_name(e.action),
                                        summary_at(ours_summary, i)});
      by_hash.emplace(e.hash, &e);
    }
  }
  for (std::size_t i = 0; i < impl->theirs_entries.size(); ++i) {
    const Entry& e = impl->theirs_entries[i];
    if (in_ours.count(e.hash) == 0) {
      impl->y.push_back(&e);
      out.union_text += impl->theirs_lines[i];
      out.union_text += '\n';
      listed.emplace(e.hash, ConflictOp{e.hash, MergeSide::theirs, i + 1, e.actor, e.ts, action_name(e.action),
                                        summary_at(theirs_summary, i)});
      by_hash.emplace(e.hash, &e);
    }
  }
  if (impl->y.empty() || impl->x.empty()) {
    fail(ErrorKind::usage, "{}: one side holds every entry of the other: no merge to resolve", name);
  }
  for (const std::set<Hash>* chosen : {&voids, &choices.exposed}) {
    for (const Hash& h : *chosen) {
      if (listed.count(h) == 0) {
        fail(ErrorKind::usage, "{}: entry {} is not an operation of this merge", name, short_hash(h));
      }
    }
  }

  // Both sides checked as every replay checks them (signatures, causal authority): a forgery is
  // not a conflict to settle.
  // The union replayed with the choices at its unsealed merge (ReplayOptions::open_choices): the
  // merge check exactly as every clone will run it once the resolve entry is there (each side as
  // the replay sees it: a side carrying a settled race is its fixed prefix).
  OpenChoices open{choices, std::string(resolver), 0};
  for (const std::vector<Entry>* side : {&impl->ours_entries, &impl->theirs_entries}) {
    for (const Entry& e : *side) {
      open.at = std::max(open.at, e.ts);
    }
  }
  OpenMergeReplay replayed = replay_open_merge(out.union_text, open);
  ReplayResult& whole = replayed.result;
  if (whole.has_errors()) {
    FileNames names;
    names.journal = fmt::format("{} (ours, then theirs' new entries)", name);
    whole.require_ok(names);
  }
  out.heads = whole.heads;
  out.ts = whole.ts;
  out.entries = whole.entries;
  if (common_text.empty()) {
    fail(ErrorKind::integrity, "{}: the two sides share no entry (another vault's journal?)", name);
  }
  ReplayResult common = replay(common_text);
  // The common history may itself end in an unsealed merge with a conflict: the rotation race
  // both sides settled apart, each with its own resolve entry (merge_check.cpp, both sides
  // settled). Only an error in it is fatal here.
  if (common.has_errors() || common.needs_full_replay) {
    FileNames names;
    names.journal = fmt::format("{} (the history both sides have)", name);
    common.require_ok(names);
  }
  impl->common = std::move(common.state);

  MergeCheck check = replayed.check ? std::move(*replayed.check)
                                      : check_merge(impl->common, impl->x, impl->y, choices, resolver, out.ts);
  out.voids = voids;
  out.exposed = choices.exposed;
  out.rotations = choices.rotations;
  out.refusals = std::move(check.void_refusals);
  for (const Hash& h : check.voided) {
    out.warnings.push_back(fmt::format("entry {} ({}) is void: its author is removed on the other side",
                                       short_hash(h), listed.count(h) > 0 ? listed.at(h).summary : "?"));
  }
  out.warnings.insert(out.warnings.end(), check.warnings.begin(), check.warnings.end());

  // Group the check's conflicts: operations named together (a pair, or a refusal and the other
  // side's operation it fails after) are one conflict.
  std::vector<const Entry*> x_ops;
  std::vector<const Entry*> y_ops;
  for (const Entry* e : operations(impl->x)) {
    if (voids.count(e->hash) == 0) {
      x_ops.push_back(e);
    }
  }
  for (const Entry* e : operations(impl->y)) {
    if (voids.count(e->hash) == 0) {
      y_ops.push_back(e);
    }
  }
  struct Group
  {
    std::set<Hash> entries;
    std::set<std::string> objects;
    std::vector<std::string> reasons;
  };
  std::vector<Group> groups;
  for (const Conflict& c : check.conflicts) {
    Group g;
    if (listed.count(c.entry) > 0) {
      g.entries.insert(c.entry);
    }
    if (c.other && listed.count(*c.other) > 0) {
      g.entries.insert(*c.other);
    }
    if (!c.other && listed.count(c.entry) > 0) {
      const bool ours_side = listed.at(c.entry).side == MergeSide::ours;
      if (const std::optional<Hash> culprit =
            find_culprit(impl->common, ours_side ? x_ops : y_ops, *by_hash.at(c.entry), ours_side ? y_ops : x_ops)) {
        g.entries.insert(*culprit);
      }
    }
    if (!c.object.empty()) {
      g.objects.insert(c.object);
    }
    g.reasons.push_back(fmt::format("{}: {}", merge_side_name(c.side), c.reason));
    for (auto it = groups.begin(); it != groups.end();) {
      const bool shares = std::any_of(it->entries.begin(), it->entries.end(),
                                      [&](const Hash& h) { return g.entries.count(h) > 0; });
      if (shares) {
        g.entries.insert(it->entries.begin(), it->entries.end());
        g.objects.insert(it->objects.begin(), it->objects.end());
        g.reasons.insert(g.reasons.begin(), it->reasons.begin(), it->reasons.end());
        it = groups.erase(it);
      } else {
        ++it;
      }
    }
    groups.push_back(std::move(g));
  }
  for (Group& g : groups) {
    MergeConflict c;
    for (const Hash& h : g.entries) {
      const ConflictOp& op = listed.at(h);
      (op.side == MergeSide::ours ? c.ours : c.theirs).push_back(op);
      for (const std::string& path : record_paths(*by_hash.at(h))) {
        g.objects.insert(path);
      }
    }
    const auto by_line = [](const ConflictOp& a, const ConflictOp& b) { return a.line < b.line; };
    std::sort(c.ours.begin(), c.ours.end(), by_line);
    std::sort(c.theirs.begin(), c.theirs.end(), by_line);
    c.objects.assign(g.objects.begin(), g.objects.end());
    for (std::string& r : g.reasons) {
      if (std::find(c.reasons.begin(), c.reasons.end(), r) == c.reasons.end()) {
        c.reasons.push_back(std::move(r));
      }
    }
    suggest(c, *impl, by_hash);
    for (const SettledApart& apart : check.settled_apart) {
      if (std::find(c.objects.begin(), c.objects.end(), secret_record_path(apart.secret)) != c.objects.end()) {
        suggest_apart(c, apart);
      }
    }
    out.conflicts.push_back(std::move(c));
  }
  // One conflict per rotation race: the refusals and record differences of one secret's rotations
  // on both sides (several when a side rotated it more than once) are listed together.
  for (std::size_t i = 0; i < out.conflicts.size(); ++i) {
    MergeConflict& first = out.conflicts[i];
    if (first.suggestion != SuggestionKind::rotation_race) {
      continue;
    }
    for (std::size_t k = i + 1; k < out.conflicts.size();) {
      MergeConflict& later = out.conflicts[k];
      if (later.suggestion != SuggestionKind::rotation_race || later.secret != first.secret) {
        ++k;
        continue;
      }
      for (const auto& [into, from] : {std::pair{&first.ours, &later.ours}, std::pair{&first.theirs, &later.theirs}}) {
        for (const ConflictOp& op : *from) {
          if (std::none_of(into->begin(), into->end(), [&](const ConflictOp& o) { return o.hash == op.hash; })) {
            into->push_back(op);
          }
        }
        std::sort(into->begin(), into->end(), [](const ConflictOp& a, const ConflictOp& b) { return a.line < b.line; });
      }
      for (const std::string& object : later.objects) {
        if (std::find(first.objects.begin(), first.objects.end(), object) == first.objects.end()) {
          first.objects.push_back(object);
        }
      }
      for (const std::string& reason : later.reasons) {
        if (std::find(first.reasons.begin(), first.reasons.end(), reason) == first.reasons.end()) {
          first.reasons.push_back(reason);
        }
      }
      out.conflicts.erase(out.conflicts.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  // In the order of their first operation in the union.
  std::sort(out.conflicts.begin(), out.conflicts.end(), [](const MergeConflict& a, const MergeConflict& b) {
    const auto first = [](const MergeConflict& c) {
      return std::make_pair(c.ours.empty() ? 1 : 0, c.ours.empty() ? (c.theirs.empty() ? 0 : c.theirs.front().line)
                                                                   : c.ours.front().line);
    };
    return first(a) < first(b);
  });
  impl->merged = std::move(check.merged);
  // A race settled apart: its versions' numbers as the merged state (ours' settlement) has them.
  for (MergeConflict& c : out.conflicts) {
    const Secret* secret = c.why == k_settled_apart ? impl->merged.secret(c.secret) : nullptr;
    for (RaceVersion& r : c.race) {
      if (const Version* v = secret != nullptr ? secret->find(r.vid) : nullptr) {
        r.v = v->v;
        continue;
      }
      // A version ours' settlement lacks (theirs rotated again before settling): its rotation's number.
      for (const std::vector<const Entry*>* side : {&impl->x, &impl->y}) {
        for (const Entry* e : *side) {
          const auto* start = e->op ? std::get_if<RotateStartArgs>(&e->op->args) : nullptr;
          if (start == nullptr) {
            continue;
          }
          for (const RotateItem& item : start->items) {
            if (item.kind == RotationKind::rotate && item.vid == r.vid) {
              r.v = item.v;
            }
          }
        }
      }
    }
  }
  out.impl = std::move(impl);
  return out;
}

std::set<Hash> keep_side(const MergeAnalysis& analysis, std::size_t index, MergeSide keep)
{
  if (index >= analysis.conflicts.size()) {
    if (analysis.conflicts.empty()) {
      fail(ErrorKind::usage, "conflict {}: no conflict is left to settle", index + 1);
    }
    fail(ErrorKind::usage, "conflict {}: no such conflict (1 to {})", index + 1, analysis.conflicts.size());
  }
  const MergeConflict& c = analysis.conflicts[index];
  const MergeAnalysis::Impl& impl = *analysis.impl;
  if (c.suggestion == SuggestionKind::keep_exposed) {
    throw Error(ErrorKind::failed,
                fmt::format("conflict {}: a rotation whose value may be in a connector cannot be voided; it is kept "
                            "exposed and the secret made due",
                            index + 1))
      .hint(fmt::format("escrow resolve {} --keep-exposed", index + 1));
  }
  if (c.suggestion == SuggestionKind::rotation_race && c.why == k_settled_apart) {
    throw Error(ErrorKind::failed,
                fmt::format("conflict {}: the rotation race of {} was settled differently on the two sides; neither "
                            "settlement is voided (a connector may hold either value): choose the version to re-apply",
                            index + 1, c.secret))
      .hint(fmt::format("escrow resolve {} --current {} ({})", c.secret, c.current, c.why));
  }
  const std::vector<ConflictOp>& dropped = keep == MergeSide::ours ? c.theirs : c.ours;
  if (dropped.empty()) {
    fail(ErrorKind::usage, "conflict {}: {} has no operation in it to void; keep {}", index + 1,
         merge_side_name(keep == MergeSide::ours ? MergeSide::theirs : MergeSide::ours),
         merge_side_name(keep == MergeSide::ours ? MergeSide::theirs : MergeSide::ours));
  }
  std::set<Hash> voids = analysis.voids;
  const std::vector<const Entry*>& side = keep == MergeSide::ours ? impl.y : impl.x;
  for (const ConflictOp& op : dropped) {
    voids.insert(op.hash);
    // Rule 1 of a rotation race: a published pending value is never voided.
    for (const Entry* e : side) {
      if (e->hash != op.hash) {
        continue;
      }
      if (const auto* start = e->op ? std::get_if<RotateStartArgs>(&e->op->args) : nullptr) {
        for (const RotateItem& item : start->items) {
          if (item.kind == RotationKind::rotate && !cancelled_on(side, item)) {
            throw Error(ErrorKind::failed,
                        fmt::format("conflict {}: keeping {} would void {}'s rotation of {} (v{}, {}), whose value may "
                                    "have reached a connector: both versions are kept and one is made current",
                                    index + 1, merge_side_name(keep), e->actor, item.secret, item.v, item.vid))
              .hint(c.suggestion == SuggestionKind::rotation_race && !c.current.empty()
                      ? fmt::format("escrow resolve {} --current {} ({})", item.secret, c.current, c.why)
                      : fmt::format("escrow resolve {} --current VID", item.secret));
          }
        }
      }
    }
  }
  // The closure: each side's operations that pass only with a voided one.
  for (const std::vector<const Entry*>* s : {&impl.x, &impl.y}) {
    State state = impl.common;
    for (const Entry* e : operations(*s)) {
      if (voids.count(e->hash) > 0) {
        continue;
      }
      if (apply_merged(state, *e)) {
        voids.insert(e->hash);
      }
    }
  }
  return voids;
}

ResolveArgs keep_exposed(const MergeAnalysis& analysis, std::size_t index)
{
  if (index >= analysis.conflicts.size()) {
    if (analysis.conflicts.empty()) {
      fail(ErrorKind::usage, "conflict {}: no conflict is left to settle", index + 1);
    }
    fail(ErrorKind::usage, "conflict {}: no such conflict (1 to {})", index + 1, analysis.conflicts.size());
  }
  const MergeConflict& c = analysis.conflicts[index];
  if (c.suggestion != SuggestionKind::keep_exposed) {
    throw Error(ErrorKind::failed,
                fmt::format("escrow.journal: conflict {}: not a rotation that sealed to someone who lost access concurrently: "
                            "nothing to keep exposed",
                            index + 1))
      .hint(c.suggestion == SuggestionKind::rotation_race
              ? fmt::format("a rotation race: escrow resolve {} --current {}", c.secret, c.current)
              : fmt::format("escrow resolve {} --keep {}", index + 1, merge_side_name(c.keep)));
  }
  const MergeAnalysis::Impl& impl = *analysis.impl;
  ResolveArgs out = choices_of(analysis);
  // The conflict's rotation operations, and the later rotation operations of their side on the
  // same secrets (the finish or fail of an exposed start).
  for (const auto& [ops, side] : {std::pair{&c.ours, &impl.x}, std::pair{&c.theirs, &impl.y}}) {
    std::set<std::string> secrets;
    std::size_t first = SIZE_MAX;
    for (const ConflictOp& op : *ops) {
      for (std::size_t i = 0; i < side->size(); ++i) {
        const Entry* e = (*side)[i];
        if (e->hash == op.hash && e->op && is_rotation(e->op->kind())) {
          first = std::min(first, i);
          for (const std::string& path : record_paths(*e)) {
            const std::optional<ParsedPath> p = parse_path(path);
            if (p && p->kind == PathKind::secret) {
              secrets.insert(p->name);
            }
          }
        }
      }
    }
    for (std::size_t i = first; i < side->size(); ++i) {
      const Entry* e = (*side)[i];
      if (!e->op || !is_rotation(e->op->kind()) || out.voided.count(e->hash) > 0) {
        continue;
      }
      const std::set<std::string> paths = record_paths(*e);
      const bool same = std::any_of(secrets.begin(), secrets.end(),
                                    [&](const std::string& n) { return paths.count(secret_record_path(n)) > 0; });
      if (same) {
        out.exposed.insert(e->hash);
      }
    }
  }
  if (out.exposed.size() == analysis.exposed.size()) {
    fail(ErrorKind::failed, "escrow.journal: conflict {}: it names no rotation operation to keep exposed", index + 1);
  }
  return out;
}

ResolveArgs choose_current(const MergeAnalysis& analysis, std::string_view secret, std::string_view vid)
{
  const MergeConflict* race = nullptr;
  for (const MergeConflict& c : analysis.conflicts) {
    if (c.suggestion == SuggestionKind::rotation_race && c.secret == secret) {
      race = &c;
    }
  }
  if (race == nullptr && analysis.impl->merged.secret(std::string(secret)) == nullptr) {
    throw Error(ErrorKind::usage, fmt::format("escrow.journal: {}: no such secret in the merged vault", secret))
      .hint("escrow resolve lists the conflicts (a rotation race is suggested as ENV/NAME --current VID)");
  }
  if (race == nullptr) {
    throw Error(ErrorKind::usage, fmt::format("escrow.journal: {}: no rotation race of it in this merge", secret))
      .hint("escrow resolve lists the conflicts (a rotation race is suggested as ENV/NAME --current VID)");
  }
  const auto chosen = std::find_if(race->race.begin(), race->race.end(),
                                   [&](const RaceVersion& r) { return r.vid == vid; });
  std::string listed;
  for (const RaceVersion& r : race->race) {
    listed += fmt::format("{}{} (v{}, {})", listed.empty() ? "" : ", ", r.vid, r.v, merge_side_name(r.side));
  }
  if (chosen == race->race.end()) {
    throw Error(ErrorKind::usage, fmt::format("escrow.journal: {}: {} is not one of the versions of its rotation race: {}",
                                              secret, vid, listed))
      .hint(fmt::format("escrow resolve {} --current {}", secret, race->current));
  }
  for (const RaceVersion& r : race->race) {
    if (!r.ended) {
      throw Error(ErrorKind::failed, fmt::format("escrow.journal: {}: the rotation to v{} ({}) on {} has not finished or failed: a "
                                                 "connector may be taking its value right now",
                                                 secret, r.v, r.vid, merge_side_name(r.side)))
        .hint("let it end on that clone (escrow rotate --resume there), then merge again");
    }
  }
  if (race->why == k_settled_apart) {
    // Two settlements made apart: the chosen one's record stands, the version it chose re-applied
    // (merge_check.cpp, both sides settled); nothing is renumbered.
    ResolveArgs out = choices_of(analysis);
    out.rotations.erase(std::remove_if(out.rotations.begin(), out.rotations.end(),
                                       [&](const RaceResolution& r) { return r.secret == secret; }),
                        out.rotations.end());
    out.rotations.push_back(RaceResolution{std::string(secret), std::string(vid), {}});
    std::sort(out.rotations.begin(), out.rotations.end(),
              [](const RaceResolution& a, const RaceResolution& b) { return a.secret < b.secret; });
    return out;
  }
  // Each side's own state of the secret (its operations folded on the common state): which of
  // its versions its retention kept. The chosen side keeps its numbers; the other side's kept
  // versions are renumbered 1 + max v onwards, in their order (merge_check.cpp settle_race).
  const MergeAnalysis::Impl& impl = *analysis.impl;
  const auto side_state = [&](MergeSide which) {
    State s = impl.common;
    for (const Entry* e : operations(which == MergeSide::ours ? impl.x : impl.y)) {
      (void)apply_merged(s, *e);
    }
    return s;
  };
  const State chosen_state = side_state(chosen->side);
  const State other_state = side_state(chosen->side == MergeSide::ours ? MergeSide::theirs : MergeSide::ours);
  const Secret* mine = chosen_state.secret(std::string(secret));
  const Secret* theirs_secret = other_state.secret(std::string(secret));
  if (mine == nullptr || mine->find(vid) == nullptr) {
    throw Error(ErrorKind::usage, fmt::format("escrow.journal: {}: {} was dropped by its side's retention: its value is "
                                              "no longer kept; choose one of: {}",
                                              secret, vid, listed))
      .hint(fmt::format("escrow resolve {} --current {}", secret, race->current));
  }
  std::int64_t max_v = mine->max_v();
  if (const Secret* common = impl.common.secret(std::string(secret))) {
    max_v = std::max(max_v, common->max_v());
  }
  std::map<std::string, std::int64_t> renumber;
  for (const RaceVersion& r : race->race) {
    if (r.side != chosen->side && theirs_secret != nullptr && theirs_secret->find(r.vid) != nullptr) {
      renumber.emplace(r.vid, max_v + 1 + static_cast<std::int64_t>(renumber.size()));
    }
  }
  ResolveArgs out = choices_of(analysis);
  RaceResolution resolution{std::string(secret), std::string(vid), std::move(renumber)};
  out.rotations.erase(std::remove_if(out.rotations.begin(), out.rotations.end(),
                                     [&](const RaceResolution& r) { return r.secret == secret; }),
                      out.rotations.end());
  out.rotations.push_back(std::move(resolution));
  std::sort(out.rotations.begin(), out.rotations.end(),
            [](const RaceResolution& a, const RaceResolution& b) { return a.secret < b.secret; });
  return out;
}

SealedResolution seal_resolution(const MergeAnalysis& analysis, const KeysFile& keys, const Identity& author,
                                 Timestamp now, std::string_view host)
{
  const MergeAnalysis::Impl& impl = *analysis.impl;
  if (!analysis.conflicts.empty()) {
    fail(ErrorKind::failed, "escrow.journal: {} conflict{} left to settle", analysis.conflicts.size(),
         analysis.conflicts.size() == 1 ? "" : "s");
  }
  if (analysis.voids.empty() && analysis.exposed.empty() && analysis.rotations.empty()) {
    fail(ErrorKind::failed, "escrow.journal: the merge has no conflict: nothing to resolve (escrow sync seals it)");
  }
  if (!analysis.refusals.empty()) {
    fail(ErrorKind::access, "escrow.journal: {}", analysis.refusals.front());
  }
  const Member* me = impl.merged.member(author.pub.name);
  if (me == nullptr || !me->active()) {
    fail(ErrorKind::access, "escrow.vault: {} is not an active member of the merged vault", author.pub.name);
  }
  if (me->sign_pk != author.pub.sign_pk || me->box_pk != author.pub.box_pk) {
    fail(ErrorKind::access, "escrow.vault: the identity's keys are not those of member {}", author.pub.name);
  }
  SealedResolution out;
  Entry& e = out.entry;
  e.vault = impl.common.vault_id;
  e.actor = author.pub.name;
  e.ts = std::max(now, analysis.ts);
  e.host = std::string(host);
  e.parents = analysis.heads;
  e.action = OpKind::resolve;
  e.result = Result::ok;
  Op op;
  op.args = choices_of(analysis);
  e.op = std::move(op);
  check_args(*e.op, ErrorKind::usage, "escrow.journal");
  require_authorized(impl.merged, e, ErrorKind::access, "escrow.vault");
  e.op->writes = compute_writes(impl.merged, e);
  seal_entry(e, author, "escrow.journal");
  out.journal = analysis.union_text + dump_entry(e) + "\n";

  // The proof: the result replayed as every machine will replay it.
  const ReplayResult r = replay(out.journal);
  if (!r.ok()) {
    const Finding* f = r.first_problem();
    const bool unauthorised = f != nullptr && f->kind == FindingKind::unauthorised_operation && f->entry
                              && *f->entry == e.hash;
    throw Error(unauthorised ? ErrorKind::access : ErrorKind::failed,
                fmt::format("the merge check with the voids does not pass, nothing written: {}",
                            f != nullptr ? format_finding(*f) : std::string("no state")))
      .hint("escrow resolve lists what is left");
  }
  const std::set<std::string> keep = referenced_line_keys(r.state);
  std::set<std::string> remove;
  keys.for_each([&](std::string_view key, std::string_view) {
    if (keep.count(std::string(key)) == 0) {
      remove.insert(std::string(key));
    }
  });
  out.garbage_lines = remove.size();
  out.keys = keys.rewrite({}, remove);
  out.head = serialize_head_file(HeadFile{e.vault, {e.hash}, r.entries});
  const KeysFile new_keys = KeysFile::parse(out.keys, "escrow.keys");
  const VerifiedVault proof = verify_vault(out.head, out.journal, &new_keys);
  if (!proof.ok()) {
    const Finding* f = proof.replay.first_problem();
    fail(ErrorKind::failed, "the resolved vault does not verify, nothing written: {}",
         f != nullptr ? format_finding(*f) : std::string("the head file"));
  }
  return out;
}

} // namespace escrow::history
