// history/lookup: names found in an escrow-vault/2 state, "did you mean" for the ones that are not
// there, and the environments a vault knows (docs/FINDING.md). The expectations are written by
// hand from the document: the state is built record by record, never by the code under test.
#include "foundation_support.hpp"

#include <escrow/history/completion.hpp>
#include <escrow/history/lookup.hpp>

#include <memory>

using namespace escrow;
using namespace escrow::history;
using escrow::test::error_of;
using escrow::test::require_error;

namespace {

void add_member(State& state, const std::string& name, std::set<std::string> envs, bool removed = false)
{
  auto m = std::make_shared<Member>();
  m->name = name;
  m->roles = {Role::approver};
  m->envs = std::move(envs);
  if (removed) {
    m->removed_by = "alice";
    m->removed_at = 1000;
  }
  state.members[name] = m;
}

void add_secret(State& state, const std::string& env, const std::string& short_name)
{
  auto s = std::make_shared<Secret>();
  s->env = env;
  s->name = env + "/" + short_name;
  s->owner = "alice";
  state.secrets[s->name] = s;
}

void add_connector(State& state, const std::string& name, const std::string& env)
{
  auto c = std::make_shared<Connector>();
  c->name = name;
  c->env = env;
  state.connectors[name] = c;
}

// alice (admin of *), bob (prod), carol (removed; dev); prod/db-password, staging/api-token,
// connector app-config in prod; the policy names qa besides the default *.
State team()
{
  State state;
  state.initialised = true;
  add_member(state, "alice", {"*"});
  add_member(state, "bob", {"prod"});
  add_member(state, "carol", {"dev"}, true);
  add_secret(state, "prod", "db-password");
  add_secret(state, "staging", "api-token");
  add_connector(state, "app-config", "prod");
  auto policy = std::make_shared<Policy>();
  policy->envs["*"] = EnvPolicy{};
  policy->envs["qa"] = EnvPolicy{};
  state.policy = policy;
  return state;
}

std::vector<std::string> hints_of(const Error& error)
{
  return error.hints();
}

} // namespace

TEST_CASE("history lookup: the names a state holds", "[lookup]")
{
  const State state = team();
  CHECK(secret_names(state) == std::vector<std::string>{"prod/db-password", "staging/api-token"});
  CHECK(member_names(state) == std::vector<std::string>{"alice", "bob"}); // carol was removed
  CHECK(connector_names(state) == std::vector<std::string>{"app-config"});
  // Secrets', connectors', members' (but *) and the policy's (but the default *); carol's dev too.
  CHECK(known_environments(state) == std::vector<std::string>{"dev", "prod", "qa", "staging"});
  CHECK(known_environments(State{}).empty());
}

TEST_CASE("history lookup: a name that is there is found", "[lookup]")
{
  const State state = team();
  CHECK(&find_secret(state, "prod/db-password", "get") == state.secret("prod/db-password"));
  CHECK(&find_member(state, "bob", "share --with") == state.member("bob"));
  CHECK(&find_member(state, "carol", "member remove") == state.member("carol")); // removed: the rules judge it
  CHECK(&find_connector(state, "app-config", "connect") == state.connector("app-config"));
  require_known_environment(state, "prod", "list --env", "escrow.vault");
  require_known_environment(state, "dev", "list --env", "escrow.vault");
}

TEST_CASE("history lookup: a mistyped name is a usage error with a hint", "[lookup]")
{
  const State state = team();
  SECTION("a secret")
  {
    const auto error = error_of([&] { (void)find_secret(state, "prod/db-pasword", "get"); });
    REQUIRE(error.has_value());
    CHECK(error->kind() == ErrorKind::usage);
    CHECK(std::string(error->what()) == "get: no secret named prod/db-pasword");
    CHECK(hints_of(*error) == std::vector<std::string>{"did you mean 'prod/db-password'?"});
  }
  SECTION("a member: only active ones are suggested")
  {
    const auto error = error_of([&] { (void)find_member(state, "bbo", "member remove"); });
    REQUIRE(error.has_value());
    CHECK(error->kind() == ErrorKind::usage);
    CHECK(std::string(error->what()) == "member remove: no member named bbo");
    CHECK(hints_of(*error) == std::vector<std::string>{"did you mean 'bob'?"});
    const auto removed = error_of([&] { (void)find_member(state, "carl", "share --with"); });
    REQUIRE(removed.has_value());
    CHECK(hints_of(*removed).empty()); // carol is not offered
  }
  SECTION("a connector")
  {
    const auto error = error_of([&] { (void)find_connector(state, "app-confg", "connector remove"); });
    REQUIRE(error.has_value());
    CHECK(error->kind() == ErrorKind::usage);
    CHECK(std::string(error->what()) == "connector remove: no connector named app-confg");
    CHECK(hints_of(*error) == std::vector<std::string>{"did you mean 'app-config'?"});
  }
  SECTION("nothing close: no hint")
  {
    const auto error = error_of([&] { (void)find_secret(state, "dev/frobnicate", "show"); });
    REQUIRE(error.has_value());
    CHECK(error->kind() == ErrorKind::usage);
    CHECK(hints_of(*error).empty());
    CHECK(secret_hint(state, "xyzzy").empty());
    CHECK(member_hint(state, "alcie") == "did you mean 'alice'?");
    CHECK(connector_hint(state, "app") == "did you mean 'app-config'?"); // a prefix counts
  }
}

TEST_CASE("history lookup: an unknown environment", "[lookup]")
{
  const State state = team();
  SECTION("close to one: did you mean")
  {
    const auto error = error_of([&] { require_known_environment(state, "prd", "list --env", "escrow.vault"); });
    REQUIRE(error.has_value());
    CHECK(error->kind() == ErrorKind::usage);
    CHECK(std::string(error->what()) == "list --env: no environment named prd in escrow.vault");
    CHECK(hints_of(*error) == std::vector<std::string>{"did you mean 'prod'?"});
  }
  SECTION("close to none: the vault's environments")
  {
    const auto error =
      error_of([&] { require_known_environment(state, "uat", "connector list --env", "../../escrow.vault"); });
    REQUIRE(error.has_value());
    CHECK(error->kind() == ErrorKind::usage);
    CHECK(std::string(error->what()) == "connector list --env: no environment named uat in ../../escrow.vault");
    CHECK(hints_of(*error) == std::vector<std::string>{"this vault's environments: dev, prod, qa, staging"});
  }
  SECTION("an empty vault: no hint at all")
  {
    const auto error = error_of([&] { require_known_environment(State{}, "prod", "audit log --env", "v"); });
    REQUIRE(error.has_value());
    CHECK(hints_of(*error).empty());
  }
}

TEST_CASE("history lookup: shell completion offers the same names", "[lookup][completion]")
{
  const State state = team();
  CHECK(names_for_completion(state, "secrets") == secret_names(state));
  CHECK(names_for_completion(state, "members") == std::vector<std::string>{"alice", "bob"});
  CHECK(names_for_completion(state, "connectors") == std::vector<std::string>{"app-config"});
  CHECK(names_for_completion(state, "envs") == std::vector<std::string>{"dev", "prod", "qa", "staging"});
  CHECK_THAT(require_error(ErrorKind::usage, [&] { (void)names_for_completion(state, "things"); }),
             Catch::Contains("__complete: unknown kind"));
}
