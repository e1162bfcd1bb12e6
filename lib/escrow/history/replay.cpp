#include <escrow/history/replay.hpp>

#include <escrow/history/open_merge.hpp>

#include <escrow/history/apply.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/batches.hpp>
#include <escrow/history/labels.hpp>

#include <algorithm>
#include <map>
#include <tuple>
#include <set>
#include <unordered_map>

namespace escrow::history {

namespace {

constexpr Timestamp k_future_slack = 600; // 10 minutes (vault-2-operations.md §1.1)
constexpr std::string_view k_what = "entry";
constexpr std::size_t k_none = static_cast<std::size_t>(-1);
// Lines parsed per batch (an entry is ~1-4 KB; a bulk operation's up to a few MB), signatures
// checked per batch (~2 ms on one core): small enough that the two threads stay busy to the end
// and the fold never waits long for the batch it needs. A parse batch also ends once it holds
// k_parse_batch_bytes, so that the bulk entries a large vault ends with (a share or a rotation
// of 10,000 secrets is 2-7 MB of JSON, ~0.1 s to parse) are parsed side by side, not one after
// another on whichever thread claimed the 16 lines they sit in.
constexpr std::size_t k_parse_batch = 16;
constexpr std::size_t k_parse_batch_bytes = 64 * 1024;
constexpr std::size_t k_signature_batch = 64;

struct HashKey
{
  std::size_t operator()(const Hash& h) const noexcept
  {
    std::size_t out = 0;
    for (std::size_t i = 0; i < sizeof(out); ++i) {
      out = (out << 8) | h[i];
    }
    return out;
  }
};

// "entry: reason" -> "reason" (errors thrown with k_what as their subject).
std::string reason_of(const std::exception& error)
{
  std::string text = error.what();
  const std::string prefix = std::string(k_what) + ": ";
  if (text.rfind(prefix, 0) == 0) {
    text.erase(0, prefix.size());
  }
  return text;
}

enum class Status { ok, rejected, tainted };

struct Node
{
  bool base = false; // replay_from: the snapshot's heads, as one node
  Entry entry;
  std::string_view text;
  std::size_t line = 0;
  std::vector<std::size_t> parents; // effective parents (lost ones dropped)
  std::vector<std::size_t> children;
  Status status = Status::ok;
  std::size_t job = k_none;
  bool signature_known = false;
};

class Replayer
{
public:
  Replayer(const ReplayOptions& options, const Snapshot* from, const OpenChoices* open = nullptr)
    : m_options(options), m_from(from), m_open(open)
  {
  }

  // The check of the unsealed merge of the heads with m_open's choices (replay_open_merge).
  std::optional<MergeCheck> take_open_merge() { return std::move(m_open_merge); }

  ReplayResult run(std::string_view text)
  {
    split(text);
    // One node per line at most (and the snapshot's): no reallocation, which would hold the
    // nodes twice for a moment (~1 KB each) and copy them.
    m_nodes.reserve(m_lines.size() + (m_from != nullptr ? 1 : 0));
    start_parsing();
    prescan_losses();
    if (m_from != nullptr) {
      Node base;
      base.base = true;
      base.entry.ts = m_from->ts;
      m_nodes.push_back(std::move(base));
      m_expected_vault = m_from->state.vault_id;
      for (const Hash& lost : m_from->state.lost) {
        m_lost.insert(lost);
      }
    }
    if (m_options.vault_id && !m_expected_vault) {
      m_expected_vault = m_options.vault_id;
    }
    if (!pass1()) {
      m_result.needs_full_replay = true;
      m_result.findings.clear();
      return std::move(m_result);
    }
    check_head_file();
    prepare_signatures();
    pass2();
    // Every job is checked (and counted), also those of entries the fold rejected before it.
    m_signatures->finish();
    finish();
    return std::move(m_result);
  }

private:
  // ---- lines ----

  void split(std::string_view text)
  {
    std::size_t line = m_from != nullptr ? m_from->lines : 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t end = text.find('\n', pos);
      ++line;
      if (end == std::string_view::npos) {
        add(FindingKind::torn_write, line, "the last line is unterminated (an interrupted write): not an entry");
        break;
      }
      m_lines.emplace_back(line, text.substr(pos, end - pos));
      pos = end + 1;
    }
    m_result.lines = (m_from != nullptr ? m_from->lines : 0) + m_lines.size();
  }

  // Hashes acknowledged lost by journal-loss entries anywhere in the file (the holes precede
  // their acknowledgement). The entries themselves are judged in pass 2.
  void prescan_losses()
  {
    static constexpr std::string_view prefix = "{\"action\":\"journal-loss\",";
    for (std::size_t i = 0; i < m_lines.size(); ++i) {
      if (m_lines[i].second.substr(0, prefix.size()) != prefix) {
        continue;
      }
      wait_parsed(i);
      const std::optional<Entry>& e = m_parsed[i];
      if (e && e->op) { // a line that does not parse is reported by pass 1
        for (const LostEntry& lost : std::get<JournalLossArgs>(e->op->args).lost) {
          m_lost.insert(lost.hash);
        }
      }
    }
  }

  // Every line parsed (entry.hpp parse_entry: canonical form, fields, hash) on two threads, in
  // batches, ahead of pass 1, which takes them in file order. A line that does not parse is left
  // empty and parsed again by pass 1 for its error (rare: tampering).
  // An event's details are checked by parse_entry and hashed, but nothing in the replay reads
  // them (they are facts for the audit reports, which read the journal themselves): they are
  // freed here, on the parsing threads, rather than with the nodes at the end, on this one alone.
  void start_parsing()
  {
    m_parsed.resize(m_lines.size());
    // The batches' first lines: k_parse_batch lines, or fewer once they hold k_parse_batch_bytes.
    m_parse_starts.clear();
    std::size_t held = 0;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < m_lines.size(); ++i) {
      if (held == 0) {
        m_parse_starts.push_back(i);
      }
      ++held;
      bytes += m_lines[i].second.size();
      if (held == k_parse_batch || bytes >= k_parse_batch_bytes) {
        held = 0;
        bytes = 0;
      }
    }
    m_parsing = std::make_unique<Batches>(m_parse_starts.size(), 1, [this](std::size_t begin, std::size_t end) {
      for (std::size_t b = begin; b < end; ++b) {
        const std::size_t last = b + 1 < m_parse_starts.size() ? m_parse_starts[b + 1] : m_lines.size();
        for (std::size_t i = m_parse_starts[b]; i < last; ++i) {
          try {
            m_parsed[i] = parse_entry(m_lines[i].second, k_what);
            m_parsed[i]->detail.reset();
          } catch (const Error&) {
          }
        }
      }
    });
  }

  // Returns once line i is parsed (its batch: the last whose first line is at or before i).
  void wait_parsed(std::size_t i)
  {
    const auto after = std::upper_bound(m_parse_starts.begin(), m_parse_starts.end(), i);
    m_parsing->wait_for(static_cast<std::size_t>(after - m_parse_starts.begin()) - 1);
  }

  // ---- findings ----

  void add(FindingKind kind, std::size_t line, std::string reason, VaultFile file = VaultFile::journal)
  {
    Finding f;
    f.kind = kind;
    f.file = file;
    f.line = line;
    f.reason = std::move(reason);
    m_result.findings.push_back(std::move(f));
  }

  void add(FindingKind kind, const Node& node, std::string reason)
  {
    Finding f;
    f.kind = kind;
    f.line = node.line;
    f.entry = node.entry.hash;
    f.action = action_name(node.entry.action);
    f.actor = node.entry.actor;
    f.reason = std::move(reason);
    m_result.findings.push_back(std::move(f));
  }

  void reject(std::size_t id, FindingKind kind, std::string reason)
  {
    add(kind, m_nodes[id], std::move(reason));
    m_nodes[id].status = Status::rejected;
  }

  // A line that does not parse: which finding, and what it claims to be (for its children).
  void classify_unparsed(std::size_t line, std::string_view text, const Error& error)
  {
    Finding f;
    f.kind = FindingKind::malformed_entry;
    f.line = line;
    f.reason = reason_of(error);
    try {
      Json json = canonical::parse(text, k_what);
      if (json.is_object()) {
        if (json.contains("hash") && json["hash"].is_string()) {
          const Bytes raw = canonical::unb64(json["hash"].get<std::string>(), k_what);
          if (raw.size() == 32) {
            Hash h{};
            std::copy(raw.begin(), raw.end(), h.begin());
            f.entry = h;
            m_unreadable.insert(h); // its children are skipped, not reported as orphans
          }
        }
        if (json.contains("action") && json["action"].is_string()) {
          f.action = json["action"].get<std::string>();
        }
        if (json.contains("actor") && json["actor"].is_string() && valid_member_name(json["actor"].get<std::string>())) {
          f.actor = json["actor"].get<std::string>();
        }
        // Its operation alone refused: malformed-operation.
        const std::optional<OpKind> kind = parse_op_kind(f.action);
        if (kind && json.contains("op")) {
          try {
            const Op op = op_from_json(*kind, json["op"], k_what);
            check_args(op, ErrorKind::integrity, k_what);
          } catch (const Error& op_error) {
            f.kind = FindingKind::malformed_operation;
            f.reason = reason_of(op_error);
          }
        }
        // Its only fault is its hash: modified.
        if (f.kind == FindingKind::malformed_entry && json.contains("vault") && json["vault"].is_string()) {
          const Bytes vault = canonical::unb64(json["vault"].get<std::string>(), k_what);
          Json body = json;
          body.erase("hash");
          body.erase("sig");
          Bytes message = vault;
          const std::string dumped = canonical::dump(body);
          message.insert(message.end(), dumped.begin(), dumped.end());
          const Hash h = crypto::hash(labels::k_entry, message);
          json["hash"] = canonical::b64(ByteView(h.data(), h.size()));
          const std::string fixed = canonical::dump(json);
          if (fixed != text) {
            try {
              (void)parse_entry(fixed, k_what);
              f.kind = FindingKind::modified_entry;
              f.reason = "its hash is not the hash of its content (modified after it was written)";
            } catch (const Error&) {
            }
          }
        }
      }
    } catch (const Error&) {
      // not even JSON: malformed-entry as it is
    }
    m_result.findings.push_back(std::move(f));
  }

  // ---- pass 1 ----

  // false: replay_from met a parent older than the snapshot (needs the full replay).
  bool pass1()
  {
    std::vector<std::pair<std::size_t, Hash>> missing; // node, parent
    for (std::size_t i = 0; i < m_lines.size(); ++i) {
      const std::size_t line = m_lines[i].first;
      const std::string_view text = m_lines[i].second;
      Node node;
      node.line = line;
      node.text = text;
      wait_parsed(i);
      if (m_parsed[i]) {
        node.entry = std::move(*m_parsed[i]);
        m_parsed[i].reset();
      } else {
        // The error, again, on this thread (parse_entry is a function of the line alone).
        std::optional<Error> error;
        try {
          (void)parse_entry(text, k_what);
        } catch (const Error& e) {
          error = e;
        }
        if (!error) {
          fail(ErrorKind::failed, "internal: line {} parsed only on the second try", line);
        }
        classify_unparsed(line, text, *error);
        continue;
      }
      ++m_result.entries;
      const Entry& e = node.entry;
      if (!m_expected_vault) {
        m_expected_vault = e.vault;
      }
      if (e.vault != *m_expected_vault) {
        add(FindingKind::foreign_entry, node, "the entry belongs to another vault");
        m_unreadable.insert(e.hash);
        continue;
      }
      if (m_index.count(e.hash) > 0) {
        add(FindingKind::duplicate_entry, node,
            fmt::format("the same entry as line {}", m_nodes[m_index.at(e.hash)].line));
        continue;
      }
      const std::size_t id = m_nodes.size();
      bool old_parent = false;
      for (const Hash& p : e.parents) {
        const auto found = m_index.find(p);
        if (found != m_index.end()) {
          node.parents.push_back(found->second);
          if (m_nodes[found->second].status != Status::ok) {
            node.status = Status::tainted;
          }
        } else if (m_unreadable.count(p) > 0) {
          node.status = Status::tainted;
        } else if (m_lost.count(p) > 0) {
          // acknowledged lost: dropped (judged with the journal-loss entry)
        } else if (m_from != nullptr) {
          old_parent = true;
        } else {
          missing.emplace_back(id, p);
        }
      }
      if (old_parent) {
        // replay_from: parents outside the tail must be exactly the snapshot's heads.
        if (e.parents != m_from->heads) {
          return false;
        }
        node.parents = {0};
        if (m_nodes[0].status != Status::ok) {
          node.status = Status::tainted;
        }
      }
      if (node.parents.empty() && !e.parents.empty() && id > 0) {
        node.parents = {id - 1}; // every parent acknowledged lost: the line before stands in
      }
      if (e.parents.empty()) {
        if (m_genesis != k_none || m_from != nullptr) {
          add(FindingKind::unauthorised_operation, node,
              m_genesis != k_none ? fmt::format("a second genesis entry (the first is on line {})", m_nodes[m_genesis].line)
                                  : std::string("a genesis entry after verified entries"));
          node.status = Status::rejected;
        } else {
          m_genesis = id;
        }
      }
      for (const std::size_t p : node.parents) {
        m_nodes[p].children.push_back(id);
      }
      m_index.emplace(e.hash, id);
      m_nodes.push_back(std::move(node));
    }
    for (const auto& [id, parent] : missing) {
      if (m_nodes[id].status != Status::ok) {
        continue;
      }
      const auto later = m_index.find(parent);
      if (later != m_index.end()) {
        reject(id, FindingKind::reordered_entries,
               fmt::format("its parent {} is on a later line ({})", short_hash(parent), m_nodes[later->second].line));
      } else {
        reject(id, FindingKind::deleted_entry,
               fmt::format("its parent {} is not in the journal (deleted?)", short_hash(parent)));
      }
    }
    // Rejections and taints reach every descendant (nodes are in file order, parents first).
    for (std::size_t id = 0; id < m_nodes.size(); ++id) {
      if (m_nodes[id].status == Status::ok) {
        continue;
      }
      for (const std::size_t child : m_nodes[id].children) {
        if (m_nodes[child].status == Status::ok) {
          m_nodes[child].status = Status::tainted;
        }
      }
    }
    if (m_from == nullptr && m_index.empty() && m_lines.empty()) {
      add(FindingKind::deleted_entry, 0, "the journal has no entries (no genesis entry)");
    }
    if (m_from == nullptr && m_options.vault_id && m_expected_vault && *m_options.vault_id != *m_expected_vault) {
      add(FindingKind::foreign_entry, 0, "the journal belongs to another vault than the one expected");
    }
    return true;
  }

  void check_head_file()
  {
    const HeadFile* head = m_options.head;
    if (head == nullptr) {
      return;
    }
    if (m_expected_vault && head->vault_id != *m_expected_vault) {
      add(FindingKind::foreign_entry, 0, "the head file belongs to another vault than the journal", VaultFile::head);
      return;
    }
    for (const Hash& h : head->heads) {
      const auto found = m_index.find(h);
      if (found == m_index.end()) {
        if (m_from != nullptr
            && std::find(m_from->heads.begin(), m_from->heads.end(), h) != m_from->heads.end()) {
          continue;
        }
        if (m_from == nullptr || m_unreadable.count(h) > 0) {
          add(FindingKind::truncated_tail, 0,
              fmt::format("names entry {}, which the journal lacks (its tail was cut?)", short_hash(h)), VaultFile::head);
        }
        continue;
      }
      if (!m_nodes[found->second].children.empty()) {
        add(FindingKind::head_behind, 0,
            fmt::format("names entry {}, which is behind the journal's heads", short_hash(h)), VaultFile::head);
      }
    }
  }

  // ---- signatures ----

  void prepare_signatures()
  {
    // The key of each actor, from every member-add and genesis entry (and the snapshot's state).
    std::map<std::string, std::set<crypto::SignPublicKey>> keys;
    if (m_from != nullptr) {
      for (const auto& [name, member] : m_from->state.members) {
        keys[name].insert(member->sign_pk);
      }
    }
    for (const Node& node : m_nodes) {
      if (node.base || !node.entry.op) {
        continue;
      }
      if (const auto* init = std::get_if<InitArgs>(&node.entry.op->args)) {
        keys[init->member.name].insert(init->member.sign_pk);
      } else if (const auto* add = std::get_if<MemberAddArgs>(&node.entry.op->args)) {
        keys[add->name].insert(add->sign_pk);
      }
    }
    for (std::size_t id = 0; id < m_nodes.size(); ++id) {
      Node& node = m_nodes[id];
      if (node.base || node.status != Status::ok) {
        continue;
      }
      if (m_options.signature_known && m_options.signature_known(node.entry, node.text)) {
        node.signature_known = true;
        continue;
      }
      const auto found = keys.find(node.entry.actor);
      if (found == keys.end() || found->second.size() != 1) {
        continue; // no member by that name, or two: judged in the fold with the causal key
      }
      node.job = m_jobs.size();
      m_jobs.push_back(SignatureJob{&node.entry, *found->second.begin(), false});
    }
    // Checked on two threads in batches, ahead of the fold (signature_ok waits for the job it
    // needs): each job's result is its own, whichever thread computed it.
    m_signatures = std::make_unique<Batches>(m_jobs.size(), k_signature_batch, [this](std::size_t begin, std::size_t end) {
      verify_signatures(std::span<SignatureJob>(m_jobs).subspan(begin, end - begin));
    });
    m_result.signatures_checked += m_jobs.size();
  }

  bool signature_ok(const Node& node, const crypto::SignPublicKey& key)
  {
    if (node.signature_known) {
      return true;
    }
    if (node.job != k_none && m_jobs[node.job].key == key) {
      m_signatures->wait_for(node.job);
      return m_jobs[node.job].ok;
    }
    ++m_result.signatures_checked;
    SignatureJob job{&node.entry, key, false};
    verify_signatures(std::span<SignatureJob>(&job, 1));
    return job.ok;
  }

  // ---- ancestry ----

  // Every ancestor of `id` and itself.
  std::vector<char> ancestry(std::size_t id) const
  {
    std::vector<char> mark(m_nodes.size(), 0);
    std::vector<std::size_t> stack{id};
    mark[id] = 1;
    while (!stack.empty()) {
      const std::size_t n = stack.back();
      stack.pop_back();
      for (const std::size_t p : m_nodes[n].parents) {
        if (!mark[p]) {
          mark[p] = 1;
          stack.push_back(p);
        }
      }
    }
    return mark;
  }

  // ---- pass 2 ----

  State start_state() const { return m_from != nullptr ? m_from->state : State{}; }

  const State& after(std::size_t id) const { return *m_after[id]; }

  // One parent's state given to one consumer: moved when it is its last consumer.
  State take(std::size_t id)
  {
    if (m_uses[id] == 1) {
      return std::move(*m_after[id]);
    }
    return *m_after[id];
  }

  void release(std::size_t id)
  {
    if (m_uses[id] > 0 && --m_uses[id] == 0) {
      m_after[id].reset();
    }
  }

  // The merged state of `parents` (left-nested), with the merge check at every level. `sealed`:
  // the merge is an entry (conflicts are errors) rather than the journal's open heads.
  State merge(const std::vector<std::size_t>& parents, const Node* sealed)
  {
    // A resolve entry at this merge point: its voids are left out (merge_check.hpp); what it
    // voids and its authority are judged here, the verdict given to judge() (m_resolve_*).
    const ResolveArgs* resolve =
      sealed != nullptr && sealed->entry.op ? std::get_if<ResolveArgs>(&sealed->entry.op->args) : nullptr;
    // escrow resolve's choices for the unsealed merge of the heads (ReplayOptions::open_choices).
    const bool open = sealed == nullptr && m_open != nullptr;
    if (open) {
      resolve = &m_open->choices;
      m_open_merge.emplace();
    }
    m_resolve_voids.clear();
    m_resolve_refusal.reset();
    m_merge_settled = false;
    std::set<Hash> exposed_honoured;
    std::set<std::string> races_settled;
    std::vector<char> covered = ancestry(parents[0]);
    State merged = *m_after[parents[0]];
    for (std::size_t i = 1; i < parents.size(); ++i) {
      const std::vector<char> theirs = ancestry(parents[i]);
      MergeInput input;
      std::vector<std::size_t> y_ids;
      for (std::size_t n = 0; n < m_nodes.size(); ++n) {
        if (m_nodes[n].base || m_nodes[n].status != Status::ok || m_voided.count(m_nodes[n].entry.hash) > 0) {
          continue;
        }
        if (covered[n] && !theirs[n]) {
          input.x.push_back(&m_nodes[n].entry);
        } else if (theirs[n] && !covered[n]) {
          input.y.push_back(&m_nodes[n].entry);
          y_ids.push_back(n);
        }
      }
      input.ours = &merged;
      input.theirs = m_after[parents[i]] ? &*m_after[parents[i]] : nullptr;
      if (input.theirs == nullptr) {
        continue; // a rejected side: reported already
      }
      if (resolve != nullptr) {
        input.voids = &resolve->voided;
        input.exposed = &resolve->exposed;
        input.races = &resolve->rotations;
        input.at = open ? m_open->at : sealed->entry.ts;
        input.resolver = open ? m_open->resolver : sealed->entry.actor;
      }
      input.base = [this, &covered, &theirs] {
        // The common history folded again. A resolve that settled a rotation race or kept a
        // rotation exposed changed the state at its merge point beyond its operations: the fold
        // starts from the state after the latest such resolve both sides have (m_settled), and
        // adds the common operations it does not cover.
        std::optional<std::size_t> anchor;
        for (const auto& [id, settled] : m_settled) {
          if (covered[id] && theirs[id]) {
            anchor = id;
          }
        }
        State base = anchor ? m_settled.at(*anchor) : start_state();
        const std::vector<char> done = anchor ? ancestry(*anchor) : std::vector<char>(m_nodes.size(), 0);
        for (std::size_t n = 0; n < m_nodes.size(); ++n) {
          if (!m_nodes[n].base && !done[n] && covered[n] && theirs[n] && m_nodes[n].status == Status::ok
              && m_voided.count(m_nodes[n].entry.hash) == 0) {
            (void)apply_merged(base, m_nodes[n].entry);
          }
        }
        return base;
      };
      input.find_entry = [this](const Hash& h) -> const Entry* {
        const auto found = m_index.find(h);
        return found != m_index.end() ? &m_nodes[found->second].entry : nullptr;
      };
      // A settling resolve one side carries and the other lacks: that side's settled prefix.
      std::optional<std::size_t> settled_x;
      std::optional<std::size_t> settled_y;
      for (const auto& [id, settled] : m_settled) {
        if (covered[id] && !theirs[id]) {
          settled_x = id;
        } else if (theirs[id] && !covered[id]) {
          settled_y = id;
        }
      }
      m_merge_settled = m_merge_settled || settled_x || settled_y;
      for (const auto& [anchor, state, ops] :
           {std::tuple{settled_x, &input.ours_settled, &input.ours_settled_ops},
            std::tuple{settled_y, &input.theirs_settled, &input.theirs_settled_ops}}) {
        if (!anchor) {
          continue;
        }
        *state = &m_settled.at(*anchor);
        const std::vector<char> prefix = ancestry(*anchor);
        for (std::size_t n = 0; n < m_nodes.size(); ++n) {
          if (prefix[n] && !m_nodes[n].base && !(covered[n] && theirs[n])) {
            ops->insert(m_nodes[n].entry.hash);
          }
        }
      }
      MergeCheck check = check_merge(input);
      if (open) {
        MergeCheck& all = *m_open_merge;
        all.conflicts.insert(all.conflicts.end(), check.conflicts.begin(), check.conflicts.end());
        all.voided.insert(all.voided.end(), check.voided.begin(), check.voided.end());
        all.warnings.insert(all.warnings.end(), check.warnings.begin(), check.warnings.end());
        all.resolved.insert(all.resolved.end(), check.resolved.begin(), check.resolved.end());
        all.void_refusals.insert(all.void_refusals.end(), check.void_refusals.begin(), check.void_refusals.end());
        all.exposed.insert(all.exposed.end(), check.exposed.begin(), check.exposed.end());
        all.races.insert(all.races.end(), check.races.begin(), check.races.end());
        all.settled_apart.insert(all.settled_apart.end(), check.settled_apart.begin(), check.settled_apart.end());
      }
      for (const Conflict& c : check.conflicts) {
        Finding f;
        f.kind = sealed != nullptr ? FindingKind::unresolved_conflict : FindingKind::conflict;
        const auto found = m_index.find(c.entry);
        const Node* node = found != m_index.end() ? &m_nodes[found->second] : sealed;
        if (node != nullptr && !node->base) {
          f.line = node->line;
          f.entry = node->entry.hash;
          f.action = action_name(node->entry.action);
          f.actor = node->entry.actor;
        }
        std::string where = sealed != nullptr ? fmt::format("merged at line {}", sealed->line) : "unsealed merge";
        f.other = c.other;
        if (c.other) {
          where += fmt::format(", with {}", short_hash(*c.other));
        }
        f.reason = fmt::format("conflict ({}, {}): {}", where, merge_side_name(c.side), c.reason);
        m_result.findings.push_back(std::move(f));
      }
      for (const Hash& voided : check.voided) {
        m_voided.insert(voided);
        const auto found = m_index.find(voided);
        if (found != m_index.end()) {
          add(FindingKind::voided_by_removal, m_nodes[found->second],
              "void: its author is removed on the other side of a merge (strong remove)");
        }
      }
      for (const std::string& warning : check.warnings) {
        add(FindingKind::voided_by_removal, sealed != nullptr ? sealed->line : 0, warning);
      }
      m_resolve_voids.insert(m_resolve_voids.end(), check.resolved.begin(), check.resolved.end());
      exposed_honoured.insert(check.exposed.begin(), check.exposed.end());
      races_settled.insert(check.races.begin(), check.races.end());
      if (!check.void_refusals.empty() && !m_resolve_refusal) {
        m_resolve_refusal = check.void_refusals.front();
      }
      merged = std::move(check.merged);
      for (std::size_t n = 0; n < covered.size(); ++n) {
        covered[n] = static_cast<char>(covered[n] || theirs[n]);
      }
    }
    if (open) {
      m_open_merge->merged = merged;
      m_resolve_voids.clear();
      m_resolve_refusal.reset();
      return merged;
    }
    if (resolve != nullptr && !m_resolve_refusal) {
      const std::set<Hash> honoured(m_resolve_voids.begin(), m_resolve_voids.end());
      for (const Hash& h : resolve->voided) {
        if (honoured.count(h) == 0) {
          m_resolve_refusal = fmt::format("resolve: entry {} is not an operation of the merge it settles", short_hash(h));
          break;
        }
      }
      for (const Hash& h : resolve->exposed) {
        if (!m_resolve_refusal && exposed_honoured.count(h) == 0) {
          m_resolve_refusal =
            fmt::format("resolve: exposed entry {} is not an operation of the merge it settles", short_hash(h));
        }
      }
      for (const RaceResolution& race : resolve->rotations) {
        if (!m_resolve_refusal && races_settled.count(race.secret) == 0) {
          m_resolve_refusal = fmt::format("resolve: the merge it settles has no rotation race of {}", race.secret);
        }
      }
    }
    return merged;
  }

  // The checks of one entry against its causal state; advances it. false: rejected.
  bool judge(std::size_t id, State& state)
  {
    Node& node = m_nodes[id];
    const Entry& e = node.entry;
    for (const std::size_t p : node.parents) {
      if (e.ts < m_nodes[p].entry.ts) {
        reject(id, FindingKind::dated_before_parent,
               fmt::format("dated {}, before its parent ({})", format_time(e.ts), format_time(m_nodes[p].entry.ts)));
        return false;
      }
    }
    if (m_options.now && e.ts > *m_options.now + k_future_slack
        && (m_options.accepted_before == nullptr || m_options.accepted_before->count(e.hash) == 0)) {
      reject(id, FindingKind::future_dated, fmt::format("dated {}, in the future", format_time(e.ts)));
      return false;
    }
    crypto::SignPublicKey key{};
    const InitArgs* init = e.op ? std::get_if<InitArgs>(&e.op->args) : nullptr;
    if (init != nullptr && !state.initialised) {
      key = init->member.sign_pk;
    } else {
      const Member* author = state.member(e.actor);
      if (author == nullptr) {
        reject(id, FindingKind::unknown_author, fmt::format("{} is not a member here", e.actor));
        return false;
      }
      if (!author->active()) {
        reject(id, FindingKind::removed_author,
               fmt::format("{} was removed by {} before this entry", e.actor, author->removed_by.value_or("?")));
        return false;
      }
      key = author->sign_pk;
    }
    if (!signature_ok(node, key)) {
      reject(id, FindingKind::forged_signature, fmt::format("the signature is not {}'s", e.actor));
      return false;
    }
    if (Verdict v = authorize(state, e)) {
      reject(id, FindingKind::unauthorised_operation, v->reason);
      return false;
    }
    if (e.op && std::holds_alternative<ResolveArgs>(e.op->args)) {
      if (node.parents.size() < 2) {
        reject(id, FindingKind::unauthorised_operation, "resolve: not at a merge point (its parents must be the heads it merges)");
        return false;
      }
      if (m_resolve_refusal) {
        reject(id, FindingKind::unauthorised_operation, *m_resolve_refusal);
        return false;
      }
    }
    if (e.op) {
      if (const auto* loss = std::get_if<JournalLossArgs>(&e.op->args)) {
        for (const LostEntry& lost : loss->lost) {
          if (m_index.count(lost.hash) > 0) {
            reject(id, FindingKind::unauthorised_operation,
                   fmt::format("journal-loss: entry {} is in the journal, not lost", short_hash(lost.hash)));
            return false;
          }
        }
      }
      try {
        apply(state, e, k_what);
      } catch (const Error& error) {
        reject(id, FindingKind::wrong_writes, reason_of(error));
        return false;
      }
    }
    return true;
  }

  void pass2()
  {
    const std::size_t count = m_nodes.size();
    m_after.assign(count, std::nullopt);
    m_uses.assign(count, 0);
    // The journal's heads, in file order (the snapshot's node stands for its heads).
    for (std::size_t id = 0; id < count; ++id) {
      if (m_nodes[id].children.empty() && m_nodes[id].status == Status::ok) {
        m_heads.push_back(id);
      }
      m_uses[id] = m_nodes[id].children.size();
    }
    for (const std::size_t h : m_heads) {
      ++m_uses[h];
    }
    if (m_from != nullptr) {
      m_after[0] = m_from->state;
    }
    const std::vector<std::size_t> order = linearization();
    for (const std::size_t id : order) {
      Node& node = m_nodes[id];
      if (node.base) {
        continue;
      }
      if (node.status == Status::ok) {
        for (const std::size_t p : node.parents) {
          if (m_nodes[p].status != Status::ok || !m_after[p]) {
            node.status = Status::tainted;
          }
        }
      }
      if (node.status == Status::ok) {
        State state = node.parents.empty() ? start_state()
                      : node.parents.size() == 1 ? take(node.parents[0])
                                                 : merge(node.parents, &node);
        if (node.parents.size() < 2) {
          m_resolve_voids.clear();
          m_resolve_refusal.reset();
        }
        if (judge(id, state)) {
          if (node.entry.op && std::holds_alternative<ResolveArgs>(node.entry.op->args)) {
            // Void in every later merge too, as strong remove's.
            m_voided.insert(m_resolve_voids.begin(), m_resolve_voids.end());
            const ResolveArgs& resolve = std::get<ResolveArgs>(node.entry.op->args);
            if (!resolve.rotations.empty() || !resolve.exposed.empty()) {
              m_settled.emplace(id, state);
            }
          }
          if (node.parents.size() >= 2 && m_merge_settled && m_settled.count(id) == 0) {
            // A merge point whose sides carried settled prefixes: its state is settled too (a
            // later merge starts its common state here, and a side carrying it has it as its
            // fixed prefix), so two resolutions joined here are never folded again.
            m_settled.emplace(id, state);
          }
          m_after[id] = std::move(state);
          m_result.order.push_back(node.entry.hash);
          m_result.order_lines.push_back(node.line);
        }
      }
      if (node.status != Status::ok) {
        for (const std::size_t child : node.children) {
          if (m_nodes[child].status == Status::ok) {
            m_nodes[child].status = Status::tainted;
          }
        }
      }
      for (const std::size_t p : node.parents) {
        release(p);
      }
    }
    // The state of the journal: its heads merged (an unsealed merge when there are several).
    std::vector<std::size_t> live;
    for (const std::size_t h : m_heads) {
      if (m_after[h]) {
        live.push_back(h);
      }
    }
    if (live.size() == 1) {
      m_result.state = std::move(*m_after[live[0]]);
    } else if (live.size() > 1) {
      m_result.state = merge(live, nullptr);
    }
    for (const std::size_t h : live) {
      if (m_nodes[h].base) {
        m_result.heads.insert(m_result.heads.end(), m_from->heads.begin(), m_from->heads.end());
      } else {
        m_result.heads.push_back(m_nodes[h].entry.hash);
      }
      m_result.ts = std::max(m_result.ts, m_nodes[h].entry.ts);
    }
  }

  // L of the virtual entry whose parents are the heads (vault-2-replay.md §1), over every node.
  std::vector<std::size_t> linearization() const
  {
    std::vector<std::size_t> out;
    std::vector<char> in(m_nodes.size(), 0);
    const auto append_new = [&](std::size_t from) {
      std::vector<std::size_t> found;
      std::vector<std::size_t> stack;
      if (!in[from]) {
        stack.push_back(from);
        in[from] = 2;
      }
      while (!stack.empty()) {
        const std::size_t n = stack.back();
        stack.pop_back();
        found.push_back(n);
        for (const std::size_t p : m_nodes[n].parents) {
          if (!in[p]) {
            in[p] = 2;
            stack.push_back(p);
          }
        }
      }
      std::sort(found.begin(), found.end()); // file order
      for (const std::size_t n : found) {
        in[n] = 1;
        out.push_back(n);
      }
    };
    // L(e) = L(p1) ++ new(p2) ++ … ++ [e]: walk the first-parent chain down, then build upwards.
    const auto build = [&](const std::vector<std::size_t>& parents) {
      if (parents.empty()) {
        return;
      }
      std::vector<std::size_t> chain;
      for (std::size_t n = parents[0]; !in[n];) {
        chain.push_back(n);
        if (m_nodes[n].parents.empty()) {
          break;
        }
        n = m_nodes[n].parents[0];
      }
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const std::vector<std::size_t>& ps = m_nodes[*it].parents;
        for (std::size_t i = 1; i < ps.size(); ++i) {
          append_new(ps[i]);
        }
        in[*it] = 1;
        out.push_back(*it);
      }
      for (std::size_t i = 1; i < parents.size(); ++i) {
        append_new(parents[i]);
      }
    };
    build(m_heads);
    // Nodes no head reaches (rejected branches) follow in file order, so each is visited.
    for (std::size_t n = 0; n < m_nodes.size(); ++n) {
      if (!in[n]) {
        out.push_back(n);
      }
    }
    return out;
  }

  void finish()
  {
    std::stable_sort(m_result.findings.begin(), m_result.findings.end(), [](const Finding& a, const Finding& b) {
      if (a.file != b.file) {
        return a.file < b.file;
      }
      return a.line < b.line;
    });
    if (m_from != nullptr) {
      m_result.entries += m_from->entries;
    }
  }

  const ReplayOptions& m_options;
  const Snapshot* m_from;
  const OpenChoices* m_open = nullptr;
  std::optional<MergeCheck> m_open_merge;
  ReplayResult m_result;
  std::vector<std::pair<std::size_t, std::string_view>> m_lines;
  std::vector<std::optional<Entry>> m_parsed; // by line index, taken by pass 1
  std::vector<std::size_t> m_parse_starts;    // the first line of each parse batch, increasing
  std::set<Hash> m_lost;
  std::set<Hash> m_unreadable; // claimed hashes of lines that were not accepted in pass 1
  std::optional<VaultId> m_expected_vault;
  std::vector<Node> m_nodes;
  std::unordered_map<Hash, std::size_t, HashKey> m_index;
  std::vector<SignatureJob> m_jobs;
  std::vector<std::optional<State>> m_after;
  std::vector<std::size_t> m_uses;
  std::vector<std::size_t> m_heads;
  std::size_t m_genesis = k_none;
  std::set<Hash> m_voided; // operations strong remove voided at a merge: void in every later one
  // The resolve entry being judged: the voids its merge honoured, and why it is refused (if so).
  // The state after each resolve entry that settled a rotation race or kept a rotation exposed
  // (by node id): what a later merge's common state starts from (merge()'s base).
  std::map<std::size_t, State> m_settled;
  bool m_merge_settled = false; // the last merge() used a settled prefix on a side
  std::vector<Hash> m_resolve_voids;
  std::optional<std::string> m_resolve_refusal;
  // Last: destroyed first, so that no worker outlives what its work reads (m_lines, m_parsed,
  // m_jobs, m_nodes) when the replay throws.
  std::unique_ptr<Batches> m_parsing;
  std::unique_ptr<Batches> m_signatures;
};

} // namespace

std::string_view finding_kind_name(FindingKind kind)
{
  switch (kind) {
  case FindingKind::torn_write: return "torn-write";
  case FindingKind::malformed_entry: return "malformed-entry";
  case FindingKind::modified_entry: return "modified-entry";
  case FindingKind::malformed_operation: return "malformed-operation";
  case FindingKind::duplicate_entry: return "duplicate-entry";
  case FindingKind::deleted_entry: return "deleted-entry";
  case FindingKind::reordered_entries: return "reordered-entries";
  case FindingKind::foreign_entry: return "foreign-entry";
  case FindingKind::truncated_tail: return "truncated-tail";
  case FindingKind::head_behind: return "head-behind";
  case FindingKind::unknown_author: return "unknown-author";
  case FindingKind::removed_author: return "removed-author";
  case FindingKind::forged_signature: return "forged-signature";
  case FindingKind::dated_before_parent: return "dated-before-parent";
  case FindingKind::future_dated: return "future-dated";
  case FindingKind::unauthorised_operation: return "unauthorised-operation";
  case FindingKind::wrong_writes: return "wrong-writes";
  case FindingKind::conflict: return "conflict";
  case FindingKind::unresolved_conflict: return "unresolved-conflict";
  case FindingKind::voided_by_removal: return "voided-by-removal";
  case FindingKind::malformed_file: return "malformed-file";
  case FindingKind::key_line_missing: return "key-line-missing";
  case FindingKind::key_line_modified: return "key-line-modified";
  case FindingKind::key_line_unknown: return "key-line-unknown";
  case FindingKind::garbage_key_line: return "garbage-key-line";
  }
  return "malformed-entry";
}

Severity severity_of(FindingKind kind)
{
  switch (kind) {
  case FindingKind::torn_write:
  case FindingKind::voided_by_removal:
  case FindingKind::garbage_key_line:
  // A line no operation wrote is never read (every read goes through a K the state names), and a
  // writer killed between its keys write and its journal append (the commit point, D7) leaves
  // exactly such lines: an error would make a crash break the vault. The next write removes it.
  case FindingKind::key_line_unknown: return Severity::warning;
  case FindingKind::head_behind: return Severity::info;
  case FindingKind::conflict: return Severity::conflict;
  default: return Severity::error;
  }
}

std::string format_finding(const Finding& f, const FileNames& names)
{
  std::string out = f.file == VaultFile::journal ? names.journal : f.file == VaultFile::head ? names.head : names.keys;
  if (f.line > 0) {
    out += fmt::format(": line {}", f.line);
  }
  if (f.entry) {
    out += fmt::format(": entry {}", short_hash(*f.entry));
    if (!f.action.empty() && !f.actor.empty()) {
      out += fmt::format(" ({} by {})", f.action, f.actor);
    } else if (!f.action.empty()) {
      out += fmt::format(" ({})", f.action);
    }
  }
  out += ": ";
  out += f.reason;
  return Error::one_line(std::move(out));
}

void verify_signatures(std::span<SignatureJob> jobs)
{
  // One thread: the replay's batches (batches.hpp) already spread the jobs over two.
  for (SignatureJob& job : jobs) {
    // The hash was checked against the content by parse_entry: only the signature is left.
    job.ok = job.entry != nullptr
             && crypto::verify(labels::k_entry_sig, ByteView(job.entry->hash.data(), job.entry->hash.size()),
                               ByteView(job.entry->sig.data(), job.entry->sig.size()),
                               ByteView(job.key.data(), job.key.size()));
  }
}

bool ReplayResult::has_errors() const
{
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity() == Severity::error; });
}

bool ReplayResult::has_conflicts() const
{
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity() == Severity::conflict; });
}

const Finding* ReplayResult::first_problem() const
{
  for (const Severity wanted : {Severity::error, Severity::conflict}) {
    for (const Finding& f : findings) {
      if (f.severity() == wanted) {
        return &f;
      }
    }
  }
  return nullptr;
}

void ReplayResult::require_ok(const FileNames& names) const
{
  if (needs_full_replay) {
    fail(ErrorKind::failed, "{}: the new entries continue from older ones: the whole journal must be replayed",
         names.journal);
  }
  const Finding* first = first_problem();
  if (first == nullptr) {
    return;
  }
  const std::size_t problems = static_cast<std::size_t>(std::count_if(findings.begin(), findings.end(), [](const Finding& f) {
    return f.severity() == Severity::error || f.severity() == Severity::conflict;
  }));
  Error error(first->severity() == Severity::error ? ErrorKind::integrity : ErrorKind::failed, format_finding(*first, names));
  if (problems > 1) {
    error.hint(fmt::format("{} problems in all: escrow verify lists them", problems));
  }
  throw error;
}

Snapshot ReplayResult::snapshot() const
{
  return Snapshot{state, heads, ts, entries, lines};
}

OpenMergeReplay replay_open_merge(std::string_view journal, const OpenChoices& choices)
{
  const ReplayOptions options;
  Replayer replayer(options, nullptr, &choices);
  OpenMergeReplay out;
  out.result = replayer.run(journal);
  out.check = replayer.take_open_merge();
  return out;
}

ReplayResult replay(std::string_view journal, const ReplayOptions& options)
{
  Replayer replayer(options, nullptr);
  return replayer.run(journal);
}

ReplayResult replay_from(const Snapshot& from, std::string_view tail, const ReplayOptions& options)
{
  if (from.heads.empty()) {
    fail(ErrorKind::failed, "replay_from: the snapshot has no heads");
  }
  Replayer replayer(options, &from);
  return replayer.run(tail);
}

// ---- verify_vault ----

namespace {

// Every key line the state names: line key -> K.
std::map<std::string, Hash> referenced_lines(const State& state)
{
  std::map<std::string, Hash> out;
  const auto put = [&out](const KeyLine& line, const Hash& k) { out.emplace(line_key(line, k), k); };
  for (const auto& [name, secret] : state.secrets) {
    for (const auto& [gen, g] : secret->gens) {
      for (const auto& [member, k] : g.holders) {
        put(KeyLine{KeyLineKind::reader, name, gen, {}, member, {}}, k);
      }
    }
    for (const auto& [vid, version] : secret->versions) {
      put(KeyLine{KeyLineKind::value, name, 0, vid, {}, {}}, version.material);
      if (version.race_gen) {
        for (const auto& [member, k] : version.race_gen->holders) {
          put(KeyLine{KeyLineKind::reader, name, version.gen, {}, member, {}}, k);
        }
      }
      for (const auto& [custodian, k] : version.shares) {
        put(KeyLine{KeyLineKind::share, name, 0, vid, custodian, {}}, k);
      }
      for (const auto& [member, grant] : version.grants) {
        put(KeyLine{KeyLineKind::grant, name, 0, vid, member, {}}, grant.key);
      }
    }
    for (const auto& [id, request] : secret->requests) {
      for (const auto& [approver, approval] : request.approvals) {
        put(KeyLine{KeyLineKind::approval, name, 0, approval.vid, approver, id}, approval.share);
      }
    }
  }
  return out;
}

} // namespace

namespace {

// The key lines among `wanted` that an accepted operation wrote. Only the journal lines that can
// name one are parsed (a write of key line KEY holds the text "k:KEY" verbatim: a line key has no
// character JSON escapes), so the usual case, no such line, reads nothing.
std::set<std::string> written_key_lines(const std::set<std::string, std::less<>>& wanted, std::string_view journal,
                                        const ReplayResult& replay)
{
  std::set<std::string> written;
  const std::set<Hash> accepted(replay.order.begin(), replay.order.end());
  static constexpr std::string_view marker = "\"k:";
  std::size_t checked_to = 0; // the journal lines before it were parsed already
  for (std::size_t at = journal.find(marker); at != std::string_view::npos; at = journal.find(marker, at + 1)) {
    const std::size_t begin = at + marker.size();
    const std::size_t quote = journal.find('"', begin);
    if (quote == std::string_view::npos || wanted.count(journal.substr(begin, quote - begin)) == 0 || at < checked_to) {
      continue;
    }
    const std::size_t line_begin = at == 0 ? 0 : journal.rfind('\n', at) + 1;
    const std::size_t line_end = journal.find('\n', at);
    if (line_end == std::string_view::npos) {
      break; // a torn last line: not an entry
    }
    checked_to = line_end;
    try {
      const Entry e = parse_entry(journal.substr(line_begin, line_end - line_begin), "entry");
      if (accepted.count(e.hash) > 0) {
        add_written_key_lines(e, written);
      }
    } catch (const Error&) {
    }
  }
  return written;
}

void sort_findings(std::vector<Finding>& findings)
{
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    if (a.file != b.file) {
      return a.file < b.file;
    }
    return a.line < b.line;
  });
}

} // namespace

void add_written_key_lines(const Entry& entry, std::set<std::string>& lines)
{
  if (!entry.op) {
    return;
  }
  for (const Write& w : entry.op->writes) {
    if (w.path.rfind("k:", 0) == 0 && w.after) {
      lines.insert(w.path.substr(2));
    }
  }
}

// The keys file against the verified state, in one pass over its lines (each decoded and hashed
// once, keys_file.hpp for_each_hash) merged with the sorted lines the state names.
std::size_t check_keys_file(const State& state, const KeysFile& keys, const WrittenKeyLines& written,
                            std::vector<Finding>& findings)
{
  const auto keys_finding = [](std::vector<Finding>& to, FindingKind kind, std::size_t line, std::string reason) {
    to.push_back(Finding{kind, VaultFile::keys, line, std::nullopt, {}, {}, std::move(reason), std::nullopt});
  };
  if (keys.vault_id() != state.vault_id && state.initialised) {
    keys_finding(findings, FindingKind::foreign_entry, 0, "the keys file belongs to another vault than the journal");
    return 0;
  }
  std::vector<Finding> found; // kept only when the whole file reads (else: malformed-file alone)
  std::vector<std::pair<std::size_t, std::string>> unreferenced; // line, key
  std::size_t count = 0;
  try {
    const std::map<std::string, Hash> referenced = referenced_lines(state);
    auto next = referenced.begin();
    const auto missing = [&](const std::string& key) {
      keys_finding(found, FindingKind::key_line_missing, 0, fmt::format("{} is missing", key));
    };
    std::size_t line = 4; // after "{", the format line and "\"lines\": {"
    // Both in strictly increasing byte order (std::string's operator< is memcmp's). A large file's
    // lines are decoded and hashed on two threads (KeysFile::for_each_hash), visited here in order.
    keys.for_each_hash([&](std::string_view key, const LineHash& k) {
      for (; next != referenced.end() && std::string_view(next->first) < key; ++next) {
        missing(next->first);
      }
      if (next != referenced.end() && next->first == key) {
        if (next->second != k) {
          keys_finding(found, FindingKind::key_line_modified, 0,
                       fmt::format("{} does not hash to what the journal says", next->first));
        }
        ++next;
      } else {
        unreferenced.emplace_back(line, std::string(key));
      }
      ++line;
      ++count;
    });
    for (; next != referenced.end(); ++next) {
      missing(next->first);
    }
  } catch (const Error& error) {
    keys_finding(findings, FindingKind::malformed_file, 0, error.what());
    return count;
  }
  if (!unreferenced.empty()) {
    std::set<std::string, std::less<>> wanted;
    for (const auto& [line, key] : unreferenced) {
      wanted.insert(key);
    }
    const std::set<std::string> written_lines = written(wanted);
    for (const auto& [line, key] : unreferenced) {
      if (written_lines.count(key) > 0) {
        keys_finding(findings, FindingKind::garbage_key_line, line, fmt::format("{} is no longer used (garbage)", key));
      } else {
        keys_finding(findings, FindingKind::key_line_unknown, line,
                     fmt::format("{} was written by no operation (an interrupted write, or added by hand): never "
                                 "read; the next write removes it",
                                 key));
      }
    }
  }
  findings.insert(findings.end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
  return count;
}

namespace {

void check_keys(VerifiedVault& out, std::string_view journal, const KeysFile& keys)
{
  out.key_lines = check_keys_file(
      out.replay.state, keys,
      [&](const std::set<std::string, std::less<>>& wanted) { return written_key_lines(wanted, journal, out.replay); },
      out.replay.findings);
}

} // namespace

VerifiedVault verify_vault(std::string_view head_text, std::string_view journal, const KeysFile* keys,
                           const ReplayOptions& options)
{
  VerifiedVault out;
  std::optional<Finding> head_problem;
  try {
    out.head = parse_head_file(head_text, "head");
  } catch (const Error& error) {
    std::string reason = error.what();
    if (reason.rfind("head: ", 0) == 0) {
      reason.erase(0, 6);
    }
    head_problem = Finding{FindingKind::malformed_file, VaultFile::head, 0, std::nullopt, {}, {}, std::move(reason), std::nullopt};
  }
  ReplayOptions with_head = options;
  with_head.head = out.head ? &*out.head : nullptr;
  out.replay = replay(journal, with_head);
  if (head_problem) {
    out.replay.findings.push_back(std::move(*head_problem));
  }
  if (keys != nullptr) {
    check_keys(out, journal, *keys);
  }
  sort_findings(out.replay.findings);
  return out;
}

VerifiedVault verify_vault(HeadFile head, std::string_view journal, ReplayResult replayed, const KeysFile* keys)
{
  VerifiedVault out;
  out.head = std::move(head);
  out.replay = std::move(replayed);
  if (keys != nullptr) {
    check_keys(out, journal, *keys);
  }
  sort_findings(out.replay.findings);
  return out;
}

} // namespace escrow::history
