// The vault reader, eager (Vault::parse + verify_all, as `escrow verify` reads).
// Properties: every input is a vault or an Error(integrity); a vault that parses and is headed
// by a member whose key the target holds (alice of the golden files, the genesis admin) is
// written again (serialize) and the written file parses to the same records, byte for byte
// after the head signature, with the revision one higher and the old head as its parent; and
// writing that once more gives the same records again (parse → write → parse is stable).
#include "vault_support.hpp"

#include <optional>

using namespace escrow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  std::optional<Vault> vault;
  if (!fuzz::accepted({ErrorKind::integrity}, [&] {
        vault.emplace(Vault::parse(text, "fuzz.vault", Vault::Reading::eager));
        vault->verify_all();
      })) {
    return 0;
  }
  fuzz::check(vault->text() == text,
              "a vault keeps the bytes it was read from");

  const Identity& alice = fuzz::golden_alice();
  const MemberRecord* member = vault->member(alice.pub.name);
  if (member == nullptr || !member->active() || member->sign_pk != alice.pub.sign_pk) {
    return 0; // no key to write it with
  }
  std::string written;
  fuzz::must("a vault that parses can be written", [&] { written = vault->serialize(alice, vault->journal_head()); });
  std::optional<Vault> again;
  fuzz::must("a written vault parses", [&] {
    again.emplace(Vault::parse(written, "fuzz.vault (written)", Vault::Reading::eager));
    again->verify_all();
  });
  fuzz::check(again->revision() == vault->revision() + 1, "writing raises the revision by one");
  fuzz::check(again->parents() == std::vector<std::string>{vault->head()}, "the written revision follows the read one");
  fuzz::check(again->head() == vault->written_head(), "serialize reports the head it wrote");
  fuzz::check(fuzz::records_part(written) == fuzz::records_part(text), "records are written back byte for byte");
  fuzz::check(again->policy().sig == vault->policy().sig, "records keep their signatures");
  fuzz::check(again->secret_names() == vault->secret_names(), "every secret is written back");
  for (const std::string& name : vault->secret_names()) {
    fuzz::check(to_json(again->secret(name)) == to_json(vault->secret(name)), "secret records are written back");
  }

  std::string twice;
  fuzz::must("a written vault can be written again", [&] { twice = again->serialize(alice, again->journal_head()); });
  fuzz::check(fuzz::records_part(twice) == fuzz::records_part(written), "writing is stable");
  std::optional<Vault> third;
  fuzz::must("a vault written twice parses", [&] { third.emplace(Vault::parse(twice, "fuzz.vault (twice)")); });
  fuzz::check(third->revision() == vault->revision() + 2, "the second write raises the revision again");
  fuzz::round_tripped();
  return 0;
}
