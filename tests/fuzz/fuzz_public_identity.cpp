// The public identity file ("escrow-public-identity/1", what `member add` reads).
// Properties: every input is a public identity or an Error(integrity); one that reads is
// written (to_json) and read back to the same name and keys, and writing it again gives the
// same bytes; a file holding exactly the public fields is written back as read.
#include "fuzz.hpp"

#include <escrow/canonical.hpp>
#include <escrow/identity.hpp>

using namespace escrow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  canonical::Json json;
  PublicIdentity pub;
  if (!fuzz::accepted({ErrorKind::integrity}, [&] {
        json = canonical::parse(text, "fuzz.pub");
        pub = PublicIdentity::from_json(json, "fuzz.pub");
      })) {
    return 0;
  }
  fuzz::check(valid_member_name(pub.name), "a public identity names a valid member");
  const std::string written = canonical::dump_pretty(pub.to_json()) + "\n";
  PublicIdentity again;
  fuzz::must("a written public identity reads back",
             [&] { again = PublicIdentity::from_json(canonical::parse(written, "fuzz.pub (written)"), "fuzz.pub (written)"); });
  fuzz::check(again.name == pub.name && again.sign_pk == pub.sign_pk && again.box_pk == pub.box_pk,
              "a public identity reads back as written");
  fuzz::check(canonical::dump_pretty(again.to_json()) + "\n" == written, "writing a public identity is stable");
  fuzz::check(again.fingerprint() == pub.fingerprint(), "the fingerprint survives a round trip");
  if (json.size() == 4 && json["format"] == "escrow-public-identity/1") {
    fuzz::check(pub.to_json() == json, "a public identity is written back as read");
  }
  fuzz::round_tripped();
  return 0;
}
