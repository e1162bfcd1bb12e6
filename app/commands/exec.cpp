// escrow exec --set VAR=ENV/NAME... -- CMD ARGS
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/redact.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/records.hpp>
#include <escrow/util/process.hpp>

namespace escrow::cli {

namespace {

struct ExecOptions
{
  std::vector<std::string> sets;
  std::string env_file;
  std::vector<std::string> command;
};

bool valid_variable(std::string_view name)
{
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

void run_exec(const ExecOptions& options, Context& context)
{
  if (options.command.empty()) {
    fail(ErrorKind::usage, "exec: no command given (escrow exec --set VAR=ENV/NAME -- CMD ARGS)");
  }
  if (options.sets.empty() && options.env_file.empty()) {
    fail(ErrorKind::usage, "exec: nothing to set (--set VAR=ENV/NAME or --env-file FILE)");
  }
  std::vector<history::Binding> bindings;
  for (const auto& set : options.sets) {
    const auto eq = set.find('=');
    if (eq == std::string::npos || !valid_variable(set.substr(0, eq))) {
      fail(ErrorKind::usage, "exec: --set wants VAR=ENV/NAME with VAR a shell variable name");
    }
    const auto [env, name] = split_secret_name(set.substr(eq + 1));
    bindings.push_back(history::Binding{set.substr(0, eq), env + "/" + name, 0, ""});
  }

  // --env-file: references read under the same rules, each journaled like a --set.
  std::vector<std::pair<std::string, std::string>> plain;
  if (!options.env_file.empty()) {
    history::EnvFileBindings file = history::read_env_file(options.env_file);
    plain = std::move(file.plain);
    bindings.insert(bindings.end(), file.bindings.begin(), file.bindings.end());
  }
  // One session: the identity is unlocked once, the uses are journaled before the command runs.
  // It ends before the command starts, so no lock is held while it runs.
  std::vector<SecretBytes> values = [&] {
    history::VaultSession session = context.open_v2(history::Access::read);
    std::vector<SecretBytes> loaded = history::load_values(session, bindings, options.command.front());
    context.warn(session.warnings());
    return loaded;
  }();

  Redactor redactor;
  util::ProcessSpec spec;
  spec.argv = options.command;
  spec.output = util::OutputMode::forward;
  // The command gets the values it asked for, never escrow's own identity (a CI rotator's
  // private keys may be in ESCROW_IDENTITY_DATA).
  spec.extra_env = plain;
  spec.extra_env.insert(spec.extra_env.end(), {{"ESCROW_IDENTITY_DATA", ""}, {"ESCROW_PASSPHRASE_FILE", ""}});
  for (std::size_t i = 0; i < bindings.size(); ++i) {
    redactor.add(bindings[i].secret, values[i]);
    spec.secret_env.emplace_back(bindings[i].variable, &values[i]);
  }
  redact_output(spec, redactor);
  const util::ProcessResult result = util::run_process(spec);
  context.exit_status = result.signal != 0 ? 128 + result.signal : result.exit_code;
}

} // namespace

void setup_exec(CLI::App& app, Context& context)
{
  auto options = std::make_shared<ExecOptions>();
  auto* exec = app.add_subcommand(
    "exec", "run a command with secrets in its environment; its stdout and stderr are redacted");
  exec->add_option("--set", options->sets, "VAR=ENV/NAME (repeatable)");
  exec->add_option("--env-file", options->env_file,
                   "a .env file whose values are escrow://ENV/NAME[@vN] references or plain (non-secret) values");
  exec->footer("Run as: escrow exec --set VAR=ENV/NAME [--set ...] [--env-file FILE] -- CMD ARGS\n"
               "The command's exit status is escrow's. Every value in play is replaced by <redacted:ENV/NAME>\n"
               "in its output, also when split across writes. Each use is journaled before the command starts.");
  // Everything after "--" is the command (cli::run sets it aside before parsing).
  exec->callback([options, &context] {
    options->command = context.trailing;
    run_exec(*options, context);
  });
}

} // namespace escrow::cli
