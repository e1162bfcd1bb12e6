// escrow rotate ENV/NAME | --due | --resume | --confirm ENV/NAME CONNECTOR [--dry-run] (lib/escrow/rotation/v2.hpp; docs/ROTATION.md)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/generator.hpp>
#include <escrow/rotation/v2.hpp>

namespace escrow::cli {

namespace {

struct RotateOptions
{
  std::string name;
  bool due = false;
  bool resume = false;
  bool dry_run = false;
  std::vector<std::string> confirm;
  std::string generate;
  std::string why;
  bool from_stdin = false;
  bool no_push = false;
};

void run_rotate(const RotateOptions& options, Context& context)
{
  const bool confirming = !options.confirm.empty();
  const int modes = (options.name.empty() ? 0 : 1) + (options.due ? 1 : 0) + (confirming ? 1 : 0);
  if (confirming && (options.due || options.resume || !options.name.empty() || options.dry_run)) {
    fail(ErrorKind::usage, "rotate --confirm ENV/NAME CONNECTOR stands alone");
  }
  if (!options.name.empty() && options.due) {
    fail(ErrorKind::usage, "rotate: give ENV/NAME or --due, not both");
  }
  if (modes == 0 && !options.resume) {
    throw Error(ErrorKind::usage, "rotate: give ENV/NAME, --due, --resume or --confirm ENV/NAME CONNECTOR")
      .hint("escrow rotate --due --dry-run shows what is due");
  }
  if ((options.from_stdin || !options.generate.empty()) && options.name.empty()) {
    fail(ErrorKind::usage, "rotate: --stdin and --generate apply to one secret (rotate ENV/NAME)");
  }
  if (options.from_stdin && !options.generate.empty()) {
    fail(ErrorKind::usage, "rotate: --stdin and --generate exclude each other");
  }
  if (options.resume && !options.name.empty() && (options.from_stdin || !options.generate.empty())) {
    fail(ErrorKind::usage, "rotate --resume finishes a pending version; it takes no new value");
  }
  if (!options.name.empty()) {
    (void)split_secret_name(options.name);
  }
  if (confirming) {
    (void)split_secret_name(options.confirm[0]);
  }
  rotation::Options rotate_options;
  rotate_options.why = options.why;
  if (!options.generate.empty()) {
    rotate_options.generate = options.generate;
    (void)parse_generator(options.generate);
  }
  rotate_options.progress = progress_for(context);
  // A value typed or piped in is read before the lock is taken.
  std::optional<SecretBytes> value;
  if (options.from_stdin && !options.dry_run) {
    value = context.read_value("New value (hidden): ", "Repeat new value: ", "rotate");
    if (value->empty()) {
      fail(ErrorKind::usage, "rotate: the value on stdin is empty");
    }
    rotate_options.value = &*value;
  }

  const std::string command = confirming ? "rotate --confirm" : options.due ? "rotate --due" : options.name.empty() ? "rotate --resume" : "rotate";
  if (options.dry_run) {
    // A plan names what the caller may rotate: the identity is loaded, nothing is written.
    history::VaultSession session = context.open_v2(history::Access::read);
    rotation::v2::Rotator rotator(session, rotate_options);
    std::vector<std::string> names;
    if (!options.name.empty()) {
      names.push_back(options.name);
    }
    report_outcomes(context, command + " --dry-run", rotator.plan(names, options.due, options.resume && options.name.empty()),
           true);
    return;
  }
  // Under the git lock when the repository has an upstream (docs/TEAM.md "Rotation: git is the lock").
  std::vector<rotation::Outcome> outcomes;
  const rotation::LockedRun run = rotation::run_rotation(
    git_lock_options(context, options.no_push), rotate_options, [&](rotation::v2::Rotator& rotator) {
      if (confirming) {
        outcomes.push_back(rotator.confirm(options.confirm[0], options.confirm[1]));
      } else if (options.resume && !options.due) {
        outcomes = rotator.resume(options.name);
      } else if (options.due) {
        outcomes = rotator.rotate_due();
      } else {
        outcomes.push_back(rotator.rotate(options.name));
      }
    });
  note_lock(context, run);
  report_outcomes(context, command, outcomes, false);
  fail_unpublished(run);
}

} // namespace

void setup_rotate(CLI::App& app, Context& context)
{
  // rotate
  auto rotate_options = std::make_shared<RotateOptions>();
  auto* rotate = app.add_subcommand("rotate", "make a new version, push it to every connector, verify, finish; "
                                              "rolled back on failure");
  rotate->add_option("name", rotate_options->name, "ENV/NAME");
  rotate->add_flag("--due", rotate_options->due,
                   "every secret you may rotate that is due (cadence, event, compromise, after-access); "
                   "interrupted rotations are resumed first");
  rotate->add_flag("--resume", rotate_options->resume,
                   "finish or roll back rotations left pending by an interrupted run");
  rotate->add_flag("--dry-run", rotate_options->dry_run, "print the plan (secrets, connectors, order); run nothing");
  rotate->add_option("--confirm", rotate_options->confirm, "ENV/NAME CONNECTOR: a person pasted the pending value")
    ->expected(2);
  rotate->add_option("--generate", rotate_options->generate,
                     "value generator for this and later rotations: len=N,alphabet=A or cmd=COMMAND");
  rotate->add_flag("--stdin", rotate_options->from_stdin, "read the new value from stdin instead of generating it");
  rotate->add_option("--why", rotate_options->why, "reason recorded with the new version");
  rotate->add_flag("--no-push", rotate_options->no_push,
                   "no git lock: do not commit and push the pending version before the connectors run "
                   "(docs/TEAM.md; also: git config escrow.push false)");
  rotate->callback([rotate_options, &context] { run_rotate(*rotate_options, context); });
}

} // namespace escrow::cli
