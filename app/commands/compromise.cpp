// escrow compromise ENV/NAME --why W (lib/escrow/rotation/v2.hpp)
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/error.hpp>
#include <escrow/rotation/v2.hpp>
#include <escrow/util/text.hpp>

namespace escrow::cli {

namespace {

struct NameOptions
{
  std::string name;
  std::string why;
  bool no_push = false;
};

void run_compromise(const NameOptions& options, Context& context)
{
  (void)split_secret_name(options.name);
  if (options.why.empty()) {
    fail(ErrorKind::usage, "compromise: --why is required (what happened?)");
  }
  rotation::Options rotate_options;
  rotate_options.progress = progress_for(context);
  std::optional<rotation::CompromiseOutcome> outcome;
  const rotation::LockedRun run = rotation::run_rotation(
    git_lock_options(context, options.no_push), rotate_options,
    [&](rotation::v2::Rotator& rotator) { outcome = rotator.compromise(options.name, options.why); });
  note_lock(context, run);
  const rotation::CompromiseOutcome& result = *outcome;
  note_notify(context, result.notify);
  if (result.rotation) {
    note_notify(context, result.rotation->notify);
  }
  if (context.json()) {
    context.emit(result.to_json());
  } else {
    context.say(fmt::format("marked {} v{} compromised: voided {} open request(s), dropped {} grant(s)", result.secret,
                            result.version, result.voided_requests.size(), result.dropped_grants));
    if (result.rotation) {
      print_outcome(context, *result.rotation);
    } else {
      context.say(fmt::format("not rotated yet: {}", result.not_rotated));
      context.say(fmt::format("it is due for rotation; who can rotate it: {} (escrow rotate {})",
                              result.who_can.empty() ? std::string("nobody yet (add a rotator)") : util::join(result.who_can),
                              result.secret));
    }
  }
  if (result.rotation && !result.rotation->ok()) {
    fail(ErrorKind::failed, "compromise {}: marked compromised, but the rotation failed: {}", result.secret,
         result.rotation->error);
  }
  fail_unpublished(run);
}

} // namespace

void setup_compromise(CLI::App& app, Context& context)
{
  auto compromise_options = std::make_shared<NameOptions>();
  auto* compromise = app.add_subcommand(
    "compromise", "mark the current version compromised, void open requests and grants, rotate at once if you can");
  compromise->add_option("name", compromise_options->name, "ENV/NAME")->required();
  compromise->add_option("--why", compromise_options->why, "what happened")->required();
  compromise->add_flag("--no-push", compromise_options->no_push,
                       "no git lock: do not commit and push the compromise and the rotation's start before the "
                       "connectors run");
  compromise->callback([compromise_options, &context] { run_compromise(*compromise_options, context); });
}

} // namespace escrow::cli
