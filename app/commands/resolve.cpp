// escrow resolve [N --keep ours|theirs | --suggested]: settle the merge git left unmerged
// (lib/escrow/git/resolve.hpp, lib/escrow/history/resolve.hpp; docs/TEAM.md,
// docs/design/vault-2-merge.md §5).
#include <commands/context.hpp>

#include <escrow/canonical.hpp>
#include <escrow/error.hpp>
#include <escrow/git/resolve.hpp>

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
};

std::string suggestion_text(const history::MergeConflict& c, std::size_t number)
{
  switch (c.suggestion) {
  case history::SuggestionKind::keep:
    return fmt::format("escrow resolve {} --keep {} ({})", number, history::merge_side_name(c.keep), c.why);
  case history::SuggestionKind::rotation_race:
    return fmt::format("escrow resolve {} --current {} ({}; a rotation race: both versions are kept; --current is not "
                       "available in this escrow)",
                       c.secret, c.current, c.why);
  case history::SuggestionKind::keep_exposed:
    return fmt::format("escrow resolve {} --keep-exposed ({}; --keep-exposed is not available in this escrow)", number,
                       c.why);
  }
  return {};
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
    conflicts.push_back(Json{{"number", i + 1},
                             {"objects", c.objects},
                             {"ours", ours},
                             {"theirs", theirs},
                             {"reasons", c.reasons},
                             {"suggestion", suggestion_text(c, i + 1)}});
  }
  Json voids = Json::array();
  for (const history::Hash& h : analysis.voids) {
    voids.push_back(canonical::b64(ByteView(h.data(), h.size())));
  }
  return Json{{"conflicts", conflicts}, {"voided", voids}};
}

void run_resolve(const ResolveCommandOptions& options, Context& context)
{
  if (!options.current.empty() || options.keep_exposed) {
    throw Error(ErrorKind::failed, fmt::format("resolve: {} is not available in this escrow (rotation races and "
                                               "exposed rotations cannot be settled here yet)",
                                               options.keep_exposed ? "--keep-exposed" : "--current"))
      .hint("git merge --abort, then rotate again on top of the other side's version (docs/TEAM.md)");
  }
  git::ResolveOptions resolve;
  const history::VaultSessionOptions session = context.vault_session_options();
  resolve.vault_path = session.vault_path;
  resolve.lock_wait = session.lock_wait;
  resolve.identity = session.identity;
  resolve.now = session.clock.now();
  resolve.host = session.host;
  if (options.suggested) {
    if (!options.target.empty() || !options.keep.empty()) {
      fail(ErrorKind::usage, "resolve: --suggested settles every conflict; it takes no number and no --keep");
    }
    resolve.action = git::ResolveOptions::Action::suggested;
  } else if (!options.keep.empty() || !options.target.empty()) {
    if (options.keep.empty()) {
      fail(ErrorKind::usage, "resolve {}: which side to keep? --keep ours|theirs", options.target);
    }
    if (options.target.empty()) {
      fail(ErrorKind::usage, "resolve: --keep needs the conflict's number (escrow resolve lists them)");
    }
    std::size_t number = 0;
    const char* end = options.target.data() + options.target.size();
    const auto parsed = std::from_chars(options.target.data(), end, number);
    if (parsed.ec != std::errc() || parsed.ptr != end || number == 0) {
      fail(ErrorKind::usage, "resolve: {}: not a conflict number (1, 2, …: escrow resolve lists them)", options.target);
    }
    resolve.action = git::ResolveOptions::Action::keep;
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
  document["resolved"] = report.entry.has_value();
  if (report.entry) {
    document["entry"] = canonical::b64(ByteView(report.entry->hash.data(), report.entry->hash.size()));
    document["garbage_key_lines"] = report.garbage_lines;
    document["staged"] = report.staged;
  }
  std::string line = fmt::format("voided {} operation{}", report.voided_now.size(),
                                 report.voided_now.size() == 1 ? "" : "s");
  if (report.entry) {
    line += fmt::format("; merge resolved by entry {} ({} key line{} no longer referenced removed)",
                        history::short_hash(report.entry->hash), report.garbage_lines,
                        report.garbage_lines == 1 ? "" : "s");
  } else {
    line += fmt::format("; {} conflict{} left (escrow resolve lists them)", report.analysis.conflicts.size(),
                        report.analysis.conflicts.size() == 1 ? "" : "s");
  }
  context.emit_or_say(document, line);
  if (report.entry) {
    std::string files;
    for (const std::string& f : report.staged) {
      files += " " + f;
    }
    context.note(fmt::format("git add{} (git commit finishes the merge)", files));
  }
}

} // namespace

void setup_resolve(CLI::App& app, Context& context)
{
  auto options = std::make_shared<ResolveCommandOptions>();
  auto* command = app.add_subcommand("resolve", "list or settle the conflicts of a merge git left unmerged (docs/TEAM.md)");
  command->add_option("target", options->target, "the conflict's number (escrow resolve lists them)");
  command->add_option("--keep", options->keep, "the side to keep; the other side's operations are voided")
    ->check(CLI::IsMember({"ours", "theirs"}));
  command->add_flag("--suggested", options->suggested, "settle every conflict by its suggestion");
  command->add_option("--current", options->current, "a rotation race: the version to make current (not available yet)");
  command->add_flag("--keep-exposed", options->keep_exposed,
                    "keep a rotation that sealed to someone who lost access (not available yet)");
  command->callback([options, &context] { run_resolve(*options, context); });
}

} // namespace escrow::cli
