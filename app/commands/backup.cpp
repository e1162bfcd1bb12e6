// escrow backup --out FILE [--to PUBFILE]... (the format and checks: lib/escrow/history/backup.hpp)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/history/backup.hpp>
#include <escrow/util/text.hpp>

namespace escrow::cli {

namespace {

struct BackupCommandOptions
{
  std::string out;
  std::vector<std::string> to;
  bool force = false;
};

void run_backup(const BackupCommandOptions& options, Context& context)
{
  history::backup::BackupOptions backup_options;
  backup_options.out = options.out;
  backup_options.overwrite = options.force;
  backup_options.to = history::backup::read_recipients({options.to.begin(), options.to.end()});
  // The lock: the three files as one consistent set.
  history::VaultSession session = context.open_v2(history::Access::write);
  const history::backup::BackupResult result = history::backup::make_backup(session, backup_options);
  if (result.notify.is_object() && !result.notify.value("ok", true)) {
    context.note("notify hook failed (the backup itself is fine): " + result.notify.value("error", std::string()));
  }
  context.emit_or_say(result.to_json(),
                      fmt::format("backed up {} secrets and {} journal entries to {}, encrypted to {}", result.secrets,
                                  result.journal_entries, result.out.string(), util::join(result.recipients)));
}

} // namespace

void setup_backup(CLI::App& app, Context& context)
{
  auto options = std::make_shared<BackupCommandOptions>();
  auto* command = app.add_subcommand("backup", "write one encrypted, signed file holding the vault's three files");
  command->add_option("--out", options->out, "the backup file to write (0600; never over an existing one)")->required();
  command->add_option("--to", options->to,
                      "encrypt to these public identities (identity show --public) instead of the vault's admins");
  command->add_flag("--force", options->force, "replace an existing backup file");
  command->callback([options, &context] { run_backup(*options, context); });
}

} // namespace escrow::cli
