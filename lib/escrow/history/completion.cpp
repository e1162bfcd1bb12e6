#include <escrow/history/completion.hpp>

#include <escrow/error.hpp>
#include <escrow/history/lookup.hpp>

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
  if (kind == "secrets") {
    return secret_names(state);
  }
  if (kind == "members") {
    return member_names(state);
  }
  if (kind == "connectors") {
    return connector_names(state);
  }
  return known_environments(state);
}

} // namespace escrow::history
