#include <escrow/atomic_file.hpp>
#include <escrow/connectors/manage.hpp>
#include <escrow/error.hpp>
#include <escrow/passphrase_once.hpp>
#include <escrow/policy.hpp>
#include <escrow/rehearse.hpp>
#include <escrow/rotation/rotation.hpp>
#include <escrow/versions.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>

namespace escrow::rehearse {

namespace fs = std::filesystem;
using canonical::Json;

namespace {

Timestamp system_now()
{
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The real vault's session: its entries carry the real time, never a future one (ESCROW_NOW or
// --at in the future move only the sandbox).
SessionOptions real_options(const SessionOptions& options)
{
  SessionOptions real = options;
  real.clock = Clock::fixed(std::min(options.clock.now(), system_now()));
  return real;
}

// A throwaway directory with a copy of the vault and the journal; removed on destruction.
class Sandbox
{
public:
  explicit Sandbox(const Session& real)
  {
    std::string pattern = (fs::temp_directory_path() / "escrow-rehearse-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      fail(ErrorKind::io, "{}: cannot create the rehearsal sandbox", fs::temp_directory_path().string());
    }
    m_dir = pattern;
    m_vault = m_dir / real.vault_path().filename();
    create_exclusive(m_vault, real.vault().bytes(), 0600);
    if (fs::exists(real.journal().path())) {
      create_exclusive(Journal::path_for(m_vault), read_file(real.journal().path(), std::size_t{1} << 30), 0600);
    }
  }
  ~Sandbox()
  {
    std::error_code ignored;
    fs::remove_all(m_dir, ignored);
  }
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const fs::path& dir() const { return m_dir; }
  const fs::path& vault() const { return m_vault; }

private:
  fs::path m_dir;
  fs::path m_vault;
};

void add_steps(Rehearsal& r, const rotation::Outcome& outcome, bool rollback_phase)
{
  for (const auto& step : outcome.steps) {
    // A rotation that fails re-applies the old value: those steps are its rollback.
    const bool back = rollback_phase || step.version != r.sandbox_version;
    Step s;
    s.phase = std::string(back ? "rollback-" : "") + std::string(connector::step_name(step.step));
    s.connector = step.connector;
    s.version = step.version;
    s.ok = step.ok;
    s.detail = step.ok ? std::string() : step.describe();
    r.steps.push_back(std::move(s));
  }
}

void failed(Rehearsal& r, const std::string& error)
{
  if (r.result != JournalResult::failed) {
    r.result = JournalResult::failed;
    r.error = error;
  }
}

Rehearsal rehearse_one(Session& real, const SessionOptions& options, const std::string& name, const Options& ro)
{
  const auto started = std::chrono::steady_clock::now();
  const Vault& vault = real.vault();
  const MemberRecord& me = real.me();
  const auto [env, short_name] = split_secret_name(name);
  const std::string full_name = env + "/" + short_name;
  const SecretRecord& secret = vault.secret(full_name);
  policy::require_can_manage(me, secret, "rehearse");
  if (secret.state != SecretState::active) {
    fail(ErrorKind::usage, "rehearse: {} is retired", full_name);
  }
  if (const VersionRecord* pending = rotation::pending_version(secret)) {
    throw Error(ErrorKind::failed, fmt::format("rehearse: {} has a pending v{}; a rehearsal starts from a settled "
                                               "secret", full_name, pending->v))
      .hint("escrow rotate --resume " + full_name + " finishes it; escrow rollback " + full_name + " cancels it");
  }
  Rehearsal r;
  r.secret = full_name;
  r.env = env;
  r.result = JournalResult::ok;
  r.at = ro.at ? *ro.at : options.clock.now();
  const VersionRecord* live = rotation::live_version(secret);
  r.live_version = live != nullptr ? live->v : 0;

  // The plan: a twin where one is named, else the real connector's verify.
  std::vector<std::string> twins;
  for (const auto& connector_name : secret.connectors) {
    const ConnectorRecord* record = vault.connector(connector_name);
    if (record == nullptr) {
      fail(ErrorKind::integrity, "{}: {} is bound to connector {}, which does not exist", vault.what(), full_name,
           connector_name);
    }
    ConnectorPlan plan;
    plan.connector = connector_name;
    plan.kind = std::string(connector_kind_name(record->kind));
    if (!record->rehearse_with.empty()) {
      const ConnectorRecord* twin = vault.connector(record->rehearse_with);
      plan.twin = record->rehearse_with;
      if (twin == nullptr || twin->env != secret.env) {
        plan.mode = "skipped";
        plan.detail = fmt::format("its twin {} is not a connector of {}", record->rehearse_with, secret.env);
        failed(r, fmt::format("connector {}: {}", connector_name, plan.detail));
      } else {
        plan.mode = "twin";
        twins.push_back(record->rehearse_with);
      }
    } else if (connector::driver_for(*record).verifies(*record)) {
      plan.mode = "verify-only";
    } else {
      plan.mode = "skipped";
      plan.detail = "no twin and no verify command: nothing can be checked";
    }
    r.connectors.push_back(std::move(plan));
  }
  const auto progress = [&](const std::string& line) {
    if (ro.progress) {
      ro.progress(line);
    }
  };

  // The real systems: verify only, with the value they hold now.
  const bool verify_real = std::any_of(r.connectors.begin(), r.connectors.end(),
                                       [](const ConnectorPlan& p) { return p.mode == "verify-only"; });
  if (verify_real && live != nullptr) {
    const SecretBytes value = open_value(vault, secret, *live, real.identity(), real.now()).value; // Error(access) first
    Redactor redactor;
    redactor.add(fmt::format("{} v{}", full_name, live->v), value);
    const connector::Invocation invocation =
      connector::with_alternation({full_name, env, live->v, 0, connector::Action::rehearse}, secret, vault);
    for (const auto& plan : r.connectors) {
      if (plan.mode != "verify-only") {
        continue;
      }
      progress(fmt::format("{}: verify {} (real, v{})", full_name, plan.connector, live->v));
      const ConnectorRecord& record = *vault.connector(plan.connector);
      const std::optional<SecretBytes> auth = connector::open_auth(vault, record, real.identity(), real.now());
      Redactor with_auth = redactor.clone();
      connector::Invocation step = invocation;
      if (auth) {
        with_auth.add(record.auth_secret + " (auth)", *auth);
        step.auth = &*auth;
      }
      const connector::StepResult result = connector::run_step(record, connector::Step::verify, step, value, with_auth);
      r.steps.push_back(Step{"verify-real", plan.connector, live->v, result.ok, result.ok ? "" : result.describe()});
      if (!result.ok) {
        failed(r, fmt::format("connector {} (real) {}", plan.connector, result.describe()));
      }
    }
  }

  // The sandbox: rotate onto the twins, then roll back.
  try {
    Sandbox box(real);
    SessionOptions sandbox_options = options;
    sandbox_options.vault_path = box.vault();
    sandbox_options.state_dir = box.dir() / "state";
    sandbox_options.clock = Clock::fixed(r.at);
    sandbox_options.allow_rollback = false;
    sandbox_options.sandbox = true;
    Session sandbox = Session::open(sandbox_options, Mode::write);
    {
      SecretRecord& copy = sandbox.vault().secret_mut(full_name);
      copy.connectors = twins;
      sandbox.vault().sign_meta(copy, sandbox.identity());
      JournalEntry entry;
      entry.action = JournalAction::rehearse_setup;
      entry.secret = full_name;
      entry.env = env;
      entry.detail = Json{{"connectors", twins}};
      sandbox.commit(std::move(entry));
    }
    rotation::Options rotation_options;
    rotation_options.why = "rehearsal";
    rotation_options.progress = ro.progress;
    rotation::Rotator rotator(sandbox, rotation_options);
    const rotation::Outcome forward = rotator.rotate(full_name);
    r.sandbox_version = forward.version;
    r.steps.push_back(Step{"create", "", forward.version, true, ""});
    add_steps(r, forward, false);
    if (forward.result == rotation::OutcomeResult::rotated) {
      const rotation::Outcome back = rotator.rollback(full_name);
      add_steps(r, back, true);
      r.steps.push_back(Step{"rollback", "", back.version, back.result == rotation::OutcomeResult::restored,
                                 back.error});
      if (back.result != rotation::OutcomeResult::restored) {
        failed(r, "rollback: "
                    + (back.error.empty() ? std::string(rotation::outcome_result_name(back.result)) : back.error));
      }
    } else if (forward.result == rotation::OutcomeResult::awaiting_confirmation) {
      failed(r, "a twin is a manual connector: a rehearsal runs unattended and needs command twins");
    } else {
      failed(r, forward.error.empty() ? std::string(rotation::outcome_result_name(forward.result)) : forward.error);
    }
  } catch (const Error& error) {
    r.steps.push_back(Step{"sandbox", "", 0, false, error.what()});
    failed(r, error.what());
  }
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);

  // ONE entry in the real journal.
  Json plans = Json::array();
  for (const auto& plan : r.connectors) {
    plans.push_back(Json{{"connector", plan.connector}, {"mode", plan.mode}, {"twin", plan.twin}});
  }
  Json steps = Json::array();
  for (const auto& step : r.steps) {
    steps.push_back(step.to_json());
  }
  JournalEntry entry;
  entry.action = JournalAction::rehearsal;
  entry.secret = full_name;
  entry.env = env;
  if (r.live_version > 0) {
    entry.version = r.live_version;
  }
  entry.result = r.ok() ? JournalResult::ok : JournalResult::failed;
  entry.detail = Json{{"connectors", plans},
                      {"steps", steps},
                      {"sandbox_version", r.sandbox_version},
                      {"at", format_time(r.at)},
                      {"ms", static_cast<std::int64_t>(r.elapsed.count())},
                      {"error", connector::one_line(r.error, connector::k_kept_output)}};
  r.entry = real.record(std::move(entry));
  r.notify = rotation::notify(real, Json{{"event", "rehearsal"},
                                         {"secret", full_name},
                                         {"env", env},
                                         {"result", r.result},
                                         {"error", r.error},
                                         {"actor", me.name},
                                         {"at", format_time(real.now())},
                                         {"vault", vault.id_b64()},
                                         {"connectors", plans}});
  return r;
}

} // namespace

Json Step::to_json() const
{
  return Json{{"phase", phase}, {"connector", connector}, {"version", version}, {"ok", ok}, {"detail", detail}};
}

Json Rehearsal::to_json() const
{
  Json plans = Json::array();
  for (const auto& plan : connectors) {
    plans.push_back(Json{{"connector", plan.connector},
                         {"kind", plan.kind},
                         {"mode", plan.mode},
                         {"twin", plan.twin},
                         {"detail", plan.detail}});
  }
  Json step_list = Json::array();
  for (const auto& step : steps) {
    step_list.push_back(step.to_json());
  }
  return Json{{"secret", secret},
              {"env", env},
              {"live_version", live_version},
              {"sandbox_version", sandbox_version},
              {"result", result},
              {"error", error},
              {"connectors", plans},
              {"steps", step_list},
              {"at", format_time(at)},
              {"seconds", static_cast<double>(elapsed.count()) / 1000.0},
              {"entry", entry},
              {"notify", notify}};
}

std::string Rehearsal::summary() const
{
  std::vector<std::string> parts;
  for (const auto& plan : connectors) {
    parts.push_back(plan.mode == "twin" ? fmt::format("{} via twin {}", plan.connector, plan.twin)
                                        : fmt::format("{} {}", plan.connector, plan.mode));
  }
  const std::string how = parts.empty() ? std::string("no connectors") : fmt::format("{}", fmt::join(parts, ", "));
  const double seconds = static_cast<double>(elapsed.count()) / 1000.0;
  if (ok()) {
    return fmt::format("{}: rehearsed v{} → v{} and back in {:.1f} s ({}); the real vault is unchanged", secret,
                       live_version, sandbox_version, seconds, how);
  }
  return fmt::format("{}: rehearsal FAILED ({}): {}; the real vault is unchanged", secret, how, error);
}

Rehearsal rehearse(const SessionOptions& options, const std::string& name, const Options& rehearse_options)
{
  (void)split_secret_name(name); // usage errors before the passphrase
  const SessionOptions asked = asking_passphrase_once(options);
  Session real = Session::open(real_options(asked), Mode::read);
  return rehearse_one(real, asked, name, rehearse_options);
}

std::vector<Rehearsal> rehearse_due(const SessionOptions& options, const Options& rehearse_options)
{
  const SessionOptions asked = asking_passphrase_once(options);
  Session real = Session::open(real_options(asked), Mode::read);
  const Timestamp at = rehearse_options.at ? *rehearse_options.at : options.clock.now();
  const Vault& vault = real.vault();
  std::vector<std::string> due;
  for (const auto& name : vault.secret_names()) {
    const SecretRecord& secret = vault.secret(name);
    if (secret.state == SecretState::active && rotation::pending_version(secret) == nullptr
        && policy::may_rotate(real.me(), secret) && rotation::due_reason(secret, vault.policy(), at)) {
      due.push_back(name);
    }
  }
  Options each = rehearse_options;
  each.at = at;
  std::vector<Rehearsal> out;
  for (const auto& name : due) {
    out.push_back(rehearse_one(real, asked, name, each));
  }
  return out;
}

Status status(const Vault& vault, const std::vector<audit::LoggedEntry>& journal)
{
  std::map<std::string, const audit::LoggedEntry*> latest;
  for (const auto& logged : journal) {
    if (logged.entry.action == JournalAction::rehearsal && !logged.entry.secret.empty()) {
      latest[logged.entry.secret] = &logged;
    }
  }
  Status status;
  for (const auto& name : vault.secret_names()) {
    const SecretRecord& secret = vault.secret(name);
    if (secret.state != SecretState::active) {
      continue;
    }
    const auto it = latest.find(name);
    if (it == latest.end()) {
      status.never.push_back(NeverRehearsed{name, secret.owner});
      continue;
    }
    const JournalEntry& entry = it->second->entry;
    if (entry.result != JournalResult::ok) {
      std::string error;
      if (const auto field = entry.detail.find("error"); field != entry.detail.end() && field->is_string()) {
        error = field->get<std::string>();
      }
      status.failed.push_back(FailedRehearsal{name, secret.owner, entry.ts, entry.actor, error, it->second->line,
                                              entry.hash});
    }
  }
  return status;
}

} // namespace escrow::rehearse
