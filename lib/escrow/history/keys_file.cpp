#include <escrow/canonical.hpp>
#include <escrow/records.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/history/batches.hpp>
#include <escrow/identity.hpp>
#include <escrow/records.hpp>
#include <escrow/util/file.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <deque>
#include <map>
#include <optional>
#include <sys/mman.h>
#include <system_error>
#include <thread>
#include <sys/stat.h>
#include <unistd.h>

namespace escrow::history {

namespace {

constexpr std::string_view k_head = "{\n  \"format\": \"escrow-keys/2\",\n  \"lines\": {";
constexpr std::string_view k_format_prefix = "{\n  \"format\": \"";
constexpr std::string_view k_empty_lines = "},\n";
constexpr std::string_view k_lines_end = "  },\n";
constexpr std::string_view k_vault_prefix = "  \"vault_id\": \"";
constexpr std::string_view k_vault_suffix = "\"\n}\n";
constexpr std::size_t k_vault_id_b64 = 24; // 16 bytes
constexpr std::size_t k_vault_line = k_vault_prefix.size() + k_vault_id_b64 + k_vault_suffix.size();
constexpr std::string_view k_line_open = "    \"";
constexpr std::string_view k_line_middle = "\": \"";
constexpr std::size_t k_hash_suffix = 24; // 12 bytes, hex
constexpr std::size_t k_max_raw = 112 + k_max_value_size;
constexpr std::size_t k_max_b64 = 4 * ((k_max_raw + 2) / 3);

// The bytes a line key may hold (the layout pass of rewrite()), by table.
enum : std::uint8_t { k_key_char = 1 };
constexpr std::array<std::uint8_t, 256> k_classes = [] {
  std::array<std::uint8_t, 256> table{};
  for (int c = 0x21; c < 0x7f; ++c) {
    if (c != '"' && c != '\\') {
      table[static_cast<std::size_t>(c)] |= k_key_char;
    }
  }
  return table;
}();

bool all_of_class(std::string_view text, std::uint8_t bit)
{
  std::uint8_t all = bit;
  for (const char c : text) {
    all &= k_classes[static_cast<unsigned char>(c)];
  }
  return (all & bit) != 0;
}

bool is_lower_hex(std::string_view text)
{
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool valid_secret(std::string_view name)
{
  if (name.empty() || name.size() > 200) {
    return false;
  }
  try {
    (void)split_secret_name(name);
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::optional<std::uint32_t> parse_generation(std::string_view text)
{
  if (text.size() < 2 || text.size() > 11 || text[0] != 'g' || text[1] == '0') {
    return std::nullopt;
  }
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data() + 1, text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0 || value > k_max_line_generation) {
    return std::nullopt;
  }
  return value;
}

std::vector<std::string_view> split_colons(std::string_view text)
{
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t colon = text.find(':', start);
    parts.push_back(text.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos || parts.size() > 6) {
      return parts;
    }
    start = colon + 1;
  }
}

// Splits LOGICAL#H24; nullopt unless the key has that shape and a valid logical name.
struct ParsedKey
{
  LineName name;
  std::string_view logical;
  std::string_view suffix;
};
std::optional<ParsedKey> parse_key(std::string_view key)
{
  if (key.size() <= k_hash_suffix + 1 || key.size() > k_max_line_key_size) {
    return std::nullopt;
  }
  const std::size_t hash_at = key.size() - k_hash_suffix;
  if (key[hash_at - 1] != '#' || !is_lower_hex(key.substr(hash_at))) {
    return std::nullopt;
  }
  const std::string_view logical = key.substr(0, hash_at - 1);
  auto name = LineName::parse(logical);
  if (!name) {
    return std::nullopt;
  }
  return ParsedKey{std::move(*name), logical, key.substr(hash_at)};
}

std::string hash_suffix(const LineHash& hash)
{
  return canonical::hex(ByteView(hash.data(), k_hash_suffix / 2));
}

// The canonical bytes, written line by line in key order.
class Writer
{
public:
  explicit Writer(const VaultId& vault_id) : m_vault_id(vault_id) { m_out.append(k_head); }
  void reserve(std::size_t bytes) { m_out.reserve(bytes); }
  void line(std::string_view key, std::string_view b64)
  {
    m_out.append(m_lines == 0 ? "\n" : ",\n");
    m_out.append(k_line_open);
    m_out.append(key);
    m_out.append(k_line_middle);
    m_out.append(b64);
    m_out.push_back('"');
    ++m_lines;
  }
  // Lines as this writer lays them out, separated by ",\n" (from the indent of the first to the
  // closing quote of the last), copied from another file; by reference when writing parts.
  void run(std::string_view text, std::size_t lines)
  {
    m_out.append(m_lines == 0 ? "\n" : ",\n");
    if (m_parts) {
      cut();
      m_parts->views.push_back(text);
    } else {
      m_out.append(text);
    }
    m_lines += lines;
  }
  std::string finish()
  {
    end();
    return std::move(m_out);
  }
  // From here on, runs are held by reference (they must outlive the parts), not copied.
  void by_parts() { m_parts.emplace(); }
  KeysFile::Parts finish_parts()
  {
    end();
    cut();
    return std::move(*m_parts);
  }

private:
  void end()
  {
    if (m_lines == 0) {
      m_out.append(k_empty_lines);
    } else {
      m_out.push_back('\n');
      m_out.append(k_lines_end);
    }
    m_out.append(k_vault_prefix);
    m_out.append(canonical::b64(m_vault_id));
    m_out.append(k_vault_suffix);
  }
  // The text written so far becomes a part of its own.
  void cut()
  {
    if (!m_out.empty()) {
      m_parts->owned.push_back(std::move(m_out));
      m_parts->views.push_back(m_parts->owned.back());
      m_out = std::string();
    }
  }

  VaultId m_vault_id;
  std::string m_out;
  std::size_t m_lines = 0;
  std::optional<KeysFile::Parts> m_parts;
};

} // namespace

// --- names -------------------------------------------------------------------------------------

Vid Vid::random()
{
  Vid vid;
  const Bytes bytes = crypto::random_bytes(vid.bytes.size());
  std::copy(bytes.begin(), bytes.end(), vid.bytes.begin());
  return vid;
}

std::optional<Vid> Vid::from_hex(std::string_view text)
{
  if (text.size() != 16 || !is_lower_hex(text)) {
    return std::nullopt;
  }
  Vid vid;
  for (std::size_t i = 0; i < vid.bytes.size(); ++i) {
    const auto nibble = [](char c) { return static_cast<std::uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10); };
    vid.bytes[i] = static_cast<std::uint8_t>(nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]));
  }
  return vid;
}

std::string Vid::hex() const
{
  return canonical::hex(bytes);
}

std::string_view line_kind_name(LineKind kind)
{
  switch (kind) {
  case LineKind::reader_key: return "rk";
  case LineKind::value: return "v";
  case LineKind::share: return "sh";
  case LineKind::grant: return "gr";
  case LineKind::approval: return "ap";
  }
  return "?";
}

LineName LineName::reader_key(std::string secret, std::uint32_t gen, std::string member)
{
  LineName name;
  name.kind = LineKind::reader_key;
  name.secret = std::move(secret);
  name.gen = gen;
  name.holder = std::move(member);
  return name;
}

LineName LineName::value(std::string secret, Vid vid)
{
  LineName name;
  name.kind = LineKind::value;
  name.secret = std::move(secret);
  name.vid = vid;
  return name;
}

LineName LineName::share(std::string secret, Vid vid, std::string custodian)
{
  LineName name = value(std::move(secret), vid);
  name.kind = LineKind::share;
  name.holder = std::move(custodian);
  return name;
}

LineName LineName::grant(std::string secret, Vid vid, std::string member)
{
  LineName name = value(std::move(secret), vid);
  name.kind = LineKind::grant;
  name.holder = std::move(member);
  return name;
}

LineName LineName::approval(std::string secret, Vid vid, std::string request, std::string approver)
{
  LineName name = value(std::move(secret), vid);
  name.kind = LineKind::approval;
  name.request = std::move(request);
  name.holder = std::move(approver);
  return name;
}

std::string LineName::logical() const
{
  std::string text = secret + ":";
  switch (kind) {
  case LineKind::reader_key: text += fmt::format("g{}:rk:{}", gen, holder); break;
  case LineKind::value: text += vid.hex() + ":v"; break;
  case LineKind::share: text += vid.hex() + ":sh:" + holder; break;
  case LineKind::grant: text += vid.hex() + ":gr:" + holder; break;
  case LineKind::approval: text += vid.hex() + ":ap:" + request + ":" + holder; break;
  }
  // One spelling per name: what is written must read back as this very name.
  const auto again = parse(text);
  if (!again || !(*again == *this)) {
    fail(ErrorKind::failed, "internal error: an invalid key line name for {}", valid_secret(secret) ? secret : "?");
  }
  return text;
}

std::optional<LineName> LineName::parse(std::string_view logical)
{
  if (logical.size() > k_max_line_key_size) {
    return std::nullopt;
  }
  const auto parts = split_colons(logical);
  if (parts.size() < 3 || parts.size() > 5 || !valid_secret(parts[0])) {
    return std::nullopt;
  }
  LineName name;
  name.secret = std::string(parts[0]);
  const std::string_view kind = parts[2];
  if (kind == "rk" && parts.size() == 4) {
    const auto gen = parse_generation(parts[1]);
    if (!gen || !valid_member_name(parts[3])) {
      return std::nullopt;
    }
    name.kind = LineKind::reader_key;
    name.gen = *gen;
    name.holder = std::string(parts[3]);
    return name;
  }
  const auto vid = Vid::from_hex(parts[1]);
  if (!vid) {
    return std::nullopt;
  }
  name.vid = *vid;
  if (kind == "v" && parts.size() == 3) {
    name.kind = LineKind::value;
    return name;
  }
  if ((kind == "sh" || kind == "gr") && parts.size() == 4 && valid_member_name(parts[3])) {
    name.kind = kind == "sh" ? LineKind::share : LineKind::grant;
    name.holder = std::string(parts[3]);
    return name;
  }
  if (kind == "ap" && parts.size() == 5 && valid_request_id(parts[3]) && valid_member_name(parts[4])) {
    name.kind = LineKind::approval;
    name.request = std::string(parts[3]);
    name.holder = std::string(parts[4]);
    return name;
  }
  return std::nullopt;
}

std::size_t LineName::min_size() const
{
  switch (kind) {
  case LineKind::reader_key:
  case LineKind::grant: return crypto::k_seal_overhead + crypto::k_key_size;
  case LineKind::share:
  case LineKind::approval: return crypto::k_seal_overhead + 1 + crypto::k_key_size;
  case LineKind::value: return 2 * crypto::k_nonce_size + crypto::k_key_size + 2 * crypto::k_tag_size;
  }
  return 0;
}

std::size_t LineName::max_size() const
{
  return kind == LineKind::value ? min_size() + k_max_value_size : min_size();
}

LineHash line_hash(std::string_view logical, ByteView raw)
{
  crypto::Hasher hasher;
  const std::uint8_t zero = 0;
  hasher.update(as_bytes(k_key_line_label));
  hasher.update({&zero, 1});
  hasher.update(as_bytes(logical));
  hasher.update({&zero, 1});
  hasher.update(raw);
  return hasher.finish();
}

std::string line_key(std::string_view logical, const LineHash& hash)
{
  return std::string(logical) + "#" + hash_suffix(hash);
}

SealedLine SealedLine::make(LineName name, Bytes raw)
{
  SealedLine line;
  const std::string logical = name.logical();
  if (raw.size() < name.min_size() || raw.size() > name.max_size()) {
    fail(ErrorKind::failed, "internal error: a key line of {} has the wrong size", name.secret);
  }
  line.hash = line_hash(logical, raw);
  line.name = std::move(name);
  line.raw = std::move(raw);
  return line;
}

std::string SealedLine::key() const
{
  return line_key(name.logical(), hash);
}

std::string_view key_failure_name(KeyFailure failure)
{
  switch (failure) {
  case KeyFailure::missing: return "key-line-missing";
  case KeyFailure::modified: return "key-line-modified";
  case KeyFailure::wrong_key: return "wrong-key";
  case KeyFailure::commitment: return "key-commitment";
  case KeyFailure::corrupted: return "key-material-corrupted";
  }
  return "?";
}

// --- the file ----------------------------------------------------------------------------------

struct KeysFile::Source
{
  std::string owned;
  const char* map = nullptr;
  std::size_t size = 0;
  std::string what;
  VaultId vault_id{};
  std::size_t begin = 0; // first byte of the first line
  std::size_t end = 0;   // one past the last line's newline (begin == end: no lines)

  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source()
  {
    if (map != nullptr) {
      ::munmap(const_cast<char*>(map), size);
    }
  }

  std::string_view text() const { return {map != nullptr ? map : owned.data(), size}; }

  std::size_t line_number(std::size_t at) const
  {
    const std::string_view t = text().substr(0, at);
    return 1 + static_cast<std::size_t>(std::count(t.begin(), t.end(), '\n'));
  }

  [[noreturn]] void bad_line(std::size_t at, std::size_t number, std::string_view problem) const
  {
    fail(ErrorKind::integrity, "{}: line {}: {}", what, number != 0 ? number : line_number(at), problem);
  }

  // A line as laid out, from its first byte `at` (< end): the key is checked against the grammar;
  // the base64 text only for its characters' bounds (decode() checks it). `number` is the line's
  // number when the caller counts them (0: counted on error).
  struct Line
  {
    std::size_t begin = 0;
    std::size_t end = 0; // one past its newline
    std::string_view key;
    std::string_view b64;
    ParsedKey parsed;
  };
  // `grammar`: the key is parsed as a key line name too (else only its characters are checked:
  // the layout pass of rewrite()).
  Line line(std::size_t at, std::size_t number, bool grammar = true) const
  {
    const std::string_view t = text();
    Line out;
    out.begin = at;
    if (t.substr(at, k_line_open.size()) != k_line_open) {
      bad_line(at, number, "not a key line as escrow writes it (edited outside escrow?)");
    }
    const std::size_t key_begin = at + k_line_open.size();
    const std::size_t key_end = t.substr(0, std::min(end, key_begin + k_max_line_key_size + 1)).find('"', key_begin);
    if (key_end == std::string_view::npos) {
      bad_line(at, number, "the line key is unterminated or too long");
    }
    out.key = t.substr(key_begin, key_end - key_begin);
    if (t.substr(key_end, k_line_middle.size()) != k_line_middle) {
      bad_line(at, number, "not a key line as escrow writes it (edited outside escrow?)");
    }
    if (grammar) {
      auto parsed = parse_key(out.key);
      if (!parsed) {
        bad_line(at, number, "the line key is not a valid key line name");
      }
      out.parsed = std::move(*parsed);
    } else if (out.key.empty() || !all_of_class(out.key, k_key_char)) {
      bad_line(at, number, "the line key is not a valid key line name");
    }
    const std::size_t b64_begin = key_end + k_line_middle.size();
    const std::size_t b64_end = t.substr(0, std::min(end, b64_begin + k_max_b64 + 1)).find('"', b64_begin);
    if (b64_end == std::string_view::npos) {
      bad_line(at, number, "the key material is unterminated or too long");
    }
    out.b64 = t.substr(b64_begin, b64_end - b64_begin);
    // The layout pass keeps one line per key and no escape (two memchr); the base64 alphabet is
    // checked where the bytes are decoded (decode(): verify_all, lookups).
    if (!grammar && (out.b64.find('\n') != std::string_view::npos || out.b64.find('\\') != std::string_view::npos)) {
      bad_line(at, number, "the key material is not canonical base64");
    }
    if (t.substr(b64_end, 3) == "\",\n" && b64_end + 3 < end) {
      out.end = b64_end + 3;
    } else if (t.substr(b64_end, 2) == "\"\n" && b64_end + 2 == end) {
      out.end = end;
    } else {
      bad_line(at, number, "a key line must end with '\",' (or '\"' on the last line) and a newline");
    }
    return out;
  }

  // The line's bytes, strictly decoded, of the size its kind has and matching its hash suffix.
  SealedLine decode(const Line& found, std::size_t number, bool check_suffix = true) const
  {
    Bytes raw;
    try {
      raw = canonical::unb64(found.b64, what);
    } catch (const Error&) {
      bad_line(found.begin, number, "the key material is not canonical base64");
    }
    if (raw.size() < found.parsed.name.min_size() || raw.size() > found.parsed.name.max_size()) {
      bad_line(found.begin, number, fmt::format("a {} line of {} bytes (it must hold {})",
                                                line_kind_name(found.parsed.name.kind), raw.size(),
                                                found.parsed.name.kind == LineKind::value
                                                  ? fmt::format("{} to {}", found.parsed.name.min_size(),
                                                                found.parsed.name.max_size())
                                                  : std::to_string(found.parsed.name.min_size())));
    }
    SealedLine out;
    out.hash = line_hash(found.parsed.logical, raw);
    if (check_suffix && hash_suffix(out.hash) != found.parsed.suffix) {
      bad_line(found.begin, number, "the key material does not match the hash in its key (modified outside escrow?)");
    }
    out.name = found.parsed.name;
    out.raw = std::move(raw);
    return out;
  }

  // The first line (its start) whose key is not less than `target`; `end` when none.
  std::size_t lower_bound(std::string_view target) const
  {
    const std::string_view t = text();
    std::size_t lo = begin;
    std::size_t hi = end;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      // The start of the line holding `mid`: lo is a line start, so it is in [lo, mid].
      const auto* newline = static_cast<const char*>(::memrchr(t.data() + lo, '\n', mid - lo));
      const std::size_t start = newline != nullptr ? static_cast<std::size_t>(newline - t.data()) + 1 : lo;
      // A probe's layout and key characters are checked, not its key's grammar (no allocation:
      // a lookup bisects ~14 lines of a 13,000-line file); the line found is parsed in full by
      // the caller (find, get, with_prefix).
      const Line probe = line(start, 0, false);
      if (probe.key < target) {
        lo = probe.end;
      } else {
        hi = start;
      }
    }
    return lo;
  }

  template<typename Visit>
  void scan(Visit&& visit, bool grammar = true) const
  {
    (void)scan_range(begin, end, 4, visit, grammar); // the first line follows "{", "format" and "lines"
  }

  // The lines from `from` (a line's first byte) while they start before `to`, the first numbered
  // `number` (0: counted on error), each checked to follow the one before; returns where the last
  // one ends (past `to` when a line runs over it).
  template<typename Visit>
  std::size_t scan_range(std::size_t from, std::size_t to, std::size_t number, Visit&& visit, bool grammar = true) const
  {
    std::string_view previous;
    std::size_t at = from;
    while (at < to) {
      const Line current = line(at, number, grammar);
      if (at != from && !(previous < current.key)) {
        bad_line(at, number, "key lines are not in strictly increasing order (edited outside escrow?)");
      }
      visit(current, number);
      previous = current.key;
      at = current.end;
      if (number != 0) {
        ++number;
      }
    }
    return at;
  }
};

KeysFile::KeysFile(std::unique_ptr<Source> source) : m_source(std::move(source))
{
  Source& s = *m_source;
  const std::string_view t = s.text();
  const auto not_keys = [&]() -> void {
    if (t.substr(0, k_format_prefix.size()) == k_format_prefix) {
      const std::size_t quote = t.find('"', k_format_prefix.size());
      if (quote != std::string_view::npos && quote - k_format_prefix.size() <= 40) {
        const std::string_view format = t.substr(k_format_prefix.size(), quote - k_format_prefix.size());
        if (format != k_keys_format && std::all_of(format.begin(), format.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
          fail(ErrorKind::integrity, "{}: format \"{}\" is not {} (this escrow reads {})", s.what, format, k_keys_format,
               k_keys_format);
        }
      }
    }
    fail(ErrorKind::integrity, "{}: not an {} file as escrow writes it (edited outside escrow?)", s.what, k_keys_format);
  };
  if (t.size() < k_head.size() + k_empty_lines.size() + k_vault_line || t.substr(0, k_head.size()) != k_head) {
    not_keys();
  }
  const std::size_t vault_at = t.size() - k_vault_line;
  const std::string_view vault_line = t.substr(vault_at);
  if (vault_line.substr(0, k_vault_prefix.size()) != k_vault_prefix
      || vault_line.substr(k_vault_prefix.size() + k_vault_id_b64) != k_vault_suffix) {
    not_keys();
  }
  Bytes id;
  try {
    id = canonical::unb64(vault_line.substr(k_vault_prefix.size(), k_vault_id_b64), s.what);
  } catch (const Error&) {
    fail(ErrorKind::integrity, "{}: line {}: the vault id is not canonical base64", s.what, s.line_number(vault_at));
  }
  if (id.size() != s.vault_id.size()) {
    fail(ErrorKind::integrity, "{}: line {}: the vault id is not 16 bytes", s.what, s.line_number(vault_at));
  }
  std::copy(id.begin(), id.end(), s.vault_id.begin());
  if (vault_at == k_head.size() + k_empty_lines.size() && t.substr(k_head.size(), k_empty_lines.size()) == k_empty_lines) {
    s.begin = s.end = k_head.size() + k_empty_lines.size();
    return;
  }
  // One or more lines: "{" newline, the lines, "  }," before the vault id.
  if (vault_at < k_head.size() + 1 + k_lines_end.size() || t[k_head.size()] != '\n'
      || t.substr(vault_at - k_lines_end.size(), k_lines_end.size()) != k_lines_end
      || t[vault_at - k_lines_end.size() - 1] != '\n') {
    not_keys();
  }
  s.begin = k_head.size() + 1;
  s.end = vault_at - k_lines_end.size();
  if (s.begin >= s.end) {
    not_keys();
  }
}

KeysFile KeysFile::open(const std::filesystem::path& path)
{
  auto source = std::make_unique<Source>();
  source->what = path.string();
  const util::FileHandle file = util::open_regular(path, O_RDONLY, util::Links::refuse);
  struct stat info{};
  if (::fstat(file.get(), &info) != 0) {
    fail(ErrorKind::io, "{}: cannot stat: {}", source->what, std::strerror(errno));
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  if (size > k_max_keys_file_size) {
    fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", source->what, k_max_keys_file_size);
  }
  // escrow replaces the keys file by rename, never in place, so the mapping does not change
  // under the reader (a file truncated in place by another program ends it with SIGBUS, as git).
  void* map = size == 0 ? MAP_FAILED : ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.get(), 0);
  if (map != MAP_FAILED) {
    source->map = static_cast<const char*>(map);
    source->size = size;
  } else {
    source->owned = util::read_all(file, path, k_max_keys_file_size);
    source->size = source->owned.size();
  }
  return KeysFile(std::move(source));
}

KeysFile KeysFile::parse(std::string text, std::string what)
{
  auto source = std::make_unique<Source>();
  source->what = std::move(what);
  if (text.size() > k_max_keys_file_size) {
    fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", source->what, k_max_keys_file_size);
  }
  source->owned = std::move(text);
  source->size = source->owned.size();
  return KeysFile(std::move(source));
}

KeysFile::KeysFile(KeysFile&&) noexcept = default;
KeysFile& KeysFile::operator=(KeysFile&&) noexcept = default;
KeysFile::~KeysFile() = default;

const std::string& KeysFile::what() const
{
  return m_source->what;
}

const VaultId& KeysFile::vault_id() const
{
  return m_source->vault_id;
}

std::string_view KeysFile::bytes() const
{
  return m_source->text();
}

bool KeysFile::empty() const
{
  return m_source->begin == m_source->end;
}

std::optional<SealedLine> KeysFile::find(std::string_view key) const
{
  const Source& s = *m_source;
  const std::size_t at = s.lower_bound(key);
  if (at >= s.end) {
    return std::nullopt;
  }
  const auto found = s.line(at, 0);
  if (found.key != key) {
    return std::nullopt;
  }
  return s.decode(found, 0);
}

SealedLine KeysFile::get(const LineName& name, const LineHash& expected) const
{
  const Source& s = *m_source;
  const std::string key = line_key(name.logical(), expected);
  const std::size_t at = s.lower_bound(key);
  const auto found = at < s.end ? std::optional(s.line(at, 0)) : std::nullopt;
  if (!found || found->key != key) {
    throw KeyError(KeyFailure::missing,
                   fmt::format("{}: the key line {} is missing (the journal says it was written)", what(), key));
  }
  // The line's bytes against the full K the state names (its key carries only 12 bytes of it).
  SealedLine line = s.decode(*found, 0, false);
  if (!crypto::equal(line.hash, expected)) {
    throw KeyError(KeyFailure::modified,
                   fmt::format("{}: line {}: the key line {} does not hash to what the journal recorded "
                               "(modified outside escrow)",
                               what(), s.line_number(at), key));
  }
  return line;
}

std::vector<SealedLine> KeysFile::with_prefix(std::string_view prefix) const
{
  const Source& s = *m_source;
  std::vector<SealedLine> out;
  for (std::size_t at = s.lower_bound(prefix); at < s.end;) {
    const auto current = s.line(at, 0);
    if (current.key.substr(0, prefix.size()) != prefix) {
      break;
    }
    out.push_back(s.decode(current, 0));
    at = current.end;
  }
  return out;
}

std::size_t KeysFile::verify_all() const
{
  std::size_t count = 0;
  m_source->scan([&](const Source::Line& line, std::size_t number) {
    (void)m_source->decode(line, number);
    ++count;
  });
  return count;
}

void KeysFile::for_each(const std::function<void(std::string_view, std::string_view)>& visit) const
{
  m_source->scan([&](const Source::Line& line, std::size_t number) {
    (void)m_source->decode(line, number);
    visit(line.key, line.b64);
  });
}

void KeysFile::for_each_hash(const std::function<void(std::string_view, const LineHash&)>& visit) const
{
  const Source& s = *m_source;
  const auto in_one_pass = [&] {
    s.scan([&](const Source::Line& line, std::size_t number) { visit(line.key, s.decode(line, number).hash); });
  };
  // A large file (`verify` at 10,000 secrets: 130,000 lines, 26 MB) is decoded and hashed in two
  // halves, the second on a thread of its own, split at the first newline past the middle; the
  // lines are then visited in file order on this thread. Anything the halves do not agree on — a
  // line that does not read, keys out of order, a half that does not end where the next begins
  // (a newline inside a line of a damaged file) — is left to the one pass, which throws the first
  // error in file order as it always did, with its line number.
  constexpr std::size_t k_split_from = 1u << 20;
  const std::size_t size = s.end - s.begin;
  if (size < k_split_from || Batches::default_workers() == 0) {
    in_one_pass();
    return;
  }
  const std::string_view t = s.text();
  const std::size_t middle = s.begin + size / 2;
  const auto* newline = static_cast<const char*>(std::memchr(t.data() + middle, '\n', s.end - middle));
  const std::size_t split = newline != nullptr ? static_cast<std::size_t>(newline - t.data()) + 1 : s.end;
  if (split >= s.end) {
    in_one_pass();
    return;
  }
  struct Half
  {
    std::vector<std::pair<std::string_view, LineHash>> lines;
    bool read = false; // every line from the start to the stop read and in order
  };
  const auto hash_lines = [&s](std::size_t from, std::size_t to, Half& out) {
    try {
      const std::size_t stop = s.scan_range(from, to, 0, [&](const Source::Line& line, std::size_t number) {
        out.lines.emplace_back(line.key, s.decode(line, number).hash);
      });
      out.read = stop == to;
    } catch (...) {
      // The one pass says what is wrong (or fails as this did, when memory ran out).
    }
  };
  Half first;
  Half second;
  std::thread other;
  try {
    other = std::thread(hash_lines, split, s.end, std::ref(second));
  } catch (const std::system_error&) {
    in_one_pass(); // no second thread to be had
    return;
  }
  hash_lines(s.begin, split, first);
  other.join();
  if (!first.read || !second.read || first.lines.empty() || second.lines.empty()
      || !(first.lines.back().first < second.lines.front().first)) {
    in_one_pass();
    return;
  }
  for (const Half* half : {&first, &second}) {
    for (const auto& [key, hash] : half->lines) {
      visit(key, hash);
    }
  }
}

std::string KeysFile::Parts::joined() const
{
  std::string out;
  out.reserve(size());
  for (const std::string_view part : views) {
    out.append(part);
  }
  return out;
}

std::size_t KeysFile::Parts::size() const
{
  std::size_t n = 0;
  for (const std::string_view part : views) {
    n += part.size();
  }
  return n;
}

std::string KeysFile::rewrite(std::span<const SealedLine> add, const std::set<std::string>& remove) const
{
  return rewrite_parts(add, remove).joined();
}

KeysFile::Parts KeysFile::rewrite_parts(std::span<const SealedLine> add, const std::set<std::string>& remove) const
{
  std::vector<std::pair<std::string, std::string>> added; // key, b64
  added.reserve(add.size());
  for (const SealedLine& line : add) {
    added.emplace_back(line.key(), canonical::b64(line.raw));
  }
  std::sort(added.begin(), added.end());
  for (std::size_t i = 1; i < added.size(); ++i) {
    if (added[i - 1].first == added[i].first) {
      if (added[i - 1].second != added[i].second) {
        fail(ErrorKind::failed, "internal error: two different key lines to add under one key");
      }
    }
  }
  added.erase(std::unique(added.begin(), added.end()), added.end());

  Writer writer(vault_id());
  writer.by_parts();
  const std::string_view text = bytes();
  std::size_t next = 0;
  auto removing = remove.begin(); // sorted, as the lines are
  std::size_t removed = 0;
  // Runs of kept lines are copied as they are (their bytes are the writer's: same layout).
  std::size_t run_begin = 0;
  std::size_t run_end = 0;
  std::size_t run_lines = 0;
  const auto flush = [&] {
    if (run_lines > 0) {
      writer.run(text.substr(run_begin, run_end - run_begin), run_lines);
      run_lines = 0;
    }
  };
  // The layout and order of every line are checked; their contents are carried as they are
  // (verify_all's job, and each reader's, against the state's K): an add at 10,000 secrets
  // costs a copy, not 180,000 hashes.
  m_source->scan([&](const Source::Line& line, std::size_t) {
    const std::string_view key = line.key;
    if (next < added.size() && added[next].first < key) {
      flush();
      while (next < added.size() && added[next].first < key) {
        writer.line(added[next].first, added[next].second);
        ++next;
      }
    }
    if (next < added.size() && added[next].first == key) {
      if (added[next].second != line.b64) {
        fail(ErrorKind::integrity, "{}: the key line {} is already present with other contents", what(), key);
      }
      ++next; // already there: kept below
    }
    while (removing != remove.end() && std::string_view(*removing) < key) {
      ++removing; // not in the file: counted below
    }
    if (removing != remove.end() && std::string_view(*removing) == key) {
      flush();
      ++removing;
      ++removed;
      return;
    }
    if (run_lines == 0) {
      run_begin = line.begin;
    }
    run_end = static_cast<std::size_t>(line.b64.data() - text.data()) + line.b64.size() + 1; // its closing quote
    ++run_lines;
  }, false);
  flush();
  while (next < added.size()) {
    writer.line(added[next].first, added[next].second);
    ++next;
  }
  if (removed != remove.size()) {
    fail(ErrorKind::failed, "{}: {} of the key lines to remove are not in the file", what(), remove.size() - removed);
  }
  return writer.finish_parts();
}

std::string serialize_keys(const VaultId& vault_id, std::span<const SealedLine> lines)
{
  std::vector<std::pair<std::string, std::string>> sorted;
  sorted.reserve(lines.size());
  for (const SealedLine& line : lines) {
    sorted.emplace_back(line.key(), canonical::b64(line.raw));
  }
  std::sort(sorted.begin(), sorted.end());
  Writer writer(vault_id);
  std::size_t total = 0;
  for (const auto& [key, b64] : sorted) {
    total += key.size() + b64.size() + 12;
  }
  writer.reserve(total + 128);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0 && sorted[i - 1].first == sorted[i].first) {
      fail(ErrorKind::failed, "internal error: two key lines under one key");
    }
    writer.line(sorted[i].first, sorted[i].second);
  }
  return writer.finish();
}

std::string merge_keys(const KeysFile* base, const KeysFile& ours, const KeysFile& theirs)
{
  if (ours.vault_id() != theirs.vault_id() || (base != nullptr && base->vault_id() != ours.vault_id())) {
    fail(ErrorKind::integrity, "{}: the key files being merged belong to different vaults", ours.what());
  }
  // key → its base64 text in base, ours, theirs.
  std::map<std::string_view, std::array<std::optional<std::string_view>, 3>> lines;
  const auto collect = [&](const KeysFile& file, std::size_t side) {
    file.for_each([&](std::string_view key, std::string_view b64) { lines[key][side] = b64; });
  };
  if (base != nullptr) {
    collect(*base, 0);
  }
  collect(ours, 1);
  collect(theirs, 2);
  Writer writer(ours.vault_id());
  writer.reserve(std::max(ours.bytes().size(), theirs.bytes().size()) + 1024);
  for (const auto& [key, sides] : lines) {
    const auto& [o, a, b] = sides;
    std::optional<std::string_view> result;
    if (a == b) {
      result = a;
    } else if (a == o) {
      result = b;
    } else if (b == o) {
      result = a;
    } else {
      fail(ErrorKind::integrity, "{}: line {} has two different contents", ours.what(), key);
    }
    if (result) {
      writer.line(key, *result);
    }
  }
  return writer.finish();
}

} // namespace escrow::history
