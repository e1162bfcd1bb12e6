// What every command receives: global options, output streams and the way to open a session.
// Nothing global: tests build their own Context around string streams.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/session.hpp>

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <string>
#include <vector>

namespace escrow::cli {

struct GlobalOptions
{
  std::string vault;    // --vault (else ESCROW_VAULT, else ./escrow.vault)
  std::string identity; // --identity (else ESCROW_IDENTITY / ESCROW_IDENTITY_DATA / default)
  bool json = false;
  bool quiet = false;
  bool allow_rollback = false;
};

class Context
{
public:
  Context(std::ostream& out, std::ostream& err) : m_out(out), m_err(err) {}

  GlobalOptions global;
  // The process exit status when no error is thrown (exec returns its child's).
  int exit_status = 0;
  // The words after a "--" on the command line (exec's command).
  std::vector<std::string> trailing;

  std::ostream& out() { return m_out; }
  std::ostream& err() { return m_err; }

  SessionOptions session_options() const;
  // Neither --vault nor ESCROW_VAULT names the vault: it is found by walking up (locate.hpp).
  bool vault_unnamed() const;
  // THE way a command opens the vault (lock, verify, pins, identity, membership).
  Session open(Mode mode) const;

  bool json() const { return global.json; }
  bool quiet() const { return global.quiet; }
  // One JSON document on stdout.
  void emit(const canonical::Json& document);
  // Whether a document was emitted (a command that reports, then fails, has said it all).
  bool emitted() const { return m_emitted; }
  // A line for people (suppressed by --quiet and --json).
  void say(std::string_view line);
  // A command's result: `document` with --json, else `line` for people (unless --quiet).
  void emit_or_say(const canonical::Json& document, std::string_view line);
  // A note on stderr (suppressed by --quiet).
  void note(std::string_view line);
  // Colour only on a terminal and never with NO_COLOR.
  bool color() const;
  std::string bold(std::string_view text) const;
  std::string dim(std::string_view text) const;

private:
  std::ostream& m_out;
  std::ostream& m_err;
  bool m_emitted = false;
  mutable bool m_setup_checked = false; // the git set-up hint is said once per command
};

// Aligned columns for people.
void print_table(std::ostream& out,
                 const Context& context,
                 const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows);

// A subcommand group registers itself on the app.
void setup_identity(CLI::App& app, Context& context);
void setup_init(CLI::App& app, Context& context);
void setup_member(CLI::App& app, Context& context);
void setup_secrets(CLI::App& app, Context& context);   // add, list, show, get, share, unshare
void setup_exec(CLI::App& app, Context& context);
void setup_verify(CLI::App& app, Context& context);
void setup_git_setup(CLI::App& app, Context& context); // git-setup (docs/TEAM.md)
void setup_sync(CLI::App& app, Context& context);
void setup_diff(CLI::App& app, Context& context);      // diff --textconv FILE (git runs it)
void setup_merge(CLI::App& app, Context& context);     // the merge driver (arrives with escrow-vault/2)
void setup_escrow(CLI::App& app, Context& context);    // request, approve, deny, grants, policy
void setup_rotation(CLI::App& app, Context& context);  // connector, rotate, compromise, retire, rollback, connect
void setup_audit(CLI::App& app, Context& context);     // audit log|verify|report|anomalies
void setup_agent(CLI::App& app, Context& context);     // agent, agent lock, agent status
void setup_inject(CLI::App& app, Context& context);    // inject -i TEMPLATE -o FILE
void setup_import(CLI::App& app, Context& context);    // import SOURCE --env E
void setup_backup(CLI::App& app, Context& context);
void setup_restore(CLI::App& app, Context& context);
void setup_rehearse(CLI::App& app, Context& context);
void setup_drill(CLI::App& app, Context& context);
void setup_completion(CLI::App& app, Context& context); // hidden: completion bash|zsh|fish, __complete
void setup_man(CLI::App& app, Context& context);        // hidden: man

} // namespace escrow::cli
