// Issue 16 (hostile environment), what needs the library to set up: a member who signs a
// request whose justification holds terminal escapes, and journal fields holding them (a member
// with a modified build can write both). Every human output shows them escaped; --json is exact.
#include "fixture.hpp"

#include "../unit/foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/history/labels.hpp>
#include <escrow/history/requests.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/util/escape.hpp>

namespace escrow::test {

namespace {

const std::string k_hostile = "evil\x1b[31mRED\x07"
                              "bell\rCR\xc2\x9b"
                              "csi\xe2\x80\xae"
                              "bidi\n2 of 2 approvals";

bool raw_controls(const std::string& text)
{
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      return true;
    }
  }
  return text.find("\xc2\x9b") != std::string::npos || text.find("\xe2\x80\xae") != std::string::npos;
}

// A session as the CLI opens it for `member`: what a member's own build can drive.
history::VaultSession session_for(const Fixture& f, const std::string& member)
{
  history::VaultSessionOptions o;
  o.vault_path = f.vault();
  o.state_home = f.dir() / "state";
  o.clock = Clock::from_setting(f.env("ESCROW_NOW"));
  o.lock_wait = std::chrono::seconds(5);
  const std::string path = f.path(member + ".id").string();
  o.identity = [path] { return open_identity(canonical::parse(test::slurp(path), path), nullptr, path); };
  return history::VaultSession::open(std::move(o), history::Access::write);
}

Identity identity_of(const Fixture& f, const std::string& member)
{
  const std::string path = f.path(member + ".id").string();
  return open_identity(canonical::parse(test::slurp(path), path), nullptr, path);
}

} // namespace

TEST_CASE("escape_controls makes terminal controls visible and leaves text alone", "[hostile][escape]")
{
  CHECK(util::escape_controls("plain ascii, ünïcödé, 日本") == "plain ascii, ünïcödé, 日本");
  CHECK(util::escape_controls("a\x1b[2Jb") == "a\\u001b[2Jb");
  CHECK(util::escape_controls("bell\x07 cr\r nl\n tab\t") == "bell\\u0007 cr\\u000d nl\\u000a tab\\u0009");
  CHECK(util::escape_controls("nl\n tab\t", util::Layout::keep_lines) == "nl\n tab\t");
  CHECK(util::escape_controls("del\x7f") == "del\\u007f");
  CHECK(util::escape_controls("c1\xc2\x9b") == "c1\\u009b");
  CHECK(util::escape_controls("rlo\xe2\x80\xae x \xe2\x81\xa6") == "rlo\\u202e x \\u2066");
  CHECK(util::escape_controls("lone\x9b byte\xff") == "lone\\x9b byte\\xff");
  CHECK(util::escape_controls("\xed\xa0\x80") == "\\xed\\xa0\\x80"); // a surrogate is not UTF-8
  CHECK_FALSE(util::has_controls("日本 ok"));
  CHECK(util::has_controls("\x1b"));
}

// escrow-vault/2: the entry grammar refuses C0 controls in every text of an operation and in an
// entry's "why" (a line holding one is exit 3, and the error line quotes none of it); what the
// grammar lets through is printed escaped: C1 controls and bidi overrides in a justification, and
// any control in an event's detail facts (a member's own build can sign both).
TEST_CASE("control characters from the vault and journal are escaped in every human output", "[hostile][escape]")
{
  Fixture f;
  f.set_env("ESCROW_NOW", "2030-01-01T09:00:00Z");
  f.init();
  f.member("bob", {"approver"}, {"prod"});
  f.member("carol", {"approver"}, {"prod"});
  f.member("erin", {"requester"}, {"prod"});
  f.add("alice", "prod/db", "pr0d-Value", {"--custodians", "bob,carol", "--threshold", "2"});

  const std::string k_c1_bidi = "evil\xc2\x9b"
                                "csi\xe2\x80\xae"
                                "bidi 2 of 2 approvals";
  // erin, with a build of her own: a signed request whose justification holds a C1 control and a
  // bidi override, and an exec event whose detail holds every kind of control.
  {
    history::VaultSession session = session_for(f, "erin");
    (void)history::file_request(session, "prod/db", 3600, k_c1_bidi);
    (void)session.record(history::EventKind::exec, history::Result::ok,
                         Json{{"secret", "prod/db"}, {"program", k_hostile}, {"variable", "X"}});
  }
  REQUIRE(f.read("escrow.journal").find(Json(k_hostile).dump().substr(1, 13)) != std::string::npos); // JSON-escaped: "evil\\u001b[31"

  // (audit log / audit report / --html join this list when audit runs on escrow-vault/2: helper audit2.)
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"grants"}, {"show", "prod/db"}, {"list"}, {"member", "list"}, {"verify"}}) {
    const Result result = f.as("bob", command);
    INFO(command[0] << ": " << result.err);
    REQUIRE(result.code == 0);
    CHECK_FALSE(raw_controls(result.out));
    CHECK_FALSE(raw_controls(result.err));
  }
  const Result grants = f.as("bob", {"grants"});
  CHECK(grants.out.find("evil\\u009bcsi\\u202ebidi 2 of 2 approvals") != std::string::npos);
  const Result json = f.as("bob", {"--json", "grants"});
  REQUIRE(json.code == 0);
  CHECK(json.out.find(Json(k_c1_bidi).dump()) != std::string::npos); // --json stays exact

  // A request whose "why" holds C0 controls, hashed and signed by erin by hand (the grammar
  // refuses to write it): every command refuses the line, quoting none of it, changing nothing.
  {
    const std::string journal = f.read("escrow.journal");
    std::string last_line = journal.substr(0, journal.size() - 1);
    last_line = last_line.substr(last_line.rfind('\n') + 1);
    const history::Entry last = history::parse_entry(last_line, "entry");
    history::Entry forged = history::parse_entry(last_line, "entry");
    // An exec event is erin's: re-use it with a why that holds the escapes.
    forged.parents = {last.hash};
    forged.ts = last.ts + 1;
    forged.why = k_hostile;
    forged.hash = history::compute_hash(forged);
    const Identity erin = identity_of(f, "erin");
    forged.sig = erin.sign(history::labels::k_entry_sig, ByteView(forged.hash.data(), forged.hash.size()));
    spit(f.journal(), journal + history::dump_entry(forged) + "\n");
  }
  const auto before = snapshot(f.dir());
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"grants"}, {"show", "prod/db"}, {"list"}, {"verify"}}) {
    const Result result = f.as("bob", command);
    INFO(command[0] << ": " << result.err);
    CHECK(result.code == 3);
    CHECK(result.err.rfind("escrow: error: " + f.journal().string() + ": line ", 0) == 0);
    CHECK_FALSE(raw_controls(result.out));
    CHECK_FALSE(raw_controls(result.err));
    CHECK(snapshot(f.dir()) == before);
  }
}

} // namespace escrow::test
