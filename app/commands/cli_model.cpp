#include <commands/cli_model.hpp>

#include <commands/errors.hpp>

namespace escrow::cli {

namespace {

bool contains(std::string_view text, std::string_view part)
{
  return text.find(part) != std::string_view::npos;
}

ValueKind option_kind(const std::string& name)
{
  static const std::vector<std::pair<std::string, ValueKind>> k_kinds = {
    {"vault", ValueKind::file},       {"identity", ValueKind::file},  {"out", ValueKind::file},
    {"html", ValueKind::file},        {"csv", ValueKind::file},       {"to", ValueKind::file},
    {"env-file", ValueKind::file},    {"input", ValueKind::file},     {"output", ValueKind::file},
    {"env", ValueKind::env},          {"with", ValueKind::member},    {"owner", ValueKind::member},
    {"actor", ValueKind::member},     {"custodians", ValueKind::member}, {"connector", ValueKind::connector},
    {"after", ValueKind::connector},  {"secret", ValueKind::secret},
  };
  for (const auto& [known, kind] : k_kinds) {
    if (name == known) {
      return kind;
    }
  }
  return ValueKind::none;
}

ValueKind positional_kind(const CLI::Option& option)
{
  const std::string& description = option.get_description();
  if (description.rfind("ENV/NAME", 0) == 0) {
    return ValueKind::secret;
  }
  if (contains(description, "connector name")) {
    return ValueKind::connector;
  }
  if (contains(description, "member name")) {
    return ValueKind::member;
  }
  if (contains(option.get_name(), "file") || contains(description, "file")) {
    return ValueKind::file;
  }
  return ValueKind::none;
}

void describe_into(CLI::App& app, std::vector<std::string> path, CommandModel& model)
{
  model.path = std::move(path);
  model.description = app.get_description();
  model.footer = app.get_footer();
  model.requires_subcommand = app.get_require_subcommand_min() > 0;
  const CLI::Option* help = app.get_help_ptr();
  const CLI::Option* help_all = app.get_help_all_ptr();
  for (CLI::Option* option : app.get_options()) {
    if (option == help || option == help_all || option->get_group().empty()) {
      continue;
    }
    if (option->get_positional() && !option->nonpositional()) {
      PositionalModel positional;
      positional.name = option->get_name();
      positional.description = option->get_description();
      positional.required = option->get_required();
      positional.kind = positional_kind(*option);
      model.positionals.push_back(std::move(positional));
      continue;
    }
    OptionModel out;
    for (const auto& name : option->get_lnames()) {
      out.names.push_back("--" + name);
    }
    for (const auto& name : option->get_snames()) {
      out.names.push_back("-" + name);
    }
    out.description = option->get_description();
    out.takes_value = option->get_items_expected_max() > 0;
    out.kind = out.takes_value && !option->get_lnames().empty() ? option_kind(option->get_lnames().front())
                                                                : ValueKind::none;
    model.options.push_back(std::move(out));
  }
  for (CLI::App* sub : visible_subcommands(app)) {
    CommandModel child;
    std::vector<std::string> child_path = model.path;
    child_path.push_back(sub->get_name());
    describe_into(*sub, std::move(child_path), child);
    model.subcommands.push_back(std::move(child));
  }
}

void flatten_into(const CommandModel& model, std::vector<const CommandModel*>& out)
{
  out.push_back(&model);
  for (const auto& sub : model.subcommands) {
    flatten_into(sub, out);
  }
}

} // namespace

std::string CommandModel::joined_path() const
{
  std::string out;
  for (const auto& word : path) {
    out += out.empty() ? word : " " + word;
  }
  return out;
}

CommandModel describe(CLI::App& app)
{
  CommandModel model;
  describe_into(app, {}, model);
  return model;
}

std::vector<const CommandModel*> flatten(const CommandModel& model)
{
  std::vector<const CommandModel*> out;
  flatten_into(model, out);
  return out;
}

} // namespace escrow::cli
