#include <escrow/error.hpp>
#include <escrow/escrow.hpp>
#include <escrow/policy.hpp>
#include <escrow/read.hpp>
#include <escrow/versions.hpp>

namespace escrow {

ValueRead read_value(Session& session, std::string_view full_name, std::int64_t version, JournalAction action,
                     Json detail)
{
  const auto [env, short_name] = split_secret_name(full_name);
  const std::string name = env + "/" + short_name;
  const Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  const SecretRecord& secret = vault.secret(name); // Error(usage): no such secret
  ValueRead read;
  read.secret = name;
  read.entry.action = action;
  read.entry.secret = name;
  read.entry.env = env;
  read.entry.detail = std::move(detail);
  const VersionRecord* found = version > 0 ? secret.find_version(version) : secret.current();
  if (found == nullptr) {
    fail(ErrorKind::usage, "{}: {} has no {}", vault.what(), name,
         version > 0 ? "version " + std::to_string(version) : std::string("current version"));
  }
  read.version = found->v;
  read.entry.version = found->v;
  // The read rule (policy.hpp) and the one way to a value (versions.hpp); a refusal is
  // journaled through the session's one refusal path.
  OpenedValue opened = session.refusing(read.entry, [&] {
    policy::require_can_read(me, secret, journal_action_name(action));
    return open_value(vault, secret, *found, session.identity(), session.now());
  });
  read.value = std::move(opened.value);
  read.entry.request = opened.request;
  read.entry.detail["via"] = access_path_name(opened.path);
  if (opened.path != AccessPath::wrapped && secret.after_access && !opened.request.empty()) {
    read.used_grant = opened.request;
  }
  return read;
}

void record_reads(Session& session, std::vector<ValueRead>& reads)
{
  bool grants = false;
  for (auto& read : reads) {
    session.record(read.entry);
    grants = grants || !read.used_grant.empty();
  }
  if (!grants) {
    return;
  }
  // The first use of a grant to an after_access secret makes it due (lib/escrow/escrow.hpp): the
  // same session, upgraded to a writer (the identity is not unlocked twice).
  session.upgrade();
  JournalEntry used;
  used.action = JournalAction::grant_used;
  used.detail = Json{{"requests", Json::array()}};
  for (const auto& read : reads) {
    if (!read.used_grant.empty()
        && mark_grant_used(session.vault(), read.secret, read.used_grant, session.identity(), session.now())) {
      used.detail["requests"].push_back(Json{{"secret", read.secret}, {"request", read.used_grant}});
    }
  }
  if (!used.detail["requests"].empty()) {
    session.commit(std::move(used));
  }
}

} // namespace escrow
