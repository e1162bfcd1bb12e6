#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>
#include <escrow/util/suggest.hpp>
#include <escrow/labels.hpp>
#include <escrow/vault.hpp>
#include <escrow/util/file.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace escrow {

namespace {

constexpr std::string_view k_head_label = labels::k_head;
// Signed heads at least this long are hashed on a second thread while the roster is verified.
constexpr std::size_t k_parallel_head_hash = 128 * 1024;
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

// The names of a section are valid and in strictly increasing byte order (the one layout).
// A bad name is not quoted: it may hold terminal escapes.
template<typename Valid>
void check_names(std::string_view what, std::string_view section, const std::vector<canonical::Span>& spans, Valid valid)
{
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (!valid(spans[i].key)) {
      fail(ErrorKind::integrity, "{}: {}: entry {} has an invalid name", what, section, i + 1);
    }
    if (i > 0 && !(spans[i - 1].key < spans[i].key)) {
      fail(ErrorKind::integrity, "{}: {}: entries are not in sorted order (edited outside escrow?)", what, section);
    }
  }
}

// The layout serialize() writes, read without scanning the records (DESIGN §3: size must not
// matter). Top-level key lines are the only lines that begin with two spaces and a quote, and
// the records of a section the only ones that begin with four; JSON strings hold no raw newline.
constexpr std::string_view k_key_line = "\n  \"";
constexpr std::string_view k_record_line = "\n    \"";

// The spans of the top-level fields of a file in that layout, found by their key lines in `t`,
// the file's first bytes, which reach past the secrets' key line; the secrets object runs to the
// "\n}\n" that ends the file (`size` bytes, `ends_so`). nullopt when the file is not laid out
// so: the strict reader then reads it, and says what is wrong.
std::optional<std::vector<canonical::Span>> layout_spans(std::string_view t, std::size_t size, bool ends_so)
{
  std::vector<canonical::Span> top;
  if (t.size() < 8 || size < t.size() || t.substr(0, 2) != "{\n" || !ends_so) {
    return std::nullopt;
  }
  std::size_t line = 1; // the newline that starts the first key line
  for (std::size_t i = 0; i < std::size(k_top_keys); ++i) {
    const std::string_view key = k_top_keys[i];
    const std::size_t value = line + k_key_line.size() + key.size() + 3;
    if (value >= t.size() || t.substr(line, k_key_line.size()) != k_key_line
        || t.substr(line + k_key_line.size(), key.size()) != key
        || t.substr(line + k_key_line.size() + key.size(), 3) != "\": ") {
      return std::nullopt;
    }
    canonical::Span span;
    span.key = std::string(key);
    span.begin = value;
    if (i + 1 < std::size(k_top_keys)) {
      line = t.find(k_key_line, value);
      if (line == std::string_view::npos || line <= value + 1 || t[line - 1] != ',') {
        return std::nullopt;
      }
      span.end = line - 1;
    } else {
      span.end = size - 3;
      if (span.end <= value) {
        return std::nullopt;
      }
    }
    top.push_back(std::move(span));
  }
  return top;
}

// Bisects the record lines of an object laid out at depth 1 (keys in increasing byte order)
// between `begin` and `end` for `key`. Returns the position of its line's newline, npos when it
// is not there, nullopt when the text is not laid out as expected.
// `File` reads the file: find(needle, from, limit) and read(begin, end) (Vault::Source).
template<typename File>
std::optional<std::size_t> bisect_record_line(const File& file, std::size_t begin, std::size_t end, std::string_view key)
{
  std::size_t lo = begin;
  std::size_t hi = end;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    const std::size_t line = file.find(k_record_line, mid, end);
    if (line == std::string_view::npos || line >= hi) {
      hi = mid;
      continue;
    }
    const std::size_t key_begin = line + k_record_line.size();
    const std::size_t key_end = file.find("\"", key_begin, std::min(end, key_begin + 1024));
    if (key_end == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string candidate = file.read(key_begin, key_end);
    if (candidate == key) {
      return line;
    }
    // As string_views: clang 14 with libstdc++ 12 cannot compare a string with a string_view.
    if (std::string_view(candidate) < key) {
      lo = key_end;
    } else {
      hi = mid;
    }
  }
  return std::string_view::npos;
}

// Names the fast reader looks up as written: no byte that JSON would escape.
bool plain_name(std::string_view name)
{
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return c > 0x20 && c < 0x7F && c != '"' && c != '\\';
  });
}

// Compares the bytes that follow a position with the pieces of the expected layout as they come,
// without building it; a piece that is the very same bytes (a record copied as stored) costs
// nothing.
class LayoutMatch
{
public:
  LayoutMatch(std::string_view actual) : m_actual(actual) {}
  LayoutMatch& operator+=(std::string_view piece)
  {
    if (m_mismatch != std::string_view::npos) {
      return *this;
    }
    if (piece.data() != m_actual.data() + m_at) {
      const std::string_view here = m_actual.substr(m_at, piece.size());
      if (here != piece) {
        std::size_t k = 0;
        while (k < here.size() && here[k] == piece[k]) {
          ++k;
        }
        m_mismatch = m_at + k;
        return *this;
      }
    } else if (m_at + piece.size() > m_actual.size()) {
      m_mismatch = m_actual.size();
      return *this;
    }
    m_at += piece.size();
    return *this;
  }
  // npos when everything matched and nothing follows; else the offset of the first difference.
  std::size_t mismatch() const
  {
    return m_mismatch != std::string_view::npos ? m_mismatch : (m_at == m_actual.size() ? std::string_view::npos : m_at);
  }

private:
  std::string_view m_actual;
  std::size_t m_at = 0;
  std::size_t m_mismatch = std::string_view::npos;
};

} // namespace

// The bytes a vault was read from: a private copy (parse(), writers), or a read-only mapping of
// the file (read()). A lazy reader touches the mapping only up to `prefix` (the head, manifest
// and roster, read in order) and reads the records it bisects through with pread: faulting them
// in through the mapping would map, and keep resident, whole folios around every probe.
// escrow replaces a vault by rename, never in place, so the mapped file does not change under a
// reader (a file truncated in place by another program while it is read ends the reader with
// SIGBUS, as it would git).
struct Vault::Source
{
  std::string owned;
  const char* map = nullptr;
  std::size_t size = 0;
  std::size_t prefix = 0;       // lazy: how far from the start the mapping may be touched
  mutable bool complete = true; // all of it may be touched
  mutable std::string copy;     // text() of a mapping
  int fd = -1;
  std::string path;

  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source()
  {
    if (map != nullptr) {
      ::munmap(const_cast<char*>(map), size);
    }
    if (fd >= 0) {
      ::close(fd);
    }
  }

  const char* data() const { return map != nullptr ? map : owned.data(); }
  // What may be read in place now.
  std::string_view view() const { return {data(), complete ? size : prefix}; }

  // [begin, end) of the file.
  std::string read(std::size_t begin, std::size_t end) const
  {
    end = std::min(end, size);
    if (begin >= end) {
      return {};
    }
    if (complete || end <= prefix) {
      return std::string(data() + begin, end - begin);
    }
    std::string out(end - begin, '\0');
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t got = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(begin + done));
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got < 0) {
        fail(ErrorKind::io, "{}: cannot read: {}", path, std::strerror(errno));
      }
      if (got == 0) {
        fail(ErrorKind::integrity, "{}: the file shrank while it was read (changed outside escrow?)", path);
      }
      done += static_cast<std::size_t>(got);
    }
    return out;
  }

  // The first `needle` that starts at or after `from` and ends by `limit`; npos when none.
  std::size_t find(std::string_view needle, std::size_t from, std::size_t limit) const
  {
    limit = std::min(limit, size);
    if (complete || limit <= prefix) {
      return std::string_view(data(), limit).find(needle, from);
    }
    constexpr std::size_t k_window = 8192;
    while (from < limit && limit - from >= needle.size()) {
      const std::size_t to = std::min(limit, from + k_window + needle.size() - 1);
      const std::string window = read(from, to);
      const auto at = window.find(needle);
      if (at != std::string::npos) {
        return from + at;
      }
      if (to == limit) {
        break;
      }
      from = to - (needle.size() - 1);
    }
    return std::string_view::npos;
  }

  void complete_now() const { complete = true; }
};

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

Vault Vault::parse(std::string text, std::string what, Reading reading)
{
  auto source = std::make_shared<Source>();
  source->size = text.size();
  source->prefix = text.size();
  source->owned = std::move(text);
  source->path = what;
  return parse_source(std::move(source), std::move(what), reading);
}

Vault Vault::read(const std::filesystem::path& path)
{
  // Never through a symbolic link, never blocking on a FIFO (util/file.hpp).
  const int fd = util::open_regular(path, O_RDONLY, util::Links::refuse).release();
  auto source = std::make_shared<Source>();
  source->fd = fd; // closed with the source
  source->path = path.string();
  struct stat info{};
  if (::fstat(fd, &info) != 0) {
    fail(ErrorKind::io, "{}: cannot stat: {}", path.string(), std::strerror(errno));
  }
  source->size = static_cast<std::size_t>(info.st_size);
  if (source->size > k_max_vault_size) {
    fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", path.string(), k_max_vault_size);
  }
  if (source->size > 0) {
    void* map = ::mmap(nullptr, source->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      return parse(read_file(path, k_max_vault_size), path.string(), Reading::lazy);
    }
    source->map = static_cast<const char*>(map);
  }
  // The part read in place: up to a little past the secrets' key line (the head, the manifest,
  // the policy, the members and the connectors come first). All of it when there is none.
  constexpr std::string_view k_secrets_line = "\n  \"secrets\": {";
  const auto at = std::string_view(source->data(), source->size).find(k_secrets_line);
  source->prefix = at == std::string_view::npos ? source->size : std::min(source->size, at + k_secrets_line.size() + 16);
  source->complete = source->prefix == source->size;
  return parse_source(std::move(source), path.string(), Reading::lazy);
}

std::string_view Vault::bytes() const
{
  if (!m_source) {
    return {};
  }
  m_source->complete_now();
  return m_source->view();
}

const std::string& Vault::text() const
{
  static const std::string k_none;
  if (!m_source) {
    return k_none;
  }
  if (m_source->map == nullptr) {
    return m_source->owned;
  }
  if (m_source->copy.size() != m_source->size) {
    m_source->copy.assign(m_source->map, m_source->size);
  }
  return m_source->copy;
}

Vault Vault::parse_source(std::shared_ptr<const Source> source, std::string what, Reading reading)
{
  Vault vault;
  vault.m_what = std::move(what);
  vault.m_source = std::move(source);
  const Source& src = *vault.m_source;
  const std::string& w = vault.m_what;
  // Lazily: the fields found by the layout in the file's first bytes, the secrets object not
  // scanned until a command needs every record (index_secrets). Eagerly, or for a file not in
  // the layout: all of it, and the strict scan.
  std::optional<std::vector<canonical::Span>> laid_out;
  if (reading == Reading::lazy) {
    laid_out = layout_spans(src.view(), src.size, src.size >= 3 && src.read(src.size - 3, src.size) == "\n}\n");
  }
  if (!laid_out) {
    src.complete_now();
  }
  const std::string_view t = src.view();

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
  std::vector<canonical::Span> top;
  if (laid_out) {
    top = std::move(*laid_out);
  } else {
    std::size_t end = 0;
    top = canonical::scan_object(t, start, end, w);
    for (std::size_t i = end; i < t.size(); ++i) {
      if (t[i] != ' ' && t[i] != '\n' && t[i] != '\t' && t[i] != '\r') {
        fail(ErrorKind::integrity, "{}: unexpected data after the end of the document at byte {}", w, i);
      }
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

  // The head digest covers the file up to the end of the manifest, which grows with the number of
  // secrets: a large one is hashed on another core while the members are read and verified.
  const std::string_view signed_bytes = t.substr(0, top[5].end);
  crypto::Hash head_digest{};
  std::jthread head_hasher;
  if (signed_bytes.size() >= k_parallel_head_hash && std::thread::hardware_concurrency() > 1) {
    try {
      head_hasher = std::jthread([&head_digest, signed_bytes] { head_digest = crypto::hash(k_head_label, as_bytes(signed_bytes)); });
    } catch (const std::system_error&) {
      // No thread to be had: hash here.
    }
  }
  if (!head_hasher.joinable()) {
    head_digest = crypto::hash(k_head_label, as_bytes(signed_bytes));
  }

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
  vault.m_top = top;
  if (laid_out) {
    // The entries before "secrets/..." (connectors, members, policy: keys sort so) now; the
    // secrets' entries are looked up in place when a record is read (manifest_hash).
    const std::string_view text = t.substr(top[5].begin, top[5].end - top[5].begin);
    const std::size_t first_secret = text.find("\n    \"secrets/");
    if (first_secret == std::string_view::npos || text.size() < 4 || text.substr(text.size() - 4) != "\n  }") {
      vault.read_manifest(span(5));
      vault.m_manifest_complete = true;
    } else {
      std::string prefix(text.substr(0, first_secret));
      if (!prefix.empty() && prefix.back() == ',') {
        prefix.pop_back();
      }
      prefix += "\n  }";
      vault.read_manifest(canonical::parse(prefix, w));
      vault.m_manifest_secrets = {top[5].begin + first_secret, top[5].end - 4};
    }
  } else {
    vault.read_manifest(span(5));
    vault.m_manifest_complete = true;
  }
  const Json head_sig = span(6);
  if (!head_sig.is_object() || head_sig.size() != 2 || !head_sig.contains("by")
      || !head_sig["by"].is_string() || !head_sig.contains("sig") || !head_sig["sig"].is_string()) {
    fail(ErrorKind::integrity, "{}: \"head_sig\" must hold exactly \"by\" and \"sig\"", w);
  }
  vault.m_head_by = head_sig["by"].get<std::string>();
  vault.m_head_sig = head_sig;
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
  const std::vector<canonical::Span> member_spans = canonical::scan_object(t, top[8].begin, members_end, w);
  vault.m_member_spans = member_spans;
  check_names(w, "members", member_spans, [](const std::string& name) { return valid_member_name(name); });
  for (const auto& member : member_spans) {
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
    // One pass over the signed bytes: the head digest is what the signature signs.
    if (head_hasher.joinable()) {
      head_hasher.join();
    }
    const crypto::Hash& digest = head_digest;
    if (!crypto::verify_digest(digest, head_signature, signer->sign_pk)) {
      fail(ErrorKind::integrity, "{}: the head signature does not verify (file modified outside escrow)", w);
    }
    ++vault.m_verified;
    vault.m_head = canonical::b64(digest);
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
  const std::vector<canonical::Span> connector_spans = canonical::scan_object(t, top[9].begin, connectors_end, w);
  vault.m_connector_spans = connector_spans;
  check_names(w, "connectors", connector_spans, [](const std::string& name) { return valid_member_name(name); });
  for (const auto& connector : connector_spans) {
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

  // Secrets: verified on first use; located now (eagerly) or when a command needs them.
  vault.m_indexed = false;
  if (!laid_out) {
    vault.index_secrets();
  }
  return vault;
}

void Vault::read_manifest(const Json& manifest) const
{
  if (!manifest.is_object()) {
    fail(ErrorKind::integrity, "{}: \"manifest\" must be an object", m_what);
  }
  for (const auto& [key, value] : manifest.items()) {
    if (!value.is_string() || canonical::unb64(value.get<std::string>(), m_what).size() != 32) {
      fail(ErrorKind::integrity, "{}: manifest entry {} must be a 32-byte hash", m_what, key);
    }
    m_manifest.emplace(key, value.get<std::string>());
  }
}

// Everything a lazy read left for later: the whole manifest, every secret's place, the
// manifest's coverage and the layout. Run before any use of every record, and by parse(eager).
void Vault::index_secrets() const
{
  if (m_indexed) {
    return;
  }
  m_source->complete_now();
  const std::string_view t = m_source->view();
  const std::string& w = m_what;
  const std::vector<canonical::Span>& top = m_top;
  if (!m_manifest_complete) {
    read_manifest(canonical::parse(t.substr(top[5].begin, top[5].end - top[5].begin), w));
    m_manifest_complete = true;
  }
  std::size_t secrets_end = 0;
  const std::vector<canonical::Span> secret_spans = canonical::scan_object(t, top[10].begin, secrets_end, w);
  if (secrets_end != top[10].end) {
    fail(ErrorKind::integrity, "{}: not in escrow's layout at byte {} (edited outside escrow?)", w, secrets_end);
  }
  check_names(w, "secrets", secret_spans, [](const std::string& name) {
    try {
      (void)split_secret_name(name);
      return true;
    } catch (const Error&) {
      return false;
    }
  });
  for (const auto& secret : secret_spans) {
    const std::string path = secret_path(secret.key);
    const auto it = m_manifest.find(path);
    if (it == m_manifest.end()) {
      tampered(w, path, "record is not in the signed manifest (added outside escrow?)");
    }
    const auto [found, added] = m_secrets.try_emplace(secret.key);
    SecretSlot& slot = found->second;
    if (!added && (slot.begin != 0 || slot.end != 0) && (slot.begin != secret.begin || slot.end != secret.end)) {
      tampered(w, path, "record is stored twice");
    }
    slot.begin = secret.begin;
    slot.end = secret.end;
    if (added || !slot.dirty) {
      slot.manifest_hash = it->second;
    }
  }

  // The manifest names exactly the records present (in the file as read).
  const std::size_t expected = 1 + m_member_spans.size() + m_connector_spans.size() + secret_spans.size();
  if (m_manifest.size() != expected) {
    std::set<std::string, std::less<>> present{"policy"};
    for (const auto& span : m_member_spans) {
      present.insert(member_path(span.key));
    }
    for (const auto& span : m_connector_spans) {
      present.insert(connector_path(span.key));
    }
    for (const auto& span : secret_spans) {
      present.insert(secret_path(span.key));
    }
    for (const auto& [path, hash] : m_manifest) {
      if (present.count(path) == 0) {
        tampered(w, path, "record named by the signed manifest is missing (deleted outside escrow)");
      }
    }
  }

  // One layout (DESIGN §3): what follows the signed part must be byte for byte what
  // serialize() writes around the records, so that no two different files read as one vault.
  {
    std::string head_sig_text;
    canonical::dump_pretty(m_head_sig, 1, head_sig_text);
    LayoutMatch layout(t.substr(top[5].end));
    layout += ",\n  \"head_sig\": ";
    layout += head_sig_text;
    layout += ",\n  \"policy\": ";
    layout += t.substr(top[7].begin, top[7].end - top[7].begin);
    std::deque<std::string> quoted;
    const auto section = [&](std::string_view key, const std::vector<canonical::Span>& spans) {
      layout += ",\n  \"";
      layout += key;
      layout += "\": ";
      if (spans.empty()) {
        layout += "{}";
        return;
      }
      layout += "{";
      for (std::size_t i = 0; i < spans.size(); ++i) {
        layout += i == 0 ? "\n    " : ",\n    ";
        layout += quoted.emplace_back(canonical::dump(Json(spans[i].key)));
        layout += ": ";
        layout += t.substr(spans[i].begin, spans[i].end - spans[i].begin);
      }
      layout += "\n  }";
    };
    section("members", m_member_spans);
    section("connectors", m_connector_spans);
    section("secrets", secret_spans);
    layout += "\n}\n";
    if (const std::size_t at = layout.mismatch(); at != std::string_view::npos) {
      fail(ErrorKind::integrity, "{}: not in escrow's layout at byte {} (edited outside escrow?)", w, top[5].end + at);
    }
  }
  m_indexed = true;
}

// The manifest's hash of a secret's record, looked up in place (lazy reads).
std::optional<std::string> Vault::manifest_hash(std::string_view full_name) const
{
  if (m_manifest_complete) {
    const auto it = m_manifest.find(secret_path(full_name));
    return it == m_manifest.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  const std::string_view t = m_source->view(); // the manifest is in the first bytes
  const std::string path = secret_path(full_name);
  const auto line = bisect_record_line(*m_source, m_manifest_secrets.first, m_manifest_secrets.second, path);
  if (!line || *line == std::string_view::npos) {
    return std::nullopt;
  }
  // "\n    \"secrets/NAME\": \"HASH\"" then "," or the end of the manifest.
  const std::size_t value = *line + k_record_line.size() + path.size() + 3;
  const std::size_t close = value + 45;
  if (close >= m_manifest_secrets.second + 1 || t.substr(value - 3, 4) != "\": \"" || t[close] != '"'
      || (close + 1 != m_manifest_secrets.second && t[close + 1] != ',')) {
    return std::nullopt;
  }
  const std::string hash(t.substr(value + 1, 44));
  if (canonical::unb64(hash, m_what).size() != 32) {
    fail(ErrorKind::integrity, "{}: manifest entry {} must be a 32-byte hash", m_what, path);
  }
  return hash;
}

// A secret's slot: known already, located by bisection (lazy reads), or after indexing them all.
Vault::SecretSlot* Vault::find_slot(std::string_view full_name) const
{
  auto it = m_secrets.find(full_name);
  if (it != m_secrets.end() || m_indexed) {
    return it == m_secrets.end() ? nullptr : &it->second;
  }
  if (plain_name(full_name)) {
    const Source& src = *m_source;
    const std::size_t begin = m_top[10].begin;
    const std::size_t end = m_top[10].end;
    const auto line = bisect_record_line(src, begin, end, full_name);
    if (line && *line != std::string_view::npos) {
      // "\n    \"NAME\": {" ... "\n    }" then "," or the end of the section.
      const std::size_t value = *line + k_record_line.size() + full_name.size() + 3;
      const std::size_t close = value < end ? src.find("\n    }", value, end) : std::string_view::npos;
      if (close != std::string_view::npos && src.read(value - 3, value + 1) == "\": {"
          && (close + 6 + 4 == end || src.read(close + 6, close + 7) == ",")) {
        if (const auto hash = manifest_hash(full_name)) {
          SecretSlot slot;
          slot.begin = value;
          slot.end = close + 6;
          slot.text = src.read(value, close + 6);
          slot.manifest_hash = *hash;
          return &m_secrets.emplace(std::string(full_name), std::move(slot)).first->second;
        }
      }
    }
  }
  // Not found, or not where the layout puts it: read them all, strictly.
  index_secrets();
  it = m_secrets.find(full_name);
  return it == m_secrets.end() ? nullptr : &it->second;
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
      if (!signer_of(*request.denial, dpath).reaches(record.env)) {
        tampered(m_what, dpath, "signed by a member outside the secret's environment");
      }
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
  index_secrets();
  std::vector<std::string> names;
  names.reserve(m_secrets.size());
  for (const auto& [name, slot] : m_secrets) {
    names.push_back(name);
  }
  return names;
}

bool Vault::has_secret(std::string_view full_name) const
{
  return find_slot(full_name) != nullptr;
}

const SecretRecord& Vault::secret(std::string_view full_name) const
{
  const SecretSlot* found = find_slot(full_name);
  if (found == nullptr) {
    Error error(ErrorKind::usage, fmt::format("{}: no secret named {}", m_what, full_name));
    if (std::string hint = util::did_you_mean(full_name, secret_names()); !hint.empty()) {
      error.hint(hint);
    }
    throw error;
  }
  const SecretSlot& slot = *found;
  if (!slot.parsed) {
    const std::string path = secret_path(full_name);
    // Read when located (lazy), or in the whole file (indexed).
    const std::string_view bytes = !slot.text.empty() ? std::string_view(slot.text)
                                                      : m_source->view().substr(slot.begin, slot.end - slot.begin);
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
  index_secrets();
  // Every record's signatures, on every core (they are independent); then in order, so that the
  // first bad record in name order is the one reported, as a sequential check would.
  std::vector<const std::string*> pending;
  for (const auto& [name, slot] : m_secrets) {
    if (!slot.parsed) {
      pending.push_back(&name);
    }
  }
  const unsigned threads = std::min(std::max(1u, std::thread::hardware_concurrency()), 16u);
  if (threads > 1 && pending.size() >= 64) {
    std::atomic<std::size_t> next{0};
    const auto work = [&] {
      for (std::size_t i = next++; i < pending.size(); i = next++) {
        try {
          (void)secret(*pending[i]);
        } catch (...) {
          next = pending.size(); // the ordered pass below reports it
        }
      }
    };
    std::vector<std::jthread> pool;
    for (unsigned k = 1; k < threads; ++k) {
      try {
        pool.emplace_back(work);
      } catch (const std::system_error&) {
        break; // fewer threads, same result
      }
    }
    work();
  }
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
  record.sig = sign_body(vault.id(), path, to_json(record), signer);
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
  approval.sig = sign_body(m_id, approval_path(secret.full_name(), request.id, approval.by), to_json(approval), signer);
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
  genesis.roles = {Role::admin, Role::approver, Role::requester};
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
  index_secrets();
  const std::string_view old = bytes();
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
  const crypto::Signature signature = signer.sign(k_head_label, as_bytes(signed_bytes));
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
