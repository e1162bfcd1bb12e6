#include <escrow/atomic_file.hpp>
#include <escrow/audit/verify.hpp>
#include <escrow/backup.hpp>
#include <escrow/canonical.hpp>
#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/journal.hpp>
#include <escrow/passphrase_once.hpp>
#include <escrow/rotation/rotation.hpp>
#include <escrow/util/text.hpp>
#include <escrow/versions.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <mutex>
#include <set>
#include <thread>

namespace escrow::backup {

namespace fs = std::filesystem;

namespace {

// --- strict reading of the header --------------------------------------------------------------

class Reader
{
public:
  Reader(const Json& json, std::string what) : m_json(json), m_what(std::move(what))
  {
    if (!m_json.is_object()) {
      fail(ErrorKind::integrity, "{}: not an object", m_what);
    }
  }
  const Json& get(std::string_view key)
  {
    const auto it = m_json.find(std::string(key));
    if (it == m_json.end()) {
      fail(ErrorKind::integrity, "{}: missing \"{}\"", m_what, key);
    }
    m_seen.insert(std::string(key));
    return *it;
  }
  std::string str(std::string_view key, std::size_t max = 256)
  {
    const Json& value = get(key);
    if (!value.is_string() || value.get_ref<const std::string&>().size() > max) {
      fail(ErrorKind::integrity, "{}: \"{}\" must be a string of at most {} bytes", m_what, key, max);
    }
    return value.get<std::string>();
  }
  std::int64_t integer(std::string_view key)
  {
    const Json& value = get(key);
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
      fail(ErrorKind::integrity, "{}: \"{}\" must be a non-negative integer", m_what, key);
    }
    return value.get<std::int64_t>();
  }
  Bytes bytes(std::string_view key, std::size_t size)
  {
    Bytes out = canonical::unb64(str(key, 4096), fmt::format("{} \"{}\"", m_what, key));
    if (size != 0 && out.size() != size) {
      fail(ErrorKind::integrity, "{}: \"{}\" must hold {} bytes", m_what, key, size);
    }
    return out;
  }
  Timestamp time(std::string_view key)
  {
    const std::string text = str(key, 64);
    const auto at = parse_time(text);
    if (!at || format_time(*at) != text) {
      fail(ErrorKind::integrity, "{}: \"{}\" is not an RFC 3339 UTC time", m_what, key);
    }
    return *at;
  }
  void done() const
  {
    for (auto it = m_json.begin(); it != m_json.end(); ++it) {
      if (m_seen.count(it.key()) == 0) {
        fail(ErrorKind::integrity, "{}: unknown field \"{}\"", m_what, it.key());
      }
    }
  }

private:
  const Json& m_json;
  std::string m_what;
  std::set<std::string> m_seen;
};

template<std::size_t N>
std::array<std::uint8_t, N> fixed(const Bytes& bytes)
{
  std::array<std::uint8_t, N> out{};
  std::copy_n(bytes.begin(), N, out.begin());
  return out;
}

bool plain_file_name(const std::string& name)
{
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." && name.find('/') == std::string::npos
         && name.find('\0') == std::string::npos && canonical::valid_utf8(name) && name.front() != '.';
}

Json header_json(const Header& h)
{
  Json recipients = Json::array();
  for (const auto& r : h.recipients) {
    recipients.push_back(Json{{"name", r.name},
                              {"fingerprint", r.fingerprint},
                              {"box_pk", canonical::b64(r.box_pk)},
                              {"key", canonical::b64(r.sealed_key)}});
  }
  return Json{{"format", std::string(k_format)},
              {"vault",
               Json{{"id", h.vault_id},
                    {"revision", h.revision},
                    {"head", h.vault_head},
                    {"genesis", h.genesis},
                    {"file", h.vault_file},
                    {"size", h.vault_size}}},
              {"journal",
               Json{{"head", h.journal_head},
                    {"entries", h.journal_entries},
                    {"file", h.journal_file},
                    {"size", h.journal_size}}},
              {"created_at", format_time(h.created_at)},
              {"maker",
               Json{{"name", h.maker},
                    {"sign_pk", canonical::b64(h.maker_sign_pk)},
                    {"fingerprint", h.maker_fingerprint}}},
              {"recipients", recipients}};
}

Header header_from_json(const Json& json, const std::string& what)
{
  Header h;
  Reader top(json, what + ": header");
  if (top.str("format") != k_format) {
    fail(ErrorKind::integrity, "{}: unknown backup format", what);
  }
  {
    Reader v(top.get("vault"), what + ": header vault");
    h.vault_id = v.str("id");
    (void)v.bytes("id", 16);
    h.revision = v.integer("revision");
    h.vault_head = v.str("head");
    (void)v.bytes("head", 32);
    h.genesis = v.str("genesis", 64);
    h.vault_file = v.str("file");
    h.vault_size = static_cast<std::uint64_t>(v.integer("size"));
    v.done();
  }
  {
    Reader j(top.get("journal"), what + ": header journal");
    h.journal_head = j.str("head");
    if (!h.journal_head.empty()) {
      (void)j.bytes("head", 32);
    }
    h.journal_entries = static_cast<std::uint64_t>(j.integer("entries"));
    h.journal_file = j.str("file");
    h.journal_size = static_cast<std::uint64_t>(j.integer("size"));
    j.done();
  }
  if (!plain_file_name(h.vault_file) || !plain_file_name(h.journal_file) || h.vault_file == h.journal_file
      || Journal::path_for(h.vault_file).string() != h.journal_file) {
    fail(ErrorKind::integrity, "{}: the header names unusable file names", what);
  }
  h.created_at = top.time("created_at");
  {
    Reader m(top.get("maker"), what + ": header maker");
    h.maker = m.str("name", 64);
    h.maker_sign_pk = fixed<crypto::k_sign_public_size>(m.bytes("sign_pk", crypto::k_sign_public_size));
    h.maker_fingerprint = m.str("fingerprint", 64);
    m.done();
  }
  const Json& recipients = top.get("recipients");
  if (!recipients.is_array() || recipients.empty() || recipients.size() > k_max_recipients) {
    fail(ErrorKind::integrity, "{}: the header's recipients must be a list of 1 to {}", what, k_max_recipients);
  }
  std::set<crypto::BoxPublicKey> keys;
  for (const auto& item : recipients) {
    Reader r(item, what + ": header recipient");
    Recipient recipient;
    recipient.name = r.str("name", 64);
    recipient.fingerprint = r.str("fingerprint", 64);
    recipient.box_pk = fixed<crypto::k_box_public_size>(r.bytes("box_pk", crypto::k_box_public_size));
    recipient.sealed_key = r.bytes("key", crypto::k_key_size + crypto::k_seal_overhead);
    r.done();
    if (!keys.insert(recipient.box_pk).second) {
      fail(ErrorKind::integrity, "{}: the header names recipient {} twice", what, recipient.name);
    }
    h.recipients.push_back(std::move(recipient));
  }
  top.done();
  return h;
}

// The next "\n"-terminated line of `bytes` from `pos`; nullopt when there is no newline.
std::optional<std::string_view> next_line(std::string_view bytes, std::size_t& pos)
{
  const std::size_t end = bytes.find('\n', pos);
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view line = bytes.substr(pos, end - pos);
  pos = end + 1;
  return line;
}

std::string describe_recipients(const std::vector<Recipient>& recipients)
{
  std::vector<std::string> names;
  for (const auto& r : recipients) {
    names.push_back(fmt::format("{} ({})", r.name, r.fingerprint));
  }
  return util::join(names);
}

// Refuses before anything is written when the destination already holds files.
void check_destination(const fs::path& vault_path, const fs::path& journal_path, const Header& header,
                       const std::string& what)
{
  if (fs::exists(vault_path)) {
    std::string id;
    try {
      id = Vault::read(vault_path).id_b64();
    } catch (const Error&) {
      // Unreadable: still not ours to replace.
    }
    if (!id.empty() && id != header.vault_id) {
      fail(ErrorKind::integrity, "{}: foreign: this is a backup of vault {}, and {} holds vault {}", what,
           header.vault_id, vault_path.string(), id);
    }
    throw Error(ErrorKind::usage, fmt::format("{}: already exists; restore refuses to replace it", vault_path.string()))
      .hint("restore into an empty directory (--to DIR), or move the damaged files aside first");
  }
  if (fs::exists(journal_path)) {
    throw Error(ErrorKind::usage, fmt::format("{}: already exists; restore refuses to replace it", journal_path.string()))
      .hint("restore into an empty directory (--to DIR), or move the damaged files aside first");
  }
}

std::string label_of(const std::string& name, std::int64_t v)
{
  return fmt::format("{} v{}", name, v);
}

} // namespace

// --- the file format ---------------------------------------------------------------------------

BackupFile parse_backup(std::string_view bytes, std::string_view what_view)
{
  const std::string what(what_view);
  if (bytes.size() > k_max_backup_size) {
    fail(ErrorKind::integrity, "{}: larger than {} bytes; not an escrow backup", what, k_max_backup_size);
  }
  std::size_t pos = 0;
  const auto format = next_line(bytes, pos);
  if (!format || *format != k_format) {
    if (format && format->substr(0, 14) == "escrow-backup/") {
      fail(ErrorKind::integrity, "{}: unsupported backup format version (this escrow reads {})", what, k_format);
    }
    if (!format && bytes.substr(0, std::min(bytes.size(), k_format.size())) == k_format.substr(0, std::min(bytes.size(), k_format.size()))) {
      fail(ErrorKind::integrity, "{}: truncated backup", what);
    }
    fail(ErrorKind::integrity, "{}: not an escrow backup (it must start with \"{}\")", what, k_format);
  }
  const auto header_line = next_line(bytes, pos);
  const auto cipher_line = header_line ? next_line(bytes, pos) : std::nullopt;
  const auto sig_line = cipher_line ? next_line(bytes, pos) : std::nullopt;
  if (!sig_line) {
    fail(ErrorKind::integrity, "{}: truncated backup (it must have 4 lines)", what);
  }
  if (pos != bytes.size()) {
    fail(ErrorKind::integrity, "{}: unexpected bytes after the signature line", what);
  }
  BackupFile file;
  file.header_line = std::string(*header_line);
  const Json json = canonical::parse(file.header_line, what + ": header");
  if (canonical::dump(json) != file.header_line) {
    fail(ErrorKind::integrity, "{}: the header is not in canonical form", what);
  }
  file.header = header_from_json(json, what);
  Bytes sealed = canonical::unb64(*cipher_line, what + ": payload");
  if (sealed.size() < crypto::k_nonce_size + crypto::k_tag_size) {
    fail(ErrorKind::integrity, "{}: truncated backup (the payload is shorter than its nonce and tag)", what);
  }
  file.nonce.assign(sealed.begin(), sealed.begin() + crypto::k_nonce_size);
  file.ciphertext.assign(sealed.begin() + crypto::k_nonce_size, sealed.end());
  const Bytes sig = canonical::unb64(*sig_line, what + ": signature");
  if (sig.size() != crypto::k_signature_size) {
    fail(ErrorKind::integrity, "{}: the signature must hold {} bytes", what, crypto::k_signature_size);
  }
  file.signature = fixed<crypto::k_signature_size>(sig);
  return file;
}

std::string serialize_backup(const BackupFile& file)
{
  std::string out;
  out.reserve(file.header_line.size() + file.ciphertext.size() * 4 / 3 + 256);
  out.append(k_format).append("\n");
  out.append(file.header_line).append("\n");
  Bytes sealed;
  sealed.reserve(file.nonce.size() + file.ciphertext.size());
  sealed.insert(sealed.end(), file.nonce.begin(), file.nonce.end());
  sealed.insert(sealed.end(), file.ciphertext.begin(), file.ciphertext.end());
  out.append(canonical::b64(sealed)).append("\n");
  out.append(canonical::b64(file.signature)).append("\n");
  return out;
}

std::string serialize_payload(const Payload& payload)
{
  std::string out;
  out.reserve(payload.vault.size() + payload.journal.size() + 64);
  out.append(k_payload_format).append("\n");
  out.append(fmt::format("vault {}\n", payload.vault.size())).append(payload.vault).append("\n");
  out.append(fmt::format("journal {}\n", payload.journal.size())).append(payload.journal).append("\n");
  return out;
}

Payload parse_payload(std::string_view bytes, std::string_view what_view)
{
  const std::string what(what_view);
  std::size_t pos = 0;
  const auto format = next_line(bytes, pos);
  if (!format || *format != k_payload_format) {
    fail(ErrorKind::integrity, "{}: the payload is not \"{}\"", what, k_payload_format);
  }
  const auto section = [&](std::string_view name) {
    const auto line = next_line(bytes, pos);
    const std::string prefix = std::string(name) + " ";
    std::uint64_t size = 0;
    if (!line || line->substr(0, prefix.size()) != prefix || line->size() == prefix.size()
        || line->size() > prefix.size() + 12 || ((*line)[prefix.size()] == '0' && line->size() > prefix.size() + 1)) {
      fail(ErrorKind::integrity, "{}: the payload's {} section is malformed", what, name);
    }
    const auto digits = line->substr(prefix.size());
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), size);
    if (error != std::errc() || end != digits.data() + digits.size() || size > bytes.size() - pos
        || bytes.size() - pos - size < 1 || bytes[pos + size] != '\n') {
      fail(ErrorKind::integrity, "{}: the payload's {} section is truncated or malformed", what, name);
    }
    std::string text(bytes.substr(pos, size));
    pos += size + 1;
    return text;
  };
  Payload payload;
  payload.vault = section("vault");
  payload.journal = section("journal");
  if (pos != bytes.size()) {
    fail(ErrorKind::integrity, "{}: unexpected bytes after the payload's journal", what);
  }
  return payload;
}

// --- escrow backup -----------------------------------------------------------------------------

Json BackupResult::to_json() const
{
  return Json{{"out", out.string()},   {"revision", revision},     {"secrets", secrets},
              {"journal_entries", journal_entries}, {"bytes", bytes}, {"recipients", recipients},
              {"entry", entry},        {"notify", notify}};
}

std::vector<PublicIdentity> read_recipients(const std::vector<fs::path>& files)
{
  std::vector<PublicIdentity> out;
  for (const auto& path : files) {
    const Json json = canonical::parse(read_file(path, 64 * 1024, util::Links::follow), path.string());
    if (json.is_object() && (json.contains("secret") || json.contains("ciphertext"))) {
      fail(ErrorKind::usage, "{}: this is a private identity; pass the output of 'escrow identity show --public'",
           path.string());
    }
    out.push_back(PublicIdentity::from_json(json, path.string()));
  }
  return out;
}

BackupResult make_backup(Session& session, const BackupOptions& options)
{
  const Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  if (options.out.empty()) {
    fail(ErrorKind::usage, "backup: --out FILE is required");
  }
  if (!options.overwrite && fs::exists(options.out)) {
    throw Error(ErrorKind::usage, fmt::format("{}: already exists; refusing to overwrite", options.out.string()))
      .hint("pick a new name (e.g. with the date), or pass --force");
  }
  // The recipients: given public identities, else the vault's active admins.
  std::vector<Recipient> recipients;
  if (options.to.empty()) {
    for (const auto& [name, member] : vault.members()) {
      if (member.active() && member.has_role(Role::admin)) {
        Recipient r;
        r.name = name;
        r.fingerprint = member.fingerprint();
        r.box_pk = member.box_pk;
        recipients.push_back(std::move(r));
      }
    }
  } else {
    for (const auto& pub : options.to) {
      Recipient r;
      r.name = pub.name;
      r.fingerprint = pub.fingerprint();
      r.box_pk = pub.box_pk;
      recipients.push_back(std::move(r));
    }
  }
  {
    std::set<crypto::BoxPublicKey> keys;
    for (const auto& r : recipients) {
      if (!keys.insert(r.box_pk).second) {
        fail(ErrorKind::usage, "backup: recipient {} is named twice", r.name);
      }
    }
  }
  if (recipients.empty() || recipients.size() > k_max_recipients) {
    fail(ErrorKind::usage, "backup: 1 to {} recipients are needed", k_max_recipients);
  }

  // What is backed up is checked first: a backup of a damaged vault would restore the damage.
  vault.verify_all();
  const auto read_journal = [&] {
    return fs::exists(session.journal().path()) ? read_file(session.journal().path(), k_max_backup_size)
                                                : std::string();
  };
  {
    const audit::VerifyReport checked = audit::verify_session_journal(session);
    if (const audit::Finding* problem = checked.first_error()) {
      fail(ErrorKind::integrity, "{}: {}; not backed up (run escrow audit verify)", session.journal().path().string(),
           problem->message);
    }
  }
  std::vector<std::string> recipient_names;
  for (const auto& r : recipients) {
    recipient_names.push_back(fmt::format("{} ({})", r.name, r.fingerprint));
  }
  // The backup's own entry goes in first, so that the backup holds it: this machine's journal pin
  // (its newest entry) is then inside the backup, and restoring it here is not "stale".
  JournalEntry entry;
  entry.action = JournalAction::backup;
  entry.detail = Json{{"file", options.out.filename().string()},
                      {"vault_revision", vault.revision()},
                      {"recipients", recipient_names}};
  const std::string entry_hash = session.record(std::move(entry));
  const std::string vault_text(vault.bytes());
  const std::string journal_text = read_journal();
  const audit::VerifyReport journal = audit::verify_journal(journal_text, vault);
  if (const audit::Finding* problem = journal.first_error()) {
    fail(ErrorKind::integrity, "{}: {}; not backed up (run escrow audit verify)", session.journal().path().string(),
         problem->message);
  }

  Header header;
  header.vault_id = vault.id_b64();
  header.revision = vault.revision();
  header.vault_head = vault.head();
  header.genesis = vault.genesis().fingerprint();
  header.journal_head = journal.head;
  header.journal_entries = journal.entries;
  header.vault_size = vault_text.size();
  header.journal_size = journal_text.size();
  header.vault_file = session.vault_path().filename().string();
  header.journal_file = session.journal().path().filename().string();
  if (!plain_file_name(header.vault_file) || Journal::path_for(header.vault_file).string() != header.journal_file) {
    fail(ErrorKind::usage, "backup: {}: the vault's file name cannot be restored (it must not start with '.')",
         session.vault_path().string());
  }
  header.created_at = session.now();
  header.maker = me.name;
  header.maker_sign_pk = session.identity().pub.sign_pk;
  header.maker_fingerprint = session.identity().pub.fingerprint();
  const SecretBytes file_key = crypto::random_secret(crypto::k_key_size);
  for (auto& r : recipients) {
    r.sealed_key = crypto::seal(file_key.expose(), r.box_pk);
  }
  header.recipients = recipients;

  BackupFile file;
  file.header = header;
  file.header_line = canonical::dump(header_json(header));
  const std::string associated = std::string(k_format) + "\n" + file.header_line + "\n";
  const std::string payload = serialize_payload(Payload{vault_text, journal_text});
  crypto::Sealed sealed = crypto::aead_encrypt(as_bytes(payload), as_bytes(associated), file_key);
  file.nonce = std::move(sealed.nonce);
  file.ciphertext = std::move(sealed.ciphertext);
  std::string text = serialize_backup(file);
  const std::size_t signed_size = text.size() - (canonical::b64(file.signature).size() + 1);
  file.signature = crypto::sign(k_signature_label, as_bytes(std::string_view(text).substr(0, signed_size)),
                                session.identity().sign_sk);
  text = serialize_backup(file);

  try {
    AtomicFile out(options.out, 0600);
    out.write(text);
    out.commit();
  } catch (const Error& error) {
    JournalEntry failed;
    failed.action = JournalAction::backup;
    failed.result = JournalResult::failed;
    failed.detail = Json{{"file", options.out.filename().string()}, {"error", error.what()}};
    (void)session.record(std::move(failed));
    throw;
  }

  BackupResult result;
  result.out = options.out;
  result.revision = header.revision;
  result.secrets = vault.secret_names().size();
  result.journal_entries = header.journal_entries;
  result.bytes = text.size();
  result.recipients = recipient_names;
  result.entry = entry_hash;
  result.notify = rotation::notify(session, Json{{"event", "backup"},
                                                 {"result", "ok"},
                                                 {"actor", me.name},
                                                 {"at", format_time(session.now())},
                                                 {"vault", vault.id_b64()},
                                                 {"revision", header.revision},
                                                 {"file", options.out.filename().string()},
                                                 {"bytes", text.size()},
                                                 {"recipients", result.recipients}});
  return result;
}

// --- escrow restore ----------------------------------------------------------------------------

std::size_t RestoreResult::connectors_verified() const
{
  return static_cast<std::size_t>(
    std::count_if(connectors.begin(), connectors.end(), [](const auto& c) { return c.result == "verified"; }));
}

std::size_t RestoreResult::connectors_checked() const
{
  return static_cast<std::size_t>(
    std::count_if(connectors.begin(), connectors.end(), [](const auto& c) { return c.result != "unchecked"; }));
}

std::string RestoreResult::summary() const
{
  const double seconds = static_cast<double>(elapsed.count()) / 1000.0;
  std::string text = fmt::format("restored in {:.1f} s", seconds);
  if (reconnected) {
    text += fmt::format("; {} of {} connectors verified", connectors_verified(), connectors.size());
    const std::size_t failed = connectors_checked() - connectors_verified();
    const std::size_t unchecked = connectors.size() - connectors_checked();
    if (failed > 0) {
      text += fmt::format(", {} failed", failed);
    }
    if (unchecked > 0) {
      text += fmt::format(", {} unchecked", unchecked);
    }
  }
  return text;
}

Json RestoreResult::to_json() const
{
  Json checks = Json::array();
  for (const auto& c : connectors) {
    checks.push_back(Json{{"connector", c.connector},
                          {"kind", c.kind},
                          {"result", c.result},
                          {"detail", c.detail},
                          {"secrets", c.secrets},
                          {"failed", c.failed},
                          {"unreadable", c.unreadable}});
  }
  return Json{{"vault", vault.string()},
              {"journal", journal.string()},
              {"vault_id", vault_id},
              {"revision", revision},
              {"maker", maker},
              {"made_at", format_time(made_at)},
              {"secrets", secrets},
              {"members", members},
              {"journal_entries", journal_entries},
              {"signatures", signatures},
              {"decrypted", decrypted},
              {"unreadable", unreadable},
              {"rolled_back", rolled_back},
              {"reconnected", reconnected},
              {"connectors", checks},
              {"connectors_verified", connectors_verified()},
              {"seconds", static_cast<double>(elapsed.count()) / 1000.0},
              {"summary", summary()},
              {"notify", notify}};
}

namespace {

// One verify to run: a connector and the current value of one secret bound to it.
struct Probe
{
  std::size_t check = 0; // index into the checks
  const ConnectorRecord* connector = nullptr;
  std::string secret;
  std::string env;
  const SecretRecord* record = nullptr;
  const VersionRecord* version = nullptr;
  const SecretRecord* auth = nullptr; // the connector's auth secret, when it has one
  connector::StepResult result;
};

std::vector<ConnectorCheck> reconnect(const Vault& vault, const Identity& me, Timestamp now)
{
  // The records are parsed here, on this thread (the vault parses them on first use, and that is
  // not thread-safe); the workers open each value just before its verify and drop it right after,
  // so few values are in (locked) memory at once, which also keeps each fork() cheap.
  std::vector<ConnectorCheck> checks;
  std::vector<Probe> probes;
  for (const auto& [name, record] : vault.connectors()) {
    ConnectorCheck check;
    check.connector = name;
    check.kind = std::string(connector_kind_name(record.kind));
    const SecretRecord* auth = !record.auth_secret.empty() && vault.has_secret(record.auth_secret)
                                 ? &vault.secret(record.auth_secret)
                                 : nullptr;
    if (!connector::driver_for(record).verifies(record)) {
      check.detail = "it has no verify step";
    } else {
      for (const auto& secret_name : connector::bound_secrets(vault, name)) {
        const SecretRecord& secret = vault.secret(secret_name);
        const VersionRecord* live = rotation::live_version(secret);
        if (secret.state != SecretState::active || live == nullptr) {
          continue;
        }
        probes.push_back(Probe{checks.size(), &record, secret_name, secret.env, &secret, live, auth, {}});
      }
    }
    checks.push_back(std::move(check));
  }
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < probes.size(); i = next++) {
      Probe& probe = probes[i];
      std::optional<SecretBytes> value;
      try {
        value = open_value(vault, *probe.record, *probe.version, me, now).value;
      } catch (const Error& error) {
        if (error.kind() != ErrorKind::access) {
          throw;
        }
        probe.result.exit_code = -2; // unreadable: not run
        continue;
      }
      Redactor redactor;
      redactor.add(label_of(probe.secret, probe.version->v), *value);
      connector::Invocation invocation = connector::with_alternation(
        {probe.secret, probe.env, probe.version->v, 0, connector::Action::reconnect}, *probe.record, vault);
      // The connector's own credential, when the restorer can open it (else the step says so).
      std::optional<SecretBytes> auth;
      if (probe.auth != nullptr && probe.auth->state == SecretState::active && probe.auth->current() != nullptr) {
        try {
          auth = open_value(vault, *probe.auth, *probe.auth->current(), me, now).value;
          redactor.add(probe.connector->auth_secret + " (auth)", *auth);
          invocation.auth = &*auth;
        } catch (const Error& error) {
          if (error.kind() != ErrorKind::access) {
            throw;
          }
        }
      }
      probe.result = connector::run_step(*probe.connector, connector::Step::verify, invocation, *value, redactor);
    }
  };
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
  std::vector<std::thread> pool;
  std::exception_ptr failure;
  std::mutex failure_lock;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      try {
        work();
      } catch (...) {
        const std::lock_guard<std::mutex> guard(failure_lock);
        failure = std::current_exception();
        next = probes.size();
      }
    });
  }
  for (auto& thread : pool) {
    thread.join();
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
  for (const Probe& probe : probes) {
    ConnectorCheck& check = checks[probe.check];
    if (probe.result.exit_code == -2) {
      ++check.unreadable;
      continue;
    }
    ++check.secrets;
    if (!probe.result.ok) {
      if (check.failed == 0) {
        check.detail = fmt::format("{} v{}: {}", probe.secret, probe.version->v, probe.result.describe());
      }
      ++check.failed;
    }
  }
  for (ConnectorCheck& check : checks) {
    if (check.secrets == 0) {
      check.result = "unchecked";
      if (check.detail.empty()) {
        check.detail = check.unreadable > 0 ? "the restorer can read none of its secrets" : "no secret is bound to it";
      }
    } else {
      check.result = check.failed > 0 ? "failed" : "verified";
    }
  }
  return checks;
}

} // namespace

RestoreResult restore(const RestoreOptions& given)
{
  RestoreOptions options = given;
  options.session = asking_passphrase_once(given.session);
  const auto started = std::chrono::steady_clock::now();
  const std::string what = options.file.string();
  if (options.to.empty()) {
    fail(ErrorKind::usage, "restore: --to DIR is required");
  }
  if (!fs::exists(options.file)) {
    fail(ErrorKind::io, "{}: no such backup file", what);
  }
  const std::string text = read_file(options.file, k_max_backup_size, util::Links::follow);
  const BackupFile file = parse_backup(text, what);
  const Header& header = file.header;

  // 1. The maker's signature over everything before it.
  const std::size_t signed_size = text.size() - (canonical::b64(file.signature).size() + 1);
  if (!crypto::verify(k_signature_label, as_bytes(std::string_view(text).substr(0, signed_size)), file.signature,
                      header.maker_sign_pk)) {
    fail(ErrorKind::integrity, "{}: the maker's signature does not verify (tampered or corrupted)", what);
  }

  // 2. Where it would go: never over existing files, never over another vault.
  const fs::path vault_path = options.to / header.vault_file;
  const fs::path journal_path = options.to / header.journal_file;
  check_destination(vault_path, journal_path, header, what);

  // 3. This machine's pins: the same genesis admin, and nothing older than already seen here.
  const auto pin = read_pin(options.session.state_dir, header.vault_id);
  bool rolled_back = false;
  if (pin) {
    if (pin->genesis != header.genesis) {
      fail(ErrorKind::integrity, "{}: foreign: vault {} was first seen here with genesis admin {}, this backup names {}",
           what, header.vault_id, pin->genesis, header.genesis);
    }
    if (header.revision < pin->revision || (header.revision == pin->revision && header.vault_head != pin->head)) {
      if (!options.allow_rollback) {
        throw Error(ErrorKind::integrity,
                    fmt::format("{}: stale: a backup of revision {} (made {}), and this machine has already seen "
                                "revision {}{}",
                                what, header.revision, format_time(header.created_at), pin->revision,
                                header.revision == pin->revision ? " with different content" : ""))
          .hint("restoring an older state loses later changes; if that is intended, pass --allow-rollback (journaled)");
      }
      rolled_back = true;
    }
  }

  // 4. A slot for the restorer, the file key, the payload.
  const Identity me = load_identity(options.session);
  const auto slot = std::find_if(header.recipients.begin(), header.recipients.end(),
                                 [&](const Recipient& r) { return r.box_pk == me.pub.box_pk; });
  if (slot == header.recipients.end()) {
    throw Error(ErrorKind::integrity, fmt::format("{}: foreign: not encrypted to {} ({}); its recipients are {}", what,
                                                  me.pub.name, me.pub.fingerprint(), describe_recipients(header.recipients)))
      .hint("restore with one of the recipients' identities (--identity PATH)");
  }
  const auto file_key = crypto::seal_open(slot->sealed_key, me.pub.box_pk, me.box_sk);
  if (!file_key || file_key->size() != crypto::k_key_size) {
    fail(ErrorKind::integrity, "{}: the file key sealed to {} does not open (corrupted)", what, me.pub.name);
  }
  const std::string associated = std::string(k_format) + "\n" + file.header_line + "\n";
  Payload payload;
  {
    // The decrypted payload is freed as soon as its two files are copied out (it is large, and
    // locked memory makes every later fork() of a connector command slower).
    const auto plain = crypto::aead_decrypt(file.nonce, file.ciphertext, as_bytes(associated), *file_key);
    if (!plain) {
      fail(ErrorKind::integrity, "{}: the payload does not decrypt (corrupted)", what);
    }
    payload = parse_payload(std::string_view(reinterpret_cast<const char*>(plain->expose().data()), plain->size()),
                            what);
  }
  if (payload.vault.size() != header.vault_size || payload.journal.size() != header.journal_size) {
    fail(ErrorKind::integrity, "{}: the payload's sizes differ from the header's", what);
  }

  // 5. The vault: every record, and the header's claims about it.
  Vault vault = Vault::parse(payload.vault, what + ": " + header.vault_file, Vault::Reading::eager);
  vault.verify_all();
  if (vault.id_b64() != header.vault_id || vault.revision() != header.revision || vault.head() != header.vault_head
      || vault.genesis().fingerprint() != header.genesis) {
    fail(ErrorKind::integrity, "{}: the vault inside differs from what the header names", what);
  }
  const MemberRecord* maker = vault.member(header.maker);
  if (maker == nullptr || maker->sign_pk != header.maker_sign_pk || !maker->active()) {
    fail(ErrorKind::integrity, "{}: made by {}, who is not an active member of the vault inside", what, header.maker);
  }
  const MemberRecord* restorer = vault.member(me.pub.name);
  if (restorer == nullptr || restorer->sign_pk != me.pub.sign_pk || restorer->box_pk != me.pub.box_pk
      || !restorer->active()) {
    fail(ErrorKind::integrity, "{}: foreign: {} ({}) is not an active member of vault {}", what, me.pub.name,
         me.pub.fingerprint(), header.vault_id);
  }

  // 6. The journal: every hash, signature, parent link, and the vault's anchor; and what this
  //    machine has seen of it (unless an older state is accepted).
  audit::VerifyOptions verify_options;
  if (pin && !rolled_back && !pin->journal_head.empty()) {
    verify_options.pin = audit::JournalPin{pin->journal_head, pin->journal_size};
  }
  const audit::VerifyReport journal = audit::verify_journal(payload.journal, vault, verify_options);
  if (const audit::Finding* problem = journal.first_error()) {
    if (problem->problem == audit::Problem::truncated && verify_options.pin
        && std::none_of(journal.findings.begin(), journal.findings.end(), [](const audit::Finding& f) {
             return !f.warning() && f.problem != audit::Problem::truncated;
           })) {
      throw Error(ErrorKind::integrity,
                  fmt::format("{}: stale: its journal ends before entries this machine has already seen ({})", what,
                              problem->message))
        .hint("restoring it loses those entries; if that is intended, pass --allow-rollback (journaled)");
    }
    fail(ErrorKind::integrity, "{}: {}: {}", what, header.journal_file, problem->message);
  }
  if (journal.head != header.journal_head || journal.entries != header.journal_entries) {
    fail(ErrorKind::integrity, "{}: the journal inside differs from what the header names", what);
  }

  // 7. Test-decrypt every version the restorer can open.
  RestoreResult result;
  const Timestamp now = options.session.clock.now();
  for (const auto& name : vault.secret_names()) {
    const SecretRecord& secret = vault.secret(name);
    for (const auto& version : secret.versions) {
      if (version.ciphertext.empty()) {
        continue;
      }
      try {
        (void)open_value(vault, secret, version, me, now);
        ++result.decrypted;
      } catch (const Error& error) {
        if (error.kind() != ErrorKind::access) {
          fail(ErrorKind::integrity, "{}: {} v{}: {}", what, name, version.v, error.what());
        }
        ++result.unreadable;
      }
    }
  }

  // 8. Only now: write, the journal first (DESIGN §7), each file atomically. Both files are new
  // (check_destination refuses to replace anything), so until the restore is journaled in them a
  // failure removes what this command wrote: a failed restore leaves no half-restored vault.
  fs::create_directories(options.to);
  struct Undo
  {
    std::vector<fs::path> paths;
    bool armed = true;
    ~Undo()
    {
      if (armed) {
        for (const auto& path : paths) {
          std::error_code ignored;
          fs::remove(path, ignored);
        }
      }
    }
  } undo{{journal_path, vault_path, fs::path(vault_path.string() + ".lock")}};
  {
    AtomicFile journal_file(journal_path, 0600);
    AtomicFile vault_file(vault_path, 0644);
    journal_file.write(payload.journal);
    vault_file.write(payload.vault);
    journal_file.commit();
    vault_file.commit();
  }

  // 9. The restored vault as every command opens it (pins it here), the restore journaled in it.
  SessionOptions session_options = options.session;
  session_options.vault_path = vault_path;
  session_options.allow_rollback = rolled_back;
  Session session = Session::open(session_options, Mode::write);
  result.vault = vault_path;
  result.journal = journal_path;
  result.vault_id = header.vault_id;
  result.revision = header.revision;
  result.maker = header.maker;
  result.made_at = header.created_at;
  result.secrets = vault.secret_names().size();
  result.members = vault.members().size();
  result.journal_entries = journal.entries;
  result.signatures = vault.verified_signatures() + journal.signatures;
  result.rolled_back = rolled_back;
  if (options.reconnect) {
    result.connectors = reconnect(vault, me, now);
    result.reconnected = true;
  }
  result.elapsed =
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);

  Json checks = Json::array();
  for (const auto& c : result.connectors) {
    checks.push_back(Json{{"connector", c.connector}, {"result", c.result}});
  }
  JournalEntry entry;
  entry.action = JournalAction::restore;
  entry.result = result.connectors_checked() > result.connectors_verified() ? JournalResult::failed : JournalResult::ok;
  entry.detail = Json{{"file", options.file.filename().string()},
                      {"maker", header.maker},
                      {"made_at", format_time(header.created_at)},
                      {"vault_revision", header.revision},
                      {"decrypted", result.decrypted},
                      {"rolled_back", rolled_back},
                      {"ms", static_cast<std::int64_t>(result.elapsed.count())},
                      {"connectors", checks}};
  (void)session.record(std::move(entry));
  undo.armed = false; // restored and journaled: from here on the restored vault stands
  result.notify = rotation::notify(session, Json{{"event", "restore"},
                                                 {"result", result.connectors_checked() > result.connectors_verified()
                                                              ? "reconnect-failed"
                                                              : "ok"},
                                                 {"actor", me.pub.name},
                                                 {"at", format_time(session.now())},
                                                 {"vault", header.vault_id},
                                                 {"revision", header.revision},
                                                 {"summary", result.summary()},
                                                 {"connectors", checks}});
  return result;
}

} // namespace escrow::backup
