// The head file of escrow-vault/2: `escrow.vault`, format "escrow-vault/2" (docs/design/vault-2.md
// §3.1). A few hundred bytes every command reads first: the vault id and the journal heads the
// last write saw. No signature (vault-2.md D3): what it claims is checked against the journal.
//
// Layout, exactly (2-space indent, keys sorted, final newline):
//
//   {
//     "format": "escrow-vault/2",
//     "journal": {
//       "entries": 104213,
//       "heads": [
//         "<b64 32-byte entry hash>"
//       ]
//     },
//     "vault_id": "<b64 16 bytes>"
//   }
//
// - `heads`: 1 to k_max_heads distinct entry hashes, in linearization order (the first is "ours"
//   after a merge); the replay checks each is an entry of the journal.
// - `entries`: informational (messages, git diff), 1 to 2^53; never trusted.
// The reader is strict: any other byte, field, type, size or order is Error(integrity) naming the
// file (and the line, where there is one to name); an unknown format names the format.
#pragma once

#include <escrow/crypto.hpp>
#include <escrow/history/keys_file.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace escrow::history {

constexpr std::string_view k_head_format = "escrow-vault/2";
constexpr std::size_t k_max_head_file_size = 64 * 1024;
constexpr std::size_t k_max_heads = 256;
constexpr std::uint64_t k_max_entries = std::uint64_t{1} << 53;

// The hash of a journal entry (vault-2.md §4, label escrow/v2/entry).
using EntryHash = crypto::Hash;

struct HeadFile
{
  VaultId vault_id{};
  std::vector<EntryHash> heads;
  std::uint64_t entries = 0;

  bool operator==(const HeadFile&) const = default;
};

// Strict parse of the bytes of a head file; `what` names it in messages.
HeadFile parse_head_file(std::string_view text, std::string_view what);
// Reads `path` (never through a symbolic link, never blocking on a FIFO; at most
// k_max_head_file_size bytes) and parses it. Error(io) when it cannot be read.
HeadFile read_head_file(const std::filesystem::path& path);
// The canonical bytes. Error(failed) when `head` breaks the rules above (no head, a duplicate,
// too many, entries out of range): escrow never writes what it would refuse to read.
std::string serialize_head_file(const HeadFile& head);

// The head merge driver (vault-2-merge.md §4): heads = ours ++ (theirs − ours), entries = the
// larger. Error(integrity) when the two belong to different vaults or the result would hold
// more than k_max_heads heads.
HeadFile merge_head_files(const HeadFile& ours, const HeadFile& theirs, std::string_view what);

} // namespace escrow::history
