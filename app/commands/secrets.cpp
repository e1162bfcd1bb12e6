// escrow add | list | show | get | share | unshare
#include <commands/context.hpp>

#include <escrow/util/escape.hpp>
#include <escrow/error.hpp>
#include <escrow/generator.hpp>
#include <escrow/lookup.hpp>
#include <escrow/policy.hpp>
#include <escrow/rotation/rotation.hpp>
#include <escrow/util/terminal.hpp>
#include <escrow/versions.hpp>

#include <algorithm>
#include <unistd.h>

namespace escrow::cli {

namespace {

struct AddOptions
{
  std::string name;
  std::string owner;
  std::string purpose;
  std::vector<std::string> connectors;
  std::string custodians;
  std::int64_t threshold = 0;
  std::string every;
  std::string generate;
  std::string tier = "standard";
  bool after_access = false;
};

struct ListOptions
{
  std::string env;
};

struct GetOptions
{
  std::string name;
  bool reveal = false;
  std::int64_t version = 0;
};

struct ShareOptions
{
  std::string name;
  std::string with;
};

std::vector<std::string> split_list(const std::string& text)
{
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (end > start) {
      out.push_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return out;
}

SecretBytes read_value()
{
  if (util::is_terminal(0)) {
    auto first = util::read_hidden_line("Value (hidden): ");
    auto second = util::read_hidden_line("Repeat value: ");
    if (!first || !second || !first->equals(*second)) {
      fail(ErrorKind::usage, "add: the values do not match");
    }
    return std::move(*first);
  }
  return util::read_stdin_secret(k_max_value_size);
}

// The status a person needs at a glance: retired, due (and why), or fine (lib/escrow/rotation).
std::string rotation_status(const SecretRecord& secret, const PolicyRecord& policy, Timestamp now)
{
  return rotation::status(secret, policy, now);
}

Json secret_summary(const SecretRecord& secret, const PolicyRecord& policy, Timestamp now)
{
  const VersionRecord* current = secret.current();
  return Json{{"name", secret.full_name()},
              {"env", secret.env},
              {"owner", secret.owner},
              {"purpose", secret.purpose},
              {"tier", secret.tier},
              {"connectors", secret.connectors},
              {"custodians", secret.custodians},
              {"threshold", secret.threshold},
              {"every", secret.every > 0 ? format_duration(secret.every) : ""},
              {"after_access", secret.after_access},
              {"state", secret.state},
              {"current_version", current != nullptr ? Json(current->v) : Json(nullptr)},
              {"rotated_at", current != nullptr ? Json(format_time(current->created_at)) : Json(nullptr)},
              {"status", rotation_status(secret, policy, now)}};
}

void run_add(const AddOptions& options, Context& context)
{
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string full_name = env + "/" + short_name;
  if (options.purpose.empty()) {
    fail(ErrorKind::usage, "add: --purpose is required (what is this credential for?)");
  }
  // Metadata is shown to the whole team: text only, no terminal control characters.
  for (const auto& [option, text] : {std::pair{"--purpose", &options.purpose}, std::pair{"--tier", &options.tier},
                                     std::pair{"--owner", &options.owner}}) {
    if (!canonical::valid_utf8(*text)
        || std::any_of(text->begin(), text->end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      fail(ErrorKind::usage, "add: {} must be UTF-8 text without control characters", option);
    }
  }
  std::int64_t every = 0;
  if (!options.every.empty()) {
    every = parse_duration_option(options.every, "add: --every");
  }
  std::optional<GeneratorSpec> generator;
  if (!options.generate.empty()) {
    generator = parse_generator(options.generate);
    if (!generator->command.empty()) {
      fail(ErrorKind::usage, "add: --generate cmd=... is for rotation; give the first value on stdin");
    }
  }
  const std::vector<std::string> custodians = split_list(options.custodians);
  if (custodians.empty() && options.threshold != 0) {
    fail(ErrorKind::usage, "add: --threshold needs --custodians");
  }
  if (!custodians.empty()
      && (options.threshold < 1 || options.threshold > static_cast<std::int64_t>(custodians.size()))) {
    fail(ErrorKind::usage, "add: --threshold must be between 1 and the number of custodians ({})", custodians.size());
  }
  {
    auto sorted = custodians;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      fail(ErrorKind::usage, "add: a custodian is listed twice");
    }
  }
  // The value is read before the lock is taken: a person typing it must not block the team.
  SecretBytes value = generator ? generate_random(*generator) : read_value();
  if (value.empty()) {
    fail(ErrorKind::usage, "add: the value is empty");
  }

  Session session = context.open(Mode::write);
  Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  policy::require_can_add(me, env);
  if (vault.has_secret(full_name)) {
    throw Error(ErrorKind::usage, fmt::format("{}: {} already exists", session.vault_path().string(), full_name))
      .hint("to change its value, rotate it: escrow rotate " + full_name);
  }
  const std::string owner = options.owner.empty() ? me.name : options.owner;
  const MemberRecord* owner_record = vault.member(owner);
  if (owner_record == nullptr || !owner_record->active()) {
    throw with_hint(Error(ErrorKind::usage, fmt::format("add: owner {} is not an active member", owner)),
                    member_hint(vault, owner));
  }
  policy::require_env(*owner_record, env, "add (owner)");
  for (const auto& custodian : custodians) {
    const MemberRecord* record = vault.member(custodian);
    if (record == nullptr || !record->active()) {
      throw with_hint(Error(ErrorKind::usage, fmt::format("add: custodian {} is not an active member", custodian)),
                      member_hint(vault, custodian));
    }
    if (!record->has_role(Role::approver) || record->has_role(Role::rotator)) {
      fail(ErrorKind::usage, "add: custodian {} needs the approver role (and not the rotator role)", custodian);
    }
    policy::require_env(*record, env, "add (custodian)");
  }
  const EnvPolicy& rules = vault.policy().for_env(env);
  if (!custodians.empty() && options.threshold < rules.min_threshold) {
    fail(ErrorKind::usage, "add: the {} policy requires a threshold of at least {}", env, rules.min_threshold);
  }
  for (const auto& name : options.connectors) {
    const ConnectorRecord* connector = vault.connector(name);
    if (connector == nullptr) {
      throw with_hint(Error(ErrorKind::usage, fmt::format("add: no connector named {} (escrow connector add ...)", name)),
                      connector_hint(vault, name));
    }
    if (connector->env != env) {
      fail(ErrorKind::usage, "add: connector {} belongs to {}, not {} (environments never mix)", name,
           connector->env, env);
    }
  }

  SecretRecord secret;
  secret.env = env;
  secret.name = short_name;
  secret.owner = owner;
  secret.purpose = options.purpose;
  secret.tier = options.tier;
  secret.connectors = options.connectors;
  std::sort(secret.connectors.begin(), secret.connectors.end());
  secret.connectors.erase(std::unique(secret.connectors.begin(), secret.connectors.end()), secret.connectors.end());
  secret.every = every > 0 ? every : rules.every;
  secret.generator = generator ? describe(*generator) : "";
  secret.after_access = options.after_access;
  secret.custodians = custodians;
  secret.threshold = custodians.empty() ? 0 : options.threshold;
  secret.created_at = session.now();

  VersionPlan plan;
  plan.v = 1;
  plan.why = "added";
  plan.readers = policy::standing_readers(vault, secret);
  plan.readers.insert(me.name); // whoever added it has seen it
  VersionRecord version = seal_version(vault, secret, value, plan, session.now(), me.name);
  vault.sign(secret, version, session.identity());
  secret.versions.push_back(std::move(version));
  vault.sign_meta(secret, session.identity());
  vault.put_secret(std::move(secret));

  JournalEntry entry;
  entry.action = JournalAction::add;
  entry.secret = full_name;
  entry.env = env;
  entry.version = 1;
  entry.detail = Json{{"owner", owner}};
  session.commit(std::move(entry));
  if (context.json()) {
    context.emit(secret_summary(session.vault().secret(full_name), session.vault().policy(), session.now()));
    return;
  }
  context.say(fmt::format("added {} v1 (owner {}{})", full_name, owner,
                          custodians.empty() ? "" : fmt::format(", {} of {} custodians", options.threshold, custodians.size())));
}

void run_list(const ListOptions& options, Context& context)
{
  if (!options.env.empty() && !valid_env_name(options.env)) {
    fail(ErrorKind::usage, "list: invalid environment name");
  }
  Session session = context.open(Mode::read);
  const Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  if (!options.env.empty()) {
    require_known_environment(vault, options.env, "list --env");
  }
  Json items = Json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& name : vault.secret_names()) {
    const std::string env = name.substr(0, name.find('/'));
    if ((!options.env.empty() && env != options.env) || !me.reaches(env)) {
      continue;
    }
    const SecretRecord& secret = vault.secret(name);
    if (context.json()) {
      items.push_back(secret_summary(secret, vault.policy(), session.now()));
      continue;
    }
    const VersionRecord* current = secret.current();
    std::string connectors;
    for (const auto& c : secret.connectors) {
      connectors += connectors.empty() ? c : "," + c;
    }
    rows.push_back({name, secret.owner, secret.purpose, connectors.empty() ? "-" : connectors,
                    current != nullptr ? "v" + std::to_string(current->v) : "-",
                    secret.custodians.empty() ? "-" : fmt::format("{}/{}", secret.threshold, secret.custodians.size()),
                    rotation_status(secret, vault.policy(), session.now())});
  }
  if (context.json()) {
    context.emit(Json{{"secrets", items}});
    return;
  }
  if (!context.quiet()) {
    print_table(context.out(), context, {"NAME", "OWNER", "PURPOSE", "CONNECTORS", "VERSION", "K/N", "ROTATION"}, rows);
  }
}

void run_show(const GetOptions& options, Context& context)
{
  const auto [env, short_name] = split_secret_name(options.name);
  Session session = context.open(Mode::read);
  const std::string full_name = env + "/" + short_name;
  policy::require_env(session.me(), env, "show");
  const SecretRecord& secret = session.vault().secret(full_name);
  Json summary = secret_summary(secret, session.vault().policy(), session.now());
  Json versions = Json::array();
  for (const auto& version : secret.versions) {
    std::vector<std::string> readers;
    for (const auto& [member, key] : version.wrapped) {
      readers.push_back(member);
    }
    versions.push_back(Json{{"v", version.v},
                            {"state", version.state},
                            {"created_at", format_time(version.created_at)},
                            {"created_by", version.created_by},
                            {"why", version.why},
                            {"readers", readers},
                            {"grants", version.granted.size()},
                            {"custodian_shares", version.shares.size()}});
  }
  summary["versions"] = versions;
  summary["shared_with"] = secret.shared_with;
  summary["created_at"] = format_time(secret.created_at);
  summary["generator"] = secret.generator;
  Json requests = Json::array();
  for (const auto& request : secret.requests) {
    std::string state = request.denial ? "denied" : session.now() >= request.expires_at() ? "expired" : "open";
    requests.push_back(Json{{"id", request.id},
                            {"by", request.by},
                            {"why", request.why},
                            {"state", state},
                            {"approvals", request.approvals.size()},
                            {"expires_at", format_time(request.expires_at())}});
  }
  summary["requests"] = requests;
  if (context.json()) {
    context.emit(summary);
    return;
  }
  auto& out = context.out();
  if (context.quiet()) {
    return;
  }
  out << context.bold(util::escape_controls(full_name)) << '\n';
  const auto field = [&](std::string_view label, const std::string& value) {
    out << fmt::format("  {:<12} {}\n", label, util::escape_controls(value));
  };
  field("purpose", secret.purpose);
  field("owner", secret.owner);
  field("environment", secret.env);
  field("tier", secret.tier);
  std::string connectors;
  for (const auto& c : secret.connectors) {
    connectors += connectors.empty() ? c : ", " + c;
  }
  field("connectors", connectors.empty() ? "-" : connectors);
  std::string custodians;
  for (const auto& c : secret.custodians) {
    custodians += custodians.empty() ? c : ", " + c;
  }
  field("custodians", secret.custodians.empty() ? "- (no escrow: shared by the owner only)"
                                                : fmt::format("{} of {}: {}", secret.threshold, secret.custodians.size(), custodians));
  field("rotation", (secret.every > 0 ? "every " + format_duration(secret.every) + ", " : std::string())
                      + rotation_status(secret, session.vault().policy(), session.now()) + (secret.after_access ? " (rotates after access)" : ""));
  if (!secret.generator.empty()) {
    field("generator", secret.generator);
  }
  out << "  versions:\n";
  std::vector<std::vector<std::string>> rows;
  for (auto it = secret.versions.rbegin(); it != secret.versions.rend(); ++it) {
    rows.push_back({"v" + std::to_string(it->v), std::string(version_state_name(it->state)), format_time(it->created_at), it->created_by, it->why});
  }
  std::ostringstream table;
  print_table(table, context, {"VERSION", "STATE", "CREATED", "BY", "WHY"}, rows);
  std::istringstream lines(table.str());
  for (std::string line; std::getline(lines, line);) {
    out << "    " << line << '\n';
  }
  if (!secret.requests.empty()) {
    out << "  requests:\n";
    for (const auto& request : requests) {
      out << util::escape_controls(fmt::format("    {} by {} ({}, {} approval(s), expires {}): {}",
                                               request["id"].get<std::string>(), request["by"].get<std::string>(),
                                               request["state"].get<std::string>(),
                                               request["approvals"].get<std::size_t>(),
                                               request["expires_at"].get<std::string>(),
                                               request["why"].get<std::string>()))
          << '\n';
    }
  }
}

void write_value(Context& context, const SecretBytes& value)
{
  context.out().write(value.expose_view().data(), static_cast<std::streamsize>(value.size()));
  context.out().flush();
}

void run_get(const GetOptions& options, Context& context)
{
  if (!options.reveal) {
    throw Error(ErrorKind::usage, "get: refusing to print a secret value without --reveal")
      .hint("to use a value without seeing it: escrow exec --set VAR=" + options.name + " -- COMMAND");
  }
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string full_name = env + "/" + short_name;
  Session session = context.open(Mode::read);
  const MemberRecord& me = session.me();
  const Vault& vault = session.vault();
  const SecretRecord& secret = vault.secret(full_name);
  JournalEntry entry;
  entry.action = JournalAction::reveal;
  entry.secret = full_name;
  entry.env = env;
  const auto deny = [&](const Error& error) {
    entry.result = JournalResult::denied;
    entry.detail = Json{{"reason", error.what()}};
    session.record(entry);
    throw error;
  };
  const VersionRecord* version = options.version > 0 ? secret.find_version(options.version) : secret.current();
  if (version == nullptr) {
    fail(ErrorKind::usage, "get: {} has no {}", full_name,
         options.version > 0 ? "version " + std::to_string(options.version) : std::string("current version"));
  }
  entry.version = version->v;
  try {
    policy::require_env(me, env, "get");
    if (me.roles == std::set<Role>{Role::auditor}) {
      fail(ErrorKind::access, "get: {} is an auditor and may not read values", me.name);
    }
    if (secret.state == SecretState::retired) {
      fail(ErrorKind::access, "get: {} is retired and is never served", full_name);
    }
  } catch (const Error& error) {
    deny(error);
  }
  OpenedKey key;
  try {
    key = open_data_key(vault, secret, *version, session.identity(), session.now());
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::access) {
      deny(error);
    }
    throw;
  }
  SecretBytes value = decrypt_version(vault, secret, *version, key.data_key);
  entry.request = key.request;
  entry.detail = Json{{"via", access_path_name(key.path)}};
  if (key.path != AccessPath::wrapped && secret.after_access && !key.request.empty()) {
    // Mark the grant as used (signed by the requester), which makes the secret due.
    Session writer = context.open(Mode::write);
    SecretRecord& mutable_secret = writer.vault().secret_mut(full_name);
    for (auto& request : mutable_secret.requests) {
      if (request.id == key.request && request.by == me.name && !request.used_at) {
        request.used_at = writer.now();
        writer.vault().sign(mutable_secret, request, writer.identity());
        writer.commit(entry);
        write_value(context, value);
        return;
      }
    }
  }
  session.record(entry);
  if (context.json()) {
    Json document{{"secret", full_name}, {"version", version->v}};
    if (canonical::valid_utf8(value.expose_view())) {
      document["value"] = std::string(value.expose_view());
    } else {
      document["value_base64"] = canonical::b64(value.expose());
    }
    context.emit(document);
    return;
  }
  write_value(context, value);
}

void run_share(const ShareOptions& options, Context& context, bool share)
{
  const auto [env, short_name] = split_secret_name(options.name);
  const std::string full_name = env + "/" + short_name;
  const std::string action = share ? "share" : "unshare";
  Session session = context.open(Mode::write);
  Vault& vault = session.vault();
  const MemberRecord& me = session.me();
  const SecretRecord& peek = vault.secret(full_name);
  policy::require_env(me, env, action);
  if (peek.owner != me.name) {
    fail(ErrorKind::access, "{}: only the owner of {} ({}) may {} it", action, full_name, peek.owner, action);
  }
  const MemberRecord* target = vault.member(options.with);
  if (target == nullptr || !target->active()) {
    throw with_hint(Error(ErrorKind::usage, fmt::format("{}: {} is not an active member", action, options.with)),
                    member_hint(vault, options.with));
  }
  const bool listed = std::find(peek.shared_with.begin(), peek.shared_with.end(), options.with) != peek.shared_with.end();
  JournalEntry entry;
  entry.action = share ? JournalAction::share : JournalAction::unshare;
  entry.secret = full_name;
  entry.env = env;
  entry.detail = Json{{"member", options.with}};
  if (share) {
    policy::require_env(*target, env, "share (recipient)");
    if (listed) {
      fail(ErrorKind::usage, "share: {} is already shared with {}", full_name, options.with);
    }
    SecretRecord& secret = vault.secret_mut(full_name);
    secret.shared_with.push_back(options.with);
    std::sort(secret.shared_with.begin(), secret.shared_with.end());
    for (auto& version : secret.versions) {
      if (version.state != VersionState::current && version.state != VersionState::pending && version.state != VersionState::previous) {
        continue;
      }
      const OpenedKey key = open_data_key(vault, secret, version, session.identity(), session.now());
      wrap_for(vault, version, options.with, key.data_key);
      vault.sign(secret, version, session.identity());
    }
    vault.sign_meta(secret, session.identity());
  } else {
    if (!listed) {
      fail(ErrorKind::usage, "unshare: {} is not shared with {}", full_name, options.with);
    }
    SecretRecord& secret = vault.secret_mut(full_name);
    secret.shared_with.erase(std::remove(secret.shared_with.begin(), secret.shared_with.end(), options.with),
                             secret.shared_with.end());
    for (auto& version : secret.versions) {
      if (version.wrapped.erase(options.with) > 0) {
        vault.sign(secret, version, session.identity());
      }
    }
    // They may have kept what they saw: only a new value ends their access.
    if (secret.state == SecretState::active) {
      secret.due = fmt::format("unshared from {}", options.with);
      secret.due_since = session.now();
    }
    vault.sign_meta(secret, session.identity());
  }
  session.commit(std::move(entry));
  if (context.json()) {
    context.emit(Json{{"secret", full_name}, {"member", options.with}, {"shared", share}});
    return;
  }
  if (share) {
    context.say(fmt::format("shared {} with {}", full_name, options.with));
  } else {
    context.say(fmt::format("unshared {} from {}; it is now due for rotation (escrow rotate {})", full_name,
                            options.with, full_name));
  }
}

} // namespace

void setup_secrets(CLI::App& app, Context& context)
{
  auto add_options = std::make_shared<AddOptions>();
  auto* add = app.add_subcommand("add", "add a secret; the value comes from stdin (never argv) or --generate");
  add->add_option("name", add_options->name, "ENV/NAME, e.g. prod/stripe-key")->required();
  add->add_option("--owner", add_options->owner, "the member accountable for it (default: you)");
  add->add_option("--purpose", add_options->purpose, "what it is for")->required();
  add->add_option("--connector", add_options->connectors, "a connector that uses it (repeatable)");
  add->add_option("--custodians", add_options->custodians, "members who approve access, comma-separated");
  add->add_option("--threshold", add_options->threshold, "approvals needed (k of the n custodians)");
  add->add_option("--every", add_options->every, "rotation cadence, e.g. 30d");
  add->add_option("--generate", add_options->generate, "generate the value: len=N,alphabet=base62|base64url|hex|ascii");
  add->add_option("--tier", add_options->tier, "a label for policy and reports (default: standard)");
  add->add_flag("--after-access", add_options->after_access, "rotate as soon as a grant to it is used");
  add->callback([add_options, &context] { run_add(*add_options, context); });

  auto list_options = std::make_shared<ListOptions>();
  auto* list = app.add_subcommand("list", "the inventory: names, owners, purposes, connectors, rotation (never values)");
  list->add_option("--env", list_options->env, "only this environment");
  list->callback([list_options, &context] { run_list(*list_options, context); });

  auto show_options = std::make_shared<GetOptions>();
  auto* show = app.add_subcommand("show", "one secret's metadata, versions and requests (never the value)");
  show->add_option("name", show_options->name, "ENV/NAME")->required();
  show->callback([show_options, &context] { run_show(*show_options, context); });

  auto get_options = std::make_shared<GetOptions>();
  auto* get = app.add_subcommand("get", "print a value's exact bytes to stdout (needs --reveal; journaled)");
  get->add_option("name", get_options->name, "ENV/NAME")->required();
  get->add_flag("--reveal", get_options->reveal, "yes, print the value");
  get->add_option("--version", get_options->version, "a version other than the current one");
  get->callback([get_options, &context] { run_get(*get_options, context); });

  auto share_options = std::make_shared<ShareOptions>();
  auto* share = app.add_subcommand("share", "give a member standing access (owner only; journaled)");
  share->add_option("name", share_options->name, "ENV/NAME")->required();
  share->add_option("--with", share_options->with, "member")->required();
  share->callback([share_options, &context] { run_share(*share_options, context, true); });

  auto unshare_options = std::make_shared<ShareOptions>();
  auto* unshare = app.add_subcommand("unshare", "end a member's standing access; the secret becomes due for rotation");
  unshare->add_option("name", unshare_options->name, "ENV/NAME")->required();
  unshare->add_option("--with", unshare_options->with, "member")->required();
  unshare->callback([unshare_options, &context] { run_share(*unshare_options, context, false); });
}

} // namespace escrow::cli
