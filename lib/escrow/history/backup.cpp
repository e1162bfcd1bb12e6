#include <escrow/history/backup.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/canonical.hpp>
#include <escrow/connectors/connector.hpp>
#include <escrow/error.hpp>
#include <escrow/history/admin.hpp>
#include <escrow/history/notify_hook.hpp>
#include <escrow/history/replay.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/history/verify.hpp>
#include <escrow/redact.hpp>
#include <escrow/util/escape.hpp>
#include <escrow/util/file.hpp>
#include <escrow/util/text.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace escrow::history::backup {

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
  std::uint64_t integer(std::string_view key)
  {
    const Json& value = get(key);
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
      fail(ErrorKind::integrity, "{}: \"{}\" must be a non-negative integer", m_what, key);
    }
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
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

// The names VaultPaths gives the journal and keys of a head file named `head`.
bool consistent_names(const Header& h)
{
  const VaultPaths paths = VaultPaths::of(fs::path(h.head.name));
  return paths.journal.string() == h.journal.name && paths.keys.string() == h.keys.name;
}

Json file_json(const FileSize& f)
{
  return Json{{"file", f.name}, {"size", f.size}};
}

FileSize file_from_json(Reader& top, std::string_view key, const std::string& what)
{
  Reader r(top.get(key), fmt::format("{}: header {}", what, key));
  FileSize out;
  out.name = r.str("file");
  out.size = r.integer("size");
  r.done();
  return out;
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
              {"vault", Json{{"id", h.vault_id}, {"heads", h.heads}, {"entries", h.entries}}},
              {"head", file_json(h.head)},
              {"journal", file_json(h.journal)},
              {"keys", file_json(h.keys)},
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
    const Json& heads = v.get("heads");
    if (!heads.is_array() || heads.empty() || heads.size() > k_max_heads) {
      fail(ErrorKind::integrity, "{}: header vault: \"heads\" must be a list of 1 to {}", what, k_max_heads);
    }
    for (const Json& head : heads) {
      if (!head.is_string()) {
        fail(ErrorKind::integrity, "{}: header vault: a head is not a string", what);
      }
      if (canonical::unb64(head.get<std::string>(), what + ": header vault head").size() != 32) {
        fail(ErrorKind::integrity, "{}: header vault: a head must hold 32 bytes", what);
      }
      h.heads.push_back(head.get<std::string>());
    }
    h.entries = v.integer("entries");
    v.done();
  }
  h.head = file_from_json(top, "head", what);
  h.journal = file_from_json(top, "journal", what);
  h.keys = file_from_json(top, "keys", what);
  if (!plain_file_name(h.head.name) || !plain_file_name(h.journal.name) || !plain_file_name(h.keys.name)
      || h.head.name == h.journal.name || !consistent_names(h)) {
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

std::string fingerprint_of(const Member& member)
{
  return PublicIdentity{member.name, member.sign_pk, member.box_pk}.fingerprint();
}

Error exists_error(const fs::path& path)
{
  return Error(ErrorKind::usage, fmt::format("{}: already exists; restore refuses to replace it", path.string()))
    .hint("restore into an empty directory (--to DIR), or move the damaged files aside first");
}

// Refuses before anything is written when the destination already holds one of the three files.
void check_destination(const VaultPaths& paths, const Header& header, const std::string& what)
{
  if (util::kind_of(paths.head)) {
    std::optional<HeadFile> there;
    try {
      there = read_head_file(paths.head);
    } catch (const Error&) {
      // Unreadable (or a v1 vault): still not ours to replace.
    }
    if (there && canonical::b64(there->vault_id) != header.vault_id) {
      fail(ErrorKind::integrity, "{}: foreign: this is a backup of vault {}, and {} holds vault {}", what,
           header.vault_id, paths.head.string(), canonical::b64(there->vault_id));
    }
    if (!there) {
      // A v1 vault or something else: name what it is when it says so.
      const std::string start = [&] {
        try {
          return read_file(paths.head, 4096, util::Links::follow).substr(0, 64);
        } catch (const Error&) {
          return std::string();
        }
      }();
      if (start.find("escrow-vault/1") != std::string::npos) {
        fail(ErrorKind::integrity, "{}: foreign: {} holds an escrow-vault/1 vault, not vault {}", what,
             paths.head.string(), header.vault_id);
      }
    }
    throw exists_error(paths.head);
  }
  for (const fs::path& path : {paths.journal, paths.keys}) {
    if (util::kind_of(path)) {
      throw exists_error(path);
    }
  }
}


// One verify to run: a connector and the current value of one secret bound to it.
struct Probe
{
  std::size_t check = 0;
  ConnectorRecord connector;
  std::string secret;
  std::string env;
  std::int64_t version = 0;
  bool readable = false; // false: the restorer cannot read it (not run)
  std::optional<SecretBytes> value; // until its verify ran
  std::optional<SecretBytes> auth;  // the connector's own credential, when the restorer reads it
  std::string auth_name;
  connector::StepResult result;
};

std::vector<ConnectorCheck> reconnect(const State& state, const KeysFile& keys, const Identity& me, Timestamp now)
{
  std::vector<ConnectorCheck> checks;
  std::vector<Probe> probes;
  for (const auto& [name, bound] : state.connectors) {
    ConnectorCheck check;
    check.connector = name;
    check.kind = std::string(connector_kind_name(bound->kind));
    const ConnectorRecord record = connector_record(*bound);
    if (!connector::driver_for(record).verifies(record)) {
      check.detail = "it has no verify step";
    } else {
      for (const auto& [secret_name, secret] : state.secrets) {
        if (secret->state != SecretState::active
            || std::find(secret->connectors.begin(), secret->connectors.end(), name) == secret->connectors.end()) {
          continue;
        }
        std::string vid;
        const Version* current = secret->find_state(VersionState::current, &vid);
        if (current == nullptr) {
          continue;
        }
        Probe probe;
        probe.check = checks.size();
        probe.connector = record;
        probe.secret = secret_name;
        probe.env = secret->env;
        probe.version = current->v;
        try {
          probe.value = open_readable(state, keys, me, now, *secret, vid, *current, "restore").value;
          probe.readable = true;
          // The connector's own credential (native kinds), read under the same rules; a driver
          // that needs it and does not get it fails its step, naming the secret.
          if (const Secret* auth = record.auth_secret.empty() ? nullptr : state.secret(record.auth_secret)) {
            std::string auth_vid;
            if (const Version* live = auth->find_state(VersionState::current, &auth_vid)) {
              try {
                probe.auth = open_readable(state, keys, me, now, *auth, auth_vid, *live, "restore").value;
                probe.auth_name = record.auth_secret;
              } catch (const Error& error) {
                if (error.kind() != ErrorKind::access) {
                  throw;
                }
              }
            }
          }
        } catch (const Error& error) {
          if (error.kind() != ErrorKind::access) {
            throw;
          }
        }
        probes.push_back(std::move(probe));
      }
    }
    checks.push_back(std::move(check));
  }
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < probes.size(); i = next++) {
      Probe& probe = probes[i];
      if (!probe.readable) {
        continue;
      }
      Redactor redactor;
      redactor.add(fmt::format("{} v{}", probe.secret, probe.version), *probe.value);
      connector::Invocation invocation{probe.secret, probe.env, probe.version, 0, connector::Action::reconnect};
      if (probe.auth) {
        redactor.add(probe.auth_name + " (auth)", *probe.auth);
        invocation.auth = &*probe.auth;
      }
      probe.result = connector::run_step(probe.connector, connector::Step::verify, invocation, *probe.value, redactor);
      probe.value.reset(); // dropped as soon as its check ran
      probe.auth.reset();
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
    if (!probe.readable) {
      ++check.unreadable;
      continue;
    }
    ++check.secrets;
    if (!probe.result.ok) {
      if (check.failed == 0) {
        check.detail = fmt::format("{} v{}: {}", probe.secret, probe.version, probe.result.describe());
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

// What this machine verified of `vault_id` (every cache place of it) that `present` lacks.
struct Staleness
{
  std::vector<VerifiedEntry> missing; // at any place, oldest first, each once
  bool at_destination = false;        // the destination's own place is among them
};

Staleness staleness(const fs::path& state_home, const VaultId& vault_id, const fs::path& destination_place,
                    const std::set<Hash>& present, const std::set<Hash>& acknowledged)
{
  Staleness out;
  const fs::path dir = destination_place.parent_path();
  std::error_code ec;
  if (state_home.empty() || !fs::is_directory(dir, ec)) {
    return out;
  }
  std::set<Hash> seen;
  std::vector<fs::path> places;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    if (item.is_directory(ec)) {
      places.push_back(item.path());
    }
  }
  std::sort(places.begin(), places.end());
  for (const fs::path& place : places) {
    const Cache cache(place, vault_id);
    const std::optional<Verified> verified = cache.load();
    if (!verified) {
      continue;
    }
    const std::vector<VerifiedEntry> missing = missing_entries(cache.entries(verified->log), present, acknowledged);
    if (!missing.empty() && place == destination_place) {
      out.at_destination = true;
    }
    for (const VerifiedEntry& entry : missing) {
      if (seen.insert(entry.hash).second) {
        out.missing.push_back(entry);
      }
    }
  }
  std::stable_sort(out.missing.begin(), out.missing.end(),
                   [](const VerifiedEntry& a, const VerifiedEntry& b) { return a.ts < b.ts; });
  return out;
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
      throw Error(ErrorKind::integrity,
                  fmt::format("{}: unsupported backup format version {} (this escrow reads {})", what,
                              util::escape_controls(std::string(format->substr(0, 32))), k_format))
        .hint(*format == "escrow-backup/1" ? "an escrow-backup/1 file holds an escrow-vault/1 vault: restore it "
                                             "with the escrow release that made it"
                                           : "restore it with the escrow release that made it");
    }
    if (!format
        && bytes.substr(0, std::min(bytes.size(), k_format.size()))
             == k_format.substr(0, std::min(bytes.size(), k_format.size()))) {
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

std::string_view signed_part(std::string_view bytes)
{
  // The signature line is the last one: everything before it is signed.
  if (bytes.size() < 2) {
    return bytes.substr(0, 0);
  }
  const std::size_t last = bytes.rfind('\n', bytes.size() - 2);
  return last == std::string_view::npos ? bytes.substr(0, 0) : bytes.substr(0, last + 1);
}

std::string serialize_payload(const Payload& payload)
{
  std::string out;
  out.reserve(payload.head.size() + payload.journal.size() + payload.keys.size() + 96);
  out.append(k_payload_format).append("\n");
  out.append(fmt::format("head {}\n", payload.head.size())).append(payload.head).append("\n");
  out.append(fmt::format("journal {}\n", payload.journal.size())).append(payload.journal).append("\n");
  out.append(fmt::format("keys {}\n", payload.keys.size())).append(payload.keys).append("\n");
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
    const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), size);
    if (parsed.ec != std::errc() || parsed.ptr != digits.data() + digits.size() || size > bytes.size() - pos
        || bytes.size() - pos - size < 1 || bytes[pos + size] != '\n') {
      fail(ErrorKind::integrity, "{}: the payload's {} section is truncated or malformed", what, name);
    }
    std::string text(bytes.substr(pos, size));
    pos += size + 1;
    return text;
  };
  Payload payload;
  payload.head = section("head");
  payload.journal = section("journal");
  payload.keys = section("keys");
  if (pos != bytes.size()) {
    fail(ErrorKind::integrity, "{}: unexpected bytes after the payload's keys", what);
  }
  return payload;
}

// --- escrow backup -----------------------------------------------------------------------------

Json BackupResult::to_json() const
{
  return Json{{"out", out.string()},     {"secrets", secrets},       {"journal_entries", journal_entries},
              {"bytes", bytes},          {"recipients", recipients}, {"entry", entry},
              {"notify", notify}};
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

BackupResult make_backup(VaultSession& session, const BackupOptions& options)
{
  if (options.out.empty()) {
    fail(ErrorKind::usage, "backup: --out FILE is required");
  }
  if (!options.overwrite && util::kind_of(options.out)) {
    throw Error(ErrorKind::usage, fmt::format("{}: already exists; refusing to overwrite", options.out.string()))
      .hint("pick a new name (e.g. with the date), or pass --force");
  }
  if (!session.writable()) {
    session.upgrade();
  }
  const Member& me = session.me();
  const std::string maker = me.name;
  const VaultPaths paths = session.paths();
  const std::string head_name = paths.head.filename().string();
  {
    Header names;
    names.head.name = head_name;
    names.journal.name = paths.journal.filename().string();
    names.keys.name = paths.keys.filename().string();
    if (!plain_file_name(head_name) || !consistent_names(names)) {
      fail(ErrorKind::usage, "backup: {}: the vault's file name cannot be restored (it must not start with '.')",
           paths.head.string());
    }
  }
  // The recipients: given public identities, else the vault's active admins.
  std::vector<Recipient> recipients;
  if (options.to.empty()) {
    for (const auto& [name, member] : session.state().members) {
      if (member->active() && member->has_role(Role::admin)) {
        recipients.push_back(Recipient{name, fingerprint_of(*member), member->box_pk, {}});
      }
    }
  } else {
    for (const auto& pub : options.to) {
      recipients.push_back(Recipient{pub.name, pub.fingerprint(), pub.box_pk, {}});
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
  std::vector<std::string> recipient_names;
  for (const auto& r : recipients) {
    recipient_names.push_back(fmt::format("{} ({})", r.name, r.fingerprint));
  }

  // What is backed up is checked first, from its bytes: a backup of a damaged vault would restore
  // the damage.
  (void)verify(session);
  // The backup's own event goes in first, so that the backup holds it: this machine's cache then
  // knows no entry the backup lacks, and restoring it here is not a loss.
  const std::vector<std::string> listed(recipient_names.begin(),
                                       recipient_names.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(recipient_names.size(), 256)));
  const Entry recorded = session.record(EventKind::backup, Result::ok,
                                        Json{{"file", options.out.filename().string()},
                                             {"recipients", listed},
                                             {"recipient_count", static_cast<std::int64_t>(recipient_names.size())}});
  Payload payload;
  payload.head = read_file(paths.head, k_max_head_file_size);
  payload.journal = read_file(paths.journal, k_max_backup_size);
  payload.keys = read_file(paths.keys, k_max_backup_size);
  ReplayOptions replay_options;
  replay_options.now = session.now();
  {
    const KeysFile keys = KeysFile::parse(payload.keys, paths.keys.string());
    const VerifiedVault checked = verify_vault(payload.head, payload.journal, &keys, replay_options);
    checked.replay.require_ok(FileNames{paths.journal.string(), paths.head.string(), paths.keys.string()});
    if (!checked.head) {
      fail(ErrorKind::integrity, "{}: malformed head file; not backed up", paths.head.string());
    }
    Header header;
    header.vault_id = canonical::b64(session.vault_id());
    for (const Hash& head : checked.replay.heads) {
      header.heads.push_back(canonical::b64(head));
    }
    header.entries = checked.replay.entries;
    header.head = FileSize{head_name, payload.head.size()};
    header.journal = FileSize{paths.journal.filename().string(), payload.journal.size()};
    header.keys = FileSize{paths.keys.filename().string(), payload.keys.size()};
    header.created_at = session.now();
    header.maker = maker;
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
    crypto::Sealed sealed =
      crypto::aead_encrypt(as_bytes(serialize_payload(payload)), as_bytes(associated), file_key);
    file.nonce = std::move(sealed.nonce);
    file.ciphertext = std::move(sealed.ciphertext);
    std::string text = serialize_backup(file);
    file.signature = session.identity().sign(k_signature_label, as_bytes(signed_part(text)));
    text = serialize_backup(file);

    try {
      AtomicFile out(options.out, 0600);
      out.write(text);
      out.commit();
    } catch (const Error& error) {
      session.record(EventKind::backup, Result::failed,
                     Json{{"file", options.out.filename().string()}, {"error", std::string(error.what())}});
      throw;
    }

    BackupResult result;
    result.out = options.out;
    result.secrets = checked.replay.state.secrets.size();
    result.journal_entries = header.entries;
    result.bytes = text.size();
    result.recipients = recipient_names;
    result.entry = canonical::b64(recorded.hash);
    result.notify = notify(session.state(), Json{{"event", "backup"},
                                                 {"result", "ok"},
                                                 {"actor", maker},
                                                 {"at", format_time(session.now())},
                                                 {"vault", header.vault_id},
                                                 {"entries", header.entries},
                                                 {"file", options.out.filename().string()},
                                                 {"bytes", text.size()},
                                                 {"recipients", result.recipients}});
    return result;
  }
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
  return Json{{"vault", head.string()},
              {"journal", journal.string()},
              {"keys", keys.string()},
              {"vault_id", vault_id},
              {"maker", maker},
              {"made_at", format_time(made_at)},
              {"secrets", secrets},
              {"members", members},
              {"journal_entries", journal_entries},
              {"signatures", signatures},
              {"decrypted", decrypted},
              {"unreadable", unreadable},
              {"lost", lost},
              {"rolled_back", rolled_back},
              {"reconnected", reconnected},
              {"connectors", checks},
              {"connectors_verified", connectors_verified()},
              {"seconds", static_cast<double>(elapsed.count()) / 1000.0},
              {"summary", summary()},
              {"notify", notify}};
}

RestoreResult restore(const RestoreOptions& options)
{
  const auto started = std::chrono::steady_clock::now();
  const std::string what = options.file.string();
  if (options.to.empty()) {
    fail(ErrorKind::usage, "restore: --to DIR is required");
  }
  if (!util::kind_of(options.file)) {
    fail(ErrorKind::io, "{}: no such backup file", what);
  }
  const std::string text = read_file(options.file, k_max_backup_size, util::Links::follow);
  const BackupFile file = parse_backup(text, what);
  const Header& header = file.header;

  // 1. The maker's signature over everything before it.
  if (!crypto::verify(k_signature_label, as_bytes(signed_part(text)), file.signature, header.maker_sign_pk)) {
    fail(ErrorKind::integrity, "{}: the maker's signature does not verify (tampered or corrupted)", what);
  }

  // 2. Where it would go: never over existing files, never over another vault.
  const VaultPaths paths = VaultPaths::of(options.to / header.head.name);
  check_destination(paths, header, what);

  // 3. A slot for the restorer, the file key, the payload.
  if (!options.session.identity) {
    fail(ErrorKind::usage, "restore: an identity is needed");
  }
  // Loaded once: the checks below use it, then the restored vault's session takes it over.
  const auto loaded = std::make_shared<Identity>(options.session.identity());
  const Identity& me = *loaded;
  const std::string restorer_name = me.pub.name;
  const auto slot = std::find_if(header.recipients.begin(), header.recipients.end(),
                                 [&](const Recipient& r) { return r.box_pk == me.pub.box_pk; });
  if (slot == header.recipients.end()) {
    throw Error(ErrorKind::integrity, fmt::format("{}: foreign: not encrypted to {} ({}); its recipients are {}", what,
                                                  me.pub.name, me.pub.fingerprint(), describe_recipients(header.recipients)))
      .hint("restore with one of the recipients' identities (--identity PATH)");
  }
  const auto file_key = me.seal_open(slot->sealed_key);
  if (!file_key || file_key->size() != crypto::k_key_size) {
    fail(ErrorKind::integrity, "{}: the file key sealed to {} does not open (corrupted)", what, me.pub.name);
  }
  const std::string associated = std::string(k_format) + "\n" + file.header_line + "\n";
  Payload payload;
  {
    const auto plain = crypto::aead_decrypt(file.nonce, file.ciphertext, as_bytes(associated), *file_key);
    if (!plain) {
      fail(ErrorKind::integrity, "{}: the payload does not decrypt (corrupted)", what);
    }
    payload = parse_payload(std::string_view(reinterpret_cast<const char*>(plain->expose().data()), plain->size()),
                            what);
  }
  if (payload.head.size() != header.head.size || payload.journal.size() != header.journal.size
      || payload.keys.size() != header.keys.size) {
    fail(ErrorKind::integrity, "{}: the payload's sizes differ from the header's", what);
  }

  // 4. The whole vault from its bytes: head file, every journal entry authorised by the state
  //    before it (signatures, parent links, the rules), every key line against the state.
  const KeysFile keys = KeysFile::parse(payload.keys, fmt::format("{}: {}", what, header.keys.name));
  ReplayOptions replay_options;
  replay_options.now = options.session.clock.now();
  const VerifiedVault checked = verify_vault(payload.head, payload.journal, &keys, replay_options);
  checked.replay.require_ok(FileNames{fmt::format("{}: {}", what, header.journal.name),
                                      fmt::format("{}: {}", what, header.head.name),
                                      fmt::format("{}: {}", what, header.keys.name)});
  if (!checked.head) {
    fail(ErrorKind::integrity, "{}: {}: malformed head file", what, header.head.name);
  }
  const State& state = checked.replay.state;
  std::vector<std::string> heads;
  for (const Hash& head : checked.replay.heads) {
    heads.push_back(canonical::b64(head));
  }
  if (canonical::b64(state.vault_id) != header.vault_id || heads != header.heads
      || checked.replay.entries != header.entries) {
    fail(ErrorKind::integrity, "{}: the vault inside differs from what the header names", what);
  }
  const Member* maker = state.member(header.maker);
  if (maker == nullptr || maker->sign_pk != header.maker_sign_pk || !maker->active()) {
    fail(ErrorKind::integrity, "{}: made by {}, who is not an active member of the vault inside", what, header.maker);
  }
  const Member* restorer = state.member(me.pub.name);
  if (restorer == nullptr || restorer->sign_pk != me.pub.sign_pk || restorer->box_pk != me.pub.box_pk
      || !restorer->active()) {
    fail(ErrorKind::integrity, "{}: foreign: {} ({}) is not an active member of vault {}", what, me.pub.name,
         me.pub.fingerprint(), header.vault_id);
  }

  // 5. This machine's cache: an entry it verified of this vault, at any place, that the backup
  //    lacks makes it stale (restoring it is a loss).
  const fs::path destination_place =
    Cache::place(options.session.state_home, state.vault_id, paths.journal, options.session.branch);
  std::set<Hash> present(checked.replay.order.begin(), checked.replay.order.end());
  const Staleness stale = staleness(options.session.state_home, state.vault_id, destination_place, present, state.lost);
  if (!stale.missing.empty()) {
    const VerifiedEntry& newest = stale.missing.back();
    const std::string said = fmt::format(
      "{}: stale: a backup made {} that lacks {} journal {} this machine has verified (the newest: {} by {} at {})",
      what, format_time(header.created_at), stale.missing.size(), stale.missing.size() == 1 ? "entry" : "entries",
      newest.action, newest.actor, format_time(newest.ts));
    if (!options.allow_rollback) {
      throw Error(ErrorKind::integrity, said)
        .hint("restoring an older state loses those entries; if that is intended, pass --allow-rollback (journaled)");
    }
    if (stale.at_destination) {
      throw Error(ErrorKind::integrity, said + ", at this very place")
        .hint(fmt::format("this machine would report the restored vault as a loss there: restore into another "
                          "directory, or remove {} first",
                          destination_place.string()));
    }
  }

  // 6. Test-decrypt every version the restorer can open.
  RestoreResult result;
  const Timestamp now = options.session.clock.now();
  for (const auto& [name, secret] : state.secrets) {
    for (const auto& [vid, version] : secret->versions) {
      try {
        (void)open_readable(state, keys, me, now, *secret, vid, version, "restore");
        ++result.decrypted;
      } catch (const Error& error) {
        if (error.kind() != ErrorKind::access) {
          fail(ErrorKind::integrity, "{}: {} v{}: {}", what, name, version.v, error.what());
        }
        ++result.unreadable;
      }
    }
  }

  // 7. Only now: write the three files, the journal last (its creation is the commit point, as
  //    init's). A failure before the restore is journaled removes what this command wrote.
  fs::create_directories(options.to);
  struct Undo
  {
    std::vector<fs::path> files;
    bool armed = true;
    ~Undo()
    {
      if (armed) {
        for (const auto& path : files) {
          std::error_code ignored;
          fs::remove(path, ignored);
        }
      }
    }
  } undo{{paths.journal, paths.head, paths.keys, paths.lock}};
  create_exclusive(paths.keys, payload.keys, 0644);
  create_exclusive(paths.head, payload.head, 0644);
  create_exclusive(paths.journal, payload.journal, 0644);

  // 8. The restored vault as every command opens it (this machine's cache place for it is seeded
  //    by the full replay), the restore journaled in it.
  VaultSessionOptions session_options = options.session;
  session_options.vault_path = paths.head;
  session_options.identity = [loaded] { return std::move(*loaded); }; // `me` is not used after this
  VaultSession session = VaultSession::open(session_options, Access::write);
  result.head = paths.head;
  result.journal = paths.journal;
  result.keys = paths.keys;
  result.vault_id = header.vault_id;
  result.maker = header.maker;
  result.made_at = header.created_at;
  result.secrets = state.secrets.size();
  result.members = state.members.size();
  result.journal_entries = checked.replay.entries;
  result.signatures = checked.replay.signatures_checked + 1; // and the backup's own
  result.rolled_back = !stale.missing.empty();
  result.lost = stale.missing.size();
  if (result.rolled_back) {
    session.record(EventKind::rollback_accepted, Result::ok,
                   Json{{"file", options.file.filename().string()},
                        {"made_at", format_time(header.created_at)},
                        {"lost", static_cast<std::int64_t>(stale.missing.size())},
                        {"newest_lost", canonical::b64(stale.missing.back().hash)}});
  }
  if (options.reconnect) {
    result.connectors = reconnect(state, keys, session.identity(), now);
    result.reconnected = true;
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);

  std::vector<std::string> checks; // the first 256 (a detail list's bound)
  for (const auto& c : result.connectors) {
    if (checks.size() < 256) {
      checks.push_back(c.connector + ": " + c.result);
    }
  }
  const bool reconnect_failed = result.connectors_checked() > result.connectors_verified();
  session.record(EventKind::restore, reconnect_failed ? Result::failed : Result::ok,
                 Json{{"file", options.file.filename().string()},
                      {"maker", header.maker},
                      {"made_at", format_time(header.created_at)},
                      {"entries", static_cast<std::int64_t>(checked.replay.entries)},
                      {"decrypted", static_cast<std::int64_t>(result.decrypted)},
                      {"rolled_back", result.rolled_back},
                      {"ms", static_cast<std::int64_t>(result.elapsed.count())},
                      {"connectors", checks}});
  undo.armed = false; // restored and journaled: from here on the restored vault stands
  result.notify = notify(session.state(), Json{{"event", "restore"},
                                               {"result", reconnect_failed ? "reconnect-failed" : "ok"},
                                               {"actor", restorer_name},
                                               {"at", format_time(session.now())},
                                               {"vault", header.vault_id},
                                               {"entries", checked.replay.entries},
                                               {"summary", result.summary()},
                                               {"connectors", checks}});
  return result;
}

} // namespace escrow::history::backup
