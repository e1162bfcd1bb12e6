// Issue 16 (hostile environment), what needs the library to set up: a member who signs a
// request whose justification holds terminal escapes, and journal fields holding them (a member
// with a modified build can write both). Every human output shows them escaped; --json is exact.
#include "fixture.hpp"

#include <escrow/escrow.hpp>
#include <escrow/session.hpp>
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

SessionOptions options_for(const Fixture& f, const std::string& member)
{
  return f.options(member);
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

TEST_CASE("control characters from the vault and journal are escaped in every human output", "[hostile][escape]")
{
  Fixture f;
  f.set_env("ESCROW_NOW", "2030-01-01T09:00:00Z");
  f.init();
  f.member("bob", {"approver"}, {"prod"});
  f.member("carol", {"approver"}, {"prod"});
  f.member("erin", {"requester"}, {"prod"});
  f.add("alice", "prod/db", "pr0d-Value", {"--custodians", "bob,carol", "--threshold", "2"});

  // erin, with a build of her own: a signed request whose justification holds escapes, and
  // journal fields (why, connector-style output in detail) holding them too.
  {
    Session session = Session::open(options_for(f, "erin"), Mode::write);
    Vault& vault = session.vault();
    const std::string id = request_access(vault, "prod/db", session.identity(), 3600, "benign", session.now()).id;
    SecretRecord& secret = vault.secret_mut("prod/db");
    for (Request& request : secret.requests) {
      if (request.id == id) {
        request.why = k_hostile;
        vault.sign(secret, request, session.identity());
      }
    }
    JournalEntry entry;
    entry.action = JournalAction::request;
    entry.secret = "prod/db";
    entry.env = "prod";
    entry.request = id;
    entry.why = k_hostile;
    entry.detail = Json{{"output", k_hostile}};
    session.commit(std::move(entry));
  }

  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"grants"}, {"show", "prod/db"}, {"audit", "log"}, {"audit", "report"}}) {
    const Result result = f.as("bob", command);
    INFO(command[0] << ": " << result.err);
    REQUIRE(result.code == 0);
    CHECK_FALSE(raw_controls(result.out));
    CHECK_FALSE(raw_controls(result.err));
  }
  const Result grants = f.as("bob", {"grants"});
  CHECK(grants.out.find("evil\\u001b[31mRED\\u0007bell\\u000dCR\\u009bcsi\\u202ebidi\\u000a2 of 2 approvals")
        != std::string::npos);
  // The forged second line never starts a line of its own.
  CHECK(grants.out.find("\n2 of 2 approvals") == std::string::npos);

  const Result log = f.as("bob", {"--json", "audit", "log"});
  REQUIRE(log.code == 0);
  CHECK(log.out.find(Json(k_hostile).dump()) != std::string::npos); // --json stays exact

  const Result html = f.as("bob", {"audit", "report", "--html", f.path("r.html").string()});
  REQUIRE(html.code == 0);
  const std::string page = f.read("r.html");
  CHECK_FALSE(raw_controls(page));
}

} // namespace escrow::test
