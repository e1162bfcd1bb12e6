#include <escrow/env_file.hpp>
#include <escrow/error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace escrow {

namespace {

bool blank(char c)
{
  return c == ' ' || c == '\t';
}

// Appends one value byte to locked memory (grows geometrically; the old buffer is wiped).
void push(SecretBytes& value, std::size_t& used, char c)
{
  if (used == value.size()) {
    value.resize(std::max<std::size_t>(16, value.size() * 2));
  }
  value.expose_mut()[used++] = static_cast<std::uint8_t>(c);
}

} // namespace

bool valid_variable_name(std::string_view name)
{
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::vector<EnvEntry> parse_env_file(std::string_view text, std::string_view what)
{
  std::vector<EnvEntry> entries;
  std::set<std::string> seen;
  std::size_t number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    ++number;
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    const auto bad = [&](std::string_view problem) {
      fail(ErrorKind::usage, "{}: line {}: {}", what, number, problem);
    };
    std::size_t i = 0;
    while (i < line.size() && blank(line[i])) {
      ++i;
    }
    if (i == line.size() || line[i] == '#') {
      continue;
    }
    if (line.substr(i).starts_with("export") && line.size() > i + 6 && blank(line[i + 6])) {
      i += 6;
      while (i < line.size() && blank(line[i])) {
        ++i;
      }
    }
    const std::size_t name_begin = i;
    while (i < line.size() && line[i] != '=' && !blank(line[i])) {
      ++i;
    }
    const std::string name(line.substr(name_begin, i - name_begin));
    while (i < line.size() && blank(line[i])) {
      ++i;
    }
    if (i == line.size() || line[i] != '=') {
      bad("expected NAME=VALUE");
    }
    if (!valid_variable_name(name)) {
      bad("the name must be letters, digits and '_', not starting with a digit");
    }
    if (!seen.insert(name).second) {
      fail(ErrorKind::usage, "{}: line {}: {} is set twice", what, number, name);
    }
    ++i;
    while (i < line.size() && blank(line[i])) {
      ++i;
    }
    EnvEntry entry;
    entry.name = name;
    entry.line = number;
    std::size_t used = 0;
    if (i < line.size() && (line[i] == '\'' || line[i] == '"')) {
      const char quote = line[i++];
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == quote) {
          closed = true;
          break;
        }
        if (quote == '"' && c == '\\' && i < line.size()) {
          const char next = line[i++];
          switch (next) {
          case 'n': c = '\n'; break;
          case 'r': c = '\r'; break;
          case 't': c = '\t'; break;
          case '\\': case '"': case '$': c = next; break;
          default: bad("unknown escape in a double-quoted value");
          }
        }
        push(entry.value, used, c);
      }
      if (!closed) {
        bad("unterminated quote (values span one line; use \\n)");
      }
      while (i < line.size() && blank(line[i])) {
        ++i;
      }
      if (i < line.size() && line[i] != '#') {
        bad("text after the closing quote");
      }
    } else {
      std::size_t stop = line.size();
      for (std::size_t j = i; j < line.size(); ++j) {
        if (line[j] == '#' && j > i && blank(line[j - 1])) {
          stop = j;
          break;
        }
      }
      while (stop > i && blank(line[stop - 1])) {
        --stop;
      }
      for (std::size_t j = i; j < stop; ++j) {
        push(entry.value, used, line[j]);
      }
    }
    entry.value.resize(used);
    entries.push_back(std::move(entry));
  }
  return entries;
}

SecretBytes read_secret_file(const std::filesystem::path& path, std::size_t max_size)
{
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    fail(ErrorKind::io, "{}: cannot open: {}", path.string(),
         errno == ELOOP ? "it is a symbolic link" : std::strerror(errno));
  }
  struct stat info{};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(ErrorKind::io, "{}: not a regular file", path.string());
  }
  if (static_cast<std::size_t>(info.st_size) > max_size) {
    ::close(fd);
    fail(ErrorKind::integrity, "{}: larger than the limit of {} bytes", path.string(), max_size);
  }
  SecretBytes data(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.expose_mut().data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      fail(ErrorKind::io, "{}: cannot read: {}", path.string(), std::strerror(error));
    }
    if (n == 0) {
      break; // shrank while reading
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  data.resize(done);
  return data;
}

} // namespace escrow
