#include <escrow/history/completion.hpp>

#include <escrow/error.hpp>

#include <set>

namespace escrow::history {

void check_completion_kind(std::string_view kind)
{
  if (kind != "secrets" && kind != "members" && kind != "connectors" && kind != "envs") {
    fail(ErrorKind::usage, "__complete: unknown kind \"{}\" (secrets, members, connectors or envs)", kind);
  }
}

std::vector<std::string> names_for_completion(const State& state, std::string_view kind)
{
  check_completion_kind(kind);
  std::vector<std::string> out;
  if (kind == "secrets") {
    for (const auto& [name, secret] : state.secrets) {
      out.push_back(name);
    }
  } else if (kind == "members") {
    for (const auto& [name, member] : state.members) {
      if (member->active()) {
        out.push_back(name);
      }
    }
  } else if (kind == "connectors") {
    for (const auto& [name, connector] : state.connectors) {
      out.push_back(name);
    }
  } else {
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
    out.assign(envs.begin(), envs.end());
  }
  return out;
}

} // namespace escrow::history
