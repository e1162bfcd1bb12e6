// records: the name rules, roles and request ids (the vocabulary escrow-vault/2 keeps from
// records.hpp; its records are history/state.hpp's, tested in history_state_test.cpp).
#include "foundation_support.hpp"

#include <escrow/records.hpp>

using namespace escrow;
using escrow::test::require_error;

TEST_CASE("records: secret names", "[records]")
{
  CHECK(split_secret_name("prod/stripe-key") == std::pair<std::string, std::string>{"prod", "stripe-key"});
  CHECK(split_secret_name("dev/a/b.c_d") == std::pair<std::string, std::string>{"dev", "a/b.c_d"});
  CHECK(split_secret_name("x/" + std::string(128, 'n')).second.size() == 128);
  const std::pair<std::string, std::string> bad[] = {
    {std::string("prod/a\0b", 8), "NUL"},
    {"prod/a/../b", "'..'"},
    {"prod/..", "'..'"},
    {"prod/./a", "'..'"},
    {"prod/a//b", "empty path segment"},
    {"prod/a/", "empty path segment"},
    {"prod/", "1-128"},
    {"prod", "ENV/NAME"},
    {"/name", "environment"},
    {"Prod/x", "environment"},
    {std::string(33, 'e') + "/x", "environment"},
    {"prod/" + std::string(129, 'n'), "1-128"},
    {"prod/a b", "letters, digits"},
    {"prod/\xC3\xA9", "letters, digits"},
    {"prod/\xFF", "UTF-8"},
    {"prod/a\\b", "letters, digits"},
  };
  for (const auto& item : bad) {
    const std::string& name = item.first; // no structured binding: the lambda below captures it (clang 14)
    const std::string& reason = item.second;
    INFO(name);
    const std::string message = require_error(ErrorKind::usage, [&] { (void)split_secret_name(name); });
    CHECK_THAT(message, Catch::StartsWith("invalid secret name: ") && Catch::Contains(reason));
  }
  CHECK(valid_env_name("prod"));
  CHECK(valid_env_name("eu-west_1"));
  CHECK_FALSE(valid_env_name(""));
  CHECK_FALSE(valid_env_name("*"));
  CHECK_FALSE(valid_env_name("Prod"));
}

TEST_CASE("records: roles and request ids", "[records]")
{
  for (Role role : {Role::admin, Role::approver, Role::requester, Role::rotator, Role::auditor}) {
    CHECK(parse_role(role_name(role)) == role);
  }
  CHECK_FALSE(parse_role("root").has_value());
  CHECK(join_roles({Role::rotator, Role::admin}) == "admin, rotator");

  CHECK(valid_request_id("0123456789abcdef"));
  CHECK(valid_request_id(std::string(32, 'a')));
  CHECK_FALSE(valid_request_id(""));
  CHECK_FALSE(valid_request_id(std::string(33, 'a')));
  CHECK_FALSE(valid_request_id("0123456789ABCDEF"));
  CHECK_FALSE(valid_request_id("01234567-9abcdef"));
}
