#include <escrow/lookup.hpp>

#include <escrow/error.hpp>
#include <escrow/util/suggest.hpp>
#include <escrow/util/text.hpp>

#include <set>

namespace escrow {

std::vector<std::string> known_environments(const Vault& vault)
{
  std::set<std::string> envs;
  for (const auto& name : vault.secret_names()) {
    envs.insert(name.substr(0, name.find('/')));
  }
  for (const auto& [name, connector] : vault.connectors()) {
    envs.insert(connector.env);
  }
  for (const auto& [name, member] : vault.members()) {
    envs.insert(member.envs.begin(), member.envs.end());
  }
  for (const auto& [env, rules] : vault.policy().envs) {
    envs.insert(env);
  }
  envs.erase("*");
  envs.erase("");
  return {envs.begin(), envs.end()};
}

void require_known_environment(const Vault& vault, std::string_view env, std::string_view what)
{
  const std::vector<std::string> known = known_environments(vault);
  if (std::find(known.begin(), known.end(), env) != known.end()) {
    return;
  }
  Error error(ErrorKind::usage, fmt::format("{}: no environment named {} in {}", what, env, vault.what()));
  if (std::string hint = util::did_you_mean(env, known); !hint.empty()) {
    error.hint(hint);
  } else if (!known.empty()) {
    error.hint("this vault's environments: " + util::join(known));
  }
  throw error;
}

std::vector<std::string> member_names(const Vault& vault)
{
  std::vector<std::string> names;
  for (const auto& [name, member] : vault.members()) {
    if (member.active()) {
      names.push_back(name);
    }
  }
  return names;
}

std::vector<std::string> connector_names(const Vault& vault)
{
  std::vector<std::string> names;
  for (const auto& [name, connector] : vault.connectors()) {
    names.push_back(name);
  }
  return names;
}

std::string member_hint(const Vault& vault, std::string_view name)
{
  return util::did_you_mean(name, member_names(vault));
}

std::string connector_hint(const Vault& vault, std::string_view name)
{
  return util::did_you_mean(name, connector_names(vault));
}

Error with_hint(Error error, const std::string& hint)
{
  if (!hint.empty()) {
    error.hint(hint);
  }
  return error;
}

std::vector<std::string> names_for_completion(const std::filesystem::path& vault_path, std::string_view kind)
{
  const Vault vault = Vault::read(vault_path);
  if (kind == "secrets") {
    return vault.secret_names();
  }
  if (kind == "members") {
    return member_names(vault);
  }
  if (kind == "connectors") {
    return connector_names(vault);
  }
  if (kind == "envs") {
    return known_environments(vault);
  }
  fail(ErrorKind::usage, "__complete: unknown kind \"{}\" (secrets, members, connectors or envs)", kind);
}

} // namespace escrow
