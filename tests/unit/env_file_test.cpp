#include <escrow/env_file.hpp>
#include <escrow/error.hpp>

#include <catch2/catch.hpp>

#include <string>

using escrow::Error;
using escrow::parse_env_file;

namespace {

std::string value(const escrow::EnvEntry& entry)
{
  return std::string(entry.value.expose_view());
}

std::string error_of(std::string_view text)
{
  try {
    (void)parse_env_file(text, "x.env");
  } catch (const Error& error) {
    CHECK(error.exit_code() == 2);
    return error.what();
  }
  return "";
}

} // namespace

TEST_CASE("env file: names, quotes, escapes, comments, export, CRLF")
{
  const auto entries = parse_env_file("# comment\n"
                                      "\n"
                                      "A=plain value  # trailing comment\n"
                                      "export B = 'single # not a comment'\n"
                                      "C=\"tab\\there\\n\\\"q\\\" \\$HOME\"\r\n"
                                      "D=\n"
                                      "  E=x#y\n",
                                      "x.env");
  REQUIRE(entries.size() == 5);
  CHECK(entries[0].name == "A");
  CHECK(value(entries[0]) == "plain value");
  CHECK(entries[0].line == 3);
  CHECK(entries[1].name == "B");
  CHECK(value(entries[1]) == "single # not a comment");
  CHECK(value(entries[2]) == "tab\there\n\"q\" $HOME");
  CHECK(entries[3].name == "D");
  CHECK(entries[3].value.empty());
  CHECK(value(entries[4]) == "x#y");
  CHECK(entries[4].line == 7);
}

TEST_CASE("env file: errors name the file and line, never the line's text")
{
  CHECK(error_of("A=1\nSECRET_TEXT_123 nope\n") == "x.env: line 2: expected NAME=VALUE");
  CHECK(error_of("A=1\nA=2\n") == "x.env: line 2: A is set twice");
  CHECK(error_of("1A=x\n").find("line 1: the name") != std::string::npos);
  CHECK(error_of("A=\"hunter2\n").find("unterminated quote") != std::string::npos);
  CHECK(error_of("A='hunter2' tail\n").find("text after the closing quote") != std::string::npos);
  CHECK(error_of("A=\"\\q hunter2\"\n").find("unknown escape") != std::string::npos);
  for (const auto* text : {"SECRET_TEXT_123 nope\n", "A=\"hunter2\n", "A='hunter2' tail\n"}) {
    const std::string message = error_of(text);
    CHECK(message.find("hunter2") == std::string::npos);
    CHECK(message.find("SECRET_TEXT_123") == std::string::npos);
  }
}

TEST_CASE("env file: variable names")
{
  CHECK(escrow::valid_variable_name("DB_PASSWORD"));
  CHECK(escrow::valid_variable_name("_x1"));
  CHECK_FALSE(escrow::valid_variable_name(""));
  CHECK_FALSE(escrow::valid_variable_name("1A"));
  CHECK_FALSE(escrow::valid_variable_name("A-B"));
}
