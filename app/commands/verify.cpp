// escrow verify
#include <commands/context.hpp>

#include <escrow/error.hpp>

namespace escrow::cli {

namespace {

void run_verify(Context& context)
{
  Session session = context.open(Mode::read);
  const Vault& vault = session.vault();
  vault.verify_all();
  // The journal must contain the entry the vault is anchored to.
  const std::vector<JournalEntry> entries = session.journal().read_all();
  bool anchored = vault.journal_head().empty();
  for (const auto& entry : entries) {
    if (entry.hash == vault.journal_head()) {
      anchored = true;
      break;
    }
  }
  if (!anchored) {
    fail(ErrorKind::integrity, "{}: the vault's journal_head is not in the journal (truncated or replaced)",
         session.journal().path().string());
  }
  if (context.json()) {
    context.emit(Json{{"ok", true},
                      {"vault", session.vault_path().string()},
                      {"revision", vault.revision()},
                      {"members", vault.members().size()},
                      {"secrets", vault.secret_names().size()},
                      {"signatures", vault.verified_signatures()},
                      {"journal_entries", entries.size()}});
    return;
  }
  context.say(fmt::format("ok: {} revision {}: {} members, {} secrets, {} signatures verified, journal anchored",
                          session.vault_path().string(), vault.revision(), vault.members().size(),
                          vault.secret_names().size(), vault.verified_signatures()));
}

} // namespace

void setup_verify(CLI::App& app, Context& context)
{
  auto* verify = app.add_subcommand("verify", "check every signature, hash, the journal anchor and the rollback pin");
  verify->callback([&context] { run_verify(context); });
}

} // namespace escrow::cli
