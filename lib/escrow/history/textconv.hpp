// Value-free, ciphertext-free summaries of the three escrow-vault/2 files, for `git diff` and
// `git log -p` (`escrow diff --textconv FILE`, issue 9 item 2; docs/TEAM.md "Reading diffs";
// vault-2-merge.md §1). One line per thing, so that a diff's changed line reads on its own:
//
//   journal  one line per entry, in file order:
//              2026-12-01T18:03:27Z vault created by alice
//              2026-12-01T18:05:10Z member bob added by alice: approver, requester in prod
//              2026-12-01T18:06:00Z prod/stripe-key: add v1 by alice (owner alice, "payments")
//              2026-12-01T19:10:03Z prod/stripe-key: v1 → v2 by alice (rotation)
//              2026-12-01T19:11:40Z request 7f3a9c0e… on prod/stripe-key approved by bob
//              2026-12-01T19:12:00Z prod/stripe-key: reveal v2 by bob
//            (version numbers are followed through the file itself: a rotation names the
//            version it replaces)
//   keys     one line per key line, without its bytes or its hash suffix:
//              reader key of prod/db generation 1 for dave
//   head     the vault id, the entry count and the heads (12 characters each)
//
// Never printed: values (never in any file), ciphertexts, sealed keys, shares, signatures, public
// keys, salts, full hashes; strings read from the file are shown with control characters escaped.
// Nothing is verified (a summary reads what the file says; `escrow verify` says whether to
// believe it); a line that cannot be read is one line saying so, never its bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace escrow::history {

// The summary of an escrow-vault/2 file's bytes (head, journal or keys, by its format);
// nullopt when the bytes are none of them (git::textconv then tries escrow-vault/1).
std::optional<std::string> summarize_v2(std::string_view bytes);

// The journal's summary alone (also for a fragment: lines appended since a commit).
std::string summarize_journal_v2(std::string_view text);

} // namespace escrow::history
