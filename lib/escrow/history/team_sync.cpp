#include <escrow/history/team_sync.hpp>

namespace escrow::history {

bool seal_merge(VaultSession& session)
{
  if (session.heads().size() < 2) {
    return false;
  }
  session.record(EventKind::merge, Result::ok, Json{{"heads", session.heads().size()}});
  return true;
}

} // namespace escrow::history
