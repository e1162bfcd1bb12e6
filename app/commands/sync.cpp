// escrow sync: commit escrow's files, pull, push, retry a lost push (lib/escrow/git/sync.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/git/team.hpp>
#include <escrow/history/team_sync.hpp>

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
  // and seal a merged pull with a signed merge entry (history/team_sync.hpp).
  sync.verify = [&context] { (void)context.open_v2(history::Access::read); };
  sync.seal = [&context] {
    history::VaultSession vault = context.open_v2(history::Access::read);
    try {
      return history::seal_merge(vault) ? git::VaultSyncOptions::Seal::sealed
                                          : git::VaultSyncOptions::Seal::nothing;
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
    context.emit(Json{{"upstream", report.upstream},
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
  if (report.sealed > 0) {
    context.say("sealed the merge with a signed merge entry");
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
