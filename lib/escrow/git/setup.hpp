// `escrow git-setup` (issue 9 item 2; docs/TEAM.md): what a work tree needs so that git shows
// escrow's files as readable summaries and knows the merge driver's name. Idempotent: a line
// already present is left alone, and nothing else in the files is touched.
//
//   .gitattributes (committed; every clone gets it)
//     /escrow.vault merge=escrow diff=escrow
//     /escrow.journal merge=escrow diff=escrow
//     /escrow.keys merge=escrow diff=escrow
//   .gitignore (committed)
//     /escrow.vault.lock
//   .git/config (repository-local: git never copies it to a clone, so each clone runs git-setup)
//     [diff "escrow"]  textconv = escrow diff --textconv
//     [merge "escrow"] name = ..., driver = escrow merge %O %A %B %P
//
// `escrow merge` merges each escrow-vault/2 file from its three versions (history/merge_files.hpp);
// on escrow-vault/1 files it refuses (exit 1), so git leaves the conflict to the user exactly as
// without a driver. A clone set up by an older escrow (no escrow.keys line, a driver line without
// %P) is reported as lacking the set-up, and git-setup brings it up to date.
#pragma once

#include <escrow/git/repo.hpp>

#include <string>
#include <vector>

namespace escrow::git {

inline constexpr const char* k_textconv_command = "escrow diff --textconv";
// %P: the path in the work tree (messages name the file git merges, not its temporary copy).
inline constexpr const char* k_merge_command = "escrow merge %O %A %B %P";

struct SetupReport
{
  std::vector<std::string> changed; // what was added, one line each (empty: all was in place)
};

// `vault_rel`, `journal_rel` and `keys_rel` are relative to the top (Repo::relative).
SetupReport setup(const Repo& repo, const std::string& vault_rel, const std::string& journal_rel,
                  const std::string& keys_rel);

// What a clone lacks (empty: set up). Reads the config and .gitattributes; writes nothing.
std::vector<std::string> missing_setup(const Repo& repo, const std::string& vault_rel);

} // namespace escrow::git
