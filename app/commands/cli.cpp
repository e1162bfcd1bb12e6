#include <escrow/util/escape.hpp>
#include <commands/cli.hpp>
#include <commands/context.hpp>
#include <commands/errors.hpp>
#include <commands/version.hpp>

#include <escrow/error.hpp>

#include <algorithm>
#include <array>
#include <string_view>
#include <iostream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <sys/prctl.h>
#include <sys/resource.h>

namespace escrow::cli {

namespace {

void print_error(std::ostream& err, const Error& error)
{
  // One line each, whatever a name or field taken from a file holds (util/escape.hpp).
  err << "escrow: error: " << util::escape_controls(error.what()) << '\n';
  for (const auto& hint : error.hints()) {
    err << "escrow: hint: " << util::escape_controls(hint) << '\n';
  }
}

} // namespace

namespace {

using Setup = void (*)(CLI::App&, Context&);

struct CommandSetup
{
  std::array<std::string_view, 2> names; // the subcommands the function adds ("" = none)
  Setup setup;
};

// In the order `escrow --help` lists them.
constexpr std::array<CommandSetup, 37> commands{{
    {{"identity", ""}, setup_identity},
    {{"init", ""}, setup_init},
    {{"member", ""}, setup_member},
    {{"add", ""}, setup_add},
    {{"list", ""}, setup_list},
    {{"show", ""}, setup_show},
    {{"get", ""}, setup_get},
    {{"share", "unshare"}, setup_share},
    {{"custodians", ""}, setup_custodians},
    {{"exec", ""}, setup_exec},
    {{"request", ""}, setup_request},
    {{"approve", ""}, setup_approve},
    {{"deny", ""}, setup_deny},
    {{"grants", ""}, setup_grants},
    {{"policy", ""}, setup_policy},
    {{"connector", ""}, setup_connector},
    {{"connect", "disconnect"}, setup_connect},
    {{"rotate", ""}, setup_rotate},
    {{"compromise", ""}, setup_compromise},
    {{"retire", ""}, setup_retire},
    {{"rollback", ""}, setup_rollback},
    {{"audit", ""}, setup_audit},
    {{"verify", ""}, setup_verify},
    {{"git-setup", ""}, setup_git_setup},
    {{"sync", ""}, setup_sync},
    {{"diff", ""}, setup_diff},
    {{"merge", ""}, setup_merge},
    {{"resolve", ""}, setup_resolve},
    {{"agent", ""}, setup_agent},
    {{"inject", ""}, setup_inject},
    {{"import", ""}, setup_import},
    {{"backup", ""}, setup_backup},
    {{"restore", ""}, setup_restore},
    {{"rehearse", ""}, setup_rehearse},
    {{"drill", ""}, setup_drill},
    // These two walk the whole tree (cli_model.hpp): never set up alone.
    {{"completion", "__complete"}, setup_completion},
    {{"man", ""}, setup_man},
}};

} // namespace

namespace {

// The first of `count` words (word(i)) that is neither a global option nor the value of --vault /
// --identity.
template<typename Word>
std::string_view first_command(std::size_t count, Word&& word)
{
  for (std::size_t i = 0; i < count; ++i) {
    const std::string_view w = word(i);
    if (w == "--vault" || w == "--identity") {
      ++i; // its value
    } else if (w.empty() || w[0] != '-') {
      return w;
    }
  }
  return {};
}

} // namespace

std::string_view invoked_command(const std::vector<std::string>& words)
{
  return first_command(words.size(), [&words](std::size_t i) { return std::string_view(words[i]); });
}

std::string_view invoked_command(int argc, const char* const* argv)
{
  if (argc < 1 || argv == nullptr) {
    return {};
  }
  return first_command(static_cast<std::size_t>(argc - 1),
                       [argv](std::size_t i) { return std::string_view(argv[i + 1] != nullptr ? argv[i + 1] : ""); });
}

void setup_commands(CLI::App& app, Context& context, std::string_view invoked)
{
  const auto named = [&](const CommandSetup& command) {
    return !invoked.empty() && (command.names[0] == invoked || command.names[1] == invoked);
  };
  const auto* const only = std::find_if(commands.begin(), commands.end(), named);
  const bool walks_tree = only != commands.end() && (only->setup == setup_completion || only->setup == setup_man);
  if (only != commands.end() && !walks_tree) {
    only->setup(app, context);
    return;
  }
  for (const CommandSetup& command : commands) {
    command.setup(app, context);
  }
}

std::vector<std::vector<std::string_view>> command_groups()
{
  std::vector<std::vector<std::string_view>> groups;
  for (const CommandSetup& command : commands) {
    auto& names = groups.emplace_back();
    for (const std::string_view name : command.names) {
      if (!name.empty()) {
        names.push_back(name);
      }
    }
  }
  return groups;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err)
{
  return run(args, out, err, Io::process());
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, Io io)
{
  // `escrow --version` alone answers before the command tree is built and before CLI11 throws
  // its version exception (the first exception of a process costs the unwinder's set-up).
  if (args.size() == 1 && args[0] == "--version") {
    out << version_line() << '\n';
    return 0;
  }
  Context context(out, err, std::move(io));
  CLI::App app{"escrow — a team's shared credentials in one signed, encrypted vault in git", "escrow"};
  app.set_version_flag("--version", version_line());
  app.require_subcommand(1);
  app.fallthrough();
  app.option_defaults()->always_capture_default(false);
  app.add_option("--vault", context.global.vault, "vault file (default: $ESCROW_VAULT or ./escrow.vault)");
  app.add_option("--identity", context.global.identity,
                 "identity file (default: $ESCROW_IDENTITY, $ESCROW_IDENTITY_DATA or ~/.config/escrow/identity.json)");
  app.add_flag("--json", context.global.json, "print one JSON document on stdout");
  app.add_flag("-q,--quiet", context.global.quiet, "print nothing but errors and requested values");
  app.add_flag("--allow-rollback", context.global.allow_rollback,
               "accept a vault older than the newest this machine has seen (journaled)");

  // Only the invoked command's options are built when the command line names one (the whole
  // tree costs ~0.4 ms of a 4 ms `get`); `escrow --help`, an unknown word, and the commands that
  // walk the tree (completion, man) get every command.
  const std::vector<std::string> words_before_dashes(args.begin(), std::find(args.begin(), args.end(), "--"));
  setup_commands(app, context, invoked_command(words_before_dashes));
  // After the subcommands, so that only the top-level help carries it.
  app.footer(
    "Environment: ESCROW_VAULT, ESCROW_IDENTITY, ESCROW_IDENTITY_DATA, ESCROW_PASSPHRASE_FILE,\n"
    "ESCROW_AGENT_SOCK (the agent's socket), ESCROW_LOCK_WAIT (seconds),\n"
    "ESCROW_NOW (fixed clock for tests and rehearsals), ESCROW_KDF=fast\n"
    "(test suites only), NO_COLOR.\n"
    "Exit codes: 0 ok, 1 operation failed, 2 usage, 3 integrity, 4 access denied, 5 lock or I/O.");

  std::vector<std::string> words = args;
  if (const auto dashes = std::find(words.begin(), words.end(), "--"); dashes != words.end()) {
    context.trailing.assign(dashes + 1, words.end());
    words.erase(dashes, words.end());
  }
  std::vector<std::string> reversed(words.rbegin(), words.rend());
  // With --json an error is also one JSON document on stdout (docs/JSON.md); the flag is looked
  // for in the words too, as a parse error can come before CLI11 has set it.
  const auto json_error = [&](ErrorKind kind, std::string_view message, const std::vector<std::string>& hints = {}) {
    // A command that emitted its document, then failed (rotate, audit verify), has said it all.
    const bool wanted = context.global.json || std::find(words.begin(), words.end(), "--json") != words.end();
    if (wanted && !context.emitted()) {
      out << error_json(kind, message, hints).dump(2, ' ', false, canonical::Json::error_handler_t::replace) << '\n';
    }
  };
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion&) {
    out << version_line() << '\n';
    return 0;
  } catch (const CLI::ParseError& error) {
    // Subcommand help: CLI11 raises CallForHelp from the subcommand; handled above.
    // An unknown command or option gets a "did you mean" instead of CLI11's message.
    if (const std::optional<Error> diagnosis = diagnose_command_line(app, words)) {
      print_error(err, *diagnosis);
      json_error(diagnosis->kind(), diagnosis->what(), diagnosis->hints());
      return diagnosis->exit_code();
    }
    const std::string hint = "run 'escrow --help' or 'escrow COMMAND --help'";
    err << "escrow: error: " << util::escape_controls(error.what()) << '\n';
    err << "escrow: hint: " << hint << '\n';
    json_error(ErrorKind::usage, error.what(), {hint});
    return exit_code(ErrorKind::usage);
  } catch (const Error& error) {
    print_error(err, error);
    json_error(error.kind(), error.what(), error.hints());
    return error.exit_code();
  } catch (const std::bad_alloc&) {
    err << "escrow: error: out of memory\n";
    json_error(ErrorKind::failed, "out of memory");
    return exit_code(ErrorKind::failed);
  } catch (const std::filesystem::filesystem_error& error) {
    err << "escrow: error: " << util::escape_controls(error.what()) << '\n';
    json_error(ErrorKind::io, error.what());
    return exit_code(ErrorKind::io);
  } catch (const std::exception& error) {
    err << "escrow: error: internal: " << error.what() << '\n';
    json_error(ErrorKind::failed, std::string("internal: ") + error.what());
    return exit_code(ErrorKind::failed);
  }
  return context.exit_status;
}

int main(int argc, char* argv[])
{
  // No core dumps: they would hold decrypted keys and values.
  struct rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#if defined(__GLIBC__)
  // Where glibc's malloc serves (the release binary links mimalloc instead: app/CMakeLists.txt),
  // memory goes back to the system when the command exits, not while it runs: glibc's defaults
  // return the top of the heap and map each block of 128 KiB or more on its own, so `audit
  // verify`, which replays the journal in batches that allocate and free the same few megabytes,
  // took ten page faults per entry (docs/PERFORMANCE.md). Values never live in this heap
  // (SecretBytes are sodium_malloc'd), and no core dump or ptrace can read what it keeps (above).
  ::mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  ::mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
#endif
  try {
    init_library();
  } catch (const Error& error) {
    std::cerr << "escrow: error: " << error.what() << '\n';
    return error.exit_code();
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  const int code = run(args, std::cout, std::cerr);
  std::cout.flush();
  return code;
}

} // namespace escrow::cli
