#include <escrow/error.hpp>
#include <escrow/escrow.hpp>
#include <escrow/policy.hpp>
#include <escrow/read.hpp>
#include <escrow/versions.hpp>

namespace escrow {

ValueRead read_value(Session& session, std::string_view full_name, std::int64_t version, JournalAction action, Json detail)
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
  try {
    policy::require_env(me, env, journal_action_name(read.entry.action));
    if (me.roles == std::set<Role>{Role::auditor}) {
      fail(ErrorKind::access, "{}: {} is an auditor and may not read values", read.entry.action, me.name);
    }
    if (secret.state == SecretState::retired) {
      fail(ErrorKind::access, "{}: {} is retired and is never served", read.entry.action, name);
    }
    OpenedKey key = open_data_key(vault, secret, *found, session.identity(), session.now());
    read.value = decrypt_version(vault, secret, *found, key.data_key);
    read.entry.request = key.request;
    read.entry.detail["via"] = access_path_name(key.path);
    if (key.path != AccessPath::wrapped && secret.after_access && !key.request.empty()) {
      read.used_grant = key.request;
    }
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::access) {
      JournalEntry denied = read.entry;
      denied.result = JournalResult::denied;
      denied.detail["reason"] = error.what();
      session.record(std::move(denied));
    }
    throw;
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
  // The first use of a grant to an after_access secret makes it due (lib/escrow/escrow.hpp).
  Session writer = Session::open(session.options(), Mode::write);
  JournalEntry used;
  used.action = JournalAction::grant_used;
  used.detail = Json{{"requests", Json::array()}};
  for (const auto& read : reads) {
    if (!read.used_grant.empty()
        && mark_grant_used(writer.vault(), read.secret, read.used_grant, writer.identity(), writer.now())) {
      used.detail["requests"].push_back(Json{{"secret", read.secret}, {"request", read.used_grant}});
    }
  }
  if (!used.detail["requests"].empty()) {
    writer.commit(std::move(used));
  }
}

} // namespace escrow
