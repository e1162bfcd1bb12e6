// Redactor: replaces every known secret value in a stream of text by "<redacted:LABEL>".
//
// Semantics (the one-shot reference, which streaming reproduces exactly for any chunking):
// scan left to right; at each position, if one or more values start there, the LONGEST one is
// replaced by its marker and scanning resumes after it; otherwise the byte is emitted as is.
// Hence no value ever appears whole in the output, even when values overlap ("abc" and "bcd"
// in "abcd" give "<redacted:A>d"), as long as no value is a substring of a marker.
//
// Streaming holds back only the shortest tail that could still turn into a value (a proper
// prefix of some value that the next chunk might complete), so interactive output is delayed no
// more than needed. That tail lives in SecretBytes; flush() emits it at end of stream. Use one
// Redactor per stream (stdout and stderr each need their own: see clone()).
#pragma once

#include <escrow/secret_bytes.hpp>
#include <escrow/util/process.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace escrow {

class CrossStreamRedactor;

class Redactor
{
public:
  Redactor() = default;
  Redactor(const Redactor&) = delete;
  Redactor& operator=(const Redactor&) = delete;
  Redactor(Redactor&&) noexcept = default;
  Redactor& operator=(Redactor&&) noexcept = default;
  ~Redactor() = default;

  // Stores its own copy of `value`; an empty value is ignored. When two entries hold the same
  // value, the first label wins. A value ending in a newline ("\n" or "\r\n", as a file read
  // into a secret often does) is also redacted without it. Add every value before the first feed(): text already emitted
  // is not revisited.
  void add(std::string label, const SecretBytes& value);

  // Returns the text that is safe to emit now; keeps back at most (longest value - 1) bytes.
  std::string feed(std::string_view chunk);
  // End of stream: emits what was held back (redacted where it completes a value).
  std::string flush();

  // One-shot redaction of a complete buffer (connector output bound for the journal or an error
  // message). Uses only the values; the streaming state is neither used nor changed.
  std::string redact_all(std::string_view text) const;

  // The same values and labels, with empty streaming state (one instance per stream). The values
  // are shared, not copied: a clone costs no locked allocation but its tail's.
  Redactor clone() const;

  std::size_t value_count() const { return m_entries.size(); }
  // Bytes currently held back (for tests and diagnostics).
  std::size_t held_back() const { return m_tail_size; }

  static std::string marker(std::string_view label);

private:
  friend class CrossStreamRedactor;
  void add_one(const std::string& label, const SecretBytes& value);

  // The same values and labels without the streaming state's buffer (CrossStreamRedactor).
  Redactor share_values() const;

  struct Entry
  {
    std::string label;
    std::shared_ptr<const SecretBytes> bytes; // never changed: clones share it
    const SecretBytes& value() const { return *bytes; }
  };

  std::vector<Entry> m_entries; // longest value first, then in order of addition
  SecretBytes m_tail;           // capacity: longest value; holds the undecided tail
  std::size_t m_tail_size = 0;
};

// Convenience spelling of Redactor::redact_all.
inline std::string redact_all(std::string_view text, const Redactor& redactor)
{
  return redactor.redact_all(text);
}

// Redacts a child's stdout and stderr together. Every byte that belongs to an occurrence of a
// value is redacted, in either of two views: each stream on its own (a value whole within one
// stream, whatever the other prints meanwhile), and both streams in the order their bytes arrive
// (a value split between them: "hun" on stdout, "ter2" on stderr). A run of redacted bytes shows
// as one marker; a value split between the streams shows the marker on each. A byte is released
// only once no later byte can make it part of a value; text released for one stream while the
// other is fed waits for that stream's next chunk or its end.
class CrossStreamRedactor
{
public:
  explicit CrossStreamRedactor(const Redactor& redactor);
  std::string feed(std::string_view chunk, bool is_stderr);
  // Called once per stream after BOTH have ended (util::ProcessSpec::flush).
  std::string flush(bool is_stderr);

private:
  struct Item
  {
    bool err = false;
    bool emitted = false;
    std::uint64_t match = 0;            // 0: not (yet) part of a value
    const std::string* label = nullptr; // of the value it is part of
  };
  void process(bool end_of_streams);
  void mark(std::size_t begin, std::size_t size, const std::vector<std::size_t>* positions, const std::string& label);

  Redactor m_values;          // the values (its streaming state unused)
  SecretBytes m_bytes;        // bytes not yet released (or kept for context), arrival order
  std::vector<Item> m_items;  // one per byte of m_bytes
  std::size_t m_merged_from = 0; // the joined view starts here (earlier items: held by one stream)
  std::uint64_t m_next_match = 1;
  std::uint64_t m_last_match[2] = {0, 0}; // per stream: the value its last released byte was in
  std::string m_outbox[2];    // released text for each stream, returned on its next call
  bool m_ended = false;
};

// Wires redaction into a process spec: one CrossStreamRedactor (owned by the spec's
// filter/flush callables) for stdout and stderr; flush drains it once both have ended.
void redact_output(util::ProcessSpec& spec, const Redactor& redactor);

} // namespace escrow
