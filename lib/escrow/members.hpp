// The team (DESIGN §1): adding a member from their public identity, removing one (and the
// cascade that removal needs), as operations on the command's Session. Every check comes before
// any change; the session journals the change (commit).
#pragma once

#include <escrow/identity.hpp>
#include <escrow/session.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace escrow {

// Checks roles and environments as given on the command line (Error(usage)): known roles,
// valid environment names or *, and separation of duties (rotator excludes requester/approver).
void check_member_grants(const std::vector<std::string>& roles, const std::vector<std::string>& envs);

// escrow member add (admins): signs and adds the member; journaled "member-add".
const MemberRecord& add_member(Session& session, const PublicIdentity& pub, const std::vector<std::string>& roles,
                               const std::vector<std::string>& envs);

// escrow member remove (admins). Nothing the removed member signed stays live: records they
// signed are re-signed by this admin, their requests, approvals and denials are void, their
// standing access, custodianship and grants end, and every active secret they could read becomes
// due for rotation. Refused for the last admin, and when this admin cannot re-sign something the
// member touched (another environment). Journaled "member-remove".
struct Removal
{
  std::string member;
  Timestamp removed_at = 0;
  std::vector<std::string> due; // ENV/NAME, now due for rotation
};
Removal remove_member(Session& session, const std::string& name);

} // namespace escrow
