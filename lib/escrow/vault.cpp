#include <escrow/error.hpp>
#include <escrow/vault.hpp>

#include <algorithm>
#include <set>

namespace escrow {

namespace {

constexpr std::string_view k_head_label = "escrow/v1/head";
constexpr std::string_view k_top_keys[] = {"format", "vault_id", "revision", "parents",
                                           "journal_head", "manifest", "head_sig", "policy",
                                           "members", "connectors", "secrets"};

std::string hash_b64(std::string_view bytes)
{
  return canonical::b64(crypto::hash_raw(as_bytes(bytes)));
}

std::string record_text(const Json& json, std::size_t depth)
{
  std::string out;
  canonical::dump_pretty(json, depth, out);
  return out;
}

[[noreturn]] void tampered(std::string_view what, std::string_view path, std::string_view problem)
{
  fail(ErrorKind::integrity, "{}: {}: {}", what, path, problem);
}

Json parse_span(std::string_view text, std::size_t begin, std::size_t end, std::string_view what)
{
  return canonical::parse(text.substr(begin, end - begin), what);
}

} // namespace

bool can_write_secret(const MemberRecord& member, const SecretRecord& secret)
{
  return member.active() && member.reaches(secret.env)
         && (member.name == secret.owner || member.has_role(Role::admin)
             || member.has_role(Role::rotator));
}

bool can_write_connector(const MemberRecord& member, std::string_view env)
{
  return member.active() && member.reaches(env)
         && (member.has_role(Role::admin) || member.has_role(Role::rotator));
}

Vault::~Vault() = default;

// --- reading -----------------------------------------------------------------------------------

Vault Vault::parse(std::string text, std::string what)
{
  Vault vault;
  vault.m_what = std::move(what);
  vault.m_text = std::move(text);
  const std::string_view t = vault.m_text;
  const std::string& w = vault.m_what;

  if (t.empty()) {
    fail(ErrorKind::integrity, "{}: empty file (not an escrow vault)", w);
  }
  std::size_t start = 0;
  while (start < t.size() && (t[start] == ' ' || t[start] == '\n' || t[start] == '\t' || t[start] == '\r')) {
    ++start;
  }
  if (start >= t.size() || t[start] != '{') {
    fail(ErrorKind::integrity, "{}: not an escrow vault (expected a JSON object)", w);
  }
  // The format comes first: check it before anything else so that a future major version is
  // reported as such, not as a parse error.
  {
    const auto format_pos = t.find("\"format\"", start);
    const auto colon = format_pos == std::string_view::npos ? format_pos : t.find(':', format_pos);
    const auto quote = colon == std::string_view::npos ? colon : t.find('"', colon);
    const auto close = quote == std::string_view::npos ? quote : t.find('"', quote + 1);
    if (close != std::string_view::npos && close - quote < 64) {
      const std::string_view format = t.substr(quote + 1, close - quote - 1);
      if (format.rfind("escrow-vault/", 0) == 0 && format != k_vault_format) {
        fail(ErrorKind::integrity, "{}: unsupported format \"{}\" (this escrow reads {})", w,
             canonical::valid_utf8(format) ? format : "?", k_vault_format);
      }
    }
  }
  std::size_t end = 0;
  const std::vector<canonical::Span> top = canonical::scan_object(t, start, end, w);
  for (std::size_t i = end; i < t.size(); ++i) {
    if (t[i] != ' ' && t[i] != '\n' && t[i] != '\t' && t[i] != '\r') {
      fail(ErrorKind::integrity, "{}: unexpected data after the end of the document at byte {}", w, i);
    }
  }
  if (top.empty() || top[0].key != "format") {
    fail(ErrorKind::integrity, "{}: not an escrow vault (no \"format\" field first)", w);
  }
  const Json format = parse_span(t, top[0].begin, top[0].end, w);
  if (!format.is_string() || format.get<std::string>() != k_vault_format) {
    fail(ErrorKind::integrity, "{}: not an escrow vault (format is not {})", w, k_vault_format);
  }
  if (top.size() != std::size(k_top_keys)) {
    fail(ErrorKind::integrity, "{}: expected exactly the fields {} in this order", w,
         "format, vault_id, revision, parents, journal_head, manifest, head_sig, policy, members, connectors, secrets");
  }
  for (std::size_t i = 0; i < top.size(); ++i) {
    if (top[i].key != k_top_keys[i]) {
      fail(ErrorKind::integrity, "{}: field {} must be \"{}\"", w, i + 1, k_top_keys[i]);
    }
  }
  const auto span = [&](std::size_t i) { return parse_span(t, top[i].begin, top[i].end, w); };

  const Json vault_id = span(1);
  if (!vault_id.is_string()) {
    fail(ErrorKind::integrity, "{}: \"vault_id\" must be a string", w);
  }
  vault.m_id = canonical::unb64(vault_id.get<std::string>(), w);
  if (vault.m_id.size() != 16) {
    fail(ErrorKind::integrity, "{}: \"vault_id\" has the wrong length", w);
  }
  vault.m_id_b64 = vault_id.get<std::string>();
  const Json revision = span(2);
  if (!revision.is_number_integer() || revision.get<std::int64_t>() < 1) {
    fail(ErrorKind::integrity, "{}: \"revision\" must be a positive integer", w);
  }
  vault.m_revision = revision.get<std::int64_t>();
  const Json parents = span(3);
  if (!parents.is_array() || parents.size() > 16) {
    fail(ErrorKind::integrity, "{}: \"parents\" must be a short list", w);
  }
  for (const Json& parent : parents) {
    if (!parent.is_string() || canonical::unb64(parent.get<std::string>(), w).size() != 32) {
      fail(ErrorKind::integrity, "{}: \"parents\" must list 32-byte hashes", w);
    }
    vault.m_parents.push_back(parent.get<std::string>());
  }
  const Json journal_head = span(4);
  if (!journal_head.is_string()
      || (!journal_head.get<std::string>().empty()
          && canonical::unb64(journal_head.get<std::string>(), w).size() != 32)) {
    fail(ErrorKind::integrity, "{}: \"journal_head\" must be a 32-byte hash", w);
  }
  vault.m_journal_head = journal_head.get<std::string>();
  const Json manifest = span(5);
  if (!manifest.is_object()) {
    fail(ErrorKind::integrity, "{}: \"manifest\" must be an object", w);
  }
  for (const auto& [key, value] : manifest.items()) {
    if (!value.is_string() || canonical::unb64(value.get<std::string>(), w).size() != 32) {
      fail(ErrorKind::integrity, "{}: manifest entry {} must be a 32-byte hash", w, key);
    }
    vault.m_manifest.emplace(key, value.get<std::string>());
  }
  const Json head_sig = span(6);
  if (!head_sig.is_object() || head_sig.size() != 2 || !head_sig.contains("by")
      || !head_sig["by"].is_string() || !head_sig.contains("sig") || !head_sig["sig"].is_string()) {
    fail(ErrorKind::integrity, "{}: \"head_sig\" must hold exactly \"by\" and \"sig\"", w);
  }
  vault.m_head_by = head_sig["by"].get<std::string>();
  const Bytes head_signature = canonical::unb64(head_sig["sig"].get<std::string>(), w);

  const auto check_hash = [&](const std::string& path, std::size_t begin, std::size_t finish) {
    const auto it = vault.m_manifest.find(path);
    if (it == vault.m_manifest.end()) {
      tampered(w, path, "record is not in the signed manifest (added outside escrow?)");
    }
    if (hash_b64(t.substr(begin, finish - begin)) != it->second) {
      tampered(w, path, "record does not match the signed manifest (modified outside escrow)");
    }
  };

  // Members first: every other signature is checked against them.
  std::size_t members_end = 0;
  std::vector<Json> member_json;
  for (const auto& member : canonical::scan_object(t, top[8].begin, members_end, w)) {
    const std::string path = member_path(member.key);
    check_hash(path, member.begin, member.end);
    Json json = parse_span(t, member.begin, member.end, w);
    MemberRecord record = member_from_json(json, member.key, fmt::format("{}: {}", w, path));
    vault.m_member_slots[member.key] = Slot{member.begin, member.end, false};
    vault.m_members.emplace(member.key, std::move(record));
    member_json.push_back(std::move(json));
  }
  if (vault.m_members.empty()) {
    fail(ErrorKind::integrity, "{}: the vault has no members", w);
  }
  std::size_t index = 0;
  for (const auto& [name, record] : vault.m_members) {
    vault.check_member_signature(record, member_json[index++]);
  }

  // The head: signed by an active member over everything up to the end of the manifest.
  {
    const MemberRecord* signer = vault.member(vault.m_head_by);
    if (signer == nullptr) {
      fail(ErrorKind::integrity, "{}: head signed by \"{}\", who is not a member", w, vault.m_head_by);
    }
    if (!signer->active()) {
      fail(ErrorKind::integrity, "{}: head signed by \"{}\", a removed member", w, vault.m_head_by);
    }
    const std::string_view signed_bytes = t.substr(0, top[5].end);
    if (!crypto::verify(k_head_label, as_bytes(signed_bytes), head_signature, signer->sign_pk)) {
      fail(ErrorKind::integrity, "{}: the head signature does not verify (file modified outside escrow)", w);
    }
    ++vault.m_verified;
    vault.m_head = canonical::b64(crypto::hash(k_head_label, as_bytes(signed_bytes)));
  }

  // Policy.
  {
    check_hash("policy", top[7].begin, top[7].end);
    const Json json = span(7);
    vault.m_policy = policy_from_json(json, fmt::format("{}: policy", w));
    vault.check_signature(vault.m_policy, "policy", json);
    const MemberRecord& signer = vault.signer_of(vault.m_policy, "policy");
    if (!signer.has_role(Role::admin)) {
      tampered(w, "policy", fmt::format("signed by \"{}\", who is not an admin", signer.name));
    }
    vault.m_policy_slot = Slot{top[7].begin, top[7].end, false};
  }

  // Connectors.
  std::size_t connectors_end = 0;
  for (const auto& connector : canonical::scan_object(t, top[9].begin, connectors_end, w)) {
    const std::string path = connector_path(connector.key);
    check_hash(path, connector.begin, connector.end);
    const Json json = parse_span(t, connector.begin, connector.end, w);
    ConnectorRecord record = connector_from_json(json, connector.key, fmt::format("{}: {}", w, path));
    vault.check_signature(record, path, json);
    if (!can_write_connector(vault.signer_of(record, path), record.env)) {
      tampered(w, path, fmt::format("signed by \"{}\", who may not manage connectors in {}", record.by, record.env));
    }
    vault.m_connector_slots[connector.key] = Slot{connector.begin, connector.end, false};
    vault.m_connectors.emplace(connector.key, std::move(record));
  }

  // Secrets: located now, verified on first use.
  std::size_t secrets_end = 0;
  for (const auto& secret : canonical::scan_object(t, top[10].begin, secrets_end, w)) {
    const std::string path = secret_path(secret.key);
    const auto it = vault.m_manifest.find(path);
    if (it == vault.m_manifest.end()) {
      tampered(w, path, "record is not in the signed manifest (added outside escrow?)");
    }
    SecretSlot slot;
    slot.begin = secret.begin;
    slot.end = secret.end;
    slot.manifest_hash = it->second;
    vault.m_secrets.emplace(secret.key, std::move(slot));
  }

  // The manifest names exactly the records present.
  const std::size_t expected = 1 + vault.m_members.size() + vault.m_connectors.size() + vault.m_secrets.size();
  if (vault.m_manifest.size() != expected) {
    for (const auto& [path, hash] : vault.m_manifest) {
      const bool present =
        path == "policy"
        || (path.rfind("members/", 0) == 0 && vault.m_members.count(path.substr(8)) > 0)
        || (path.rfind("connectors/", 0) == 0 && vault.m_connectors.count(path.substr(11)) > 0)
        || (path.rfind("secrets/", 0) == 0 && vault.m_secrets.count(path.substr(8)) > 0);
      if (!present) {
        tampered(w, path, "record named by the signed manifest is missing (deleted outside escrow)");
      }
    }
  }
  return vault;
}

void Vault::check_member_signature(const MemberRecord& record, const Json& json) const
{
  const std::string path = member_path(record.name);
  if (!record.genesis.empty()) {
    const auto id = derive_vault_id(record);
    if (!crypto::equal(id, m_id)) {
      tampered(m_what, path, "genesis record does not match the vault id (copied from another vault?)");
    }
    if (record.by == record.name) {
      if (!verify_body(m_id, path, json, record.sig, record.sign_pk)) {
        tampered(m_what, path, "signature does not verify (tampered)");
      }
      ++m_verified;
      return;
    }
  } else if (record.by == record.name) {
    tampered(m_what, path, "a member may not sign their own record");
  }
  check_signature(record, path, json);
  if (!signer_of(record, path).has_role(Role::admin)) {
    tampered(m_what, path, fmt::format("signed by \"{}\", who is not an admin", record.by));
  }
}

const MemberRecord& Vault::signer_of(const Signed& record, std::string_view path) const
{
  const MemberRecord* signer = member(record.by);
  if (signer == nullptr) {
    tampered(m_what, path, fmt::format("signed by \"{}\", who is not a member", record.by));
  }
  if (!signer->active()) {
    tampered(m_what, path, fmt::format("signed by \"{}\", a removed member", record.by));
  }
  return *signer;
}

void Vault::check_signature(const Signed& record, std::string_view path, const Json& json) const
{
  const MemberRecord& signer = signer_of(record, path);
  if (!verify_body(m_id, path, json, record.sig, signer.sign_pk)) {
    tampered(m_what, path, fmt::format("signature by \"{}\" does not verify (tampered, or copied from another vault)", record.by));
  }
  ++m_verified;
}

void Vault::verify_secret(const SecretRecord& record, const Json& json) const
{
  const std::string name = record.full_name();
  const std::string path = secret_path(name);
  check_signature(record, path, json);
  if (!can_write_secret(signer_of(record, path), record)) {
    tampered(m_what, path, fmt::format("signed by \"{}\", who may not write this secret", record.by));
  }
  std::size_t i = 0;
  for (const VersionRecord& version : record.versions) {
    const std::string vpath = version_path(name, version.v);
    check_signature(version, vpath, json["versions"][i++]);
    if (!can_write_secret(signer_of(version, vpath), record)) {
      tampered(m_what, vpath, fmt::format("signed by \"{}\", who may not write this secret", version.by));
    }
  }
  i = 0;
  for (const Request& request : record.requests) {
    const Json& request_json = json["requests"][i++];
    const std::string rpath = request_path(name, request.id);
    check_signature(request, rpath, request_json);
    if (!signer_of(request, rpath).reaches(record.env)) {
      tampered(m_what, rpath, "signed by a member outside the secret's environment");
    }
    std::size_t k = 0;
    std::set<std::string> approvers;
    for (const Approval& approval : request.approvals) {
      const std::string apath = approval_path(name, request.id, approval.by);
      check_signature(approval, apath, request_json["approvals"][k++]);
      const MemberRecord& approver = signer_of(approval, apath);
      if (std::find(record.custodians.begin(), record.custodians.end(), approver.name) == record.custodians.end()
          || !approver.has_role(Role::approver)) {
        tampered(m_what, apath, fmt::format("approval by \"{}\", who is not an approving custodian", approval.by));
      }
      if (approval.by == request.by) {
        tampered(m_what, apath, "self-approval");
      }
      if (!approvers.insert(approval.by).second) {
        tampered(m_what, apath, "the same custodian approved twice");
      }
    }
    if (request.denial) {
      const std::string dpath = denial_path(name, request.id);
      check_signature(*request.denial, dpath, request_json["denial"]);
    }
  }
}

const MemberRecord& Vault::genesis() const
{
  for (const auto& [name, record] : m_members) {
    if (!record.genesis.empty()) {
      return record;
    }
  }
  fail(ErrorKind::integrity, "{}: the vault has no genesis admin", m_what);
}

const MemberRecord* Vault::member(std::string_view name) const
{
  const auto it = m_members.find(std::string(name));
  return it == m_members.end() ? nullptr : &it->second;
}

const ConnectorRecord* Vault::connector(std::string_view name) const
{
  const auto it = m_connectors.find(std::string(name));
  return it == m_connectors.end() ? nullptr : &it->second;
}

std::vector<std::string> Vault::secret_names() const
{
  std::vector<std::string> names;
  names.reserve(m_secrets.size());
  for (const auto& [name, slot] : m_secrets) {
    names.push_back(name);
  }
  return names;
}

bool Vault::has_secret(std::string_view full_name) const
{
  return m_secrets.find(full_name) != m_secrets.end();
}

const SecretRecord& Vault::secret(std::string_view full_name) const
{
  const auto it = m_secrets.find(full_name);
  if (it == m_secrets.end()) {
    fail(ErrorKind::usage, "{}: no secret named {}", m_what, full_name);
  }
  const SecretSlot& slot = it->second;
  if (!slot.parsed) {
    const std::string path = secret_path(full_name);
    const std::string_view bytes = std::string_view(m_text).substr(slot.begin, slot.end - slot.begin);
    if (hash_b64(bytes) != slot.manifest_hash) {
      tampered(m_what, path, "record does not match the signed manifest (modified outside escrow)");
    }
    const Json json = canonical::parse(bytes, m_what);
    auto record = std::make_unique<SecretRecord>(secret_from_json(json, full_name, fmt::format("{}: {}", m_what, path)));
    verify_secret(*record, json);
    slot.parsed = std::move(record);
  }
  return *slot.parsed;
}

void Vault::verify_all() const
{
  for (const auto& [name, slot] : m_secrets) {
    (void)secret(name);
  }
  for (const auto& [name, secret_slot] : m_secrets) {
    const SecretRecord& record = *secret_slot.parsed;
    if (!valid_env_name(record.env)) {
      tampered(m_what, secret_path(name), "invalid environment");
    }
    for (const auto& connector : record.connectors) {
      const ConnectorRecord* bound = this->connector(connector);
      if (bound != nullptr && bound->env != record.env) {
        tampered(m_what, secret_path(name), fmt::format("bound to connector {} of another environment", connector));
      }
    }
  }
}

// --- changing ----------------------------------------------------------------------------------

void Vault::put_member(MemberRecord record)
{
  m_member_slots[record.name].dirty = true;
  m_members[record.name] = std::move(record);
}

void Vault::put_policy(PolicyRecord record)
{
  m_policy = std::move(record);
  m_policy_slot.dirty = true;
}

void Vault::put_connector(ConnectorRecord record)
{
  m_connector_slots[record.name].dirty = true;
  m_connectors[record.name] = std::move(record);
}

void Vault::erase_connector(std::string_view name)
{
  m_connectors.erase(std::string(name));
  m_connector_slots.erase(std::string(name));
}

SecretRecord& Vault::secret_mut(std::string_view full_name)
{
  (void)secret(full_name);
  auto it = m_secrets.find(full_name);
  it->second.dirty = true;
  return *it->second.parsed;
}

void Vault::put_secret(SecretRecord record)
{
  const std::string name = record.full_name();
  SecretSlot& slot = m_secrets[name];
  slot.parsed = std::make_unique<SecretRecord>(std::move(record));
  slot.dirty = true;
}

namespace {

void require_member(const Vault& vault, const Identity& signer)
{
  const MemberRecord* member = vault.member(signer.pub.name);
  if (member == nullptr || member->sign_pk != signer.pub.sign_pk) {
    fail(ErrorKind::access, "{}: {} is not a member of this vault", vault.what(), signer.pub.name);
  }
}

template<typename Record>
void sign_into(const Vault& vault, Record& record, std::string_view path, const Identity& signer)
{
  require_member(vault, signer);
  record.by = signer.pub.name;
  record.sig = sign_body(vault.id(), path, to_json(record), signer.sign_sk);
}

} // namespace

void Vault::sign(MemberRecord& record, const Identity& signer) const
{
  sign_into(*this, record, member_path(record.name), signer);
}
void Vault::sign(PolicyRecord& record, const Identity& signer) const
{
  sign_into(*this, record, "policy", signer);
}
void Vault::sign(ConnectorRecord& record, const Identity& signer) const
{
  sign_into(*this, record, connector_path(record.name), signer);
}
void Vault::sign_meta(SecretRecord& record, const Identity& signer) const
{
  sign_into(*this, record, secret_path(record.full_name()), signer);
}
void Vault::sign(const SecretRecord& secret, VersionRecord& version, const Identity& signer) const
{
  sign_into(*this, version, version_path(secret.full_name(), version.v), signer);
}
void Vault::sign(const SecretRecord& secret, Request& request, const Identity& signer) const
{
  sign_into(*this, request, request_path(secret.full_name(), request.id), signer);
}
void Vault::sign(const SecretRecord& secret, const Request& request, Approval& approval, const Identity& signer) const
{
  require_member(*this, signer);
  approval.by = signer.pub.name;
  approval.sig = sign_body(m_id, approval_path(secret.full_name(), request.id, approval.by), to_json(approval), signer.sign_sk);
}
void Vault::sign(const SecretRecord& secret, const Request& request, Denial& denial, const Identity& signer) const
{
  sign_into(*this, denial, denial_path(secret.full_name(), request.id), signer);
}

// --- writing -----------------------------------------------------------------------------------

Vault Vault::create(const Identity& admin, Timestamp now)
{
  Vault vault;
  vault.m_what = "new vault";
  MemberRecord genesis;
  genesis.name = admin.pub.name;
  genesis.sign_pk = admin.pub.sign_pk;
  genesis.box_pk = admin.pub.box_pk;
  genesis.roles = {"admin", "approver", "requester"};
  genesis.envs = {"*"};
  genesis.added_by = admin.pub.name;
  genesis.added_at = now;
  genesis.genesis = canonical::b64(crypto::random_bytes(16));
  const auto id = derive_vault_id(genesis);
  vault.m_id.assign(id.begin(), id.end());
  vault.m_id_b64 = canonical::b64(id);
  vault.m_members.emplace(genesis.name, genesis);
  vault.m_member_slots[genesis.name].dirty = true;
  vault.sign(vault.m_members[genesis.name], admin);

  PolicyRecord policy;
  policy.envs.emplace("*", EnvPolicy{});
  vault.sign(policy, admin);
  vault.put_policy(std::move(policy));
  return vault;
}

std::string Vault::serialize(const Identity& signer, const std::string& journal_head)
{
  const std::string_view old = m_text;
  const auto copy_or_dump = [&](bool dirty, std::size_t begin, std::size_t end, const Json& json, std::size_t depth) {
    return dirty || old.empty() ? record_text(json, depth) : std::string(old.substr(begin, end - begin));
  };

  // Every changed record must verify before it is written.
  for (auto& [name, record] : m_members) {
    if (m_member_slots[name].dirty) {
      check_member_signature(record, to_json(record));
    }
  }
  if (m_policy_slot.dirty) {
    check_signature(m_policy, "policy", to_json(m_policy));
  }
  for (auto& [name, record] : m_connectors) {
    if (m_connector_slots[name].dirty) {
      check_signature(record, connector_path(name), to_json(record));
    }
  }
  for (auto& [name, slot] : m_secrets) {
    if (slot.dirty) {
      verify_secret(*slot.parsed, to_json(*slot.parsed));
    }
  }

  std::map<std::string, std::string> manifest;
  std::string members = "{";
  bool first = true;
  for (const auto& [name, record] : m_members) {
    const Slot& slot = m_member_slots[name];
    const std::string text = copy_or_dump(slot.dirty, slot.begin, slot.end, to_json(record), 2);
    manifest[member_path(name)] = hash_b64(text);
    members += first ? "\n    " : ",\n    ";
    members += Json(name).dump() + ": " + text;
    first = false;
  }
  members += first ? "}" : "\n  }";

  const std::string policy =
    copy_or_dump(m_policy_slot.dirty, m_policy_slot.begin, m_policy_slot.end, to_json(m_policy), 1);
  manifest["policy"] = hash_b64(policy);

  std::string connectors = "{";
  first = true;
  for (const auto& [name, record] : m_connectors) {
    const Slot& slot = m_connector_slots[name];
    const std::string text = copy_or_dump(slot.dirty, slot.begin, slot.end, to_json(record), 2);
    manifest[connector_path(name)] = hash_b64(text);
    connectors += first ? "\n    " : ",\n    ";
    connectors += Json(name).dump() + ": " + text;
    first = false;
  }
  connectors += first ? "}" : "\n  }";

  std::string secrets = "{";
  first = true;
  for (const auto& [name, slot] : m_secrets) {
    std::string text;
    if (slot.dirty || old.empty()) {
      text = record_text(to_json(*slot.parsed), 2);
      manifest[secret_path(name)] = hash_b64(text);
    } else {
      // Unchanged: the stored bytes and the manifest's hash travel together, so a record
      // tampered with before this write stays detectably tampered after it.
      text = std::string(old.substr(slot.begin, slot.end - slot.begin));
      manifest[secret_path(name)] = slot.manifest_hash;
    }
    secrets += first ? "\n    " : ",\n    ";
    secrets += Json(name).dump() + ": " + text;
    first = false;
  }
  secrets += first ? "}" : "\n  }";

  const std::int64_t revision = m_revision + 1;
  Json parents = Json::array();
  if (!m_head.empty()) {
    parents.push_back(m_head);
  }
  std::string out = "{\n";
  out += fmt::format("  \"format\": {},\n", Json(k_vault_format).dump());
  out += fmt::format("  \"vault_id\": {},\n", Json(m_id_b64).dump());
  out += fmt::format("  \"revision\": {},\n", revision);
  out += "  \"parents\": ";
  canonical::dump_pretty(parents, 1, out);
  out += fmt::format(",\n  \"journal_head\": {},\n", Json(journal_head).dump());
  out += "  \"manifest\": ";
  canonical::dump_pretty(Json(manifest), 1, out);
  const std::string_view signed_bytes = out;
  const crypto::Signature signature = crypto::sign(k_head_label, as_bytes(signed_bytes), signer.sign_sk);
  const std::string head = canonical::b64(crypto::hash(k_head_label, as_bytes(signed_bytes)));
  out += ",\n  \"head_sig\": ";
  canonical::dump_pretty(Json{{"by", signer.pub.name}, {"sig", canonical::b64(signature)}}, 1, out);
  out += ",\n  \"policy\": " + policy;
  out += ",\n  \"members\": " + members;
  out += ",\n  \"connectors\": " + connectors;
  out += ",\n  \"secrets\": " + secrets;
  out += "\n}\n";
  m_written_revision = revision;
  m_written_head = head;
  return out;
}

} // namespace escrow
