// The rotation engine on escrow-vault/2 (v2.hpp; the protocol: docs/ROTATION.md), with the state
// and the key material of history::VaultSession and its operations as the commits.
#include <escrow/error.hpp>
#include <escrow/generator.hpp>
#include <escrow/history/admin.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/material.hpp>
#include <escrow/history/refusal.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/redact.hpp>
#include <escrow/rotation/outcome.hpp>
#include <escrow/rotation/v2.hpp>
#include <escrow/util/text.hpp>

#include <algorithm>
#include <iterator>
#include <map>

namespace escrow::rotation::v2 {

using history::Secret;
using history::State;
using history::Version;
using history::RotationKind;
using history::k_max_value_size;
using util::join;

namespace {

std::string full_name(const std::string& name)
{
  const auto [env, short_name] = split_secret_name(name);
  return env + "/" + short_name;
}

history::Recipient recipient(const State& state, const std::string& name)
{
  const history::Member* m = state.member(name);
  if (m == nullptr) {
    fail(ErrorKind::integrity, "{}: a reader of the state is not a member", name);
  }
  return history::Recipient{m->name, m->box_pk};
}

// Alternating roles: the versions before it that did not fail, modulo 2 (connectors/alternation).
int slot_of(const Secret& secret, std::int64_t version)
{
  std::int64_t before = 0;
  for (const auto& [id, v] : secret.versions) {
    if (v.v < version && v.state != VersionState::failed) {
      ++before;
    }
  }
  return static_cast<int>(before % 2);
}

} // namespace

const Version* live_version(const Secret& secret, std::string* vid)
{
  if (const Version* current = secret.find_state(VersionState::current, vid)) {
    return current;
  }
  const Version* newest = nullptr;
  for (const auto& [id, version] : secret.versions) {
    if (version.state == VersionState::compromised && (newest == nullptr || version.v > newest->v)) {
      newest = &version;
      if (vid != nullptr) {
        *vid = id;
      }
    }
  }
  return newest;
}

std::optional<std::string> due_reason(const State& state, const Secret& secret, Timestamp now)
{
  // The one rule (history::due_for_rotation), which audit report lists too.
  if (auto due = history::due_for_rotation(state, secret, now)) {
    return std::move(due->reason);
  }
  return std::nullopt;
}

bool may_rotate(const State& state, const std::string& member, const Secret& secret)
{
  if (!history::reaches(state, member, secret.env)) {
    return false;
  }
  return member == secret.owner || history::has_role(state, member, Role::rotator);
}

struct Rotator::Run
{
  std::string name;
  std::string env;
  RotationKind kind = RotationKind::rotate;
  std::string vid_new;
  std::string vid_old; // the live version whose value old_value holds ("" = none read)
  std::int64_t v_new = 0;
  std::int64_t v_old = 0;
  std::optional<SecretBytes> new_value;
  std::optional<SecretBytes> old_value;
  std::map<std::string, SecretBytes> auth; // auth secret ENV/NAME → its current value
  std::set<std::string> confirmed;
  bool resuming = false; // unknown which connectors hold what: every command connector counts
  bool cancel = false;   // rollback of a rotation in flight: undoing it is the goal
  bool tested = false;   // set and tested, not yet finished (Finish::later: the batched finish)
  Outcome out;

  void stamp()
  {
    out.secret = name;
    out.env = env;
    out.version = v_new;
    out.previous_version = v_old;
  }
  Redactor redactor() const
  {
    Redactor redactor;
    if (new_value) {
      redactor.add(label(name, v_new), *new_value);
    }
    if (old_value) {
      redactor.add(label(name, v_old), *old_value);
    }
    for (const auto& [secret, value] : auth) {
      redactor.add(secret + " (auth)", value);
    }
    return redactor;
  }
  connector::Invocation invocation_for(const ConnectorRecord& connector, connector::Invocation base) const
  {
    if (!connector.auth_secret.empty()) {
      const auto it = auth.find(connector.auth_secret);
      base.auth = it != auth.end() ? &it->second : nullptr;
    }
    return base;
  }
};

// A rotation prepared for phase 1: its run (the new value in locked memory), its rotate-start item
// and the key lines the item adds.
struct Rotator::Start
{
  Run run;
  history::RotateItem item;
  history::Material material;
  std::size_t slot = 0; // rotate --due: its place among the outcomes
};

Rotator::Rotator(history::VaultSession& session, Options options) : m_session(session), m_options(std::move(options))
{
}

void Rotator::progress(const std::string& line) const
{
  if (m_options.progress) {
    m_options.progress(line);
  }
}

const Secret& Rotator::secret(const std::string& name, std::string_view what) const
{
  return history::find_secret(m_session.state(), name, what);
}

std::vector<ConnectorRecord> Rotator::connectors_of(const Secret& secret) const
{
  std::vector<ConnectorRecord> out;
  for (const std::string& name : secret.connectors) {
    const history::Connector* c = m_session.state().connector(name);
    if (c == nullptr) {
      fail(ErrorKind::integrity, "{} is bound to connector {}, which does not exist", secret.name, name);
    }
    if (c->env != secret.env) {
      fail(ErrorKind::integrity, "{} is bound to connector {} of environment {} (environments never mix)", secret.name,
           name, c->env);
    }
    out.push_back(history::connector_record(*c));
  }
  return out;
}

connector::Invocation Rotator::invocation(const Run& run, std::int64_t version, std::int64_t previous,
                                          connector::Action action) const
{
  const Secret& s = secret(run.name, "rotate");
  connector::Invocation out{run.name, run.env, version, previous, action};
  // Alternating roles (connectors/alternation.cpp): every connector learns the version's slot
  // and the role the secret's connector with alternating roles gives it.
  out.slot = slot_of(s, version);
  for (const ConnectorRecord& record : connectors_of(s)) {
    if (!record.alternate_role.empty()) {
      out.role = connector::role_for_slot(record, out.slot);
      break;
    }
  }
  return out;
}

std::vector<std::string> Rotator::who_can_rotate(const Secret& secret) const
{
  std::vector<std::string> out;
  const State& state = m_session.state();
  for (const auto& [name, member] : state.members) {
    if (may_rotate(state, name, secret)) {
      out.push_back(name);
    }
  }
  return out;
}

SecretBytes Rotator::read_value(const std::string& name, const std::string& vid, std::string_view what)
{
  const Secret& s = secret(name, what);
  const Version* version = s.find(vid);
  if (version == nullptr) {
    fail(ErrorKind::integrity, "{}: {} has no version {}", what, name, vid);
  }
  return history::open_version(m_session, s, vid, *version, what).value;
}

void Rotator::read_auth(Run& run)
{
  struct Read
  {
    std::string secret;
    Json detail;
    SecretBytes value;
  };
  std::vector<Read> reads;
  const Secret& s = secret(run.name, "rotate");
  for (const ConnectorRecord& connector : connectors_of(s)) {
    if (connector.auth_secret.empty() || !connector::driver_for(connector).pushes()) {
      continue;
    }
    if (connector.auth_secret == run.name) {
      throw Error(ErrorKind::usage, fmt::format("rotate: connector {} logs in with {} itself, so a failed rotation "
                                                "could not log in to roll it back; nothing was changed",
                                                connector.name, run.name))
        .hint("give the connector another credential: escrow connector add NAME ... --auth-secret ENV/OTHER");
    }
    const bool read_already =
      run.auth.count(connector.auth_secret) > 0
      || std::any_of(reads.begin(), reads.end(), [&](const Read& read) { return read.secret == connector.auth_secret; });
    if (read_already) {
      continue;
    }
    const std::string me = m_session.me().name;
    const auto refused = [&](const std::string& why) {
      return Error(ErrorKind::access, fmt::format("rotate {}: {} cannot read {}, the credential of connector {}{}; "
                                                  "no connector ran and nothing was changed",
                                                  run.name, me, connector.auth_secret, connector.name, why))
        .hint(fmt::format("its owner can give standing access: escrow share {} --with {}", connector.auth_secret, me));
    };
    const Secret* auth = m_session.state().secret(connector.auth_secret);
    std::string vid;
    const Version* current = auth != nullptr ? auth->find_state(VersionState::current, &vid) : nullptr;
    if (current == nullptr) {
      throw refused(" (it has no current version)");
    }
    Json detail{{"secret", auth->name}, {"version", current->v}, {"into", "connector-auth"},
                {"connector", connector.name}, {"for", run.name}};
    history::Opened opened;
    try {
      opened = history::journaling_refusal(m_session, history::EventKind::reveal, detail, [&] {
        return history::open_version(m_session, *auth, vid, *current, "rotate");
      });
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::access) {
        throw;
      }
      throw refused("");
    }
    detail["via"] = opened.via;
    if (!opened.request.empty()) {
      detail["request"] = opened.request;
    }
    reads.push_back(Read{auth->name, std::move(detail), std::move(opened.value)});
  }
  // Journaled as reads of whoever rotates (one event per credential), before any connector runs.
  for (Read& read : reads) {
    m_session.record(history::EventKind::reveal, history::Result::ok, read.detail);
    run.auth.emplace(read.secret, std::move(read.value));
  }
}

Outcome Rotator::rotate(const std::string& name)
{
  const std::string full = full_name(name);
  const Secret& s = secret(full, "rotate");
  const auto reason = due_reason(m_session.state(), s, m_session.now());
  return begin_and_drive(full, !m_options.why.empty() ? m_options.why : reason ? *reason : "on request");
}

Outcome Rotator::begin_and_drive(const std::string& name, const std::string& reason)
{
  std::vector<Start> starts;
  starts.push_back(prepare(name, reason));
  phase_one(fmt::format("rotate-start {} v{} ({})", name, starts.front().run.v_new, reason),
            [&] { write_starts(starts, reason); });
  return drive(starts.front().run);
}

Rotator::Start Rotator::prepare(const std::string& name, const std::string& reason)
{
  const State& state = m_session.state();
  const Secret& s = secret(name, "rotate");
  const std::string me = m_session.me().name;
  if (!may_rotate(state, me, s)) {
    const Json detail{{"secret", name}};
    history::journaling_refusal(m_session, history::OpKind::rotate_start, detail, [&]() -> int {
      throw Error(ErrorKind::access, fmt::format("rotate: only the owner ({}) or a rotator of {} may rotate {} "
                                                 "(admins do not see values)",
                                                 s.owner, s.env, name));
    });
  }
  if (s.state != SecretState::active) {
    fail(ErrorKind::usage, "rotate: {} is retired", name);
  }
  if (s.rotation) {
    const Version* pending = s.find(s.rotation->vid);
    throw Error(ErrorKind::failed, fmt::format("rotate: {} already has a pending v{} (a rotation awaiting "
                                               "confirmation or left by an interrupted run)",
                                               name, pending != nullptr ? pending->v : 0))
      .hint("escrow rotate --resume " + name + " finishes it; escrow rollback " + name + " cancels it");
  }
  const std::vector<ConnectorRecord> connectors = connectors_of(s);
  const bool command_connectors = std::any_of(connectors.begin(), connectors.end(), [](const ConnectorRecord& c) {
    return connector::driver_for(c).pushes();
  });
  Start start;
  Run& run = start.run;
  run.name = name;
  run.env = s.env;
  run.kind = RotationKind::rotate;
  std::string live_vid;
  const Version* live = live_version(s, &live_vid);
  run.v_old = live != nullptr ? live->v : 0;
  run.v_new = s.max_v() + 1;
  if (command_connectors && live != nullptr) {
    // The old value is what a failure re-applies: without it there is no safe rollback.
    try {
      run.old_value = read_value(name, live_vid, "rotate");
      run.vid_old = live_vid;
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::access) {
        throw;
      }
      throw Error(ErrorKind::access,
                  fmt::format("rotate: {} cannot read {} v{}, which a failed rotation must re-apply to its "
                              "connectors; nothing was changed",
                              me, name, live->v))
        .hint(fmt::format("the owner ({}) can give standing access: escrow share {} --with {}", s.owner, name, me));
    }
  }
  const std::string spec = m_options.generate ? *m_options.generate
                           : s.generator.empty() ? std::string(k_default_generator)
                                                 : s.generator;
  const GeneratorSpec parsed = parse_generator(spec); // Error(usage) before anything runs
  SecretBytes value;
  if (m_options.value != nullptr) {
    value = m_options.value->clone();
  } else {
    Generated generated = run_generator(parsed, name, s.env, run.v_new);
    if (!generated.problem.empty()) {
      m_session.record(history::OpKind::rotate_start, history::Result::failed,
                       Json{{"secret", name}, {"stage", "generate"}, {"error", generated.problem},
                            {"output", generated.said}});
      fail(ErrorKind::failed, "rotate {}: the generator ({}) failed: {}{}", name,
           connector::one_line(parsed.command, 60), generated.problem,
           generated.said.empty() ? "" : ": " + generated.said);
    }
    value = std::move(generated.value);
  }
  if (value.empty()) {
    fail(ErrorKind::usage, "rotate {}: the new value is empty", name);
  }
  if (value.size() > k_max_value_size) {
    fail(ErrorKind::usage, "rotate {}: the new value is larger than {} bytes", name, k_max_value_size);
  }
  // A new value equal to the current one is refused (docs/ROTATION.md): the current value is read
  // for the comparison when no connector needed it already; a rotator who cannot read it cannot
  // compare.
  std::optional<SecretBytes> current;
  if (!run.old_value && live != nullptr) {
    try {
      current = read_value(name, live_vid, "rotate");
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::access) {
        throw;
      }
    }
  }
  const SecretBytes* old_value = run.old_value ? &*run.old_value : current ? &*current : nullptr;
  if (old_value != nullptr && old_value->size() == value.size() && old_value->equals(value)) {
    fail(ErrorKind::failed, "rotate {}: the new value is the same as v{}; nothing was changed", name, run.v_old);
  }
  // The connectors' own credentials: a rotator who cannot read one is refused here, before
  // anything is written or run.
  read_auth(run);

  // A new generator given with --generate is kept for later rotations (owner or admin: the rules).
  if (m_options.generate && m_options.value == nullptr) {
    const std::string described = describe(parsed);
    const Secret& now = secret(name, "rotate");
    if (described != now.generator) {
      history::journaling_refusal(m_session, history::OpKind::secret_set, Json{{"secret", name}}, [&] {
        history::SecretSetArgs args;
        args.secret = name;
        args.generator = described;
        m_session.submit(std::move(args));
        return 0;
      });
    }
  }

  // The rotate-start item and its key lines (phase 1 writes them: write_starts).
  progress(fmt::format("{}: creating v{}", name, run.v_new));
  {
    const State& st = m_session.state();
    const Secret& sec = secret(name, "rotate");
    const history::SecretRef ref{m_session.vault_id(), name};
    const std::int64_t gen = sec.max_gen() + 1;
    const history::ReaderKey reader_key = history::new_generation(ref, static_cast<std::uint32_t>(gen));
    history::SealedVersion sealed = history::seal_value(ref, reader_key, value);
    history::RotateItem& item = start.item;
    item.kind = RotationKind::rotate;
    item.secret = name;
    item.vid = sealed.vid.hex();
    item.v = run.v_new;
    item.gen = gen;
    item.new_gen_rk_commit = reader_key.commit;
    item.dk_commit = sealed.commit;
    item.custodians = sec.custodians;
    item.threshold = sec.threshold;
    item.why = reason;
    history::Material& material = start.material;
    const std::set<std::string> readers = history::standing_readers(st, sec);
    for (const std::string& reader : readers) {
      material.lines.push_back(history::seal_reader_key(ref, reader_key, recipient(st, reader)));
    }
    material.lines.push_back(sealed.value_line);
    if (!sec.custodians.empty()) {
      std::vector<history::Recipient> custodians;
      for (const std::string& custodian : sec.custodians) {
        custodians.push_back(recipient(st, custodian));
      }
      for (history::SealedLine& line : history::seal_shares(ref, sealed.vid, sealed.data_key,
                                                            static_cast<unsigned>(sec.threshold), custodians)) {
        material.lines.push_back(std::move(line));
      }
    }
    // Active grants carry over (one per member), except one whose use made this rotation due.
    std::map<std::string, std::string> grants; // member -> request
    for (const auto& [id, request] : sec.requests) {
      if (readers.count(request.by) > 0 || grants.count(request.by) > 0 || (sec.after_access && request.used_at)) {
        continue;
      }
      if (history::grant_active(st, sec, request, m_session.now()) && history::reaches(st, request.by, sec.env)) {
        grants[request.by] = id;
      }
    }
    for (const auto& [member, request] : grants) {
      item.grants.push_back(history::GrantRef{member, request});
      material.lines.push_back(history::seal_grant(ref, sealed.vid, sealed.data_key, recipient(st, member)));
    }
    run.vid_new = item.vid;
  }
  run.new_value = std::move(value);
  run.out.action = OutcomeAction::rotate;
  run.out.reason = reason;
  return start;
}

std::vector<std::pair<std::size_t, std::size_t>> bulk_chunks(const std::vector<BulkLoad>& loads)
{
  constexpr std::size_t k_max_bytes = history::k_max_entry_line / 2;
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t from = 0;
  while (from < loads.size()) {
    std::size_t to = from;
    BulkLoad total;
    while (to < loads.size() && to - from < history::k_max_items) {
      const BulkLoad& load = loads[to];
      if (to > from && (total.writes + load.writes > history::k_max_writes || total.bytes + load.bytes > k_max_bytes)) {
        break;
      }
      total.writes += load.writes;
      total.bytes += load.bytes;
      ++to;
    }
    out.emplace_back(from, to);
    from = to;
  }
  return out;
}

namespace {

// A write's JSON: its path (the secret's name and ~100 bytes of ids) and the line's hash.
std::size_t write_bytes(const std::string& secret)
{
  return 192 + secret.size();
}

// The refusal event's facts for a bulk entry (a fact lists at most 256 strings).
template<typename Item>
Json bulk_detail(const std::vector<Item>& items)
{
  if (items.size() == 1) {
    return Json{{"secret", items.front().secret}};
  }
  Json names = Json::array();
  for (std::size_t i = 0; i < items.size() && i < 256; ++i) {
    names.push_back(items[i].secret);
  }
  return Json{{"secrets", std::move(names)}, {"items", items.size()}};
}

// Every key line a secret's versions, generations and approvals name: what a finish's retention
// can delete at most.
std::size_t key_lines_of(const Secret& secret)
{
  std::size_t n = 0;
  for (const auto& [vid, version] : secret.versions) {
    n += 1 + version.shares.size() + version.grants.size();
  }
  for (const auto& [g, gen] : secret.gens) {
    n += gen.holders.size();
  }
  for (const auto& [id, request] : secret.requests) {
    n += request.approvals.size();
  }
  return n;
}

} // namespace

// 1. create: the rotate-start of every prepared rotation — one entry (several only beyond the
// bulk limits), its key lines written with it — durable before any connector runs.
void Rotator::write_starts(std::vector<Start>& starts, const std::optional<std::string>& why)
{
  std::sort(starts.begin(), starts.end(), [](const Start& a, const Start& b) { return a.item.secret < b.item.secret; });
  std::vector<BulkLoad> loads;
  loads.reserve(starts.size());
  for (const Start& start : starts) {
    const history::RotateItem& item = start.item;
    std::size_t bytes = 512 + item.secret.size() + item.why.size() + start.material.lines.size() * write_bytes(item.secret);
    for (const std::string& custodian : item.custodians) {
      bytes += custodian.size() + 4;
    }
    for (const history::GrantRef& grant : item.grants) {
      bytes += grant.member.size() + grant.request.size() + 32;
    }
    loads.push_back(BulkLoad{start.material.lines.size(), bytes});
  }
  for (const auto& [from, to] : bulk_chunks(loads)) {
    history::RotateStartArgs args;
    history::Material material;
    for (std::size_t i = from; i < to; ++i) {
      args.items.push_back(starts[i].item);
      std::move(starts[i].material.lines.begin(), starts[i].material.lines.end(), std::back_inserter(material.lines));
      starts[i].material.lines.clear();
    }
    const Json detail = bulk_detail(args.items);
    history::journaling_refusal(m_session, history::OpKind::rotate_start, detail, [&] {
      m_session.submit(std::move(args), material, why);
      return 0;
    });
  }
}

void Rotator::phase_one(const std::string& what, const std::function<void()>& write)
{
  Publisher* publisher = m_options.publisher;
  if (publisher == nullptr) {
    write();
    return;
  }
  publisher->begin(m_session);
  try {
    write();
  } catch (...) {
    publisher->settle(); // refused or failed before anything to publish: what it wrote stays
    throw;
  }
  publisher->publish(m_session, what); // rejected: phase 1 undone, Error(io), no connector runs
}

Outcome Rotator::drive(Run& run, Finish when)
{
  Outcome& out = run.out;
  run.stamp();
  const std::vector<ConnectorRecord> connectors = connectors_of(secret(run.name, "rotate"));
  std::vector<const ConnectorRecord*> commands;
  std::vector<const ConnectorRecord*> manuals;
  for (const ConnectorRecord& connector : connectors) {
    (connector::driver_for(connector).pushes() ? commands : manuals).push_back(&connector);
  }
  const std::vector<std::string> who = who_can_rotate(secret(run.name, "rotate"));
  for (const ConnectorRecord* manual : manuals) {
    if (run.confirmed.count(manual->name) == 0) {
      out.instructions.push_back(paste_instruction(run.name, manual->name, manual, run.v_new, who));
    }
  }
  if (!out.instructions.empty()) {
    // Steps 2-4 wait for a person; the old value stays current meanwhile.
    out.result = OutcomeResult::awaiting_confirmation;
    send(out, "awaiting-confirmation");
    return out;
  }
  const Redactor redactor = run.redactor();
  const connector::Invocation base =
    invocation(run, run.v_new, run.v_old,
               run.kind == RotationKind::rotate ? connector::Action::rotate : connector::Action::rollback);
  // 2. set.
  std::vector<std::string> attempted;
  if (run.resuming) {
    for (const ConnectorRecord* connector : commands) {
      attempted.push_back(connector->name);
    }
  }
  for (const ConnectorRecord* connector : commands) {
    progress(fmt::format("{}: update {} (v{})", run.name, connector->name, run.v_new));
    if (std::find(attempted.begin(), attempted.end(), connector->name) == attempted.end()) {
      attempted.push_back(connector->name);
    }
    out.steps.push_back(connector::run_step(*connector, connector::Step::update, run.invocation_for(*connector, base),
                                            *run.new_value, redactor));
    if (!out.steps.back().ok) {
      journal_step_failure(run, out.steps.back());
      roll_back(run, fmt::format("connector {} {}", connector->name, out.steps.back().describe()), attempted);
      return out;
    }
  }
  // 3. test (manual connectors with a verify command are checked too).
  std::vector<const ConnectorRecord*> checks = commands;
  for (const ConnectorRecord* manual : manuals) {
    if (!manual->verify.empty()) {
      checks.push_back(manual);
    }
  }
  for (const ConnectorRecord* connector : checks) {
    progress(fmt::format("{}: verify {} (v{})", run.name, connector->name, run.v_new));
    out.steps.push_back(connector::run_step(*connector, connector::Step::verify, run.invocation_for(*connector, base),
                                            *run.new_value, redactor));
    if (!out.steps.back().ok) {
      journal_step_failure(run, out.steps.back());
      roll_back(run, fmt::format("connector {} {}", connector->name, out.steps.back().describe()), attempted);
      return out;
    }
  }
  // 4. finish (Finish::later: in the run's one batched rotate-finish).
  run.tested = true;
  if (when == Finish::now) {
    finish({&run});
  }
  return out;
}

// The failed step, as a value-free `rotate-fail` refusal event {secret, vid, version, connector,
// step, cause} before the rollback starts: `audit report` names the connector and the cause from
// it (rotation problems, connectors whose last check failed). Journaling it never stops the
// rollback: the rotate-fail operations that follow record the failure too.
void Rotator::journal_step_failure(const Run& run, const connector::StepResult& step)
{
  const Json detail{{"secret", run.name},
                    {"vid", run.vid_new},
                    {"version", run.v_new},
                    {"connector", step.connector},
                    {"step", std::string(connector::step_name(step.step))},
                    {"cause", connector::one_line(step.describe(), connector::k_kept_output)}};
  try {
    m_session.record(history::OpKind::rotate_fail, history::Result::failed, detail);
  } catch (const Error&) {
    // The rollback matters more than this record; its rotate-fail entries still say it failed.
  }
}

// 4. finish: one rotate-finish for every run that set and tested well (several entries only beyond
// the bulk limits).
void Rotator::finish(const std::vector<Run*>& runs)
{
  std::vector<Run*> sorted = runs;
  std::sort(sorted.begin(), sorted.end(), [](const Run* a, const Run* b) { return a->name < b->name; });
  std::vector<BulkLoad> loads;
  loads.reserve(sorted.size());
  for (const Run* run : sorted) {
    const std::size_t lines = key_lines_of(secret(run->name, "rotate"));
    loads.push_back(BulkLoad{lines, 256 + run->name.size() + lines * write_bytes(run->name)});
  }
  for (const auto& [from, to] : bulk_chunks(loads)) {
    history::RotateFinishArgs args;
    for (std::size_t i = from; i < to; ++i) {
      args.items.push_back(history::FinishItem{sorted[i]->name, sorted[i]->vid_new});
    }
    const Json detail = bulk_detail(args.items);
    history::journaling_refusal(m_session, history::OpKind::rotate_finish, detail, [&] {
      m_session.submit(std::move(args));
      return 0;
    });
  }
  for (Run* run : runs) {
    run->tested = false;
    Outcome& out = run->out;
    out.result = run->kind == RotationKind::rotate ? OutcomeResult::rotated : OutcomeResult::restored;
    progress(out.summary());
    send(out, run->kind == RotationKind::rotate ? "rotated" : "rolled-back");
  }
}

void Rotator::roll_back(Run& run, const std::string& cause, const std::vector<std::string>& attempted)
{
  Outcome& out = run.out;
  const auto fail_item = [&](history::FailResult result) {
    history::journaling_refusal(m_session, history::OpKind::rotate_fail, Json{{"secret", run.name}}, [&] {
      m_session.submit(history::RotateFailArgs{{history::FailItem{run.name, run.vid_new, result}}}, {}, cause);
      return 0;
    });
  };
  // The decision is durable before any connector is touched again: a crash from here on is
  // resumed as a rollback.
  fail_item(history::FailResult::rolling_back);
  const Redactor redactor = run.redactor();
  const connector::Invocation base = invocation(run, run.v_old, run.v_new, connector::Action::restore);
  const std::vector<ConnectorRecord> connectors = connectors_of(secret(run.name, "rotate"));
  const auto find = [&](const std::string& name) -> const ConnectorRecord* {
    for (const ConnectorRecord& c : connectors) {
      if (c.name == name) {
        return &c;
      }
    }
    return nullptr;
  };
  std::vector<std::string> incomplete;
  // Re-apply in reverse order, then verify in the declared order once every connector holds the
  // old value again (a consumer's check passes only when its source of truth is back too).
  std::vector<const ConnectorRecord*> reapplied;
  for (auto it = attempted.rbegin(); it != attempted.rend(); ++it) {
    const ConnectorRecord* connector = find(*it);
    if (connector == nullptr || !run.old_value) {
      incomplete.push_back(*it); // gone, or nothing to re-apply (no live version)
      continue;
    }
    progress(fmt::format("{}: restore {} (v{})", run.name, *it, run.v_old));
    out.steps.push_back(connector::run_step(*connector, connector::Step::update, run.invocation_for(*connector, base),
                                            *run.old_value, redactor));
    if (out.steps.back().ok) {
      reapplied.insert(reapplied.begin(), connector);
    } else {
      incomplete.push_back(*it);
    }
  }
  for (const ConnectorRecord* connector : reapplied) {
    out.steps.push_back(connector::run_step(*connector, connector::Step::verify, run.invocation_for(*connector, base),
                                            *run.old_value, redactor));
    if (!out.steps.back().ok) {
      incomplete.push_back(connector->name);
    }
  }
  // Manual connectors that took the new value need a person to paste the old one back.
  const std::vector<std::string> who = who_can_rotate(secret(run.name, "rotate"));
  for (const auto& name : run.confirmed) {
    const ConnectorRecord* connector = find(name);
    Instruction instruction;
    instruction.connector = name;
    instruction.text = fmt::format("paste v{} back{}", run.v_old,
                                   connector != nullptr && !connector->instructions.empty()
                                     ? " (" + connector->instructions + ")"
                                     : std::string());
    instruction.who = who;
    if (run.v_old > 0) {
      instruction.value_command = fmt::format("escrow get {} --reveal --version {}", run.name, run.v_old);
    }
    out.instructions.push_back(std::move(instruction));
  }
  if (incomplete.empty()) {
    fail_item(run.cancel ? history::FailResult::cancelled : history::FailResult::rolled_back);
    out.result = run.cancel ? OutcomeResult::cancelled : OutcomeResult::rolled_back;
    out.error = run.cancel ? std::string()
                           : fmt::format("v{} {}: {}; {}", run.v_new,
                                         run.kind == RotationKind::rotate ? "rotation failed" : "rollback failed", cause,
                                         attempted.empty()
                                           ? fmt::format("no connector was changed, v{} stays current", run.v_old)
                                           : fmt::format("v{} re-applied to {}", run.v_old, join(attempted)));
  } else {
    // The rotation stays in flight (no value any connector may hold is ever dropped) and the
    // secret is due, so that `rotate --resume` tries the rollback again.
    fail_item(history::FailResult::rollback_incomplete);
    out.result = OutcomeResult::rollback_incomplete;
    out.error = fmt::format("v{} failed: {}; ROLLBACK INCOMPLETE: {} may still hold v{} (kept pending; "
                            "escrow rotate --resume retries)",
                            run.v_new, cause, join(incomplete), run.v_new);
  }
  progress(out.summary());
  send(out, out.result == OutcomeResult::cancelled     ? "rotation-cancelled"
            : out.result == OutcomeResult::rolled_back ? "rotation-failed"
                                                       : "rollback-incomplete");
}

Outcome Rotator::resume_one(const std::string& name, OutcomeAction action)
{
  const Secret& s = secret(name, "rotate --resume");
  const std::string me = m_session.me().name;
  const bool cancel = action == OutcomeAction::rollback;
  if (!may_rotate(m_session.state(), me, s)) {
    fail(ErrorKind::access, "{}: only the owner ({}) or a rotator of {} may finish or cancel a rotation of {}",
         cancel ? "rollback" : "rotate --resume", s.owner, s.env, name);
  }
  if (!s.rotation) {
    fail(ErrorKind::usage, "rotate --resume: {} has no pending version", name);
  }
  const history::Rotation rotation = *s.rotation;
  const Version* pending = s.find(rotation.vid);
  if (pending == nullptr) {
    fail(ErrorKind::integrity, "{}: the rotation in flight names no version", name);
  }
  Run run;
  run.name = name;
  run.env = s.env;
  run.kind = rotation.kind;
  run.vid_new = rotation.vid;
  run.v_new = pending->v;
  run.confirmed = rotation.confirmed;
  run.resuming = true;
  run.cancel = cancel;
  std::string live_vid;
  const Version* live = live_version(s, &live_vid);
  if (live != nullptr && live_vid == rotation.vid) {
    live = nullptr; // a rollback in flight: the target is previous, the live one is current
  }
  run.v_old = live != nullptr ? live->v : 0;
  run.out.action = action;
  run.out.reason = pending->why;
  const std::vector<ConnectorRecord> connectors = connectors_of(s);
  std::vector<std::string> awaiting;
  std::vector<std::string> commands;
  for (const ConnectorRecord& c : connectors) {
    if (connector::driver_for(c).pushes()) {
      commands.push_back(c.name);
    } else if (run.confirmed.count(c.name) == 0) {
      awaiting.push_back(c.name);
    }
  }
  if (!rotation.rolling_back && !cancel && !awaiting.empty()) {
    run.stamp();
    run.out.result = OutcomeResult::awaiting_confirmation;
    const std::vector<std::string> who = who_can_rotate(s);
    for (const auto& connector_name : awaiting) {
      const auto it = std::find_if(connectors.begin(), connectors.end(),
                                   [&](const ConnectorRecord& c) { return c.name == connector_name; });
      run.out.instructions.push_back(paste_instruction(name, connector_name, &*it, run.v_new, who));
    }
    return run.out;
  }
  const bool forward = !rotation.rolling_back && !cancel;
  if (forward || !commands.empty()) {
    run.new_value = read_value(name, rotation.vid, cancel ? "rollback" : "rotate --resume");
  }
  if (!commands.empty() && live != nullptr) {
    run.old_value = read_value(name, live_vid, cancel ? "rollback" : "rotate --resume");
  }
  read_auth(run);
  if (forward) {
    progress(fmt::format("{}: resuming v{} (rolling forward)", name, run.v_new));
    return drive(run);
  }
  progress(fmt::format("{}: {} v{} (rolling back)", name, cancel ? "cancelling" : "resuming", run.v_new));
  run.stamp();
  roll_back(run,
            cancel ? fmt::format("cancelled by {}", me) : std::string("an earlier run had begun rolling it back"),
            commands);
  return run.out;
}

std::vector<Outcome> Rotator::resume(const std::string& name)
{
  std::vector<Outcome> outcomes;
  if (!name.empty()) {
    const std::string full = full_name(name);
    if (!secret(full, "rotate --resume").rotation) {
      fail(ErrorKind::usage, "rotate --resume: {} has no pending version (nothing to resume)", full);
    }
    outcomes.push_back(resume_one(full, OutcomeAction::resume));
    return outcomes;
  }
  return resume_all({});
}

std::vector<Outcome> Rotator::resume_all(const std::set<std::string>& skip)
{
  std::vector<Outcome> outcomes;
  const std::string me = m_session.me().name;
  std::vector<std::string> names;
  for (const auto& [secret_name, s] : m_session.state().secrets) {
    if (skip.count(secret_name) > 0) {
      continue;
    }
    if (s->rotation && s->state == SecretState::active && may_rotate(m_session.state(), me, *s)) {
      names.push_back(secret_name);
    }
  }
  for (const std::string& secret_name : names) {
    try {
      outcomes.push_back(resume_one(secret_name, OutcomeAction::resume));
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::io || error.kind() == ErrorKind::integrity) {
        throw;
      }
      Outcome out;
      out.secret = secret_name;
      out.env = std::string(history::env_of(secret_name));
      out.action = OutcomeAction::resume;
      out.result = OutcomeResult::error;
      out.error = error.what();
      outcomes.push_back(std::move(out));
    }
  }
  return outcomes;
}

std::vector<Outcome> Rotator::rotate_due()
{
  // Under the git lock, a rotation started moments ago may be running in another clone: left to it.
  std::set<std::string> in_flight;
  if (m_options.publisher != nullptr && m_options.in_flight_grace > 0) {
    for (const auto& [name, s] : m_session.state().secrets) {
      if (s->rotation && s->state == SecretState::active && m_session.now() - s->rotation->since < m_options.in_flight_grace) {
        in_flight.insert(name);
        const Version* pending = s->find(s->rotation->vid);
        progress(fmt::format("{}: v{} is in flight (started by {} at {}, maybe running elsewhere): left alone; "
                             "escrow rotate --resume {} takes it over",
                             name, pending != nullptr ? pending->v : 0, s->rotation->started_by,
                             format_time(s->rotation->since), name));
      }
    }
  }
  std::vector<Outcome> outcomes = resume_all(in_flight);
  std::set<std::string> handled = in_flight;
  for (const auto& outcome : outcomes) {
    handled.insert(outcome.secret);
  }
  const std::string me = m_session.me().name;
  std::vector<std::pair<std::string, std::string>> due; // name, reason
  for (const auto& [name, s] : m_session.state().secrets) {
    if (handled.count(name) > 0 || !may_rotate(m_session.state(), me, *s)) {
      continue; // only those the caller may rotate
    }
    if (const auto reason = due_reason(m_session.state(), *s, m_session.now())) {
      due.emplace_back(name, *reason);
    }
  }
  // The due secrets are prepared (checks, old values, new values, connector credentials); one that
  // cannot be is an error outcome and the others go on.
  std::vector<Start> starts;
  const auto error_outcome = [&](const std::string& name, const std::string& env, const std::string& reason,
                                 const Error& error) {
    Outcome out;
    out.secret = name;
    out.env = env;
    out.action = OutcomeAction::rotate;
    out.reason = reason;
    out.result = OutcomeResult::error;
    out.error = error.what();
    progress(out.summary());
    return out;
  };
  for (const auto& [name, reason] : due) {
    const Secret& s = secret(name, "rotate --due");
    if (s.connectors.empty() && !s.escrow_only) {
      const Version* live = live_version(s);
      outcomes.push_back(needs_connector_outcome(name, s.env, live != nullptr ? live->v : 0, reason));
      progress(outcomes.back().summary());
      send(outcomes.back(), "needs-connector");
      continue;
    }
    try {
      starts.push_back(prepare(name, reason));
      starts.back().slot = outcomes.size();
      outcomes.emplace_back(); // its outcome, once driven
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::io || error.kind() == ErrorKind::integrity) {
        throw;
      }
      outcomes.push_back(error_outcome(name, s.env, reason, error));
    }
  }
  if (starts.empty()) {
    return outcomes;
  }
  // 1. create: every pending version in one rotate-start (one keys write, one journal append, one
  // head write; under the git lock one commit and one push). A lost push undoes all of it
  // (Error(io), exit 5) before any connector runs.
  std::string what;
  std::optional<std::string> why;
  if (starts.size() == 1) {
    const Run& run = starts.front().run;
    what = fmt::format("rotate-start {} v{} ({})", run.name, run.v_new, run.out.reason);
    why = run.out.reason;
  } else {
    constexpr std::size_t k_named = 5;
    std::vector<std::string> named;
    for (std::size_t i = 0; i < starts.size() && i < k_named; ++i) {
      named.push_back(fmt::format("{} v{}", starts[i].run.name, starts[i].run.v_new));
    }
    what = fmt::format("rotate-start of {} due secrets: {}{}", starts.size(), join(named),
                       starts.size() > k_named ? fmt::format(" and {} more", starts.size() - k_named) : std::string());
    why = fmt::format("rotate --due: {} secrets", starts.size());
  }
  try {
    phase_one(what, [&] { write_starts(starts, why); });
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::io || error.kind() == ErrorKind::integrity) {
      throw;
    }
    for (Start& start : starts) {
      outcomes[start.slot] = error_outcome(start.run.name, start.run.env, start.run.out.reason, error);
    }
    return outcomes;
  }
  // The values leave memory until their secret's turn, and are read back from the vault then (what
  // the connectors get is what the vault holds): each one is a sodium_malloc mapping with guard
  // pages, and every connector's fork copies every mapping — all N held at once made each fork
  // cost O(N), the run O(N²).
  for (Start& start : starts) {
    start.run.new_value.reset();
    start.run.old_value.reset();
  }
  // 2. set, 3. test: secret by secret; a failure rolls back that secret alone (its rotate-fail
  // entries) and the others go on.
  std::vector<Run*> tested;
  for (Start& start : starts) {
    Run& run = start.run;
    try {
      run.new_value = read_value(run.name, run.vid_new, "rotate --due");
      if (!run.vid_old.empty()) {
        run.old_value = read_value(run.name, run.vid_old, "rotate --due");
      }
      drive(run, Finish::later);
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::io || error.kind() == ErrorKind::integrity) {
        // Those that set and tested well are finished first (as when each secret ran alone); the
        // others stay in flight: rotate --resume finishes them.
        if (!tested.empty()) {
          try {
            finish(tested);
          } catch (const Error&) {
            // They stay in flight too; the error that stopped the run is the one to report.
          }
        }
        throw;
      }
      run.stamp();
      run.out.result = OutcomeResult::error;
      run.out.error = error.what();
      progress(run.out.summary());
    }
    run.new_value.reset();
    run.old_value.reset();
    if (run.tested) {
      tested.push_back(&run);
    }
  }
  // 4. finish: one rotate-finish for every secret that set and tested well.
  if (!tested.empty()) {
    finish(tested);
  }
  for (Start& start : starts) {
    outcomes[start.slot] = std::move(start.run.out);
  }
  return outcomes;
}

Outcome Rotator::confirm(const std::string& name, const std::string& connector_name)
{
  const std::string full = full_name(name);
  const Secret& s = secret(full, "rotate --confirm");
  if (!s.rotation) {
    fail(ErrorKind::usage, "rotate --confirm: {} has no rotation awaiting confirmation", full);
  }
  const std::vector<ConnectorRecord> connectors = connectors_of(s);
  const auto it = std::find_if(connectors.begin(), connectors.end(),
                               [&](const ConnectorRecord& c) { return c.name == connector_name; });
  if (it == connectors.end()) {
    fail(ErrorKind::usage, "rotate --confirm: {} is not bound to a connector named {}", full,
         connector::one_line(connector_name, 64));
  }
  const ConnectorRecord connector = *it;
  if (connector::driver_for(connector).pushes()) {
    fail(ErrorKind::usage, "rotate --confirm: {} is a command connector; escrow updates it itself", connector_name);
  }
  const history::Rotation rotation = *s.rotation;
  const Version* pending = s.find(rotation.vid);
  if (pending == nullptr) {
    fail(ErrorKind::integrity, "{}: the rotation in flight names no version", full);
  }
  if (rotation.rolling_back) {
    throw Error(ErrorKind::usage, fmt::format("rotate --confirm: v{} of {} is being rolled back", pending->v, full))
      .hint("escrow rotate --resume " + full + " completes the rollback");
  }
  if (rotation.confirmed.count(connector_name) > 0) {
    fail(ErrorKind::usage, "rotate --confirm: {} already confirmed v{} of {}", connector_name, pending->v, full);
  }
  Run run;
  run.name = full;
  run.env = s.env;
  run.kind = rotation.kind;
  run.vid_new = rotation.vid;
  run.v_new = pending->v;
  std::string live_vid;
  const Version* live = live_version(s, &live_vid);
  if (live != nullptr && live_vid == rotation.vid) {
    live = nullptr;
  }
  run.v_old = live != nullptr ? live->v : 0;
  run.confirmed = rotation.confirmed;
  run.out.action = OutcomeAction::confirm;
  run.out.reason = pending->why;
  // Whoever confirms must be able to read what was pasted (the confirm rule says so too).
  try {
    run.new_value = read_value(full, rotation.vid, "rotate --confirm");
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::access) {
      throw;
    }
    fail(ErrorKind::access, "rotate --confirm: {} cannot read the pending v{} of {}, so cannot confirm it",
         m_session.me().name, run.v_new, full);
  }
  const bool has_commands = std::any_of(connectors.begin(), connectors.end(), [](const ConnectorRecord& c) {
    return connector::driver_for(c).pushes();
  });
  if (has_commands && live != nullptr) {
    run.old_value = read_value(full, live_vid, "rotate --confirm");
  }
  read_auth(run);
  if (!connector.verify.empty()) {
    const connector::Invocation base =
      invocation(run, run.v_new, run.v_old,
                 run.kind == RotationKind::rotate ? connector::Action::rotate : connector::Action::rollback);
    connector::StepResult check = connector::run_step(connector, connector::Step::verify,
                                                      run.invocation_for(connector, base), *run.new_value,
                                                      run.redactor());
    run.out.steps.push_back(check);
    if (!check.ok) {
      m_session.record(history::OpKind::confirm, history::Result::failed,
                       Json{{"secret", full}, {"version", run.v_new}, {"connector", connector_name},
                            {"output", check.output}});
      run.stamp();
      run.out.result = OutcomeResult::error;
      run.out.error = fmt::format("v{}: the paste into {} does not verify: {}; not confirmed", run.v_new,
                                  connector_name, check.describe());
      return run.out;
    }
  }
  history::journaling_refusal(m_session, history::OpKind::confirm,
                              Json{{"secret", full}, {"connector", connector_name}}, [&] {
                                m_session.submit(history::ConfirmArgs{full, rotation.vid, connector_name});
                                return 0;
                              });
  run.confirmed.insert(connector_name);
  // Like a resumed run: a confirm may follow an interrupted one, so every command connector counts.
  run.resuming = true;
  return drive(run);
}

Outcome Rotator::rollback(const std::string& name)
{
  const std::string full = full_name(name);
  const Secret& s = secret(full, "rollback");
  const std::string me = m_session.me().name;
  if (!may_rotate(m_session.state(), me, s)) {
    history::journaling_refusal(m_session, history::OpKind::rotate_start, Json{{"secret", full}}, [&]() -> int {
      throw Error(ErrorKind::access, fmt::format("rollback: only the owner ({}) or a rotator of {} may roll back {}",
                                                 s.owner, s.env, full));
    });
  }
  if (s.state != SecretState::active) {
    fail(ErrorKind::usage, "rollback: {} is retired", full);
  }
  if (s.rotation) {
    return resume_one(full, OutcomeAction::rollback); // cancel the rotation in progress
  }
  std::string previous_vid;
  const Version* previous = s.find_state(VersionState::previous, &previous_vid);
  if (previous == nullptr) {
    fail(ErrorKind::usage, "rollback: {} has no previous version to go back to", full);
  }
  return roll_back_to(full, previous_vid, fmt::format("rollback to v{}", previous->v), "rollback");
}

Outcome Rotator::reapply(const std::string& name, const std::string& vid)
{
  const std::string full = full_name(name);
  const Secret& s = secret(full, "resolve");
  const std::string me = m_session.me().name;
  if (!may_rotate(m_session.state(), me, s)) {
    fail(ErrorKind::access, "resolve: only the owner ({}) or a rotator of {} may re-apply {} to its connectors", s.owner,
         s.env, full);
  }
  if (s.state != SecretState::active) {
    fail(ErrorKind::usage, "resolve: {} is retired", full);
  }
  if (s.rotation) {
    fail(ErrorKind::failed, "resolve: a rotation of {} is in flight; escrow rotate --resume {} ends it", full, full);
  }
  const Version* target = s.find(vid);
  if (target == nullptr || target->state != VersionState::previous) {
    fail(ErrorKind::usage, "resolve: {} has no previous version {} to re-apply", full, vid);
  }
  return roll_back_to(full, vid, fmt::format("rotation race: v{} chosen, re-applied to every connector", target->v),
                      "resolve");
}

Outcome Rotator::roll_back_to(const std::string& full, const std::string& vid, const std::string& reason,
                              std::string_view what)
{
  const Secret& s = secret(full, what);
  const std::string me = m_session.me().name;
  const Version* previous = s.find(vid);
  if (previous == nullptr) {
    fail(ErrorKind::integrity, "{}: {} has no version {}", what, full, vid);
  }
  const std::string previous_vid = vid;
  Run run;
  run.name = full;
  run.env = s.env;
  run.kind = RotationKind::rollback;
  run.vid_new = previous_vid;
  run.v_new = previous->v;
  std::string live_vid;
  const Version* live = live_version(s, &live_vid);
  run.v_old = live != nullptr ? live->v : 0;
  const std::vector<ConnectorRecord> connectors = connectors_of(s);
  const bool has_commands = std::any_of(connectors.begin(), connectors.end(), [](const ConnectorRecord& c) {
    return connector::driver_for(c).pushes();
  });
  try {
    run.new_value = read_value(full, previous_vid, what);
    if (has_commands && live != nullptr) {
      run.old_value = read_value(full, live_vid, what);
    }
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::access) {
      throw;
    }
    throw Error(ErrorKind::access, fmt::format("{}: {} cannot read the versions of {} it would re-apply: {}", what,
                                               me, full, error.what()));
  }
  read_auth(run);
  run.out.action = OutcomeAction::rollback;
  run.out.reason = reason;
  progress(what == "rollback" ? fmt::format("{}: rolling back to v{}", full, run.v_new)
                              : fmt::format("{}: re-applying v{} ({})", full, run.v_new, reason));
  history::RotateItem item;
  item.kind = RotationKind::rollback;
  item.secret = full;
  item.vid = previous_vid;
  phase_one(fmt::format("rotate-start {} {}", full, run.out.reason), [&] {
    history::journaling_refusal(m_session, history::OpKind::rotate_start, Json{{"secret", full}}, [&] {
      m_session.submit(history::RotateStartArgs{{item}}, {}, run.out.reason);
      return 0;
    });
  });
  return drive(run);
}

CompromiseOutcome Rotator::compromise(const std::string& name, const std::string& why)
{
  const std::string full = full_name(name);
  if (why.empty()) {
    fail(ErrorKind::usage, "compromise: --why is required (what happened?)");
  }
  const Secret& s = secret(full, "compromise");
  const std::string owner = s.owner;
  CompromiseOutcome result;
  result.secret = full;
  result.who_can = who_can_rotate(s);
  if (s.state != SecretState::active) {
    fail(ErrorKind::usage, "compromise: {} is retired", full);
  }
  std::string vid;
  const Version* current = s.find_state(VersionState::current, &vid);
  if (current == nullptr) {
    throw Error(ErrorKind::usage, fmt::format("compromise: {} has no current version (already compromised?)", full))
      .hint("rotate it: escrow rotate " + full);
  }
  result.version = current->v;
  for (const auto& [id, request] : s.requests) {
    if (!request.denial && !request.voided && m_session.now() < request.until) {
      result.voided_requests.push_back(id);
    }
  }
  for (const auto& [id, version] : s.versions) {
    result.dropped_grants += version.state == VersionState::current ? version.grants.size() : 0;
  }
  const std::string me = m_session.me().name;
  // Under the git lock the compromise is part of phase 1: a lost push undoes it with the
  // rotate-start (run it again after escrow sync); without a rotation it stays a local write.
  Publisher* publisher = m_options.publisher;
  if (publisher != nullptr) {
    publisher->begin(m_session);
  }
  try {
    history::journaling_refusal(m_session, history::OpKind::compromise, Json{{"secret", full}}, [&] {
      m_session.submit(history::CompromiseArgs{full, vid}, {}, why);
      return 0;
    });
  } catch (const Error& error) {
    if (publisher != nullptr) {
      publisher->settle();
    }
    if (error.kind() != ErrorKind::access) {
      throw;
    }
    throw Error(ErrorKind::access, fmt::format("compromise: {} may not change {}; its owner ({}), an admin or a "
                                               "rotator must mark it (reported in the journal)",
                                               me, full, owner))
      .hint(fmt::format("who can rotate it: {}", result.who_can.empty() ? "nobody yet" : join(result.who_can)));
  }
  {
    Outcome event;
    event.secret = full;
    event.env = std::string(history::env_of(full));
    event.action = OutcomeAction::compromise;
    event.result = OutcomeResult::compromised;
    event.version = result.version;
    event.reason = why;
    send(event, "compromised");
    result.notify = event.notify;
  }
  // Rotate at once when this member can.
  try {
    result.rotation = begin_and_drive(full, "compromised: " + why);
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::io || error.kind() == ErrorKind::integrity) {
      throw;
    }
    result.not_rotated = error.what();
  }
  if (publisher != nullptr) {
    publisher->settle(); // no rotate-start was published: the compromise stays a local write
  }
  return result;
}

void Rotator::send(Outcome& out, const std::string& event)
{
  if (!m_options.notify) {
    return;
  }
  const State& state = m_session.state();
  Json json{{"event", event},
            {"secret", out.secret},
            {"env", out.env},
            {"action", outcome_action_name(out.action)},
            {"result", outcome_result_name(out.result)},
            {"version", out.version > 0 ? Json(out.version) : Json(nullptr)},
            {"previous_version", out.previous_version > 0 ? Json(out.previous_version) : Json(nullptr)},
            {"reason", out.reason},
            {"error", out.error},
            {"actor", m_session.me().name},
            {"at", format_time(m_session.now())},
            {"vault", canonical::b64(m_session.vault_id())}};
  Json connectors = Json::array();
  for (const auto& instruction : out.instructions) {
    connectors.push_back(Json{{"connector", instruction.connector}, {"needs", "manual paste"}});
  }
  for (const auto& step : out.steps) {
    connectors.push_back(Json{{"connector", step.connector},
                              {"step", connector::step_name(step.step)},
                              {"version", step.version},
                              {"ok", step.ok}});
  }
  json["connectors"] = connectors;
  out.notify = run_notify(state.policy ? state.policy->notify : std::string(), json);
}

Outcome Rotator::plan_one(const std::string& name, const std::string& reason)
{
  const Secret& s = secret(name, "rotate");
  Outcome out;
  out.secret = name;
  out.env = s.env;
  out.result = OutcomeResult::planned;
  out.reason = reason;
  std::string live_vid;
  const Version* live = live_version(s, &live_vid);
  const std::vector<ConnectorRecord> connectors = connectors_of(s);
  std::vector<const ConnectorRecord*> commands;
  std::vector<const ConnectorRecord*> manuals;
  for (const ConnectorRecord& connector : connectors) {
    (connector::driver_for(connector).pushes() ? commands : manuals).push_back(&connector);
  }
  const auto step = [&](const ConnectorRecord& connector, std::string_view what, std::int64_t v) {
    out.plan.push_back(Json{{"connector", connector.name},
                            {"kind", connector.kind},
                            {"step", what},
                            {"version", v},
                            {"timeout", connector.timeout}});
  };
  if (s.rotation) {
    const Version* pending = s.find(s.rotation->vid);
    if (live != nullptr && live_vid == s.rotation->vid) {
      live = nullptr;
    }
    out.previous_version = live != nullptr ? live->v : 0;
    out.version = pending != nullptr ? pending->v : 0;
    const bool back = s.rotation->rolling_back;
    std::vector<const ConnectorRecord*> awaiting;
    for (const ConnectorRecord* manual : manuals) {
      if (s.rotation->confirmed.count(manual->name) == 0) {
        awaiting.push_back(manual);
      }
    }
    if (!back && !awaiting.empty()) {
      out.action = OutcomeAction::await;
      for (const ConnectorRecord* manual : awaiting) {
        out.plan.push_back(Json{{"connector", manual->name}, {"kind", manual->kind}, {"step", "await-confirmation"},
                                {"version", out.version}, {"timeout", nullptr}});
      }
      return out;
    }
    out.action = back ? OutcomeAction::resume_back : OutcomeAction::resume_forward;
    if (back) {
      for (auto it = commands.rbegin(); it != commands.rend(); ++it) {
        step(**it, "restore", out.previous_version);
        step(**it, "verify", out.previous_version);
      }
      return out;
    }
    for (const ConnectorRecord* connector : commands) {
      step(*connector, "update", out.version);
    }
    for (const ConnectorRecord* connector : commands) {
      step(*connector, "verify", out.version);
    }
    out.plan.push_back(Json{{"connector", nullptr}, {"kind", nullptr}, {"step", "finish"}, {"version", out.version},
                            {"timeout", nullptr}});
    return out;
  }
  out.previous_version = live != nullptr ? live->v : 0;
  out.action = OutcomeAction::rotate;
  out.version = s.max_v() + 1;
  out.generator = m_options.generate ? *m_options.generate
                  : s.generator.empty() ? std::string(k_default_generator)
                                        : s.generator;
  (void)parse_generator(out.generator);
  out.plan.push_back(Json{{"connector", nullptr}, {"kind", nullptr}, {"step", "create"}, {"version", out.version},
                          {"timeout", nullptr}});
  for (const ConnectorRecord* manual : manuals) {
    out.plan.push_back(Json{{"connector", manual->name}, {"kind", manual->kind}, {"step", "await-confirmation"},
                            {"version", out.version}, {"timeout", nullptr}});
  }
  for (const ConnectorRecord* connector : commands) {
    step(*connector, "update", out.version);
  }
  for (const ConnectorRecord* connector : commands) {
    step(*connector, "verify", out.version);
  }
  out.plan.push_back(Json{{"connector", nullptr}, {"kind", nullptr}, {"step", "finish"}, {"version", out.version},
                          {"timeout", nullptr}});
  return out;
}

std::vector<Outcome> Rotator::plan(const std::vector<std::string>& names, bool due, bool resume_pending)
{
  std::vector<Outcome> outcomes;
  const State& state = m_session.state();
  const std::string me = m_session.me().name;
  for (const auto& name : names) {
    const std::string full = full_name(name);
    const Secret& s = secret(full, "rotate");
    if (!may_rotate(state, me, s)) {
      fail(ErrorKind::access, "rotate: only the owner ({}) or a rotator of {} may rotate {} (admins do not see values)",
           s.owner, s.env, full);
    }
    if (s.state != SecretState::active) {
      fail(ErrorKind::usage, "rotate: {} is retired", full);
    }
    const auto reason = due_reason(state, s, m_session.now());
    outcomes.push_back(plan_one(full, !m_options.why.empty() ? m_options.why : reason ? *reason : "on request"));
  }
  if (!due && !resume_pending) {
    return outcomes;
  }
  for (const auto& [name, s] : state.secrets) {
    if (!may_rotate(state, me, *s) || s->state != SecretState::active) {
      continue;
    }
    if (s->rotation) {
      const Version* pending = s->find(s->rotation->vid);
      outcomes.push_back(plan_one(name, pending != nullptr ? pending->why : std::string()));
      continue;
    }
    if (!due) {
      continue;
    }
    if (const auto reason = due_reason(state, *s, m_session.now())) {
      if (s->connectors.empty() && !s->escrow_only) {
        const Version* live = live_version(*s);
        outcomes.push_back(needs_connector_outcome(name, s->env, live != nullptr ? live->v : 0, *reason));
      } else {
        outcomes.push_back(plan_one(name, *reason));
      }
    }
  }
  return outcomes;
}

} // namespace escrow::rotation::v2
