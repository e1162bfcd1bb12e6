// escrow policy show | set | set-notify (admins change it; lib/escrow/history/admin.hpp)
#include <commands/context.hpp>

#include <escrow/util/escape.hpp>

#include <escrow/error.hpp>
#include <escrow/history/admin.hpp>
#include <escrow/records.hpp>

namespace escrow::cli {

namespace {

struct PolicySetOptions
{
  std::string env;
  std::optional<std::int64_t> min_threshold;
  std::string max_ttl;
  std::string require_why;
  std::string every;
  std::optional<std::int64_t> keep;
  std::optional<std::string> notify;
};

Json policy_json(const history::Policy& policy)
{
  Json envs = Json::object();
  for (const auto& [env, rules] : policy.envs) {
    envs[env] = Json{{"min_threshold", rules.min_threshold},
                     {"max_ttl", format_duration(rules.max_ttl)},
                     {"require_why", rules.require_why},
                     {"every", rules.every > 0 ? format_duration(rules.every) : ""},
                     {"keep", rules.keep}};
  }
  return Json{{"envs", envs}, {"notify", policy.notify}};
}

// A public read: no identity is loaded (who changed the policy is in the journal).
void run_policy_show(Context& context)
{
  const history::VaultSession session = context.open_v2(history::Access::read);
  const history::Policy& policy = *session.state().policy;
  if (context.json()) {
    context.emit(policy_json(policy));
    return;
  }
  if (context.quiet()) {
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [env, rules] : policy.envs) {
    rows.push_back({env, std::to_string(rules.min_threshold), format_duration(rules.max_ttl),
                    rules.require_why ? "yes" : "no", rules.every > 0 ? format_duration(rules.every) : "-",
                    std::to_string(rules.keep)});
  }
  print_table(context.out(), context, {"ENV", "MIN-THRESHOLD", "MAX-TTL", "REQUIRE-WHY", "EVERY", "KEEP"}, rows);
  context.out() << "notify: " << util::escape_controls(policy.notify.empty() ? "-" : policy.notify) << '\n';
}

void run_policy_set(const PolicySetOptions& options, Context& context)
{
  history::PolicySetArgs change;
  // set-notify has no environment: the hook is vault-wide (an admin of every environment).
  change.env = options.env.empty() ? std::string("*") : options.env;
  if (change.env != "*" && !valid_env_name(change.env)) {
    fail(ErrorKind::usage, "policy set: invalid environment \"{}\" (ENV or *)", change.env);
  }
  change.min_threshold = options.min_threshold;
  change.keep = options.keep;
  change.notify = options.notify;
  if (!options.max_ttl.empty()) {
    change.max_ttl = parse_duration_option(options.max_ttl, "policy set: --max-ttl");
  }
  if (!options.require_why.empty()) {
    if (options.require_why != "yes" && options.require_why != "no") {
      fail(ErrorKind::usage, "policy set: --require-why takes yes or no");
    }
    change.require_why = options.require_why == "yes";
  }
  if (!options.every.empty()) {
    if (options.every == "0" || options.every == "none") {
      change.every = 0;
    } else {
      change.every = parse_duration_option(options.every, "policy set: --every");
    }
  }
  history::VaultSession session = context.open_v2(history::Access::write);
  const history::Policy& policy = history::set_policy(session, change);
  context.warn(session.warnings());
  if (context.json()) {
    context.emit(policy_json(policy));
    return;
  }
  if (!options.env.empty()) {
    const EnvPolicy& rules = policy.for_env(options.env);
    context.say(fmt::format("policy for {}: min-threshold {}, max-ttl {}, require-why {}, every {}, keep {}",
                            options.env, rules.min_threshold, format_duration(rules.max_ttl),
                            rules.require_why ? "yes" : "no", rules.every > 0 ? format_duration(rules.every) : "-",
                            rules.keep));
  }
  if (change.notify) {
    context.say(policy.notify.empty() ? std::string("notify hook removed") : "notify hook: " + policy.notify);
  }
}

} // namespace

void setup_policy(CLI::App& app, Context& context)
{
  auto* policy = app.add_subcommand("policy", "per-environment escrow and rotation defaults (admins change them)");
  policy->require_subcommand(1);
  auto* show = policy->add_subcommand("show", "print the policy");
  show->callback([&context] { run_policy_show(context); });

  auto set_options = std::make_shared<PolicySetOptions>();
  auto* set = policy->add_subcommand("set", "change an environment's policy (ENV, or * for the default)");
  set->add_option("env", set_options->env, "ENV or * (the default for environments without their own)")->required();
  set->add_option("--min-threshold", set_options->min_threshold, "fewest approvals a new escrowed secret may require");
  set->add_option("--max-ttl", set_options->max_ttl, "longest grant a request may ask for, e.g. 8h");
  set->add_option("--require-why", set_options->require_why, "whether requests need a justification: yes or no");
  set->add_option("--every", set_options->every, "default rotation cadence for new secrets, e.g. 30d (none to clear)");
  set->add_option("--keep", set_options->keep, "versions kept besides the current one (previous + retired)");
  set->add_option("--notify", set_options->notify, "vault-wide command receiving one JSON event per result");
  set->callback([set_options, &context] { run_policy_set(*set_options, context); });

  auto notify_options = std::make_shared<PolicySetOptions>();
  auto* notify = policy->add_subcommand("set-notify", "set the vault-wide notify hook (\"\" removes it)");
  notify->add_option("command", notify_options->notify, "the command, one word (quote it)")->required();
  notify->callback([notify_options, &context] { run_policy_set(*notify_options, context); });
}

} // namespace escrow::cli
