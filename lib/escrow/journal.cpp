#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>
#include <escrow/util/text.hpp>
#include <escrow/journal.hpp>
#include <escrow/session_options.hpp>
#include <escrow/util/file.hpp>
#include <escrow/labels.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace escrow {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_journal_label = labels::k_journal;

// A writer killed in the middle of its append can leave an unterminated last line. Its vault
// revision never landed (the vault is written only after the append returns), so under the
// vault lock the fragment is cut off; a complete entry that only lacks its newline (an
// editor's doing) gets the newline instead. Anything else is left for audit verify to judge.
void repair_torn_tail(const fs::path& path)
{
  auto file = util::open_regular_if_exists(path, O_RDWR, util::Links::refuse);
  if (!file) {
    return; // missing: nothing to repair
  }
  const int fd = file->release();
  struct stat info{};
  char last = '\n';
  if (::fstat(fd, &info) != 0 || info.st_size == 0 || ::pread(fd, &last, 1, info.st_size - 1) != 1 || last == '\n') {
    ::close(fd);
    return;
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  const std::size_t window = std::min<std::size_t>(size, k_max_journal_line + 1);
  std::string tail(window, '\0');
  if (::pread(fd, tail.data(), window, static_cast<off_t>(size - window)) != static_cast<ssize_t>(window)) {
    ::close(fd);
    fail(ErrorKind::io, "{}: cannot read", path.string());
  }
  const auto newline = tail.rfind('\n');
  if (newline == std::string::npos && window < size) {
    ::close(fd);
    fail(ErrorKind::integrity, "{}: the last line is unterminated and longer than {} bytes", path.string(),
         k_max_journal_line);
  }
  const std::size_t start = newline == std::string::npos ? 0 : newline + 1;
  bool complete = false;
  try {
    complete = canonical::parse(std::string_view(tail).substr(start), path.string()).is_object();
  } catch (const Error&) {
    complete = false;
  }
  bool ok = false;
  if (complete) {
    ok = ::pwrite(fd, "\n", 1, info.st_size) == 1;
  } else {
    ok = ::ftruncate(fd, static_cast<off_t>(size - window + start)) == 0;
  }
  ok = ok && ::fdatasync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    fail(ErrorKind::io, "{}: cannot repair an unterminated last line: {}", path.string(), std::strerror(saved));
  }
}

} // namespace

std::string_view journal_action_name(JournalAction action)
{
  switch (action) {
  case JournalAction::init: return "init";
  case JournalAction::add: return "add";
  case JournalAction::reveal: return "reveal";
  case JournalAction::exec: return "exec";
  case JournalAction::grant_used: return "grant-used";
  case JournalAction::share: return "share";
  case JournalAction::unshare: return "unshare";
  case JournalAction::member_add: return "member-add";
  case JournalAction::member_remove: return "member-remove";
  case JournalAction::request: return "request";
  case JournalAction::approve: return "approve";
  case JournalAction::deny: return "deny";
  case JournalAction::policy_set: return "policy-set";
  case JournalAction::connector_add: return "connector-add";
  case JournalAction::connector_remove: return "connector-remove";
  case JournalAction::connect: return "connect";
  case JournalAction::disconnect: return "disconnect";
  case JournalAction::rotate_start: return "rotate-start";
  case JournalAction::rotate: return "rotate";
  case JournalAction::rotate_failed: return "rotate-failed";
  case JournalAction::rollback_start: return "rollback-start";
  case JournalAction::rollback: return "rollback";
  case JournalAction::rollback_failed: return "rollback-failed";
  case JournalAction::confirm: return "confirm";
  case JournalAction::compromise: return "compromise";
  case JournalAction::retire: return "retire";
  case JournalAction::allow_rollback: return "allow-rollback";
  case JournalAction::audit_compare: return "audit-compare";
  case JournalAction::backup: return "backup";
  case JournalAction::restore: return "restore";
  case JournalAction::rehearsal: return "rehearsal";
  case JournalAction::rehearse_setup: return "rehearse-setup";
  case JournalAction::drill: return "drill";
  case JournalAction::import_secrets: return "import";
  case JournalAction::merge: return "merge";
  case JournalAction::connector_auth: return "connector-auth";
  }
  return "";
}

const std::vector<JournalAction>& journal_actions()
{
  static const std::vector<JournalAction> k_all = [] {
    std::vector<JournalAction> all;
    for (int i = 0; i <= static_cast<int>(JournalAction::connector_auth); ++i) {
      all.push_back(static_cast<JournalAction>(i));
    }
    return all;
  }();
  return k_all;
}

std::optional<JournalAction> parse_journal_action(std::string_view name)
{
  for (const JournalAction action : journal_actions()) {
    if (journal_action_name(action) == name) {
      return action;
    }
  }
  return std::nullopt;
}

std::string_view journal_result_name(JournalResult result)
{
  switch (result) {
  case JournalResult::ok: return "ok";
  case JournalResult::denied: return "denied";
  case JournalResult::failed: return "failed";
  case JournalResult::pending: return "pending";
  case JournalResult::rolling_back: return "rolling-back";
  case JournalResult::rolled_back: return "rolled-back";
  case JournalResult::rollback_incomplete: return "rollback-incomplete";
  }
  return "";
}

const std::vector<JournalResult>& journal_results()
{
  static const std::vector<JournalResult> k_all = {JournalResult::ok,           JournalResult::denied,
                                                   JournalResult::failed,       JournalResult::pending,
                                                   JournalResult::rolling_back, JournalResult::rolled_back,
                                                   JournalResult::rollback_incomplete};
  return k_all;
}

std::optional<JournalResult> parse_journal_result(std::string_view name)
{
  for (const JournalResult result : journal_results()) {
    if (journal_result_name(result) == name) {
      return result;
    }
  }
  return std::nullopt;
}

void to_json(Json& json, JournalAction action)
{
  json = std::string(journal_action_name(action));
}

void to_json(Json& json, JournalResult result)
{
  json = std::string(journal_result_name(result));
}

Json to_json(const JournalEntry& e)
{
  Json json{{"ts", format_stored_time(e.ts)},
            {"actor", e.actor},
            {"action", journal_action_name(e.action)},
            {"result", journal_result_name(e.result)},
            {"host", e.host},
            {"vault", e.vault},
            {"parents", e.parents}};
  if (!e.secret.empty()) {
    json["secret"] = e.secret;
  }
  if (!e.env.empty()) {
    json["env"] = e.env;
  }
  if (e.version) {
    json["version"] = *e.version;
  }
  if (!e.request.empty()) {
    json["request"] = e.request;
  }
  if (!e.why.empty()) {
    json["why"] = e.why;
  }
  if (!e.detail.empty()) {
    json["detail"] = e.detail;
  }
  if (!e.hash.empty()) {
    json["hash"] = e.hash;
  }
  if (!e.sig.empty()) {
    json["sig"] = e.sig;
  }
  return json;
}

JournalEntry journal_entry_from_json(const Json& json, std::string_view what)
{
  if (!json.is_object()) {
    fail(ErrorKind::integrity, "{}: entry is not an object", what);
  }
  static const std::set<std::string> k_fields = {"ts", "actor", "action", "result", "host", "vault",
                                                 "parents", "secret", "env", "version", "request",
                                                 "why", "detail", "hash", "sig"};
  for (const auto& [key, value] : json.items()) {
    if (k_fields.count(key) == 0) {
      fail(ErrorKind::integrity, "{}: unknown field \"{}\"", what, key);
    }
  }
  const auto str = [&](const char* key, bool required) -> std::string {
    const auto it = json.find(key);
    if (it == json.end()) {
      if (required) {
        fail(ErrorKind::integrity, "{}: missing \"{}\"", what, key);
      }
      return {};
    }
    if (!it->is_string()) {
      fail(ErrorKind::integrity, "{}: \"{}\" must be a string", what, key);
    }
    return it->get<std::string>();
  };
  JournalEntry e;
  const auto ts = parse_time(str("ts", true));
  if (!ts) {
    fail(ErrorKind::integrity, "{}: \"ts\" is not a time", what);
  }
  e.ts = *ts;
  e.actor = str("actor", true);
  const std::string action = str("action", true);
  const auto known_action = parse_journal_action(action);
  if (!known_action) {
    fail(ErrorKind::integrity, "{}: unknown action \"{}\" in \"action\"", what, util::quoted_name(action));
  }
  e.action = *known_action;
  const std::string result = str("result", true);
  const auto known_result = parse_journal_result(result);
  if (!known_result) {
    fail(ErrorKind::integrity, "{}: unknown result \"{}\" in \"result\"", what, util::quoted_name(result));
  }
  e.result = *known_result;
  e.host = str("host", true);
  e.vault = str("vault", true);
  e.secret = str("secret", false);
  e.env = str("env", false);
  e.request = str("request", false);
  e.why = str("why", false);
  e.hash = str("hash", true);
  e.sig = str("sig", true);
  if (const auto it = json.find("version"); it != json.end()) {
    if (!it->is_number_integer()) {
      fail(ErrorKind::integrity, "{}: \"version\" must be an integer", what);
    }
    e.version = it->get<std::int64_t>();
  }
  if (const auto it = json.find("detail"); it != json.end()) {
    if (!it->is_object()) {
      fail(ErrorKind::integrity, "{}: \"detail\" must be an object", what);
    }
    e.detail = *it;
  }
  const auto parents = json.find("parents");
  if (parents == json.end() || !parents->is_array()) {
    fail(ErrorKind::integrity, "{}: \"parents\" must be a list", what);
  }
  for (const Json& parent : *parents) {
    if (!parent.is_string()) {
      fail(ErrorKind::integrity, "{}: \"parents\" must list hashes", what);
    }
    e.parents.push_back(parent.get<std::string>());
  }
  return e;
}

std::string journal_entry_hash(const JournalEntry& entry)
{
  Json json = to_json(entry);
  json.erase("hash");
  json.erase("sig");
  return canonical::b64(crypto::hash(k_journal_label, as_bytes(canonical::dump(json))));
}

bool journal_entry_hash_matches(const JournalEntry& entry, std::optional<std::string_view> stored_content)
{
  const Bytes digest = canonical::unb64(entry.hash, "hash");
  if (!stored_content) {
    return journal_entry_hash(entry) == entry.hash;
  }
  const crypto::Hash computed = crypto::hash(k_journal_label, as_bytes(*stored_content));
  return digest.size() == computed.size() && crypto::equal(digest, computed);
}

bool journal_entry_signed_by(const JournalEntry& entry, ByteView sign_pk)
{
  const Bytes digest = canonical::unb64(entry.hash, "hash");
  const Bytes sig = canonical::unb64(entry.sig, "sig");
  return sig.size() == crypto::k_signature_size && crypto::verify(k_journal_label, digest, sig, sign_pk);
}

bool journal_entry_authentic(const JournalEntry& entry, ByteView sign_pk)
{
  try {
    return journal_entry_hash_matches(entry) && journal_entry_signed_by(entry, sign_pk);
  } catch (const Error&) {
    return false;
  }
}

std::vector<std::string_view> split_json_lines(std::string_view text)
{
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

fs::path Journal::path_for(const fs::path& vault_path)
{
  fs::path journal = vault_path;
  if (journal.extension() == ".vault") {
    journal.replace_extension(".journal");
  } else {
    journal += ".journal";
  }
  return journal;
}

Journal::Journal(fs::path path) : m_path(std::move(path)) {}

std::string Journal::head() const
{
  auto file = util::open_regular_if_exists(m_path, O_RDONLY, util::Links::refuse);
  if (!file) {
    return {};
  }
  const int fd = file->release();
  struct stat info{};
  ::fstat(fd, &info);
  const auto size = static_cast<std::size_t>(info.st_size);
  const std::size_t window = std::min<std::size_t>(size, k_max_journal_line + 2);
  std::string tail(window, '\0');
  const ssize_t got = ::pread(fd, tail.data(), window, static_cast<off_t>(size - window));
  ::close(fd);
  if (got != static_cast<ssize_t>(window)) {
    fail(ErrorKind::io, "{}: cannot read", m_path.string());
  }
  while (!tail.empty() && tail.back() == '\n') {
    tail.pop_back();
  }
  if (tail.empty()) {
    return {};
  }
  const auto newline = tail.rfind('\n');
  if (newline == std::string::npos && window < size) {
    fail(ErrorKind::integrity, "{}: the last entry is longer than {} bytes", m_path.string(), k_max_journal_line);
  }
  const std::string_view line = newline == std::string::npos ? std::string_view(tail) : std::string_view(tail).substr(newline + 1);
  const Json json = canonical::parse(line, m_path.string() + ": last entry");
  const auto hash = json.find("hash");
  if (!json.is_object() || hash == json.end() || !hash->is_string()) {
    fail(ErrorKind::integrity, "{}: the last entry has no hash", m_path.string());
  }
  return hash->get<std::string>();
}

std::string Journal::seal(JournalEntry& entry, const Identity& actor)
{
  entry.actor = actor.pub.name;
  if (entry.host.empty()) {
    entry.host = host_name();
  }
  entry.hash.clear();
  entry.sig.clear();
  entry.hash = journal_entry_hash(entry);
  const Bytes digest = canonical::unb64(entry.hash, "journal hash");
  entry.sig = canonical::b64(actor.sign(k_journal_label, digest));
  return entry.hash;
}

Journal::Sealed Journal::prepare(JournalEntry entry, const Identity& actor, const std::string& vault_id) const
{
  repair_torn_tail(m_path);
  const std::string parent = head();
  entry.parents.clear();
  if (!parent.empty()) {
    entry.parents.push_back(parent);
  }
  entry.vault = vault_id;
  Sealed sealed;
  sealed.hash = seal(entry, actor);
  sealed.line = canonical::dump(to_json(entry));
  if (sealed.line.size() > k_max_journal_line) {
    fail(ErrorKind::failed, "{}: journal entry too large", m_path.string());
  }
  sealed.line.push_back('\n');
  return sealed;
}

std::uint64_t Journal::append(const Sealed& sealed) const
{
  return append_durably(m_path, sealed.line);
}

void Journal::undo(std::uint64_t size) const
{
  truncate_durably(m_path, size);
}

std::string Journal::append(JournalEntry entry, const Identity& actor, const std::string& vault_id) const
{
  Sealed sealed = prepare(std::move(entry), actor, vault_id);
  append(sealed);
  return sealed.hash;
}

std::vector<JournalEntry> Journal::read_all() const
{
  std::vector<JournalEntry> entries;
  const auto file = util::open_regular_if_exists(m_path, O_RDONLY, util::Links::refuse);
  if (!file) {
    return entries;
  }
  const std::string text = util::read_all(*file, m_path, std::size_t{4} << 30);
  std::size_t line_number = 0;
  for (const std::string_view line : split_json_lines(text)) {
    ++line_number;
    if (!line.empty()) {
      const std::string what = fmt::format("{}: line {}", m_path.string(), line_number);
      if (line.size() > k_max_journal_line) {
        fail(ErrorKind::integrity, "{}: entry longer than {} bytes", what, k_max_journal_line);
      }
      entries.push_back(journal_entry_from_json(canonical::parse(line, what), what));
    }
  }
  return entries;
}

} // namespace escrow
