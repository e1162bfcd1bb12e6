#include <escrow/canonical.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/util/file.hpp>

#include <algorithm>
#include <fcntl.h>
#include <unistd.h>

namespace escrow::history {

namespace {

constexpr std::string_view k_format_prefix = "{\n  \"format\": \"";

[[noreturn]] void bad(std::string_view what, std::string_view problem)
{
  fail(ErrorKind::integrity, "{}: {}", what, problem);
}

// The format named by a file laid out as escrow writes its files, when it is another one.
void check_format_line(std::string_view text, std::string_view what)
{
  if (text.substr(0, k_format_prefix.size()) != k_format_prefix) {
    return; // the strict reader says what is wrong
  }
  const std::size_t quote = text.find('"', k_format_prefix.size());
  if (quote == std::string_view::npos || quote - k_format_prefix.size() > 40) {
    return;
  }
  const std::string_view format = text.substr(k_format_prefix.size(), quote - k_format_prefix.size());
  if (format == k_head_format || !std::all_of(format.begin(), format.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return;
  }
  if (format == "escrow-vault/1") {
    throw Error(ErrorKind::integrity,
                fmt::format("{}: escrow-vault/1 is not read by the escrow-vault/2 reader", what));
  }
  fail(ErrorKind::integrity, "{}: format \"{}\" is not {} (this escrow reads {})", what, format, k_head_format,
       k_head_format);
}

template<std::size_t N>
std::array<std::uint8_t, N> fixed_b64(const canonical::Json& value, std::string_view what, std::string_view field)
{
  if (!value.is_string()) {
    bad(what, fmt::format("\"{}\" is not a string", field));
  }
  Bytes bytes;
  try {
    bytes = canonical::unb64(value.get_ref<const std::string&>(), what);
  } catch (const Error&) {
    bad(what, fmt::format("\"{}\" is not canonical base64", field));
  }
  if (bytes.size() != N) {
    bad(what, fmt::format("\"{}\" is not {} bytes", field, N));
  }
  std::array<std::uint8_t, N> out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

void exact_keys(const canonical::Json& object, std::initializer_list<std::string_view> keys, std::string_view what,
                std::string_view where)
{
  if (!object.is_object()) {
    bad(what, fmt::format("{} is not an object", where));
  }
  for (const auto& [key, value] : object.items()) {
    (void)value;
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      bad(what, fmt::format("{} has an unknown field", where));
    }
  }
  for (const std::string_view key : keys) {
    if (!object.contains(std::string(key))) {
      bad(what, fmt::format("{} lacks \"{}\"", where, key));
    }
  }
}

// The rules of the header comment, for the reader and the writer alike; nullopt when kept.
std::optional<std::string> broken_rule(const HeadFile& head)
{
  if (head.heads.empty()) {
    return "the journal has no head";
  }
  if (head.heads.size() > k_max_heads) {
    return fmt::format("more than {} journal heads", k_max_heads);
  }
  std::vector<EntryHash> sorted = head.heads;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return "a journal head is listed twice";
  }
  if (head.entries < 1 || head.entries > k_max_entries) {
    return fmt::format("\"entries\" is not between 1 and {}", k_max_entries);
  }
  return std::nullopt;
}

} // namespace

HeadFile parse_head_file(std::string_view text, std::string_view what)
{
  check_format_line(text, what);
  if (text.size() > k_max_head_file_size) {
    bad(what, fmt::format("larger than the limit of {} bytes", k_max_head_file_size));
  }
  const canonical::Json json = canonical::parse(text, what);
  exact_keys(json, {"format", "journal", "vault_id"}, what, "the file");
  if (!json["format"].is_string() || json["format"].get_ref<const std::string&>() != k_head_format) {
    bad(what, fmt::format("not an {} file", k_head_format));
  }
  HeadFile head;
  head.vault_id = fixed_b64<16>(json["vault_id"], what, "vault_id");
  const canonical::Json& journal = json["journal"];
  exact_keys(journal, {"entries", "heads"}, what, "\"journal\"");
  const canonical::Json& entries = journal["entries"];
  if (!entries.is_number_integer() || entries.get<std::int64_t>() < 1) {
    bad(what, fmt::format("\"entries\" is not between 1 and {}", k_max_entries));
  }
  head.entries = static_cast<std::uint64_t>(entries.get<std::int64_t>());
  const canonical::Json& heads = journal["heads"];
  if (!heads.is_array()) {
    bad(what, "\"heads\" is not a list");
  }
  if (heads.size() > k_max_heads) {
    bad(what, fmt::format("more than {} journal heads", k_max_heads));
  }
  for (std::size_t i = 0; i < heads.size(); ++i) {
    head.heads.push_back(fixed_b64<32>(heads[i], what, fmt::format("heads[{}]", i)));
  }
  if (const auto problem = broken_rule(head)) {
    bad(what, *problem);
  }
  if (serialize_head_file(head) != text) {
    bad(what, "not laid out as escrow writes it (edited outside escrow?)");
  }
  return head;
}

HeadFile read_head_file(const std::filesystem::path& path)
{
  const util::FileHandle file = util::open_regular(path, O_RDONLY, util::Links::refuse);
  // Read a little past the limit so that a v1 vault is named by its format, not its size.
  std::string text;
  try {
    text = util::read_all(file, path, k_max_head_file_size);
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::integrity) {
      throw;
    }
    char start[64] = {};
    const ssize_t got = ::pread(file.get(), start, sizeof(start), 0);
    check_format_line(std::string_view(start, got > 0 ? static_cast<std::size_t>(got) : 0), path.string());
    throw;
  }
  return parse_head_file(text, path.string());
}

std::string serialize_head_file(const HeadFile& head)
{
  if (const auto problem = broken_rule(head)) {
    fail(ErrorKind::failed, "internal error: a head file with {}", *problem);
  }
  canonical::Json heads = canonical::Json::array();
  for (const EntryHash& hash : head.heads) {
    heads.push_back(canonical::b64(hash));
  }
  canonical::Json json = {
    {"format", std::string(k_head_format)},
    {"journal", {{"entries", head.entries}, {"heads", std::move(heads)}}},
    {"vault_id", canonical::b64(head.vault_id)},
  };
  return canonical::dump_pretty(json) + "\n";
}

HeadFile merge_head_files(const HeadFile& ours, const HeadFile& theirs, std::string_view what)
{
  if (ours.vault_id != theirs.vault_id) {
    bad(what, "the head files being merged belong to different vaults");
  }
  HeadFile merged = ours;
  for (const EntryHash& hash : theirs.heads) {
    if (std::find(merged.heads.begin(), merged.heads.end(), hash) == merged.heads.end()) {
      merged.heads.push_back(hash);
    }
  }
  if (merged.heads.size() > k_max_heads) {
    bad(what, fmt::format("the merge would hold more than {} journal heads", k_max_heads));
  }
  merged.entries = std::max(ours.entries, theirs.entries);
  return merged;
}

} // namespace escrow::history
