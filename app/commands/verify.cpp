// escrow verify
#include <commands/context.hpp>

#include <escrow/history/verify.hpp>

#include <escrow/canonical.hpp>
#include <escrow/error.hpp>

namespace escrow::cli {

namespace {

// A public read: no identity is loaded. In a git work tree the first-parent check of
// vault-2-replay.md §7 runs in full, whatever this place checked before.
void run_verify(Context& context)
{
  history::VaultSession session = context.open_v2(history::Access::read, true);
  const history::VaultCheck check = history::verify(session);
  for (const std::string& warning : check.warnings) {
    context.note("warning: " + warning);
  }
  const std::string vault = session.paths().head.string();
  if (context.json()) {
    context.emit(Json{{"ok", true},
                      {"vault", vault},
                      {"members", check.members},
                      {"secrets", check.secrets},
                      {"signatures", check.signatures},
                      {"journal_entries", check.entries},
                      {"key_lines", check.key_lines},
                      {"state", canonical::b64(check.state)},
                      {"warnings", check.warnings.size()}});
    return;
  }
  context.say(fmt::format("ok: {}: {} journal entries replayed, each authorised by the state before it; {} "
                          "signatures and {} key lines verified; {} members, {} secrets",
                          vault, check.entries, check.signatures, check.key_lines, check.members, check.secrets));
}

} // namespace

void setup_verify(CLI::App& app, Context& context)
{
  auto* verify = app.add_subcommand("verify", "replay the whole journal: every entry authorised by the state before it, every signature and key line");
  verify->callback([&context] { run_verify(context); });
}

} // namespace escrow::cli
