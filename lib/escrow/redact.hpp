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
#include <string>
#include <string_view>
#include <vector>

namespace escrow {

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
  // value, the first label wins. Add every value before the first feed(): text already emitted
  // is not revisited.
  void add(std::string label, const SecretBytes& value);

  // Returns the text that is safe to emit now; keeps back at most (longest value - 1) bytes.
  std::string feed(std::string_view chunk);
  // End of stream: emits what was held back (redacted where it completes a value).
  std::string flush();

  // One-shot redaction of a complete buffer (connector output bound for the journal or an error
  // message). Uses only the values; the streaming state is neither used nor changed.
  std::string redact_all(std::string_view text) const;

  // The same values and labels, with empty streaming state (one instance per stream).
  Redactor clone() const;

  std::size_t value_count() const { return m_entries.size(); }
  // Bytes currently held back (for tests and diagnostics).
  std::size_t held_back() const { return m_tail_size; }

  static std::string marker(std::string_view label);

private:
  struct Entry
  {
    std::string label;
    SecretBytes value;
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

// Wires redaction into a process spec: stdout and stderr each get their own clone of
// `redactor` (owned by the spec's filter/flush callables), and flush drains it at EOF.
void redact_output(util::ProcessSpec& spec, const Redactor& redactor);

} // namespace escrow
