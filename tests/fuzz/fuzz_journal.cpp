// The journal reader: a whole journal file (Journal::read_all, JSON Lines) and each of its
// lines (journal_entry_from_json over canonical::parse), and Journal::head, which reads only
// the tail. Properties: every input is entries or an Error(integrity); an entry that parses is
// written (to_json, canonical compact, as Journal::append writes it) and read back to the same
// entry with the same hash, and writing it again gives the same line; read_all accepts a file
// exactly when each of its lines is accepted alone, and then head() is the last entry's hash.
#include "fuzz.hpp"

#include <escrow/journal.hpp>

#include <optional>
#include <vector>

using namespace escrow;

namespace {

// Parses one line as the journal does; nullopt when it is refused.
std::optional<JournalEntry> read_line(std::string_view line)
{
  std::optional<JournalEntry> entry;
  if (line.size() > k_max_journal_line) {
    return std::nullopt;
  }
  fuzz::accepted({ErrorKind::integrity},
                 [&] { entry = journal_entry_from_json(canonical::parse(line, "fuzz.journal"), "fuzz.journal"); });
  return entry;
}

void round_trip(const JournalEntry& entry)
{
  const std::string line = canonical::dump(to_json(entry));
  JournalEntry again;
  fuzz::must("a written entry reads back",
             [&] { again = journal_entry_from_json(canonical::parse(line, "fuzz (written)"), "fuzz (written)"); });
  fuzz::check(to_json(again) == to_json(entry), "an entry reads back as written");
  fuzz::check(canonical::dump(to_json(again)) == line, "writing an entry is stable");
  fuzz::check(journal_entry_hash(again) == journal_entry_hash(entry), "an entry's hash survives a round trip");
  fuzz::round_tripped();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  static fuzz::ScratchFile file("fuzz.journal");
  const std::string text = fuzz::text(data, size);

  // Line by line, as read_all splits.
  std::vector<JournalEntry> lines;
  bool every_line = true;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string_view line = std::string_view(text).substr(start, end - start);
    if (!line.empty()) {
      if (auto entry = read_line(line)) {
        round_trip(*entry);
        lines.push_back(std::move(*entry));
      } else {
        every_line = false;
      }
    }
    start = end + 1;
  }

  // The whole file.
  const Journal journal(file.write(text));
  std::vector<JournalEntry> entries;
  const bool read = fuzz::accepted({ErrorKind::integrity}, [&] { entries = journal.read_all(); });
  fuzz::check(read == every_line, "read_all accepts a journal exactly when it accepts each line");
  std::string head;
  const bool headed = fuzz::accepted({ErrorKind::integrity}, [&] { head = journal.head(); });
  if (read) {
    fuzz::check(entries.size() == lines.size(), "read_all reads every line");
    for (std::size_t i = 0; i < entries.size(); ++i) {
      fuzz::check(to_json(entries[i]) == to_json(lines[i]), "read_all reads each line as it reads alone");
    }
    fuzz::check(headed, "head() reads a journal read_all accepts");
    fuzz::check(head == (entries.empty() ? std::string() : entries.back().hash), "head() is the last entry's hash");
  }
  return 0;
}
