#include <escrow/history/op.hpp>

#include <escrow/records.hpp>
#include <escrow/generator.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/json_read.hpp>
#include <escrow/identity.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace escrow::history {

namespace jr = json_read;

namespace {

struct KindName
{
  OpKind kind;
  std::string_view name;
};
constexpr std::array k_kind_names{
  KindName{OpKind::approve, "approve"},
  KindName{OpKind::compromise, "compromise"},
  KindName{OpKind::confirm, "confirm"},
  KindName{OpKind::connector_add, "connector-add"},
  KindName{OpKind::connector_remove, "connector-remove"},
  KindName{OpKind::custodians_set, "custodians-set"},
  KindName{OpKind::deny, "deny"},
  KindName{OpKind::grant_used, "grant-used"},
  KindName{OpKind::init, "init"},
  KindName{OpKind::journal_loss, "journal-loss"},
  KindName{OpKind::member_add, "member-add"},
  KindName{OpKind::member_remove, "member-remove"},
  KindName{OpKind::member_set, "member-set"},
  KindName{OpKind::policy_set, "policy-set"},
  KindName{OpKind::request, "request"},
  KindName{OpKind::resolve, "resolve"},
  KindName{OpKind::retire, "retire"},
  KindName{OpKind::rotate_fail, "rotate-fail"},
  KindName{OpKind::rotate_finish, "rotate-finish"},
  KindName{OpKind::rotate_start, "rotate-start"},
  KindName{OpKind::secret_add, "secret-add"},
  KindName{OpKind::secret_set, "secret-set"},
  KindName{OpKind::share, "share"},
  KindName{OpKind::unshare, "unshare"},
};

std::string b64(const Hash& hash)
{
  return canonical::b64(ByteView(hash.data(), hash.size()));
}
template<std::size_t N>
std::string b64(const std::array<std::uint8_t, N>& bytes)
{
  return canonical::b64(ByteView(bytes.data(), bytes.size()));
}

Json roles_json(const std::set<Role>& roles)
{
  Json out = Json::array();
  for (const Role role : roles) {
    out.push_back(std::string(role_name(role)));
  }
  return out;
}

Json strings_json(const std::set<std::string>& names)
{
  Json out = Json::array();
  for (const std::string& name : names) {
    out.push_back(name);
  }
  return out;
}

Json strings_json(const std::vector<std::string>& names)
{
  Json out = Json::array();
  for (const std::string& name : names) {
    out.push_back(name);
  }
  return out;
}

Json hashes_json(const std::set<Hash>& hashes)
{
  Json out = Json::array();
  for (const Hash& hash : hashes) {
    out.push_back(b64(hash));
  }
  return out;
}

Json env_policy_json(const EnvPolicy& p)
{
  return Json{{"every", p.every},
              {"keep", p.keep},
              {"max_ttl", p.max_ttl},
              {"min_threshold", p.min_threshold},
              {"require_why", p.require_why}};
}

// ---- readers ----

std::set<Role> read_roles(const Json& json, const std::string& where)
{
  std::set<Role> out;
  for (const std::string& name : jr::string_set(json, where, 16)) {
    const std::optional<Role> role = parse_role(name);
    if (!role) {
      fail(ErrorKind::integrity, "{}: unknown role", where);
    }
    out.insert(*role);
  }
  // Role is declared in name order, so a sorted list of names is a sorted list of roles.
  return out;
}

std::set<Hash> read_hash_set(const Json& json, const std::string& where)
{
  std::set<Hash> out;
  const Hash* previous = nullptr;
  for (const Json& item : jr::array(json, where, k_max_items)) {
    const Hash hash = jr::fixed_b64<32>(item, where);
    // The set's one spelling: sorted by the raw bytes of the hashes.
    if (previous != nullptr && !(*previous < hash)) {
      fail(ErrorKind::integrity, "{}: not sorted, or a repeated item", where);
    }
    previous = &*out.insert(hash).first;
  }
  return out;
}

std::vector<std::string> read_ordered_names(const Json& json, const std::string& where)
{
  std::vector<std::string> out;
  for (const Json& item : jr::array(json, where, 256)) {
    out.push_back(jr::string(item, where));
  }
  return out;
}

EnvPolicy read_env_policy(const Json& json, const std::string& where)
{
  jr::Fields f(json, where);
  EnvPolicy p;
  p.every = jr::integer(f.need("every"), f.at("every"), 0, k_max_duration);
  p.keep = jr::integer(f.need("keep"), f.at("keep"), 0, k_max_keep);
  p.max_ttl = jr::integer(f.need("max_ttl"), f.at("max_ttl"), 1, k_max_duration);
  p.min_threshold = jr::integer(f.need("min_threshold"), f.at("min_threshold"), 1, k_max_custodians);
  p.require_why = jr::boolean(f.need("require_why"), f.at("require_why"));
  f.finish();
  return p;
}

// ---- structural checks ----

struct Checker
{
  ErrorKind kind;
  std::string_view what;

  template<typename... A>
  [[noreturn]] void bad(fmt::format_string<A...> format, A&&... args) const
  {
    throw Error(kind, fmt::format("{}: malformed operation: {}", what,
                                  fmt::format(format, std::forward<A>(args)...)));
  }
  void name(std::string_view value, std::string_view field) const
  {
    if (!valid_member_name(value)) {
      bad("{}: not a valid name (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)", field);
    }
  }
  void names(const std::set<std::string>& values, std::string_view field, std::size_t max) const
  {
    if (values.size() > max) {
      bad("{}: more than {} names", field, max);
    }
    for (const std::string& value : values) {
      name(value, field);
    }
  }
  void secret(std::string_view value, std::string_view field) const
  {
    if (!valid_secret_name(value)) {
      bad("{}: not a secret name ENV/NAME", field);
    }
  }
  void env(std::string_view value, std::string_view field) const
  {
    if (!valid_env_or_star(value)) {
      bad("{}: not an environment (1-32 of a-z 0-9 _ -, or *)", field);
    }
  }
  void envs(const std::set<std::string>& values, std::string_view field) const
  {
    if (values.empty()) {
      bad("{}: empty", field);
    }
    if (values.size() > 256) {
      bad("{}: more than 256 environments", field);
    }
    for (const std::string& value : values) {
      env(value, field);
    }
  }
  void vid(std::string_view value, std::string_view field) const
  {
    if (!valid_vid(value)) {
      bad("{}: not a version id (16 lower-case hex characters)", field);
    }
  }
  void request(std::string_view value, std::string_view field) const
  {
    if (!valid_request_id(value)) {
      bad("{}: not a request id (1-32 of a-z 0-9)", field);
    }
  }
  void text(std::string_view value, std::string_view field, std::size_t max, bool allow_empty = true) const
  {
    if (value.size() > max) {
      bad("{}: longer than {} bytes", field, max);
    }
    if (!allow_empty && value.empty()) {
      bad("{}: empty", field);
    }
    if (!canonical::valid_utf8(value)) {
      bad("{}: not UTF-8", field);
    }
    if (std::any_of(value.begin(), value.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        })) {
      bad("{}: contains a control character", field);
    }
  }
  void command(std::string_view value, std::string_view field) const
  {
    if (value.size() > k_max_command) {
      bad("{}: longer than {} bytes", field, k_max_command);
    }
    if (!canonical::valid_utf8(value) || value.find('\0') != std::string_view::npos) {
      bad("{}: not UTF-8 text", field);
    }
  }
  void range(std::int64_t value, std::string_view field, std::int64_t min, std::int64_t max) const
  {
    if (value < min || value > max) {
      bad("{}: out of range ({}..{})", field, min, max);
    }
  }
  void generator(std::string_view value, std::string_view field) const
  {
    command(value, field);
    if (value.empty()) {
      return;
    }
    try {
      (void)parse_generator(value);
    } catch (const Error&) {
      bad("{}: not a generator (len=N,alphabet=A or cmd=COMMAND)", field);
    }
  }
  void connectors(const std::vector<std::string>& values, std::string_view field) const
  {
    if (values.size() > 64) {
      bad("{}: more than 64 connectors", field);
    }
    std::set<std::string_view> seen;
    for (const std::string& value : values) {
      name(value, field);
      if (!seen.insert(value).second) {
        bad("{}: a connector is listed twice", field);
      }
    }
  }
  void custodians(const std::set<std::string>& values, std::int64_t threshold) const
  {
    names(values, "custodians", k_max_custodians);
    if (values.empty() ? threshold != 0
                       : (threshold < 1 || threshold > static_cast<std::int64_t>(values.size()))) {
      bad("threshold: must be 0 without custodians, else 1..the number of custodians");
    }
  }
  void env_policy(const EnvPolicy& p, std::string_view field) const
  {
    range(p.every, field, 0, k_max_duration);
    range(p.keep, field, 0, k_max_keep);
    range(p.max_ttl, field, 1, k_max_duration);
    range(p.min_threshold, field, 1, static_cast<std::int64_t>(k_max_custodians));
  }
  template<typename Item, typename Key>
  void sorted_items(const std::vector<Item>& items, Key key, std::string_view field, std::size_t min) const
  {
    if (items.size() < min || items.size() > k_max_items) {
      bad("{}: {}..{} items", field, min, k_max_items);
    }
    for (std::size_t i = 1; i < items.size(); ++i) {
      if (!(key(items[i - 1]) < key(items[i]))) {
        bad("{}: not sorted, or a repeated item", field);
      }
    }
  }
};

} // namespace

const std::vector<OpKind>& op_kinds()
{
  static const std::vector<OpKind> all = [] {
    std::vector<OpKind> out;
    for (const KindName& k : k_kind_names) {
      out.push_back(k.kind);
    }
    return out;
  }();
  return all;
}

std::string_view op_kind_name(OpKind kind)
{
  return k_kind_names.at(static_cast<std::size_t>(kind)).name;
}

std::optional<OpKind> parse_op_kind(std::string_view name)
{
  for (const KindName& k : k_kind_names) {
    if (k.name == name) {
      return k.kind;
    }
  }
  return std::nullopt;
}

std::string_view fail_result_name(FailResult result)
{
  switch (result) {
  case FailResult::cancelled: return "cancelled";
  case FailResult::rollback_incomplete: return "rollback-incomplete";
  case FailResult::rolled_back: return "rolled-back";
  case FailResult::rolling_back: return "rolling-back";
  }
  return "cancelled";
}

std::optional<FailResult> parse_fail_result(std::string_view name)
{
  for (const FailResult r : {FailResult::cancelled, FailResult::rollback_incomplete,
                             FailResult::rolled_back, FailResult::rolling_back}) {
    if (fail_result_name(r) == name) {
      return r;
    }
  }
  return std::nullopt;
}

std::string_view rotation_kind_name(RotationKind kind)
{
  return kind == RotationKind::rollback ? "rollback" : "rotate";
}

std::optional<RotationKind> parse_rotation_kind(std::string_view name)
{
  if (name == "rollback") {
    return RotationKind::rollback;
  }
  if (name == "rotate") {
    return RotationKind::rotate;
  }
  return std::nullopt;
}

OpKind kind_of(const Args& args)
{
  return static_cast<OpKind>(args.index());
}

// ---- names ----

bool valid_vid(std::string_view vid)
{
  return vid.size() == 16 && std::all_of(vid.begin(), vid.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool valid_secret_name(std::string_view secret)
{
  try {
    (void)split_secret_name(secret);
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool valid_env_or_star(std::string_view env)
{
  return env == "*" || valid_env_name(env);
}

bool valid_tier(std::string_view tier)
{
  return valid_env_name(tier);
}

std::string_view env_of(std::string_view secret)
{
  return secret.substr(0, secret.find('/'));
}

// ---- key lines and paths ----

std::string logical_name(const KeyLine& line)
{
  switch (line.kind) {
  case KeyLineKind::reader: return fmt::format("{}:g{}:rk:{}", line.secret, line.gen, line.member);
  case KeyLineKind::value: return fmt::format("{}:{}:v", line.secret, line.vid);
  case KeyLineKind::share: return fmt::format("{}:{}:sh:{}", line.secret, line.vid, line.member);
  case KeyLineKind::grant: return fmt::format("{}:{}:gr:{}", line.secret, line.vid, line.member);
  case KeyLineKind::approval:
    return fmt::format("{}:{}:ap:{}:{}", line.secret, line.vid, line.request, line.member);
  }
  return {};
}

std::string line_key(const KeyLine& line, const Hash& k)
{
  return logical_name(line) + "#" + canonical::hex(ByteView(k.data(), 12));
}

namespace {

std::vector<std::string_view> split(std::string_view text, char separator)
{
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) {
      return out;
    }
    start = end + 1;
  }
}

std::optional<std::int64_t> decimal(std::string_view text)
{
  // 1..k_max_generation, no leading zero, no sign.
  if (text.empty() || text.size() > 10 || text[0] == '0') {
    return std::nullopt;
  }
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 1 || value > k_max_generation) {
    return std::nullopt;
  }
  return value;
}

} // namespace

std::optional<KeyLine> parse_line_key(std::string_view text, std::string* h24)
{
  const std::size_t hash_at = text.rfind('#');
  if (hash_at == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view prefix = text.substr(hash_at + 1);
  if (prefix.size() != 24 || !std::all_of(prefix.begin(), prefix.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return std::nullopt;
  }
  const std::vector<std::string_view> parts = split(text.substr(0, hash_at), ':');
  if (parts.size() < 3 || !valid_secret_name(parts[0])) {
    return std::nullopt;
  }
  KeyLine line;
  line.secret = std::string(parts[0]);
  if (parts.size() == 4 && parts[1].size() >= 2 && parts[1][0] == 'g' && parts[2] == "rk") {
    const std::optional<std::int64_t> gen = decimal(parts[1].substr(1));
    if (!gen || !valid_member_name(parts[3])) {
      return std::nullopt;
    }
    line.kind = KeyLineKind::reader;
    line.gen = *gen;
    line.member = std::string(parts[3]);
  } else {
    if (!valid_vid(parts[1])) {
      return std::nullopt;
    }
    line.vid = std::string(parts[1]);
    if (parts.size() == 3 && parts[2] == "v") {
      line.kind = KeyLineKind::value;
    } else if (parts.size() == 4 && (parts[2] == "sh" || parts[2] == "gr") && valid_member_name(parts[3])) {
      line.kind = parts[2] == "sh" ? KeyLineKind::share : KeyLineKind::grant;
      line.member = std::string(parts[3]);
    } else if (parts.size() == 5 && parts[2] == "ap" && valid_request_id(parts[3]) && valid_member_name(parts[4])) {
      line.kind = KeyLineKind::approval;
      line.request = std::string(parts[3]);
      line.member = std::string(parts[4]);
    } else {
      return std::nullopt;
    }
  }
  // One spelling: the parsed line must print back to the same text.
  if (logical_name(line) != text.substr(0, hash_at)) {
    return std::nullopt;
  }
  if (h24 != nullptr) {
    *h24 = std::string(prefix);
  }
  return line;
}

std::string member_record_path(std::string_view name)
{
  return fmt::format("m:{}", name);
}
std::string connector_record_path(std::string_view name)
{
  return fmt::format("c:{}", name);
}
std::string secret_record_path(std::string_view secret)
{
  return fmt::format("s:{}", secret);
}
std::string key_path(const KeyLine& line, const Hash& k)
{
  return "k:" + line_key(line, k);
}

std::optional<ParsedPath> parse_path(std::string_view path)
{
  ParsedPath out;
  if (path == k_policy_path) {
    out.kind = PathKind::policy;
    return out;
  }
  if (path.size() < 3 || path[1] != ':') {
    return std::nullopt;
  }
  const std::string_view rest = path.substr(2);
  switch (path[0]) {
  case 'm':
    if (!valid_member_name(rest)) {
      return std::nullopt;
    }
    out.kind = PathKind::member;
    out.name = std::string(rest);
    return out;
  case 'c':
    if (!valid_member_name(rest)) {
      return std::nullopt;
    }
    out.kind = PathKind::connector;
    out.name = std::string(rest);
    return out;
  case 's':
    if (!valid_secret_name(rest)) {
      return std::nullopt;
    }
    out.kind = PathKind::secret;
    out.name = std::string(rest);
    return out;
  case 'k': {
    std::optional<KeyLine> line = parse_line_key(rest);
    if (!line) {
      return std::nullopt;
    }
    out.kind = PathKind::key;
    out.name = line->secret;
    out.key = std::move(line);
    return out;
  }
  default: return std::nullopt;
  }
}

// ---- JSON of the arguments ----

namespace {

struct ToJson
{
  Json operator()(const InitArgs& a) const
  {
    Json envs = Json::object();
    for (const auto& [env, p] : a.policy.envs) {
      envs[env] = env_policy_json(p);
    }
    return Json{{"member",
                 {{"box_pk", b64(a.member.box_pk)},
                  {"name", a.member.name},
                  {"salt", b64(a.member.salt)},
                  {"sign_pk", b64(a.member.sign_pk)}}},
                {"policy", {{"envs", envs}, {"notify", a.policy.notify}}}};
  }
  Json operator()(const MemberAddArgs& a) const
  {
    return Json{{"box_pk", b64(a.box_pk)},
                {"envs", strings_json(a.envs)},
                {"name", a.name},
                {"roles", roles_json(a.roles)},
                {"sign_pk", b64(a.sign_pk)}};
  }
  Json operator()(const MemberSetArgs& a) const
  {
    return Json{{"envs", strings_json(a.envs)}, {"name", a.name}, {"roles", roles_json(a.roles)}};
  }
  Json operator()(const MemberRemoveArgs& a) const { return Json{{"name", a.name}}; }
  Json operator()(const PolicySetArgs& a) const
  {
    Json out{{"env", a.env}};
    if (a.every) {
      out["every"] = *a.every;
    }
    if (a.keep) {
      out["keep"] = *a.keep;
    }
    if (a.max_ttl) {
      out["max_ttl"] = *a.max_ttl;
    }
    if (a.min_threshold) {
      out["min_threshold"] = *a.min_threshold;
    }
    if (a.notify) {
      out["notify"] = *a.notify;
    }
    if (a.require_why) {
      out["require_why"] = *a.require_why;
    }
    return out;
  }
  Json operator()(const ConnectorAddArgs& a) const
  {
    Json out{{"env", a.env},
             {"instructions", a.instructions},
             {"kind", std::string(connector_kind_name(a.kind))},
             {"name", a.name},
             {"timeout", a.timeout},
             {"update", a.update},
             {"verify", a.verify}};
    if (!a.rehearse_with.empty()) {
      out["rehearse_with"] = a.rehearse_with;
    }
    put_native_settings(out, a.kind, a.settings);
    return out;
  }
  Json operator()(const ConnectorRemoveArgs& a) const { return Json{{"name", a.name}}; }
  Json operator()(const SecretAddArgs& a) const
  {
    Json out{{"after_access", a.after_access},
             {"connectors", strings_json(a.connectors)},
             {"custodians", strings_json(a.custodians)},
             {"every", a.every},
             {"generator", a.generator},
             {"owner", a.owner},
             {"purpose", a.purpose},
             {"secret", a.secret},
             {"threshold", a.threshold},
             {"tier", a.tier},
             {"version",
              {{"dk_commit", b64(a.version.dk_commit)},
               {"rk_commit", b64(a.version.rk_commit)},
               {"vid", a.version.vid}}}};
    if (a.escrow_only) {
      out["escrow_only"] = true; // only when set: one spelling
    }
    return out;
  }
  Json operator()(const SecretSetArgs& a) const
  {
    Json out{{"secret", a.secret}};
    if (a.after_access) {
      out["after_access"] = *a.after_access;
    }
    if (a.connectors) {
      out["connectors"] = strings_json(*a.connectors);
    }
    if (a.escrow_only) {
      out["escrow_only"] = *a.escrow_only;
    }
    if (a.every) {
      out["every"] = *a.every;
    }
    if (a.generator) {
      out["generator"] = *a.generator;
    }
    if (a.owner) {
      out["owner"] = *a.owner;
    }
    if (a.purpose) {
      out["purpose"] = *a.purpose;
    }
    if (a.tier) {
      out["tier"] = *a.tier;
    }
    return out;
  }
  Json operator()(const CustodiansSetArgs& a) const
  {
    return Json{{"custodians", strings_json(a.custodians)}, {"secret", a.secret}, {"threshold", a.threshold}};
  }
  Json operator()(const ShareArgs& a) const
  {
    Json items = Json::array();
    for (const ShareItem& item : a.items) {
      Json gens = Json::array();
      for (const std::int64_t g : item.gens) {
        gens.push_back(g);
      }
      items.push_back(Json{{"gens", gens}, {"secret", item.secret}});
    }
    return Json{{"items", items}, {"member", a.member}};
  }
  Json operator()(const UnshareArgs& a) const { return Json{{"member", a.member}, {"secret", a.secret}}; }
  Json operator()(const RetireArgs& a) const { return Json{{"secret", a.secret}}; }
  Json operator()(const RotateStartArgs& a) const
  {
    Json items = Json::array();
    for (const RotateItem& item : a.items) {
      if (item.kind == RotationKind::rollback) {
        items.push_back(Json{{"kind", "rollback"}, {"secret", item.secret}, {"vid", item.vid}});
        continue;
      }
      Json grants = Json::array();
      for (const GrantRef& g : item.grants) {
        grants.push_back(Json{{"member", g.member}, {"request", g.request}});
      }
      Json out{{"custodians", strings_json(item.custodians)},
               {"dk_commit", b64(item.dk_commit)},
               {"gen", item.gen},
               {"grants", grants},
               {"kind", "rotate"},
               {"secret", item.secret},
               {"threshold", item.threshold},
               {"v", item.v},
               {"vid", item.vid},
               {"why", item.why}};
      if (item.new_gen_rk_commit) {
        out["new_gen"] = Json{{"rk_commit", b64(*item.new_gen_rk_commit)}};
      }
      items.push_back(std::move(out));
    }
    return Json{{"items", items}};
  }
  Json operator()(const ConfirmArgs& a) const
  {
    return Json{{"connector", a.connector}, {"secret", a.secret}, {"vid", a.vid}};
  }
  Json operator()(const RotateFinishArgs& a) const
  {
    Json items = Json::array();
    for (const FinishItem& item : a.items) {
      items.push_back(Json{{"secret", item.secret}, {"vid", item.vid}});
    }
    return Json{{"items", items}};
  }
  Json operator()(const RotateFailArgs& a) const
  {
    Json items = Json::array();
    for (const FailItem& item : a.items) {
      items.push_back(Json{{"result", std::string(fail_result_name(item.result))},
                           {"secret", item.secret},
                           {"vid", item.vid}});
    }
    return Json{{"items", items}};
  }
  Json operator()(const CompromiseArgs& a) const { return Json{{"secret", a.secret}, {"vid", a.vid}}; }
  Json operator()(const RequestArgs& a) const
  {
    return Json{{"id", a.id}, {"secret", a.secret}, {"ttl", a.ttl}};
  }
  Json operator()(const ApproveArgs& a) const
  {
    return Json{{"dk_commit", b64(a.dk_commit)},
                {"request", a.request},
                {"requester", a.requester},
                {"secret", a.secret},
                {"v", a.v},
                {"vid", a.vid}};
  }
  Json operator()(const DenyArgs& a) const { return Json{{"request", a.request}, {"secret", a.secret}}; }
  Json operator()(const GrantUsedArgs& a) const { return Json{{"request", a.request}, {"secret", a.secret}}; }
  Json operator()(const JournalLossArgs& a) const
  {
    Json lost = Json::array();
    for (const LostEntry& e : a.lost) {
      lost.push_back(Json{{"action", e.action}, {"actor", e.actor}, {"hash", b64(e.hash)},
                          {"ts", format_time(e.ts)}});
    }
    return Json{{"lost", lost}};
  }
  Json operator()(const ResolveArgs& a) const
  {
    Json rotations = Json::array();
    for (const RaceResolution& r : a.rotations) {
      Json renumber = Json::object();
      for (const auto& [vid, v] : r.renumber) {
        renumber[vid] = v;
      }
      rotations.push_back(Json{{"current", r.current}, {"renumber", renumber}, {"secret", r.secret}});
    }
    return Json{{"exposed", hashes_json(a.exposed)}, {"rotations", rotations}, {"void", hashes_json(a.voided)}};
  }
};

Args read_args(OpKind kind, const Json& json, const std::string& where)
{
  jr::Fields f(json, where);
  const auto str = [&](std::string_view key) { return jr::string(f.need(key), f.at(key)); };
  const auto name_set = [&](std::string_view key, std::size_t max) {
    return jr::string_set(f.need(key), f.at(key), max);
  };
  const auto integer = [&](std::string_view key, std::int64_t min, std::int64_t max) {
    return jr::integer(f.need(key), f.at(key), min, max);
  };
  const auto hash = [&](std::string_view key) { return jr::fixed_b64<32>(f.need(key), f.at(key)); };
  Args out;
  switch (kind) {
  case OpKind::init: {
    InitArgs a;
    {
      jr::Fields m(f.need("member"), f.at("member"));
      a.member.box_pk = jr::fixed_b64<32>(m.need("box_pk"), m.at("box_pk"));
      a.member.name = jr::string(m.need("name"), m.at("name"));
      a.member.salt = jr::fixed_b64<16>(m.need("salt"), m.at("salt"));
      a.member.sign_pk = jr::fixed_b64<32>(m.need("sign_pk"), m.at("sign_pk"));
      m.finish();
    }
    {
      jr::Fields p(f.need("policy"), f.at("policy"));
      const Json& envs = jr::object(p.need("envs"), p.at("envs"));
      if (envs.size() > 256) {
        fail(ErrorKind::integrity, "{}: more than 256 environments", p.at("envs"));
      }
      for (const auto& item : envs.items()) {
        a.policy.envs[item.key()] = read_env_policy(item.value(), p.at("envs"));
      }
      a.policy.notify = jr::string(p.need("notify"), p.at("notify"));
      p.finish();
    }
    out = std::move(a);
    break;
  }
  case OpKind::member_add: {
    MemberAddArgs a;
    a.box_pk = hash("box_pk");
    a.envs = name_set("envs", 256);
    a.name = str("name");
    a.roles = read_roles(f.need("roles"), f.at("roles"));
    a.sign_pk = hash("sign_pk");
    out = std::move(a);
    break;
  }
  case OpKind::member_set: {
    MemberSetArgs a;
    a.envs = name_set("envs", 256);
    a.name = str("name");
    a.roles = read_roles(f.need("roles"), f.at("roles"));
    out = std::move(a);
    break;
  }
  case OpKind::member_remove: out = MemberRemoveArgs{str("name")}; break;
  case OpKind::policy_set: {
    PolicySetArgs a;
    a.env = str("env");
    if (const Json* j = f.maybe("every")) {
      a.every = jr::integer(*j, f.at("every"), 0, k_max_duration);
    }
    if (const Json* j = f.maybe("keep")) {
      a.keep = jr::integer(*j, f.at("keep"), 0, k_max_keep);
    }
    if (const Json* j = f.maybe("max_ttl")) {
      a.max_ttl = jr::integer(*j, f.at("max_ttl"), 1, k_max_duration);
    }
    if (const Json* j = f.maybe("min_threshold")) {
      a.min_threshold = jr::integer(*j, f.at("min_threshold"), 1, k_max_custodians);
    }
    if (const Json* j = f.maybe("notify")) {
      a.notify = jr::string(*j, f.at("notify"));
    }
    if (const Json* j = f.maybe("require_why")) {
      a.require_why = jr::boolean(*j, f.at("require_why"));
    }
    out = std::move(a);
    break;
  }
  case OpKind::connector_add: {
    ConnectorAddArgs a;
    a.env = str("env");
    a.instructions = str("instructions");
    const std::optional<ConnectorKind> ck = parse_connector_kind(str("kind"));
    if (!ck) {
      fail(ErrorKind::integrity, "{}: unknown connector kind", f.at("kind"));
    }
    a.kind = *ck;
    a.name = str("name");
    if (const Json* j = f.maybe("rehearse_with")) {
      a.rehearse_with = jr::string(*j, f.at("rehearse_with"));
      if (a.rehearse_with.empty()) {
        fail(ErrorKind::integrity, "{}: written only when set", f.at("rehearse_with"));
      }
    }
    a.timeout = integer("timeout", 1, k_max_timeout);
    a.update = str("update");
    a.verify = str("verify");
    Json settings = Json::object();
    for (const auto& item : json.items()) {
      if (is_native_setting_key(item.key())) {
        settings[item.key()] = item.value();
        (void)f.maybe(item.key());
      }
    }
    a.settings = native_settings_from_json(a.kind, a.env, settings, where);
    out = std::move(a);
    break;
  }
  case OpKind::connector_remove: out = ConnectorRemoveArgs{str("name")}; break;
  case OpKind::secret_add: {
    SecretAddArgs a;
    a.after_access = jr::boolean(f.need("after_access"), f.at("after_access"));
    a.connectors = read_ordered_names(f.need("connectors"), f.at("connectors"));
    a.custodians = name_set("custodians", k_max_custodians);
    if (const Json* j = f.maybe("escrow_only")) {
      a.escrow_only = jr::boolean(*j, f.at("escrow_only"));
      if (!a.escrow_only) {
        fail(ErrorKind::integrity, "{}: written only as true", f.at("escrow_only"));
      }
    }
    a.every = integer("every", 0, k_max_duration);
    a.generator = str("generator");
    a.owner = str("owner");
    a.purpose = str("purpose");
    a.secret = str("secret");
    a.threshold = integer("threshold", 0, k_max_custodians);
    a.tier = str("tier");
    jr::Fields v(f.need("version"), f.at("version"));
    a.version.dk_commit = jr::fixed_b64<32>(v.need("dk_commit"), v.at("dk_commit"));
    a.version.rk_commit = jr::fixed_b64<32>(v.need("rk_commit"), v.at("rk_commit"));
    a.version.vid = jr::string(v.need("vid"), v.at("vid"));
    v.finish();
    out = std::move(a);
    break;
  }
  case OpKind::secret_set: {
    SecretSetArgs a;
    a.secret = str("secret");
    if (const Json* j = f.maybe("after_access")) {
      a.after_access = jr::boolean(*j, f.at("after_access"));
    }
    if (const Json* j = f.maybe("connectors")) {
      a.connectors = read_ordered_names(*j, f.at("connectors"));
    }
    if (const Json* j = f.maybe("escrow_only")) {
      a.escrow_only = jr::boolean(*j, f.at("escrow_only"));
    }
    if (const Json* j = f.maybe("every")) {
      a.every = jr::integer(*j, f.at("every"), 0, k_max_duration);
    }
    if (const Json* j = f.maybe("generator")) {
      a.generator = jr::string(*j, f.at("generator"));
    }
    if (const Json* j = f.maybe("owner")) {
      a.owner = jr::string(*j, f.at("owner"));
    }
    if (const Json* j = f.maybe("purpose")) {
      a.purpose = jr::string(*j, f.at("purpose"));
    }
    if (const Json* j = f.maybe("tier")) {
      a.tier = jr::string(*j, f.at("tier"));
    }
    out = std::move(a);
    break;
  }
  case OpKind::custodians_set:
    out = CustodiansSetArgs{str("secret"), name_set("custodians", k_max_custodians),
                            integer("threshold", 0, k_max_custodians)};
    break;
  case OpKind::share: {
    ShareArgs a;
    const std::string at = f.at("items");
    for (const Json& item : jr::array(f.need("items"), at, k_max_items)) {
      jr::Fields i(item, at);
      ShareItem s;
      const std::string gens_at = i.at("gens");
      std::int64_t previous = 0;
      for (const Json& g : jr::array(i.need("gens"), gens_at, 1024)) {
        const std::int64_t gen = jr::integer(g, gens_at, 1, k_max_generation);
        if (gen <= previous) {
          fail(ErrorKind::integrity, "{}: not sorted, or a repeated item", gens_at);
        }
        s.gens.insert(gen);
        previous = gen;
      }
      s.secret = jr::string(i.need("secret"), i.at("secret"));
      i.finish();
      a.items.push_back(std::move(s));
    }
    a.member = str("member");
    out = std::move(a);
    break;
  }
  case OpKind::unshare: out = UnshareArgs{str("secret"), str("member")}; break;
  case OpKind::retire: out = RetireArgs{str("secret")}; break;
  case OpKind::rotate_start: {
    RotateStartArgs a;
    const std::string at = f.at("items");
    for (const Json& item : jr::array(f.need("items"), at, k_max_items)) {
      jr::Fields i(item, at);
      RotateItem r;
      const std::optional<RotationKind> rk = parse_rotation_kind(jr::string(i.need("kind"), i.at("kind")));
      if (!rk) {
        fail(ErrorKind::integrity, "{}: unknown rotation kind", i.at("kind"));
      }
      r.kind = *rk;
      r.secret = jr::string(i.need("secret"), i.at("secret"));
      r.vid = jr::string(i.need("vid"), i.at("vid"));
      if (r.kind == RotationKind::rotate) {
        r.custodians = jr::string_set(i.need("custodians"), i.at("custodians"), k_max_custodians);
        r.dk_commit = jr::fixed_b64<32>(i.need("dk_commit"), i.at("dk_commit"));
        r.gen = jr::integer(i.need("gen"), i.at("gen"), 1, k_max_generation);
        const std::string grants_at = i.at("grants");
        for (const Json& g : jr::array(i.need("grants"), grants_at, k_max_items)) {
          jr::Fields gf(g, grants_at);
          GrantRef ref;
          ref.member = jr::string(gf.need("member"), gf.at("member"));
          ref.request = jr::string(gf.need("request"), gf.at("request"));
          gf.finish();
          r.grants.push_back(std::move(ref));
        }
        if (const Json* ng = i.maybe("new_gen")) {
          jr::Fields nf(*ng, i.at("new_gen"));
          r.new_gen_rk_commit = jr::fixed_b64<32>(nf.need("rk_commit"), nf.at("rk_commit"));
          nf.finish();
        }
        r.threshold = jr::integer(i.need("threshold"), i.at("threshold"), 0, k_max_custodians);
        r.v = jr::integer(i.need("v"), i.at("v"), 1, k_max_v);
        r.why = jr::string(i.need("why"), i.at("why"));
      }
      i.finish();
      a.items.push_back(std::move(r));
    }
    out = std::move(a);
    break;
  }
  case OpKind::confirm: out = ConfirmArgs{str("secret"), str("vid"), str("connector")}; break;
  case OpKind::rotate_finish: {
    RotateFinishArgs a;
    const std::string at = f.at("items");
    for (const Json& item : jr::array(f.need("items"), at, k_max_items)) {
      jr::Fields i(item, at);
      FinishItem fi{jr::string(i.need("secret"), i.at("secret")), jr::string(i.need("vid"), i.at("vid"))};
      i.finish();
      a.items.push_back(std::move(fi));
    }
    out = std::move(a);
    break;
  }
  case OpKind::rotate_fail: {
    RotateFailArgs a;
    const std::string at = f.at("items");
    for (const Json& item : jr::array(f.need("items"), at, k_max_items)) {
      jr::Fields i(item, at);
      FailItem fi;
      const std::optional<FailResult> r = parse_fail_result(jr::string(i.need("result"), i.at("result")));
      if (!r) {
        fail(ErrorKind::integrity, "{}: unknown result", i.at("result"));
      }
      fi.result = *r;
      fi.secret = jr::string(i.need("secret"), i.at("secret"));
      fi.vid = jr::string(i.need("vid"), i.at("vid"));
      i.finish();
      a.items.push_back(std::move(fi));
    }
    out = std::move(a);
    break;
  }
  case OpKind::compromise: out = CompromiseArgs{str("secret"), str("vid")}; break;
  case OpKind::request: out = RequestArgs{str("secret"), str("id"), integer("ttl", 1, k_max_duration)}; break;
  case OpKind::approve: {
    ApproveArgs a;
    a.dk_commit = hash("dk_commit");
    a.request = str("request");
    a.requester = str("requester");
    a.secret = str("secret");
    a.v = integer("v", 1, k_max_v);
    a.vid = str("vid");
    out = std::move(a);
    break;
  }
  case OpKind::deny: out = DenyArgs{str("secret"), str("request")}; break;
  case OpKind::grant_used: out = GrantUsedArgs{str("secret"), str("request")}; break;
  case OpKind::journal_loss: {
    JournalLossArgs a;
    const std::string at = f.at("lost");
    for (const Json& item : jr::array(f.need("lost"), at, k_max_items)) {
      jr::Fields i(item, at);
      LostEntry e;
      e.action = jr::string(i.need("action"), i.at("action"));
      e.actor = jr::string(i.need("actor"), i.at("actor"));
      e.hash = jr::fixed_b64<32>(i.need("hash"), i.at("hash"));
      e.ts = jr::time(i.need("ts"), i.at("ts"));
      i.finish();
      a.lost.push_back(std::move(e));
    }
    out = std::move(a);
    break;
  }
  case OpKind::resolve: {
    ResolveArgs a;
    a.exposed = read_hash_set(f.need("exposed"), f.at("exposed"));
    const std::string at = f.at("rotations");
    for (const Json& item : jr::array(f.need("rotations"), at, k_max_items)) {
      jr::Fields i(item, at);
      RaceResolution r;
      r.current = jr::string(i.need("current"), i.at("current"));
      const std::string renumber_at = i.at("renumber");
      for (const auto& kv : jr::object(i.need("renumber"), renumber_at).items()) {
        r.renumber[kv.key()] = jr::integer(kv.value(), renumber_at, 1, k_max_v);
      }
      r.secret = jr::string(i.need("secret"), i.at("secret"));
      i.finish();
      a.rotations.push_back(std::move(r));
    }
    a.voided = read_hash_set(f.need("void"), f.at("void"));
    out = std::move(a);
    break;
  }
  }
  f.finish();
  return out;
}

struct CheckArgs
{
  const Checker& c;

  void operator()(const InitArgs& a) const
  {
    c.name(a.member.name, "member.name");
    if (a.policy.envs.count("*") == 0) {
      c.bad("policy.envs: the default \"*\" is missing");
    }
    if (a.policy.envs.size() > 256) {
      c.bad("policy.envs: more than 256 environments");
    }
    for (const auto& [env, p] : a.policy.envs) {
      c.env(env, "policy.envs");
      c.env_policy(p, "policy.envs");
    }
    c.command(a.policy.notify, "policy.notify");
  }
  void operator()(const MemberAddArgs& a) const
  {
    c.name(a.name, "name");
    if (a.roles.empty()) {
      c.bad("roles: empty");
    }
    c.envs(a.envs, "envs");
  }
  void operator()(const MemberSetArgs& a) const
  {
    c.name(a.name, "name");
    if (a.roles.empty()) {
      c.bad("roles: empty");
    }
    c.envs(a.envs, "envs");
  }
  void operator()(const MemberRemoveArgs& a) const { c.name(a.name, "name"); }
  void operator()(const PolicySetArgs& a) const
  {
    c.env(a.env, "env");
    if (!a.every && !a.keep && !a.max_ttl && !a.min_threshold && !a.notify && !a.require_why) {
      c.bad("policy-set changes nothing");
    }
    if (a.every) {
      c.range(*a.every, "every", 0, k_max_duration);
    }
    if (a.keep) {
      c.range(*a.keep, "keep", 0, k_max_keep);
    }
    if (a.max_ttl) {
      c.range(*a.max_ttl, "max_ttl", 1, k_max_duration);
    }
    if (a.min_threshold) {
      c.range(*a.min_threshold, "min_threshold", 1, static_cast<std::int64_t>(k_max_custodians));
    }
    if (a.notify) {
      c.command(*a.notify, "notify");
    }
  }
  void operator()(const ConnectorAddArgs& a) const
  {
    c.name(a.name, "name");
    if (!valid_env_name(a.env)) {
      c.bad("env: not an environment (1-32 of a-z 0-9 _ -)");
    }
    c.command(a.update, "update");
    c.command(a.verify, "verify");
    c.command(a.instructions, "instructions");
    c.range(a.timeout, "timeout", 1, k_max_timeout);
    if (a.kind == ConnectorKind::command && a.update.empty()) {
      c.bad("update: a command connector needs an update command");
    }
    if (!a.rehearse_with.empty()) {
      c.name(a.rehearse_with, "rehearse_with");
      if (a.rehearse_with == a.name) {
        c.bad("rehearse_with: a connector cannot be its own staging twin");
      }
    }
    // The settings: exactly the kind's own, each valid (the one reader of records.hpp: what it
    // reads back from their one spelling must be what was given).
    Json spelled = Json::object();
    put_native_settings(spelled, a.kind, a.settings);
    ConnectorSettings back;
    try {
      back = native_settings_from_json(a.kind, a.env, spelled, "settings");
    } catch (const Error& error) {
      c.bad("{}", error.what());
    }
    if (!(back == a.settings)) {
      c.bad("settings: a {} connector holds exactly its own settings", connector_kind_name(a.kind));
    }
  }
  void operator()(const ConnectorRemoveArgs& a) const { c.name(a.name, "name"); }
  void operator()(const SecretAddArgs& a) const
  {
    c.secret(a.secret, "secret");
    c.name(a.owner, "owner");
    c.text(a.purpose, "purpose", k_max_purpose);
    if (!valid_tier(a.tier)) {
      c.bad("tier: not a tier (1-32 of a-z 0-9 _ -)");
    }
    c.connectors(a.connectors, "connectors");
    if (a.escrow_only && !a.connectors.empty()) {
      c.bad("escrow_only: an escrow-only secret has no connector");
    }
    c.range(a.every, "every", 0, k_max_duration);
    c.generator(a.generator, "generator");
    c.custodians(a.custodians, a.threshold);
    c.vid(a.version.vid, "version.vid");
  }
  void operator()(const SecretSetArgs& a) const
  {
    c.secret(a.secret, "secret");
    if (!a.owner && !a.purpose && !a.tier && !a.connectors && !a.every && !a.generator && !a.after_access
        && !a.escrow_only) {
      c.bad("secret-set changes nothing");
    }
    if (a.owner) {
      c.name(*a.owner, "owner");
    }
    if (a.purpose) {
      c.text(*a.purpose, "purpose", k_max_purpose);
    }
    if (a.tier && !valid_tier(*a.tier)) {
      c.bad("tier: not a tier (1-32 of a-z 0-9 _ -)");
    }
    if (a.connectors) {
      c.connectors(*a.connectors, "connectors");
    }
    if (a.every) {
      c.range(*a.every, "every", 0, k_max_duration);
    }
    if (a.generator) {
      c.generator(*a.generator, "generator");
    }
  }
  void operator()(const CustodiansSetArgs& a) const
  {
    c.secret(a.secret, "secret");
    c.custodians(a.custodians, a.threshold);
  }
  void operator()(const ShareArgs& a) const
  {
    c.name(a.member, "member");
    c.sorted_items(a.items, [](const ShareItem& i) { return i.secret; }, "items", 1);
    for (const ShareItem& item : a.items) {
      c.secret(item.secret, "items.secret");
      if (item.gens.empty()) {
        c.bad("items.gens: empty");
      }
      for (const std::int64_t g : item.gens) {
        c.range(g, "items.gens", 1, k_max_generation);
      }
    }
  }
  void operator()(const UnshareArgs& a) const
  {
    c.secret(a.secret, "secret");
    c.name(a.member, "member");
  }
  void operator()(const RetireArgs& a) const { c.secret(a.secret, "secret"); }
  void operator()(const RotateStartArgs& a) const
  {
    c.sorted_items(a.items, [](const RotateItem& i) { return i.secret; }, "items", 1);
    for (const RotateItem& item : a.items) {
      c.secret(item.secret, "items.secret");
      c.vid(item.vid, "items.vid");
      if (item.kind == RotationKind::rollback) {
        continue;
      }
      c.range(item.v, "items.v", 1, k_max_v);
      c.range(item.gen, "items.gen", 1, k_max_generation);
      c.custodians(item.custodians, item.threshold);
      c.sorted_items(item.grants, [](const GrantRef& g) { return g.member; }, "items.grants", 0);
      for (const GrantRef& g : item.grants) {
        c.name(g.member, "items.grants.member");
        c.request(g.request, "items.grants.request");
      }
      c.text(item.why, "items.why", k_max_why);
    }
  }
  void operator()(const ConfirmArgs& a) const
  {
    c.secret(a.secret, "secret");
    c.vid(a.vid, "vid");
    c.name(a.connector, "connector");
  }
  void operator()(const RotateFinishArgs& a) const
  {
    c.sorted_items(a.items, [](const FinishItem& i) { return i.secret; }, "items", 1);
    for (const FinishItem& item : a.items) {
      c.secret(item.secret, "items.secret");
      c.vid(item.vid, "items.vid");
    }
  }
  void operator()(const RotateFailArgs& a) const
  {
    c.sorted_items(a.items, [](const FailItem& i) { return i.secret; }, "items", 1);
    for (const FailItem& item : a.items) {
      c.secret(item.secret, "items.secret");
      c.vid(item.vid, "items.vid");
    }
  }
  void operator()(const CompromiseArgs& a) const
  {
    c.secret(a.secret, "secret");
    c.vid(a.vid, "vid");
  }
  void operator()(const RequestArgs& a) const
  {
    c.secret(a.secret, "secret");
    c.request(a.id, "id");
    c.range(a.ttl, "ttl", 1, k_max_duration);
  }
  void operator()(const ApproveArgs& a) const
  {
    c.secret(a.secret, "secret");
    c.request(a.request, "request");
    c.name(a.requester, "requester");
    c.vid(a.vid, "vid");
    c.range(a.v, "v", 1, k_max_v);
  }
  void operator()(const DenyArgs& a) const
  {
    c.secret(a.secret, "secret");
    c.request(a.request, "request");
  }
  void operator()(const GrantUsedArgs& a) const
  {
    c.secret(a.secret, "secret");
    c.request(a.request, "request");
  }
  void operator()(const JournalLossArgs& a) const
  {
    c.sorted_items(a.lost, [](const LostEntry& e) { return e.hash; }, "lost", 1);
    for (const LostEntry& e : a.lost) {
      c.name(e.actor, "lost.actor");
      if (!parse_action(e.action)) {
        c.bad("lost.action: not an action name");
      }
      if (e.ts < k_min_time || e.ts > k_max_time) {
        c.bad("lost.ts: out of range");
      }
    }
  }
  void operator()(const ResolveArgs& a) const
  {
    if (a.voided.empty() && a.exposed.empty() && a.rotations.empty()) {
      c.bad("resolve settles nothing");
    }
    if (a.voided.size() > k_max_items || a.exposed.size() > k_max_items) {
      c.bad("void, exposed: more than {} items", k_max_items);
    }
    for (const Hash& h : a.exposed) {
      if (a.voided.count(h) > 0) {
        c.bad("an entry is both voided and exposed");
      }
    }
    c.sorted_items(a.rotations, [](const RaceResolution& r) { return r.secret; }, "rotations", 0);
    for (const RaceResolution& r : a.rotations) {
      c.secret(r.secret, "rotations.secret");
      c.vid(r.current, "rotations.current");
      // Empty only when it chooses between two settlements of one race made apart (nothing is
      // renumbered then; vault-2-merge.md §5 "As built").
      if (r.renumber.size() > 64) {
        c.bad("rotations.renumber: 0..64 versions");
      }
      for (const auto& [vid, v] : r.renumber) {
        c.vid(vid, "rotations.renumber");
        c.range(v, "rotations.renumber", 1, k_max_v);
      }
    }
  }
};

std::string hash_text(const std::optional<Hash>& hash)
{
  return hash ? b64(*hash) : std::string();
}

} // namespace

Json args_to_json(const Args& args)
{
  return std::visit(ToJson{}, args);
}

Args args_from_json(OpKind kind, const Json& json, std::string_view what)
{
  return read_args(kind, json, fmt::format("{}: args", what));
}

Json op_to_json(const Op& op)
{
  Json writes = Json::array();
  for (const Write& w : op.writes) {
    writes.push_back(Json::array({w.path, hash_text(w.before), hash_text(w.after)}));
  }
  return Json{{"args", args_to_json(op.args)}, {"writes", writes}};
}

Op op_from_json(OpKind kind, const Json& json, std::string_view what)
{
  const std::string where = fmt::format("{}: op", what);
  jr::Fields f(json, where);
  Op op;
  op.args = read_args(kind, f.need("args"), fmt::format("{}: args", what));
  const std::string writes_at = fmt::format("{}: writes", what);
  for (const Json& triple : jr::array(f.need("writes"), writes_at, k_max_writes)) {
    if (!triple.is_array() || triple.size() != 3) {
      fail(ErrorKind::integrity, "{}: expected [path, before, after]", writes_at);
    }
    Write w;
    w.path = jr::string(triple[0], writes_at);
    for (int i = 1; i <= 2; ++i) {
      const std::string& text = jr::string(triple[i], writes_at);
      if (!text.empty()) {
        (i == 1 ? w.before : w.after) = jr::fixed_b64<32>(triple[i], writes_at);
      }
    }
    op.writes.push_back(std::move(w));
  }
  f.finish();
  return op;
}

void check_args(const Args& args, ErrorKind kind, std::string_view what)
{
  const Checker c{kind, what};
  std::visit(CheckArgs{c}, args);
}

void check_args(const Op& op, ErrorKind kind, std::string_view what)
{
  check_args(op.args, kind, what);
  const Checker c{kind, what};
  if (op.writes.size() > k_max_writes) {
    c.bad("writes: too many");
  }
  for (std::size_t i = 0; i < op.writes.size(); ++i) {
    const Write& w = op.writes[i];
    if (i > 0 && !(op.writes[i - 1].path < w.path)) {
      c.bad("writes: not sorted by path, or a path written twice");
    }
    const std::optional<ParsedPath> path = parse_path(w.path);
    if (!path) {
      c.bad("writes: not a record or key line path");
    }
    if (!w.before && !w.after) {
      c.bad("writes: a write with neither a before nor an after hash");
    }
    if (w.before && w.after && *w.before == *w.after) {
      c.bad("writes: a write that changes nothing");
    }
    if (path->kind == PathKind::key) {
      if (w.before && w.after) {
        c.bad("writes: a key line is written or deleted, never changed");
      }
      const Hash& k = w.after ? *w.after : *w.before;
      if (w.path != key_path(*path->key, k)) {
        c.bad("writes: a key line's name does not match its hash");
      }
    }
  }
}

} // namespace escrow::history
