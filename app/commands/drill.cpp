// escrow drill compromise ENV/NAME (a tabletop exercise; lib/escrow/history/drill.hpp)
#include <commands/context.hpp>

#include <escrow/history/drill.hpp>
#include <escrow/records.hpp>
#include <escrow/error.hpp>

#include <ostream>

namespace escrow::cli {

namespace {

std::string window(const history::drill::Access& access)
{
  return fmt::format("{} → {}", format_time(access.from), access.until ? format_time(*access.until) : "now");
}

void print_playbook(Context& context, const history::drill::Playbook& book)
{
  auto& out = context.out();
  out << context.bold(fmt::format("DRILL: {} is compromised (tabletop; nothing was changed)", book.secret)) << '\n';
  out << fmt::format("owner {}; {}\n\n", book.owner, book.purpose);
  out << context.bold("1. Who could read each version, and when") << '\n';
  for (const auto& version : book.versions) {
    out << fmt::format("  v{} ({}), created {} by {}{}\n", version.v, version.state, format_time(version.created_at),
                       version.created_by, version.keys_present ? "" : "; its keys were removed from the file");
    std::vector<std::vector<std::string>> rows;
    for (const auto& access : version.could_read) {
      rows.push_back({"    " + access.member, access.via, window(access), access.note});
    }
    if (!rows.empty()) {
      print_table(out, context, {"    MEMBER", "VIA", "WHEN", "NOTE"}, rows);
    }
    for (const auto& read : version.reads) {
      out << fmt::format("    read by {} ({}) at {} (journal line {})\n", read.member, read.action,
                         format_time(read.at), read.line);
    }
  }
  out << '\n' << context.bold("2. Connectors to rotate, in order") << '\n';
  if (book.connectors.empty()) {
    out << "  none: the new value reaches no system automatically\n";
  }
  for (const auto& c : book.connectors) {
    out << fmt::format("  {}. {} ({}): {}{}\n", c.order, c.name, c.kind, c.step,
                       c.also_serves.empty() ? "" : fmt::format("; also serves {}", fmt::join(c.also_serves, ", ")));
  }
  out << '\n' << context.bold("3. Members to notify") << '\n';
  for (const auto& contact : book.notify) {
    out << fmt::format("  {}{}: {}\n", contact.member, contact.removed ? " (removed)" : "", fmt::join(contact.why, ", "));
  }
  out << '\n' << context.bold("4. The real response") << '\n';
  for (const auto& command : book.commands) {
    out << "  " << command << '\n';
  }
  out << fmt::format("  who may rotate it: {}\n", book.can_rotate.empty() ? std::string("nobody")
                                                                          : fmt::format("{}", fmt::join(book.can_rotate, ", ")));
  out << '\n' << context.bold("5. Time to rotate") << '\n';
  if (book.last_rotation) {
    out << fmt::format("  the last real rotation (v{}, by {}, {}) took {}\n", book.last_rotation->version,
                       book.last_rotation->by, format_time(book.last_rotation->finished),
                       describe_duration(book.last_rotation->seconds()));
  } else {
    out << "  never rotated: rehearse it first (escrow rehearse " << book.secret << ")\n";
  }
  out << "\njournaled as a drill\n";
}

void run_drill(const std::string& name, Context& context)
{
  (void)split_secret_name(name); // usage errors before the passphrase
  history::VaultSession session = context.open_v2(history::Access::read);
  const history::drill::Playbook book = history::drill::compromise(session, name);
  if (book.notify_result.is_object() && !book.notify_result.value("ok", true)) {
    context.note("notify hook failed: " + book.notify_result.value("error", std::string()));
  }
  if (context.json()) {
    context.emit(book.to_json());
  } else if (!context.quiet()) {
    print_playbook(context, book);
  }
}

} // namespace

void setup_drill(CLI::App& app, Context& context)
{
  auto* drill = app.add_subcommand("drill", "tabletop exercises: print the playbook, change nothing (journaled)");
  drill->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto* compromise =
    drill->add_subcommand("compromise", "who could read it and when, what to rotate, whom to tell, what to run");
  compromise->add_option("name", *name, "ENV/NAME")->required();
  compromise->callback([name, &context] { run_drill(*name, context); });
}

} // namespace escrow::cli
