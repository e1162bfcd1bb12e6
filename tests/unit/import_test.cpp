#include <escrow/error.hpp>
#include <escrow/import.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using escrow::ImportFormat;

namespace {

struct TempFile
{
  fs::path path;
  TempFile(const std::string& name, const std::string& text)
  {
    char pattern[] = "/tmp/escrow-import-test-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = fs::path(pattern) / name;
    std::ofstream(path) << text;
  }
  ~TempFile() { fs::remove_all(path.parent_path()); }
};

std::vector<escrow::ImportItem> read(ImportFormat format, const std::string& name, const std::string& text)
{
  TempFile file(name, text);
  escrow::ImportSource source;
  source.format = format;
  source.path = file.path;
  return escrow::read_import_source(source, escrow::ReadValues::yes);
}

std::string error_of(ImportFormat format, const std::string& name, const std::string& text)
{
  try {
    (void)read(format, name, text);
  } catch (const escrow::Error& error) {
    CHECK(error.exit_code() == 2);
    return error.what();
  }
  return "";
}

} // namespace

TEST_CASE("import: formats are guessed from the source")
{
  CHECK(escrow::guess_import_format("a.json") == ImportFormat::json);
  CHECK(escrow::guess_import_format("a.yml") == ImportFormat::yaml);
  CHECK(escrow::guess_import_format("a.yaml") == ImportFormat::yaml);
  CHECK(escrow::guess_import_format(".env") == ImportFormat::env);
  CHECK(escrow::guess_import_format("/tmp") == ImportFormat::pass);
  CHECK(escrow::parse_import_format("yaml") == ImportFormat::yaml);
  CHECK_THROWS_AS(escrow::parse_import_format("toml"), escrow::Error);
}

TEST_CASE("import: JSON maps, nested maps give a/b names")
{
  const auto items = read(ImportFormat::json, "s.json", R"({"b": "2", "a": {"x": "1", "y": {"z": "deep"}}})");
  REQUIRE(items.size() == 3);
  CHECK(items[0].key == "b");
  CHECK(items[1].key == "a/x");
  CHECK(std::string(items[1].value.expose_view()) == "1");
  CHECK(items[2].key == "a/y/z");
  CHECK(std::string(items[2].value.expose_view()) == "deep");
}

TEST_CASE("import: JSON refusals never quote a value")
{
  CHECK(error_of(ImportFormat::json, "s.json", R"({"a": 1})").find("number") != std::string::npos);
  CHECK(error_of(ImportFormat::json, "s.json", R"({"a": ["x"]})").find("arrays") != std::string::npos);
  CHECK(error_of(ImportFormat::json, "s.json", R"({"a": "x", "a": "y"})").find("appears twice") != std::string::npos);
  CHECK(error_of(ImportFormat::json, "s.json", R"("top")").find("expected an object") != std::string::npos);
  const std::string broken = error_of(ImportFormat::json, "s.json", R"({"a": "hunter2)");
  CHECK(broken.find("not valid JSON") != std::string::npos);
  CHECK(broken.find("hunter2") == std::string::npos);
}

TEST_CASE("import: YAML maps")
{
  const auto items = read(ImportFormat::yaml, "s.yaml", "# c\nredis: 'r1'\nsmtp:\n  user: u\n  password: p w\nlast: x\n");
  REQUIRE(items.size() == 4);
  CHECK(items[0].key == "redis");
  CHECK(std::string(items[0].value.expose_view()) == "r1");
  CHECK(items[2].key == "smtp/password");
  CHECK(std::string(items[2].value.expose_view()) == "p w");
  CHECK(items[3].key == "last");
  CHECK(read(ImportFormat::yaml, "e.yaml", "").empty());
}

TEST_CASE("import: YAML refusals")
{
  CHECK(error_of(ImportFormat::yaml, "s.yaml", "a: [1]\n").find("lists") != std::string::npos);
  CHECK(error_of(ImportFormat::yaml, "s.yaml", "a: &x v\nb: *x\n").find("aliases") != std::string::npos);
  CHECK(error_of(ImportFormat::yaml, "s.yaml", "a: 1\na: 2\n").find("appears twice") != std::string::npos);
  CHECK(error_of(ImportFormat::yaml, "s.yaml", "a: 1\n---\nb: 2\n").find("more than one document") != std::string::npos);
  const std::string broken = error_of(ImportFormat::yaml, "s.yaml", "a: \"hunter2\n");
  CHECK(broken.find("line") != std::string::npos);
  CHECK(broken.find("hunter2") == std::string::npos);
}
