// Value-free, ciphertext-free summaries of the vault and the journal, one line per thing, for
// `git diff` and `git log -p` (`escrow diff --textconv FILE`, issue 9 item 2; docs/TEAM.md).
//
// Vault (escrow-vault/1): a header line, then one line per policy environment, member,
// connector, secret, version and request, each naming its secret or member so that a diff's
// changed line reads on its own:
//   vault hquW4J+j5PbjR4s3wl9mQQ== revision 7 (escrow-vault/1, signed by alice; run escrow verify)
//   member bob: approver, requester in prod (added 2026-12-01T18:03:27Z by alice)
//   secret prod/stripe-key: owner alice, active, every 30d, 2 of alice, bob, connectors crm: "payments"
//   version prod/stripe-key v2: current, created 2026-12-01T18:03:27Z by alice, readers alice
//   request prod/stripe-key 7f3a9c0e…: by bob for 1h, 1 of 2 approvals (carol): "incident 5"
// Journal: one line per entry:
//   2026-12-01T18:03:27Z prod/stripe-key: v1 → v2 by alice (rotation)
//   2026-12-01T18:04:00Z request 7f3a9c0e… on prod/stripe-key approved by bob
// Never printed: values (never in either file), ciphertexts, nonces, sealed keys, shares,
// signatures, hashes, public keys, connector output. Nothing is verified here (a summary reads
// what the file says; `escrow verify` says whether to believe it); a part that cannot be read is
// one line saying so, never the raw bytes.
#pragma once

#include <string>
#include <string_view>

namespace escrow {

enum class SummaryKind { vault, journal, unknown };

// What the bytes look like: a vault (its "format" line), a journal (JSON Lines), or neither.
SummaryKind summary_kind(std::string_view text);

std::string summarize_vault(std::string_view text);
std::string summarize_journal(std::string_view text);
// By summary_kind; an unknown file gives one line "(not an escrow vault or journal: N bytes)".
std::string summarize(std::string_view text);

} // namespace escrow
