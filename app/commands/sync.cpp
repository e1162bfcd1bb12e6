// escrow sync: commit escrow's files, pull, push, retry a lost push (lib/escrow/git/sync.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/git/team.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/history/team_sync.hpp>

#include <optional>
#include <utility>
#include <vector>

namespace escrow::cli {

namespace {

struct SyncCommandOptions
{
  int attempts = 3;
};

void run_sync(const SyncCommandOptions& options, Context& context)
{
  const SessionOptions session = context.session_options();
  git::VaultSyncOptions sync;
  sync.vault_path = session.vault_path;
  sync.state_dir = session.state_dir;
  sync.lock_wait = session.lock_wait;
  sync.attempts = options.attempts;
  // escrow-vault/2: open the vault as every command does (loss check, git first-parent check),
  // and seal a merged pull with a signed merge entry (history/team_sync.hpp). Key debts this
  // member can pay as owner (history/secrets.hpp key_debts: a reader whose access crossed a
  // rotation, a rotator added since the last rotation) are paid first, before the commit, and
  // again after a pull; a share entry written after a merge names both heads, so it seals it.
  std::vector<std::pair<std::string, std::string>> paid;
  // Opens the vault; pays the debts when there are some. Returns whether it wrote.
  const auto pay_debts = [&context, &paid](std::optional<history::VaultSession>& vault) {
    vault.emplace(context.open_v2(history::Access::read));
    if (history::key_debts(vault->state(), "").empty()) {
      return false; // the usual case: no identity opened (no passphrase asked) to learn it
    }
    try {
      if (history::key_debts(vault->state(), vault->me().name).empty()) {
        return false;
      }
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::access) {
        throw;
      }
      return false; // no identity here: nothing to pay with
    }
    vault.reset();
    history::VaultSession writer = context.open_v2(history::Access::write);
    const std::vector<std::pair<std::string, std::string>> now = history::pay_key_debts(writer);
    context.warn(writer.warnings());
    paid.insert(paid.end(), now.begin(), now.end());
    return !now.empty();
  };
  bool first = true;
  sync.verify = [&context, &first, &pay_debts] {
    if (std::exchange(first, false)) {
      std::optional<history::VaultSession> vault;
      (void)pay_debts(vault);
    } else {
      (void)context.open_v2(history::Access::read);
    }
  };
  sync.seal = [&context, &pay_debts] {
    std::optional<history::VaultSession> vault;
    if (pay_debts(vault)) {
      return git::VaultSyncOptions::Seal::sealed;
    }
    if (!vault) {
      vault.emplace(context.open_v2(history::Access::read));
    }
    try {
      return history::seal_merge(*vault) ? git::VaultSyncOptions::Seal::sealed : git::VaultSyncOptions::Seal::nothing;
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::access) {
        throw;
      }
      return git::VaultSyncOptions::Seal::unsigned_; // no identity here: the next write seals it
    }
  };
  const git::SyncReport report = git::sync_vault(sync);
  for (const std::string& note : report.notes) {
    context.note(note);
  }
  if (context.json()) {
    Json keys = Json::array();
    for (const auto& [secret, member] : paid) {
      keys.push_back(Json{{"secret", secret}, {"member", member}});
    }
    context.emit(Json{{"upstream", report.upstream},
                      {"key_debts_paid", std::move(keys)},
                      {"committed", report.committed ? Json(*report.committed) : Json(nullptr)},
                      {"pulled", report.pulled},
                      {"pushed", report.pushed},
                      {"sealed", report.sealed},
                      {"push_attempts", report.push_attempts}});
    return;
  }
  if (report.committed) {
    context.say(fmt::format("committed {}", report.committed->substr(0, 12)));
  }
  if (report.pulled > 0) {
    context.say(fmt::format("pulled {} commit(s) from {}", report.pulled, report.upstream));
  }
  for (const auto& [secret, member] : paid) {
    context.say(fmt::format("handed {} the keys of {} they lacked (a rotation crossed their access)", member, secret));
  }
  if (report.sealed > 0) {
    context.say(paid.empty() ? "sealed the merge with a signed merge entry" : "committed the key hand-over");
  }
  if (report.pushed) {
    context.say(fmt::format("pushed to {}{}", report.upstream,
                            report.push_attempts > 1 ? fmt::format(" (attempt {})", report.push_attempts) : ""));
  } else {
    context.say(fmt::format("up to date with {}", report.upstream));
  }
}

} // namespace

void setup_sync(CLI::App& app, Context& context)
{
  auto options = std::make_shared<SyncCommandOptions>();
  auto* command = app.add_subcommand("sync", "commit escrow's changed files, pull, push (docs/TEAM.md)");
  command->add_option("--attempts", options->attempts, "pushes tried when others push first (default 3)")
    ->check(CLI::Range(1, 100));
  command->callback([options, &context] { run_sync(*options, context); });
}

} // namespace escrow::cli
