#include <commands/context.hpp>
#include <commands/errors.hpp>

#include <escrow/util/escape.hpp>
#include <escrow/git/history.hpp>
#include <escrow/git/repo.hpp>
#include <escrow/git/resolve.hpp>
#include <escrow/git/team.hpp>
#include <escrow/locate.hpp>
#include <escrow/agent.hpp>
#include <escrow/error.hpp>
#include <escrow/util/terminal.hpp>
#include <escrow/history/keys_file.hpp>

#include <cstdlib>
#include <ostream>

namespace escrow::cli {

Io Io::process()
{
  Io io;
  io.getenv = [](const char* name) -> const char* { return std::getenv(name); };
  io.stdin_is_terminal = [] { return util::is_terminal(0); };
  io.read_stdin = [](std::size_t max_size) { return util::read_stdin_secret(max_size); };
  io.read_hidden_line = [](std::string_view prompt) { return util::read_hidden_line(prompt); };
  return io;
}

Context::Context(std::ostream& out, std::ostream& err, Io io) : m_out(out), m_err(err), m_io(std::move(io)) {}

std::string_view Context::env(const char* name) const
{
  const char* value = m_io.getenv(name);
  return value != nullptr ? std::string_view(value) : std::string_view();
}

std::filesystem::path Context::default_identity_path() const
{
  return escrow::default_identity_path(env("ESCROW_IDENTITY"), env("XDG_CONFIG_HOME"), env("HOME"));
}

SessionOptions Context::session_options() const
{
  SessionOptions options;
  if (!global.vault.empty()) {
    options.vault_path = global.vault;
  } else if (!env("ESCROW_VAULT").empty()) {
    options.vault_path = std::filesystem::path(env("ESCROW_VAULT"));
  } else {
    // Found as git finds .git (lib/escrow/locate.hpp); else ./escrow.vault as before.
    options.vault_path = k_default_vault_name;
    std::error_code no_cwd;
    const std::filesystem::path here = std::filesystem::current_path(no_cwd);
    if (!no_cwd) {
      options.vault_path = find_vault(here).value_or(k_default_vault_name);
    }
  }
  if (!global.identity.empty()) {
    options.identity_path = global.identity;
  } else if (const std::string_view data = env("ESCROW_IDENTITY_DATA"); !data.empty()) {
    // A private key: straight from the environment block into locked memory.
    options.identity_data = SecretBytes::from(data);
  } else {
    options.identity_path = default_identity_path();
  }
  const std::string_view state = env("XDG_STATE_HOME");
  options.state_dir = (state.empty() ? std::filesystem::path(env("HOME").empty() ? "." : env("HOME")) / ".local/state"
                                     : std::filesystem::path(state))
                      / "escrow";
  options.allow_rollback = global.allow_rollback;
  options.clock = Clock::from_setting(env("ESCROW_NOW"));
  options.lock_wait = parse_lock_wait(env("ESCROW_LOCK_WAIT"));
  options.agent_socket = agent::socket_path(env("ESCROW_AGENT_SOCK"), env("XDG_RUNTIME_DIR"));
  const std::string passphrase_file(env("ESCROW_PASSPHRASE_FILE"));
  auto ask = m_io.read_hidden_line;
  options.passphrase = [passphrase_file, ask](std::string_view prompt) -> std::optional<SecretBytes> {
    if (!passphrase_file.empty()) {
      return util::read_secret_line_file(passphrase_file, 4096);
    }
    return ask(prompt);
  };
  return options;
}

bool Context::vault_unnamed() const
{
  return global.vault.empty() && env("ESCROW_VAULT").empty();
}

history::VaultSessionOptions Context::vault_session_options() const
{
  return vault_session_options(session_options().vault_path);
}

history::VaultSessionOptions Context::vault_session_options(const std::filesystem::path& vault_path) const
{
  SessionOptions v1 = session_options();
  v1.vault_path = vault_path;
  history::VaultSessionOptions options;
  options.vault_path = v1.vault_path;
  const std::string_view state = env("XDG_STATE_HOME");
  options.state_home = state.empty() ? std::filesystem::path(env("HOME").empty() ? "." : env("HOME")) / ".local/state"
                                     : std::filesystem::path(state);
  if (const std::optional<git::Place> place = git::place_of(v1.vault_path)) {
    options.branch = place->branch ? *place->branch : std::string("(detached)");
    options.history_check = git::journal_history_check(v1.vault_path);
    options.unresolved_merge = git::unresolved_merge_source(v1.vault_path, place->git_dir);
  }
  options.clock = v1.clock;
  options.host = host_name();
  options.lock_wait = v1.lock_wait;
  options.identity = [v1] { return load_identity(v1); };
  return options;
}

history::VaultSession Context::open_v2(history::Access access, bool full_history) const
{
  history::VaultSessionOptions options = vault_session_options();
  options.full_history_check = full_history;
  options.keep_full_replay = full_history; // verify: its one full replay (history/verify.hpp)
  history::VaultSession session = history::VaultSession::open(std::move(options), access);
  if (!m_setup_checked) {
    m_setup_checked = true;
    // A clone lacking escrow's git set-up is told once, with the fix (docs/TEAM.md).
    if (const auto hint = git::setup_hint(session.paths().head); hint && !global.quiet) {
      m_err << "escrow: " << util::escape_controls(*hint) << '\n';
    }
  }
  if (!global.quiet) {
    // Said once per command, however often it opens the vault (an unresolved merge's warning).
    for (const std::string& warning : session.warnings()) {
      if (m_warned.insert(warning).second) {
        m_err << "escrow: warning: " << util::escape_controls(warning) << '\n';
      }
    }
  }
  return session;
}

void Context::warn(const std::vector<std::string>& warnings)
{
  if (global.quiet) {
    return;
  }
  for (const std::string& warning : warnings) {
    if (m_warned.insert(warning).second) { // a session's warnings were said when it opened
      m_err << "escrow: warning: " << util::escape_controls(warning) << '\n';
    }
  }
}

SecretBytes Context::read_value(std::string_view prompt, std::string_view repeat, std::string_view what) const
{
  if (m_io.stdin_is_terminal()) {
    auto first = m_io.read_hidden_line(prompt);
    auto second = m_io.read_hidden_line(repeat);
    if (!first || !second || !first->equals(*second)) {
      fail(ErrorKind::usage, "{}: the values do not match", what);
    }
    return std::move(*first);
  }
  return m_io.read_stdin(history::k_max_value_size);
}

void Context::emit(const canonical::Json& document)
{
  m_emitted = true;
  // Every document names the version of its shape (docs/JSON.md).
  if (document.is_object() && !document.contains("schema")) {
    canonical::Json versioned = document;
    versioned["schema"] = k_json_schema;
    m_out << versioned.dump(2) << '\n';
    return;
  }
  m_out << document.dump(2) << '\n';
}

void Context::say(std::string_view line)
{
  if (!global.quiet && !global.json) {
    m_out << util::escape_controls(line, util::Layout::keep_lines) << '\n';
  }
}

void Context::emit_or_say(const canonical::Json& document, std::string_view line)
{
  if (global.json) {
    emit(document);
  } else {
    say(line);
  }
}

void Context::note(std::string_view line)
{
  if (!global.quiet) {
    m_err << "escrow: " << util::escape_controls(line, util::Layout::keep_lines) << '\n';
  }
}

bool Context::color() const
{
  return env("NO_COLOR").empty() && util::is_terminal(1) && !global.json;
}

std::string Context::bold(std::string_view text) const
{
  return color() ? fmt::format("\033[1m{}\033[0m", text) : std::string(text);
}

std::string Context::dim(std::string_view text) const
{
  return color() ? fmt::format("\033[2m{}\033[0m", text) : std::string(text);
}

void print_table(std::ostream& out,
                 const Context& context,
                 const std::vector<std::string>& headers,
                 std::vector<std::vector<std::string>> rows)
{
  // Widths in code points, so UTF-8 purposes line up.
  const auto width = [](std::string_view text) {
    std::size_t count = 0;
    for (const char c : text) {
      count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return count;
  };
  // Cells hold names, purposes, justifications read from files: control characters are shown
  // escaped (util/escape.hpp), never sent to the terminal. Escaped in place: most cells need none.
  const auto escape_all = [](std::vector<std::string>& cells) {
    for (std::string& cell : cells) {
      if (util::has_controls(cell)) {
        cell = util::escape_controls(cell);
      }
    }
  };
  std::vector<std::string> headers_shown = headers;
  escape_all(headers_shown);
  for (auto& row : rows) {
    escape_all(row);
  }
  std::vector<std::size_t> widths(headers.size(), 0);
  for (std::size_t i = 0; i < headers.size(); ++i) {
    widths[i] = width(headers_shown[i]);
  }
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], width(row[i]));
    }
  }
  std::string text;
  const auto line = [&](const std::vector<std::string>& cells, bool header) {
    text.clear();
    for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      text += cells[i];
      if (i + 1 != cells.size()) {
        text.append(widths[i] - width(cells[i]) + 2, ' ');
      }
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    out << (header ? context.bold(text) : text) << '\n';
  };
  line(headers_shown, true);
  for (const auto& row : rows) {
    line(row, false);
  }
}

} // namespace escrow::cli
