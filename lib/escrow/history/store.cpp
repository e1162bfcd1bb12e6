#include <escrow/atomic_file.hpp>
#include <escrow/history/store.hpp>
#include <escrow/util/file.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace escrow::history {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_v1_prefix = "{\n  \"format\": \"escrow-vault/1\"";
constexpr unsigned k_file_mode = 0644; // committed to git, as v1's vault and journal

std::uint64_t size_of(const util::FileHandle& file, const fs::path& path)
{
  struct stat info{};
  if (::fstat(file.get(), &info) != 0) {
    fail(ErrorKind::io, "{}: cannot stat: {}", path.string(), std::strerror(errno));
  }
  return static_cast<std::uint64_t>(info.st_size);
}

// Reads up to `size` bytes at `offset` into `out`; fewer only when the file ends first (it
// shrank under us: what is there). Returns how many.
std::size_t pread_into(const util::FileHandle& file, const fs::path& path, std::uint64_t offset, char* out,
                       std::size_t size)
{
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(file.get(), out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(ErrorKind::io, "{}: cannot read: {}", path.string(), std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return done;
}

std::string pread_range(const util::FileHandle& file, const fs::path& path, std::uint64_t offset, std::uint64_t size)
{
  std::string out(static_cast<std::size_t>(size), '\0');
  out.resize(pread_into(file, path, offset, out.data(), out.size()));
  return out;
}

// Refuses a v1 head file with the message of vault-2-plan.md §4 question 1, before the strict v2
// reader (which a multi-megabyte v1 file would fail on its size first).
void refuse_v1(const fs::path& head)
{
  const std::optional<util::FileHandle> file = util::open_regular_if_exists(head, O_RDONLY, util::Links::refuse);
  if (!file) {
    return;
  }
  if (pread_range(*file, head, 0, k_v1_prefix.size()) == k_v1_prefix) {
    throw Error(ErrorKind::integrity,
                fmt::format("{}: escrow-vault/1 is no longer supported; this escrow reads escrow-vault/2", head.string()),
                {"a v1 vault cannot be converted (each owner would have to re-seal every secret): create an "
                 "escrow-vault/2 vault with `escrow init` and add the secrets again"});
  }
}

HeadFile read_head(const fs::path& head, const fs::path& journal)
{
  refuse_v1(head);
  if (!util::kind_of(head)) {
    // The head file is the vault (docs/FINDING.md: "escrow.vault: no such vault").
    Error error(ErrorKind::io, fmt::format("{}: no such vault", head.string()));
    if (util::kind_of(journal)) {
      error.hint(fmt::format("{} exists without its head file: restore {} (git checkout -- {})", journal.string(),
                             head.string(), head.filename().string()));
    } else {
      error.hint("create one with 'escrow init', or pass --vault PATH");
    }
    throw error;
  }
  return read_head_file(head);
}

} // namespace

VaultPaths VaultPaths::of(const fs::path& head)
{
  VaultPaths p;
  p.head = head;
  fs::path base = head;
  if (head.extension() == ".vault") {
    p.journal = fs::path(base).replace_extension(".journal");
    p.keys = fs::path(base).replace_extension(".keys");
  } else {
    p.journal = fs::path(head.string() + ".journal");
    p.keys = fs::path(head.string() + ".keys");
  }
  p.lock = fs::path(head.string() + ".lock");
  return p;
}

struct Store::Impl
{
  VaultPaths paths;
  StoreOptions options;
  std::optional<FileLock> lock;
  HeadFile head;
  std::optional<KeysFile> keys;
  std::uint64_t journal_size = 0; // complete lines only
  bool torn = false;

  void step(WriteStep s) const
  {
    if (options.after_step) {
      options.after_step(s);
    }
  }

  void require_lock(std::string_view what) const
  {
    if (!lock) {
      fail(ErrorKind::failed, "internal: {} without the vault lock", what);
    }
  }

  util::FileHandle open_journal() const { return util::open_regular(paths.journal, O_RDONLY, util::Links::refuse); }

  // Cuts a torn final fragment (a writer that died mid-append; never committed) before appending.
  void cut_torn_tail()
  {
    const util::FileHandle file = open_journal();
    const std::uint64_t size = size_of(file, paths.journal);
    if (size == 0) {
      fail(ErrorKind::integrity, "{}: empty (a vault's journal holds at least its genesis entry)", paths.journal.string());
    }
    if (pread_range(file, paths.journal, size - 1, 1) == "\n") {
      journal_size = size;
      torn = false;
      return;
    }
    // Find the last "\n" (bounded by one line's limit).
    const std::uint64_t span = std::min<std::uint64_t>(size, k_max_journal_line + 1);
    const std::string tail = pread_range(file, paths.journal, size - span, span);
    const std::size_t nl = tail.rfind('\n');
    if (nl == std::string::npos) {
      fail(ErrorKind::integrity, "{}: its last line has no end and is longer than {} bytes", paths.journal.string(),
           k_max_journal_line);
    }
    const std::uint64_t keep = size - span + nl + 1;
    truncate_durably(paths.journal, keep);
    journal_size = keep;
    torn = false;
  }
};

Store::Store(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

Store Store::open(const fs::path& head, bool lock, StoreOptions options)
{
  auto impl = std::make_unique<Impl>();
  impl->paths = VaultPaths::of(head);
  impl->options = std::move(options);
  refuse_v1(head); // before the lock: a v1 vault is not ours to lock
  if (lock) {
    impl->lock.emplace(impl->paths.lock, impl->options.lock_wait);
    cleanup_stale_temps(impl->paths.head);
    cleanup_stale_temps(impl->paths.keys);
  }
  impl->head = read_head(impl->paths.head, impl->paths.journal);
  if (!util::kind_of(impl->paths.journal)) {
    fail(ErrorKind::io, "{}: no such file (the journal of {})", impl->paths.journal.string(), head.string());
  }
  return Store(std::move(impl));
}

Store Store::create(const fs::path& head, const Entry& genesis, StoreOptions options)
{
  auto impl = std::make_unique<Impl>();
  impl->paths = VaultPaths::of(head);
  impl->options = std::move(options);
  const VaultPaths& p = impl->paths;
  if (!genesis.genesis_format || !genesis.parents.empty()) {
    fail(ErrorKind::failed, "internal: create without a genesis entry");
  }
  for (const fs::path* path : {&p.head, &p.journal, &p.keys}) {
    util::refuse_special(*path);
  }
  refuse_v1(p.head); // before the lock: a v1 vault is not ours to lock
  impl->lock.emplace(p.lock, impl->options.lock_wait);
  cleanup_stale_temps(p.head);
  cleanup_stale_temps(p.keys);
  if (util::kind_of(p.journal)) {
    throw Error(ErrorKind::usage, fmt::format("{}: already exists (a vault is there)", p.journal.string()));
  }
  // Without a journal nothing was committed: a v2 head and an empty keys file are what an init
  // that stopped before its commit point left behind. Anything else is somebody's file.
  if (util::kind_of(p.head)) {
    bool leftover = false;
    try {
      const HeadFile old = read_head_file(p.head);
      leftover = old.heads.size() == 1 && old.entries == 1;
    } catch (const Error&) {
    }
    if (!leftover) {
      throw Error(ErrorKind::usage, fmt::format("{}: already exists and is not an escrow-vault/2 head file", p.head.string()));
    }
  }
  if (util::kind_of(p.keys)) {
    bool leftover = false;
    try {
      leftover = KeysFile::open(p.keys).verify_all() == 0;
    } catch (const Error&) {
    }
    if (!leftover) {
      throw Error(ErrorKind::usage, fmt::format("{}: already exists and holds key lines", p.keys.string()));
    }
  }
  impl->head = HeadFile{genesis.vault, {genesis.hash}, 1};
  {
    AtomicFile keys(p.keys, k_file_mode);
    keys.write(serialize_keys(genesis.vault, {}));
    keys.commit();
  }
  impl->step(WriteStep::keys_written);
  {
    AtomicFile file(p.head, k_file_mode);
    file.write(serialize_head_file(impl->head));
    file.commit();
  }
  impl->step(WriteStep::head_written);
  const std::string line = dump_entry(genesis) + "\n";
  create_exclusive(p.journal, line, k_file_mode);
  fsync_directory(fs::absolute(p.journal).parent_path());
  impl->journal_size = line.size();
  impl->step(WriteStep::journal_appended);
  return Store(std::move(impl));
}

const VaultPaths& Store::paths() const
{
  return m_impl->paths;
}

const HeadFile& Store::head() const
{
  return m_impl->head;
}

bool Store::locked() const
{
  return m_impl->lock.has_value();
}

void Store::unlock()
{
  m_impl->lock.reset();
}

void Store::lock()
{
  if (m_impl->lock) {
    return;
  }
  m_impl->lock.emplace(m_impl->paths.lock, m_impl->options.lock_wait);
  cleanup_stale_temps(m_impl->paths.head);
  cleanup_stale_temps(m_impl->paths.keys);
  m_impl->head = read_head(m_impl->paths.head, m_impl->paths.journal);
  m_impl->keys.reset();
}

std::uint64_t Store::journal_size() const
{
  return m_impl->journal_size;
}

bool Store::torn_tail() const
{
  return m_impl->torn;
}

std::string Store::read_journal(std::uint64_t offset)
{
  const fs::path& path = m_impl->paths.journal;
  const util::FileHandle file = m_impl->open_journal();
  const std::uint64_t size = size_of(file, path);
  if (size > k_max_journal_size) {
    fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", path.string(), k_max_journal_size);
  }
  if (offset > size) {
    fail(ErrorKind::io, "{}: shorter than when it was read (changed on disk)", path.string());
  }
  std::string text = pread_range(file, path, offset, size - offset);
  const std::size_t last = text.rfind('\n');
  const std::size_t complete = last == std::string::npos ? 0 : last + 1;
  m_impl->torn = complete < text.size();
  text.resize(complete);
  std::size_t start = 0;
  std::uint64_t number = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    ++number;
    if (nl - start > k_max_journal_line) {
      fail(ErrorKind::integrity, "{}: a line at byte {} is longer than {} bytes", path.string(), offset + start,
           k_max_journal_line);
    }
    start = nl + 1;
  }
  if (m_impl->torn && size - offset - complete > k_max_journal_line) {
    fail(ErrorKind::integrity, "{}: its last line has no end and is longer than {} bytes", path.string(),
         k_max_journal_line);
  }
  m_impl->journal_size = offset + complete;
  return text;
}

std::optional<std::string> Store::read_line_at(std::uint64_t offset)
{
  const fs::path& path = m_impl->paths.journal;
  const util::FileHandle file = m_impl->open_journal();
  const std::uint64_t size = size_of(file, path);
  // One buffer, read into in place. A journal line is ~1-2 KB: a first read that small; a longer
  // one (a batched entry can be hundreds of KB) is read with what follows it, up to 1 MiB at a time,
  // instead of in growing pieces each copied into the line again.
  std::string line;
  std::size_t searched = 0;
  std::uint64_t want = 4096;
  while (offset + line.size() < size) {
    const std::uint64_t at = offset + line.size();
    const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(size - at, want));
    want = 1024 * 1024;
    const std::size_t before = line.size();
    line.resize(before + chunk);
    const std::size_t done = pread_into(file, path, at, line.data() + before, chunk);
    line.resize(before + done);
    const std::size_t nl = line.find('\n', searched);
    if (nl != std::string::npos) {
      if (nl > k_max_journal_line) {
        return std::nullopt;
      }
      line.resize(nl);
      return line;
    }
    if (line.size() > k_max_journal_line || done == 0) {
      return std::nullopt;
    }
    searched = line.size();
  }
  return std::nullopt;
}

const KeysFile& Store::keys()
{
  if (!m_impl->keys) {
    KeysFile file = KeysFile::open(m_impl->paths.keys);
    if (file.vault_id() != m_impl->head.vault_id) {
      fail(ErrorKind::integrity, "{}: belongs to another vault than {}", m_impl->paths.keys.string(),
           m_impl->paths.head.string());
    }
    m_impl->keys.emplace(std::move(file));
  }
  return *m_impl->keys;
}

std::string Store::append(const Entry& entry, std::span<const SealedLine> add, const std::set<std::string>& remove,
                          const HeadFile& next_head)
{
  m_impl->require_lock("a write");
  std::string line = dump_entry(entry) + "\n";
  if (line.size() > k_max_journal_line) {
    fail(ErrorKind::usage, "{}: the entry is larger than the limit of {} bytes", m_impl->paths.journal.string(),
         k_max_journal_line);
  }
  const std::string head_text = serialize_head_file(next_head); // refuses a bad head before writing
  // A write that fails before its commit point (the journal append) leaves every file as it was:
  // the keys file's old bytes are put back (best effort: the lines it gained are only garbage,
  // which verify reports and the next write removes, if even that fails).
  // The old file stays mapped (its bytes outlive the rename), so neither it nor the new one is
  // copied in memory: the new one is written as parts, its unchanged runs straight from the map.
  std::optional<KeysFile> old_keys;
  if (!add.empty() || !remove.empty()) {
    const KeysFile::Parts parts = keys().rewrite_parts(add, remove);
    old_keys.emplace(std::move(*m_impl->keys));
    m_impl->keys.reset();
    AtomicFile file(m_impl->paths.keys, k_file_mode);
    file.write(parts.views);
    file.commit();
  }
  m_impl->step(WriteStep::keys_written); // (tests: a crash here leaves the new keys file)
  try {
    m_impl->cut_torn_tail();
    append_durably(m_impl->paths.journal, line);
  } catch (...) {
    if (old_keys) {
      try {
        AtomicFile file(m_impl->paths.keys, k_file_mode);
        file.write(old_keys->bytes());
        file.commit();
      } catch (const Error&) {
        // The added lines stay as garbage (no entry names them).
      }
    }
    throw;
  }
  m_impl->journal_size += line.size();
  m_impl->step(WriteStep::journal_appended);
  // After the commit point: the operation is in the journal. A head file that could not be
  // rewritten is behind, which every reader allows (vault-2.md §3.1) and the next write repairs:
  // the command does not fail for it.
  try {
    AtomicFile file(m_impl->paths.head, k_file_mode);
    file.write(head_text);
    file.commit();
    m_impl->head = next_head;
  } catch (const Error&) {
    // Behind: this session keeps the head file it read.
  }
  m_impl->step(WriteStep::head_written);
  return line;
}

std::string Store::append_event(const Entry& entry)
{
  m_impl->require_lock("an event");
  if (entry.is_operation()) {
    fail(ErrorKind::failed, "internal: an operation written as an event");
  }
  std::string line = dump_entry(entry) + "\n";
  if (line.size() > k_max_journal_line) {
    fail(ErrorKind::usage, "{}: the entry is larger than the limit of {} bytes", m_impl->paths.journal.string(),
         k_max_journal_line);
  }
  m_impl->cut_torn_tail();
  append_durably(m_impl->paths.journal, line);
  m_impl->journal_size += line.size();
  m_impl->step(WriteStep::journal_appended);
  return line;
}

void Store::replace_journal(std::string_view text)
{
  m_impl->require_lock("a journal rewrite");
  if (text.empty() || text.back() != '\n') {
    fail(ErrorKind::failed, "internal: a journal rewrite must be complete lines");
  }
  AtomicFile file(m_impl->paths.journal, k_file_mode);
  file.write(text);
  file.commit();
  m_impl->journal_size = text.size();
  m_impl->torn = false;
}

void Store::undo_appends(std::uint64_t journal_size, std::string_view head, std::optional<std::string_view> keys)
{
  m_impl->require_lock("an undo");
  const fs::path& path = m_impl->paths.journal;
  {
    const util::FileHandle file = m_impl->open_journal();
    if (size_of(file, path) < journal_size) {
      fail(ErrorKind::io, "{}: shorter than the {} bytes it had before the undone entries", path.string(), journal_size);
    }
  }
  truncate_durably(path, journal_size);
  m_impl->journal_size = journal_size;
  m_impl->torn = false;
  if (keys) {
    m_impl->keys.reset();
    AtomicFile file(m_impl->paths.keys, k_file_mode);
    file.write(*keys);
    file.commit();
  }
  {
    AtomicFile file(m_impl->paths.head, k_file_mode);
    file.write(head);
    file.commit();
  }
  m_impl->head = read_head(m_impl->paths.head, m_impl->paths.journal);
}

void Store::remove_key_lines(const std::set<std::string>& remove)
{
  m_impl->require_lock("a keys rewrite");
  if (remove.empty()) {
    return;
  }
  const KeysFile::Parts parts = keys().rewrite_parts({}, remove);
  AtomicFile file(m_impl->paths.keys, k_file_mode);
  file.write(parts.views);
  file.commit();
  m_impl->keys.reset(); // after the write: the parts are views of its bytes
}

} // namespace escrow::history
