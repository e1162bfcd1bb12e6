// escrow completion bash|zsh|fish, and the hidden helper completions call: escrow __complete KIND.
// The scripts are generated from the command definitions (cli_model.hpp), never by hand.
#include <commands/cli_model.hpp>
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/history/completion.hpp>

#include <map>

namespace escrow::cli {

namespace {

std::string_view kind_name(ValueKind kind, bool takes_value)
{
  switch (kind) {
  case ValueKind::file: return "file";
  case ValueKind::secret: return "secrets";
  case ValueKind::member: return "members";
  case ValueKind::connector: return "connectors";
  case ValueKind::env: return "envs";
  case ValueKind::none: break;
  }
  return takes_value ? "value" : "";
}

// Single-quoted for sh/bash/zsh.
std::string sh_quote(std::string_view text)
{
  std::string out = "'";
  for (const char c : text) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

// Single-quoted for fish (which escapes \ and ' inside single quotes).
std::string fish_quote(std::string_view text)
{
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'' || c == '\\') {
      out += '\\';
    }
    out += c == '\n' ? ' ' : c;
  }
  return out + "'";
}

std::string first_line(std::string_view text)
{
  return std::string(text.substr(0, text.find('\n')));
}

// The shell code both bash and zsh share: "case" tables from the tree.
//   _escrow_value PATH OPTION  → prints the kind of OPTION's value ("" for a flag)
//   _escrow_step PATH WORD      → prints the subcommand path WORD leads to ("" if none)
//   _escrow_at PATH             → sets commands, options and positionals for PATH
std::string shell_tables(const CommandModel& root)
{
  const auto commands = flatten(root);
  std::string out = "_escrow_value() {\n  case \"$1|$2\" in\n";
  for (const CommandModel* command : commands) {
    for (const auto& option : command->options) {
      if (!option.takes_value) {
        continue;
      }
      for (const auto& name : option.names) {
        const std::string path = command->joined_path();
        // Options fall through to subcommands.
        const std::string patterns = path.empty() ? "*" + sh_quote("|" + name)
                                                  : sh_quote(path + "|" + name) + "|" + sh_quote(path + " ") + "*" +
                                                      sh_quote("|" + name);
        out += fmt::format("    {}) echo {} ;;\n", patterns, kind_name(option.kind, true));
      }
    }
  }
  out += "  esac\n}\n_escrow_step() {\n  case \"$1|$2\" in\n";
  for (const CommandModel* command : commands) {
    for (const auto& sub : command->subcommands) {
      out += fmt::format("    {}) echo {} ;;\n", sh_quote(command->joined_path() + "|" + sub.path.back()),
                         sh_quote(sub.joined_path()));
    }
  }
  out += "  esac\n}\n_escrow_at() {\n  case $1 in\n";
  for (const CommandModel* command : commands) {
    std::string names;
    std::string described;
    for (const auto& sub : command->subcommands) {
      names += (names.empty() ? "" : " ") + sub.path.back();
      described += (described.empty() ? "" : " ") + sh_quote(sub.path.back() + ":" + first_line(sub.description));
    }
    std::string options;
    // Its own options and, as they fall through, its parents'.
    for (const CommandModel* at : commands) {
      const bool ancestor = at->path.size() <= command->path.size() &&
                            std::equal(at->path.begin(), at->path.end(), command->path.begin());
      if (!ancestor) {
        continue;
      }
      for (const auto& option : at->options) {
        for (const auto& name : option.names) {
          options += (options.empty() ? "" : " ") + name;
        }
      }
    }
    std::string positionals;
    for (const auto& positional : command->positionals) {
      const std::string_view kind = kind_name(positional.kind, true);
      positionals += (positionals.empty() ? "" : " ") + std::string(kind);
    }
    out += fmt::format("    {}) commands={}; described=({}); options={}; positionals=({}) ;;\n",
                       sh_quote(command->joined_path()), sh_quote(names), described, sh_quote(options), positionals);
  }
  out += "  esac\n}\n";
  return out;
}

constexpr std::string_view k_bash_driver = R"(_escrow_words() {
  # KIND PREFIX: names the vault knows (escrow __complete reads only its public metadata).
  local word
  while IFS= read -r word; do
    [[ $word == "$2"* ]] && COMPREPLY+=("$word")
  done < <(command escrow __complete "$1" 2>/dev/null)
}
_escrow_offer() {
  case $1 in
    '' | value) ;;
    file) local IFS=$'\n'; COMPREPLY+=($(compgen -f -- "$2")) ;;
    *) _escrow_words "$1" "$2" ;;
  esac
}
_escrow() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local path='' word next kind i skip=0 n=0
  local commands='' options='' described=() positionals=()
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if ((skip)); then skip=0; continue; fi
    case $word in
      --) return 0 ;;
      --*=*) continue ;;
      -*) [[ -n $(_escrow_value "$path" "$word") ]] && skip=1; continue ;;
    esac
    next=$(_escrow_step "$path" "$word")
    if [[ -n $next ]]; then path=$next; n=0; else ((n++)); fi
  done
  if [[ $prev == -* && $COMP_CWORD -gt 1 ]]; then
    kind=$(_escrow_value "$path" "$prev")
    if [[ -n $kind ]]; then _escrow_offer "$kind" "$cur"; return 0; fi
  fi
  _escrow_at "$path"
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
    return 0
  fi
  if [[ -n $commands && $n -eq 0 ]]; then
    COMPREPLY=($(compgen -W "$commands" -- "$cur"))
  fi
  _escrow_offer "${positionals[n]}" "$cur"
}
complete -o bashdefault -o default -F _escrow escrow
)";

constexpr std::string_view k_zsh_driver = R"(_escrow_words() {
  # KIND: names the vault knows (escrow __complete reads only its public metadata).
  local -a names
  names=("${(@f)$(command escrow __complete "$1" 2>/dev/null)}")
  (( ${#names} )) && [[ -n ${names[1]} ]] && compadd -a names
}
_escrow_offer() {
  case $1 in
    '' | value) ;;
    file) _files ;;
    *) _escrow_words "$1" ;;
  esac
}
_escrow() {
  local path='' word next kind i skip=0 n=0
  local commands='' options=''
  local -a described positionals
  for ((i = 2; i < CURRENT; i++)); do
    word=${words[i]}
    if ((skip)); then skip=0; continue; fi
    case $word in
      --) _normal; return ;;
      --*=*) continue ;;
      -*) [[ -n $(_escrow_value "$path" "$word") ]] && skip=1; continue ;;
    esac
    next=$(_escrow_step "$path" "$word")
    if [[ -n $next ]]; then path=$next; n=0; else ((n++)); fi
  done
  local prev=${words[CURRENT-1]}
  if [[ $prev == -* && $CURRENT -gt 2 ]]; then
    kind=$(_escrow_value "$path" "$prev")
    if [[ -n $kind ]]; then _escrow_offer "$kind"; return; fi
  fi
  _escrow_at "$path"
  if [[ ${words[CURRENT]} == -* ]]; then
    compadd -- ${=options}
    return
  fi
  if [[ -n $commands && $n -eq 0 ]]; then
    _describe -t commands 'escrow command' described
  fi
  _escrow_offer "${positionals[n+1]}"
}
)";

std::string bash_script(const CommandModel& root)
{
  return "# bash completion for escrow: generated by `escrow completion bash` from the command\n"
         "# definitions; do not edit. Installed as bash-completion/completions/escrow.\n" +
         shell_tables(root) + std::string(k_bash_driver);
}

std::string zsh_script(const CommandModel& root)
{
  return "#compdef escrow\n"
         "# zsh completion for escrow: generated by `escrow completion zsh` from the command\n"
         "# definitions; do not edit. Installed as _escrow in a folder of $fpath.\n" +
         shell_tables(root) + std::string(k_zsh_driver) + "_escrow \"$@\"\n";
}

std::string fish_script(const CommandModel& root)
{
  std::string out =
    "# fish completion for escrow: generated by `escrow completion fish` from the command\n"
    "# definitions; do not edit. Installed as fish/vendor_completions.d/escrow.fish.\n"
    "function __escrow_path --description 'the escrow subcommand path typed so far'\n"
    "    set -l words (commandline -opc)\n"
    "    set -e words[1]\n"
    "    set -l path ''\n"
    "    set -l skip 0\n"
    "    for word in $words\n"
    "        if test $skip = 1\n"
    "            set skip 0\n"
    "            continue\n"
    "        end\n"
    "        switch $word\n"
    "            case '--'\n"
    "                echo '--'\n"
    "                return\n"
    "            case '-*'\n"
    "                contains -- $word $__escrow_value_options; and set skip 1\n"
    "                continue\n"
    "        end\n"
    "        set -l next (string trim -- \"$path $word\")\n"
    "        contains -- $next $__escrow_paths; and set path $next\n"
    "    end\n"
    "    echo $path\n"
    "end\n"
    "function __escrow_at --argument-names want\n"
    "    set -l path (__escrow_path)\n"
    "    test \"$path\" = \"$want\"\n"
    "end\n"
    "complete -c escrow -f\n";
  const auto commands = flatten(root);
  std::string paths;
  std::string value_options;
  for (const CommandModel* command : commands) {
    if (!command->path.empty()) {
      paths += " " + fish_quote(command->joined_path());
    }
    for (const auto& option : command->options) {
      if (option.takes_value) {
        for (const auto& name : option.names) {
          value_options += " " + fish_quote(name);
        }
      }
    }
  }
  out += "set -g __escrow_paths" + paths + "\n";
  out += "set -g __escrow_value_options" + value_options + "\n";
  const auto arguments = [](ValueKind kind) -> std::string {
    switch (kind) {
    case ValueKind::file: return " -F";
    case ValueKind::none: return "";
    default: return fmt::format(" -a '(escrow __complete {} 2>/dev/null)'", kind_name(kind, true));
    }
  };
  for (const CommandModel* command : commands) {
    const std::string condition = command->path.empty() ? "-n '__escrow_at \"\"'"
                                                        : "-n " + fish_quote("__escrow_at '" + command->joined_path() + "'");
    for (const auto& sub : command->subcommands) {
      out += fmt::format("complete -c escrow {} -a {} -d {}\n", condition, fish_quote(sub.path.back()),
                         fish_quote(first_line(sub.description)));
    }
    if (!command->positionals.empty() && command->positionals.front().kind != ValueKind::none) {
      out += fmt::format("complete -c escrow {}{}\n", condition, arguments(command->positionals.front().kind));
    }
    for (const auto& option : command->options) {
      std::string spec;
      for (const auto& name : option.names) {
        spec += name.rfind("--", 0) == 0 ? " -l " + fish_quote(name.substr(2)) : " -s " + fish_quote(name.substr(1));
      }
      // Options fall through: the global ones are offered everywhere.
      const std::string where = command->path.empty() ? std::string() : " " + condition;
      out += fmt::format("complete -c escrow{}{}{}{} -d {}\n", where, spec, option.takes_value ? " -r" : "",
                         option.takes_value ? arguments(option.kind) : "", fish_quote(first_line(option.description)));
    }
  }
  return out;
}

struct CompletionOptions
{
  std::string shell;
};

void run_complete_names(const std::string& kind, Context& context)
{
  // Names are metadata anyone with the repository reads; no identity is unlocked, nothing is
  // journaled. Only plain names are printed (a completion must never receive control bytes).
  history::check_completion_kind(kind);
  const history::VaultSession session = context.open_v2(history::Access::read);
  const std::vector<std::string> names = history::names_for_completion(session.state(), kind);
  for (const auto& name : names) {
    const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
      return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
    });
    if (plain) {
      context.out() << name << '\n';
    }
  }
}

} // namespace

void setup_completion(CLI::App& app, Context& context)
{
  auto options = std::make_shared<CompletionOptions>();
  // Hidden (empty group): packaging runs them at build time (app/CMakeLists.txt).
  auto* completion = app.add_subcommand("completion", "print a shell completion script (bash, zsh or fish)");
  completion->group("");
  completion->add_option("shell", options->shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
  completion->callback([options, &app, &context] {
    const CommandModel root = describe(app);
    if (options->shell == "bash") {
      context.out() << bash_script(root);
    } else if (options->shell == "zsh") {
      context.out() << zsh_script(root);
    } else {
      context.out() << fish_script(root);
    }
  });
  auto kind = std::make_shared<std::string>();
  auto* complete = app.add_subcommand("__complete", "names for shell completions");
  complete->group("");
  complete->add_option("kind", *kind, "secrets, members, connectors or envs")->required();
  complete->callback([kind, &context] { run_complete_names(*kind, context); });
}

} // namespace escrow::cli
