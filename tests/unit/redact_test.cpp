#include <escrow/redact.hpp>
#include <escrow/secret_bytes.hpp>
#include <escrow/util/process.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <utility>
#include <vector>

using escrow::Redactor;
using escrow::SecretBytes;

namespace {

Redactor make_redactor(const std::vector<std::pair<std::string, std::string>>& values)
{
  Redactor redactor;
  for (const auto& [label, value] : values) {
    redactor.add(label, SecretBytes::from(value));
  }
  return redactor;
}

std::string stream(Redactor& redactor, const std::vector<std::string_view>& chunks)
{
  std::string out;
  for (const auto chunk : chunks) {
    out += redactor.feed(chunk);
  }
  out += redactor.flush();
  return out;
}

// An independent, obviously correct reference: leftmost, then longest, then first added.
std::string reference(std::string_view text,
                      const std::vector<std::pair<std::string, std::string>>& values)
{
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::pair<std::string, std::string>* best = nullptr;
    for (const auto& entry : values) {
      if (!entry.second.empty() && text.substr(pos, entry.second.size()) == entry.second
          && (best == nullptr || entry.second.size() > best->second.size())) {
        best = &entry;
      }
    }
    if (best != nullptr) {
      out += "<redacted:" + best->first + ">";
      pos += best->second.size();
    } else {
      out.push_back(text[pos]);
      ++pos;
    }
  }
  return out;
}

} // namespace

TEST_CASE("a value in one chunk is replaced by its marker", "[redact]")
{
  Redactor redactor = make_redactor({{"db", "hunter2"}});
  CHECK(stream(redactor, {"password=hunter2!\n"}) == "password=<redacted:db>!\n");
  CHECK(redactor.redact_all("x hunter2 y") == "x <redacted:db> y");
  CHECK(escrow::redact_all("hunter2", redactor) == "<redacted:db>");
  CHECK(Redactor::marker("prod/stripe") == "<redacted:prod/stripe>");
}

TEST_CASE("values split across chunks at every position are redacted", "[redact]")
{
  const std::vector<std::pair<std::string, std::string>> values{{"k", "s3cr3t-v4lue"},
                                                                {"t", "tok"}};
  const std::string text = "a s3cr3t-v4lue b tok s3cr3t-v4lues3cr3t-v4lue tok";
  const std::string expected = reference(text, values);
  REQUIRE(expected
          == "a <redacted:k> b <redacted:t> <redacted:k><redacted:k> <redacted:t>");
  Redactor redactor = make_redactor(values);
  const std::string_view view(text);

  SECTION("two chunks")
  {
    for (std::size_t i = 0; i <= text.size(); ++i) {
      INFO("split at " << i);
      CHECK(stream(redactor, {view.substr(0, i), view.substr(i)}) == expected);
      CHECK(redactor.held_back() == 0);
    }
  }
  SECTION("three chunks")
  {
    for (std::size_t i = 0; i <= text.size(); ++i) {
      for (std::size_t j = i; j <= text.size(); ++j) {
        INFO("split at " << i << " and " << j);
        CHECK(stream(redactor, {view.substr(0, i), view.substr(i, j - i), view.substr(j)})
              == expected);
      }
    }
  }
  SECTION("one byte at a time")
  {
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < text.size(); ++i) {
      bytes.push_back(view.substr(i, 1));
    }
    CHECK(stream(redactor, bytes) == expected);
  }
}

TEST_CASE("values at the start, at the end, alone and repeated", "[redact]")
{
  Redactor redactor = make_redactor({{"v", "secret"}});
  CHECK(stream(redactor, {"secret tail"}) == "<redacted:v> tail");
  CHECK(stream(redactor, {"head secret"}) == "head <redacted:v>");
  CHECK(stream(redactor, {"secret"}) == "<redacted:v>");
  CHECK(stream(redactor, {"secretsecret", "secret"}) == "<redacted:v><redacted:v><redacted:v>");
  CHECK(stream(redactor, {"ssecret", "ssecrett"}) == "s<redacted:v>s<redacted:v>t");
  CHECK(stream(redactor, {""}) == "");
  CHECK(stream(redactor, {}) == "");
}

TEST_CASE("overlapping values: the longest wins and none leaks whole", "[redact]")
{
  SECTION("abc and bcd")
  {
    Redactor redactor = make_redactor({{"A", "abc"}, {"B", "bcd"}});
    CHECK(stream(redactor, {"abcd"}) == "<redacted:A>d");
    CHECK(stream(redactor, {"xbcd"}) == "x<redacted:B>");
    CHECK(stream(redactor, {"ab", "cd"}) == "<redacted:A>d");
    CHECK(stream(redactor, {"a", "b", "c", "d"}) == "<redacted:A>d");
  }
  SECTION("ab and abc, in either order of addition")
  {
    for (const bool short_first : {true, false}) {
      Redactor redactor = short_first ? make_redactor({{"AB", "ab"}, {"ABC", "abc"}})
                                      : make_redactor({{"ABC", "abc"}, {"AB", "ab"}});
      CHECK(stream(redactor, {"abc"}) == "<redacted:ABC>");
      CHECK(stream(redactor, {"ab", "c"}) == "<redacted:ABC>");
      CHECK(stream(redactor, {"ab", "d"}) == "<redacted:AB>d");
      CHECK(stream(redactor, {"ab"}) == "<redacted:AB>"); // completed only by end of stream
      CHECK(stream(redactor, {"xab", "abc"}) == "x<redacted:AB><redacted:ABC>");
    }
  }
  SECTION("a value inside another")
  {
    Redactor redactor = make_redactor({{"outer", "xxsecretxx"}, {"inner", "secret"}});
    CHECK(stream(redactor, {"xxsecretxx"}) == "<redacted:outer>");
    CHECK(stream(redactor, {"xxsecretx"}) == "xx<redacted:inner>x");
  }
  SECTION("the same value twice: the first label wins")
  {
    Redactor redactor = make_redactor({{"first", "dup"}, {"second", "dup"}});
    CHECK(redactor.value_count() == 1);
    CHECK(stream(redactor, {"dup"}) == "<redacted:first>");
  }
}

TEST_CASE("only the minimal tail is held back", "[redact]")
{
  Redactor redactor = make_redactor({{"v", "hunter2"}});
  CHECK(redactor.feed("hello h") == "hello ");
  CHECK(redactor.held_back() == 1);
  CHECK(redactor.feed("un") == "");
  CHECK(redactor.held_back() == 3);
  CHECK(redactor.feed("x") == "hunx"); // no longer a possible start
  CHECK(redactor.held_back() == 0);
  CHECK(redactor.feed("hello x\n") == "hello x\n"); // nothing that could start a value
  CHECK(redactor.feed("hhh") == "hh");
  CHECK(redactor.held_back() == 1);
  CHECK(redactor.flush() == "h");

  SECTION("a prefix of a value at the end of the stream is emitted by flush")
  {
    CHECK(redactor.feed("value: hunter") == "value: ");
    CHECK(redactor.flush() == "hunter");
    CHECK(redactor.held_back() == 0);
    CHECK(redactor.flush() == "");
  }
}

TEST_CASE("binary values are redacted", "[redact]")
{
  const std::string value("\0\xff\x01secret\0", 10);
  Redactor redactor;
  redactor.add("bin", SecretBytes::from(value));
  const std::string text = std::string("pre\0", 4) + value + std::string("\0post", 5);
  const std::string expected = std::string("pre\0", 4) + "<redacted:bin>" + std::string("\0post", 5);
  const std::string_view view(text);
  for (std::size_t i = 0; i <= text.size(); ++i) {
    CHECK(stream(redactor, {view.substr(0, i), view.substr(i)}) == expected);
  }
}

TEST_CASE("without values the redactor passes text through", "[redact]")
{
  Redactor redactor;
  redactor.add("empty", SecretBytes());
  redactor.add("empty2", SecretBytes::from(""));
  CHECK(redactor.value_count() == 0);
  CHECK(redactor.feed("anything") == "anything");
  CHECK(redactor.flush() == "");
  CHECK(redactor.redact_all("abc") == "abc");
}

TEST_CASE("clone copies the values, not the stream state", "[redact]")
{
  Redactor original = make_redactor({{"v", "secret"}});
  CHECK(original.feed("sec") == "");
  Redactor copy = original.clone();
  CHECK(copy.held_back() == 0);
  CHECK(stream(copy, {"a secret"}) == "a <redacted:v>");
  CHECK(original.feed("ret") == "<redacted:v>");
}

TEST_CASE("random chunkings of random text match the one-shot reference", "[redact]")
{
  std::mt19937 random(20240611);
  // The alphabet shares no byte with the markers, so "no value in the output" is meaningful.
  const std::string alphabet("xyz\0\xfe", 5);
  const auto pick = [&](std::size_t bound) {
    return std::uniform_int_distribution<std::size_t>(0, bound - 1)(random);
  };
  const auto random_string = [&](std::size_t size) {
    std::string s;
    for (std::size_t i = 0; i < size; ++i) {
      s.push_back(alphabet[pick(alphabet.size())]);
    }
    return s;
  };

  for (int round = 0; round < 400; ++round) {
    std::vector<std::pair<std::string, std::string>> values;
    const std::size_t value_count = 1 + pick(4);
    for (std::size_t i = 0; i < value_count; ++i) {
      values.emplace_back("L" + std::to_string(i), random_string(2 + pick(7)));
    }
    // Drop duplicates so the reference's tie-break (first added) is unambiguous.
    for (std::size_t i = 1; i < values.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (values[i].second == values[j].second) {
          values.erase(values.begin() + static_cast<std::ptrdiff_t>(i--));
          break;
        }
      }
    }
    std::string text;
    while (text.size() < 200) {
      if (pick(3) == 0) {
        text += values[pick(values.size())].second;
      } else {
        text += random_string(1 + pick(6));
      }
    }
    const std::string expected = reference(text, values);
    Redactor redactor = make_redactor(values);
    REQUIRE(redactor.redact_all(text) == expected);

    std::size_t longest = 0;
    for (const auto& value : values) {
      longest = std::max(longest, value.second.size());
    }
    for (int chunking = 0; chunking < 5; ++chunking) {
      std::string out;
      std::size_t pos = 0;
      while (pos < text.size()) {
        const std::size_t size = std::min(text.size() - pos, pick(12));
        out += redactor.feed(std::string_view(text).substr(pos, size));
        pos += size;
        // What is held back is the shortest tail that could still become a value.
        const std::size_t held = redactor.held_back();
        REQUIRE(held < longest);
        if (held > 0) {
          const std::string tail = text.substr(pos - held, held);
          bool proper_prefix = false;
          for (const auto& value : values) {
            proper_prefix = proper_prefix
                            || (value.second.size() > held && value.second.compare(0, held, tail) == 0);
          }
          REQUIRE(proper_prefix);
        }
      }
      out += redactor.flush();
      REQUIRE(out == expected);
    }
    for (const auto& value : values) {
      INFO("round " << round);
      REQUIRE(expected.find(value.second) == std::string::npos);
    }
  }
}

TEST_CASE("redact_output redacts a child's stdout and stderr separately", "[redact][process]")
{
  Redactor redactor;
  redactor.add("prod/db", SecretBytes::from("pa55word"));
  escrow::util::ProcessSpec spec;
  // The value reaches us split across writes (and so, most likely, across reads), on both
  // streams at once.
  spec.argv = escrow::util::shell_argv(
    "printf 'pw=pa5'; printf 'pa5' >&2; sleep 0.05; printf '5word\\n'; printf '5word!' >&2; "
    "printf ' end pa55'");
  redact_output(spec, redactor);
  const auto result = escrow::util::run_process(spec);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "pw=<redacted:prod/db>\n end pa55");
  CHECK(result.err == "<redacted:prod/db>!");
}

// ---- issue 16: across stdout and stderr, and without the trailing newline --------------------

namespace {

struct Streams
{
  std::string out;
  std::string err;
};

// Feeds (is_stderr, chunk) in order, then flushes both (as util::run does once both ended).
Streams cross(const Redactor& redactor, const std::vector<std::pair<bool, std::string>>& chunks)
{
  escrow::CrossStreamRedactor pair(redactor);
  Streams streams;
  for (const auto& [is_stderr, chunk] : chunks) {
    (is_stderr ? streams.err : streams.out) += pair.feed(chunk, is_stderr);
  }
  streams.out += pair.flush(false);
  streams.err += pair.flush(true);
  return streams;
}

} // namespace

TEST_CASE("redact: a value split between stdout and stderr is redacted on both", "[redact][hostile]")
{
  const Redactor redactor = make_redactor({{"T", "hunter2-value"}});
  for (std::size_t cut = 1; cut < 13; ++cut) {
    const std::string value = "hunter2-value";
    for (const bool first_on_stderr : {false, true}) {
      INFO("cut " << cut << (first_on_stderr ? " stderr first" : " stdout first"));
      const Streams s = cross(redactor, {{first_on_stderr, "a " + value.substr(0, cut)},
                                         {!first_on_stderr, value.substr(cut) + " b"}});
      const std::string joined = s.out + s.err;
      CHECK(joined.find(value.substr(0, cut) + value.substr(cut)) == std::string::npos);
      CHECK(s.out.find("<redacted:T>") != std::string::npos);
      CHECK(s.err.find("<redacted:T>") != std::string::npos);
      // Neither stream keeps a fragment that, with the other's, rebuilds the value.
      CHECK((first_on_stderr ? s.err : s.out) == "a <redacted:T>");
      CHECK((first_on_stderr ? s.out : s.err) == "<redacted:T> b");
    }
  }
  // Three parts, alternating streams.
  const Streams s = cross(redactor, {{false, "hun"}, {true, "ter2-"}, {false, "value\n"}});
  CHECK(s.out == "<redacted:T>\n");
  CHECK(s.err == "<redacted:T>");
}

TEST_CASE("redact: each stream is still redacted on its own, the other's output in between", "[redact][hostile]")
{
  const Redactor redactor = make_redactor({{"T", "hunter2-value"}});
  const Streams s = cross(redactor, {{false, "x hunter2"}, {true, "unrelated\n"}, {false, "-value y"}});
  CHECK(s.out == "x <redacted:T> y");
  CHECK(s.err == "unrelated\n");
  const Streams plain = cross(redactor, {{false, "nothing here\n"}, {true, "nor here\n"}});
  CHECK(plain.out == "nothing here\n");
  CHECK(plain.err == "nor here\n");
}

TEST_CASE("redact: a value stored with a trailing newline is redacted without it", "[redact][hostile]")
{
  const Redactor redactor = make_redactor({{"N", "line-value\n"}, {"W", "dos-value\r\n"}});
  CHECK(redactor.redact_all("a line-value b") == "a <redacted:N> b");
  CHECK(redactor.redact_all("a line-value\nb") == "a <redacted:N>b");
  CHECK(redactor.redact_all("dos-value.") == "<redacted:W>.");
  CHECK(redactor.redact_all("dos-value\r\n") == "<redacted:W>");
  const Streams s = cross(redactor, {{false, "line-val"}, {true, "ue"}});
  CHECK(s.out + s.err == "<redacted:N><redacted:N>");
}
