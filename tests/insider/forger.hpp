// The insider forger (docs/design/vault-2-plan.md §1.1): a TEST-ONLY library (escrow_forger,
// linked into the insider tests only, never into escrow_core or the binary) that edits the three
// files of an escrow-vault/2 vault as a member with a text editor and their own key would, or as
// someone with no key at all.
//
// What it writes is perfect in every respect except authority: entries are canonical, hashed and
// signed for real (by the identity the test hands it), their `writes` are what history::apply
// computes, key lines are real sealed lines in the keys file's canonical layout, and the head file
// names the journal's heads and entry count. Only history::authorize is skipped. So a forged cell
// that the reader refuses is refused for its authority, not for a clumsy forgery.
#pragma once

#include <escrow/history/apply.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/history/state.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/identity.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace escrow::test {

class Forger
{
public:
  // Reads the head file, the journal's lines and the keys file raw (no verification beyond what
  // is needed to compute the next entry: the journal is replayed to know the state it appends to;
  // when it does not replay cleanly the state is the best effort of the entries appended here).
  explicit Forger(std::filesystem::path head_path);

  // The clock of the forged entries (ts = max(now, the parents' ts), as a command would).
  void set_now(Timestamp now) { m_now = now; }

  // What a member with a modified escrow would write: the entry the honest command builds for
  // `args` (key lines of `material` in its writes, the other writes computed by history::apply on
  // the current state) with history::authorize skipped, signed by `as`. When apply cannot compute
  // the effect (the operation names something that does not exist), the writes are the key lines
  // alone. Returns the entry (its line is the journal's last).
  history::Entry append_op(const Identity& as, history::Args args, const history::Material& material = {},
                           std::optional<std::string> why = std::nullopt);
  // Forks: the next appended entries chain onto the entry of `line` (1-based), computed against
  // the state after it (a member branching from the past).
  void branch_from(std::size_t line);
  // An event entry (reveal, merge, …) by `as`, parents = the current heads unless given.
  history::Entry append_event(const Identity& as, history::EventKind kind,
                              std::optional<std::vector<history::Hash>> parents = std::nullopt);
  // Any entry at all: vault, parents (when empty and not genesis: the current heads) and ts
  // (when 0) filled in, then hashed and signed by `as` (`as == nullptr`: the signature is left as
  // given, i.e. whatever the caller put there).
  history::Entry append_raw(const Identity* as, history::Entry entry, const std::vector<history::SealedLine>& lines = {});
  // A raw journal line (no checks at all), e.g. a copy of an old line.
  void append_line(std::string line);

  // Edits of the journal as an insider holding only `as` (nullptr: no key). The edited entry is
  // re-hashed always, and re-signed only when `as` is given; entries of other authors that name it
  // as a parent stay as they are, so their parent links break, as they would for a real attacker.
  // Lines are 1-based.
  void edit_entry(std::size_t line, const std::function<void(history::Entry&)>& edit, const Identity* as);
  void delete_entries(std::size_t first, std::size_t last);
  void move_entry(std::size_t from, std::size_t to);
  void truncate(std::size_t lines);
  void replace_journal(std::string text);
  void set_line(std::size_t line, std::string text);

  // The keys file: a line added (canonical place) or removed by its key.
  void put_key_line(const history::SealedLine& line);
  void drop_key_line(const std::string& key);
  void replace_keys(std::string text) { m_keys = std::move(text); }

  // The head file: by default save() makes it name the journal's heads (entries no other entry
  // names as a parent, in file order) and its line count, as a careful attacker would.
  void set_heads(std::vector<history::Hash> heads, std::optional<std::uint64_t> entries = std::nullopt);
  void replace_head(std::string text) { m_head_override = std::move(text); }

  // Writes the three files byte-exact (canonical layouts).
  void save();

  const std::vector<std::string>& lines() const { return m_lines; }
  std::string journal_text() const;
  history::Entry entry(std::size_t line) const; // parse of a line (1-based)
  const history::State& state() const { return m_state; }
  const std::vector<history::Hash>& heads() const { return m_heads; }
  const history::VaultId& vault_id() const { return m_vault; }
  const std::string& keys_text() const { return m_keys; }

private:
  void refresh(); // state, heads and ts from a replay of the current lines

  std::filesystem::path m_head_path;
  std::filesystem::path m_journal_path;
  std::filesystem::path m_keys_path;
  history::VaultId m_vault{};
  std::vector<std::string> m_lines;
  std::string m_keys;
  std::optional<std::string> m_head_override;
  std::optional<history::HeadFile> m_head_set;
  history::State m_state;
  std::vector<history::Hash> m_heads;
  Timestamp m_ts = 0;
  Timestamp m_now = 0;
};

// The journal's heads in file order: entries no later-or-earlier entry names as a parent.
std::vector<history::Hash> dag_heads(const std::vector<std::string>& lines);

} // namespace escrow::test
