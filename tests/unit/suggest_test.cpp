// util/suggest: edit distance and "did you mean".
#include "foundation_support.hpp"

#include <escrow/util/suggest.hpp>

using namespace escrow::util;

TEST_CASE("suggest: edit distance counts insertions, deletions, substitutions and swaps", "[suggest]")
{
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("list", "list") == 0);
  CHECK(edit_distance("lst", "list") == 1);
  CHECK(edit_distance("lsit", "list") == 1);  // adjacent transposition
  CHECK(edit_distance("prod/db-pasword", "prod/db-password") == 1);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("LIST", "list") == 0);  // ASCII case folded
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("", "abc") == 3);
}

TEST_CASE("suggest: closest keeps near names, nearest first, and none when nothing is close", "[suggest]")
{
  const std::vector<std::string> commands = {"init", "member", "list", "show", "get", "share", "rotate"};
  CHECK(closest("lst", commands) == std::vector<std::string>{"list"});
  CHECK(closest("shwo", commands) == std::vector<std::string>{"show"});
  CHECK(closest("rotat", commands) == std::vector<std::string>{"rotate"});
  CHECK(closest("xyzzy", commands).empty());
  CHECK(closest("list", commands).empty()); // an exact name is not a suggestion
  CHECK(closest("mem", commands) == std::vector<std::string>{"member"}); // a prefix
  const std::vector<std::string> envs = {"dev", "prod", "staging"};
  CHECK(closest("prd", envs) == std::vector<std::string>{"prod"});
  CHECK(closest("stagign", envs) == std::vector<std::string>{"staging"});
  const std::vector<std::string> many = {"ab1", "ab2", "ab3", "ab4"};
  CHECK(closest("ab", many).size() == 3); // limited
}

TEST_CASE("suggest: did_you_mean phrases one or several names", "[suggest]")
{
  CHECK(did_you_mean("lst", {"list", "show"}) == "did you mean 'list'?");
  CHECK(did_you_mean("prod/db", {"prod/dbx", "prod/db1"}) == "did you mean 'prod/dbx' or 'prod/db1'?");
  CHECK(did_you_mean("nothing-near", {"list"}).empty());
}
