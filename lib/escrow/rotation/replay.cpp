// In-flight state from the journal: what a pending version is for, who confirmed it, and whether
// a rollback had begun. Only authentic entries count.
#include <escrow/policy.hpp>
#include <escrow/error.hpp>
#include <escrow/rotation/rotation.hpp>

namespace escrow::rotation {

namespace {

bool authentic_entry(const Vault& vault, const SecretRecord& secret, const JournalEntry& entry)
{
  const MemberRecord* author = vault.member(entry.actor);
  if (author == nullptr || entry.vault != vault.id_b64() || !policy::may_rotate(*author, secret)) {
    return false;
  }
  return journal_entry_authentic(entry, author->sign_pk);
}

} // namespace

PendingState replay(const std::vector<JournalEntry>& journal, const std::string& secret_name, std::int64_t v)
{
  PendingState state;
  state.version = v;
  for (const JournalEntry& entry : journal) {
    if (entry.secret != secret_name || !entry.version || *entry.version != v) {
      continue;
    }
    if (entry.action == JournalAction::rotate_start || entry.action == JournalAction::rollback_start) {
      state = PendingState{};
      state.version = v;
      state.kind = entry.action == JournalAction::rotate_start ? OpKind::rotate : OpKind::rollback;
      state.since = entry.ts;
    } else if ((entry.action == JournalAction::rotate_failed || entry.action == JournalAction::rollback_failed)
               && (entry.result == JournalResult::rolling_back || entry.result == JournalResult::rollback_incomplete)) {
      state.rolling_back = true;
    } else if (entry.action == JournalAction::confirm && entry.result == JournalResult::ok && entry.detail.is_object()
               && entry.detail.contains("connector") && entry.detail["connector"].is_string()) {
      state.confirmed.insert(entry.detail["connector"].get<std::string>());
    }
  }
  return state;
}

std::optional<PendingState> pending_state(const Vault& vault,
                                          const SecretRecord& secret,
                                          const std::vector<JournalEntry>& journal)
{
  const VersionRecord* pending = pending_version(secret);
  if (pending == nullptr) {
    return std::nullopt;
  }
  // The journal is read, not verified: an entry anyone could have appended (a forged "confirm"
  // would skip a manual paste, a forged "rollback-start" would change what a failure does) counts
  // only if its hash and its author's signature hold and its author may write this secret.
  std::vector<JournalEntry> authentic;
  for (const JournalEntry& entry : journal) {
    if (entry.secret == secret.full_name() && entry.version && *entry.version == pending->v
        && authentic_entry(vault, secret, entry)) {
      authentic.push_back(entry);
    }
  }
  PendingState state = replay(authentic, secret.full_name(), pending->v);
  if (state.since == 0) {
    state.since = pending->created_at;
  }
  for (const auto& name_of : secret.connectors) {
    const ConnectorRecord* connector = vault.connector(name_of);
    if (connector != nullptr && !connector::driver_for(*connector).pushes() && state.confirmed.count(name_of) == 0) {
      state.awaiting.push_back(name_of);
    }
  }
  return state;
}

std::vector<Awaiting> awaiting_confirmation(const Vault& vault, const std::vector<JournalEntry>& journal)
{
  std::vector<Awaiting> out;
  for (const auto& name : vault.secret_names()) {
    const SecretRecord& secret = vault.secret(name);
    const auto state = pending_state(vault, secret, journal);
    if (!state || state->rolling_back || state->awaiting.empty()) {
      continue;
    }
    out.push_back(Awaiting{name, state->version, state->awaiting, state->since});
  }
  return out;
}

} // namespace escrow::rotation
