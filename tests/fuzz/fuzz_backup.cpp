// The backup reader (escrow-backup/1, docs/FORMAT.md §10): backup::parse_backup over a whole
// file, and backup::parse_payload over the decrypted payload (the same input, read as one).
// Properties: every input is a BackupFile (or a Payload) or an Error(integrity); one that parses
// is written back byte for byte (serialize_backup / serialize_payload), and reading what was
// written gives the same parts.
#include "fuzz.hpp"

#include <escrow/backup.hpp>

using namespace escrow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  backup::BackupFile file;
  if (fuzz::accepted({ErrorKind::integrity}, [&] { file = backup::parse_backup(text, "fuzz.backup"); })) {
    const std::string written = backup::serialize_backup(file);
    fuzz::check(written == text, "a backup that parses is written back byte for byte");
    backup::BackupFile again;
    fuzz::must("a written backup reads back", [&] { again = backup::parse_backup(written, "fuzz (written)"); });
    fuzz::check(again.header_line == file.header_line && again.nonce == file.nonce
                  && again.ciphertext == file.ciphertext && again.signature == file.signature
                  && again.header.recipients.size() == file.header.recipients.size(),
                "a written backup reads back to the same parts");
    fuzz::round_tripped();
  }

  backup::Payload payload;
  if (fuzz::accepted({ErrorKind::integrity}, [&] { payload = backup::parse_payload(text, "fuzz.payload"); })) {
    const std::string written = backup::serialize_payload(payload);
    fuzz::check(written == text, "a payload that parses is written back byte for byte");
    backup::Payload again;
    fuzz::must("a written payload reads back", [&] { again = backup::parse_payload(written, "fuzz (written)"); });
    fuzz::check(again.vault == payload.vault && again.journal == payload.journal, "a payload reads back as written");
    fuzz::round_tripped();
  }
  return 0;
}
