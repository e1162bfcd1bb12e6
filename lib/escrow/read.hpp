// Reading a value under the read rules — the one library operation behind `inject`,
// `exec --env-file` and references (lib/escrow/references.hpp).
//
// The rules (DESIGN §4): the reader reaches the secret's environment, is not only an auditor, the
// secret is not retired, the version exists, and the identity has a way to its data key (standing
// access, a carried grant, or k approvals; lib/escrow/versions.hpp). A refusal is journaled
// ("denied", with the reason) and thrown as Error(access); an unknown secret or version is
// Error(usage). A successful read is journaled only by record_reads(), after every value of an
// operation has been read, so an operation that fails half-way leaves no "ok" entry behind.
#pragma once

#include <escrow/journal.hpp>
#include <escrow/secret_bytes.hpp>
#include <escrow/session.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace escrow {

struct ValueRead
{
  std::string secret; // ENV/NAME
  std::int64_t version = 0;
  SecretBytes value;
  JournalEntry entry;     // what record_reads() journals
  std::string used_grant; // a request whose first use makes an after_access secret due
};

// Reads version `version` (0 = current) of ENV/NAME. `action` and `detail` go into the journal
// entry ("reveal" or "exec", and value-free facts such as the program or the output file).
ValueRead read_value(Session& session,
                     std::string_view full_name,
                     std::int64_t version,
                     JournalAction action,
                     Json detail);

// Journals every read (one entry per secret read), then marks the grants used (one vault
// revision, signed by the reader), which makes after_access secrets due.
void record_reads(Session& session, std::vector<ValueRead>& reads);

} // namespace escrow
