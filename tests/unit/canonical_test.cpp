// canonical: the strict JSON profile, canonical and pretty forms, scan_object, base64, and the
// JSONTestSuite vectors (docs/FORMAT.md "The strict JSON profile" lists every decision).
#include "foundation_support.hpp"

#include <escrow/canonical.hpp>

#include <algorithm>
#include <set>

using namespace escrow;
using escrow::test::require_error;
namespace fs = std::filesystem;

namespace {

canonical::Json parse(std::string_view text)
{
  return canonical::parse(text, "doc");
}

std::string problem(std::string_view text)
{
  return require_error(ErrorKind::integrity, [&] { (void)parse(text); });
}

} // namespace

TEST_CASE("canonical: accepts the profile", "[canonical]")
{
  CHECK(parse("{}") == canonical::Json::object());
  CHECK(parse(" \t\r\n[1, -2, \"x\", true, false, null] \n") == canonical::Json::parse(R"([1,-2,"x",true,false,null])"));
  CHECK(parse("9223372036854775807").get<std::int64_t>() == INT64_MAX);
  CHECK(parse("-9223372036854775808").get<std::int64_t>() == INT64_MIN);
  CHECK(parse("0").get<std::int64_t>() == 0);
  CHECK(parse(R"("\u00e9\ud83d\ude00\/\b\f\n\r\t\\\"")").get<std::string>()
        == "\xC3\xA9\xF0\x9F\x98\x80/\b\f\n\r\t\\\"");
  CHECK(parse("\"\xE2\x82\xAC\"").get<std::string>() == "\xE2\x82\xAC");
  std::string deep(64, '[');
  deep += std::string(64, ']');
  CHECK_NOTHROW(parse(deep));
}

TEST_CASE("canonical: rejects what the profile excludes, naming the problem and the byte", "[canonical]")
{
  CHECK(problem(R"({"a":1,"a":2})") == "doc: duplicate key at byte 12");
  CHECK_THAT(problem(R"({"a":{"b":1,"b":1}})"), Catch::Contains("duplicate key"));
  CHECK_THAT(problem("1.5"), Catch::Contains("only integers"));
  CHECK_THAT(problem("1e3"), Catch::Contains("only integers"));
  CHECK_THAT(problem("-0"), Catch::Contains("negative zero"));
  CHECK_THAT(problem("012"), Catch::Contains("leading zero"));
  CHECK_THAT(problem("9223372036854775808"), Catch::Contains("out of range"));
  CHECK_THAT(problem("\"a\xFF\""), Catch::Contains("invalid UTF-8"));
  CHECK_THAT(problem("\"\xC0\xAF\""), Catch::Contains("invalid UTF-8"));           // overlong '/'
  CHECK_THAT(problem("\"\xED\xA0\x80\""), Catch::Contains("invalid UTF-8"));       // UTF-8 surrogate
  CHECK_THAT(problem("\"\xF4\x90\x80\x80\""), Catch::Contains("invalid UTF-8"));   // above U+10FFFF
  CHECK_THAT(problem("\"\xE2\x82\""), Catch::Contains("invalid UTF-8"));           // truncated
  CHECK_THAT(problem(R"("\u0000")"), Catch::Contains("NUL"));
  CHECK_THAT(problem(R"("\ud800")"), Catch::Contains("surrogate"));
  CHECK_THAT(problem(R"("\udc00")"), Catch::Contains("surrogate"));
  CHECK_THAT(problem(R"("\ud800\u0041")"), Catch::Contains("surrogate"));
  CHECK_THAT(problem(std::string("\"a\0b\"", 5)), Catch::Contains("control character"));
  CHECK_THAT(problem("\"a\nb\""), Catch::Contains("control character"));
  CHECK_THAT(problem("\xEF\xBB\xBF{}"), Catch::Contains("byte-order mark"));
  CHECK_THAT(problem("{} {}"), Catch::Contains("after the end"));
  CHECK_THAT(problem("{\"a\":1"), Catch::Contains("truncated"));
  CHECK_THAT(problem("\"abc"), Catch::Contains("truncated"));
  CHECK_THAT(problem(""), Catch::Contains("truncated"));
  CHECK_THAT(problem("[1,]"), Catch::Contains("unexpected character"));
  CHECK_THAT(problem("{'a':1}"), Catch::Contains("string key"));
  CHECK_THAT(problem("\f{}"), Catch::Contains("unexpected character"));
  CHECK_THAT(problem("tru"), Catch::Contains("invalid literal"));
  CHECK_THAT(problem(R"("\x41")"), Catch::Contains("invalid escape"));
  CHECK_THAT(problem(R"("\u12")"), Catch::Contains("\\u escape"));
  std::string deep(65, '[');
  deep += std::string(65, ']');
  CHECK_THAT(problem(deep), Catch::Contains("nesting deeper than 64"));
}

TEST_CASE("canonical: error messages never quote the input", "[canonical]")
{
  // A secret-looking string in a malformed document must not reach the message.
  for (const std::string& text : {std::string("{\"k\":\"hunter2-SECRET\" \"x\"}"), std::string("\"hunter2-SECRET\xFF\""),
                                 std::string("[\"hunter2-SECRET\",1.5]"), std::string("{\"hunter2-SECRET\":1,\"hunter2-SECRET\":2}")}) {
    const std::string message = problem(text);
    CHECK(message.find("hunter2") == std::string::npos);
    CHECK(message.rfind("doc: ", 0) == 0);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("canonical: dump is sorted and compact, invalid UTF-8 from arguments is a usage error", "[canonical]")
{
  const canonical::Json value = parse(R"({"b":[1,{"z":null,"a":"\u00e9"}],"a":true,"B":"x\ny"})");
  CHECK(canonical::dump(value) == "{\"B\":\"x\\ny\",\"a\":true,\"b\":[1,{\"a\":\"\xC3\xA9\",\"z\":null}]}");
  CHECK(canonical::dump(parse(canonical::dump(value))) == canonical::dump(value));
  CHECK(canonical::dump(canonical::Json("\x01")) == "\"\\u0001\"");
  const std::string message = require_error(ErrorKind::usage, [] { (void)canonical::dump(canonical::Json("p\xFF")); });
  CHECK_THAT(message, Catch::Contains("not valid UTF-8"));
  canonical::Json bad_key = canonical::Json::object();
  bad_key["k\xFF"] = 1;
  require_error(ErrorKind::usage, [&] { (void)canonical::dump_pretty(bad_key); });
}

TEST_CASE("canonical: the pretty layout is one stable form and round-trips", "[canonical]")
{
  const canonical::Json value = parse(R"({"list":[1,"two",[],{}],"empty":{},"nested":{"b":false,"a":-7}})");
  const std::string expected = "{\n"
                               "  \"empty\": {},\n"
                               "  \"list\": [\n"
                               "    1,\n"
                               "    \"two\",\n"
                               "    [],\n"
                               "    {}\n"
                               "  ],\n"
                               "  \"nested\": {\n"
                               "    \"a\": -7,\n"
                               "    \"b\": false\n"
                               "  }\n"
                               "}";
  CHECK(canonical::dump_pretty(value) == expected);
  CHECK(canonical::dump_pretty(parse(expected)) == expected);
  std::string nested;
  canonical::dump_pretty(parse(R"({"a":[1]})"), 2, nested);
  CHECK(nested == "{\n      \"a\": [\n        1\n      ]\n    }");
  CHECK(canonical::dump_pretty(parse("[]")) == "[]");
  CHECK(canonical::dump_pretty(parse("\"x\"")) == "\"x\"");
}

TEST_CASE("canonical: scan_object finds members and their byte spans without building them", "[canonical]")
{
  const std::string text = R"(  {"a": {"x": [1, 2]}, "b" : "s", "c":[]}  )";
  std::size_t end = 0;
  const auto spans = canonical::scan_object(text, 2, end, "doc");
  REQUIRE(spans.size() == 3);
  CHECK(spans[0].key == "a");
  CHECK(text.substr(spans[0].begin, spans[0].end - spans[0].begin) == R"({"x": [1, 2]})");
  CHECK(text.substr(spans[1].begin, spans[1].end - spans[1].begin) == "\"s\"");
  CHECK(text.substr(spans[2].begin, spans[2].end - spans[2].begin) == "[]");
  CHECK(end == text.size() - 2);
  std::size_t empty_end = 0;
  CHECK(canonical::scan_object("{}", 0, empty_end, "doc").empty());
  CHECK(empty_end == 2);

  std::size_t ignored = 0;
  const auto scan_problem = [&](std::string_view bad) {
    return require_error(ErrorKind::integrity, [&] { (void)canonical::scan_object(bad, 0, ignored, "doc"); });
  };
  CHECK_THAT(scan_problem(R"({"a":1,"a":2})"), Catch::Contains("duplicate key"));
  CHECK_THAT(scan_problem(R"({"a":[1,2})"), Catch::Contains("expected ']'"));
  CHECK_THAT(scan_problem(R"({"a":"\u0000"})"), Catch::Contains("NUL"));
  CHECK_THAT(scan_problem("{\"a\":\"\xFF\"}"), Catch::Contains("invalid UTF-8"));
  CHECK_THAT(scan_problem(R"({"a":)"), Catch::Contains("truncated"));
  CHECK_THAT(scan_problem("[1]"), Catch::Contains("expected '{'"));
  std::string deep = "{\"a\":" + std::string(70, '[') + std::string(70, ']') + "}";
  CHECK_THAT(scan_problem(deep), Catch::Contains("nesting"));
}

TEST_CASE("canonical: base64 is RFC 4648 with strict decoding", "[canonical]")
{
  // RFC 4648 §10.
  const std::pair<std::string, std::string> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(canonical::b64(as_bytes(plain)) == encoded);
    const Bytes decoded = canonical::unb64(encoded, "field");
    CHECK(std::string(decoded.begin(), decoded.end()) == plain);
  }
  const Bytes all = [] {
    Bytes bytes(256);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = static_cast<std::uint8_t>(i);
    }
    return bytes;
  }();
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    const ByteView prefix(all.data(), n);
    const Bytes back = canonical::unb64(canonical::b64(prefix), "field");
    CHECK(Bytes(prefix.begin(), prefix.end()) == back);
  }
  for (const char* bad : {"Zg", "Zg=", "Zh==", "Zm9=", "Z===", "====", "Zg==Zg==", "Zm 9v", "Zm9v\n", "Zm9-",
                                "Zm9_", "Z=g=", "Zm=v"}) {
    INFO(bad);
    const std::string message = require_error(ErrorKind::integrity, [&] { (void)canonical::unb64(bad, "field"); });
    CHECK_THAT(message, Catch::StartsWith("field: invalid base64"));
  }
  CHECK(canonical::hex(as_bytes("\x01\xAB\xff")) == "01abff");
}

TEST_CASE("canonical: valid_utf8", "[canonical]")
{
  CHECK(canonical::valid_utf8(""));
  CHECK(canonical::valid_utf8("plain ascii"));
  CHECK(canonical::valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  CHECK(canonical::valid_utf8(std::string("a\0b", 3))); // NUL is valid UTF-8; names check it separately
  for (const std::string_view bad : {"\xFF", "\xC3", "\xC0\x80", "\xE0\x80\xAF", "\xED\xB0\x80", "\xF8\x88\x80\x80\x80",
                                "\x80", "\xF4\x90\x80\x80", "\xE2\x28\xA1"}) {
    CHECK_FALSE(canonical::valid_utf8(bad));
  }
}

// --- JSONTestSuite (nst/JSONTestSuite test_parsing, copied into tests/vectors/JSONTestSuite) ------

namespace {

std::vector<fs::path> suite_files(char prefix)
{
  std::vector<fs::path> files;
  const fs::path folder = escrow::test::source_path("tests/vectors/JSONTestSuite/test_parsing");
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 2 && name[0] == prefix && name[1] == '_') {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

} // namespace

TEST_CASE("canonical: every JSONTestSuite n_ file is rejected with an escrow::Error", "[canonical][vectors]")
{
  const auto files = suite_files('n');
  REQUIRE(files.size() == 188);
  for (const auto& file : files) {
    INFO(file.filename().string());
    const std::string text = escrow::test::slurp(file);
    const std::string message = require_error(ErrorKind::integrity, [&] { (void)canonical::parse(text, "vector"); });
    CHECK(message.find('\n') == std::string::npos);
    // The lazy scanner must not crash either (it may accept what it does not build).
    if (!text.empty() && text[0] == '{') {
      std::size_t end = 0;
      (void)escrow::test::error_of([&] { (void)canonical::scan_object(text, 0, end, "vector"); });
    }
  }
}

TEST_CASE("canonical: JSONTestSuite y_ files are accepted except the profile's exclusions", "[canonical][vectors]")
{
  // The strict profile (docs/FORMAT.md) excludes fractions, exponents, -0, duplicate keys and
  // \u0000. These are exactly the y_ files it refuses; any other refusal is a bug.
  const std::set<std::string> excluded = {
    "y_number.json",                       // 123e65
    "y_number_0e+1.json",
    "y_number_0e1.json",
    "y_number_double_close_to_zero.json",
    "y_number_int_with_exp.json",
    "y_number_minus_zero.json",            // -0
    "y_number_negative_zero.json",         // -0
    "y_number_real_capital_e.json",
    "y_number_real_capital_e_neg_exp.json",
    "y_number_real_capital_e_pos_exp.json",
    "y_number_real_exponent.json",
    "y_number_real_fraction_exponent.json",
    "y_number_real_neg_exp.json",
    "y_number_real_pos_exponent.json",
    "y_number_simple_real.json",
    "y_object_duplicated_key.json",
    "y_object_duplicated_key_and_value.json",
    "y_object_escaped_null_in_key.json",   // \u0000
    "y_object_extreme_numbers.json",       // 1.0e+28
    "y_string_null_escape.json",           // \u0000
    "y_structure_lonely_negative_real.json",
  };
  const auto files = suite_files('y');
  REQUIRE(files.size() == 95);
  std::set<std::string> refused;
  for (const auto& file : files) {
    const std::string name = file.filename().string();
    INFO(name);
    const auto error = escrow::test::error_of([&] { (void)canonical::parse(escrow::test::slurp(file), name); });
    if (error) {
      CHECK(error->kind() == ErrorKind::integrity);
      refused.insert(name);
    }
  }
  CHECK(refused == excluded);
}

TEST_CASE("canonical: JSONTestSuite i_ files are all decided: refused", "[canonical][vectors]")
{
  // docs/FORMAT.md lists each i_ case and why: out-of-range or non-integer numbers, lone or
  // broken surrogates, invalid UTF-8, UTF-16, a BOM, and nesting beyond 64 are all refused.
  const auto files = suite_files('i');
  REQUIRE(files.size() == 35);
  for (const auto& file : files) {
    INFO(file.filename().string());
    (void)require_error(ErrorKind::integrity, [&] { (void)canonical::parse(escrow::test::slurp(file), "vector"); });
  }
}
