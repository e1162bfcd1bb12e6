// What is due: pending and live versions, cadence, the due reason and the status people see.
#include <escrow/rotation/rotation.hpp>

namespace escrow::rotation {

namespace {

bool after_access_used(const SecretRecord& secret, const VersionRecord& current)
{
  if (!secret.after_access) {
    return false;
  }
  for (const Request& request : secret.requests) {
    if (!request.used_at || *request.used_at < current.created_at) {
      continue;
    }
    // The use must have been of this version: approvals for it, or a grant carried into it.
    const bool approved_here = std::any_of(request.approvals.begin(), request.approvals.end(),
                                           [&](const Approval& a) { return a.v == current.v; });
    const bool carried_here = std::any_of(current.granted.begin(), current.granted.end(),
                                          [&](const auto& item) { return item.second.request == request.id; });
    if (approved_here || carried_here) {
      return true;
    }
  }
  return false;
}

} // namespace

const VersionRecord* pending_version(const SecretRecord& secret)
{
  for (const auto& version : secret.versions) {
    if (version.state == VersionState::pending) {
      return &version;
    }
  }
  return nullptr;
}

const VersionRecord* live_version(const SecretRecord& secret)
{
  if (const VersionRecord* current = secret.current()) {
    return current;
  }
  const VersionRecord* newest = nullptr;
  for (const auto& version : secret.versions) {
    if (version.state == VersionState::compromised && (newest == nullptr || version.v > newest->v)) {
      newest = &version;
    }
  }
  return newest;
}

std::int64_t cadence(const SecretRecord& secret, const PolicyRecord& policy)
{
  return secret.every > 0 ? secret.every : policy.for_env(secret.env).every;
}

std::optional<std::string> due_reason(const SecretRecord& secret, const PolicyRecord& policy, Timestamp now)
{
  if (secret.state != SecretState::active || pending_version(secret) != nullptr) {
    return std::nullopt;
  }
  const VersionRecord* current = secret.current();
  if (!secret.due.empty()) {
    return secret.due;
  }
  if (current == nullptr) {
    return live_version(secret) != nullptr ? "compromised" : "no current version";
  }
  if (after_access_used(secret, *current)) {
    return "accessed via grant";
  }
  const std::int64_t every = cadence(secret, policy);
  if (every > 0 && now >= current->created_at + every) {
    return fmt::format("overdue {} (every {})", describe_duration(now - current->created_at - every),
                       format_duration(every));
  }
  return std::nullopt;
}

std::string status(const SecretRecord& secret, const PolicyRecord& policy, Timestamp now)
{
  if (secret.state == SecretState::retired) {
    return "retired";
  }
  if (const VersionRecord* pending = pending_version(secret)) {
    return fmt::format("pending v{}", pending->v);
  }
  const VersionRecord* current = secret.current();
  if (current == nullptr && live_version(secret) != nullptr) {
    return "compromised";
  }
  if (!secret.due.empty()) {
    return "due: " + secret.due;
  }
  if (current == nullptr) {
    return "no current version";
  }
  if (after_access_used(secret, *current)) {
    return "due: accessed via grant";
  }
  const std::int64_t every = cadence(secret, policy);
  if (every > 0) {
    const Timestamp due_at = current->created_at + every;
    if (now >= due_at) {
      return "overdue " + describe_duration(now - due_at);
    }
    return "in " + describe_duration(due_at - now);
  }
  return "manual";
}

} // namespace escrow::rotation
