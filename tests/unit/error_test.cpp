// error: the one exit-code table and one-line messages.
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>
#include <escrow/error.hpp>
#include <escrow/identity.hpp>
#include <escrow/history/head_file.hpp>

#include <algorithm>

using namespace escrow;

namespace {

bool one_line_text(std::string_view text)
{
  return std::none_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

} // namespace

TEST_CASE("error: exit codes follow DESIGN §8", "[error]")
{
  CHECK(exit_code(ErrorKind::failed) == 1);
  CHECK(exit_code(ErrorKind::usage) == 2);
  CHECK(exit_code(ErrorKind::integrity) == 3);
  CHECK(exit_code(ErrorKind::access) == 4);
  CHECK(exit_code(ErrorKind::io) == 5);
}

TEST_CASE("error: a message or hint is one line whatever it quotes", "[error]")
{
  Error error(ErrorKind::integrity, "x: unknown \"a\nb\r\tc\x1b[2J\x7f\"", {"see\nthis"});
  error.hint("and\x07this");
  CHECK(std::string(error.what()) == "x: unknown \"a\\nb\\r\\tc\\x1b[2J\\x7f\"");
  CHECK(error.hints() == std::vector<std::string>{"see\\nthis", "and\\x07this"});
  CHECK(std::string(Error(ErrorKind::usage, "plain: ünïcode stays").what()) == "plain: ünïcode stays");
}

// Found by tests/fuzz (the escrow-vault/1 reader's fuzz_vault; corpus/vault/crash-format-with-newline):
// the reader quoted a future-looking format string from the raw bytes, newline and terminal escapes
// included. The same bytes as an escrow-vault/2 head file.
TEST_CASE("error: text quoted from a file never breaks the one-line error", "[error][fuzz]")
{
  const std::string vault = "{\n  \"format\": \"escrow-vault/1\x01\x1b[31m\n  \"vault_id\": \"x\"\n}\n";
  const std::string message =
    escrow::test::require_error(ErrorKind::integrity, [&] { (void)history::parse_head_file(vault, "v"); });
  CHECK(one_line_text(message));

  // A JSON escape becomes a raw control character once parsed: the same holds for every reader
  // that names a field or a value.
  const auto pub = canonical::parse(R"({"format": "escrow-public-identity/1\n\u001b[2J", "name": "a"})", "p");
  CHECK(one_line_text(escrow::test::require_error(ErrorKind::integrity, [&] { (void)PublicIdentity::from_json(pub, "p"); })));
  const auto id = canonical::parse(R"({"format": "escrow-identity/1", "name": "a", "x\ny": 1})", "i");
  CHECK(one_line_text(escrow::test::require_error(ErrorKind::integrity, [&] { (void)open_identity(id, nullptr, "i"); })));
}
