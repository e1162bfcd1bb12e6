#include <escrow/atomic_file.hpp>
#include <escrow/audit/journal_check.hpp>
#include <escrow/error.hpp>
#include <escrow/history/cache_log.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/store.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
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

namespace {

// The whole journal in memory (verify_vault): the path of every journal the streamed check cannot
// judge batch by batch (a problem, a journal-loss entry, a fork across a batch boundary), so that
// what it reports — every finding, the first problem first — is exactly the whole replay's.
JournalCheck check_whole(const VaultSessionOptions& options, const VaultPaths& paths, Store& store,
                         const std::string& head)
{
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

// The journal's lines in batches of at most `lines` complete lines, read by blocks: the last
// batch also holds an unterminated final line (the replay reports it as a torn write).
class LineBatches
{
public:
  LineBatches(const std::filesystem::path& path, std::size_t lines) : m_path(path), m_lines(std::max<std::size_t>(lines, 1))
  {
    m_in.open(path, std::ios::binary);
    if (!m_in) {
      (void)read_file(path, static_cast<std::size_t>(k_max_journal_size)); // its one-line error
      fail(ErrorKind::io, "{}: cannot read", path.string());
    }
  }

  // The next batch into `out`; false at the end of the file.
  bool next(std::string& out)
  {
    out.clear();
    std::size_t found = 0;
    std::size_t cut = 0; // the end of the last complete line of the batch in m_buffer
    std::size_t scan = 0;
    while (true) {
      while (found < m_lines) {
        const void* nl = scan < m_buffer.size() ? std::memchr(m_buffer.data() + scan, '\n', m_buffer.size() - scan) : nullptr;
        if (nl == nullptr) {
          break;
        }
        scan = static_cast<std::size_t>(static_cast<const char*>(nl) - m_buffer.data()) + 1;
        cut = scan;
        ++found;
      }
      if (found == m_lines || m_eof) {
        break;
      }
      scan = m_buffer.size();
      fill();
    }
    if (m_eof && found < m_lines) {
      cut = m_buffer.size(); // the rest, a torn last line included
    }
    out.assign(m_buffer, 0, cut);
    m_buffer.erase(0, cut);
    return !out.empty();
  }

private:
  void fill()
  {
    constexpr std::size_t k_block = std::size_t(1) << 20;
    const std::size_t old = m_buffer.size();
    m_buffer.resize(old + k_block);
    m_in.read(m_buffer.data() + old, static_cast<std::streamsize>(k_block));
    const std::size_t got = static_cast<std::size_t>(m_in.gcount());
    m_buffer.resize(old + got);
    m_read += got;
    if (m_read > k_max_journal_size) {
      fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", m_path.string(), k_max_journal_size);
    }
    if (got < k_block) {
      if (m_in.bad()) {
        fail(ErrorKind::io, "{}: cannot read", m_path.string());
      }
      m_eof = true;
    }
  }

  std::filesystem::path m_path;
  std::size_t m_lines;
  std::ifstream m_in;
  std::string m_buffer;
  std::uint64_t m_read = 0;
  bool m_eof = false;
};

// The loss check of the streamed path (missing_entries' rule: an entry of this machine's log that
// the journal lacks and no journal-loss acknowledges), walking the log beside the journal.
class LossWalk
{
public:
  void start(const Cache& cache, const LogSummary& log)
  {
    if (log.chain == Hash{}) {
      m_diverged = true; // a legacy log (no chain): read once, at the end, as it is
      return;
    }
    try {
      m_log.emplace(cache, log);
    } catch (const Error&) {
      m_diverged = true; // thrown again by finish's reading
    }
  }

  // The journal's next accepted entries, in the replay's order.
  void journal(const std::vector<Hash>& order)
  {
    for (const Hash& h : order) {
      if (m_diverged) {
        m_present.push_back(h);
        continue;
      }
      if (!m_log) {
        continue; // the whole log matched the journal's first entries
      }
      VerifiedEntry e;
      bool got = false;
      try {
        got = m_log->next(e);
      } catch (const Error&) {
        diverge(h); // a log that does not read: finish reads it again and throws its error
        continue;
      }
      if (!got) {
        m_log.reset(); // every entry of the log is in the journal (its count and chain checked)
      } else if (e.hash == h) {
        ++m_matched;
      } else {
        diverge(h);
      }
    }
  }

  // The entries lost, oldest first (throws a log that does not read, as for_each_entry).
  std::vector<VerifiedEntry> finish(const Cache& cache, const LogSummary& log, const std::set<Hash>& acknowledged)
  {
    std::vector<VerifiedEntry> lost;
    if (m_log && !m_diverged) {
      // The journal ended first: whether the log has more entries, read from there on.
      VerifiedEntry e;
      bool got = false;
      try {
        got = m_log->next(e);
      } catch (const Error&) {
        got = true;
      }
      m_log.reset();
      if (!got) {
        return lost;
      }
      m_diverged = true;
    }
    if (!m_diverged) {
      return lost;
    }
    m_log.reset();
    std::sort(m_present.begin(), m_present.end());
    std::vector<Hash> prefix; // the log's first m_matched entries: the journal's first ones
    prefix.reserve(static_cast<std::size_t>(m_matched));
    std::uint64_t index = 0;
    cache.for_each_entry(log, [&](VerifiedEntry&& e) {
      if (index++ < m_matched) {
        prefix.push_back(e.hash);
        if (index == m_matched) {
          std::sort(prefix.begin(), prefix.end());
        }
        return;
      }
      if (!std::binary_search(m_present.begin(), m_present.end(), e.hash)
          && !std::binary_search(prefix.begin(), prefix.end(), e.hash) && acknowledged.count(e.hash) == 0) {
        lost.push_back(std::move(e));
      }
    });
    return lost;
  }

private:
  void diverge(const Hash& h)
  {
    m_diverged = true;
    m_log.reset();
    m_present.push_back(h);
  }

  std::optional<LogReader> m_log;
  std::uint64_t m_matched = 0;
  bool m_diverged = false;
  std::vector<Hash> m_present; // the journal's hashes from the divergence on
};

bool has_journal_loss(std::string_view batch)
{
  static constexpr std::string_view prefix = "{\"action\":\"journal-loss\",";
  return batch.substr(0, prefix.size()) == prefix || batch.find(std::string("\n").append(prefix)) != std::string_view::npos;
}

} // namespace

JournalCheck check_journal(const VaultSessionOptions& options) { return check_journal(options, k_batch_lines); }

JournalCheck check_journal(const VaultSessionOptions& options, std::size_t batch_lines)
{
  const VaultPaths paths = VaultPaths::of(options.vault_path);
  // The store's strict opening (no lock: nothing is written): a v1 head, a missing or unreadable
  // file is one line naming it.
  Store store = Store::open(options.vault_path, false);
  const std::string head = read_file(paths.head, k_max_head_file_size);
  std::optional<HeadFile> head_file;
  try {
    head_file = parse_head_file(head, "head");
  } catch (const Error&) {
    return check_whole(options, paths, store, head); // a malformed head file: its finding
  }

  // What this machine verified before (vault-2-replay.md §6): every entry of its log must still be
  // in the journal. The log is written in the order the replay accepts entries, so it is walked
  // beside the stream, entry for entry (LogReader): while the two agree, nothing is held. From the
  // first entry where they differ (or a log that cannot be read, or one longer than the journal)
  // every later hash of the journal is kept (32 bytes an entry), and the log is judged in one
  // pass at the end against them and its own first `matched` entries (those the journal's were).
  // Without a state home, the bytes only.
  std::optional<Cache> cache;
  std::optional<Verified> cached;
  if (!options.state_home.empty()) {
    cache.emplace(Cache::place(options.state_home, store.head().vault_id, paths.journal, options.branch),
                  store.head().vault_id);
    cached = cache->load();
  }
  LossWalk loss;
  if (cached) {
    loss.start(*cache, cached->log);
  }

  // The journal replayed batch by batch (vault-2-replay.md §3's replay_from, as a session
  // continues from its cache): only the state, the heads and one batch are held. Any problem, a
  // journal-loss entry (it acknowledges holes anywhere in the file) or a batch that continues
  // from older entries than the last batch's heads (a fork across the boundary): the whole
  // journal is replayed instead (check_whole), so the findings are exactly the whole replay's.
  ReplayOptions replay_options;
  replay_options.now = options.clock.now();
  LineBatches batches(paths.journal, batch_lines);
  std::string batch;
  std::string ahead;
  std::optional<Snapshot> snapshot;
  std::vector<Finding> findings;
  std::size_t signatures = 0;
  std::vector<char> head_seen(head_file->heads.size(), 0);
  // Beside each batch's replay (which keeps both cores busy), one task does what used to wait
  // for it on this thread alone: the loss walk over the previous batch's entries, freeing that
  // batch's result and reading the next batch. Each is the task's alone while it runs (this
  // thread touches `batches`, `loss` and `ahead` only once it has joined), so what is read and
  // judged, and in which order, is as before; an error the task throws is rethrown by get().
  std::vector<Hash> walked;
  std::optional<ReplayResult> done;
  bool more = batches.next(batch);
  while (more) {
    std::future<bool> reading =
      std::async(std::launch::async, [&batches, &ahead, &loss, &cached, order = std::move(walked),
                                      old = std::move(done)]() mutable {
        if (cached) {
          loss.journal(order);
        }
        old.reset();
        return batches.next(ahead);
      });
    walked.clear();
    done.reset();
    // A batch after one that ended with several heads (an open fork): the whole replay judges
    // the fork in one piece (the open heads' merge check is made once, at the journal's end).
    if (has_journal_loss(batch) || (snapshot && snapshot->heads.size() > 1)) {
      reading.wait();
      return check_whole(options, paths, store, head);
    }
    ReplayResult r = snapshot ? replay_from(*snapshot, batch, replay_options) : replay(batch, replay_options);
    const std::uint64_t before = snapshot ? snapshot->entries : 0;
    if (r.needs_full_replay || r.has_errors() || r.has_conflicts() || r.order.size() != r.entries - before) {
      reading.wait();
      return check_whole(options, paths, store, head);
    }
    for (std::size_t i = 0; i < head_file->heads.size(); ++i) {
      if (std::find(r.order.begin(), r.order.end(), head_file->heads[i]) != r.order.end()) {
        head_seen[i] = 1;
      }
    }
    signatures += r.signatures_checked;
    std::move(r.findings.begin(), r.findings.end(), std::back_inserter(findings));
    r.findings.clear();
    snapshot = Snapshot{std::move(r.state), r.heads, r.ts, r.entries, r.lines};
    walked = std::move(r.order);
    done = std::move(r);
    more = reading.get();
    batch.swap(ahead);
  }
  if (cached) {
    loss.journal(walked);
  }
  if (!snapshot) {
    return check_whole(options, paths, store, head); // no entries at all
  }
  const State& state = snapshot->state;

  // The head file (replay.cpp's check_head_file, for a journal read in batches): its vault id the
  // journal's, every head an entry of the journal (else the whole replay reports it), and a head
  // that is not one of the journal's heads is behind them (info).
  if (head_file->vault_id != state.vault_id
      || std::find(head_seen.begin(), head_seen.end(), 0) != head_seen.end()) {
    return check_whole(options, paths, store, head);
  }
  for (const Hash& h : head_file->heads) {
    if (std::find(snapshot->heads.begin(), snapshot->heads.end(), h) == snapshot->heads.end()) {
      findings.push_back(Finding{FindingKind::head_behind, VaultFile::head, 0, std::nullopt, {}, {},
                                 fmt::format("names entry {}, which is behind the journal's heads", short_hash(h)),
                                 std::nullopt});
    }
  }

  // The keys file against the final state. The lines the operations wrote are needed only for a
  // line the state does not name: the journal is read again, batch by batch, for its writes (every
  // entry was accepted, or the whole replay would have been run).
  JournalCheck out;
  const auto written = [&paths, batch_lines](const std::set<std::string, std::less<>>&) {
    std::set<std::string> lines;
    LineBatches again(paths.journal, batch_lines);
    std::string text;
    while (again.next(text)) {
      std::size_t pos = 0;
      while (pos < text.size()) {
        const std::size_t end = text.find('\n', pos);
        if (end == std::string::npos) {
          break;
        }
        try {
          add_written_key_lines(parse_entry(std::string_view(text).substr(pos, end - pos), "entry"), lines);
        } catch (const Error&) {
        }
        pos = end + 1;
      }
    }
    return lines;
  };
  out.key_lines = check_keys_file(state, store.keys(), written, findings);
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    if (a.file != b.file) {
      return a.file < b.file;
    }
    return a.line < b.line;
  });

  out.names = FileNames{paths.journal.string(), paths.head.string(), paths.keys.string()};
  out.findings = std::move(findings);
  out.entries = snapshot->entries;
  out.signatures = signatures;
  out.heads = snapshot->heads;

  if (cached) {
    std::set<Hash> acknowledged = cached->state.lost;
    acknowledged.insert(state.lost.begin(), state.lost.end());
    out.lost = loss.finish(*cache, cached->log, acknowledged);
  }
  return out;
}

} // namespace escrow::audit
