// escrow verify
#include <commands/context.hpp>

#include <escrow/audit/verify.hpp>
#include <escrow/error.hpp>

namespace escrow::cli {

namespace {

void run_verify(Context& context)
{
  Session session = context.open(Mode::read);
  // In a git work tree: the vault's first-parent history only moves forward (docs/TEAM.md).
  for (const auto& warning : session.check_history()) {
    context.note("warning: " + warning);
  }
  const Vault& vault = session.vault();
  vault.verify_all();
  // The journal: every hash, signature, parent link and both anchors (escrow/audit/verify.hpp).
  const audit::VerifyReport journal = audit::verify_session_journal(session);
  for (const auto& finding : journal.findings) {
    if (finding.warning()) {
      context.note("warning: " + session.journal().path().string() + ": " + finding.message);
    }
  }
  audit::require_clean(journal, session.journal().path());
  audit::pin_verified(session, journal);
  if (context.json()) {
    context.emit(Json{{"ok", true},
                      {"vault", session.vault_path().string()},
                      {"revision", vault.revision()},
                      {"members", vault.members().size()},
                      {"secrets", vault.secret_names().size()},
                      {"signatures", vault.verified_signatures()},
                      {"journal_entries", journal.entries},
                      {"journal_warnings", journal.warnings()}});
    return;
  }
  context.say(fmt::format("ok: {} revision {}: {} members, {} secrets, {} signatures verified, {} journal entries "
                          "verified and anchored",
                          session.vault_path().string(), vault.revision(), vault.members().size(),
                          vault.secret_names().size(), vault.verified_signatures(), journal.entries));
}

} // namespace

void setup_verify(CLI::App& app, Context& context)
{
  auto* verify = app.add_subcommand("verify", "check every signature, hash, the journal anchor and the rollback pin");
  verify->callback([&context] { run_verify(context); });
}

} // namespace escrow::cli
