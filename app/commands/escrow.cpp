// escrow request | approve | deny | grants | policy (DESIGN §4). The protocol is in
// lib/escrow/escrow.hpp; these commands parse, open the session, call it, journal and print.
#include <commands/context.hpp>

#include <escrow/util/escape.hpp>
#include <escrow/error.hpp>
#include <escrow/escrow.hpp>
#include <escrow/policy.hpp>
#include <escrow/util/text.hpp>

#include <algorithm>

namespace escrow::cli {

namespace {

struct RequestOptions
{
  std::string name;
  std::string ttl;
  std::string why;
};

struct ApproveOptions
{
  std::string name;
  std::string id;
  std::string why;
};

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

using util::join;

// Runs `body`; an access refusal by a member is journaled (result "denied", the reason in the
// detail) before it propagates. The vault itself is not written.
template<typename Body>
decltype(auto) journal_refusal(Session& session, const JournalEntry& entry, Body&& body)
{
  try {
    return body();
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::access) {
      JournalEntry refused = entry;
      refused.result = JournalResult::denied;
      refused.detail["reason"] = error.what();
      session.record(std::move(refused));
    }
    throw;
  }
}

JournalEntry entry_for(JournalAction action, const std::string& full_name, const std::string& env)
{
  JournalEntry entry;
  entry.action = action;
  entry.secret = full_name;
  entry.env = env;
  return entry;
}

void run_request(const RequestOptions& options, Context& context)
{
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string full_name = env + "/" + short_name;
  const std::optional<std::int64_t> ttl = parse_duration_option(options.ttl, "request: --ttl");
  Session session = context.open(Mode::write);
  Vault& vault = session.vault();
  (void)vault.secret(full_name); // no such secret: usage, not journaled
  (void)later_time(session.now(), *ttl, "request: --ttl"); // the grant must end by year 9999
  JournalEntry entry = entry_for(JournalAction::request, full_name, env);
  entry.why = options.why;
  entry.detail = Json{{"ttl", format_duration(*ttl)}};
  const Request& request = journal_refusal(session, entry, [&]() -> const Request& {
    return request_access(vault, full_name, session.identity(), *ttl, options.why, session.now());
  });
  const std::string id = request.id;
  const Timestamp expires = request.expires_at();
  entry.request = id;
  entry.detail["expires_at"] = format_time(expires);
  session.commit(std::move(entry));

  const SecretRecord& secret = session.vault().secret(full_name);
  if (context.json()) {
    context.emit(Json{{"id", id},
                      {"secret", full_name},
                      {"by", session.me().name},
                      {"ttl", format_duration(*ttl)},
                      {"expires_at", format_time(expires)},
                      {"threshold", secret.threshold},
                      {"custodians", secret.custodians}});
    return;
  }
  // The id alone on stdout, so that scripts can capture it; the rest is for people.
  context.out() << id << '\n';
  std::vector<std::string> approvers;
  for (const auto& custodian : secret.custodians) {
    if (custodian != session.me().name) {
      approvers.push_back(custodian);
    }
  }
  context.note(fmt::format("requested {} for {} (until {}); it needs {} approval(s) from: {}", full_name,
                           format_duration(*ttl), format_time(expires), secret.threshold, join(approvers)));
  context.note(fmt::format("each of them runs: escrow approve {} {}", full_name, id));
}

void run_approve(const ApproveOptions& options, Context& context)
{
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string full_name = env + "/" + short_name;
  Session session = context.open(Mode::write);
  Vault& vault = session.vault();
  const SecretRecord& peek = vault.secret(full_name);
  (void)find_request(vault, peek, options.id); // no such request: usage, not journaled
  JournalEntry entry = entry_for(JournalAction::approve, full_name, env);
  entry.request = options.id;
  const ApprovalResult result = journal_refusal(session, entry, [&] {
    return approve_request(vault, full_name, options.id, session.identity(), session.now());
  });
  const Request& request = find_request(vault, vault.secret(full_name), options.id);
  const std::string why = request.why;
  const Timestamp expires = request.expires_at();
  entry.version = result.v;
  entry.detail = Json{{"requester", result.requester},
                      {"approvals", result.approvals},
                      {"threshold", result.threshold}};
  session.commit(std::move(entry));
  if (context.json()) {
    context.emit(Json{{"secret", full_name},
                      {"id", options.id},
                      {"requester", result.requester},
                      {"version", result.v},
                      {"approvals", result.approvals},
                      {"threshold", result.threshold},
                      {"granted", result.granted()},
                      {"expires_at", format_time(expires)}});
    return;
  }
  context.say(fmt::format("approved request {} by {} for {} v{} (\"{}\"): {} of {} approvals", options.id,
                          result.requester, full_name, result.v, why, result.approvals, result.threshold));
  if (result.granted()) {
    context.say(fmt::format("{} can now read {} until {}", result.requester, full_name, format_time(expires)));
  }
}

void run_deny(const ApproveOptions& options, Context& context)
{
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string full_name = env + "/" + short_name;
  if (options.why.empty()) {
    fail(ErrorKind::usage, "deny: a reason is required (--why \"...\")");
  }
  Session session = context.open(Mode::write);
  Vault& vault = session.vault();
  const SecretRecord& peek = vault.secret(full_name);
  (void)find_request(vault, peek, options.id);
  JournalEntry entry = entry_for(JournalAction::deny, full_name, env);
  entry.request = options.id;
  entry.why = options.why;
  const Request& request = journal_refusal(session, entry, [&]() -> const Request& {
    return deny_request(vault, full_name, options.id, session.identity(), options.why, session.now());
  });
  const std::string requester = request.by;
  entry.detail = Json{{"requester", requester}};
  session.commit(std::move(entry));
  context.emit_or_say(Json{{"secret", full_name}, {"id", options.id}, {"requester", requester}, {"denied", true}},
                      fmt::format("denied request {} by {} for {}", options.id, requester, full_name));
}

Json item_json(const GrantsItem& item)
{
  const Request& request = *item.request;
  Json json{{"secret", item.secret},
            {"id", request.id},
            {"by", request.by},
            {"why", request.why},
            {"state", request_state_name(item.status.state)},
            {"approvals", item.status.approvals},
            {"threshold", item.status.threshold},
            {"created_at", format_time(request.created_at)},
            {"expires_at", format_time(request.expires_at())},
            {"carried", item.status.carried}};
  if (request.used_at) {
    json["used_at"] = format_time(*request.used_at);
  }
  if (request.denial) {
    json["denied_by"] = request.denial->by;
    json["denial_why"] = request.denial->why;
  }
  return json;
}

void run_grants(Context& context)
{
  Session session = context.open(Mode::read);
  const std::string me = session.me().name;
  const Timestamp now = session.now();
  const GrantsOverview overview = grants_overview(session.vault(), me, now);
  if (context.json()) {
    const auto list = [](const std::vector<GrantsItem>& items) {
      Json out = Json::array();
      for (const auto& item : items) {
        out.push_back(item_json(item));
      }
      return out;
    };
    context.emit(Json{{"member", me},
                      {"now", format_time(now)},
                      {"pending", list(overview.pending)},
                      {"grants", list(overview.grants)},
                      {"closed", list(overview.closed)},
                      {"awaiting", list(overview.awaiting)}});
    return;
  }
  if (context.quiet()) {
    return;
  }
  auto& out = context.out();
  const auto until = [&](const Request& request) {
    return now < request.expires_at() ? format_time(request.expires_at()) + " (in "
                                          + describe_duration(request.expires_at() - now) + ")"
                                      : format_time(request.expires_at());
  };
  bool any = false;
  const auto section = [&](std::string_view title, const std::vector<std::string>& headers,
                           const std::vector<std::vector<std::string>>& rows) {
    if (rows.empty()) {
      return;
    }
    out << (any ? "\n" : "") << context.bold(util::escape_controls(title)) << '\n';
    print_table(out, context, headers, rows);
    any = true;
  };
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : overview.pending) {
    rows.push_back({item.request->id, item.secret,
                    fmt::format("{} of {}", item.status.approvals, item.status.threshold), until(*item.request),
                    item.request->why});
  }
  section("your pending requests", {"ID", "SECRET", "APPROVALS", "EXPIRES", "WHY"}, rows);
  rows.clear();
  for (const auto& item : overview.grants) {
    std::string state = item.status.state == RequestState::granted  ? "active"
                        : item.status.state == RequestState::denied ? "revoked by " + item.request->denial->by
                                                                    : "expired";
    if (item.status.carried && item.status.state == RequestState::granted) {
      state += " (carried across rotation)";
    }
    rows.push_back({item.request->id, item.secret, state, until(*item.request),
                    item.request->used_at ? format_time(*item.request->used_at) : "-"});
  }
  section("your grants", {"ID", "SECRET", "STATE", "UNTIL", "USED"}, rows);
  rows.clear();
  for (const auto& item : overview.closed) {
    std::string state = item.request->denial ? fmt::format("denied by {}: {}", item.request->denial->by,
                                                           item.request->denial->why)
                                             : "expired unapproved";
    rows.push_back({item.request->id, item.secret, state});
  }
  section("your closed requests", {"ID", "SECRET", "STATE"}, rows);
  rows.clear();
  for (const auto& item : overview.awaiting) {
    rows.push_back({item.request->id, item.secret, item.request->by,
                    fmt::format("{} of {}", item.status.approvals, item.status.threshold), until(*item.request),
                    item.request->why});
  }
  section("awaiting your approval (escrow approve SECRET ID / escrow deny SECRET ID --why ...)",
          {"ID", "SECRET", "BY", "APPROVALS", "EXPIRES", "WHY"}, rows);
  if (!any) {
    out << "no requests, no grants, nothing awaits your approval\n";
  }
}

Json policy_json(const PolicyRecord& policy)
{
  Json envs = Json::object();
  for (const auto& [env, rules] : policy.envs) {
    envs[env] = Json{{"min_threshold", rules.min_threshold},
                     {"max_ttl", format_duration(rules.max_ttl)},
                     {"require_why", rules.require_why},
                     {"every", rules.every > 0 ? format_duration(rules.every) : ""},
                     {"keep", rules.keep}};
  }
  return Json{{"envs", envs}, {"notify", policy.notify}, {"by", policy.by}};
}

void run_policy_show(Context& context)
{
  Session session = context.open(Mode::read);
  const PolicyRecord& policy = session.vault().policy();
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
  context.out() << "signed by: " << util::escape_controls(policy.by) << '\n';
}

void run_policy_set(const PolicySetOptions& options, Context& context)
{
  PolicyChange change;
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
  Session session = context.open(Mode::write);
  JournalEntry entry;
  entry.action = JournalAction::policy_set;
  if (!options.env.empty() && options.env != "*") {
    entry.env = options.env;
  }
  Json changed = Json::object();
  if (!options.env.empty()) {
    changed["env"] = options.env;
  }
  if (change.min_threshold) {
    changed["min_threshold"] = *change.min_threshold;
  }
  if (change.max_ttl) {
    changed["max_ttl"] = format_duration(*change.max_ttl);
  }
  if (change.require_why) {
    changed["require_why"] = *change.require_why;
  }
  if (change.every) {
    changed["every"] = *change.every > 0 ? format_duration(*change.every) : "";
  }
  if (change.keep) {
    changed["keep"] = *change.keep;
  }
  if (change.notify) {
    changed["notify"] = *change.notify;
  }
  entry.detail = changed;
  journal_refusal(session, entry, [&] {
    (void)change_policy(session.vault(), session.identity(), options.env, change);
    return 0;
  });
  session.commit(std::move(entry));
  const PolicyRecord& policy = session.vault().policy();
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

void setup_escrow(CLI::App& app, Context& context)
{
  auto request_options = std::make_shared<RequestOptions>();
  auto* request = app.add_subcommand("request", "ask the custodians for time-limited access; prints the request id");
  request->add_option("name", request_options->name, "ENV/NAME")->required();
  request->add_option("--ttl", request_options->ttl, "how long the grant lasts, e.g. 4h (capped by policy)")->required();
  request->add_option("--why", request_options->why, "the justification custodians see (required by default policy)");
  request->footer("Custodians approve with 'escrow approve ENV/NAME ID'. With k approvals, 'escrow get --reveal'\n"
                  "and 'escrow exec' work for you until the grant expires. Journaled.");
  request->callback([request_options, &context] { run_request(*request_options, context); });

  auto approve_options = std::make_shared<ApproveOptions>();
  auto* approve = app.add_subcommand("approve", "approve a request: re-seal your share to the requester (custodians)");
  approve->add_option("name", approve_options->name, "ENV/NAME")->required();
  approve->add_option("id", approve_options->id, "the request id")->required();
  approve->callback([approve_options, &context] { run_approve(*approve_options, context); });

  auto deny_options = std::make_shared<ApproveOptions>();
  auto* deny = app.add_subcommand("deny", "close a request with a reason (custodians, owner, admins, the requester)");
  deny->add_option("name", deny_options->name, "ENV/NAME")->required();
  deny->add_option("id", deny_options->id, "the request id")->required();
  deny->add_option("--why", deny_options->why, "the reason, shown to the requester and journaled")->required();
  deny->callback([deny_options, &context] { run_deny(*deny_options, context); });

  auto* grants = app.add_subcommand(
    "grants", "your pending requests, active and expired grants, and what awaits your approval");
  grants->callback([&context] { run_grants(context); });

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
