#include <escrow/atomic_file.hpp>
#include <escrow/canonical.hpp>
#include <escrow/history/cache.hpp>
#include <escrow/history/batches.hpp>
#include <escrow/history/cache_log.hpp>
#include <escrow/history/json_read.hpp>
#include <escrow/history/labels.hpp>
#include <escrow/history/listing.hpp>
#include <escrow/history/record_text.hpp>
#include <escrow/lock.hpp>
#include <escrow/util/file.hpp>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

namespace escrow::history {

namespace fs = std::filesystem;
namespace jr = json_read;

namespace {

constexpr std::string_view k_verified_format = "escrow-verified/5";
constexpr std::string_view k_verified_format_v4 = "escrow-verified/4"; // /5 with nothing ahead
constexpr std::string_view k_verified_format_v3 = "escrow-verified/3"; // /4 without a log tail
constexpr std::string_view k_verified_format_v2 = "escrow-verified/2";
constexpr std::string_view k_verified_format_v1 = "escrow-verified/1";
constexpr std::string_view k_state_format = "escrow-state/5"; // /3 and a listing section (listing.hpp)
constexpr std::string_view k_state_format_v4 = "escrow-state/4"; // read: its JSON listing rows are not used
constexpr std::string_view k_state_format_v3 = "escrow-state/3"; // read: no listing
// The listing section's hash (H(label, its bytes)), named by the snapshot's first line.
constexpr std::string_view k_cache_listing_label = "escrow/v2/cache-listing";
// Index lines per block of a snapshot's index: a lookup reads and checks one block (~20 KB).
constexpr std::size_t k_block_lines = 256;
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
  return "state3-" + canonical::hex(digest) + ".snap"; // state-, state2-: escrow-state/1 and /2, removed
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
// entries.log read line by line (whole, or by blocks): each entry to `each`, the count, size and
// chain checked at finish(). The entries given before finish() are provisional: finish() throws
// when the log is not the one verified.json names.
class LogParser
{
public:
  LogParser(std::size_t count, const Hash& chain, bool check_chain, const fs::path& file, const fs::path& place,
            std::function<void(VerifiedEntry&&)> each)
    : m_count(count), m_chain(chain), m_check_chain(check_chain), m_file(file), m_place(place), m_each(std::move(each))
  {
  }

  // Complete lines (each with its "\n"), at most `lines` of them; returns how many bytes were used
  // (the rest is a partial line, lines after `count`, or lines after the `lines` first).
  std::size_t feed(std::string_view text, std::size_t lines = static_cast<std::size_t>(-1))
  {
    std::size_t start = 0;
    for (std::size_t fed = 0; m_seen < m_count && fed < lines; ++fed) {
      const std::size_t nl = text.find('\n', start);
      if (nl == std::string_view::npos) {
        break;
      }
      line(text.substr(start, nl - start), text.substr(start, nl + 1 - start));
      start = nl + 1;
    }
    return start;
  }

  // `rest`: what is left after the last fed line.
  void finish(std::string_view rest) const
  {
    if (m_seen < m_count) {
      throw corrupt(m_file, fmt::format("holds {} entries, {} expected", m_seen, m_count), m_place);
    }
    if (!rest.empty()) {
      throw corrupt(m_file, "its entries do not end where verified.json says", m_place);
    }
    if (m_check_chain && m_running != m_chain) {
      throw corrupt(m_file, "its entries are not the ones verified.json names (chain hash)", m_place);
    }
  }

private:
  void line(std::string_view line, std::string_view with_newline)
  {
    if (m_check_chain) {
      m_running = log_chain(m_running, with_newline);
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
        const Bytes raw = canonical::unb64(parts[0], m_file.string());
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
      throw corrupt(m_file, fmt::format("line {} is malformed", m_seen + 1), m_place);
    }
    ++m_seen;
    m_each(std::move(e));
  }

public:
  std::size_t seen() const { return m_seen; }
  std::size_t count() const { return m_count; }

private:
  std::size_t m_count;
  Hash m_chain;
  bool m_check_chain;
  const fs::path& m_file;
  const fs::path& m_place;
  std::function<void(VerifiedEntry&&)> m_each;
  std::size_t m_seen = 0;
  Hash m_running{};
};

// The snapshot file, open for the records a state reads on first use.
class SnapSource final : public RecordSource
{
public:
  SnapSource(util::FileHandle file, fs::path path, fs::path place, std::uint64_t base, std::uint64_t end)
    : m_file(std::move(file)), m_path(std::move(path)), m_place(std::move(place)), m_base(base), m_end(end)
  {
  }

  std::string read(std::uint64_t offset, std::uint64_t length) const override
  {
    return pread_exact(m_file, m_path, m_place, m_base + offset, length);
  }

  // The file and where its records section is (a write copies the records it did not change
  // from it with AtomicFile::copy, never reading them).
  const util::FileHandle& file() const { return m_file; }
  const fs::path& path() const { return m_path; }
  std::uint64_t records_begin() const { return m_base; }
  std::uint64_t records_end() const { return m_end; }

  // `length` bytes at `offset` of the file.
  std::string read_absolute(std::uint64_t offset, std::uint64_t length) const
  {
    return pread_exact(m_file, m_path, m_place, offset, length);
  }

  [[noreturn]] void corrupt(std::string_view path, std::string_view problem) const override
  {
    throw history::corrupt(m_path, fmt::format("record {}: {}", path, problem), m_place);
  }

  [[noreturn]] void damaged(std::string_view problem) const { throw history::corrupt(m_path, problem, m_place); }

  // `length` bytes at `offset` of the file, mapped (read from it when it cannot be mapped).
  // Snapshots are replaced by rename, never changed in place, so the mapping stays the file read.
  class Mapped
  {
  public:
    Mapped() = default;
    Mapped(const Mapped&) = delete;
    Mapped& operator=(const Mapped&) = delete;
    ~Mapped()
    {
      if (m_base != nullptr) {
        ::munmap(m_base, m_length);
      }
    }
    std::string_view text() const { return m_base != nullptr ? m_view : std::string_view(m_owned); }

  private:
    friend class SnapSource;
    void* m_base = nullptr;
    std::size_t m_length = 0;
    std::string_view m_view;
    std::string m_owned;
  };

  void map_absolute(std::uint64_t offset, std::uint64_t length, Mapped& out) const
  {
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t start = offset - offset % page;
    void* base = length == 0 ? MAP_FAILED
                             : ::mmap(nullptr, static_cast<std::size_t>(offset - start + length), PROT_READ,
                                      MAP_PRIVATE, m_file.get(), static_cast<off_t>(start));
    if (base == MAP_FAILED) {
      out.m_owned = read_absolute(offset, length);
      return;
    }
    out.m_base = base;
    out.m_length = static_cast<std::size_t>(offset - start + length);
    out.m_view = std::string_view(static_cast<const char*>(base) + (offset - start), static_cast<std::size_t>(length));
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
  std::uint64_t m_end = 0; // where the records end (the listing section follows)
};

// The index of an escrow-state/3 snapshot, read a block at a time: a lookup bisects the blocks
// named by the first line (which verified.json names by its hash), then reads the one block,
// checks it against its hash and parses it. When every block has been read, the (path, hash)
// pairs must hash to the state digest the snapshot is named by.
class SnapIndex
{
public:
  struct Block
  {
    std::string first;
    Hash hash{};
    std::uint64_t lines = 0;
    std::uint64_t size = 0;    // bytes of index
    std::uint64_t records = 0; // bytes of records (each record's text and "\n")
    std::uint64_t at = 0;      // offset of the block in the file
    std::uint64_t record_at = 0; // offset of its first record in the records section
  };
  struct Line
  {
    PathKind kind = PathKind::policy;
    std::string path;
    PendingRecord record;
  };

  SnapIndex(std::shared_ptr<const SnapSource> source, std::vector<Block> blocks, const Hash& digest)
    : m_source(std::move(source)), m_blocks(std::move(blocks)), m_parsed(m_blocks.size()), m_digest(digest)
  {
  }

  // The line of `path`, or nullptr.
  const Line* find(std::string_view path) const
  {
    const auto after = std::upper_bound(m_blocks.begin(), m_blocks.end(), path,
                                        [](std::string_view p, const Block& b) { return p < b.first; });
    if (after == m_blocks.begin()) {
      return nullptr;
    }
    const std::vector<Line>& lines = block(static_cast<std::size_t>(after - m_blocks.begin()) - 1);
    const auto it = std::lower_bound(lines.begin(), lines.end(), path,
                                     [](const Line& l, std::string_view p) { return l.path < p; });
    return it != lines.end() && it->path == path ? &*it : nullptr;
  }

  // Every pending record of `kind`, sorted by name.
  const std::vector<PendingRecord>& all(PathKind kind) const
  {
    std::optional<std::vector<PendingRecord>>& out = m_all[static_cast<std::size_t>(kind)];
    if (!out) {
      std::vector<PendingRecord> records;
      std::size_t lines = 0;
      for (const Block& b : m_blocks) {
        lines += static_cast<std::size_t>(b.lines);
      }
      records.reserve(lines);
      for (std::size_t b = 0; b < m_blocks.size(); ++b) {
        for (const Line& line : block(b)) {
          if (line.kind == kind) {
            records.push_back(line.record);
          }
        }
      }
      out = std::move(records);
    }
    return *out;
  }

private:
  const std::vector<Line>& block(std::size_t b) const
  {
    if (m_parsed[b]) {
      return *m_parsed[b];
    }
    const Block& info = m_blocks[b];
    const std::string text = m_source->read_absolute(info.at, info.size);
    if (crypto::hash(labels::k_cache_block, as_bytes(text)) != info.hash) {
      m_source->damaged(fmt::format("block {} of its index does not hash to the hash its first line names", b + 1));
    }
    std::vector<Line> lines;
    lines.reserve(static_cast<std::size_t>(info.lines));
    std::uint64_t offset = info.record_at;
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t end = text.find('\n', start);
      const std::string_view line = std::string_view(text).substr(start, end == std::string::npos ? end : end - start);
      const std::size_t t1 = line.find('\t');
      const std::size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
      Line out;
      std::optional<ParsedPath> parsed;
      bool ok = end != std::string::npos && t2 != std::string_view::npos;
      if (ok) {
        const std::string_view path = line.substr(0, t1);
        parsed = parse_path(path);
        const std::string_view previous = lines.empty() ? std::string_view() : std::string_view(lines.back().path);
        ok = parsed && parsed->kind != PathKind::key && t2 - t1 - 1 == 44
             && (lines.empty() ? path == info.first : previous < path)
             && (b + 1 == m_blocks.size() || path < m_blocks[b + 1].first);
        if (ok) {
          try {
            const Bytes raw = canonical::unb64(line.substr(t1 + 1, 44), "index");
            ok = raw.size() == out.record.hash.size();
            if (ok) {
              std::copy(raw.begin(), raw.end(), out.record.hash.begin());
            }
          } catch (const Error&) {
            ok = false;
          }
          const std::string_view len = line.substr(t2 + 1);
          const auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), out.record.length);
          ok = ok && ec == std::errc{} && ptr == len.data() + len.size() && out.record.length > 0
               && out.record.length <= k_max_record;
        }
        if (ok) {
          out.kind = parsed->kind;
          out.path = std::string(path);
          out.record.name = parsed->name;
          out.record.offset = offset;
          offset += out.record.length + 1;
        }
      }
      if (!ok) {
        m_source->damaged(fmt::format("line {} of block {} of its index is malformed", lines.size() + 1, b + 1));
      }
      lines.push_back(std::move(out));
      start = end + 1;
    }
    if (lines.size() != info.lines || offset - info.record_at != info.records) {
      m_source->damaged(fmt::format("block {} of its index is not the size its first line says", b + 1));
    }
    m_parsed[b] = std::move(lines);
    if (++m_read == m_blocks.size()) {
      check_digest();
    }
    return *m_parsed[b];
  }

  // Every block read: the (path, hash) pairs must be the state the snapshot is named by.
  void check_digest() const
  {
    crypto::Hasher hasher;
    hasher.update(as_bytes(labels::k_state));
    const std::uint8_t zero = 0;
    hasher.update(ByteView(&zero, 1));
    for (const auto& lines : m_parsed) {
      for (const Line& line : *lines) {
        hasher.update(as_bytes(line.path));
        hasher.update(ByteView(&zero, 1));
        hasher.update(ByteView(line.record.hash.data(), line.record.hash.size()));
      }
    }
    if (hasher.finish() != m_digest) {
      m_source->damaged("its records do not hash to the digest it is named by");
    }
  }

  std::shared_ptr<const SnapSource> m_source;
  std::vector<Block> m_blocks;
  mutable std::vector<std::optional<std::vector<Line>>> m_parsed;
  mutable std::size_t m_read = 0;
  mutable std::array<std::optional<std::vector<PendingRecord>>, 5> m_all;
  Hash m_digest{};
};

// The pending records of one kind, a view of the snapshot's index.
class KindIndex final : public PendingIndex
{
public:
  KindIndex(std::shared_ptr<const SnapIndex> index, PathKind kind, std::string prefix)
    : m_index(std::move(index)), m_kind(kind), m_prefix(std::move(prefix))
  {
  }

  const PendingRecord* find(const std::string& name) const override
  {
    const SnapIndex::Line* line = m_index->find(m_prefix + name);
    return line != nullptr && line->kind == m_kind ? &line->record : nullptr;
  }

  const std::vector<PendingRecord>& all() const override { return m_index->all(m_kind); }

private:
  std::shared_ptr<const SnapIndex> m_index;
  PathKind m_kind;
  std::string m_prefix;
};

template <class T>
void set_lazy(RecordMap<T>& map, const std::shared_ptr<const SnapSource>& source,
              const std::shared_ptr<const SnapIndex>& index, PathKind kind, std::string prefix)
{
  auto lazy = std::make_shared<typename RecordMap<T>::Lazy>();
  lazy->source = source;
  lazy->index = std::make_shared<const KindIndex>(index, kind, std::move(prefix));
  map = RecordMap<T>(std::move(lazy));
}

// Opens `file` as a state snapshot: its first line (checked against `first_line`, the hash
// verified.json names) and the policy; every other record pending, its index block read when a
// lookup first needs it.
// The listing section of an escrow-state/4 or /5 snapshot (listing.hpp): where it is and its hash.
struct Listing
{
  Hash hash{};
  std::uint64_t size = 0;
  std::uint64_t at = 0; // offset in the file
  bool current = true;  // rows of this version's form (/5); an /4 section is skipped, never used
};

struct Snapshot
{
  State state;
  std::shared_ptr<const SnapSource> source;
  std::shared_ptr<const SnapIndex> index;
  std::optional<Listing> listing;
};

Snapshot open_snapshot(const fs::path& file, const Hash& digest, const Hash& first_line, const VaultId& vault_id,
                       const fs::path& place)
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
  for (std::uint64_t want = 16384; nl == std::string::npos; want *= 4) {
    if (head.size() >= file_size || head.size() >= k_max_verified_size) {
      throw corrupt(file, "its first line has no end", place);
    }
    const std::uint64_t take = std::min<std::uint64_t>(want, file_size) - head.size();
    head += SnapSource::pread_exact(*handle, file, place, head.size(), take);
    nl = head.find('\n');
  }
  if (crypto::hash(labels::k_cache_snapshot, as_bytes(std::string_view(head).substr(0, nl))) != first_line) {
    throw corrupt(file, "its first line is not the one verified.json names", place);
  }
  State state;
  std::uint64_t index_size = 0;
  std::optional<Listing> listing_info;
  std::vector<SnapIndex::Block> blocks;
  const std::uint64_t index_at = nl + 1;
  const std::string where = file.string() + ": line 1";
  try {
    const Json meta = canonical::parse(std::string_view(head).substr(0, nl), where);
    jr::Fields f(meta, where, ": ");
    const std::string format = jr::string(f.need("format"), f.at("format"));
    if (format != k_state_format && format != k_state_format_v4 && format != k_state_format_v3) {
      throw corrupt(file, "not an escrow-state/3, /4 or /5 file", place);
    }
    if (format != k_state_format_v3) {
      jr::Fields l(jr::object(f.need("listing"), f.at("listing")), f.at("listing"));
      Listing listing;
      listing.hash = jr::fixed_b64<32>(l.need("hash"), l.at("hash"));
      listing.size = static_cast<std::uint64_t>(jr::integer(l.need("size"), l.at("size"), 0, k_max_count));
      l.finish();
      listing.current = format == k_state_format;
      listing_info = listing;
    }
    state.genesis_name = jr::string(f.need("genesis"), f.at("genesis"));
    index_size = static_cast<std::uint64_t>(jr::integer(f.need("index"), f.at("index"), 0, k_max_count));
    std::uint64_t at = index_at;
    std::uint64_t record_at = 0;
    for (const Json& b : jr::array(f.need("blocks"), f.at("blocks"), std::size_t{1} << 24)) {
      jr::Fields g(jr::object(b, f.at("blocks")), f.at("blocks"));
      SnapIndex::Block block;
      block.first = jr::string(g.need("first"), g.at("first"));
      block.hash = jr::fixed_b64<32>(g.need("hash"), g.at("hash"));
      block.lines = static_cast<std::uint64_t>(jr::integer(g.need("lines"), g.at("lines"), 1, k_max_count));
      block.records = static_cast<std::uint64_t>(jr::integer(g.need("records"), g.at("records"), 1, k_max_count));
      block.size = static_cast<std::uint64_t>(jr::integer(g.need("size"), g.at("size"), 1, k_max_count));
      g.finish();
      if (!blocks.empty() && !(blocks.back().first < block.first)) {
        throw corrupt(file, "the blocks of its index are not in order", place);
      }
      block.at = at;
      block.record_at = record_at;
      at += block.size;
      record_at += block.records;
      blocks.push_back(std::move(block));
    }
    for (const Json& h : jr::array(f.need("lost"), f.at("lost"), std::size_t{1} << 24)) {
      state.lost.insert(jr::fixed_b64<32>(h, f.at("lost")));
    }
    state.vault_id = jr::fixed_b64<16>(f.need("vault_id"), f.at("vault_id"));
    f.finish();
    const std::uint64_t listing_size = listing_info ? listing_info->size : 0;
    if (listing_size > file_size) {
      throw corrupt(file, "its size is not the one its index says", place);
    }
    if (listing_info) {
      listing_info->at = file_size - listing_size;
    }
    if (at != index_at + index_size || index_size > file_size - listing_size - index_at
        || record_at != file_size - listing_size - index_at - index_size) {
      throw corrupt(file, "its size is not the one its index says", place);
    }
  } catch (const Error& error) {
    if (error.hints().empty()) {
      throw corrupt(file, fmt::format("malformed ({})", error.what()), place);
    }
    throw;
  }
  if (state.vault_id != vault_id) {
    throw corrupt(file, "belongs to another vault", place);
  }
  auto source = std::make_shared<const SnapSource>(std::move(*handle), file, place, index_at + index_size,
                                                   file_size - (listing_info ? listing_info->size : 0));
  auto index = std::make_shared<const SnapIndex>(source, std::move(blocks), digest);
  if (const SnapIndex::Line* policy = index->find(k_policy_path); policy != nullptr && policy->kind == PathKind::policy) {
    const PendingRecord& p = policy->record;
    const std::string text = source->read(p.offset, p.length);
    if (record_hash_of_text(k_policy_path, text) != p.hash) {
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
  set_lazy(state.members, source, index, PathKind::member, "m:");
  set_lazy(state.connectors, source, index, PathKind::connector, "c:");
  set_lazy(state.secrets, source, index, PathKind::secret, "s:");
  state.initialised = true;
  return Snapshot{std::move(state), std::move(source), std::move(index), listing_info};
}

State open_state(const fs::path& file, const Hash& digest, const Hash& first_line, const VaultId& vault_id,
                 const fs::path& place)
{
  return open_snapshot(file, digest, first_line, vault_id, place).state;
}

// The listing's text columns: a backslash, tab or newline escaped (\\, \t, \n), so a row is
// one line of tab-separated columns.
void append_column(std::string& out, std::string_view text)
{
  out += '\t';
  for (const char c : text) {
    switch (c) {
    case '\\': out += "\\\\"; break;
    case '\t': out += "\\t"; break;
    case '\n': out += "\\n"; break;
    default: out += c;
    }
  }
}

void append_number(std::string& out, std::int64_t n)
{
  out += '\t';
  out += std::to_string(n);
}

void append_optional(std::string& out, const std::optional<std::int64_t>& n)
{
  if (n) {
    append_number(out, *n);
  } else {
    out += "\t-";
  }
}

// One row of the listing section (listing.hpp): "ENV/NAME" TAB b64 record hash, then the
// ListedSecret's columns (a name needs no escaping: names are letters, digits and ._-/).
std::string listing_row(const std::string& name, const Hash& hash, const Secret& secret)
{
  const ListedSecret listed = listed_secret(secret);
  std::string row = name;
  row += '\t';
  row += canonical::b64(hash);
  append_column(row, listed.facts.env);
  append_column(row, listed.owner);
  append_column(row, listed.purpose);
  append_column(row, listed.connectors);
  append_number(row, static_cast<std::int64_t>(listed.custodians));
  append_number(row, listed.threshold);
  append_number(row, listed.facts.every);
  append_number(row, listed.facts.retired ? 1 : 0);
  append_optional(row, listed.facts.pending_v);
  append_optional(row, listed.facts.current_v);
  append_number(row, listed.facts.current_at);
  append_number(row, listed.facts.live ? 1 : 0);
  append_column(row, listed.facts.due);
  return row;
}

// The listing section of `snapshot`, checked against the hash its first line names, cut into
// rows; nullopt for an escrow-state/3 snapshot (none) or an /4 one (rows of the old form).
std::optional<std::vector<std::string_view>> listing_rows(const Snapshot& snapshot, SnapSource::Mapped& mapped)
{
  if (!snapshot.listing || !snapshot.listing->current) {
    return std::nullopt;
  }
  snapshot.source->map_absolute(snapshot.listing->at, snapshot.listing->size, mapped);
  const std::string_view text = mapped.text();
  if (crypto::hash(k_cache_listing_label, as_bytes(text)) != snapshot.listing->hash) {
    snapshot.source->damaged("its listing does not hash to the hash its first line names");
  }
  std::vector<std::string_view> rows;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      snapshot.source->damaged("its listing does not end with a newline");
    }
    rows.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return rows;
}

// A row's name and b64 hash (the first two fields), or nullopt when it has no two tabs.
std::optional<std::pair<std::string_view, std::string_view>> row_key(std::string_view row)
{
  const std::size_t t1 = row.find('\t');
  const std::size_t t2 = t1 == std::string_view::npos ? t1 : row.find('\t', t1 + 1);
  if (t2 == std::string_view::npos) {
    return std::nullopt;
  }
  return std::make_pair(row.substr(0, t1), row.substr(t1 + 1, t2 - t1 - 1));
}

// Reads a row's columns after its key, in order; each refusal names the problem (the caller
// names the row and the snapshot).
class RowReader
{
public:
  explicit RowReader(std::string_view rest) : m_rest(rest) {}

  // The next column's raw text, or nullopt when the row has no more.
  std::optional<std::string_view> next()
  {
    if (m_done) {
      return std::nullopt;
    }
    const std::size_t tab = m_rest.find('\t');
    const std::string_view column = m_rest.substr(0, tab);
    if (tab == std::string_view::npos) {
      m_done = true;
    } else {
      m_rest.remove_prefix(tab + 1);
    }
    return column;
  }
  bool done() const { return m_done; }

private:
  std::string_view m_rest;
  bool m_done = false;
};

// An escaped text column, unescaped; nullopt for a dangling or unknown escape.
std::optional<std::string> unescape_column(std::string_view column)
{
  if (column.find('\\') == std::string_view::npos) {
    return std::string(column);
  }
  std::string out;
  out.reserve(column.size());
  for (std::size_t i = 0; i < column.size(); ++i) {
    if (column[i] != '\\') {
      out += column[i];
      continue;
    }
    if (++i == column.size()) {
      return std::nullopt;
    }
    switch (column[i]) {
    case '\\': out += '\\'; break;
    case 't': out += '\t'; break;
    case 'n': out += '\n'; break;
    default: return std::nullopt;
    }
  }
  return out;
}

// A decimal column as append_number writes it: an optional '-', no '+', no leading zero.
std::optional<std::int64_t> number_column(std::string_view column)
{
  std::int64_t n = 0;
  const auto [end, error] = std::from_chars(column.data(), column.data() + column.size(), n);
  if (error != std::errc{} || end != column.data() + column.size() || column.empty() || std::to_string(n) != column) {
    return std::nullopt;
  }
  return n;
}

struct SnapRecord
{
  std::string path;
  std::string owned;     // canonical text serialised here, or (empty: records are never empty)
  std::uint64_t from = 0; // where its bytes start in the previous snapshot, copied from there
  std::uint64_t length = 0;
  Hash hash{};            // the record hash of its text
};

// A serialized snapshot, written by write_snapshot: its first line and index (`head`), the
// records (each serialised here or a range of the previous snapshot's file), the listing, and
// the hash of its first line (verified.json names it).
struct SerializedState
{
  std::string head;
  std::vector<SnapRecord> records;
  std::string listing;
  const SnapSource* previous = nullptr; // the file the copied records come from
  Hash first_line{};
};

// The record hash of `path` in `state` when it is known without reading or hashing the record
// (a record still pending, or read from the snapshot and not replaced since), else nullopt.
std::optional<Hash> known_record_hash(const State& state, std::string_view path)
{
  const std::optional<ParsedPath> parsed = parse_path(path);
  if (!parsed) {
    return std::nullopt;
  }
  switch (parsed->kind) {
  case PathKind::member: return state.members.known_hash(parsed->name);
  case PathKind::connector: return state.connectors.known_hash(parsed->name);
  case PathKind::secret: return state.secrets.known_hash(parsed->name);
  case PathKind::policy:
  case PathKind::key: break;
  }
  return std::nullopt;
}

// `state` as an escrow-state/3 snapshot. `previous`: the snapshot this place holds (the one the
// state was loaded from, when it was): a record whose hash is known from it and unchanged is
// copied as the bytes its index names, with the hash its (checked) index block names — never
// read, re-serialised or re-hashed: write_snapshot has the kernel copy each run of them, so a
// write that changes one record costs no pass over the others in this process
// (docs/PERFORMANCE.md, issue 12 target 3). A copied text damaged on disk keeps its old hash: the next reader of it refuses
// it, as it would have refused the old file.
SerializedState serialize_state(const State& state, const Snapshot* previous)
{
  std::vector<SnapRecord> records;
  // The previous listing's rows by name (each with its record hash): a copied record's row is
  // copied too. An unreadable or damaged previous listing is not copied from.
  SnapSource::Mapped old_listing;
  std::map<std::string_view, std::string_view> old_rows;
  if (previous != nullptr) {
    try {
      if (const auto rows = listing_rows(*previous, old_listing)) {
        for (const std::string_view row : *rows) {
          if (const auto key = row_key(row)) {
            old_rows.emplace(key->first, row);
          }
        }
      }
    } catch (const Error&) {
      old_rows.clear();
    }
  }
  // Pass 1, in path order: each record copied from the previous snapshot (with its listing row
  // when that row is still the record's) or serialised here. A secret's text (most of a write
  // that changes many, a bulk share's 1,000) is written and hashed in pass 2, on two threads.
  std::vector<std::string_view> copied_rows; // by record: the previous listing's row, or empty
  std::vector<std::pair<std::size_t, const Secret*>> secret_texts; // record index, its secret
  for (const std::string& path : state.paths()) {
    if (previous != nullptr) {
      if (const std::optional<Hash> known = known_record_hash(state, path)) {
        const SnapIndex::Line* line = previous->index->find(path);
        if (line != nullptr && line->record.hash == *known) {
          const PendingRecord& r = line->record;
          const SnapSource& from = *previous->source;
          if (r.length == 0 || r.offset + r.length >= from.records_end() - from.records_begin()) {
            from.damaged("shorter than its index says");
          }
          records.push_back(SnapRecord{path, {}, from.records_begin() + r.offset, r.length, *known});
          copied_rows.emplace_back();
          if (path.rfind("s:", 0) == 0) {
            const auto row = old_rows.find(std::string_view(path).substr(2));
            const std::optional<std::pair<std::string_view, std::string_view>> key =
              row != old_rows.end() ? row_key(row->second) : std::nullopt;
            if (key && key->second == canonical::b64(*known)) {
              copied_rows.back() = row->second;
            }
          }
          continue;
        }
      }
    }
    if (path.rfind("s:", 0) == 0) {
      const Secret* secret = state.secret(std::string_view(path).substr(2));
      if (secret == nullptr) {
        fail(ErrorKind::failed, "internal: the state names {} but holds no record there", path);
      }
      // A writer's own new record already has its text and hash (state.hpp memo_secret_hashes).
      if (const std::string* text = secret->hash_memo.text(path)) {
        const std::optional<Hash> hash = secret->hash_memo.get(path);
        if (hash) {
          records.push_back(SnapRecord{path, *text, 0, text->size(), *hash});
          copied_rows.emplace_back();
          continue;
        }
      }
      secret_texts.emplace_back(records.size(), secret);
      records.push_back(SnapRecord{path, {}, 0, 0, {}});
      copied_rows.emplace_back();
      continue;
    }
    std::optional<std::string> found = record_text(state, path);
    if (!found) {
      fail(ErrorKind::failed, "internal: the state names {} but holds no record there", path);
    }
    std::string text = std::move(*found);
    const Hash hash = record_hash_of_text(path, text);
    const std::uint64_t length = text.size();
    records.push_back(SnapRecord{path, std::move(text), 0, length, hash});
    copied_rows.emplace_back();
  }
  // Pass 2: each changed secret's text and record hash (each item written by one thread).
  for_each_index(secret_texts.size(), [&](std::size_t i) {
    SnapRecord& r = records[secret_texts[i].first];
    r.owned = secret_record_text(*secret_texts[i].second);
    r.length = r.owned.size();
    r.hash = record_hash_of_text(r.path, r.owned);
  });
  // Pass 3: the listing, one row per secret in name order.
  std::string listing;
  listing.reserve(old_listing.text().size() + 4096); // one allocation, not a chain of doublings
  for (std::size_t i = 0; i < records.size(); ++i) {
    const SnapRecord& r = records[i];
    if (r.path.rfind("s:", 0) != 0) {
      continue;
    }
    if (!copied_rows[i].empty()) {
      listing.append(copied_rows[i]);
    } else {
      const std::string name = r.path.substr(2);
      listing += listing_row(name, r.hash, *state.secrets.at(name));
    }
    listing += '\n';
  }
  std::string index;
  Json blocks = Json::array();
  for (std::size_t b = 0; b < records.size(); b += k_block_lines) {
    std::string block;
    std::uint64_t bytes = 0;
    const std::size_t end = std::min(records.size(), b + k_block_lines);
    for (std::size_t i = b; i < end; ++i) {
      const SnapRecord& r = records[i];
      block += fmt::format("{}\t{}\t{}\n", r.path, canonical::b64(r.hash), r.length);
      bytes += r.length + 1;
    }
    blocks.push_back(Json{{"first", records[b].path},
                          {"hash", canonical::b64(crypto::hash(labels::k_cache_block, as_bytes(block)))},
                          {"lines", end - b},
                          {"records", bytes},
                          {"size", block.size()}});
    index += block;
  }
  Json meta = Json::object();
  meta["blocks"] = std::move(blocks);
  meta["format"] = std::string(k_state_format);
  meta["genesis"] = state.genesis_name;
  meta["index"] = index.size();
  meta["listing"] = Json{{"hash", canonical::b64(crypto::hash(k_cache_listing_label, as_bytes(listing)))},
                         {"size", listing.size()}};
  meta["lost"] = hashes_json(std::vector<Hash>(state.lost.begin(), state.lost.end()));
  meta["vault_id"] = canonical::b64(state.vault_id);
  SerializedState out;
  const std::string first = canonical::dump(meta);
  out.first_line = crypto::hash(labels::k_cache_snapshot, as_bytes(first));
  out.head.reserve(first.size() + 1 + index.size());
  out.head = first;
  out.head += '\n';
  out.head += index;
  out.records = std::move(records);
  out.listing = std::move(listing);
  out.previous = previous != nullptr ? previous->source.get() : nullptr;
  return out;
}

// Writes `snap` to `file`: the records serialised here as parts of one writev, each run of
// records copied from the previous snapshot (adjacent there too: one range) by the kernel. A
// previous file shorter than its index says is Error(integrity) naming it.
void write_snapshot(AtomicFile& file, const SerializedState& snap)
{
  std::vector<std::string_view> parts{snap.head};
  const auto copy = [&](std::uint64_t from, std::uint64_t length) {
    file.write(parts);
    parts.clear();
    if (file.copy(snap.previous->file(), snap.previous->path(), from, length) != length) {
      snap.previous->damaged("shorter than its index says");
    }
  };
  std::uint64_t run_from = 0;
  std::uint64_t run_length = 0; // a range of the previous file, with the records' newlines
  for (const SnapRecord& r : snap.records) {
    if (!r.owned.empty()) {
      if (run_length > 0) {
        copy(run_from, run_length);
        run_length = 0;
      }
      parts.emplace_back(r.owned);
      parts.emplace_back("\n");
      continue;
    }
    if (run_length > 0 && run_from + run_length == r.from) {
      run_length += r.length + 1;
      continue;
    }
    if (run_length > 0) {
      copy(run_from, run_length);
    }
    run_from = r.from;
    run_length = r.length + 1;
  }
  if (run_length > 0) {
    copy(run_from, run_length);
  }
  parts.emplace_back(snap.listing);
  file.write(parts);
}

// verified.json's "log".
Json log_json(const LogSummary& log)
{
  Json out{{"chain", canonical::b64(log.chain)}, {"count", log.count}, {"size", log.size}};
  if (log.ahead > 0) {
    out["ahead"] = log.ahead;
  }
  if (!log.tail.empty()) {
    Json tail = Json::array();
    for (const std::string& line : log.tail) {
      tail.push_back(line.substr(0, line.size() - 1));
    }
    out["tail"] = std::move(tail);
  }
  return out;
}

// verified.json's "git": the HEAD commit the first-parent check reached (none: never checked, or not in git).
void set_git(Json& json, const std::string& checked_through)
{
  if (checked_through.empty()) {
    json.erase("git");
  } else {
    json["git"] = Json{{"checked_through", checked_through}};
  }
}

// A place whose snapshot is read lazily (escrow-verified/3 and later).
bool lazy_format(std::string_view format)
{
  return format == k_verified_format || format == k_verified_format_v4 || format == k_verified_format_v3;
}

std::optional<std::string> read_if_exists(const fs::path& path, std::size_t max)
{
  if (!util::kind_of(path)) {
    return std::nullopt;
  }
  return read_file(path, max);
}

// The snapshot verified.json names (a save copies from it the records it did not change), or
// nullopt when there is none or it cannot be opened: then every record is serialised.
std::optional<Snapshot> previous_snapshot(const fs::path& verified_path, const VaultId& vault_id, const fs::path& place)
{
  try {
    const std::optional<std::string> text = read_if_exists(verified_path, k_max_verified_size);
    if (!text || text->empty()) {
      return std::nullopt;
    }
    const Json json = canonical::parse(std::string_view(*text).substr(0, text->size() - 1), verified_path.string());
    if (!lazy_format(json.value("format", ""))) {
      return std::nullopt;
    }
    const Hash digest = jr::fixed_b64<32>(json.at("state"), "state");
    const Hash first_line = jr::fixed_b64<32>(json.at("snapshot"), "snapshot");
    return open_snapshot(place / snap_name(digest), digest, first_line, vault_id, place);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The hash of the first line of the snapshot at `path` (verified.json names it), or nullopt when
// there is no such file or it has no complete first line (then it is written anew).
std::optional<Hash> first_line_hash(const fs::path& path)
{
  const std::optional<util::FileHandle> file = util::open_regular_if_exists(path, O_RDONLY, util::Links::refuse);
  if (!file) {
    return std::nullopt;
  }
  std::string head;
  std::array<char, 16384> buffer{};
  while (head.size() < k_max_verified_size) {
    const ssize_t n = ::pread(file->get(), buffer.data(), buffer.size(), static_cast<off_t>(head.size()));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return std::nullopt;
    }
    const std::size_t before = head.size();
    head.append(buffer.data(), static_cast<std::size_t>(n));
    const std::size_t nl = head.find('\n', before);
    if (nl != std::string::npos) {
      return crypto::hash(labels::k_cache_snapshot, as_bytes(std::string_view(head).substr(0, nl)));
    }
  }
  return std::nullopt;
}

} // namespace

Hash log_chain(const Hash& previous, std::string_view line)
{
  std::string input(reinterpret_cast<const char*>(previous.data()), previous.size());
  input.append(line);
  return crypto::hash(labels::k_cache_log, as_bytes(input));
}

std::uint64_t LogSummary::tail_bytes() const
{
  std::uint64_t bytes = 0;
  for (const std::string& line : tail) {
    bytes += line.size();
  }
  return bytes;
}

VerifiedEntry verified_entry(const Entry& entry)
{
  std::size_t records = 0;
  if (entry.op) {
    for (const Write& w : entry.op->writes) {
      records += w.path.rfind("k:", 0) == 0 ? 0 : 1; // a record, not a key line (op.hpp's paths)
    }
  }
  return VerifiedEntry{entry.hash, entry.ts, action_name(entry.action), entry.actor, records};
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
  Hash first_line{};
  try {
    if (text->empty() || text->back() != '\n') {
      throw corrupt(verified_path, "not a complete file", m_dir);
    }
    const Json json = canonical::parse(std::string_view(*text).substr(0, text->size() - 1), verified_path.string());
    const std::string where = verified_path.string();
    jr::Fields f(json, where, ": ");
    const std::string format = jr::string(f.need("format"), f.at("format"));
    if (!lazy_format(format) && format != k_verified_format_v2 && format != k_verified_format_v1) {
      throw corrupt(verified_path, "not an escrow-verified/5 file", m_dir);
    }
    // An older place (escrow-verified/1 or /2, written by an earlier escrow): its log is used, the
    // session replays the journal and rewrites the place in the current formats. An /4 place is
    // an /5 one with nothing ahead, an /3 one an /4 one without a log tail.
    const bool lazy = lazy_format(format);
    v.legacy = !lazy;
    {
      const Json& log = jr::object(f.need("log"), f.at("log"));
      jr::Fields l(log, f.at("log"));
      if (format != k_verified_format_v1) {
        v.log.chain = jr::fixed_b64<32>(l.need("chain"), l.at("chain"));
      }
      v.log.count = static_cast<std::uint64_t>(jr::integer(l.need("count"), l.at("count"), 0, k_max_count));
      v.log.size = static_cast<std::uint64_t>(jr::integer(l.need("size"), l.at("size"), 0, k_max_count));
      if (format == k_verified_format) {
        if (const Json* ahead = l.maybe("ahead")) {
          v.log.ahead = static_cast<std::uint64_t>(jr::integer(*ahead, l.at("ahead"), 1, k_max_log_ahead));
        }
      }
      if (format == k_verified_format || format == k_verified_format_v4) {
        if (const Json* tail = l.maybe("tail")) {
          for (const Json& line : jr::array(*tail, l.at("tail"), k_max_log_tail)) {
            std::string tail_line = jr::string(line, l.at("tail"));
            if (tail_line.empty() || tail_line.size() > 1024 || tail_line.find('\n') != std::string::npos) {
              throw corrupt(verified_path, "log.tail holds a malformed line", m_dir);
            }
            v.log.tail.push_back(std::move(tail_line) + "\n");
          }
        }
      }
      l.finish();
      if (v.log.tail.size() > v.log.count || v.log.tail_bytes() > v.log.size) {
        throw corrupt(verified_path, "log.tail is longer than the log", m_dir);
      }
      if (v.log.ahead >= v.log.count) {
        throw corrupt(verified_path, "log.ahead is not less than the log's entries", m_dir);
      }
    }
    {
      const Json& pos = jr::object(f.need("position"), f.at("position"));
      jr::Fields p(pos, f.at("position"));
      v.position.entries = static_cast<std::uint64_t>(jr::integer(p.need("entries"), p.at("entries"), 1, k_max_count));
      for (const Json& h : jr::array(p.need("heads"), p.at("heads"), 256)) {
        v.position.heads.push_back(jr::fixed_b64<32>(h, p.at("heads")));
      }
      v.position.last_hash = jr::fixed_b64<32>(p.need("last_hash"), p.at("last_hash"));
      if (format == k_verified_format || format == k_verified_format_v4) {
        if (const Json* line = p.maybe("last_line")) {
          v.position.last_line = jr::fixed_b64<32>(*line, p.at("last_line"));
        }
      }
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
    if (lazy) {
      first_line = jr::fixed_b64<32>(f.need("snapshot"), f.at("snapshot"));
    } else {
      (void)f.maybe("snapshot");
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
  if (ec || log_size < v.log.file_size()) {
    throw corrupt(log_path, "shorter than verified.json says", m_dir);
  }
  if (v.legacy) {
    return v; // only the log is used: the session replays the journal and rewrites the place
  }
  v.state = open_state(m_dir / snap_name(digest), digest, first_line, m_vault_id, m_dir);
  m_snapshot = std::pair{digest, first_line};
  return v;
}

std::vector<VerifiedEntry> Cache::entries(const LogSummary& log) const
{
  std::vector<VerifiedEntry> out;
  out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(log.count, k_max_cache_file / 48)));
  for_each_entry(log, [&out](VerifiedEntry&& e) { out.push_back(std::move(e)); });
  return out;
}

// The log by blocks of 1 MiB, one line parsed per next(): the memory held is one block, whatever
// the log's length.
struct LogReader::Impl
{
  Impl(const fs::path& dir, const LogSummary& log)
    : log_path(dir / "entries.log"), place(dir), summary(log),
      parser(static_cast<std::size_t>(log.count), log.chain, log.chain != Hash{}, log_path, place,
             [this](VerifiedEntry&& e) { pending = std::move(e); })
  {
  }

  // Appends the next block of the file (or, after the file's part, the tail once); false when
  // everything is in `text`.
  bool fill()
  {
    constexpr std::size_t k_block = std::size_t(1) << 20;
    if (used > 0) {
      text.erase(0, used);
      used = 0;
    }
    while (done < size) {
      const std::size_t old = text.size();
      const std::size_t want = std::min(k_block, size - done);
      text.resize(old + want);
      const ssize_t n = ::pread(file->get(), text.data() + old, want, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) {
        text.resize(old);
        continue;
      }
      if (n <= 0) {
        throw corrupt(log_path, "shorter than verified.json says", place);
      }
      text.resize(old + static_cast<std::size_t>(n));
      done += static_cast<std::size_t>(n);
      return true;
    }
    if (!tail_added) {
      tail_added = true;
      for (const std::string& line : summary.tail) {
        text += line;
      }
      return true;
    }
    return false;
  }

  fs::path log_path;
  fs::path place;
  LogSummary summary;
  LogParser parser;
  std::optional<util::FileHandle> file;
  std::optional<VerifiedEntry> pending;
  std::string text;
  std::size_t used = 0; // bytes of `text` parsed already
  std::size_t size = 0; // bytes of entries.log to read (then the tail)
  std::size_t done = 0; // bytes of entries.log read
  bool tail_added = false;
  bool finished = false;
  std::uint64_t taken = 0;
};

LogReader::LogReader(const Cache& cache, const LogSummary& log) : m_impl(std::make_unique<Impl>(cache.dir(), log))
{
  Impl& m = *m_impl;
  m.file = util::open_regular_if_exists(m.log_path, O_RDONLY, util::Links::refuse);
  if (!m.file) {
    throw corrupt(m.log_path, "shorter than verified.json says", m.place);
  }
  if (log.size > k_max_cache_file) {
    throw corrupt(m.log_path, "too large", m.place);
  }
  m.size = static_cast<std::size_t>(log.file_size());
}

LogReader::~LogReader() = default;

bool LogReader::next(VerifiedEntry& out)
{
  Impl& m = *m_impl;
  while (!m.finished) {
    if (m.parser.seen() < m.parser.count()) {
      const std::size_t used = m.parser.feed(std::string_view(m.text).substr(m.used), 1);
      if (used > 0) {
        m.used += used;
        out = std::move(*m.pending);
        m.pending.reset();
        ++m.taken;
        return true;
      }
    }
    // No complete line left (or every entry taken: the rest is read to check where the log ends).
    if (!m.fill()) {
      if (m.used > 0) {
        m.text.erase(0, m.used);
        m.used = 0;
      }
      m.parser.finish(m.text);
      m.finished = true;
    }
  }
  return false;
}

std::uint64_t LogReader::taken() const { return m_impl->taken; }

void Cache::for_each_entry(const LogSummary& log, const std::function<void(VerifiedEntry&&)>& each) const
{
  LogReader reader(*this, log);
  VerifiedEntry e;
  while (reader.next(e)) {
    each(std::move(e));
  }
}

std::optional<LogSummary> Cache::save(const Position& position, const State& state,
                                      const std::string& git_checked_through, const LogSummary& base,
                                      const std::vector<VerifiedEntry>& added, std::optional<Hash> digest,
                                      std::uint64_t ahead) const
{
  if (base.count + added.size() == 0) {
    fail(ErrorKind::failed, "internal: cache save with an empty log");
  }
  fs::create_directories(m_dir);
  ::chmod(m_dir.c_str(), 0700);
  const FileLock lock(m_dir / "lock", std::chrono::seconds(30));
  const fs::path log_path = m_dir / "entries.log";
  const fs::path verified_path = m_dir / "verified.json";
  std::optional<Json> current; // verified.json as it is, when it holds `base`
  if (base.count > 0) {
    // Appending to `base`: the place must still hold exactly it (another process may have saved
    // since; then its save stands, and ours is not needed: the next open verifies from there).
    // The chain covers the tail's lines, so (count, size, chain) names the whole log.
    bool same = false;
    try {
      if (const std::optional<std::string> text = read_if_exists(verified_path, k_max_verified_size)) {
        Json json = canonical::parse(std::string_view(*text).substr(0, text->empty() ? 0 : text->size() - 1),
                                     verified_path.string());
        if (lazy_format(json.value("format", ""))) {
          const Json& log = json.at("log");
          same = log.at("count").get<std::uint64_t>() == base.count && log.at("size").get<std::uint64_t>() == base.size
                 && jr::fixed_b64<32>(log.at("chain"), "chain") == base.chain
                 && log.value("ahead", std::uint64_t{0}) == base.ahead;
          if (same) {
            current = std::move(json);
          }
        }
      }
    } catch (const std::exception&) {
      same = false;
    }
    if (!same) {
      return std::nullopt;
    }
  }
  LogSummary next = base;
  std::vector<std::string> lines;
  lines.reserve(added.size());
  for (const VerifiedEntry& e : added) {
    lines.push_back(log_line(e));
    next.chain = log_chain(next.chain, lines.back());
    next.size += lines.back().size();
  }
  next.count += added.size();
  // A small write (or a few entries read from other writers): the state has no snapshot yet. The
  // place keeps its position and snapshot, and the new entries join the log's tail as entries ahead
  // of them: verified.json alone is written, as for an event. The next open replays them from the
  // position (what it does for any entry another writer appended) and requires each one there.
  // Only small entries (what an open replays again stays small), and never past a change of the
  // roster or of the acknowledged losses: the snapshot keeps every member key and every
  // acknowledgement this machine verified (what `audit restore` and the loss checks read from the
  // place without replaying).
  const auto small_and_same_roster = [&added] {
    return std::none_of(added.begin(), added.end(), [](const VerifiedEntry& e) {
      const std::optional<OpKind> kind = parse_op_kind(e.action);
      return e.writes > k_max_ahead_writes
             || (kind
                 && (*kind == OpKind::init || *kind == OpKind::member_add || *kind == OpKind::member_remove
                     || *kind == OpKind::member_set || *kind == OpKind::journal_loss));
    });
  };
  const bool may_lag = current && current->value("format", "") == k_verified_format && ahead == 0
                       && base.ahead + lines.size() <= k_max_log_ahead && base.tail.size() + lines.size() <= k_max_log_tail
                       && small_and_same_roster();
  const auto lag = [&] {
    next.tail.insert(next.tail.end(), lines.begin(), lines.end());
    next.ahead = base.ahead + lines.size();
    Json& json = *current;
    json["log"] = log_json(next);
    set_git(json, git_checked_through);
    AtomicFile file(verified_path, 0600);
    file.write(canonical::dump(json) + "\n");
    file.commit(AtomicFile::Folder::leave);
    return next;
  };
  // An operation among the new entries changed the state: it has no snapshot (its digest, an
  // index read, is not needed to know that).
  if (may_lag && !digest
      && std::any_of(added.begin(), added.end(), [](const VerifiedEntry& e) { return parse_op_kind(e.action).has_value(); })) {
    return lag();
  }
  const Hash state_digest = digest ? *digest : state.digest();
  const fs::path snap_path = m_dir / snap_name(state_digest);
  std::optional<Hash> first_line;
  if (m_snapshot && m_snapshot->first == state_digest && util::kind_of(snap_path)) {
    first_line = m_snapshot->second; // the snapshot this session loaded or saved
  } else {
    first_line = first_line_hash(snap_path); // the same state, saved before (an event changes no record)
  }
  // A reader's event: the state is the one saved, and its line fits in the tail. verified.json
  // alone is written (no entries.log append, no folder fsync): a crash leaves the place as it was
  // or as it became, both consistent, and the journal already holds the entry.
  const bool event_only = base.count > 0 && first_line && base.tail.size() + lines.size() <= k_max_log_tail;
  if (!event_only && may_lag) {
    return lag();
  }
  next.ahead = event_only ? 0 : ahead;
  if (event_only) {
    next.tail.insert(next.tail.end(), lines.begin(), lines.end());
  } else {
    // The log: cut anything an interrupted save left beyond the base's entries.log part, then
    // append the base's tail and the new lines.
    std::error_code ec;
    const bool exists = util::kind_of(log_path).has_value();
    const std::uintmax_t size = exists ? fs::file_size(log_path, ec) : 0;
    if (ec || size < base.file_size()) {
      throw corrupt(log_path, "shorter than the entries it should hold", m_dir);
    }
    if (exists && size > base.file_size()) {
      truncate_durably(log_path, base.file_size());
    }
    std::string add;
    for (const std::string& line : base.tail) {
      add += line;
    }
    for (const std::string& line : lines) {
      add += line;
    }
    next.tail.clear();
    if (!add.empty() || !exists) {
      append_durably(log_path, add);
    }
    if (!first_line) {
      const std::optional<Snapshot> previous = previous_snapshot(verified_path, m_vault_id, m_dir);
      const SerializedState serialized = serialize_state(state, previous ? &*previous : nullptr);
      AtomicFile snap(snap_path, 0600);
      write_snapshot(snap, serialized);
      snap.commit();
      first_line = serialized.first_line;
    }
  }
  m_snapshot = std::pair{state_digest, *first_line};
  Json pos = Json::object();
  pos["entries"] = position.entries;
  pos["heads"] = hashes_json(position.heads);
  pos["last_hash"] = canonical::b64(position.last_hash);
  if (position.last_line != Hash{}) {
    pos["last_line"] = canonical::b64(position.last_line);
  }
  pos["last_offset"] = position.last_offset;
  pos["lines"] = position.lines;
  pos["size"] = position.size;
  pos["ts"] = format_stored_time(position.ts);
  Json json = Json::object();
  json["format"] = std::string(k_verified_format);
  set_git(json, git_checked_through);
  json["log"] = log_json(next);
  json["position"] = pos;
  json["snapshot"] = canonical::b64(*first_line);
  json["state"] = canonical::b64(state_digest);
  json["vault_id"] = canonical::b64(m_vault_id);
  AtomicFile file(verified_path, 0600);
  file.write(canonical::dump(json) + "\n");
  file.commit(event_only ? AtomicFile::Folder::leave : AtomicFile::Folder::sync);
  if (event_only) {
    return next; // no snapshot was written: none to remove
  }
  // Older snapshots are no longer named by verified.json.
  // Best effort: a snapshot left behind is only disk space (the next save removes it).
  std::error_code error;
  for (auto it = fs::directory_iterator(m_dir, error); !error && it != fs::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if ((name.rfind("state-", 0) == 0 || name.rfind("state2-", 0) == 0 || name.rfind("state3-", 0) == 0)
        && name.find(".tmp") == std::string::npos
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
  // The entries ahead of the position that stay (they are still to be met past it).
  const std::size_t first_ahead = before - static_cast<std::size_t>(verified->log.ahead);
  const auto kept_ahead = static_cast<std::uint64_t>(
      std::count_if(log.begin() + static_cast<std::ptrdiff_t>(first_ahead), log.end(),
                    [&](const VerifiedEntry& e) { return hashes.count(e.hash) == 0; }));
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
    verified->position.last_line = Hash{}; // the line there is to be parsed and compared, not trusted
  }
  // The log is written anew (base {}); the state is unchanged, so its digest stands.
  save(verified->position, verified->state, verified->git_checked_through, LogSummary{}, log, verified->state_digest,
       kept_ahead);
}

std::vector<Hash> Cache::ahead_entries(const LogSummary& log) const
{
  std::vector<Hash> out;
  if (log.ahead == 0) {
    return out;
  }
  out.reserve(static_cast<std::size_t>(log.ahead));
  const auto take = [&out](VerifiedEntry&& e) { out.push_back(e.hash); };
  if (log.ahead <= log.tail.size()) {
    // The tail came with verified.json (its lines are chained with the rest when the log is read).
    const fs::path verified_path = m_dir / "verified.json";
    LogParser parser(static_cast<std::size_t>(log.ahead), Hash{}, false, verified_path, m_dir, take);
    for (std::size_t i = log.tail.size() - static_cast<std::size_t>(log.ahead); i < log.tail.size(); ++i) {
      parser.feed(log.tail[i], 1);
    }
    parser.finish("");
    return out;
  }
  std::vector<VerifiedEntry> all = entries(log);
  for (std::size_t i = all.size() - static_cast<std::size_t>(log.ahead); i < all.size(); ++i) {
    take(std::move(all[i]));
  }
  return out;
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


std::optional<std::vector<ListedSecret>> cached_listing(const fs::path& place, const VaultId& vault_id,
                                                        const State& state)
{
  const fs::path verified_path = place / "verified.json";
  const std::optional<std::string> verified_text = read_if_exists(verified_path, k_max_verified_size);
  if (!verified_text || verified_text->empty()) {
    return std::nullopt;
  }
  Hash digest{};
  Hash first_line{};
  try {
    const Json json = canonical::parse(std::string_view(*verified_text).substr(0, verified_text->size() - 1),
                                       verified_path.string());
    if (!lazy_format(json.value("format", ""))) {
      return std::nullopt;
    }
    digest = jr::fixed_b64<32>(json.at("state"), "state");
    first_line = jr::fixed_b64<32>(json.at("snapshot"), "snapshot");
  } catch (const std::exception&) {
    throw corrupt(verified_path, "malformed", place);
  }
  // The rows are bound to this session's state below, secret by secret: each row's record hash
  // must be the one the state's index gives (its blocks are checked as they are read, and once
  // all are read their pairs against the state digest), and a secret the session changed since
  // (no known hash) sends the command back to the records.
  const fs::path file = place / snap_name(digest);
  const Snapshot snapshot = open_snapshot(file, digest, first_line, vault_id, place);
  SnapSource::Mapped listing;
  const std::optional<std::vector<std::string_view>> rows = listing_rows(snapshot, listing);
  if (!rows) {
    return std::nullopt;
  }
  // The secrets' names and, for those the snapshot holds as they are now, their record hashes: the
  // index's own list when the session has read or changed no secret (then every hash is the
  // pending one), else name by name. A secret changed since the snapshot (entries ahead of it, or
  // this session's own) has no known hash: its row is the record's.
  std::vector<std::pair<std::string_view, std::optional<Hash>>> expected;
  std::vector<std::string> names;
  bool exact = false; // the rows must be exactly the secrets, one for one
  if (const std::vector<PendingRecord>* untouched = state.secrets.untouched_index()) {
    expected.reserve(untouched->size());
    for (const PendingRecord& p : *untouched) {
      expected.emplace_back(p.name, p.hash);
    }
    exact = true;
  } else {
    names = state.secrets.names();
    expected.reserve(names.size());
    for (const std::string& name : names) {
      expected.emplace_back(name, state.secrets.known_hash(name));
    }
  }
  if (exact && rows->size() != expected.size()) {
    snapshot.source->damaged("its listing does not name the secrets its index names");
  }
  std::vector<ListedSecret> out(expected.size());
  std::size_t next_row = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (!expected[i].second) {
      const Secret* record = state.secret(expected[i].first);
      if (record == nullptr) {
        fail(ErrorKind::failed, "internal: {} is named but has no record", expected[i].first);
      }
      out[i] = listed_secret(*record);
      continue;
    }
    // The row of a secret the snapshot holds: rows are in the index's order (by name), and a row
    // skipped is a secret the state no longer holds as the snapshot did.
    std::optional<std::pair<std::string_view, std::string_view>> key;
    for (; next_row < rows->size(); ++next_row) {
      key = row_key((*rows)[next_row]);
      if (exact || (key && !(key->first < expected[i].first))) {
        break;
      }
      if (!key) {
        snapshot.source->damaged(fmt::format("row {} of its listing is malformed", next_row + 1));
      }
    }
    if (next_row >= rows->size()) {
      snapshot.source->damaged(fmt::format("its listing has no row for {}", expected[i].first));
    }
    const std::size_t r = next_row++;
    const std::string_view row = (*rows)[r];
    if (!key || key->first != expected[i].first || key->second != canonical::b64(*expected[i].second)) {
      snapshot.source->damaged(fmt::format("row {} of its listing is not the secret its index names", r + 1));
    }
    const auto bad = [&](std::string_view problem) {
      snapshot.source->damaged(fmt::format("row {} of its listing: {}", r + 1, problem));
    };
    RowReader reader(row.substr(key->first.size() + key->second.size() + 2));
    const auto column = [&]() -> std::string_view {
      const std::optional<std::string_view> c = reader.next();
      if (!c) {
        bad("fewer columns than a row has");
      }
      return *c;
    };
    const auto text = [&]() -> std::string {
      std::optional<std::string> t = unescape_column(column());
      if (!t) {
        bad("a malformed escape");
      }
      return std::move(*t);
    };
    const auto number = [&](std::int64_t min) -> std::int64_t {
      const std::optional<std::int64_t> n = number_column(column());
      if (!n || *n < min) {
        bad("a malformed number");
      }
      return *n;
    };
    const auto optional = [&]() -> std::optional<std::int64_t> {
      const std::string_view c = column();
      if (c == "-") {
        return std::nullopt;
      }
      const std::optional<std::int64_t> n = number_column(c);
      if (!n || *n < 1) {
        bad("a malformed version number");
      }
      return n;
    };
    const auto flag = [&]() -> bool {
      const std::string_view c = column();
      if (c != "0" && c != "1") {
        bad("a malformed flag");
      }
      return c == "1";
    };
    ListedSecret& secret = out[i];
    secret.name = expected[i].first;
    secret.facts.env = text();
    secret.owner = text();
    secret.purpose = text();
    secret.connectors = text();
    secret.custodians = static_cast<std::size_t>(number(0));
    secret.threshold = number(0);
    secret.facts.every = number(0);
    secret.facts.retired = flag();
    secret.facts.pending_v = optional();
    secret.facts.current_v = optional();
    secret.facts.current_at = number(std::numeric_limits<std::int64_t>::min());
    secret.facts.live = flag();
    secret.facts.due = text();
    if (!reader.done()) {
      bad("more columns than a row has");
    }
    if (secret.name.compare(0, secret.facts.env.size() + 1, secret.facts.env + "/") != 0) {
      bad("its environment is not its name's");
    }
  }
  return out;
}

} // namespace escrow::history
