// The command tree as data, read from the CLI11 definitions themselves (walking CLI::App), so
// that the shell completions and the man page are generated and never written twice by hand
// (`escrow completion bash|zsh|fish`, `escrow man`; docs/PACKAGING.md).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace escrow::cli {

// What a value is, so a completion can offer the right words.
enum class ValueKind { none, file, secret, member, connector, env };

struct OptionModel
{
  std::vector<std::string> names; // "--vault", "-q"
  std::string description;
  bool takes_value = false;
  ValueKind kind = ValueKind::none;
};

struct PositionalModel
{
  std::string name;
  std::string description;
  bool required = false;
  ValueKind kind = ValueKind::none;
};

struct CommandModel
{
  std::vector<std::string> path; // {} for escrow itself, {"member", "add"}
  std::string description;
  std::string footer;
  std::vector<OptionModel> options; // its own (not inherited) options, help left out
  std::vector<PositionalModel> positionals;
  std::vector<CommandModel> subcommands; // visible ones, in definition order
  bool requires_subcommand = false;

  std::string joined_path() const; // "member add"
};

// The visible tree under `app` (hidden commands, in an empty group, are left out).
CommandModel describe(CLI::App& app);

// Every command of the tree, depth first, `model` first.
std::vector<const CommandModel*> flatten(const CommandModel& model);

} // namespace escrow::cli
