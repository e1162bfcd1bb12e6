#include <escrow/history/verify.hpp>

#include <escrow/atomic_file.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/replay.hpp>

#include <fmt/format.h>

namespace escrow::history {

VaultCheck verify(VaultSession& session)
{
  const VaultPaths& paths = session.paths();
  const std::optional<Unresolved>& unresolved = session.unresolved();
  const KeysFile* keys = unresolved ? nullptr : &session.keys();
  const FileNames names{paths.journal.string(), paths.head.string(), paths.keys.string()};
  // One replay of the journal (issue 12 target 5): the session's, when its open replayed it all
  // (no cache, or the cache not continued: the state it holds is that replay's), else this one.
  std::optional<FullReplay> kept = session.take_full_replay();
  VerifiedVault checked;
  if (kept) {
    HeadFile head = session.head_file();
    if (unresolved) {
      std::erase_if(head.heads, [&](const Hash& h) { return unresolved->theirs_only.count(h) > 0; });
    }
    checked = verify_vault(std::move(head), kept->journal, std::move(kept->replay), keys);
  } else {
    std::string head = read_file(paths.head, k_max_head_file_size);
    const std::string journal = read_file(paths.journal, static_cast<std::size_t>(k_max_journal_size));
    if (unresolved) {
      // Ours is verified as always, with the head file's heads only theirs has set aside; the keys
      // file (both sides' lines) is judged once the merge is resolved.
      HeadFile ours_head = parse_head_file(head, paths.head.string());
      std::erase_if(ours_head.heads, [&](const Hash& h) { return unresolved->theirs_only.count(h) > 0; });
      head = serialize_head_file(ours_head);
    }
    ReplayOptions options;
    options.now = session.now();
    checked = verify_vault(head, journal, keys, options);
  }
  checked.replay.require_ok(names);
  if (!checked.head) {
    fail(ErrorKind::integrity, "{}: malformed head file", paths.head.string());
  }
  // The replayed state's digest, hashed once: reported, and compared with this machine's.
  const Hash replayed = checked.replay.state.digest();
  if (!kept) {
    // Every record of this machine's cached state is read and checked against its hash first (a
    // command reads only the records it needs; verify checks them all).
    session.state().load_all();
    if (replayed != session.state().digest()) {
      throw Error(ErrorKind::integrity,
                  fmt::format("{}: this machine's verified state differs from the journal's full replay",
                              session.cache_place().string()))
        .hint(fmt::format("if nothing else is wrong, remove {} and run verify again", session.cache_place().string()));
    }
  }
  if (unresolved) {
    // Work to finish, not tampering (exit 1), unless theirs is forged (exit 3): the conflicts
    // listed, one hint each.
    if (unresolved->problem) {
      Error error(unresolved->problem->kind() == ErrorKind::integrity ? ErrorKind::integrity : ErrorKind::failed,
                  unresolved->summary());
      error.hint("git merge --abort gives the merge up (theirs cannot be merged as it is)");
      throw error;
    }
    Error error(ErrorKind::failed,
                fmt::format("{}: ours verifies ({} journal entries); the merge does not until it is resolved",
                            unresolved->summary(), checked.replay.entries));
    for (const std::string& line : unresolved->listed) {
      error.hint(line);
    }
    error.hint("escrow resolve lists the conflicts and settles them (or git merge --abort gives the merge up)");
    throw error;
  }
  VaultCheck out;
  out.entries = checked.replay.entries;
  out.signatures = checked.replay.signatures_checked;
  out.key_lines = checked.key_lines;
  for (const auto& [name, member] : checked.replay.state.members) {
    out.members += member->active() ? 1 : 0;
  }
  out.secrets = checked.replay.state.secrets.size();
  out.state = replayed;
  for (const Finding& finding : checked.replay.findings) {
    if (finding.severity() == Severity::warning) {
      out.warnings.push_back(format_finding(finding, names));
    }
  }
  return out;
}

} // namespace escrow::history
