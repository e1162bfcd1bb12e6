#include <escrow/history/json_read.hpp>

#include <algorithm>
#include <functional>

namespace escrow::history::json_read {

Fields::Fields(const Json& json, std::string where, std::string_view separator)
  : m_json(json), m_where(std::move(where)), m_separator(separator)
{
  if (!m_json.is_object()) {
    fail(ErrorKind::integrity, "{}: expected an object", m_where);
  }
}

const Json& Fields::need(std::string_view key)
{
  const Json* found = maybe(key);
  if (found == nullptr) {
    fail(ErrorKind::integrity, "{}: missing field \"{}\"", m_where, key);
  }
  return *found;
}

const Json* Fields::maybe(std::string_view key)
{
  const auto it = m_json.find(key);
  if (it == m_json.end()) {
    return nullptr;
  }
  m_read.push_back(&*it);
  return &*it;
}

std::string Fields::at(std::string_view key) const
{
  std::string out;
  out.reserve(m_where.size() + m_separator.size() + key.size());
  out.append(m_where).append(m_separator).append(key);
  return out;
}

void Fields::finish() const
{
  std::sort(m_read.begin(), m_read.end(), std::less<const Json*>());
  m_read.erase(std::unique(m_read.begin(), m_read.end()), m_read.end());
  if (m_read.size() == m_json.size()) {
    return;
  }
  // The first key, in the object's order, that was not read.
  for (const auto& item : m_json.items()) {
    if (!std::binary_search(m_read.begin(), m_read.end(), &item.value(), std::less<const Json*>())) {
      // The key came from a parsed file: name it only when it is short and printable.
      const std::string& key = item.key();
      const bool printable = key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
                               return c >= 0x20 && c < 0x7f && c != '"';
                             });
      fail(ErrorKind::integrity, "{}: unknown field \"{}\"", m_where, printable ? key : "?");
    }
  }
}

const std::string& string(const Json& json, std::string_view where)
{
  if (!json.is_string()) {
    fail(ErrorKind::integrity, "{}: expected a string", where);
  }
  return json.get_ref<const std::string&>();
}

std::int64_t integer(const Json& json, std::string_view where, std::int64_t min, std::int64_t max)
{
  std::int64_t value = 0;
  if (json.is_number_unsigned()) {
    const auto u = json.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(max)) {
      fail(ErrorKind::integrity, "{}: out of range ({}..{})", where, min, max);
    }
    value = static_cast<std::int64_t>(u);
  } else if (json.is_number_integer()) {
    value = json.get<std::int64_t>();
  } else {
    fail(ErrorKind::integrity, "{}: expected an integer", where);
  }
  if (value < min || value > max) {
    fail(ErrorKind::integrity, "{}: out of range ({}..{})", where, min, max);
  }
  return value;
}

bool boolean(const Json& json, std::string_view where)
{
  if (!json.is_boolean()) {
    fail(ErrorKind::integrity, "{}: expected true or false", where);
  }
  return json.get<bool>();
}

Timestamp time(const Json& json, std::string_view where)
{
  const std::string& text = string(json, where);
  const std::optional<Timestamp> at = text.size() == 20 ? parse_time(text) : std::nullopt;
  if (!at || format_time(*at) != text) {
    fail(ErrorKind::integrity, "{}: expected a time YYYY-MM-DDTHH:MM:SSZ", where);
  }
  return *at;
}

const Json& array(const Json& json, std::string_view where, std::size_t max)
{
  if (!json.is_array()) {
    fail(ErrorKind::integrity, "{}: expected an array", where);
  }
  if (json.size() > max) {
    fail(ErrorKind::integrity, "{}: more than {} items", where, max);
  }
  return json;
}

const Json& object(const Json& json, std::string_view where)
{
  if (!json.is_object()) {
    fail(ErrorKind::integrity, "{}: expected an object", where);
  }
  return json;
}

std::set<std::string> string_set(const Json& json, std::string_view where, std::size_t max)
{
  std::set<std::string> out;
  const std::string* previous = nullptr;
  for (const Json& item : array(json, where, max)) {
    const std::string& text = string(item, where);
    if (previous != nullptr && !(*previous < text)) {
      fail(ErrorKind::integrity, "{}: not sorted, or a repeated item", where);
    }
    out.insert(text);
    previous = &text;
  }
  return out;
}

} // namespace escrow::history::json_read
