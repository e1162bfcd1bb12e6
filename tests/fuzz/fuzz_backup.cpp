// The backup file ("escrow-backup/1", lib/escrow/backup.hpp: parse_backup is the fuzzable entry
// point) and the payload inside it (parse_payload).
// Properties: every input is a backup or an Error(integrity); a backup that parses is written
// back (serialize_backup) to exactly its bytes, and reads back to the same parts; the same holds
// for a payload (serialize_payload).
#include "fuzz.hpp"

#include <escrow/backup.hpp>

using namespace escrow;

namespace {

bool same_header(const backup::Header& a, const backup::Header& b)
{
  if (a.recipients.size() != b.recipients.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.recipients.size(); ++i) {
    const auto& x = a.recipients[i];
    const auto& y = b.recipients[i];
    if (x.name != y.name || x.fingerprint != y.fingerprint || x.box_pk != y.box_pk || x.sealed_key != y.sealed_key) {
      return false;
    }
  }
  return a.vault_id == b.vault_id && a.revision == b.revision && a.vault_head == b.vault_head && a.genesis == b.genesis
         && a.journal_head == b.journal_head && a.journal_entries == b.journal_entries && a.vault_size == b.vault_size
         && a.journal_size == b.journal_size && a.vault_file == b.vault_file && a.journal_file == b.journal_file
         && a.created_at == b.created_at && a.maker == b.maker && a.maker_sign_pk == b.maker_sign_pk
         && a.maker_fingerprint == b.maker_fingerprint;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  backup::BackupFile file;
  if (fuzz::accepted({ErrorKind::integrity}, [&] { file = backup::parse_backup(text, "fuzz.backup"); })) {
    const std::string written = backup::serialize_backup(file);
    fuzz::check(written == text, "serialize_backup(parse_backup(b)) == b");
    backup::BackupFile again;
    fuzz::must("a written backup parses", [&] { again = backup::parse_backup(written, "fuzz.backup (written)"); });
    fuzz::check(same_header(again.header, file.header) && again.header_line == file.header_line
                  && again.nonce == file.nonce && again.ciphertext == file.ciphertext && again.signature == file.signature,
                "a written backup reads back to the same parts");
    fuzz::round_tripped();
  }

  backup::Payload payload;
  if (fuzz::accepted({ErrorKind::integrity}, [&] { payload = backup::parse_payload(text, "fuzz.payload"); })) {
    const std::string written = backup::serialize_payload(payload);
    fuzz::check(written == text, "serialize_payload(parse_payload(p)) == p");
    backup::Payload again;
    fuzz::must("a written payload parses", [&] { again = backup::parse_payload(written, "fuzz.payload (written)"); });
    fuzz::check(again.vault == payload.vault && again.journal == payload.journal, "a payload reads back");
    fuzz::round_tripped();
  }
  return 0;
}
