// escrow-bench-gen: writes real, verifiable vaults and journals for bench/run, through
// escrow_core (the same records, signatures, sealing and layout as the escrow binary).
//
//   escrow-bench-gen vault DIR --secrets N [--journal M] [--due K] [--extra-members K]
//                              [--connectors C] [--threads T] [--now UNIX]
//     DIR/escrow.vault, DIR/escrow.journal      the vault (revision 1) and its journal of M entries
//     DIR/ids/<name>.id, DIR/ids/<name>.pub     identities without a passphrase
//     DIR/ids/erin-kdf.id, DIR/ids/passphrase   erin's keys under Argon2id INTERACTIVE limits
//     DIR/ids/newbie.id|.pub                    a person who is not a member yet
//     DIR/names.txt                             every secret's ENV/NAME, one a line
//
// The shape of every secret (issue 6): owner erin; standing access for 5 members (erin, the
// rotator ci, and alice, frank, grace by explicit share); custodians bob, carol, dave, 2 of 3;
// 2 retained versions (v1 previous, v2 current); one connector (prod/app-sync, `true`).
// With --connectors C (the recovery drill, tests/recovery/rto.sh): C connectors sync-01..sync-C
// instead, secret i bound to sync-(i mod C), each a "system" that keeps its values in
// DIR/systems/sync-NN/ENV/NAME (update writes the value read from stdin there; verify compares).
// The generator writes every secret's current value there, as a live system would hold it.
// The first K secrets (--due) are overdue for rotation, the rest are not.
// henry is a requester without standing access (request + approve + get).
//
//   escrow-bench-gen read DIR [--count C]
//     In-process costs (median of C): Vault::read (head, roster), one secret's first use, and
//     Vault::verify_all. Prints JSON.
//
//   escrow-bench-gen append DIR [--count C]
//     Times C journal appends to DIR/escrow.journal through escrow_core (Journal::append, the
//     code every command uses) against the floor: hash + sign + one O_APPEND write + fdatasync
//     of a line of the same size. Prints JSON {append_ms, floor_ms, ratio}.
#include <escrow/atomic_file.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/identity.hpp>
#include <escrow/journal.hpp>
#include <escrow/policy.hpp>
#include <escrow/session.hpp>
#include <escrow/vault.hpp>
#include <escrow/versions.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using namespace escrow;

namespace {

struct Options
{
  fs::path dir;
  std::size_t secrets = 100;
  std::size_t journal = 1;
  std::size_t due = 0;
  std::size_t extra_members = 0;
  std::size_t connectors = 0;
  std::size_t count = 200;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  Timestamp now = 1767225600; // 2026-01-01T00:00:00Z
};

[[noreturn]] void usage(const std::string& problem)
{
  std::cerr << "escrow-bench-gen: " << problem << "\n"
            << "usage: escrow-bench-gen vault DIR --secrets N [--journal M] [--due K] [--extra-members K]"
               " [--connectors C] [--threads T] [--now UNIX]\n"
            << "       escrow-bench-gen append DIR [--count C]\n"
            << "       escrow-bench-gen read DIR [--count C]\n";
  std::exit(2);
}

std::size_t number(const std::string& text)
{
  std::size_t value = 0;
  try {
    std::size_t used = 0;
    value = std::stoull(text, &used);
    if (used != text.size()) {
      usage("not a number: " + text);
    }
  } catch (const std::exception&) {
    usage("not a number: " + text);
  }
  return value;
}

void write_text(const fs::path& path, std::string_view text, unsigned mode = 0644)
{
  AtomicFile file(path, mode);
  file.write(text);
  file.commit();
}

struct People
{
  std::map<std::string, Identity> ids;
  const Identity& operator[](const std::string& name) const { return ids.at(name); }
};

// Everyone in the bench vault, with roles and environments.
struct Person
{
  const char* name;
  std::set<Role> roles;
  std::set<std::string> envs;
};

const std::vector<Person>& cast()
{
  static const std::vector<Person> people = {
    {"alice", {Role::admin, Role::approver, Role::requester}, {"*"}},
    {"bob", {Role::approver, Role::requester}, {"prod"}},
    {"carol", {Role::approver, Role::requester}, {"prod"}},
    {"dave", {Role::approver, Role::requester}, {"prod"}},
    {"erin", {Role::requester}, {"prod"}},
    {"frank", {Role::requester}, {"prod"}},
    {"grace", {Role::requester}, {"prod"}},
    {"henry", {Role::requester}, {"prod"}},
    {"ci", {Role::rotator}, {"prod"}},
  };
  return people;
}

std::string secret_name(std::size_t i)
{
  // Realistic names: a service and a credential kind.
  static const char* kinds[] = {"db-password", "api-key", "oauth-secret", "signing-key", "smtp-password"};
  return fmt::format("prod/svc{:05d}/{}", i, kinds[i % 5]);
}

SecretBytes value_for(std::size_t i)
{
  const std::string hex = canonical::hex(crypto::random_bytes(16));
  return SecretBytes::from(fmt::format("v{}-{}", i, hex));
}

std::string connector_name(std::size_t k)
{
  return fmt::format("sync-{:02d}", k + 1);
}

SecretRecord make_secret(const Vault& vault,
                         const People& people,
                         std::size_t i,
                         bool due,
                         Timestamp now,
                         const Options& options,
                         std::string* current_value)
{
  const Identity& owner = people["erin"];
  SecretRecord secret;
  const auto [env, name] = split_secret_name(secret_name(i));
  secret.env = env;
  secret.name = name;
  secret.owner = "erin";
  secret.purpose = fmt::format("credential {} of service svc{:05d}, used by the app-sync job", i % 5, i);
  secret.tier = "standard";
  secret.connectors = {options.connectors > 0 ? connector_name(i % options.connectors) : std::string("app-sync")};
  secret.every = 30 * 86400;
  secret.custodians = {"bob", "carol", "dave"};
  secret.threshold = 2;
  secret.shared_with = {"alice", "frank", "grace"};
  secret.created_at = now - 90 * 86400;

  const Timestamp v2_at = due ? now - 40 * 86400 : now - 10 * 86400;
  for (std::int64_t v = 1; v <= 2; ++v) {
    VersionPlan plan;
    plan.v = v;
    plan.state = v == 2 ? VersionState::current : VersionState::previous;
    plan.why = v == 1 ? "added" : "rotated (cadence)";
    plan.readers = policy::standing_readers(vault, secret);
    const SecretBytes value = value_for(i);
    if (v == 2 && current_value != nullptr) {
      current_value->assign(reinterpret_cast<const char*>(value.expose().data()), value.size());
    }
    VersionRecord version =
      seal_version(vault, secret, value, plan, v == 2 ? v2_at : secret.created_at, v == 2 ? "ci" : "erin");
    vault.sign(secret, version, v == 2 ? people["ci"] : owner);
    secret.versions.push_back(std::move(version));
  }
  vault.sign_meta(secret, owner);
  return secret;
}

void run_parallel(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& work)
{
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  std::exception_ptr failure;
  std::mutex failure_lock;
  for (unsigned t = 0; t < std::max(1u, threads); ++t) {
    pool.emplace_back([&] {
      try {
        for (std::size_t i = next++; i < count; i = next++) {
          work(i);
        }
      } catch (...) {
        std::lock_guard<std::mutex> guard(failure_lock);
        failure = std::current_exception();
        next = count;
      }
    });
  }
  for (auto& thread : pool) {
    thread.join();
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
}

// The journal: "init", then M-1 entries of the events a team produces most (reveals, execs,
// requests), by the members who would make them. Hashes chain sequentially; signatures are
// made in parallel.
std::string write_journal(const Options& options, const People& people, const Vault& vault, const fs::path& path)
{
  const std::size_t total = std::max<std::size_t>(1, options.journal);
  std::vector<JournalEntry> entries(total);
  static const char* readers[] = {"erin", "frank", "grace", "alice", "ci"};
  static const JournalAction actions[] = {JournalAction::reveal, JournalAction::reveal, JournalAction::reveal, JournalAction::exec,
                                         JournalAction::reveal, JournalAction::reveal, JournalAction::exec,   JournalAction::reveal};
  const std::string host = "bench-host";
  for (std::size_t i = 0; i < total; ++i) {
    JournalEntry& e = entries[i];
    e.ts = options.now - static_cast<Timestamp>(total - i);
    e.host = host;
    e.vault = vault.id_b64();
    if (i == 0) {
      e.actor = "alice";
      e.action = JournalAction::init;
      e.detail = Json{{"revision", 1}};
    } else {
      const std::size_t s = (i * 7919) % std::max<std::size_t>(1, options.secrets);
      e.actor = readers[i % 5];
      e.action = actions[i % 8];
      e.secret = secret_name(s);
      e.env = "prod";
      e.version = 2;
      e.detail = Json{{"via", "standing"}};
    }
  }
  // Pass 1: hashes, in order (each names its parent).
  std::string parent;
  for (auto& e : entries) {
    if (!parent.empty()) {
      e.parents = {parent};
    }
    parent = journal_entry_hash(e);
  }
  // Pass 2: signatures, in parallel.
  std::vector<std::string> lines(total);
  run_parallel(total, options.threads, [&](std::size_t i) {
    JournalEntry& e = entries[i];
    Journal::seal(e, people[e.actor]);
    lines[i] = canonical::dump(to_json(e));
  });
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    fail(ErrorKind::io, "{}: cannot create", path.string());
  }
  std::vector<char> buffer(1 << 20);
  std::setvbuf(file, buffer.data(), _IOFBF, buffer.size());
  for (const auto& line : lines) {
    std::fwrite(line.data(), 1, line.size(), file);
    std::fputc('\n', file);
  }
  if (std::fflush(file) != 0 || ::fsync(::fileno(file)) != 0) {
    fail(ErrorKind::io, "{}: cannot write", path.string());
  }
  std::fclose(file);
  // The vault's journal_head names the entry of its last change (init); reveals and execs
  // follow it without changing the vault, as they do in use.
  return entries.front().hash;
}

int make_vault(const Options& options)
{
  const auto started = std::chrono::steady_clock::now();
  fs::create_directories(options.dir / "ids");
  People people;
  for (const auto& person : cast()) {
    people.ids.emplace(person.name, generate_identity(person.name));
  }
  for (std::size_t k = 0; k < options.extra_members; ++k) {
    const std::string name = fmt::format("m{:05d}", k);
    people.ids.emplace(name, generate_identity(name));
  }
  const Identity& alice = people["alice"];

  Vault vault = Vault::create(alice, options.now - 100 * 86400);
  const auto add_member = [&](const std::string& name, std::set<Role> roles, std::set<std::string> envs) {
    const Identity& id = people[name];
    MemberRecord record;
    record.name = name;
    record.sign_pk = id.pub.sign_pk;
    record.box_pk = id.pub.box_pk;
    record.roles = std::move(roles);
    record.envs = std::move(envs);
    record.added_by = "alice";
    record.added_at = options.now - 99 * 86400;
    vault.sign(record, alice);
    vault.put_member(std::move(record));
  };
  for (const auto& person : cast()) {
    if (std::string(person.name) != "alice") {
      add_member(person.name, person.roles, person.envs);
    }
  }
  for (std::size_t k = 0; k < options.extra_members; ++k) {
    add_member(fmt::format("m{:05d}", k), {Role::requester}, {"prod"});
  }

  const fs::path systems = fs::absolute(options.dir) / "systems";
  const auto add_connector = [&](const std::string& name, const std::string& update, const std::string& verify) {
    ConnectorRecord connector;
    connector.name = name;
    connector.env = "prod";
    connector.kind = ConnectorKind::command;
    connector.update = update;
    connector.verify = verify;
    connector.timeout = 60;
    connector.created_at = options.now - 98 * 86400;
    vault.sign(connector, alice);
    vault.put_connector(std::move(connector));
  };
  if (options.connectors == 0) {
    add_connector("app-sync", "true", "true");
  }
  for (std::size_t k = 0; k < options.connectors; ++k) {
    const std::string store = (systems / connector_name(k)).string();
    add_connector(connector_name(k),
                  fmt::format("mkdir -p \"$(dirname '{0}'/\"$ESCROW_SECRET_NAME\")\" && cat > '{0}'/\"$ESCROW_SECRET_NAME\"", store),
                  fmt::format("cmp -s - '{}'/\"$ESCROW_SECRET_NAME\"", store));
  }

  std::vector<SecretRecord> records(options.secrets);
  std::vector<std::string> current(options.connectors > 0 ? options.secrets : 0);
  run_parallel(options.secrets, options.threads, [&](std::size_t i) {
    records[i] = make_secret(vault, people, i, i < options.due, options.now, options,
                             options.connectors > 0 ? &current[i] : nullptr);
  });
  for (std::size_t i = 0; i < current.size(); ++i) {
    // What the live systems hold: each secret's current value, in its connector's store.
    const fs::path file = systems / connector_name(i % options.connectors) / secret_name(i);
    fs::create_directories(file.parent_path());
    write_text(file, current[i], 0600);
  }
  std::string names;
  for (std::size_t i = 0; i < options.secrets; ++i) {
    names += records[i].full_name() + "\n";
    vault.put_secret(std::move(records[i]));
  }

  const std::string head = write_journal(options, people, vault, options.dir / "escrow.journal");
  const std::string text = vault.serialize(alice, head);
  write_text(options.dir / "escrow.vault", text);
  write_text(options.dir / "names.txt", names);

  const auto write_identity = [&](const std::string& file, const Identity& id, Protection protection,
                                  const SecretBytes* passphrase, const crypto::KdfLimits& limits) {
    write_text(options.dir / "ids" / (file + ".id"), serialize_identity(id, protection, passphrase, limits), 0600);
    write_text(options.dir / "ids" / (file + ".pub"), canonical::dump_pretty(id.pub.to_json()) + "\n");
  };
  for (const auto& [name, id] : people.ids) {
    write_identity(name, id, Protection::none, nullptr, {});
  }
  const Identity newbie = generate_identity("newbie");
  write_identity("newbie", newbie, Protection::none, nullptr, {});
  // erin again, under a passphrase with the default (INTERACTIVE) Argon2id limits.
  const SecretBytes passphrase = SecretBytes::from("correct horse battery staple");
  write_identity("erin-kdf", people["erin"], Protection::passphrase, &passphrase,
                 crypto::kdf_limits(crypto::KdfStrength::interactive));
  write_text(options.dir / "ids" / "passphrase", "correct horse battery staple\n", 0600);

  const double seconds =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << Json{{"dir", options.dir.string()},
                    {"secrets", options.secrets},
                    {"members", vault.members().size()},
                    {"journal_entries", options.journal},
                    {"due", std::min(options.due, options.secrets)},
                    {"vault_bytes", text.size()},
                    {"seconds", seconds}}
                 .dump()
            << "\n";
  return 0;
}

double median(std::vector<double> values)
{
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

// Journal::append through escrow_core, against its floor done by hand.
int time_append(const Options& options)
{
  const fs::path vault_path = options.dir / "escrow.vault";
  const Vault vault = Vault::parse(read_file(vault_path, k_max_vault_size), vault_path.string());
  const SessionOptions session_options = [&] {
    SessionOptions o;
    o.identity_path = options.dir / "ids" / "erin.id";
    return o;
  }();
  const Identity erin = load_identity(session_options);
  const Journal journal(options.dir / "escrow.journal");
  const auto entry = [&] {
    JournalEntry e;
    e.ts = options.now;
    e.action = JournalAction::reveal;
    e.secret = secret_name(0);
    e.env = "prod";
    e.version = 2;
    e.detail = Json{{"via", "standing"}};
    return e;
  };
  std::vector<double> append_ms;
  std::vector<double> floor_ms;
  std::string sample;
  {
    JournalEntry e = entry();
    e.parents = {journal.head()};
    e.vault = vault.id_b64();
    Journal::seal(e, erin);
    sample = canonical::dump(to_json(e)) + "\n";
  }
  const fs::path floor_path = options.dir / "floor.journal";
  const int floor_fd = ::open(floor_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (floor_fd < 0) {
    fail(ErrorKind::io, "{}: cannot create", floor_path.string());
  }
  for (std::size_t i = 0; i < options.count; ++i) {
    // escrow: read the head, complete, hash, sign, append, fdatasync.
    auto t0 = std::chrono::steady_clock::now();
    (void)journal.append(entry(), erin, vault.id_b64());
    auto t1 = std::chrono::steady_clock::now();
    append_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    // floor: hash + sign a line of the same size, one O_APPEND write, one fdatasync.
    t0 = std::chrono::steady_clock::now();
    const crypto::Hash digest = crypto::hash("escrow/v1/journal", as_bytes(sample));
    const crypto::Signature sig = crypto::sign("escrow/v1/journal", digest, erin.sign_sk);
    (void)sig;
    if (::write(floor_fd, sample.data(), sample.size()) != static_cast<ssize_t>(sample.size())
        || ::fdatasync(floor_fd) != 0) {
      fail(ErrorKind::io, "{}: cannot write", floor_path.string());
    }
    t1 = std::chrono::steady_clock::now();
    floor_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  ::close(floor_fd);
  fs::remove(floor_path);
  const double a = median(append_ms);
  const double f = median(floor_ms);
  std::cout << Json{{"count", options.count}, {"append_ms", a}, {"floor_ms", f}, {"ratio", f > 0 ? a / f : 0}}.dump()
            << "\n";
  return 0;
}

// In-process costs of reading, without process start-up or fsync: Vault::read of DIR's vault
// (head, roster), then one secret (located, hashed, parsed, verified), then every record.
int time_read(const Options& options)
{
  const fs::path path = options.dir / "escrow.vault";
  std::vector<std::string> names;
  {
    std::istringstream lines(read_file(options.dir / "names.txt", std::size_t{1} << 30));
    for (std::string line; std::getline(lines, line);) {
      names.push_back(line);
    }
  }
  const std::string name = names.empty() ? std::string() : names[(names.size() - 1) / 2];
  std::vector<double> open_ms;
  std::vector<double> get_ms;
  for (std::size_t i = 0; i < options.count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const Vault vault = Vault::read(path);
    const auto t1 = std::chrono::steady_clock::now();
    if (!name.empty()) {
      (void)vault.secret(name);
    }
    const auto t2 = std::chrono::steady_clock::now();
    open_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    get_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Vault vault = Vault::read(path);
  vault.verify_all();
  const auto t1 = std::chrono::steady_clock::now();
  std::cout << Json{{"count", options.count},
                    {"read_ms", median(open_ms)},
                    {"one_secret_ms", median(get_ms)},
                    {"verify_all_ms", std::chrono::duration<double, std::milli>(t1 - t0).count()},
                    {"signatures", vault.verified_signatures()}}
                 .dump()
            << "\n";
  return 0;
}

} // namespace

int main(int argc, char* argv[])
{
  crypto::init();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 2) {
    usage("missing arguments");
  }
  Options options;
  const std::string command = args[0];
  options.dir = args[1];
  for (std::size_t i = 2; i < args.size(); ++i) {
    const auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        usage(args[i] + " needs a value");
      }
      return args[++i];
    };
    const std::string& flag = args[i];
    if (flag == "--secrets") {
      options.secrets = number(value());
    } else if (flag == "--journal") {
      options.journal = number(value());
    } else if (flag == "--due") {
      options.due = number(value());
    } else if (flag == "--connectors") {
      options.connectors = number(value());
    } else if (flag == "--extra-members") {
      options.extra_members = number(value());
    } else if (flag == "--threads") {
      options.threads = static_cast<unsigned>(number(value()));
    } else if (flag == "--now") {
      options.now = static_cast<Timestamp>(number(value()));
    } else if (flag == "--count") {
      options.count = number(value());
    } else {
      usage("unknown option " + flag);
    }
  }
  try {
    if (command == "vault") {
      return make_vault(options);
    }
    if (command == "append") {
      return time_append(options);
    }
    if (command == "read") {
      return time_read(options);
    }
    usage("unknown command " + command);
  } catch (const Error& error) {
    std::cerr << "escrow-bench-gen: " << error.what() << "\n";
    return error.exit_code();
  }
}
