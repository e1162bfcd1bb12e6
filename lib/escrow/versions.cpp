#include <escrow/error.hpp>
#include <escrow/labels.hpp>
#include <escrow/policy.hpp>
#include <escrow/shamir.hpp>
#include <escrow/versions.hpp>

#include <algorithm>

namespace escrow {

namespace {

constexpr std::string_view k_value_label = labels::k_value;
constexpr std::string_view k_commit_label = labels::k_dk_commit;

Bytes value_ad(const Vault& vault, const SecretRecord& secret, std::int64_t v)
{
  Bytes ad(k_value_label.begin(), k_value_label.end());
  ad.push_back(0);
  ad.insert(ad.end(), vault.id().begin(), vault.id().end());
  const std::string name = secret.full_name();
  ad.insert(ad.end(), name.begin(), name.end());
  ad.push_back(0);
  const std::string number = std::to_string(v);
  ad.insert(ad.end(), number.begin(), number.end());
  return ad;
}

std::string seal_to(const Vault& vault, const std::string& member, ByteView plaintext)
{
  const MemberRecord* record = vault.member(member);
  if (record == nullptr || !record->active()) {
    fail(ErrorKind::usage, "{}: {} is not an active member", vault.what(), member);
  }
  return canonical::b64(crypto::seal(plaintext, record->box_pk));
}

std::optional<SecretBytes> open_sealed(const std::string& b64, const Identity& identity, std::string_view what)
{
  const Bytes sealed = canonical::unb64(b64, what);
  return identity.seal_open(sealed);
}

} // namespace

std::string_view access_path_name(AccessPath path)
{
  switch (path) {
  case AccessPath::wrapped: return "standing";
  case AccessPath::granted: return "grant";
  case AccessPath::approvals: return "approvals";
  }
  return "";
}

VersionRecord seal_version(const Vault& vault,
                           const SecretRecord& secret,
                           const SecretBytes& value,
                           const VersionPlan& plan,
                           Timestamp now,
                           const std::string& creator)
{
  if (value.size() > k_max_value_size) {
    fail(ErrorKind::usage, "value is larger than the limit of {} bytes", k_max_value_size);
  }
  const SecretBytes data_key = crypto::random_secret(crypto::k_key_size);
  VersionRecord version;
  version.v = plan.v;
  version.state = plan.state;
  version.created_at = now;
  version.created_by = creator;
  version.why = plan.why;
  const crypto::Sealed sealed = crypto::aead_encrypt(value.expose(), value_ad(vault, secret, plan.v), data_key);
  version.nonce = canonical::b64(sealed.nonce);
  version.ciphertext = canonical::b64(sealed.ciphertext);
  version.dk_commit = canonical::b64(crypto::keyed_hash(data_key.expose(), k_commit_label));
  for (const auto& reader : plan.readers) {
    version.wrapped[reader] = seal_to(vault, reader, data_key.expose());
  }
  for (const auto& [member, grant] : plan.grants) {
    Grant sealed_grant = grant;
    sealed_grant.key = seal_to(vault, member, data_key.expose());
    version.granted[member] = std::move(sealed_grant);
  }
  if (!secret.custodians.empty()) {
    const auto shares = shamir::split(data_key, static_cast<unsigned>(secret.threshold),
                                      static_cast<unsigned>(secret.custodians.size()));
    for (std::size_t i = 0; i < shares.size(); ++i) {
      const SecretBytes encoded = shamir::encode(shares[i]);
      version.shares[secret.custodians[i]] = seal_to(vault, secret.custodians[i], encoded.expose());
    }
  }
  return version;
}

void wrap_for(const Vault& vault, VersionRecord& version, const std::string& member, const SecretBytes& data_key)
{
  version.wrapped[member] = seal_to(vault, member, data_key.expose());
}

bool matches_commitment(const VersionRecord& version, const SecretBytes& data_key)
{
  if (data_key.size() != crypto::k_key_size) {
    return false;
  }
  const crypto::Hash commit = crypto::keyed_hash(data_key.expose(), k_commit_label);
  const Bytes expected = canonical::unb64(version.dk_commit, "dk_commit");
  return crypto::equal(commit, expected);
}

SecretBytes decrypt_version(const Vault& vault,
                            const SecretRecord& secret,
                            const VersionRecord& version,
                            const SecretBytes& data_key)
{
  const std::string what = fmt::format("{}: {}", vault.what(), version_path(secret.full_name(), version.v));
  const Bytes nonce = canonical::unb64(version.nonce, what);
  const Bytes ciphertext = canonical::unb64(version.ciphertext, what);
  auto value = crypto::aead_decrypt(nonce, ciphertext, value_ad(vault, secret, version.v), data_key);
  if (!value) {
    fail(ErrorKind::integrity, "{}: the ciphertext does not decrypt (corrupted)", what);
  }
  return std::move(*value);
}

std::vector<const Approval*> counted_approvals(const Vault& vault,
                                               const SecretRecord& secret,
                                               const Request& request,
                                               std::int64_t v)
{
  std::vector<const Approval*> counted;
  for (const Approval& approval : request.approvals) {
    const MemberRecord* approver = vault.member(approval.by);
    // The same predicate that let the approval be given (policy.hpp): an approver who has since
    // left the environment, the role or the custodians no longer counts.
    if (approval.v != v || approver == nullptr || policy::approval_refusal(*approver, secret, request)) {
      continue;
    }
    if (std::none_of(counted.begin(), counted.end(), [&](const Approval* a) { return a->by == approval.by; })) {
      counted.push_back(&approval);
    }
  }
  return counted;
}

const Request* active_grant(const Vault& vault, const SecretRecord& secret, const std::string& member, Timestamp now)
{
  const VersionRecord* current = secret.current();
  if (current == nullptr || secret.threshold < 1) {
    return nullptr;
  }
  const Request* best = nullptr;
  for (const Request& request : secret.requests) {
    if (request.by != member || request.denial || now >= request.expires_at()) {
      continue;
    }
    if (static_cast<std::int64_t>(counted_approvals(vault, secret, request, current->v).size()) >= secret.threshold) {
      if (best == nullptr || request.expires_at() > best->expires_at()) {
        best = &request;
      }
    }
  }
  return best;
}

std::map<std::string, Grant> carried_grants(const Vault& vault, const SecretRecord& secret, Timestamp now)
{
  std::map<std::string, Grant> grants;
  const VersionRecord* current = secret.current();
  if (current == nullptr) {
    return grants;
  }
  const auto keep = [&](const std::string& member, Timestamp until, const std::string& request) {
    const MemberRecord* record = vault.member(member);
    if (record == nullptr || !record->active() || !record->reaches(secret.env) || until <= now) {
      return;
    }
    auto& grant = grants[member];
    if (until > grant.until) {
      grant.until = until;
      grant.request = request;
    }
  };
  for (const auto& [member, grant] : current->granted) {
    const auto request = std::find_if(secret.requests.begin(), secret.requests.end(),
                                      [&id = grant.request](const Request& r) { return r.id == id; });
    if (request != secret.requests.end() && request->denial) {
      continue;
    }
    keep(member, grant.until, grant.request);
  }
  for (const Request& request : secret.requests) {
    if (request.denial || now >= request.expires_at()) {
      continue;
    }
    if (static_cast<std::int64_t>(counted_approvals(vault, secret, request, current->v).size()) >= secret.threshold
        && secret.threshold > 0) {
      keep(request.by, request.expires_at(), request.id);
    }
  }
  return grants;
}

OpenedKey open_data_key(const Vault& vault,
                        const SecretRecord& secret,
                        const VersionRecord& version,
                        const Identity& identity,
                        Timestamp now)
{
  const std::string& me = identity.pub.name;
  const std::string what = fmt::format("{}: {}", vault.what(), version_path(secret.full_name(), version.v));
  const auto checked = [&](std::optional<SecretBytes> key, std::string_view via) -> SecretBytes {
    if (!key) {
      fail(ErrorKind::access, "{}: the key sealed to {} ({}) does not open with this identity (wrong key)", what, me, via);
    }
    if (!matches_commitment(version, *key)) {
      fail(ErrorKind::integrity, "{}: the key sealed to {} fails the key commitment (forged by a writer)", what, me);
    }
    return std::move(*key);
  };

  if (const auto it = version.wrapped.find(me); it != version.wrapped.end()) {
    return {checked(open_sealed(it->second, identity, what), "standing access"), AccessPath::wrapped, {}};
  }
  if (const auto it = version.granted.find(me); it != version.granted.end()) {
    // A denial of the request behind a carried grant revokes it (for the tool; a value seen stays seen).
    const bool revoked = std::any_of(secret.requests.begin(), secret.requests.end(), [&](const Request& r) {
      return r.id == it->second.request && r.denial.has_value();
    });
    if (now < it->second.until && !revoked) {
      return {checked(open_sealed(it->second.key, identity, what), "grant"), AccessPath::granted, it->second.request};
    }
  }
  // k approvals of an unexpired request for this version.
  std::string last_reason;
  std::optional<std::size_t> open_reason; // approvals of the open request last_reason names
  for (const Request& request : secret.requests) {
    if (request.by != me) {
      continue;
    }
    // The reason shown: an open request's (the one with most approvals) before a closed one's.
    if (request.denial) {
      last_reason = open_reason ? last_reason : fmt::format("request {} was denied by {}", request.id, request.denial->by);
      continue;
    }
    if (now >= request.expires_at()) {
      last_reason = open_reason ? last_reason
                                : fmt::format("request {} expired at {}", request.id, format_time(request.expires_at()));
      continue;
    }
    const auto approvals = counted_approvals(vault, secret, request, version.v);
    // A custodian-requester holds a share already; the tool still demands k approvals by others.
    if (static_cast<std::int64_t>(approvals.size()) < secret.threshold) {
      if (!open_reason || approvals.size() >= *open_reason) {
        last_reason = fmt::format("request {} has {} of {} approvals", request.id, approvals.size(), secret.threshold);
        open_reason = approvals.size();
      }
      continue;
    }
    std::vector<shamir::Share> shares;
    for (const Approval* approval : approvals) {
      auto opened = open_sealed(approval->share, identity, what);
      if (!opened) {
        fail(ErrorKind::integrity, "{}: the share approved by {} is not sealed to {} (forged or misdirected)", what,
             approval->by, me);
      }
      shares.push_back(shamir::decode(opened->expose()));
    }
    SecretBytes data_key = shamir::combine(shares);
    if (!matches_commitment(version, data_key)) {
      fail(ErrorKind::integrity, "{}: the approved shares do not reconstruct the data key (forged share)", what);
    }
    return {std::move(data_key), AccessPath::approvals, request.id};
  }
  if (!last_reason.empty()) {
    fail(ErrorKind::access, "{}: {} has no access to {} v{}: {}", vault.what(), me, secret.full_name(), version.v,
         last_reason);
  }
  throw Error(ErrorKind::access,
              fmt::format("{}: {} has no access to {} v{}", vault.what(), me, secret.full_name(), version.v))
    .hint(secret.custodians.empty()
            ? fmt::format("ask its owner ({}) to run: escrow share {} --with {}", secret.owner, secret.full_name(), me)
            : fmt::format("request access with: escrow request {} --ttl 4h --why \"...\"", secret.full_name()));
}

OpenedValue open_value(const Vault& vault,
                       const SecretRecord& secret,
                       const VersionRecord& version,
                       const Identity& identity,
                       Timestamp now)
{
  OpenedKey key = open_data_key(vault, secret, version, identity, now);
  OpenedValue opened;
  opened.value = decrypt_version(vault, secret, version, key.data_key);
  opened.path = key.path;
  opened.request = std::move(key.request);
  return opened;
}

} // namespace escrow
