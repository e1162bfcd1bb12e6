#include <escrow/env_file.hpp>
#include <escrow/error.hpp>
#include <escrow/crypto.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/import.hpp>
#include <escrow/util/terminal.hpp>

#include <nlohmann/json.hpp>
#include <yaml.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

namespace escrow {

namespace fs = std::filesystem;
using history::k_max_value_size;

namespace {

constexpr std::size_t k_max_source_size = 16 * 1024 * 1024;

// Names from a source shown in messages: printable ASCII only (they are names, never values).
std::string shown(std::string_view text)
{
  std::string out;
  for (const char c : text.substr(0, 200)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return out;
}

SecretBytes read_source_bytes(const ImportSource& source)
{
  if (source.path == "-") {
    return source.read_stdin ? source.read_stdin(k_max_source_size) : util::read_stdin_secret(k_max_source_size);
  }
  return read_secret_file(source.path, k_max_source_size);
}

std::string source_what(const fs::path& path)
{
  return path == "-" ? std::string("stdin") : path.string();
}

void add_item(std::vector<ImportItem>& items, std::set<std::string>& keys, std::string key, SecretBytes value,
              std::string_view what)
{
  if (!keys.insert(key).second) {
    fail(ErrorKind::usage, "{}: {} appears twice", what, shown(key));
  }
  items.push_back(ImportItem{std::move(key), std::move(value)});
}

std::string join_path(const std::vector<std::string>& path, const std::string& last)
{
  std::string out;
  for (const auto& part : path) {
    out += part + "/";
  }
  return out + last;
}

// ---- JSON: a SAX reader, so values go from the lexer straight into locked memory ----

class JsonReader : public nlohmann::json_sax<nlohmann::json>
{
public:
  JsonReader(std::vector<ImportItem>& items, std::string what) : m_items(items), m_what(std::move(what)) {}

  bool null() override { return bad("a value is null (values must be strings)"); }
  bool boolean(bool) override { return bad("a value is a boolean (values must be strings; quote it)"); }
  bool number_integer(number_integer_t) override { return bad("a value is a number (values must be strings; quote it)"); }
  bool number_unsigned(number_unsigned_t) override { return bad("a value is a number (values must be strings; quote it)"); }
  bool number_float(number_float_t, const string_t&) override
  {
    return bad("a value is a number (values must be strings; quote it)");
  }
  bool binary(binary_t&) override { return bad("binary values are not supported"); }
  bool string(string_t& value) override
  {
    if (m_depth == 0) {
      crypto::wipe(value.data(), value.size());
      return bad("expected an object of name → value");
    }
    SecretBytes secret(reinterpret_cast<const std::uint8_t*>(value.data()), value.size());
    crypto::wipe(value.data(), value.size());
    add_item(m_items, m_keys, join_path(m_path, m_key), std::move(secret), m_what);
    return true;
  }
  bool start_object(std::size_t) override
  {
    if (m_depth > 0) {
      m_path.push_back(m_key);
    }
    ++m_depth;
    return m_depth <= 16 || bad("nested too deeply");
  }
  bool key(string_t& key) override
  {
    m_key = key;
    return true;
  }
  bool end_object() override
  {
    --m_depth;
    if (!m_path.empty()) {
      m_path.pop_back();
    }
    return true;
  }
  bool start_array(std::size_t) override { return bad("arrays are not supported (values must be strings)"); }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) override
  {
    // nlohmann's message quotes the last token read, which may be a value: only the position.
    return bad(fmt::format("not valid JSON (near byte {})", position));
  }

  const std::string& problem() const { return m_problem; }

private:
  bool bad(std::string problem)
  {
    if (m_problem.empty()) {
      m_problem = std::move(problem);
    }
    return false;
  }

  std::vector<ImportItem>& m_items;
  std::set<std::string> m_keys;
  std::string m_what;
  std::vector<std::string> m_path;
  std::string m_key;
  int m_depth = 0;
  std::string m_problem;
};

std::vector<ImportItem> read_json(const SecretBytes& text, const std::string& what)
{
  std::vector<ImportItem> items;
  JsonReader reader(items, what);
  const std::string_view view = text.expose_view();
  const bool ok = nlohmann::json::sax_parse(view.begin(), view.end(), &reader);
  if (!ok || !reader.problem().empty()) {
    fail(ErrorKind::usage, "{}: {}", what, reader.problem().empty() ? "not valid JSON" : reader.problem());
  }
  return items;
}

// ---- YAML (libyaml events; each scalar buffer is wiped before libyaml frees it) ----

std::vector<ImportItem> read_yaml(const SecretBytes& text, const std::string& what)
{
  yaml_parser_t parser;
  if (yaml_parser_initialize(&parser) == 0) {
    throw std::bad_alloc();
  }
  struct Guard
  {
    yaml_parser_t* parser;
    ~Guard() { yaml_parser_delete(parser); }
  } guard{&parser};
  yaml_parser_set_input_string(&parser, text.expose().data(), text.size());
  std::vector<ImportItem> items;
  std::set<std::string> keys;
  std::vector<std::string> path;
  std::vector<bool> expecting_key; // per open mapping
  std::string key;
  int documents = 0;
  for (;;) {
    yaml_event_t event;
    if (yaml_parser_parse(&parser, &event) == 0) {
      fail(ErrorKind::usage, "{}: line {}: not valid YAML ({})", what, parser.problem_mark.line + 1,
           parser.problem != nullptr ? parser.problem : "syntax error");
    }
    struct EventGuard
    {
      yaml_event_t* event;
      ~EventGuard()
      {
        if (event->type == YAML_SCALAR_EVENT && event->data.scalar.value != nullptr) {
          crypto::wipe(event->data.scalar.value, event->data.scalar.length);
        }
        yaml_event_delete(event);
      }
    } event_guard{&event};
    const auto line = event.start_mark.line + 1;
    const auto bad = [&](std::string_view problem) { fail(ErrorKind::usage, "{}: line {}: {}", what, line, problem); };
    switch (event.type) {
    case YAML_STREAM_END_EVENT:
      return items;
    case YAML_DOCUMENT_START_EVENT:
      if (++documents > 1) {
        bad("more than one document");
      }
      break;
    case YAML_MAPPING_START_EVENT:
      if (!expecting_key.empty()) {
        if (expecting_key.back()) {
          bad("a key must be a plain name");
        }
        path.push_back(key);
        expecting_key.back() = true;
      }
      if (expecting_key.size() >= 16) {
        bad("nested too deeply");
      }
      expecting_key.push_back(true);
      break;
    case YAML_MAPPING_END_EVENT:
      expecting_key.pop_back();
      if (!path.empty() && !expecting_key.empty()) {
        path.pop_back();
      }
      break;
    case YAML_SEQUENCE_START_EVENT:
      bad("lists are not supported (values must be strings)");
      break;
    case YAML_ALIAS_EVENT:
      bad("aliases are not supported");
      break;
    case YAML_SCALAR_EVENT: {
      const auto* data = event.data.scalar.value;
      const std::size_t size = event.data.scalar.length;
      if (expecting_key.empty()) {
        if (size == 0 && documents <= 1) {
          break; // an empty document
        }
        bad("expected a mapping of name → value");
      }
      if (expecting_key.back()) {
        key.assign(reinterpret_cast<const char*>(data), size);
        expecting_key.back() = false;
      } else {
        const std::string_view scalar(reinterpret_cast<const char*>(data), size);
        if (event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE
            && (scalar.empty() || scalar == "~" || scalar == "null" || scalar == "Null" || scalar == "NULL")) {
          bad("a value is null (values must be strings)");
        }
        add_item(items, keys, join_path(path, key), SecretBytes(data, size), what);
        expecting_key.back() = true;
      }
      break;
    }
    default:
      break;
    }
  }
}

// ---- pass ----

// Runs gpg on one file and reads its stdout (the decrypted entry) into locked memory.
SecretBytes decrypt_entry(const std::string& gpg, const fs::path& file, const std::string& key)
{
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    fail(ErrorKind::io, "pass: cannot create a pipe: {}", std::strerror(errno));
  }
  std::vector<std::string> args = {gpg, "--quiet", "--yes", "--batch", "--use-agent", "--decrypt", "--", file.string()};
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    fail(ErrorKind::io, "pass: cannot start {}: {}", gpg, std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  SecretBytes value(256);
  std::size_t used = 0;
  bool too_big = false;
  for (;;) {
    if (used == value.size()) {
      if (value.size() > k_max_value_size) {
        too_big = true;
        break;
      }
      value.resize(value.size() * 2);
    }
    const ssize_t n = ::read(out[0], value.expose_mut().data() + used, value.size() - used);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    used += static_cast<std::size_t>(n);
  }
  ::close(out[0]);
  if (too_big) {
    ::kill(pid, SIGTERM);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (too_big) {
    fail(ErrorKind::usage, "pass: {}: larger than {} bytes", shown(key), k_max_value_size);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    throw Error(ErrorKind::failed, fmt::format("pass: {}: {} could not decrypt it (exit {}); nothing was imported",
                                               shown(key), gpg, code))
      .hint(code == 127 ? "is gpg installed? (--gpg PROGRAM)" : "check that your gpg key can open it: pass show " + shown(key));
  }
  value.resize(used);
  return value;
}

std::vector<ImportItem> read_pass(const ImportSource& source, ReadValues values)
{
  const fs::path& root = source.path;
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    fail(ErrorKind::io, "{}: not a pass store (no such folder)", root.string());
  }
  std::vector<std::pair<std::string, fs::path>> entries;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name.front() == '.') {
      if (it->is_directory()) {
        it.disable_recursion_pending(); // .git, .extensions
      }
      continue;
    }
    if (it->is_symlink() || !it->is_regular_file() || !name.ends_with(".gpg")) {
      continue;
    }
    std::string key = fs::relative(it->path(), root).string();
    key.resize(key.size() - 4);
    entries.emplace_back(std::move(key), it->path());
  }
  if (error) {
    fail(ErrorKind::io, "{}: cannot list the pass store: {}", root.string(), error.message());
  }
  std::sort(entries.begin(), entries.end());
  std::vector<ImportItem> items;
  std::set<std::string> keys;
  for (const auto& [key, file] : entries) {
    SecretBytes value;
    if (values == ReadValues::yes) {
      value = decrypt_entry(source.gpg, file, key);
      if (!source.whole_entry) {
        const std::string_view view = value.expose_view();
        std::size_t end = view.find('\n');
        end = end == std::string_view::npos ? view.size() : end;
        if (end > 0 && view[end - 1] == '\r') {
          --end;
        }
        value.resize(end);
      } else if (!value.empty() && value.expose_view().back() == '\n') {
        value.resize(value.size() - 1);
      }
    }
    add_item(items, keys, key, std::move(value), root.string());
  }
  return items;
}

} // namespace

std::string_view import_format_name(ImportFormat format)
{
  switch (format) {
  case ImportFormat::env: return "env";
  case ImportFormat::json: return "json";
  case ImportFormat::yaml: return "yaml";
  case ImportFormat::pass: return "pass";
  }
  return "env";
}

ImportFormat parse_import_format(std::string_view name)
{
  for (const auto format : {ImportFormat::env, ImportFormat::json, ImportFormat::yaml, ImportFormat::pass}) {
    if (name == import_format_name(format)) {
      return format;
    }
  }
  fail(ErrorKind::usage, "import: unknown format \"{}\" (env, json, yaml or pass)", shown(name));
}

ImportFormat guess_import_format(const fs::path& source)
{
  std::error_code error;
  if (source != "-" && fs::is_directory(source, error)) {
    return ImportFormat::pass;
  }
  const std::string extension = source.extension().string();
  if (extension == ".json") {
    return ImportFormat::json;
  }
  if (extension == ".yaml" || extension == ".yml") {
    return ImportFormat::yaml;
  }
  return ImportFormat::env;
}

std::vector<ImportItem> read_import_source(const ImportSource& source, ReadValues values)
{
  if (source.format == ImportFormat::pass) {
    if (source.path == "-") {
      fail(ErrorKind::usage, "import: a pass store is a folder, not stdin");
    }
    return read_pass(source, values);
  }
  const std::string what = source_what(source.path);
  const SecretBytes text = read_source_bytes(source);
  switch (source.format) {
  case ImportFormat::json:
    return read_json(text, what);
  case ImportFormat::yaml:
    return read_yaml(text, what);
  default: {
    std::vector<EnvEntry> entries = parse_env_file(text.expose_view(), what);
    std::vector<ImportItem> items;
    for (auto& entry : entries) {
      items.push_back(ImportItem{std::move(entry.name), std::move(entry.value)});
    }
    return items;
  }
  }
}

} // namespace escrow
