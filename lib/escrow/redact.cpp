#include <escrow/redact.hpp>

#include <escrow/crypto.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

namespace escrow {

namespace {

// The text being scanned: the held-back tail followed by the new chunk, without copying either.
class Segments
{
public:
  Segments(const std::uint8_t* first,
           std::size_t first_size,
           const std::uint8_t* second,
           std::size_t second_size)
    : m_first(first), m_first_size(first_size), m_second(second), m_second_size(second_size)
  {
  }

  std::size_t size() const { return m_first_size + m_second_size; }

  std::uint8_t at(std::size_t pos) const
  {
    return pos < m_first_size ? m_first[pos] : m_second[pos - m_first_size];
  }

  // Whether text[pos, pos + size) equals value[0, size). Requires pos + size <= this->size().
  bool equal(std::size_t pos, const std::uint8_t* value, std::size_t size) const
  {
    if (pos < m_first_size) {
      const std::size_t in_first = std::min(size, m_first_size - pos);
      if (std::memcmp(m_first + pos, value, in_first) != 0) {
        return false;
      }
      return size == in_first || std::memcmp(m_second, value + in_first, size - in_first) == 0;
    }
    return std::memcmp(m_second + (pos - m_first_size), value, size) == 0;
  }

private:
  const std::uint8_t* m_first;
  std::size_t m_first_size;
  const std::uint8_t* m_second;
  std::size_t m_second_size;
};

const std::uint8_t* bytes_of(std::string_view text)
{
  return reinterpret_cast<const std::uint8_t*>(text.data());
}

enum class EndOfStream { no, yes };

} // namespace

std::string Redactor::marker(std::string_view label)
{
  std::string result;
  result.reserve(label.size() + 11);
  result.append("<redacted:").append(label).append(">");
  return result;
}

void Redactor::add(std::string label, const SecretBytes& value)
{
  add_one(label, value);
  // "v\n" stored, "v" printed (echo -n, printf %s, a program that trims): redact both.
  const auto bytes = value.expose();
  std::size_t size = bytes.size();
  if (size > 0 && bytes[size - 1] == '\n') {
    --size;
    if (size > 0 && bytes[size - 1] == '\r') {
      --size;
    }
  }
  if (size != bytes.size() && size > 0) {
    add_one(label, SecretBytes(bytes.data(), size));
  }
}

void Redactor::add_one(const std::string& label, const SecretBytes& value)
{
  if (value.empty()) {
    return;
  }
  for (const auto& entry : m_entries) {
    if (entry.value().equals(value)) {
      return; // the first label wins
    }
  }
  // Longest first, stable among equal lengths: the first full match at a position is the
  // longest one.
  const auto position = std::find_if(m_entries.begin(), m_entries.end(), [&](const Entry& e) {
    return e.value().size() < value.size();
  });
  m_entries.insert(position, Entry{label, std::make_shared<const SecretBytes>(value.clone())});
  if (m_tail.size() < value.size()) {
    m_tail.resize(value.size()); // keeps the held-back prefix
  }
}

namespace {

// Scans `text` from the start, appending to `out`. Returns the position of the first byte
// whose fate is still undecided (only when the stream may continue), or text.size().
template<typename Entries>
std::size_t scan(const Entries& entries, const Segments& text, EndOfStream eos, std::string& out)
{
  const std::size_t size = text.size();
  std::size_t pos = 0;
  while (pos < size) {
    const std::size_t remaining = size - pos;
    const std::uint8_t first = text.at(pos);
    bool matched = false;
    for (const auto& entry : entries) {
      const auto value = entry.value().expose();
      if (value[0] != first) {
        continue;
      }
      if (value.size() > remaining) {
        // A longer value could still start here once more bytes arrive.
        if (eos == EndOfStream::no && text.equal(pos, value.data(), remaining)) {
          return pos;
        }
        continue;
      }
      if (text.equal(pos, value.data(), value.size())) {
        out += Redactor::marker(entry.label);
        pos += value.size();
        matched = true;
        break;
      }
    }
    if (!matched) {
      out.push_back(static_cast<char>(first));
      ++pos;
    }
  }
  return size;
}

} // namespace

std::string Redactor::feed(std::string_view chunk)
{
  if (m_entries.empty()) {
    return std::string(chunk);
  }
  std::uint8_t* tail = m_tail.expose_mut().data();
  const Segments text(tail, m_tail_size, bytes_of(chunk), chunk.size());
  std::string out;
  out.reserve(text.size());
  const std::size_t stop = scan(m_entries, text, EndOfStream::no, out);

  // Keep text[stop, end): shorter than the longest value, so it fits in m_tail.
  const std::size_t kept = text.size() - stop;
  if (stop < m_tail_size) {
    std::memmove(tail, tail + stop, m_tail_size - stop);
    if (!chunk.empty()) {
      std::memcpy(tail + (m_tail_size - stop), chunk.data(), chunk.size());
    }
  } else if (kept > 0) {
    std::memcpy(tail, chunk.data() + (stop - m_tail_size), kept);
  }
  if (m_tail_size > kept) {
    crypto::wipe(tail + kept, m_tail_size - kept);
  }
  m_tail_size = kept;
  return out;
}

std::string Redactor::flush()
{
  if (m_tail_size == 0) {
    return {};
  }
  std::uint8_t* tail = m_tail.expose_mut().data();
  std::string out;
  out.reserve(m_tail_size);
  scan(m_entries, Segments(tail, m_tail_size, nullptr, 0), EndOfStream::yes, out);
  crypto::wipe(tail, m_tail_size);
  m_tail_size = 0;
  return out;
}

std::string Redactor::redact_all(std::string_view text) const
{
  if (m_entries.empty()) {
    return std::string(text);
  }
  std::string out;
  out.reserve(text.size());
  scan(m_entries, Segments(bytes_of(text), text.size(), nullptr, 0), EndOfStream::yes, out);
  return out;
}

Redactor Redactor::clone() const
{
  Redactor copy = share_values();
  copy.m_tail = SecretBytes(m_tail.size());
  return copy;
}

Redactor Redactor::share_values() const
{
  Redactor copy;
  copy.m_entries = m_entries;
  return copy;
}

CrossStreamRedactor::CrossStreamRedactor(const Redactor& redactor) : m_values(redactor.share_values()) {}

// Marks bytes begin..begin+size of the joined view (positions == nullptr) or of one stream's
// positions[begin..begin+size) as part of one occurrence of a value.
void CrossStreamRedactor::mark(std::size_t begin,
                               std::size_t size,
                               const std::vector<std::size_t>* positions,
                               const std::string& label)
{
  const std::uint64_t match = m_next_match++;
  for (std::size_t k = begin; k < begin + size; ++k) {
    Item& item = m_items[positions != nullptr ? (*positions)[k] : k];
    if (item.match == 0) {
      item.match = match;
      item.label = &label;
    }
  }
}

void CrossStreamRedactor::process(bool end_of_streams)
{
  const auto bytes = m_bytes.expose();
  const std::size_t size = m_items.size();
  const auto& entries = m_values.m_entries;

  // Where a view's text is a proper prefix of a value from `from` to its end: what must wait.
  const auto byte_at = [&](const std::vector<std::size_t>* positions, std::size_t k) {
    return bytes[positions != nullptr ? (*positions)[k] : k];
  };
  const auto equal = [&](const std::vector<std::size_t>* positions, std::size_t k, ByteView value, std::size_t count) {
    for (std::size_t j = 0; j < count; ++j) {
      if (byte_at(positions, k + j) != value[j]) {
        return false;
      }
    }
    return true;
  };
  // Marks every occurrence in a view; returns the first position whose fate is undecided.
  const auto scan = [&](const std::vector<std::size_t>* positions, std::size_t from, std::size_t count) {
    std::size_t hold = count;
    for (std::size_t k = from; k < count; ++k) {
      for (const auto& entry : entries) {
        const auto value = entry.value().expose();
        if (byte_at(positions, k) != value[0]) {
          continue;
        }
        const std::size_t remaining = count - k;
        if (value.size() <= remaining) {
          if (equal(positions, k, value, value.size())) {
            mark(k, value.size(), positions, entry.label);
            break; // longest first: it covers the shorter ones starting here
          }
        } else if (hold == count && !end_of_streams && equal(positions, k, value, remaining)) {
          hold = k;
        }
      }
    }
    return hold;
  };

  // The joined view, then each stream's own.
  const std::size_t merged_hold = scan(nullptr, m_merged_from, size);
  std::size_t limit[2] = {merged_hold, merged_hold};
  for (int stream = 0; stream < 2; ++stream) {
    std::vector<std::size_t> positions;
    for (std::size_t i = 0; i < size; ++i) {
      if (m_items[i].err == (stream == 1)) {
        positions.push_back(i);
      }
    }
    const std::size_t hold = scan(&positions, 0, positions.size());
    if (hold < positions.size()) {
      limit[stream] = std::min(limit[stream], positions[hold]);
    }
  }

  // Release what no later byte can change.
  for (std::size_t i = 0; i < size; ++i) {
    Item& item = m_items[i];
    const int stream = item.err ? 1 : 0;
    if (item.emitted || i >= limit[stream]) {
      continue;
    }
    item.emitted = true;
    if (item.match == 0) {
      m_outbox[stream].push_back(static_cast<char>(bytes[i]));
      m_last_match[stream] = 0;
    } else if (m_last_match[stream] == 0) { // a run of redacted bytes: one marker
      m_outbox[stream] += Redactor::marker(*item.label);
      m_last_match[stream] = item.match;
    }
  }

  // Keep what was not released; the joined view resumes at its first undecided byte.
  std::size_t kept = 0;
  std::size_t kept_before_merged = 0;
  for (std::size_t i = 0; i < size; ++i) {
    kept += m_items[i].emitted ? 0 : 1;
    kept_before_merged += !m_items[i].emitted && i < merged_hold ? 1 : 0;
  }
  SecretBytes rest(kept);
  std::vector<Item> items;
  items.reserve(kept);
  std::size_t at = 0;
  for (std::size_t i = 0; i < size; ++i) {
    if (!m_items[i].emitted) {
      rest.expose_mut()[at++] = bytes[i];
      items.push_back(m_items[i]);
    }
  }
  m_bytes = std::move(rest);
  m_items = std::move(items);
  m_merged_from = kept_before_merged;
}

std::string CrossStreamRedactor::feed(std::string_view chunk, bool is_stderr)
{
  const int stream = is_stderr ? 1 : 0;
  if (m_values.m_entries.empty()) {
    return std::string(chunk);
  }
  if (!chunk.empty()) {
    const std::size_t old = m_bytes.size();
    SecretBytes joined(old + chunk.size());
    if (old > 0) {
      std::memcpy(joined.expose_mut().data(), m_bytes.expose().data(), old);
    }
    std::memcpy(joined.expose_mut().data() + old, chunk.data(), chunk.size());
    m_bytes = std::move(joined);
    Item item;
    item.err = is_stderr;
    m_items.insert(m_items.end(), chunk.size(), item);
    process(false);
  }
  return std::exchange(m_outbox[stream], std::string());
}

std::string CrossStreamRedactor::flush(bool is_stderr)
{
  const int stream = is_stderr ? 1 : 0;
  if (!m_ended) {
    m_ended = true;
    if (!m_items.empty()) {
      process(true);
    }
  }
  return std::exchange(m_outbox[stream], std::string());
}

void redact_output(util::ProcessSpec& spec, const Redactor& redactor)
{
  auto pair = std::make_shared<CrossStreamRedactor>(redactor);
  spec.filter = [pair](std::string_view chunk, bool is_stderr) { return pair->feed(chunk, is_stderr); };
  spec.flush = [pair](bool is_stderr) { return pair->flush(is_stderr); };
}

} // namespace escrow
