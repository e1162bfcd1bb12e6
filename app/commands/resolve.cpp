// escrow resolve [N --keep ours|theirs | N --keep-exposed | ENV/NAME --current VID | --suggested]:
// settle the merge git left unmerged (lib/escrow/git/resolve.hpp, lib/escrow/history/resolve.hpp;
// a settled rotation race is re-applied to the connectors by git/resolve.hpp `reapply_races`
// under the git lock of rotation/git_lock.hpp; docs/TEAM.md, docs/design/vault-2-merge.md §5).
#include <commands/context.hpp>
#include <commands/present.hpp>

#include <escrow/canonical.hpp>
#include <escrow/error.hpp>
#include <escrow/git/resolve.hpp>
#include <escrow/rotation/git_lock.hpp>

#include <fmt/format.h>

#include <charconv>

namespace escrow::cli {

namespace {

struct ResolveCommandOptions
{
  std::string target; // N, or ENV/NAME with --current
  std::string keep;   // ours | theirs
  bool suggested = false;
  std::string current;
  bool keep_exposed = false;
  bool no_push = false;
};

std::string suggestion_text(const history::MergeConflict& c, std::size_t number)
{
  switch (c.suggestion) {
  case history::SuggestionKind::keep:
    return fmt::format("escrow resolve {} --keep {} ({})", number, history::merge_side_name(c.keep), c.why);
  case history::SuggestionKind::rotation_race:
    return fmt::format("escrow resolve {} --current {} ({}; a rotation race: both versions are kept, the other "
                       "becomes previous; never applied by --suggested)",
                       c.secret, c.current, c.why);
  case history::SuggestionKind::keep_exposed:
    return fmt::format("escrow resolve {} --keep-exposed ({})", number, c.why);
  }
  return {};
}

Json races_json(const std::vector<history::RaceResolution>& races)
{
  Json out = Json::array();
  for (const history::RaceResolution& r : races) {
    Json renumber = Json::object();
    for (const auto& [vid, v] : r.renumber) {
      renumber[vid] = v;
    }
    out.push_back(Json{{"secret", r.secret}, {"current", r.current}, {"renumber", renumber}});
  }
  return out;
}

Json op_json(const history::ConflictOp& op)
{
  return Json{{"entry", canonical::b64(ByteView(op.hash.data(), op.hash.size()))},
              {"line", op.line},
              {"actor", op.actor},
              {"ts", format_time(op.ts)},
              {"action", op.action},
              {"summary", op.summary}};
}

void print_conflicts(const history::MergeAnalysis& analysis, Context& context)
{
  std::ostream& out = context.out();
  const std::size_t n = analysis.conflicts.size();
  out << fmt::format("{} conflict{} in the unresolved merge (ours: this clone's journal, theirs: the one merged in)\n",
                     n, n == 1 ? "" : "s");
  for (std::size_t i = 0; i < n; ++i) {
    const history::MergeConflict& c = analysis.conflicts[i];
    std::string objects;
    for (const std::string& o : c.objects) {
      objects += (objects.empty() ? "" : ", ") + o;
    }
    out << fmt::format("{}. {}\n", i + 1, objects.empty() ? "(no record named)" : objects);
    for (const history::ConflictOp& op : c.ours) {
      out << fmt::format("   ours   line {}: {}\n", op.line, op.summary);
    }
    for (const history::ConflictOp& op : c.theirs) {
      out << fmt::format("   theirs line {}: {}\n", op.line, op.summary);
    }
    for (const std::string& reason : c.reasons) {
      out << fmt::format("   why: {}\n", reason);
    }
    for (const history::RaceVersion& r : c.race) {
      out << fmt::format("   version {} (v{}, {}{})\n", r.vid, r.v, history::merge_side_name(r.side),
                         r.ended ? "" : ", its rotation has not ended");
    }
    out << fmt::format("   suggested: {}\n", suggestion_text(c, i + 1));
  }
  if (!analysis.voids.empty()) {
    out << fmt::format("{} operation{} voided by the choices made so far\n", analysis.voids.size(),
                       analysis.voids.size() == 1 ? "" : "s");
  }
}

Json analysis_json(const history::MergeAnalysis& analysis)
{
  Json conflicts = Json::array();
  for (std::size_t i = 0; i < analysis.conflicts.size(); ++i) {
    const history::MergeConflict& c = analysis.conflicts[i];
    Json ours = Json::array();
    Json theirs = Json::array();
    for (const history::ConflictOp& op : c.ours) {
      ours.push_back(op_json(op));
    }
    for (const history::ConflictOp& op : c.theirs) {
      theirs.push_back(op_json(op));
    }
    Json conflict{{"number", i + 1},
                  {"objects", c.objects},
                  {"ours", ours},
                  {"theirs", theirs},
                  {"reasons", c.reasons},
                  {"kind", c.suggestion == history::SuggestionKind::keep            ? "keep"
                           : c.suggestion == history::SuggestionKind::rotation_race ? "rotation-race"
                                                                                    : "exposed-rotation"},
                  {"suggestion", suggestion_text(c, i + 1)}};
    if (c.suggestion == history::SuggestionKind::rotation_race) {
      Json versions = Json::array();
      for (const history::RaceVersion& r : c.race) {
        versions.push_back(Json{{"vid", r.vid}, {"v", r.v}, {"side", history::merge_side_name(r.side)}, {"ended", r.ended}});
      }
      conflict["secret"] = c.secret;
      conflict["versions"] = versions;
      conflict["suggested_current"] = c.current;
    }
    conflicts.push_back(std::move(conflict));
  }
  Json voids = Json::array();
  for (const history::Hash& h : analysis.voids) {
    voids.push_back(canonical::b64(ByteView(h.data(), h.size())));
  }
  Json exposed = Json::array();
  for (const history::Hash& h : analysis.exposed) {
    exposed.push_back(canonical::b64(ByteView(h.data(), h.size())));
  }
  return Json{{"conflicts", conflicts}, {"voided", voids}, {"exposed", exposed}, {"rotations", races_json(analysis.rotations)}};
}

void run_resolve(const ResolveCommandOptions& options, Context& context)
{
  git::ResolveOptions resolve;
  const history::VaultSessionOptions session = context.vault_session_options();
  resolve.vault_path = session.vault_path;
  resolve.lock_wait = session.lock_wait;
  resolve.identity = session.identity;
  resolve.now = session.clock.now();
  resolve.host = session.host;
  const int forms = (options.suggested ? 1 : 0) + (!options.keep.empty() ? 1 : 0) + (options.keep_exposed ? 1 : 0)
                    + (!options.current.empty() ? 1 : 0);
  if (forms > 1) {
    fail(ErrorKind::usage, "resolve: --keep, --keep-exposed, --current and --suggested are separate choices: one at a time");
  }
  if (options.suggested) {
    if (!options.target.empty()) {
      fail(ErrorKind::usage, "resolve: --suggested settles every conflict; it takes no number and no --keep");
    }
    resolve.action = git::ResolveOptions::Action::suggested;
  } else if (!options.current.empty()) {
    if (options.target.empty()) {
      fail(ErrorKind::usage, "resolve: --current {}: which secret's rotation race? escrow resolve ENV/NAME --current VID",
           options.current);
    }
    const auto [env, name] = split_secret_name(options.target); // Error(usage) for a malformed name
    resolve.action = git::ResolveOptions::Action::current;
    resolve.secret = env + "/" + name;
    resolve.vid = options.current;
  } else if (!options.keep.empty() || !options.target.empty() || options.keep_exposed) {
    if (options.keep.empty() && !options.keep_exposed) {
      fail(ErrorKind::usage, "resolve {}: which side to keep? --keep ours|theirs (or --keep-exposed)", options.target);
    }
    if (options.target.empty()) {
      fail(ErrorKind::usage, "resolve: {} needs the conflict's number (escrow resolve lists them)",
           options.keep_exposed ? "--keep-exposed" : "--keep");
    }
    std::size_t number = 0;
    const char* end = options.target.data() + options.target.size();
    const auto parsed = std::from_chars(options.target.data(), end, number);
    if (parsed.ec != std::errc() || parsed.ptr != end || number == 0) {
      fail(ErrorKind::usage, "resolve: {}: not a conflict number (1, 2, …: escrow resolve lists them)", options.target);
    }
    resolve.action = options.keep_exposed ? git::ResolveOptions::Action::keep_exposed : git::ResolveOptions::Action::keep;
    resolve.number = number;
    resolve.keep = options.keep == "ours" ? history::MergeSide::ours : history::MergeSide::theirs;
  }
  const git::ResolveReport report = git::resolve_merge(resolve);
  for (const std::string& warning : report.analysis.warnings) {
    context.note(fmt::format("warning: {}", warning));
  }
  if (resolve.action == git::ResolveOptions::Action::list) {
    if (context.json()) {
      context.emit(analysis_json(report.analysis));
    } else {
      print_conflicts(report.analysis, context);
    }
    return;
  }
  Json document = analysis_json(report.analysis);
  Json now = Json::array();
  for (const history::Hash& h : report.voided_now) {
    now.push_back(canonical::b64(ByteView(h.data(), h.size())));
  }
  document["voided_now"] = now;
  Json exposed_now = Json::array();
  for (const history::Hash& h : report.exposed_now) {
    exposed_now.push_back(canonical::b64(ByteView(h.data(), h.size())));
  }
  document["exposed_now"] = exposed_now;
  document["settled_now"] = races_json(report.settled_now);
  document["resolved"] = report.entry.has_value();
  std::vector<history::RaceResolution> races;
  if (report.entry) {
    document["entry"] = canonical::b64(ByteView(report.entry->hash.data(), report.entry->hash.size()));
    document["garbage_key_lines"] = report.garbage_lines;
    document["staged"] = report.staged;
    if (const auto* args = std::get_if<history::ResolveArgs>(&report.entry->op->args)) {
      races = args->rotations;
    }
  }
  std::string line = fmt::format("voided {} operation{}", report.voided_now.size(),
                                 report.voided_now.size() == 1 ? "" : "s");
  if (!report.exposed_now.empty()) {
    line += fmt::format("; kept {} rotation operation{} exposed (the secret is due)", report.exposed_now.size(),
                        report.exposed_now.size() == 1 ? "" : "s");
  }
  for (const history::RaceResolution& race : report.settled_now) {
    line += fmt::format("; rotation race of {} settled: {} chosen", race.secret, race.current);
  }
  if (report.entry) {
    line += fmt::format("; merge resolved by entry {} ({} key line{} no longer referenced removed)",
                        history::short_hash(report.entry->hash), report.garbage_lines,
                        report.garbage_lines == 1 ? "" : "s");
  } else {
    line += fmt::format("; {} conflict{} left (escrow resolve lists them)", report.analysis.conflicts.size(),
                        report.analysis.conflicts.size() == 1 ? "" : "s");
  }
  if (report.entry) {
    std::string files;
    for (const std::string& f : report.staged) {
      files += " " + f;
    }
    context.note(fmt::format("git add{} (git commit finishes the merge)", files));
  }
  if (races.empty()) {
    context.emit_or_say(document, line);
    return;
  }
  // A settled race's chosen version re-applied to every connector (git/resolve.hpp); a failure is
  // exit 1 after the document.
  rotation::Options rotate_options;
  rotate_options.progress = progress_for(context);
  const git::Reapplied reapplied_races =
    git::reapply_races(git_lock_options(context, options.no_push), std::move(rotate_options), races,
                       [&context](const std::string& note) { context.note(note); });
  const std::vector<rotation::Outcome>& outcomes = reapplied_races.outcomes;
  note_lock(context, reapplied_races.run);
  Json reapplied = Json::array();
  std::vector<std::string> failures;
  for (const rotation::Outcome& outcome : outcomes) {
    reapplied.push_back(outcome.to_json());
    note_notify(context, outcome.notify);
    if (!outcome.ok()) {
      failures.push_back(outcome.secret + ": " + outcome.error);
    }
  }
  document["reapplied"] = reapplied;
  context.emit_or_say(document, line);
  if (!context.json()) {
    for (const rotation::Outcome& outcome : outcomes) {
      print_outcome(context, outcome);
    }
  }
  if (!failures.empty()) {
    throw Error(ErrorKind::failed, fmt::format("resolve: the chosen version could not be re-applied: {}",
                                               failures.front()))
      .hint("the secret stays due: escrow rotate --due gives every connector a new value");
  }
  fail_unpublished(reapplied_races.run);
}

} // namespace

void setup_resolve(CLI::App& app, Context& context)
{
  auto options = std::make_shared<ResolveCommandOptions>();
  auto* command = app.add_subcommand("resolve", "list or settle the conflicts of a merge git left unmerged (docs/TEAM.md)");
  command->add_option("target", options->target,
                      "the conflict's number (escrow resolve lists them), or ENV/NAME with --current");
  command->add_option("--keep", options->keep, "the side to keep; the other side's operations are voided")
    ->check(CLI::IsMember({"ours", "theirs"}));
  command->add_flag("--suggested", options->suggested, "settle every conflict by its suggestion");
  command->add_option("--current", options->current,
                      "a rotation race (escrow resolve ENV/NAME --current VID): the version to make current and "
                      "re-apply to every connector; the other is kept as previous");
  command->add_flag("--keep-exposed", options->keep_exposed,
                    "keep a rotation that sealed to someone who lost access concurrently; the secret becomes due");
  command->add_flag("--no-push", options->no_push,
                    "--current: no git lock (the re-apply is not committed and pushed; git commit finishes the merge)");
  command->callback([options, &context] { run_resolve(*options, context); });
}

} // namespace escrow::cli
