// What every command receives: global options, output streams, its inputs and the way to open a
// session. Nothing global: tests build their own Context around string streams, a map for the
// environment and a string for stdin.
//
// THE one place that reads the environment: ESCROW_VAULT, ESCROW_IDENTITY, ESCROW_IDENTITY_DATA,
// ESCROW_PASSPHRASE_FILE, ESCROW_LOCK_WAIT, ESCROW_NOW, ESCROW_KDF, ESCROW_AGENT_SOCK,
// XDG_RUNTIME_DIR, XDG_STATE_HOME, XDG_CONFIG_HOME, HOME, NO_COLOR are read here and passed down (SessionOptions); nothing in
// lib/escrow/ calls getenv.
#pragma once

#include <escrow/canonical.hpp>
#include <escrow/secret_bytes.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/session_options.hpp>

#include <CLI/CLI.hpp>

#include <functional>
#include <iosfwd>
#include <optional>
#include <set>
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

// What the CLI takes from its process besides argv and the output streams. Io::process() is the
// real one (main); tests pass their own, so they need neither setenv nor dup2.
struct Io
{
  // A variable's value, or nullptr when unset. The pointer stays valid while the Io lives.
  std::function<const char*(const char* name)> getenv;
  std::function<bool()> stdin_is_terminal;
  // All of stdin, straight into locked memory, at most max_size bytes (Error(usage) beyond).
  std::function<SecretBytes(std::size_t max_size)> read_stdin;
  // A prompt on the terminal with echo off; nullopt when there is no terminal.
  std::function<std::optional<SecretBytes>(std::string_view prompt)> read_hidden_line;

  static Io process();
};

class Context
{
public:
  Context(std::ostream& out, std::ostream& err, Io io = Io::process());

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
  // The options of a history::VaultSession (state home, cache place branch, host, the identity
  // loaded on demand), and THE way a command opens the vault. Warnings are printed on stderr.
  history::VaultSessionOptions vault_session_options() const;
  // The same for the vault whose head file is `vault_path` (restore's destination).
  history::VaultSessionOptions vault_session_options(const std::filesystem::path& vault_path) const;
  // `full_history`: the git first-parent check runs even when nothing moved (escrow verify).
  history::VaultSession open_v2(history::Access access, bool full_history = false) const;
  // Prints a session's warnings ("escrow: warning: …", suppressed by --quiet); each warning is
  // said once per command (open_v2 said those of the open already).
  void warn(const std::vector<std::string>& warnings);

  // A value a person types twice on a terminal (prompts `prompt`, then `repeat`), else all of
  // stdin. `what` prefixes the mismatch error ("add", "rotate").
  SecretBytes read_value(std::string_view prompt, std::string_view repeat, std::string_view what) const;
  // All of stdin (at most max_size bytes), e.g. a public identity piped in.
  SecretBytes read_stdin(std::size_t max_size) const { return m_io.read_stdin(max_size); }
  bool stdin_is_terminal() const { return m_io.stdin_is_terminal(); }
  std::optional<SecretBytes> read_hidden_line(std::string_view prompt) const { return m_io.read_hidden_line(prompt); }
  // A variable of the environment ("" when unset): for the few settings that are not the
  // session's (ESCROW_PASSPHRASE_FILE for a new identity's passphrase).
  std::string_view env(const char* name) const;
  // Where `identity new` writes and `identity show` reads by default.
  std::filesystem::path default_identity_path() const;
  // ESCROW_KDF=fast (test suites only): the cheapest Argon2id limits for a new identity.
  bool kdf_fast() const { return env("ESCROW_KDF") == "fast"; }

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
  mutable std::set<std::string> m_warned; // a session's warnings are said once per command
  Io m_io;
};

// Aligned columns for people (rows taken by value: their cells are escaped in place; move them in).
void print_table(std::ostream& out,
                 const Context& context,
                 const std::vector<std::string>& headers,
                 std::vector<std::vector<std::string>> rows);

// Each command (or group of verbs) registers itself on the app; one file each, named after it.
void setup_identity(CLI::App& app, Context& context);   // identity new | show
void setup_init(CLI::App& app, Context& context);
void setup_member(CLI::App& app, Context& context);     // member add | remove | list
void setup_add(CLI::App& app, Context& context);
void setup_list(CLI::App& app, Context& context);
void setup_show(CLI::App& app, Context& context);
void setup_get(CLI::App& app, Context& context);
void setup_share(CLI::App& app, Context& context);      // share | unshare
void setup_custodians(CLI::App& app, Context& context); // custodians-set
void setup_exec(CLI::App& app, Context& context);
void setup_verify(CLI::App& app, Context& context);
void setup_git_setup(CLI::App& app, Context& context); // git-setup (docs/TEAM.md)
void setup_sync(CLI::App& app, Context& context);
void setup_diff(CLI::App& app, Context& context);      // diff --textconv FILE (git runs it)
void setup_merge(CLI::App& app, Context& context);     // the merge driver (arrives with escrow-vault/2)
void setup_resolve(CLI::App& app, Context& context);   // resolve [N --keep ours|theirs | --suggested]
void setup_request(CLI::App& app, Context& context);
void setup_approve(CLI::App& app, Context& context);
void setup_deny(CLI::App& app, Context& context);
void setup_grants(CLI::App& app, Context& context);
void setup_policy(CLI::App& app, Context& context);     // policy show | set | set-notify
void setup_connector(CLI::App& app, Context& context);  // connector add | list | remove
void setup_connect(CLI::App& app, Context& context);    // connect | disconnect
void setup_rotate(CLI::App& app, Context& context);
void setup_compromise(CLI::App& app, Context& context);
void setup_retire(CLI::App& app, Context& context);
void setup_rollback(CLI::App& app, Context& context);
void setup_audit(CLI::App& app, Context& context);      // audit log | verify | report | anomalies
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
