#include <escrow/atomic_file.hpp>
#include <escrow/env_file.hpp>
#include <escrow/error.hpp>
#include <escrow/records.hpp>
#include <escrow/references.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace escrow {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_max_template_size = 16 * 1024 * 1024;

bool name_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
         || c == '-' || c == '/';
}

bool digit(char c)
{
  return c >= '0' && c <= '9';
}

// Parses the reference starting at `at` (which points at "escrow://"); returns its end.
std::size_t scan(std::string_view text, std::size_t at, Reference& out, std::string_view what)
{
  std::size_t i = at + k_reference_scheme.size();
  const std::size_t name_begin = i;
  while (i < text.size() && name_char(text[i])) {
    ++i;
  }
  // A sentence's full stop or a trailing slash is not part of the name.
  while (i > name_begin && (text[i - 1] == '.' || text[i - 1] == '/')) {
    --i;
  }
  const std::string name(text.substr(name_begin, i - name_begin));
  try {
    const auto [env, short_name] = split_secret_name(name);
    out.secret = env + "/" + short_name;
  } catch (const Error& error) {
    fail(ErrorKind::usage, "{}: escrow://{}: {}", what, name, error.what());
  }
  out.version = 0;
  if (i + 2 < text.size() && text[i] == '@' && text[i + 1] == 'v' && digit(text[i + 2])) {
    i += 2;
    std::int64_t version = 0;
    while (i < text.size() && digit(text[i])) {
      version = version * 10 + (text[i] - '0');
      if (version > 1'000'000'000) {
        fail(ErrorKind::usage, "{}: escrow://{}: version number too large", what, name);
      }
      ++i;
    }
    if (version == 0) {
      fail(ErrorKind::usage, "{}: escrow://{}@v0: versions start at 1", what, name);
    }
    out.version = version;
  }
  return i;
}

void check_output(const fs::path& output, const fs::path& input)
{
  // Checked before any value is read, so a bad target journals no read.
  const fs::path folder = output.has_parent_path() ? output.parent_path() : fs::path(".");
  struct stat info{};
  if (::stat(folder.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    fail(ErrorKind::io, "{}: no such folder for the output", folder.string());
  }
  if (::access(folder.c_str(), W_OK) != 0) {
    fail(ErrorKind::io, "{}: cannot write in the output's folder: {}", folder.string(), std::strerror(errno));
  }
  if (::lstat(output.c_str(), &info) != 0) {
    return; // a new file
  }
  if (S_ISLNK(info.st_mode)) {
    fail(ErrorKind::io, "{}: is a symbolic link; refusing to write through or over it", output.string());
  }
  if (!S_ISREG(info.st_mode)) {
    fail(ErrorKind::io, "{}: not a regular file; refusing to replace it", output.string());
  }
  std::error_code error;
  if (fs::equivalent(output, input, error)) {
    fail(ErrorKind::usage, "{}: is the template itself; refusing to replace references with values",
         output.string());
  }
}

// A killed inject may have left its temp file (".<name>.tmp.<pid>.<random>", which holds values)
// beside the output: remove those whose writer is gone.
void remove_dead_temps(const fs::path& output)
{
  std::string prefix = ".";
  prefix += output.filename().string();
  prefix += ".tmp.";
  std::error_code error;
  const fs::path folder = output.has_parent_path() ? output.parent_path() : fs::path(".");
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) {
      continue;
    }
    const std::string rest = name.substr(prefix.size());
    const auto dot = rest.find('.');
    long pid = 0;
    try {
      pid = std::stol(rest.substr(0, dot));
    } catch (const std::exception&) {
      continue;
    }
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      fs::remove(entry.path(), error);
    }
  }
}

} // namespace

std::string Reference::text() const
{
  return std::string(k_reference_scheme) + secret + (version > 0 ? "@v" + std::to_string(version) : "");
}

std::optional<Reference> parse_reference(std::string_view text, std::string_view what)
{
  if (!text.starts_with(k_reference_scheme)) {
    return std::nullopt;
  }
  Reference reference;
  const std::size_t end = scan(text, 0, reference, what);
  if (end != text.size()) {
    fail(ErrorKind::usage, "{}: a value starting with escrow:// must be exactly one reference (escrow://ENV/NAME[@vN])",
         what);
  }
  return reference;
}

std::vector<TemplateReference> find_references(std::string_view text, std::string_view what)
{
  std::vector<TemplateReference> found;
  std::size_t line = 1;
  std::size_t counted = 0;
  for (std::size_t at = text.find(k_reference_scheme); at != std::string_view::npos;
       at = text.find(k_reference_scheme, at)) {
    for (; counted < at; ++counted) {
      line += text[counted] == '\n' ? 1 : 0;
    }
    TemplateReference reference;
    reference.begin = at;
    reference.line = line;
    reference.end = scan(text, at, reference.reference, fmt::format("{}: line {}", what, line));
    at = reference.end;
    found.push_back(std::move(reference));
  }
  return found;
}

InjectResult inject_with(const fs::path& input, const fs::path& output, SecretBytes* to_stdout,
                         const ReadReferences& read_all)
{
  const std::string text = read_file(input, k_max_template_size, util::Links::follow);
  if (!output.empty()) {
    check_output(output, input);
  }
  const std::vector<TemplateReference> references = find_references(text, input.string());
  // Each distinct (secret, version) is read once.
  std::map<std::pair<std::string, std::int64_t>, std::size_t> index;
  std::vector<Reference> distinct;
  for (const auto& found : references) {
    const auto key = std::pair{found.reference.secret, found.reference.version};
    if (index.count(key) == 0) {
      index.emplace(key, distinct.size());
      distinct.push_back(found.reference);
    }
  }
  // Journaled (by read_all) before the value leaves escrow (DESIGN §6).
  const std::vector<SecretBytes> values = read_all(distinct);
  if (values.size() != distinct.size()) {
    fail(ErrorKind::failed, "internal: inject read {} values for {} references", values.size(), distinct.size());
  }
  std::size_t size = text.size();
  for (const auto& found : references) {
    size = size - (found.end - found.begin) + values[index.at({found.reference.secret, found.reference.version})].size();
  }
  SecretBytes rendered(size);
  std::size_t used = 0;
  std::size_t from = 0;
  const auto append = [&](const std::uint8_t* data, std::size_t count) {
    if (count > 0) {
      std::memcpy(rendered.expose_mut().data() + used, data, count);
      used += count;
    }
  };
  for (const auto& found : references) {
    append(reinterpret_cast<const std::uint8_t*>(text.data()) + from, found.begin - from);
    const SecretBytes& value = values[index.at({found.reference.secret, found.reference.version})];
    append(value.expose().data(), value.size());
    from = found.end;
  }
  append(reinterpret_cast<const std::uint8_t*>(text.data()) + from, text.size() - from);

  if (!output.empty()) {
    check_output(output, input); // again, just before writing
    remove_dead_temps(output);
    AtomicFile file(output, 0600);
    file.write(rendered.expose_view());
    file.commit();
  } else if (to_stdout != nullptr) {
    *to_stdout = std::move(rendered);
  }
  InjectResult result;
  result.references = references.size();
  for (const Reference& reference : distinct) {
    result.secrets.emplace_back(reference.secret, reference.version);
  }
  return result;
}

} // namespace escrow
