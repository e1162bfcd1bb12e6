// escrow restore FILE --to DIR [--reconnect] (the checks: lib/escrow/history/backup.hpp)
#include <commands/context.hpp>

#include <escrow/history/backup.hpp>
#include <escrow/error.hpp>

namespace escrow::cli {

namespace {

struct RestoreCommandOptions
{
  std::string file;
  std::string to;
  bool reconnect = false;
};

void run_restore(const RestoreCommandOptions& options, Context& context)
{
  history::backup::RestoreOptions restore_options;
  restore_options.file = options.file;
  restore_options.to = options.to;
  restore_options.reconnect = options.reconnect;
  restore_options.allow_rollback = context.global.allow_rollback;
  // The destination's session options (its cache place); the head file's name is the backup's.
  restore_options.session = context.vault_session_options(std::filesystem::path(options.to) / "escrow.vault");
  const history::backup::RestoreResult result = history::backup::restore(restore_options);
  if (result.notify.is_object() && !result.notify.value("ok", true)) {
    context.note("notify hook failed (the restore itself is fine): " + result.notify.value("error", std::string()));
  }
  if (context.json()) {
    context.emit(result.to_json());
  } else if (!context.quiet()) {
    auto& out = context.out();
    out << fmt::format("verified {}: vault {}, made by {} at {}; {} members, {} secrets, {} journal entries, {} "
                       "signatures; {} versions decrypted ({} not readable by you)\n",
                       options.file, result.vault_id, result.maker, format_time(result.made_at), result.members,
                       result.secrets, result.journal_entries, result.signatures, result.decrypted, result.unreadable);
    if (result.rolled_back) {
      out << fmt::format("accepted the loss of {} journal entries this machine had verified (--allow-rollback)\n",
                         result.lost);
    }
    out << fmt::format("wrote {}, {} and {}\n", result.head.string(), result.journal.string(), result.keys.string());
    for (const auto& check : result.connectors) {
      out << fmt::format("  {}: {}{}\n", check.connector, check.result,
                         check.result == "verified" ? fmt::format(" ({} secrets)", check.secrets)
                                                    : ": " + check.detail);
    }
    out << result.summary() << '\n';
  }
  if (result.connectors_checked() > result.connectors_verified()) {
    fail(ErrorKind::failed, "restore: {} of {} connectors failed to verify the restored values",
         result.connectors_checked() - result.connectors_verified(), result.connectors.size());
  }
}

} // namespace

void setup_restore(CLI::App& app, Context& context)
{
  auto options = std::make_shared<RestoreCommandOptions>();
  auto* command = app.add_subcommand("restore", "verify a backup completely, then write its vault files");
  command->add_option("file", options->file, "the backup file")->required();
  command->add_option("--to", options->to, "directory to restore into (none of the vault's three files may exist there)")
    ->required();
  command->add_flag("--reconnect", options->reconnect,
                    "then run every connector's verify against the restored current values");
  command->callback([options, &context] { run_restore(*options, context); });
}

} // namespace escrow::cli
