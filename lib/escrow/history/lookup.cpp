#include <escrow/history/lookup.hpp>

#include <escrow/error.hpp>
#include <escrow/util/suggest.hpp>
#include <escrow/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace escrow::history {

namespace {

// Error(usage) "<what>: no <thing> named NAME", with the hint when one is close.
[[noreturn]] void no_such(std::string_view what, std::string_view thing, std::string_view name, std::string hint)
{
  Error error(ErrorKind::usage, fmt::format("{}: no {} named {}", what, thing, name));
  if (!hint.empty()) {
    error.hint(std::move(hint));
  }
  throw error;
}

} // namespace

std::vector<std::string> secret_names(const State& state)
{
  std::vector<std::string> names;
  for (const auto& [name, secret] : state.secrets) {
    names.push_back(name);
  }
  return names;
}

std::vector<std::string> member_names(const State& state)
{
  std::vector<std::string> names;
  for (const auto& [name, member] : state.members) {
    if (member->active()) {
      names.push_back(name);
    }
  }
  return names;
}

std::vector<std::string> connector_names(const State& state)
{
  std::vector<std::string> names;
  for (const auto& [name, connector] : state.connectors) {
    names.push_back(name);
  }
  return names;
}

std::vector<std::string> known_environments(const State& state)
{
  std::set<std::string> envs;
  for (const auto& [name, secret] : state.secrets) {
    envs.insert(secret->env);
  }
  for (const auto& [name, connector] : state.connectors) {
    envs.insert(connector->env);
  }
  for (const auto& [name, member] : state.members) {
    envs.insert(member->envs.begin(), member->envs.end());
  }
  if (state.policy) {
    for (const auto& [env, rules] : state.policy->envs) {
      envs.insert(env);
    }
  }
  envs.erase("*");
  envs.erase("");
  return {envs.begin(), envs.end()};
}

std::string secret_hint(const State& state, std::string_view name)
{
  return util::did_you_mean(name, secret_names(state));
}

std::string member_hint(const State& state, std::string_view name)
{
  return util::did_you_mean(name, member_names(state));
}

std::string connector_hint(const State& state, std::string_view name)
{
  return util::did_you_mean(name, connector_names(state));
}

const Secret& find_secret(const State& state, std::string_view name, std::string_view what)
{
  const Secret* secret = state.secret(name);
  if (secret == nullptr) {
    no_such(what, "secret", name, secret_hint(state, name));
  }
  return *secret;
}

const Member& find_member(const State& state, std::string_view name, std::string_view what)
{
  const Member* member = state.member(name);
  if (member == nullptr) {
    no_such(what, "member", name, member_hint(state, name));
  }
  return *member;
}

const Connector& find_connector(const State& state, std::string_view name, std::string_view what)
{
  const Connector* connector = state.connector(name);
  if (connector == nullptr) {
    no_such(what, "connector", name, connector_hint(state, name));
  }
  return *connector;
}

void require_known_environment(const State& state, std::string_view env, std::string_view what,
                               std::string_view vault)
{
  const std::vector<std::string> known = known_environments(state);
  if (std::find(known.begin(), known.end(), env) != known.end()) {
    return;
  }
  Error error(ErrorKind::usage, fmt::format("{}: no environment named {} in {}", what, env, vault));
  if (std::string hint = util::did_you_mean(env, known); !hint.empty()) {
    error.hint(std::move(hint));
  } else if (!known.empty()) {
    error.hint("this vault's environments: " + util::join(known));
  }
  throw error;
}

} // namespace escrow::history
