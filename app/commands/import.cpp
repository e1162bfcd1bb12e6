// escrow import SOURCE --env E [--format F] [--prefix P] [--owner N] [--purpose T] [--skip-existing] [--dry-run]
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/history/import.hpp>

#include <cstdlib>

namespace escrow::cli {

namespace {

struct ImportCommandOptions
{
  std::string source;
  std::string format;
  std::string env;
  std::string prefix;
  std::string owner;
  std::string purpose;
  std::string gpg = "gpg";
  bool skip_existing = false;
  bool dry_run = false;
  bool whole_entry = false;
};

void run_import(const ImportCommandOptions& options, Context& context)
{
  ImportSource source;
  source.path = options.source;
  source.format = options.format.empty() ? guess_import_format(source.path) : parse_import_format(options.format);
  source.whole_entry = options.whole_entry;
  source.gpg = options.gpg;
  source.read_stdin = [&context](std::size_t max_size) { return context.read_stdin(max_size); };
  if (source.path == "-" && options.format.empty()) {
    fail(ErrorKind::usage, "import: reading stdin needs --format env|json|yaml");
  }
  ImportOptions import;
  import.env = options.env;
  import.prefix = options.prefix;
  import.owner = options.owner;
  import.purpose = options.purpose;
  import.duplicates = options.skip_existing ? Duplicates::skip : Duplicates::refuse;
  import.dry_run = options.dry_run;
  // The values are read before the vault lock is taken (gpg may ask for a passphrase).
  std::vector<ImportItem> items =
    read_import_source(source, options.dry_run ? ReadValues::no : ReadValues::yes);
  const std::string label = source.path == "-" ? std::string("stdin") : source.path.filename().string();
  history::VaultSession session = context.open_v2(options.dry_run ? history::Access::read : history::Access::write);
  const history::ImportOutcome result =
    history::import_secrets(session, items, import, label.empty() ? source.path.string() : label, source.format);
  std::size_t added = 0;
  Json secrets = Json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& secret : result.secrets) {
    added += secret.skipped ? 0 : 1;
    const std::string action = secret.skipped ? "skip (exists)" : options.dry_run ? "add" : "added";
    secrets.push_back(Json{{"secret", secret.secret}, {"from", secret.key}, {"action", secret.skipped ? "skip" : "add"}});
    rows.push_back({secret.secret, secret.key, action});
  }
  if (context.json()) {
    context.emit(Json{{"dry_run", options.dry_run},
                      {"format", std::string(import_format_name(source.format))},
                      {"secrets", secrets},
                      {"added", options.dry_run ? 0 : added},
                      {"entry", result.entry}});
    return;
  }
  if (context.quiet()) {
    return;
  }
  print_table(context.out(), context, {"SECRET", "FROM", "ACTION"}, rows);
  if (options.dry_run) {
    context.say(fmt::format("dry run: {} to add, {} skipped; nothing was written", added, result.secrets.size() - added));
  } else {
    context.say(fmt::format("imported {} secret(s) ({} skipped)", added, result.secrets.size() - added));
  }
}

} // namespace

void setup_import(CLI::App& app, Context& context)
{
  auto options = std::make_shared<ImportCommandOptions>();
  auto* import = app.add_subcommand(
    "import", "add many secrets at once from a .env file, a pass store or a JSON/YAML map");
  import->add_option("source", options->source,
                     "a .env file, a .json/.yaml file, a pass store folder, or - for stdin (with --format)")
    ->required();
  import->add_option("--env", options->env, "the environment the secrets go to")->required();
  import->add_option("--format", options->format, "env | json | yaml | pass (default: from the file name)");
  import->add_option("--prefix", options->prefix, "prepended to every name (e.g. app/ gives ENV/app/NAME)");
  import->add_option("--owner", options->owner, "the member accountable for them (default: you)");
  import->add_option("--purpose", options->purpose, "what they are for (default: \"imported from SOURCE (KEY)\")");
  import->add_flag("--skip-existing", options->skip_existing, "skip names already in the vault (default: refuse)");
  import->add_flag("--dry-run", options->dry_run, "list what would be added; write nothing (pass entries stay encrypted)");
  import->add_flag("--whole-entry", options->whole_entry, "pass: the whole entry, not only its first line");
  import->add_option("--gpg", options->gpg, "pass: the gpg program (default: gpg)");
  import->footer("Values are read from the file, a pipe or gpg's output, never from the command line.\n"
                 "SOPS: sops -d secrets.yaml | escrow import - --format yaml --env prod. See docs/DAILY.md.");
  import->callback([options, &context] { run_import(*options, context); });
}

} // namespace escrow::cli
