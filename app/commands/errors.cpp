#include <commands/errors.hpp>

#include <escrow/util/suggest.hpp>

namespace escrow::cli {

namespace {

// An option `app` accepts, its own or (commands fall through) one of its parents'.
const CLI::Option* find_option(const CLI::App& app, const std::string& name)
{
  for (const CLI::App* at = &app; at != nullptr; at = at->get_parent()) {
    if (const CLI::Option* option = at->get_option_no_throw(name); option != nullptr) {
      return option;
    }
  }
  return nullptr;
}

std::vector<std::string> long_option_names(const CLI::App& app)
{
  std::vector<std::string> names;
  for (const CLI::App* at = &app; at != nullptr; at = at->get_parent()) {
    for (const CLI::Option* option : at->get_options()) {
      for (const auto& name : option->get_lnames()) {
        names.push_back("--" + name);
      }
    }
  }
  return names;
}

std::string command_path(const CLI::App& app)
{
  std::string path;
  for (const CLI::App* at = &app; at != nullptr; at = at->get_parent()) {
    path = path.empty() ? at->get_name() : at->get_name() + " " + path;
  }
  return path;
}

} // namespace

canonical::Json error_json(ErrorKind kind, std::string_view message, const std::vector<std::string>& hints)
{
  return canonical::Json{{"schema", k_json_schema},
                         {"error", {{"code", exit_code(kind)},
                                    {"kind", std::string(error_kind_name(kind))},
                                    {"message", std::string(message)},
                                    {"hints", hints}}}};
}

std::vector<CLI::App*> visible_subcommands(CLI::App& app)
{
  return app.get_subcommands([](CLI::App* sub) { return !sub->get_group().empty() && !sub->get_name().empty(); });
}

std::optional<Error> diagnose_command_line(CLI::App& app, const std::vector<std::string>& words)
{
  CLI::App* current = &app;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word.size() > 1 && word[0] == '-') {
      const std::size_t equals = word.find('=');
      const std::string name = word.substr(0, equals);
      const CLI::Option* option = find_option(*current, name);
      if (option == nullptr) {
        if (name.rfind("--", 0) != 0) {
          return std::nullopt; // short flags may be bundled; let CLI11's message stand
        }
        Error error(ErrorKind::usage, fmt::format("{}: no option {}", command_path(*current), name));
        if (std::string hint = util::did_you_mean(name, long_option_names(*current)); !hint.empty()) {
          error.hint(hint);
        }
        error.hint(fmt::format("run '{} --help'", command_path(*current)));
        return error;
      }
      if (equals == std::string::npos && option->get_items_expected_max() > 0) {
        ++i; // its value
      }
      continue;
    }
    const std::vector<CLI::App*> subcommands = current->get_subcommands([](CLI::App*) { return true; });
    if (subcommands.empty()) {
      return std::nullopt;
    }
    CLI::App* next = nullptr;
    for (CLI::App* sub : subcommands) {
      if (sub->check_name(word)) {
        next = sub;
      }
    }
    if (next != nullptr) {
      current = next;
      continue;
    }
    const bool takes_positionals = !current->get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
    if (takes_positionals && current->get_require_subcommand_min() == 0) {
      return std::nullopt; // an argument, not a command
    }
    std::vector<std::string> names;
    for (CLI::App* sub : visible_subcommands(*current)) {
      names.push_back(sub->get_name());
    }
    Error error(ErrorKind::usage, fmt::format("{}: no command named {}", command_path(*current), word));
    if (std::string hint = util::did_you_mean(word, names); !hint.empty()) {
      error.hint(hint);
    }
    error.hint(fmt::format("run '{} --help'", command_path(*current)));
    return error;
  }
  return std::nullopt;
}

} // namespace escrow::cli
