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
  if (value.empty()) {
    return;
  }
  for (const auto& entry : m_entries) {
    if (entry.value.equals(value)) {
      return; // the first label wins
    }
  }
  // Longest first, stable among equal lengths: the first full match at a position is the
  // longest one.
  const auto position = std::find_if(m_entries.begin(), m_entries.end(), [&](const Entry& e) {
    return e.value.size() < value.size();
  });
  m_entries.insert(position, Entry{std::move(label), value.clone()});
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
      const auto value = entry.value.expose();
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
  Redactor copy;
  copy.m_entries.reserve(m_entries.size());
  for (const auto& entry : m_entries) {
    copy.m_entries.push_back(Entry{entry.label, entry.value.clone()});
  }
  copy.m_tail = SecretBytes(m_tail.size());
  return copy;
}

void redact_output(util::ProcessSpec& spec, const Redactor& redactor)
{
  struct Pair
  {
    Redactor out;
    Redactor err;
  };
  auto pair = std::make_shared<Pair>(Pair{redactor.clone(), redactor.clone()});
  spec.filter = [pair](std::string_view chunk, bool is_stderr) {
    return (is_stderr ? pair->err : pair->out).feed(chunk);
  };
  spec.flush = [pair](bool is_stderr) { return (is_stderr ? pair->err : pair->out).flush(); };
}

} // namespace escrow
