#include <escrow/atomic_file.hpp>
#include <escrow/canonical.hpp>
#include <escrow/history/cache.hpp>
#include <escrow/history/json_read.hpp>
#include <escrow/history/labels.hpp>
#include <escrow/lock.hpp>
#include <escrow/util/file.hpp>

#include <algorithm>
#include <charconv>
#include <fcntl.h>
#include <sys/stat.h>

namespace escrow::history {

namespace fs = std::filesystem;
namespace jr = json_read;

namespace {

constexpr std::string_view k_verified_format = "escrow-verified/1";
constexpr std::string_view k_state_format = "escrow-state/1";
constexpr std::size_t k_max_verified_size = 64 * 1024 * 1024; // heads ≤ 256: tiny; bound anyway
constexpr std::size_t k_max_cache_file = std::size_t{4} << 30;
constexpr std::int64_t k_max_count = std::int64_t{1} << 53;

Error corrupt(const fs::path& file, std::string_view problem, const fs::path& place)
{
  return Error(ErrorKind::integrity, fmt::format("{}: {} (this machine's verified-state cache)", file.string(), problem),
               {fmt::format("remove {} to verify the vault from its journal again (this machine then forgets which "
                            "entries it had verified)",
                            place.string())});
}

std::string snap_name(const Hash& digest)
{
  return "state-" + canonical::hex(digest) + ".snap";
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

std::vector<VerifiedEntry> parse_log(std::string_view text, std::size_t count, const fs::path& file,
                                     const fs::path& place)
{
  std::vector<VerifiedEntry> out;
  out.reserve(count);
  std::size_t start = 0;
  while (out.size() < count) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      throw corrupt(file, fmt::format("holds {} entries, {} expected", out.size(), count), place);
    }
    const std::string_view line = text.substr(start, nl - start);
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
  return out;
}

std::string serialize_state(const State& state)
{
  Json meta = Json::object();
  meta["format"] = std::string(k_state_format);
  meta["genesis"] = state.genesis_name;
  meta["lost"] = hashes_json(std::vector<Hash>(state.lost.begin(), state.lost.end()));
  meta["vault_id"] = canonical::b64(state.vault_id);
  std::string out = canonical::dump(meta) + "\n";
  for (const std::string& path : state.paths()) {
    out += path;
    out += '\t';
    out += canonical::dump(*state.record(path));
    out += '\n';
  }
  return out;
}

State parse_state(std::string_view text, const VaultId& vault_id, const fs::path& file, const fs::path& place)
{
  State state;
  std::size_t start = 0;
  std::size_t number = 0;
  const std::string what = file.string();
  try {
    while (start < text.size()) {
      const std::size_t nl = text.find('\n', start);
      if (nl == std::string_view::npos) {
        throw corrupt(file, "its last line has no end", place);
      }
      const std::string_view line = text.substr(start, nl - start);
      ++number;
      const std::string where = fmt::format("{}: line {}", what, number);
      if (number == 1) {
        const Json meta = canonical::parse(line, where);
        jr::Fields f(meta, where, ": ");
        if (jr::string(f.need("format"), f.at("format")) != k_state_format) {
          throw corrupt(file, "not an escrow-state/1 file", place);
        }
        state.genesis_name = jr::string(f.need("genesis"), f.at("genesis"));
        for (const Json& h : jr::array(f.need("lost"), f.at("lost"), std::size_t{1} << 24)) {
          state.lost.insert(jr::fixed_b64<32>(h, f.at("lost")));
        }
        state.vault_id = jr::fixed_b64<16>(f.need("vault_id"), f.at("vault_id"));
        f.finish();
        if (state.vault_id != vault_id) {
          throw corrupt(file, "belongs to another vault", place);
        }
      } else {
        const std::size_t tab = line.find('\t');
        if (tab == std::string_view::npos) {
          throw corrupt(file, fmt::format("line {} is malformed", number), place);
        }
        const std::string path(line.substr(0, tab));
        load_record(state, path, canonical::parse(line.substr(tab + 1), where), where);
      }
      start = nl + 1;
    }
  } catch (const Error& error) {
    if (error.hints().empty()) {
      throw corrupt(file, fmt::format("malformed ({})", error.what()), place);
    }
    throw;
  }
  if (number == 0) {
    throw corrupt(file, "empty", place);
  }
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
  std::size_t log_count = 0;
  std::size_t log_size = 0;
  try {
    if (text->empty() || text->back() != '\n') {
      throw corrupt(verified_path, "not a complete file", m_dir);
    }
    const Json json = canonical::parse(std::string_view(*text).substr(0, text->size() - 1), verified_path.string());
    const std::string where = verified_path.string();
    jr::Fields f(json, where, ": ");
    if (jr::string(f.need("format"), f.at("format")) != k_verified_format) {
      throw corrupt(verified_path, "not an escrow-verified/1 file", m_dir);
    }
    {
      const Json& log = jr::object(f.need("log"), f.at("log"));
      jr::Fields l(log, f.at("log"));
      log_count = static_cast<std::size_t>(jr::integer(l.need("count"), l.at("count"), 0, k_max_count));
      log_size = static_cast<std::size_t>(jr::integer(l.need("size"), l.at("size"), 0, k_max_count));
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
    if (jr::fixed_b64<16>(f.need("vault_id"), f.at("vault_id")) != m_vault_id) {
      throw corrupt(verified_path, "belongs to another vault", m_dir);
    }
    f.finish();
    if (v.position.heads.empty() || v.position.last_offset >= v.position.size || log_count == 0) {
      throw corrupt(verified_path, "inconsistent position", m_dir);
    }
  } catch (const Error& error) {
    if (error.hints().empty()) {
      throw corrupt(verified_path, fmt::format("malformed ({})", error.what()), m_dir);
    }
    throw;
  }
  const fs::path snap_path = m_dir / snap_name(digest);
  const std::optional<std::string> snap = read_if_exists(snap_path, k_max_cache_file);
  if (!snap) {
    throw corrupt(snap_path, "missing", m_dir);
  }
  v.state = parse_state(*snap, m_vault_id, snap_path, m_dir);
  if (v.state.digest() != digest) {
    throw corrupt(snap_path, "its records do not hash to the digest it is named by", m_dir);
  }
  const fs::path log_path = m_dir / "entries.log";
  const std::optional<std::string> log = read_if_exists(log_path, k_max_cache_file);
  if (!log || log->size() < log_size) {
    throw corrupt(log_path, "shorter than verified.json says", m_dir);
  }
  v.log = parse_log(std::string_view(*log).substr(0, log_size), log_count, log_path, m_dir);
  if (std::none_of(v.log.rbegin(), v.log.rend(), [&](const VerifiedEntry& e) { return e.hash == v.position.last_hash; })) {
    throw corrupt(log_path, "does not hold the verified position's entry", m_dir);
  }
  return v;
}

void Cache::save(const Verified& verified, std::size_t logged) const
{
  if (logged > verified.log.size() || verified.log.empty()) {
    fail(ErrorKind::failed, "internal: cache save with an inconsistent log");
  }
  fs::create_directories(m_dir);
  ::chmod(m_dir.c_str(), 0700);
  const FileLock lock(m_dir / "lock", std::chrono::seconds(30));
  // The log: complete the first `logged` lines' size from the file itself (they are ours), then
  // append the rest after cutting anything an interrupted save left beyond them.
  const fs::path log_path = m_dir / "entries.log";
  std::size_t kept = 0;
  {
    const std::optional<std::string> old = read_if_exists(log_path, k_max_cache_file);
    std::size_t lines = 0;
    if (old) {
      while (lines < logged) {
        const std::size_t nl = old->find('\n', kept);
        if (nl == std::string::npos) {
          break;
        }
        kept = nl + 1;
        ++lines;
      }
    }
    if (lines != logged) {
      throw corrupt(log_path, "shorter than the entries it should hold", m_dir);
    }
    if (old && old->size() > kept) {
      truncate_durably(log_path, kept);
    }
  }
  std::string add;
  for (std::size_t i = logged; i < verified.log.size(); ++i) {
    add += log_line(verified.log[i]);
  }
  if (!add.empty() || !util::kind_of(log_path)) {
    append_durably(log_path, add);
  }
  const std::size_t log_size = kept + add.size();
  const Hash digest = verified.state.digest();
  const fs::path snap_path = m_dir / snap_name(digest);
  if (!util::kind_of(snap_path)) {
    AtomicFile snap(snap_path, 0600);
    snap.write(serialize_state(verified.state));
    snap.commit();
  }
  Json pos = Json::object();
  pos["entries"] = verified.position.entries;
  pos["heads"] = hashes_json(verified.position.heads);
  pos["last_hash"] = canonical::b64(verified.position.last_hash);
  pos["last_offset"] = verified.position.last_offset;
  pos["lines"] = verified.position.lines;
  pos["size"] = verified.position.size;
  pos["ts"] = format_stored_time(verified.position.ts);
  Json json = Json::object();
  json["format"] = std::string(k_verified_format);
  if (!verified.git_checked_through.empty()) {
    json["git"] = Json{{"checked_through", verified.git_checked_through}};
  }
  json["log"] = Json{{"count", verified.log.size()}, {"size", log_size}};
  json["position"] = pos;
  json["state"] = canonical::b64(digest);
  json["vault_id"] = canonical::b64(m_vault_id);
  AtomicFile file(m_dir / "verified.json", 0600);
  file.write(canonical::dump(json) + "\n");
  file.commit();
  // Older snapshots are no longer named by verified.json.
  // Best effort: a snapshot left behind is only disk space (the next save removes it).
  std::error_code error;
  for (auto it = fs::directory_iterator(m_dir, error); !error && it != fs::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("state-", 0) == 0 && name.find(".tmp") == std::string::npos && name != snap_name(digest)) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

void Cache::forget(const std::set<Hash>& hashes) const
{
  std::optional<Verified> verified = load();
  if (!verified || hashes.empty()) {
    return;
  }
  const std::size_t before = verified->log.size();
  std::erase_if(verified->log, [&](const VerifiedEntry& e) { return hashes.count(e.hash) > 0; });
  if (verified->log.size() == before) {
    return;
  }
  if (verified->log.empty()) {
    return; // cannot happen (the genesis is never tentative); nothing sensible to keep
  }
  // The last verified position is one of the forgotten entries: name the last entry kept instead.
  // The line at the position's offset is then not that entry (it is gone, or is the forgotten
  // one), so the next open replays the journal (slow path) rather than continuing past it.
  if (hashes.count(verified->position.last_hash) > 0) {
    verified->position.last_hash = verified->log.back().hash;
  }
  save(*verified, 0);
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
