#include "insider_support.hpp"

#include <commands/cli.hpp>

#include <escrow/atomic_file.hpp>

#include <fstream>
#include <sstream>
#include <unistd.h>

namespace insider {

std::string slurp(const fs::path& path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void spit(const fs::path& path, const std::string& text)
{
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

Files snapshot(const fs::path& dir)
{
  Files out;
  if (!fs::exists(dir)) {
    return out;
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      out[fs::relative(entry.path(), dir).string()] = slurp(entry.path());
    } else if (entry.is_directory()) {
      out[fs::relative(entry.path(), dir).string() + "/"] = "";
    }
  }
  return out;
}

void restore(const fs::path& dir, const Files& files)
{
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [name, bytes] : files) {
    if (!name.empty() && name.back() == '/') {
      fs::create_directories(dir / name);
    } else {
      spit(dir / name, bytes);
    }
  }
}

const std::vector<std::string>& signers()
{
  static const std::vector<std::string> list{"outsider", "rma", "auditor", "ci",    "req", "cust",
                                             "appr",     "owner", "other",  "stg", "a"};
  return list;
}

namespace {

PolicyValue team_policy()
{
  PolicyValue p;
  EnvPolicy star;
  star.min_threshold = 1;
  star.max_ttl = 8 * 3600;
  star.require_why = false;
  star.every = 0;
  star.keep = 2;
  p.envs["*"] = star;
  return p;
}

std::shared_ptr<Identity> copy_of(const Identity& id)
{
  const std::string text = serialize_identity(id, Protection::none, nullptr, identity_kdf("interactive", true));
  return std::make_shared<Identity>(open_identity(canonical::parse(text, "identity"), nullptr, "identity"));
}

MemberAddArgs member(const Team& t, const std::string& name, std::set<Role> roles, std::set<std::string> envs)
{
  MemberAddArgs m;
  m.name = name;
  m.sign_pk = t.id(name).pub.sign_pk;
  m.box_pk = t.id(name).pub.box_pk;
  m.roles = std::move(roles);
  m.envs = std::move(envs);
  return m;
}

} // namespace

Team& Team::get()
{
  static Team team;
  return team;
}

Team::Team()
{
  root = fs::temp_directory_path() / fmt::format("escrow-insider-{}", ::getpid());
  fs::remove_all(root);
  vault_dir = root / "repo";
  state_home = root / "state";
  empty_state = root / "empty-state";
  fs::create_directories(vault_dir);
  fs::create_directories(state_home);
  fs::create_directories(empty_state);
  for (const std::string& name : signers()) {
    ids[name] = std::make_shared<Identity>(generate_identity(name));
  }
  for (const std::string name : {"mallory"}) {
    ids[name] = std::make_shared<Identity>(generate_identity(name));
  }
  ids_dir = root / "ids";
  fs::create_directories(ids_dir);
  for (const auto& [name, id] : ids) {
    create_exclusive(ids_dir / (name + ".id"),
                     serialize_identity(*id, Protection::none, nullptr, identity_kdf("interactive", true)), 0600);
  }
  auto session = [this](const std::string& actor) {
    VaultSessionOptions o = options(actor, true);
    now += 60;
    return VaultSession::open(o, Access::write);
  };
  {
    VaultSessionOptions o = options("a", true);
    now += 60;
    VaultSession s = VaultSession::create(o, team_policy());
    s.submit(member(*this, "rma", {Role::admin}, {"prod"}));
    s.submit(member(*this, "auditor", {Role::auditor}, {"prod"}));
    s.submit(member(*this, "ci", {Role::rotator}, {"prod"}));
    s.submit(member(*this, "req", {Role::requester}, {"prod"}));
    s.submit(member(*this, "cust", {Role::approver}, {"prod"}));
    s.submit(member(*this, "appr", {Role::approver}, {"prod"}));
    s.submit(member(*this, "owner", {Role::requester}, {"prod"}));
    s.submit(member(*this, "other", {Role::requester}, {"prod"}));
    s.submit(member(*this, "stg", {Role::admin}, {"staging"}));
  }
  {
    // The removed admin acted while a member (an old, validly signed entry of theirs exists).
    VaultSession s = session("rma");
    ConnectorAddArgs c;
    c.name = "old-conn";
    c.env = "prod";
    c.update = "true";
    c.verify = "true";
    s.submit(c);
  }
  {
    VaultSession s = session("a");
    s.submit(MemberRemoveArgs{"rma"});
    ConnectorAddArgs c;
    c.name = "prod-cmd";
    c.env = "prod";
    c.update = "true";
    c.verify = "true";
    s.submit(c);
  }
  auto add_secret = [&](const std::string& owner, const std::string& secret, const std::string& custodian) {
    VaultSession s = session(owner);
    const NewSecret n = seal_new(secret, 1, {owner, "ci"}, {custodian}, 1);
    SecretAddArgs a;
    a.secret = secret;
    a.owner = owner;
    a.purpose = "insider test";
    a.tier = "standard";
    a.generator = "len=32,alphabet=base62";
    a.custodians = {custodian};
    a.threshold = 1;
    a.version = n.version;
    s.submit(a, n.material);
  };
  add_secret("owner", "prod/db", "cust");
  add_secret("other", "prod/api", "appr");
  {
    VaultSession s = session("req");
    RequestArgs r;
    r.secret = "prod/db";
    r.id = "r1";
    r.ttl = 3600;
    s.submit(r, {}, std::string("debugging"));
  }
  {
    VaultSession s = VaultSession::open(options("", true), Access::read);
    REQUIRE(s.fast_path());
  }
  template_now = now;
  vault_template = snapshot(vault_dir);
  cache_template = snapshot(state_home);
  template_lines = static_cast<std::uint64_t>(std::count(vault_template.at("escrow.journal").begin(),
                                                         vault_template.at("escrow.journal").end(), '\n'));
}

Team::~Team()
{
  std::error_code ignored;
  fs::remove_all(root, ignored);
}

Team::NewSecret Team::seal_new(const std::string& secret, std::uint32_t gen, const std::vector<std::string>& readers,
                               const std::vector<std::string>& custodians, unsigned threshold)
{
  const VaultId vault = read_head_file(head()).vault_id;
  const SecretRef ref{vault, secret};
  ReaderKey rk = new_generation(ref, gen);
  const SecretBytes value = SecretBytes::from("value of " + secret);
  SealedVersion version = seal_value(ref, rk, value);
  NewSecret out;
  out.version.vid = version.vid.hex();
  out.version.rk_commit = rk.commit;
  out.version.dk_commit = version.commit;
  for (const std::string& reader : std::set<std::string>(readers.begin(), readers.end())) {
    out.material.lines.push_back(seal_reader_key(ref, rk, recipient(reader)));
  }
  out.material.lines.push_back(version.value_line);
  std::vector<Recipient> cs;
  for (const std::string& c : custodians) {
    cs.push_back(recipient(c));
  }
  for (SealedLine& line : seal_shares(ref, version.vid, version.data_key, threshold, cs)) {
    out.material.lines.push_back(std::move(line));
  }
  // Remember the keys of the first version of each secret (the tests need its DK and RK).
  if (secrets.count(secret) == 0) {
    secrets.emplace(secret, SecretKeys{version.vid.hex(), std::move(version.data_key), std::move(rk)});
  }
  return out;
}

SealedLine Team::approval_line(const std::string& secret, const std::string& request, const std::string& approver,
                               const std::string& requester) const
{
  const KeysFile keys = KeysFile::open(this->keys());
  const ReplayResult r = replay(slurp(journal()));
  const Secret* s = r.state.secret(secret);
  REQUIRE(s != nullptr);
  const std::string& vid_hex = secrets.at(secret).vid;
  const Version& v = s->versions.at(vid_hex);
  const SecretRef ref{r.state.vault_id, secret};
  const VersionRef vref{*Vid::from_hex(vid_hex), static_cast<std::uint32_t>(v.gen), v.dk_commit, v.material};
  const std::string holder = v.shares.count(approver) != 0 ? approver : v.shares.begin()->first;
  const SecretBytes share = open_own_share(keys, ref, vref, v.shares.at(holder), id(holder));
  return seal_approval(ref, vref.vid, request, approver, share, recipient(requester));
}

Entry Team::honest(const std::string& actor, Args args, const Material& material, std::optional<std::string> why)
{
  VaultSessionOptions o = options(actor, true);
  now += 60;
  VaultSession s = VaultSession::open(o, Access::write);
  return s.submit(std::move(args), material, std::move(why));
}

std::optional<Finding> verify_bytes(const Team& team)
{
  const KeysFile keys = KeysFile::open(team.keys());
  const VerifiedVault v = verify_vault(slurp(team.head()), slurp(team.journal()), &keys);
  if (const Finding* f = v.replay.first_problem()) {
    return *f;
  }
  return std::nullopt;
}

void Team::reset()
{
  now = template_now;
  restore(vault_dir, vault_template);
  restore(state_home, cache_template);
  restore(empty_state, {});
}

VaultSessionOptions Team::options(const std::string& actor, bool warm) const
{
  VaultSessionOptions o;
  o.vault_path = head();
  o.state_home = warm ? state_home : empty_state;
  o.clock = Clock::fixed(now);
  o.host = "test";
  o.lock_wait = std::chrono::milliseconds(200);
  if (!actor.empty()) {
    std::shared_ptr<Identity> who = ids.at(actor);
    o.identity = [who] { return std::move(*copy_of(*who)); };
  }
  return o;
}

test::Forger Team::forger() const
{
  test::Forger f(head());
  f.set_now(now);
  return f;
}

std::string require_refused_everywhere(const Team& team, const std::string& expect)
{
  const Files vault_before = snapshot(team.vault_dir);
  const Files warm_before = snapshot(team.state_home);
  const Files empty_before = snapshot(team.empty_state);
  std::string first;
  for (const bool warm : {true, false}) {
    for (const Access access : {Access::read, Access::write}) {
      INFO((warm ? "warm cache place, " : "empty state directory, ") << (access == Access::read ? "read" : "write"));
      const std::string message =
        error_of([&] { (void)VaultSession::open(team.options("a", warm), access); }, ErrorKind::integrity);
      CHECK_THAT(message, Catch::Contains(expect));
      CHECK(message.find('\n') == std::string::npos);
      // the rule follows the entry's description
      CHECK(message.size() > message.find(expect) + expect.size());
      if (first.empty()) {
        first = message;
      }
      CHECK(snapshot(team.vault_dir) == vault_before);
      CHECK(snapshot(team.state_home) == warm_before);
      CHECK(snapshot(team.empty_state) == empty_before);
    }
  }
  require_cli_refused(team, expect);
  return first;
}

void require_opens_everywhere(const Team& team)
{
  for (const bool warm : {true, false}) {
    for (const Access access : {Access::read, Access::write}) {
      INFO((warm ? "warm cache place, " : "empty state directory, ") << (access == Access::read ? "read" : "write"));
      try {
        (void)VaultSession::open(team.options("a", warm), access);
      } catch (const Error& error) {
        FAIL("refused: " << error.what());
      }
    }
  }
}

namespace {

struct Acting
{
  std::string actor; // "" = no identity
  std::vector<std::string> args;
};

const std::vector<Acting>& acting_commands()
{
  static const std::vector<Acting> commands{
    {"", {"verify"}},
    {"auditor", {"audit", "verify"}},
    {"owner", {"get", "prod/db", "--reveal"}},
    {"cust", {"approve", "prod/db", "r1"}},
    {"ci", {"rotate", "--due"}},
  };
  return commands;
}

CliRun run_cli(const Team& team, const Acting& command, bool warm)
{
  std::map<std::string, std::string> env{
    {"HOME", team.root.string()},
    {"XDG_STATE_HOME", (warm ? team.state_home : team.empty_state).string()},
    {"XDG_CONFIG_HOME", (team.root / "config").string()},
    {"ESCROW_KDF", "fast"},
    {"NO_COLOR", "1"},
    {"ESCROW_LOCK_WAIT", "1"},
    {"ESCROW_NOW", std::to_string(team.now)},
  };
  std::vector<std::string> args{"--vault", team.head().string()};
  if (!command.actor.empty()) {
    args.push_back("--identity");
    args.push_back((team.ids_dir / (command.actor + ".id")).string());
  }
  args.insert(args.end(), command.args.begin(), command.args.end());
  escrow::cli::Io io;
  io.getenv = [env](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  io.stdin_is_terminal = [] { return false; };
  io.read_stdin = [](std::size_t) { return SecretBytes::from(""); };
  io.read_hidden_line = [](std::string_view) -> std::optional<SecretBytes> { return std::nullopt; };
  std::ostringstream out;
  std::ostringstream err;
  CliRun run;
  std::string label;
  for (const std::string& a : command.args) {
    label += (label.empty() ? "" : " ") + a;
  }
  run.label = fmt::format("escrow {}{}, {}", label, command.actor.empty() ? "" : " as " + command.actor,
                          warm ? "warm cache place" : "empty state directory");
  run.code = escrow::cli::run(args, out, err, std::move(io));
  run.out = out.str();
  run.err = err.str();
  return run;
}

} // namespace

std::vector<CliRun> run_acting_commands(const Team& team, bool warm)
{
  std::vector<CliRun> runs;
  for (const Acting& command : acting_commands()) {
    runs.push_back(run_cli(team, command, warm));
  }
  return runs;
}

void require_cli_refused(const Team& team, const std::string& expect)
{
  const Files vault_before = snapshot(team.vault_dir);
  const Files warm_before = snapshot(team.state_home);
  const Files empty_before = snapshot(team.empty_state);
  for (const bool warm : {true, false}) {
    for (const Acting& command : acting_commands()) {
      const CliRun run = run_cli(team, command, warm);
      INFO(run.label << "\nstderr: " << run.err);
      CHECK(run.code == 3);
      const std::string first_line = run.err.substr(0, run.err.find('\n'));
      CHECK_THAT(first_line, Catch::StartsWith("escrow: error: ") && Catch::Contains(expect));
      CHECK(run.out.find("value of prod/db") == std::string::npos);
      CHECK(snapshot(team.vault_dir) == vault_before);
      CHECK(snapshot(team.state_home) == warm_before);
      CHECK(snapshot(team.empty_state) == empty_before);
    }
  }
}

void require_cli_accepts(Team& team)
{
  for (const bool warm : {true, false}) {
    for (const Acting& command : acting_commands()) {
      const Files vault_before = snapshot(team.vault_dir);
      const Files warm_before = snapshot(team.state_home);
      const Files empty_before = snapshot(team.empty_state);
      const CliRun run = run_cli(team, command, warm);
      INFO(run.label << "\nstderr: " << run.err);
      CHECK(run.code == 0);
      if (command.args.front() == "get") {
        CHECK(run.out == "value of prod/db");
      }
      restore(team.vault_dir, vault_before);
      restore(team.state_home, warm_before);
      restore(team.empty_state, empty_before);
    }
  }
}

} // namespace insider
