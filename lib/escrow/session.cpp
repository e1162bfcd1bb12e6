#include <escrow/agent.hpp>
#include <escrow/atomic_file.hpp>
#include <escrow/error.hpp>
#include <escrow/git/history.hpp>
#include <escrow/session.hpp>
#include <escrow/util/file.hpp>
#include <escrow/util/terminal.hpp>

#include <cstdlib>
#include <fcntl.h>

#include <sys/stat.h>

namespace escrow {

namespace fs = std::filesystem;

namespace {


fs::path known_path(const fs::path& state_dir)
{
  return state_dir / "known.json";
}

Json read_known(const fs::path& state_dir)
{
  const fs::path path = known_path(state_dir);
  const auto file = util::open_regular_if_exists(path, O_RDONLY, util::Links::refuse);
  if (!file) {
    return Json{{"format", "escrow-known/1"}, {"vaults", Json::object()}};
  }
  Json json = canonical::parse(util::read_all(*file, path, 16 << 20), path.string());
  if (!json.is_object() || !json.contains("vaults") || !json["vaults"].is_object()) {
    fail(ErrorKind::integrity, "{}: not an escrow pin file", path.string());
  }
  return json;
}

// The key of this machine's pins (Session::pin_key): the vault id, and in a git work tree the
// place too. Returns whether the vault is in a work tree.
bool choose_pin_key(const std::string& vault_id, const fs::path& vault_path, std::string& key, bool& detached)
{
  key = vault_id;
  const std::optional<git::Place> place = git::place_of(vault_path);
  if (place) {
    key += " " + place->key();
    detached = !place->branch;
  }
  return place.has_value();
}

} // namespace


std::optional<Pin> read_pin(const fs::path& state_dir, const std::string& vault_id)
{
  const Json known = read_known(state_dir);
  const auto it = known["vaults"].find(vault_id);
  if (it == known["vaults"].end()) {
    return std::nullopt;
  }
  const Json& entry = *it;
  Pin pin;
  if (!entry.is_object() || !entry.value("genesis", Json()).is_string()
      || !entry.value("revision", Json()).is_number_integer() || !entry.value("head", Json()).is_string()) {
    fail(ErrorKind::integrity, "{}: malformed entry for vault {}", known_path(state_dir).string(), vault_id);
  }
  pin.genesis = entry["genesis"].get<std::string>();
  pin.revision = entry["revision"].get<std::int64_t>();
  pin.head = entry["head"].get<std::string>();
  if (const auto field = entry.find("journal_head"); field != entry.end() && field->is_string()) {
    pin.journal_head = field->get<std::string>();
  }
  if (const auto field = entry.find("journal_size"); field != entry.end() && field->is_number_integer()
      && field->get<std::int64_t>() >= 0) {
    pin.journal_size = static_cast<std::uint64_t>(field->get<std::int64_t>());
  }
  return pin;
}

void pin_journal(const fs::path& state_dir, const std::string& vault_id, const std::string& head, std::uint64_t size)
{
  fs::create_directories(state_dir);
  FileLock lock(state_dir / "known.json.lock", std::chrono::seconds(30));
  Json known = read_known(state_dir);
  const auto it = known["vaults"].find(vault_id);
  if (it == known["vaults"].end() || !it->is_object()) {
    return;
  }
  (*it)["journal_head"] = head;
  (*it)["journal_size"] = size;
  AtomicFile file(known_path(state_dir));
  file.write(canonical::dump_pretty(known) + "\n");
  file.commit();
}

Session::Session(SessionOptions options)
  : m_options(std::move(options)), m_journal(Journal::path_for(m_options.vault_path))
{
  m_now = m_options.clock.now();
}

Session::~Session() = default;

Session Session::open(const SessionOptions& options, Mode mode)
{
  Session session(options);
  const fs::path& path = session.m_options.vault_path;
  const auto kind = util::kind_of(path);
  if (!kind) {
    throw Error(ErrorKind::io, fmt::format("{}: no such vault", path.string()))
      .hint("create one with 'escrow init', or pass --vault PATH");
  }
  // A vault that is a symbolic link is refused, for reading as for writing (docs/SECURITY.md):
  // anyone who can push can plant one.
  util::refuse_special(path);
  if (mode == Mode::write) {
    session.m_lock.emplace(fs::path(path.string() + ".lock"), session.m_options.lock_wait);
    cleanup_stale_temps(path);
  }
  for (int attempt = 1;; ++attempt) {
    // A reader maps the file and reads only what it uses; a writer keeps a private copy (it
    // rewrites the file from it, and compares it with the file before saving).
    if (mode == Mode::write) {
      session.m_vault.emplace(Vault::parse(read_file(path, k_max_vault_size), path.string(), Vault::Reading::lazy));
    } else {
      session.m_vault.emplace(Vault::read(path));
    }
    try {
      session.check_pins();
      break;
    } catch (const Error& error) {
      // A reader holds no lock: a writer may have replaced the vault and raised the pin between
      // this read and the check. That is no rollback; read the new file.
      if (mode == Mode::write || error.kind() != ErrorKind::integrity || attempt == 5
          || read_file(path, k_max_vault_size) == session.m_vault->bytes()) {
        throw;
      }
    }
  }
  if (mode == Mode::write) {
    session.check_history(); // every writer, before it writes (and before any prompt)
  }
  session.m_identity = load_identity(session.m_options);
  session.check_membership();
  if (session.m_rollback_from) {
    // DESIGN §3: accepting an older revision is journaled.
    JournalEntry entry;
    entry.action = JournalAction::allow_rollback;
    entry.detail = Json{{"revision", session.m_vault->revision()}, {"seen", *session.m_rollback_from}};
    session.record(std::move(entry));
  }
  return session;
}

Session Session::create(const SessionOptions& options)
{
  Session session(options);
  const fs::path& path = session.m_options.vault_path;
  util::refuse_special(path);
  util::refuse_special(session.m_journal.path());
  if (util::kind_of(path)) {
    fail(ErrorKind::usage, "{}: already exists; refusing to overwrite", path.string());
  }
  if (util::kind_of(session.m_journal.path()) && fs::file_size(session.m_journal.path()) > 0) {
    fail(ErrorKind::usage, "{}: a journal already exists here; refusing to start a new vault over it",
         session.m_journal.path().string());
  }
  session.m_identity = load_identity(session.m_options);
  session.m_lock.emplace(fs::path(path.string() + ".lock"), session.m_options.lock_wait);
  session.m_vault.emplace(Vault::create(session.m_identity, session.m_now));
  choose_pin_key(session.m_vault->id_b64(), path, session.m_pin_key, session.m_detached);
  return session;
}

std::vector<std::string> Session::check_history()
{
  if (m_history) {
    return *m_history;
  }
  std::vector<std::string> warnings;
  if (const std::optional<git::Repo> repo = git::Repo::find(m_options.vault_path)) {
    git::FreshnessInput input;
    input.vault_rel = repo->relative(m_options.vault_path);
    input.journal_rel = repo->relative(m_journal.path());
    input.working_revision = m_vault->revision();
    input.working_vault_id = m_vault->id_b64();
    input.cache = m_options.state_dir;
    if (util::kind_of(m_journal.path())) {
      input.working_journal = read_file(m_journal.path(), std::size_t{1} << 32);
    }
    warnings = git::check_freshness(*repo, input).warnings;
  }
  m_history = warnings;
  return warnings;
}

void Session::check_membership()
{
  const fs::path& path = m_options.vault_path;
  const MemberRecord* me = m_vault->member(m_identity.pub.name);
  if (me == nullptr || me->sign_pk != m_identity.pub.sign_pk || me->box_pk != m_identity.pub.box_pk) {
    throw Error(ErrorKind::access,
                fmt::format("{}: {} ({}) is not a member of this vault", path.string(), m_identity.pub.name,
                            m_identity.pub.fingerprint()))
      .hint("an admin adds members with: escrow member add PUBFILE --role ROLE --env ENV");
  }
  if (!me->active()) {
    fail(ErrorKind::access, "{}: {} was removed from this vault on {}", path.string(), me->name,
         format_time(*me->removed_at));
  }
}

void Session::upgrade()
{
  if (m_lock) {
    return;
  }
  const fs::path& path = m_options.vault_path;
  m_lock.emplace(fs::path(path.string() + ".lock"), m_options.lock_wait);
  cleanup_stale_temps(path);
  m_vault.emplace(Vault::parse(read_file(path, k_max_vault_size), path.string(), Vault::Reading::lazy));
  check_pins();
  check_membership();
}

void Session::record_refusal(JournalEntry entry, const Error& error)
{
  entry.result = JournalResult::denied;
  entry.detail["reason"] = error.what();
  record(std::move(entry));
}

Session create_vault(const SessionOptions& options)
{
  Session session = Session::create(options);
  JournalEntry entry;
  entry.action = JournalAction::init;
  session.commit(std::move(entry));
  return session;
}

const MemberRecord& Session::me() const
{
  return *m_vault->member(m_identity.pub.name);
}

void Session::check_pins()
{
  const Vault& vault = *m_vault;
  const std::string genesis = vault.genesis().fingerprint();
  if (choose_pin_key(vault.id_b64(), m_options.vault_path, m_pin_key, m_detached)) {
    // Each clone and branch has its own pins (issue 9 item 5); the vault's genesis is one.
    const auto base = read_pin(m_options.state_dir, vault.id_b64());
    if (base && base->genesis != genesis) {
      fail(ErrorKind::integrity,
           "{}: vault {} was first seen here with genesis admin {}, this file names {} (replaced?)", vault.what(),
           vault.id_b64(), base->genesis, genesis);
    }
  }
  const auto pin = read_pin(m_options.state_dir, m_pin_key);
  if (!pin) {
    update_pins(vault.revision(), vault.head());
    return;
  }
  if (pin->genesis != genesis) {
    fail(ErrorKind::integrity,
         "{}: vault {} was first seen here with genesis admin {}, this file names {} (replaced?)",
         vault.what(), vault.id_b64(), pin->genesis, genesis);
  }
  if (m_detached) {
    return; // looking at an older commit is no rollback; check_history() judges the branch
  }
  if (vault.revision() < pin->revision || (vault.revision() == pin->revision && vault.head() != pin->head)) {
    if (!m_options.allow_rollback && m_pin_key != vault.id_b64()) {
      check_history(); // in a work tree, history names the commit that went back
    }
    if (!m_options.allow_rollback) {
      throw Error(ErrorKind::integrity,
                  fmt::format("{}: rolled back: this is revision {}, this machine has already seen revision {}{}",
                              vault.what(), vault.revision(), pin->revision,
                              vault.revision() == pin->revision ? " with different content" : ""))
        .hint("if the older revision is intended (e.g. a git revert), pass --allow-rollback");
    }
    m_rollback_from = pin->revision;
    update_pins(vault.revision(), vault.head());
    return;
  }
  if (vault.revision() > pin->revision) {
    update_pins(vault.revision(), vault.head());
  }
}

void Session::update_pins(std::int64_t revision, const std::string& head, const std::string& journal_head,
                          std::uint64_t journal_size)
{
  fs::create_directories(m_options.state_dir);
  FileLock lock(m_options.state_dir / "known.json.lock", std::chrono::seconds(30));
  cleanup_stale_temps(known_path(m_options.state_dir));
  Json known = read_known(m_options.state_dir);
  const std::string genesis = m_vault->genesis().fingerprint();
  if (m_pin_key != m_vault->id_b64()) {
    // The vault's own entry keeps the genesis and the newest revision seen anywhere on this
    // machine (restore compares a backup with it).
    Json& base = known["vaults"][m_vault->id_b64()];
    if (!base.is_object() || !base.contains("revision") || !base["revision"].is_number_integer()
        || base["revision"].get<std::int64_t>() < revision) {
      Json updated{{"genesis", genesis}, {"revision", revision}, {"head", head}};
      for (const char* key : {"journal_head", "journal_size"}) {
        if (base.is_object() && base.contains(key)) {
          updated[key] = base[key];
        }
      }
      base = std::move(updated);
    }
  }
  Json& entry = known["vaults"][m_pin_key];
  const bool newer_seen = entry.is_object() && entry.contains("revision") && entry["revision"].is_number_integer()
                          && entry["revision"].get<std::int64_t>() > revision && !m_options.allow_rollback;
  if (newer_seen && journal_head.empty()) {
    return; // another process has seen a newer one meanwhile
  }
  if (!newer_seen) {
    Json updated{{"genesis", genesis}, {"revision", revision}, {"head", head}};
    for (const char* key : {"journal_head", "journal_size"}) {
      if (entry.is_object() && entry.contains(key)) {
        updated[key] = entry[key];
      }
    }
    entry = std::move(updated);
  }
  if (!journal_head.empty()) {
    // pin_journal's fields, in the same write (one fsync'd rewrite of known.json, not two).
    entry["journal_head"] = journal_head;
    entry["journal_size"] = journal_size;
  }
  AtomicFile file(known_path(m_options.state_dir));
  file.write(canonical::dump_pretty(known) + "\n");
  file.commit();
}

std::string Session::record(JournalEntry entry)
{
  std::optional<FileLock> lock;
  if (!m_lock) {
    lock.emplace(fs::path(m_options.vault_path.string() + ".lock"), m_options.lock_wait);
  }
  entry.ts = m_now;
  const Journal::Sealed sealed = m_journal.prepare(std::move(entry), m_identity, m_vault->id_b64());
  const std::uint64_t before = m_journal.append(sealed);
  try {
    pin_journal(m_options.state_dir, m_pin_key, sealed.hash, before + sealed.line.size());
  } catch (const Error&) {
    // The entry is durable: the event happened. The pin is refreshed by the next append.
  }
  return sealed.hash;
}

void Session::commit(JournalEntry entry)
{
  if (!m_lock) {
    fail(ErrorKind::failed, "internal: commit without the vault lock");
  }
  const fs::path& path = m_options.vault_path;
  if (!m_vault->text().empty()) {
    check_history();
    // Refuse to save over a vault that changed on disk since it was read.
    if (read_file(path, k_max_vault_size) != m_vault->bytes()) {
      fail(ErrorKind::io, "{}: changed on disk while this command ran; nothing was written", path.string());
    }
  }
  entry.ts = m_now;
  entry.detail["revision"] = m_vault->revision() + 1;
  // A refused command writes nothing (issue 16): everything that can refuse or fail runs before
  // the journal grows. The entry is sealed (not appended); the next revision is serialized,
  // which re-verifies every changed record and, for a lazily read vault, the layout of the
  // records the command never read; it is written to a temp file and synced (disk full shows
  // here). Only then the append, then the rename, the commit point; a failed rename cuts the
  // journal back to its size before the append.
  const Journal::Sealed sealed = m_journal.prepare(std::move(entry), m_identity, m_vault->id_b64());
  std::string text = m_vault->serialize(m_identity, sealed.hash);
  AtomicFile file(path, 0644);
  file.write(text);
  file.sync();
  const std::uint64_t before = m_journal.append(sealed);
  try {
    file.commit();
  } catch (const Error&) {
    try {
      m_journal.undo(before);
    } catch (const Error&) {
      // The entry stays as "intent not applied" (audit verify reports it as a warning).
    }
    throw;
  }
  try {
    update_pins(m_vault->written_revision(), m_vault->written_head(), sealed.hash, before + sealed.line.size());
  } catch (const Error&) {
    // The revision is written: the command happened. The pins are raised by the next command
    // that opens the vault (a newer revision is pinned on sight).
  }
  m_vault.emplace(Vault::parse(std::move(text), path.string(), Vault::Reading::lazy));
}

} // namespace escrow
