// The journal merge of the git driver (lib/escrow/history/merge_files.hpp): any two byte strings
// as ours and theirs. The input is split at its first NUL byte (ours before, theirs after);
// without one, ours is the first half of the lines and theirs the whole (a fast-forward).
// Properties: merge_texts returns or throws Error(integrity) (a one-line message), never
// anything else; a clean journal merge keeps ours as a byte prefix (or gives theirs' bytes when
// ours is a prefix of theirs), replays without an error or a conflict, and merging the result
// with theirs again changes nothing; every conflict is one line. Seeds: the replay target's
// journals (corpus/merge_journal/seed-*), split as above.
#include "fuzz.hpp"

#include <escrow/history/merge_files.hpp>
#include <escrow/history/replay.hpp>

using namespace escrow;
using namespace escrow::history;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string input = fuzz::text(data, size);
  std::string ours;
  std::string theirs;
  const std::size_t nul = input.find('\0');
  if (nul != std::string::npos) {
    ours = input.substr(0, nul);
    theirs = input.substr(nul + 1);
  } else {
    theirs = input;
    std::size_t lines = 0;
    for (const char c : input) {
      lines += c == '\n' ? 1 : 0;
    }
    std::size_t seen = 0;
    for (std::size_t pos = 0; pos < input.size(); ++pos) {
      if (input[pos] == '\n' && ++seen == (lines + 1) / 2) {
        ours = input.substr(0, pos + 1);
        break;
      }
    }
  }

  MergeOutcome m;
  if (!fuzz::accepted({ErrorKind::integrity}, [&] { m = merge_texts("", ours, theirs, "escrow.journal"); })) {
    return 0;
  }
  for (const std::string& line : m.conflicts) {
    fuzz::check(line.find('\n') == std::string::npos, "a conflict is one line");
  }
  if (m.format != MergedFormat::journal || !m.ok()) {
    fuzz::check(m.format != MergedFormat::other || (!m.changed && m.text.empty()), "a file not merged is not written");
    return 0;
  }
  const bool fast_forward = theirs.size() > ours.size() && theirs.compare(0, ours.size(), ours) == 0;
  fuzz::check(fast_forward ? m.text == theirs : m.text.compare(0, ours.size(), ours) == 0,
              "ours stays a byte prefix (or the result is theirs, ours being its prefix)");
  ReplayResult r;
  fuzz::must("the merged journal replays", [&] { r = replay(m.text); });
  fuzz::check(!r.has_errors() && !r.has_conflicts(), "a clean merge replays clean");
  MergeOutcome again;
  fuzz::must("merging the result again works", [&] { again = merge_texts("", m.text, theirs, "escrow.journal"); });
  fuzz::check(again.ok() && !again.changed, "merging the result with theirs again changes nothing");
  fuzz::round_tripped();
  return 0;
}
