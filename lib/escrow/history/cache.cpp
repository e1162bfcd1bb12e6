#include <escrow/atomic_file.hpp>
#include <escrow/canonical.hpp>
#include <escrow/history/cache.hpp>
#include <escrow/history/json_read.hpp>
#include <escrow/history/labels.hpp>
#include <escrow/lock.hpp>
#include <escrow/util/file.hpp>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fcntl.h>
#include <sys/stat.h>

namespace escrow::history {

namespace fs = std::filesystem;
namespace jr = json_read;

namespace {

constexpr std::string_view k_verified_format = "escrow-verified/2";
constexpr std::string_view k_verified_format_v1 = "escrow-verified/1";
constexpr std::string_view k_state_format = "escrow-state/2";
constexpr std::size_t k_max_verified_size = 64 * 1024 * 1024; // heads ≤ 256: tiny; bound anyway
constexpr std::size_t k_max_cache_file = std::size_t{4} << 30;
constexpr std::int64_t k_max_count = std::int64_t{1} << 53;
constexpr std::uint64_t k_max_record = std::uint64_t{1} << 30;

Error corrupt(const fs::path& file, std::string_view problem, const fs::path& place)
{
  return Error(ErrorKind::integrity, fmt::format("{}: {} (this machine's verified-state cache)", file.string(), problem),
               {fmt::format("remove {} to verify the vault from its journal again (this machine then forgets which "
                            "entries it had verified)",
                            place.string())});
}

std::string snap_name(const Hash& digest)
{
  return "state2-" + canonical::hex(digest) + ".snap"; // state-*.snap: escrow-state/1, removed
}

Json hashes_json(const std::vector<Hash>& hashes)
{
  Json out = Json::array();
  for (const Hash& h : hashes) {
    out.push_back(canonical::b64(h));
  }
  return out;
}

std::string log_line(const VerifiedEntry& e)
{
  return fmt::format("{} {} {} {}\n", canonical::b64(e.hash), e.ts, e.action, e.actor);
}

// The first `count` lines of `text` (exactly its bytes), checked against `chain` unless
// `check_chain` is false (an escrow-verified/1 place).
std::vector<VerifiedEntry> parse_log(std::string_view text, std::size_t count, const Hash& chain, bool check_chain,
                                     const fs::path& file, const fs::path& place)
{
  std::vector<VerifiedEntry> out;
  out.reserve(count);
  std::size_t start = 0;
  Hash running{};
  while (out.size() < count) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      throw corrupt(file, fmt::format("holds {} entries, {} expected", out.size(), count), place);
    }
    const std::string_view line = text.substr(start, nl - start);
    if (check_chain) {
      running = log_chain(running, text.substr(start, nl + 1 - start));
    }
    std::vector<std::string_view> parts;
    std::size_t p = 0;
    for (int i = 0; i < 3; ++i) {
      const std::size_t sp = line.find(' ', p);
      if (sp == std::string_view::npos) {
        break;
      }
      parts.push_back(line.substr(p, sp - p));
      p = sp + 1;
    }
    parts.push_back(line.substr(p));
    VerifiedEntry e;
    bool ok = parts.size() == 4 && !parts[2].empty() && !parts[3].empty();
    if (ok) {
      try {
        const Bytes raw = canonical::unb64(parts[0], file.string());
        ok = raw.size() == e.hash.size();
        if (ok) {
          std::copy(raw.begin(), raw.end(), e.hash.begin());
        }
      } catch (const Error&) {
        ok = false;
      }
      const auto [ptr, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), e.ts);
      ok = ok && ec == std::errc{} && ptr == parts[1].data() + parts[1].size();
      e.action = std::string(parts[2]);
      e.actor = std::string(parts[3]);
    }
    if (!ok) {
      throw corrupt(file, fmt::format("line {} is malformed", out.size() + 1), place);
    }
    out.push_back(std::move(e));
    start = nl + 1;
  }
  if (start != text.size()) {
    throw corrupt(file, "its entries do not end where verified.json says", place);
  }
  if (check_chain && running != chain) {
    throw corrupt(file, "its entries are not the ones verified.json names (chain hash)", place);
  }
  return out;
}

struct SnapRecord
{
  std::string path;
  std::string text; // canonical
};

std::string serialize_state(const State& state)
{
  std::vector<SnapRecord> records;
  for (const std::string& path : state.paths()) {
    records.push_back(SnapRecord{path, canonical::dump(*state.record(path))});
  }
  std::string index;
  for (const SnapRecord& r : records) {
    index += fmt::format("{}\t{}\t{}\n", r.path, canonical::b64(record_hash_of_text(r.path, r.text)), r.text.size());
  }
  Json meta = Json::object();
  meta["format"] = std::string(k_state_format);
  meta["genesis"] = state.genesis_name;
  meta["index"] = index.size();
  meta["lost"] = hashes_json(std::vector<Hash>(state.lost.begin(), state.lost.end()));
  meta["vault_id"] = canonical::b64(state.vault_id);
  std::string out = canonical::dump(meta) + "\n" + index;
  for (const SnapRecord& r : records) {
    out += r.text;
    out += '\n';
  }
  return out;
}

// The snapshot file, open for the records a state reads on first use.
class SnapSource final : public RecordSource
{
public:
  SnapSource(util::FileHandle file, fs::path path, fs::path place, std::uint64_t base)
    : m_file(std::move(file)), m_path(std::move(path)), m_place(std::move(place)), m_base(base)
  {
  }

  std::string read(std::uint64_t offset, std::uint64_t length) const override
  {
    return pread_exact(m_file, m_path, m_place, m_base + offset, length);
  }

  [[noreturn]] void corrupt(std::string_view path, std::string_view problem) const override
  {
    throw history::corrupt(m_path, fmt::format("record {}: {}", path, problem), m_place);
  }

  static std::string pread_exact(const util::FileHandle& file, const fs::path& path, const fs::path& place,
                                 std::uint64_t offset, std::uint64_t length)
  {
    std::string out(static_cast<std::size_t>(length), '\0');
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(file.get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        throw history::corrupt(path, n == 0 ? "shorter than its index says" : "cannot be read", place);
      }
      done += static_cast<std::size_t>(n);
    }
    return out;
  }

private:
  util::FileHandle m_file;
  fs::path m_path;
  fs::path m_place;
  std::uint64_t m_base = 0;
};

template <class T>
void set_lazy(RecordMap<T>& map, const std::shared_ptr<const RecordSource>& source, std::vector<PendingRecord> index)
{
  auto lazy = std::make_shared<typename RecordMap<T>::Lazy>();
  lazy->source = source;
  lazy->index = std::move(index);
  map = RecordMap<T>(std::move(lazy));
}

// Opens `file` as a state snapshot: its first line, its index (checked against `digest`), the
// policy; every other record pending.
State open_state(const fs::path& file, const Hash& digest, const VaultId& vault_id, const fs::path& place)
{
  std::optional<util::FileHandle> handle = util::open_regular_if_exists(file, O_RDONLY, util::Links::refuse);
  if (!handle) {
    throw corrupt(file, "missing", place);
  }
  struct stat info {};
  if (::fstat(handle->get(), &info) != 0) {
    throw corrupt(file, "cannot be read", place);
  }
  const auto file_size = static_cast<std::uint64_t>(info.st_size);
  // The first line: read in growing pieces (the "lost" list is its only long part).
  std::string head;
  std::size_t nl = std::string::npos;
  for (std::uint64_t want = 4096; nl == std::string::npos; want *= 4) {
    if (head.size() >= file_size || head.size() >= k_max_verified_size) {
      throw corrupt(file, "its first line has no end", place);
    }
    const std::uint64_t take = std::min<std::uint64_t>(want, file_size) - head.size();
    head += SnapSource::pread_exact(*handle, file, place, head.size(), take);
    nl = head.find('\n');
  }
  State state;
  std::uint64_t index_size = 0;
  const std::string where = file.string() + ": line 1";
  try {
    const Json meta = canonical::parse(std::string_view(head).substr(0, nl), where);
    jr::Fields f(meta, where, ": ");
    if (jr::string(f.need("format"), f.at("format")) != k_state_format) {
      throw corrupt(file, "not an escrow-state/2 file", place);
    }
    state.genesis_name = jr::string(f.need("genesis"), f.at("genesis"));
    index_size = static_cast<std::uint64_t>(jr::integer(f.need("index"), f.at("index"), 0, k_max_count));
    for (const Json& h : jr::array(f.need("lost"), f.at("lost"), std::size_t{1} << 24)) {
      state.lost.insert(jr::fixed_b64<32>(h, f.at("lost")));
    }
    state.vault_id = jr::fixed_b64<16>(f.need("vault_id"), f.at("vault_id"));
    f.finish();
  } catch (const Error& error) {
    if (error.hints().empty()) {
      throw corrupt(file, fmt::format("malformed ({})", error.what()), place);
    }
    throw;
  }
  if (state.vault_id != vault_id) {
    throw corrupt(file, "belongs to another vault", place);
  }
  const std::uint64_t index_at = nl + 1;
  if (index_size > file_size - index_at) {
    throw corrupt(file, "shorter than its index says", place);
  }
  const std::string index = SnapSource::pread_exact(*handle, file, place, index_at, index_size);
  // Index lines: PATH \t HASH \t LENGTH, paths strictly increasing; the digest over them.
  std::vector<PendingRecord> members;
  std::vector<PendingRecord> connectors;
  std::vector<PendingRecord> secrets;
  std::optional<PendingRecord> policy;
  crypto::Hasher hasher;
  hasher.update(as_bytes(labels::k_state));
  const std::uint8_t zero = 0;
  hasher.update(ByteView(&zero, 1));
  std::uint64_t offset = 0;
  std::string_view previous;
  std::size_t start = 0;
  std::size_t number = 1;
  while (start < index.size()) {
    ++number;
    const std::size_t end = index.find('\n', start);
    const std::string_view line = std::string_view(index).substr(start, end == std::string::npos ? end : end - start);
    const std::size_t t1 = line.find('\t');
    const std::size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    PendingRecord p;
    std::optional<ParsedPath> parsed;
    bool ok = end != std::string::npos && t2 != std::string_view::npos;
    if (ok) {
      const std::string_view path = line.substr(0, t1);
      parsed = parse_path(path);
      ok = parsed && parsed->kind != PathKind::key && (previous.empty() || previous < path) && t2 - t1 - 1 == 44;
      if (ok) {
        try {
          const Bytes raw = canonical::unb64(line.substr(t1 + 1, 44), file.string());
          ok = raw.size() == p.hash.size();
          if (ok) {
            std::copy(raw.begin(), raw.end(), p.hash.begin());
          }
        } catch (const Error&) {
          ok = false;
        }
        const std::string_view len = line.substr(t2 + 1);
        const auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), p.length);
        ok = ok && ec == std::errc{} && ptr == len.data() + len.size() && p.length > 0 && p.length <= k_max_record;
      }
      if (ok) {
        previous = path;
        hasher.update(as_bytes(path));
        hasher.update(ByteView(&zero, 1));
        hasher.update(ByteView(p.hash.data(), p.hash.size()));
        p.name = parsed->name;
        p.offset = offset;
        offset += p.length + 1;
      }
    }
    if (!ok) {
      throw corrupt(file, fmt::format("line {} is malformed", number), place);
    }
    switch (parsed->kind) {
    case PathKind::member: members.push_back(std::move(p)); break;
    case PathKind::connector: connectors.push_back(std::move(p)); break;
    case PathKind::secret: secrets.push_back(std::move(p)); break;
    case PathKind::policy: policy = std::move(p); break;
    case PathKind::key: break;
    }
    start = end + 1;
  }
  if (hasher.finish() != digest) {
    throw corrupt(file, "its records do not hash to the digest it is named by", place);
  }
  if (index_at + index_size + offset != file_size) {
    throw corrupt(file, "its size is not the one its index says", place);
  }
  auto source = std::make_shared<const SnapSource>(std::move(*handle), file, place, index_at + index_size);
  if (policy) {
    const std::string text = source->read(policy->offset, policy->length);
    if (record_hash_of_text(k_policy_path, text) != policy->hash) {
      source->corrupt(k_policy_path, "its text does not hash to the hash its index names");
    }
    try {
      auto value = std::make_shared<const Policy>(policy_from_json(canonical::parse(text, file.string()), file.string()));
      if (canonical::dump(to_json(*value)) != text) {
        source->corrupt(k_policy_path, "its text is not the canonical form of its record");
      }
      state.policy = std::move(value);
    } catch (const Error& error) {
      if (!error.hints().empty()) {
        throw;
      }
      source->corrupt(k_policy_path, error.what());
    }
  }
  set_lazy(state.members, source, std::move(members));
  set_lazy(state.connectors, source, std::move(connectors));
  set_lazy(state.secrets, source, std::move(secrets));
  state.initialised = true;
  return state;
}

std::optional<std::string> read_if_exists(const fs::path& path, std::size_t max)
{
  if (!util::kind_of(path)) {
    return std::nullopt;
  }
  return read_file(path, max);
}

} // namespace

Hash log_chain(const Hash& previous, std::string_view line)
{
  std::string input(reinterpret_cast<const char*>(previous.data()), previous.size());
  input.append(line);
  return crypto::hash(labels::k_cache_log, as_bytes(input));
}

VerifiedEntry verified_entry(const Entry& entry)
{
  return VerifiedEntry{entry.hash, entry.ts, action_name(entry.action), entry.actor};
}

fs::path Cache::place(const fs::path& state_home, const VaultId& vault_id, const fs::path& journal,
                      std::string_view branch)
{
  std::error_code ec;
  fs::path where = fs::weakly_canonical(fs::absolute(journal), ec);
  if (ec) {
    where = fs::absolute(journal);
  }
  std::string input = where.string();
  input.push_back('\0');
  input.append(branch);
  const auto place = crypto::hash16(labels::k_cache_place, as_bytes(input));
  return state_home / "escrow" / "vaults" / canonical::hex(vault_id) / canonical::hex(place);
}

Cache::Cache(fs::path dir, VaultId vault_id) : m_dir(std::move(dir)), m_vault_id(vault_id) {}

std::optional<Verified> Cache::load() const
{
  if (!util::kind_of(m_dir / "verified.json")) {
    return std::nullopt;
  }
  const FileLock lock(m_dir / "lock", std::chrono::seconds(30));
  const fs::path verified_path = m_dir / "verified.json";
  const std::optional<std::string> text = read_if_exists(verified_path, k_max_verified_size);
  if (!text) {
    return std::nullopt;
  }
  Verified v;
  Hash digest{};
  try {
    if (text->empty() || text->back() != '\n') {
      throw corrupt(verified_path, "not a complete file", m_dir);
    }
    const Json json = canonical::parse(std::string_view(*text).substr(0, text->size() - 1), verified_path.string());
    const std::string where = verified_path.string();
    jr::Fields f(json, where, ": ");
    const std::string format = jr::string(f.need("format"), f.at("format"));
    if (format != k_verified_format && format != k_verified_format_v1) {
      throw corrupt(verified_path, "not an escrow-verified/2 file", m_dir);
    }
    v.legacy = format == k_verified_format_v1;
    {
      const Json& log = jr::object(f.need("log"), f.at("log"));
      jr::Fields l(log, f.at("log"));
      if (!v.legacy) {
        v.log.chain = jr::fixed_b64<32>(l.need("chain"), l.at("chain"));
      }
      v.log.count = static_cast<std::uint64_t>(jr::integer(l.need("count"), l.at("count"), 0, k_max_count));
      v.log.size = static_cast<std::uint64_t>(jr::integer(l.need("size"), l.at("size"), 0, k_max_count));
      l.finish();
    }
    {
      const Json& pos = jr::object(f.need("position"), f.at("position"));
      jr::Fields p(pos, f.at("position"));
      v.position.entries = static_cast<std::uint64_t>(jr::integer(p.need("entries"), p.at("entries"), 1, k_max_count));
      for (const Json& h : jr::array(p.need("heads"), p.at("heads"), 256)) {
        v.position.heads.push_back(jr::fixed_b64<32>(h, p.at("heads")));
      }
      v.position.last_hash = jr::fixed_b64<32>(p.need("last_hash"), p.at("last_hash"));
      v.position.last_offset = static_cast<std::uint64_t>(jr::integer(p.need("last_offset"), p.at("last_offset"), 0, k_max_count));
      v.position.lines = static_cast<std::uint64_t>(jr::integer(p.need("lines"), p.at("lines"), 1, k_max_count));
      v.position.ts = jr::time(p.need("ts"), p.at("ts"));
      v.position.size = static_cast<std::uint64_t>(jr::integer(p.need("size"), p.at("size"), 1, k_max_count));
      p.finish();
    }
    if (const Json* git = f.maybe("git")) {
      jr::Fields g(jr::object(*git, f.at("git")), f.at("git"));
      v.git_checked_through = jr::string(g.need("checked_through"), g.at("checked_through"));
      g.finish();
      if (v.git_checked_through.size() < 40 || v.git_checked_through.size() > 64
          || v.git_checked_through.find_first_not_of("0123456789abcdef") != std::string::npos) {
        throw corrupt(verified_path, "git.checked_through is not a commit id", m_dir);
      }
    }
    digest = jr::fixed_b64<32>(f.need("state"), f.at("state"));
    v.state_digest = digest;
    if (jr::fixed_b64<16>(f.need("vault_id"), f.at("vault_id")) != m_vault_id) {
      throw corrupt(verified_path, "belongs to another vault", m_dir);
    }
    f.finish();
    if (v.position.heads.empty() || v.position.last_offset >= v.position.size || v.log.count == 0
        || v.log.size < v.log.count * 51) { // a log line is ≥ 51 bytes
      throw corrupt(verified_path, "inconsistent position", m_dir);
    }
  } catch (const Error& error) {
    if (error.hints().empty()) {
      throw corrupt(verified_path, fmt::format("malformed ({})", error.what()), m_dir);
    }
    throw;
  }
  // The log must hold at least what verified.json names (a longer one is an interrupted save).
  const fs::path log_path = m_dir / "entries.log";
  std::error_code ec;
  const std::uintmax_t log_size = util::kind_of(log_path) ? fs::file_size(log_path, ec) : 0;
  if (ec || log_size < v.log.size) {
    throw corrupt(log_path, "shorter than verified.json says", m_dir);
  }
  if (v.legacy) {
    return v; // only the log is used: the session replays the journal and rewrites the place
  }
  v.state = open_state(m_dir / snap_name(digest), digest, m_vault_id, m_dir);
  return v;
}

std::vector<VerifiedEntry> Cache::entries(const LogSummary& log) const
{
  const fs::path log_path = m_dir / "entries.log";
  const std::optional<util::FileHandle> file = util::open_regular_if_exists(log_path, O_RDONLY, util::Links::refuse);
  if (!file) {
    throw corrupt(log_path, "shorter than verified.json says", m_dir);
  }
  if (log.size > k_max_cache_file) {
    throw corrupt(log_path, "too large", m_dir);
  }
  std::string text(static_cast<std::size_t>(log.size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::pread(file->get(), text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw corrupt(log_path, "shorter than verified.json says", m_dir);
    }
    done += static_cast<std::size_t>(n);
  }
  // A legacy (escrow-verified/1) summary has no chain: its zero chain is not checked.
  const bool check_chain = log.chain != Hash{};
  return parse_log(text, static_cast<std::size_t>(log.count), log.chain, check_chain, log_path, m_dir);
}

std::optional<LogSummary> Cache::save(const Position& position, const State& state,
                                      const std::string& git_checked_through, const LogSummary& base,
                                      const std::vector<VerifiedEntry>& added, std::optional<Hash> digest) const
{
  if (base.count + added.size() == 0) {
    fail(ErrorKind::failed, "internal: cache save with an empty log");
  }
  fs::create_directories(m_dir);
  ::chmod(m_dir.c_str(), 0700);
  const FileLock lock(m_dir / "lock", std::chrono::seconds(30));
  const fs::path log_path = m_dir / "entries.log";
  const fs::path verified_path = m_dir / "verified.json";
  if (base.count > 0) {
    // Appending to `base`: the place must still hold exactly it (another process may have saved
    // since; then its save stands, and ours is not needed: the next open verifies from there).
    std::optional<LogSummary> now;
    try {
      if (const std::optional<std::string> text = read_if_exists(verified_path, k_max_verified_size)) {
        const Json json = canonical::parse(std::string_view(*text).substr(0, text->empty() ? 0 : text->size() - 1),
                                           verified_path.string());
        if (json.value("format", "") == k_verified_format) {
          const Json& log = json.at("log");
          LogSummary s;
          s.count = log.at("count").get<std::uint64_t>();
          s.size = log.at("size").get<std::uint64_t>();
          s.chain = jr::fixed_b64<32>(log.at("chain"), "chain");
          now = s;
        }
      }
    } catch (const std::exception&) {
      now.reset();
    }
    if (!now || *now != base) {
      return std::nullopt;
    }
  }
  // The log: cut anything an interrupted save left beyond `base`, then append.
  {
    std::error_code ec;
    const bool exists = util::kind_of(log_path).has_value();
    const std::uintmax_t size = exists ? fs::file_size(log_path, ec) : 0;
    if (ec || size < base.size) {
      throw corrupt(log_path, "shorter than the entries it should hold", m_dir);
    }
    if (exists && size > base.size) {
      truncate_durably(log_path, base.size);
    }
  }
  LogSummary next = base;
  std::string add;
  for (const VerifiedEntry& e : added) {
    const std::string line = log_line(e);
    next.chain = log_chain(next.chain, line);
    add += line;
  }
  next.count += added.size();
  next.size += add.size();
  if (!add.empty() || !util::kind_of(log_path)) {
    append_durably(log_path, add);
  }
  const Hash state_digest = digest ? *digest : state.digest();
  const fs::path snap_path = m_dir / snap_name(state_digest);
  if (!util::kind_of(snap_path)) {
    AtomicFile snap(snap_path, 0600);
    snap.write(serialize_state(state));
    snap.commit();
  }
  Json pos = Json::object();
  pos["entries"] = position.entries;
  pos["heads"] = hashes_json(position.heads);
  pos["last_hash"] = canonical::b64(position.last_hash);
  pos["last_offset"] = position.last_offset;
  pos["lines"] = position.lines;
  pos["size"] = position.size;
  pos["ts"] = format_stored_time(position.ts);
  Json json = Json::object();
  json["format"] = std::string(k_verified_format);
  if (!git_checked_through.empty()) {
    json["git"] = Json{{"checked_through", git_checked_through}};
  }
  json["log"] = Json{{"chain", canonical::b64(next.chain)}, {"count", next.count}, {"size", next.size}};
  json["position"] = pos;
  json["state"] = canonical::b64(state_digest);
  json["vault_id"] = canonical::b64(m_vault_id);
  AtomicFile file(verified_path, 0600);
  file.write(canonical::dump(json) + "\n");
  file.commit();
  // Older snapshots are no longer named by verified.json.
  // Best effort: a snapshot left behind is only disk space (the next save removes it).
  std::error_code error;
  for (auto it = fs::directory_iterator(m_dir, error); !error && it != fs::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if ((name.rfind("state-", 0) == 0 || name.rfind("state2-", 0) == 0) && name.find(".tmp") == std::string::npos
        && name != snap_name(state_digest)) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
  return next;
}

void Cache::forget(const std::set<Hash>& hashes) const
{
  std::optional<Verified> verified = load();
  if (!verified || hashes.empty() || verified->legacy) {
    return;
  }
  std::vector<VerifiedEntry> log = entries(verified->log);
  const std::size_t before = log.size();
  std::erase_if(log, [&](const VerifiedEntry& e) { return hashes.count(e.hash) > 0; });
  if (log.size() == before) {
    return;
  }
  if (log.empty()) {
    return; // cannot happen (the genesis is never tentative); nothing sensible to keep
  }
  // The last verified position is one of the forgotten entries: name the last entry kept instead.
  // The line at the position's offset is then not that entry (it is gone, or is the forgotten
  // one), so the next open replays the journal (slow path) rather than continuing past it.
  if (hashes.count(verified->position.last_hash) > 0) {
    verified->position.last_hash = log.back().hash;
  }
  // The log is written anew (base {}); the state is unchanged, so its digest stands.
  save(verified->position, verified->state, verified->git_checked_through, LogSummary{}, log, verified->state_digest);
}

std::vector<VerifiedEntry> missing_entries(const std::vector<VerifiedEntry>& verified, const std::set<Hash>& present,
                                           const std::set<Hash>& acknowledged)
{
  std::vector<VerifiedEntry> out;
  for (const VerifiedEntry& e : verified) {
    if (present.count(e.hash) == 0 && acknowledged.count(e.hash) == 0) {
      out.push_back(e);
    }
  }
  return out;
}

Error loss_error(const fs::path& journal, const std::vector<VerifiedEntry>& missing)
{
  const VerifiedEntry& newest = missing.back();
  return Error(ErrorKind::integrity,
               fmt::format("{}: {} {} this machine verified {} missing (lost or rolled back): the newest is {} ({} by "
                           "{}, {})",
                           journal.string(), missing.size(), missing.size() == 1 ? "entry" : "entries",
                           missing.size() == 1 ? "is" : "are", canonical::b64(newest.hash).substr(0, 12),
                           newest.action, newest.actor, format_time(newest.ts)),
               {"if they are in git (a reset or a checkout), restore them: escrow audit restore --from <commit>",
                "if they are gone, an admin acknowledges the loss: escrow audit ack-loss --why TEXT"});
}

} // namespace escrow::history
