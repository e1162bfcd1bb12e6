#include <escrow/atomic_file.hpp>
#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/history/admin.hpp>
#include <escrow/history/notify_hook.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/redact.hpp>
#include <escrow/rehearse.hpp>
#include <escrow/rotation/v2.hpp>
#include <escrow/util/text.hpp>

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
history::VaultSessionOptions real_options(const history::VaultSessionOptions& options)
{
  history::VaultSessionOptions real = options;
  real.clock = Clock::fixed(std::min(options.clock.now(), system_now()));
  return real;
}

// A throwaway directory with a copy of the vault's three files; removed on destruction.
class Sandbox
{
public:
  explicit Sandbox(const history::VaultSession& real)
  {
    std::string pattern = (fs::temp_directory_path() / "escrow-rehearse-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      fail(ErrorKind::io, "{}: cannot create the rehearsal sandbox", fs::temp_directory_path().string());
    }
    m_dir = pattern;
    const history::VaultPaths& from = real.paths();
    m_vault = m_dir / from.head.filename();
    const history::VaultPaths to = history::VaultPaths::of(m_vault);
    const std::pair<fs::path, fs::path> files[] = {{from.head, to.head}, {from.journal, to.journal}, {from.keys, to.keys}};
    for (const auto& file : files) {
      if (fs::exists(file.first)) {
        create_exclusive(file.second, read_file(file.first, std::size_t{1} << 31), 0600);
      }
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
  if (r.result != RehearsalResult::failed) {
    r.result = RehearsalResult::failed;
    r.error = error;
  }
}

std::string error_of(const rotation::Outcome& outcome)
{
  return outcome.error.empty() ? std::string(rotation::outcome_result_name(outcome.result)) : outcome.error;
}

Rehearsal rehearse_one(history::VaultSession& real, const history::VaultSessionOptions& options,
                       const std::string& name, const Options& ro)
{
  const auto started = std::chrono::steady_clock::now();
  const auto [env, short_name] = split_secret_name(name);
  const std::string full_name = env + "/" + short_name;
  const history::Secret& secret = history::find_secret(real.state(), full_name, "rehearse");
  const std::string me = real.me().name; // Error(access) for a non-member
  if (!rotation::v2::may_rotate(real.state(), me, secret)) {
    fail(ErrorKind::access, "rehearse: only the owner ({}) or a rotator of {} may rehearse the rotation of {}",
         secret.owner, secret.env, full_name);
  }
  if (secret.state != SecretState::active) {
    fail(ErrorKind::usage, "rehearse: {} is retired", full_name);
  }
  if (secret.rotation) {
    const history::Version* pending = secret.find(secret.rotation->vid);
    throw Error(ErrorKind::failed, fmt::format("rehearse: {} has a pending v{}; a rehearsal starts from a settled "
                                               "secret",
                                               full_name, pending != nullptr ? pending->v : 0))
      .hint("escrow rotate --resume " + full_name + " finishes it; escrow rollback " + full_name + " cancels it");
  }
  Rehearsal r;
  r.secret = full_name;
  r.env = env;
  r.result = RehearsalResult::ok;
  r.at = ro.at ? *ro.at : options.clock.now();
  std::string live_vid;
  const history::Version* live = rotation::v2::live_version(secret, &live_vid);
  r.live_version = live != nullptr ? live->v : 0;

  // The plan: a twin where one is named, else the real connector's verify.
  std::vector<std::string> twins;
  for (const auto& connector_name : secret.connectors) {
    const history::Connector* record = real.state().connector(connector_name);
    if (record == nullptr) {
      fail(ErrorKind::integrity, "{}: {} is bound to connector {}, which does not exist", real.paths().head.string(),
           full_name, connector_name);
    }
    ConnectorPlan plan;
    plan.connector = connector_name;
    plan.kind = std::string(connector_kind_name(record->kind));
    if (!record->rehearse_with.empty()) {
      const history::Connector* twin = real.state().connector(record->rehearse_with);
      plan.twin = record->rehearse_with;
      if (twin == nullptr || twin->env != secret.env) {
        plan.mode = "skipped";
        plan.detail = fmt::format("its twin {} is not a connector of {}", record->rehearse_with, secret.env);
        failed(r, fmt::format("connector {}: {}", connector_name, plan.detail));
      } else {
        plan.mode = "twin";
        twins.push_back(record->rehearse_with);
      }
    } else if (connector::driver_for(history::connector_record(*record)).verifies(history::connector_record(*record))) {
      plan.mode = "verify-only";
    } else {
      plan.mode = "skipped";
      plan.detail = "no twin and no verify command: nothing can be checked";
    }
    r.connectors.push_back(std::move(plan));
  }
  const auto progress = [&ro](const std::string& line) {
    if (ro.progress) {
      ro.progress(line);
    }
  };

  // The real systems: verify only, with the value they hold now.
  const bool verify_real = std::any_of(r.connectors.begin(), r.connectors.end(),
                                       [](const ConnectorPlan& p) { return p.mode == "verify-only"; });
  if (verify_real && live != nullptr) {
    const SecretBytes value = history::open_version(real, secret, live_vid, *live, "rehearse").value; // Error(access)
    Redactor redactor;
    redactor.add(fmt::format("{} v{}", full_name, live->v), value);
    const connector::Invocation invocation{full_name, env, live->v, 0, connector::Action::rehearse};
    for (const auto& plan : r.connectors) {
      if (plan.mode != "verify-only") {
        continue;
      }
      progress(fmt::format("{}: verify {} (real, v{})", full_name, plan.connector, live->v));
      const ConnectorRecord record = history::connector_record(*real.state().connector(plan.connector));
      Redactor with_auth = redactor.clone();
      connector::Invocation step = invocation;
      std::optional<SecretBytes> auth;
      if (!record.auth_secret.empty()) {
        const history::Secret* auth_secret = real.state().secret(record.auth_secret);
        std::string auth_vid;
        const history::Version* auth_live =
          auth_secret != nullptr ? rotation::v2::live_version(*auth_secret, &auth_vid) : nullptr;
        if (auth_live == nullptr) {
          r.steps.push_back(Step{"verify-real", plan.connector, live->v, false,
                                 fmt::format("its credential {} has no value", record.auth_secret)});
          failed(r, fmt::format("connector {} (real): its credential {} has no value", plan.connector,
                                record.auth_secret));
          continue;
        }
        auth = history::open_version(real, *auth_secret, auth_vid, *auth_live, "rehearse").value;
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

  // The sandbox: rotate onto the twins, then roll back (rotation::v2::Rotator, as rotate/rollback).
  try {
    Sandbox box(real);
    history::VaultSessionOptions sandbox_options = options;
    sandbox_options.vault_path = box.vault();
    sandbox_options.state_home = box.dir() / "state";
    sandbox_options.branch.clear();
    sandbox_options.history_check.reset();
    sandbox_options.full_history_check = false;
    sandbox_options.after_step = nullptr;
    sandbox_options.clock = Clock::fixed(r.at);
    history::VaultSession* real_session = &real;
    sandbox_options.identity = [real_session] {
      const Identity& id = real_session->identity();
      return Identity{id.pub, id.sign_sk.clone(), id.box_sk.clone(), id.holder};
    };
    history::VaultSession sandbox = history::VaultSession::open(std::move(sandbox_options), history::Access::write);
    if (sandbox.state().secret(full_name)->connectors != twins) {
      history::SecretSetArgs args;
      args.secret = full_name;
      args.connectors = twins;
      sandbox.submit(std::move(args), {}, std::string("rehearsal: bound to the staging twins"));
    }
    rotation::Options rotation_options;
    rotation_options.why = "rehearsal";
    rotation_options.progress = ro.progress;
    rotation_options.notify = false; // no hook runs inside the sandbox
    rotation::v2::Rotator rotator(sandbox, rotation_options);
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
        failed(r, "rollback: " + error_of(back));
      }
    } else if (forward.result == rotation::OutcomeResult::awaiting_confirmation) {
      failed(r, "a twin is a manual connector: a rehearsal runs unattended and needs command twins");
    } else {
      failed(r, error_of(forward));
    }
  } catch (const Error& error) {
    r.steps.push_back(Step{"sandbox", "", 0, false, error.what()});
    failed(r, error.what());
  }
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);

  // ONE event in the real journal: value-free facts (a flat object: strings, integers, lists).
  std::vector<std::string> plans;
  for (const auto& plan : r.connectors) {
    plans.push_back(plan.mode == "twin" ? fmt::format("{} twin {}", plan.connector, plan.twin)
                                        : fmt::format("{} {}", plan.connector, plan.mode));
  }
  std::vector<std::string> steps;
  for (const auto& step : r.steps) {
    steps.push_back(connector::one_line(fmt::format("{} {} v{} {}{}", step.phase, step.connector.empty() ? "-" : step.connector,
                                                    step.version, step.ok ? "ok" : "failed",
                                                    step.detail.empty() ? "" : ": " + step.detail),
                                        connector::k_kept_output));
    if (steps.size() == 256) {
      break;
    }
  }
  Json detail{{"secret", full_name},
              {"env", env},
              {"plan", plans},
              {"steps", steps},
              {"version", r.live_version},
              {"sandbox_version", r.sandbox_version},
              {"at", format_time(r.at)},
              {"ms", static_cast<std::int64_t>(r.elapsed.count())}};
  if (!r.ok()) {
    detail["error"] = connector::one_line(r.error, connector::k_kept_output);
  }
  const history::Entry recorded = real.record(history::EventKind::rehearsal,
                                              r.ok() ? history::Result::ok : history::Result::failed, detail);
  r.entry = canonical::b64(recorded.hash);
  r.notify = history::notify(real.state(), Json{{"event", "rehearsal"},
                                                {"secret", full_name},
                                                {"env", env},
                                                {"result", r.ok() ? "ok" : "failed"},
                                                {"error", r.error},
                                                {"actor", me},
                                                {"at", format_time(real.now())},
                                                {"vault", canonical::b64(real.vault_id())},
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
              {"result", ok() ? "ok" : "failed"},
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

Rehearsal rehearse(const history::VaultSessionOptions& options, const std::string& name, const Options& rehearse_options)
{
  (void)split_secret_name(name); // usage errors before the passphrase
  history::VaultSession real = history::VaultSession::open(real_options(options), history::Access::read);
  return rehearse_one(real, options, name, rehearse_options);
}

std::vector<Rehearsal> rehearse_due(const history::VaultSessionOptions& options, const Options& rehearse_options)
{
  history::VaultSession real = history::VaultSession::open(real_options(options), history::Access::read);
  const Timestamp at = rehearse_options.at ? *rehearse_options.at : options.clock.now();
  const std::string me = real.me().name;
  std::vector<std::string> due;
  for (const auto& item : real.state().secrets) {
    const history::Secret& secret = *item.second;
    if (secret.state == SecretState::active && !secret.rotation && rotation::v2::may_rotate(real.state(), me, secret)
        && rotation::v2::due_reason(real.state(), secret, at)) {
      due.push_back(item.first);
    }
  }
  Options each = rehearse_options;
  each.at = at;
  std::vector<Rehearsal> out;
  for (const auto& name : due) {
    out.push_back(rehearse_one(real, options, name, each));
  }
  return out;
}

Status status(const history::State& state, const std::vector<audit::AuditEntry>& journal)
{
  std::map<std::string, const audit::AuditEntry*> latest;
  for (const auto& logged : journal) {
    const auto* kind = std::get_if<history::EventKind>(&logged.entry.action);
    if (kind != nullptr && *kind == history::EventKind::rehearsal && !logged.secret.empty()) {
      latest[logged.secret] = &logged;
    }
  }
  Status status;
  for (const auto& item : state.secrets) {
    const history::Secret& secret = *item.second;
    if (secret.state != SecretState::active) {
      continue;
    }
    const auto it = latest.find(item.first);
    if (it == latest.end()) {
      status.never.push_back(NeverRehearsed{item.first, secret.owner});
      continue;
    }
    const audit::AuditEntry& entry = *it->second;
    if (entry.entry.result != history::Result::ok) {
      status.failed.push_back(FailedRehearsal{item.first, secret.owner, entry.entry.ts, entry.entry.actor,
                                              entry.detail_string("error"), entry.line, entry.hash});
    }
  }
  return status;
}

} // namespace escrow::rehearse
