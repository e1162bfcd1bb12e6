// Journals for the replay and merge-check tests: Worlds (history_support.hpp) record the entries
// they run; these helpers write them out, fork and join them, and forge what a test needs.
#pragma once

#include "history_support.hpp"

#include <escrow/history/merge_check.hpp>
#include <escrow/history/replay.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace replay_test {

using namespace history_test;

inline std::string journal_of(const std::vector<Entry>& entries)
{
  std::string out;
  for (const Entry& e : entries) {
    out += dump_entry(e);
    out += '\n';
  }
  return out;
}

inline std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

inline std::string join(const std::vector<std::string>& lines)
{
  std::string out;
  for (const std::string& line : lines) {
    out += line;
    out += '\n';
  }
  return out;
}

// ours' entries, then theirs' that ours lacks, in theirs' order (the journal merge driver).
inline std::vector<Entry> union_of(const std::vector<Entry>& ours, const std::vector<Entry>& theirs)
{
  std::vector<Entry> out = ours;
  std::set<Hash> have;
  for (const Entry& e : ours) {
    have.insert(e.hash);
  }
  for (const Entry& e : theirs) {
    if (have.insert(e.hash).second) {
      out.push_back(e);
    }
  }
  return out;
}

// The entries of `side` after the first `common` (a fork's own entries).
inline std::vector<const Entry*> own(const World& side, std::size_t common)
{
  std::vector<const Entry*> out;
  for (std::size_t i = common; i < side.log.size(); ++i) {
    out.push_back(&side.log[i]);
  }
  return out;
}

// A signed event (no operation) by `actor` naming `parents`.
inline Entry event(World& w, const std::string& actor, EventKind kind, std::vector<Hash> parents)
{
  Entry e;
  e.actor = actor;
  e.ts = w.now;
  e.host = "test";
  e.parents = std::move(parents);
  e.action = kind;
  e.result = Result::ok;
  e.vault = w.state.vault_id;
  seal_entry(e, w.id(actor));
  w.now += 60;
  return e;
}

// Joins theirs into ours as `sync` would: the union, a signed merge event by `actor`, and ours'
// state made the replayed merged state. Returns the merge entry.
inline Entry join_into(World& ours, const World& theirs, const std::string& actor)
{
  const std::vector<Hash> parents{ours.heads.at(0), theirs.heads.at(0)};
  ours.log = union_of(ours.log, theirs.log);
  ours.now = std::max(ours.now, theirs.now);
  const Entry m = event(ours, actor, EventKind::merge, parents);
  ours.log.push_back(m);
  const ReplayResult r = replay(journal_of(ours.log));
  INFO((r.first_problem() != nullptr ? format_finding(*r.first_problem()) : std::string("ok")));
  REQUIRE(r.ok());
  ours.state = r.state;
  ours.heads = {m.hash};
  return m;
}

inline std::vector<FindingKind> kinds_of(const ReplayResult& r, bool errors_only = true)
{
  std::vector<FindingKind> out;
  for (const Finding& f : r.findings) {
    if (!errors_only || f.severity() == Severity::error || f.severity() == Severity::conflict) {
      out.push_back(f.kind);
    }
  }
  return out;
}

inline std::string describe(const ReplayResult& r)
{
  std::string out;
  for (const Finding& f : r.findings) {
    out += std::string(finding_kind_name(f.kind)) + ": " + format_finding(f) + "\n";
  }
  return out.empty() ? "no findings" : out;
}

// dave's approval of his request `request` for k_db's first version (the merge, merge-driver and
// resolve tests' common conflict).
inline ApproveArgs approval_of_dave(const std::string& request)
{
  ApproveArgs a;
  a.secret = k_db;
  a.request = request;
  a.requester = "dave";
  a.vid = k_v1;
  a.v = 1;
  a.dk_commit = commit("dk1");
  return a;
}

} // namespace replay_test
