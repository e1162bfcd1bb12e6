#include <escrow/atomic_file.hpp>
#include <escrow/audit/journal_check.hpp>
#include <escrow/error.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/store.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace escrow::audit {

namespace {

using canonical::Json;
using namespace escrow::history;

bool is_problem(const Finding& f)
{
  return f.severity() == Severity::error || f.severity() == Severity::conflict;
}

std::string_view file_name(VaultFile file)
{
  switch (file) {
  case VaultFile::journal: return "journal";
  case VaultFile::head: return "head";
  case VaultFile::keys: return "keys";
  }
  return "journal";
}

std::string_view severity_name(Severity severity)
{
  switch (severity) {
  case Severity::error: return "error";
  case Severity::conflict: return "conflict";
  case Severity::warning: return "warning";
  case Severity::info: return "info";
  }
  return "error";
}

} // namespace

std::size_t JournalCheck::errors() const
{
  return static_cast<std::size_t>(std::count_if(findings.begin(), findings.end(), is_problem)) + (lost.empty() ? 0 : 1);
}

std::size_t JournalCheck::warnings() const
{
  return static_cast<std::size_t>(std::count_if(findings.begin(), findings.end(), [](const Finding& f) {
    return f.severity() == Severity::warning;
  }));
}

std::vector<std::string> JournalCheck::lines(bool with_info) const
{
  std::vector<std::string> out;
  for (const Finding& f : findings) {
    if (f.severity() == Severity::info && !with_info) {
      continue;
    }
    out.push_back(fmt::format("{}: {}", finding_kind_name(f.kind), format_finding(f, names)));
  }
  if (!lost.empty()) {
    out.push_back(fmt::format("lost-entries: {}", loss_error(names.journal, lost).what()));
  }
  return out;
}

void JournalCheck::require_ok() const
{
  const auto first = std::find_if(findings.begin(), findings.end(), [](const Finding& f) {
    return f.severity() == Severity::error;
  });
  const auto conflict = std::find_if(findings.begin(), findings.end(), [](const Finding& f) {
    return f.severity() == Severity::conflict;
  });
  const std::size_t problems = errors();
  const auto more = [&](Error error) {
    if (problems > 1) {
      error.hint(fmt::format("{} problems in all: escrow audit verify lists them", problems));
    }
    return error;
  };
  if (first != findings.end()) {
    throw more(Error(ErrorKind::integrity, format_finding(*first, names)));
  }
  if (!lost.empty()) {
    throw more(loss_error(names.journal, lost));
  }
  if (conflict != findings.end()) {
    throw more(Error(ErrorKind::failed, format_finding(*conflict, names)));
  }
}

Json JournalCheck::to_json() const
{
  Json list = Json::array();
  for (const Finding& f : findings) {
    if (f.severity() == Severity::info) {
      continue; // a head file behind the journal's events: how every vault looks after a read
    }
    Json item{{"kind", finding_kind_name(f.kind)},
              {"severity", severity_name(f.severity())},
              {"file", file_name(f.file)},
              {"line", f.line > 0 ? Json(f.line) : Json(nullptr)},
              {"entry", f.entry ? Json(canonical::b64(*f.entry)) : Json(nullptr)},
              {"action", f.action.empty() ? Json(nullptr) : Json(f.action)},
              {"actor", f.actor.empty() ? Json(nullptr) : Json(f.actor)},
              {"reason", f.reason},
              {"message", format_finding(f, names)}};
    if (f.other) {
      item["other"] = canonical::b64(*f.other);
    }
    list.push_back(std::move(item));
  }
  Json lost_json = Json::array();
  for (const VerifiedEntry& e : lost) {
    lost_json.push_back(
      Json{{"hash", canonical::b64(e.hash)}, {"ts", format_time(e.ts)}, {"action", e.action}, {"actor", e.actor}});
  }
  if (!lost.empty()) {
    list.push_back(Json{{"kind", "lost-entries"},
                        {"severity", "error"},
                        {"file", "journal"},
                        {"line", nullptr},
                        {"entry", canonical::b64(lost.back().hash)},
                        {"action", lost.back().action},
                        {"actor", lost.back().actor},
                        {"reason", fmt::format("{} entries this machine verified are missing", lost.size())},
                        {"message", loss_error(names.journal, lost).what()}});
  }
  Json heads_json = Json::array();
  for (const Hash& h : heads) {
    heads_json.push_back(canonical::b64(h));
  }
  return Json{{"ok", ok()},
              {"journal", names.journal},
              {"entries", entries},
              {"signatures", signatures},
              {"key_lines", key_lines},
              {"heads", heads_json},
              {"head", heads.empty() ? Json(nullptr) : Json(canonical::b64(heads.front()))},
              {"errors", errors()},
              {"warnings", warnings()},
              {"findings", list},
              {"lost", lost_json}};
}

JournalCheck check_journal(const VaultSessionOptions& options)
{
  const VaultPaths paths = VaultPaths::of(options.vault_path);
  // The store's strict opening (no lock: nothing is written): a v1 head, a missing or unreadable
  // file is one line naming it.
  Store store = Store::open(options.vault_path, false);
  const std::string head = read_file(paths.head, k_max_head_file_size);
  const std::string journal = read_file(paths.journal, static_cast<std::size_t>(k_max_journal_size));
  const KeysFile& keys = store.keys();
  ReplayOptions replay_options;
  replay_options.now = options.clock.now();
  const VerifiedVault verified = verify_vault(head, journal, &keys, replay_options);

  JournalCheck out;
  out.names = FileNames{paths.journal.string(), paths.head.string(), paths.keys.string()};
  out.findings = verified.replay.findings;
  out.entries = verified.replay.entries;
  out.signatures = verified.replay.signatures_checked;
  out.key_lines = verified.key_lines;
  out.heads = verified.replay.heads;

  // What this machine verified before (vault-2-replay.md §6); without a state home, the bytes only.
  if (options.state_home.empty()) {
    return out;
  }
  const Cache cache(Cache::place(options.state_home, store.head().vault_id, paths.journal, options.branch),
                    store.head().vault_id);
  if (const std::optional<Verified> cached = cache.load()) {
    const std::set<Hash> present = history::entry_hashes(journal);
    std::set<Hash> acknowledged = cached->state.lost;
    acknowledged.insert(verified.replay.state.lost.begin(), verified.replay.state.lost.end());
    out.lost = missing_entries(cache.entries(cached->log), present, acknowledged);
  }
  return out;
}

} // namespace escrow::audit
