// The command tree is built for the invoked command only (app/commands/cli.cpp): each set-up
// function must add exactly the commands its table row names, the rows must cover the whole tree,
// and what a user sees (help, "did you mean", an unknown command) must not change.
#include "fixture.hpp"

#include <commands/cli.hpp>

#include <algorithm>
#include <sstream>

using escrow::test::Fixture;

namespace {

std::vector<std::string> top_level(CLI::App& app)
{
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

} // namespace

TEST_CASE("command tree: each set-up adds exactly the commands its row names, and the rows cover the tree", "[cli][command-tree]")
{
  std::ostringstream out, err;
  std::vector<std::string> every;
  for (const auto& group : escrow::cli::command_groups()) {
    escrow::cli::Context context(out, err);
    CLI::App app{"escrow", "escrow"};
    escrow::cli::setup_commands(app, context, group.front());
    const std::vector<std::string> want(group.begin(), group.end());
    const bool walks_tree = group.front() == "completion" || group.front() == "man";
    if (walks_tree) {
      CHECK(top_level(app).size() > want.size()); // completion and man need the whole tree
    } else {
      CHECK(top_level(app) == want);
    }
    every.insert(every.end(), want.begin(), want.end());
  }
  escrow::cli::Context context(out, err);
  CLI::App app{"escrow", "escrow"};
  escrow::cli::setup_commands(app, context, "");
  CHECK(top_level(app) == every);
  CLI::App unknown{"escrow", "escrow"};
  escrow::cli::setup_commands(unknown, context, "no-such-command");
  CHECK(top_level(unknown) == every);
}

TEST_CASE("command tree: the invoked command is the first word that is not a global option or its value", "[cli][command-tree]")
{
  // Both spellings, words and argv (app/main.cpp's, read before the allocator is set up), agree.
  const auto invoked_command = [](const std::vector<std::string>& words) {
    std::vector<const char*> argv{"escrow"};
    for (const std::string& word : words) {
      argv.push_back(word.c_str());
    }
    const std::string from_words(escrow::cli::invoked_command(words));
    CHECK(std::string(escrow::cli::invoked_command(static_cast<int>(argv.size()), argv.data())) == from_words);
    return from_words;
  };
  CHECK(invoked_command({}).empty());
  CHECK(invoked_command({"--help"}).empty());
  CHECK(invoked_command({"get", "prod/x"}) == "get");
  CHECK(invoked_command({"--vault", "list", "get"}) == "get");
  CHECK(invoked_command({"--identity", "id.json", "--json", "-q", "--allow-rollback", "show", "dev/x"}) == "show");
  CHECK(invoked_command({"--vault=v.vault", "verify"}) == "verify");
  CHECK(invoked_command({"--bogus", "x", "get"}) == "x"); // not a command: the whole tree is built
}

TEST_CASE("command tree: help, did-you-mean and unknown commands behave as with the whole tree", "[cli][command-tree]")
{
  Fixture f;
  const auto help = f.run({"get", "--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("--reveal") != std::string::npos);
  const auto share_help = f.run({"--vault", "x.vault", "unshare", "--help"});
  CHECK(share_help.code == 0);
  CHECK(share_help.out.find("unshare") != std::string::npos);
  const auto typo = f.run({"get", "--revel", "dev/x"});
  CHECK(typo.code == 2);
  CHECK(typo.err.find("escrow get: no option --revel") != std::string::npos);
  CHECK(typo.err.find("did you mean '--reveal'?") != std::string::npos);
  const auto unknown = f.run({"gte", "dev/x"});
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("no command named gte") != std::string::npos);
  CHECK(unknown.err.find("get") != std::string::npos);
  const auto top = f.run({"--help"});
  CHECK(top.code == 0);
  for (const char* name : {"identity", "get", "rotate", "resolve", "drill"}) {
    CHECK(top.out.find(name) != std::string::npos);
  }
  const auto man = f.run({"man"});
  CHECK(man.code == 0);
  CHECK(man.out.find("rotate") != std::string::npos);
}
