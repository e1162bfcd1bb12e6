// The backup file ("escrow-backup/2", lib/escrow/history/backup.hpp: parse_backup is the fuzzable entry
// point) and the payload inside it (parse_payload).
// Properties: every input is a backup or an Error(integrity); a backup that parses is written
// back (serialize_backup) to exactly its bytes, and reads back to the same parts; the same holds
// for a payload (serialize_payload).
#include "fuzz.hpp"

#include <escrow/history/backup.hpp>

using namespace escrow;
namespace backup = escrow::history::backup;

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
  const auto same_file = [](const backup::FileSize& x, const backup::FileSize& y) {
    return x.name == y.name && x.size == y.size;
  };
  return a.vault_id == b.vault_id && a.heads == b.heads && a.entries == b.entries && same_file(a.head, b.head)
         && same_file(a.journal, b.journal) && same_file(a.keys, b.keys) && a.created_at == b.created_at && a.maker == b.maker && a.maker_sign_pk == b.maker_sign_pk
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
    fuzz::check(again.head == payload.head && again.journal == payload.journal && again.keys == payload.keys,
                "a payload reads back");
    fuzz::round_tripped();
  }
  return 0;
}
