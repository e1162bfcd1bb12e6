// escrow-bench-gen: writes real, verifiable escrow-vault/2 vaults for bench/run and
// tests/recovery/rto.sh, through the history library (the entries, operations, predicates,
// writes and key material the escrow binary uses: history::authorize, history::apply,
// material.hpp). Every operation is authorised and applied as VaultSession::submit does it, so
// `escrow verify` replays the result from its bytes.
//
//   escrow-bench-gen vault DIR --secrets N [--journal M] [--due K] [--extra-members K]
//                              [--connectors C] [--threads T] [--now UNIX]
//     DIR/escrow.vault, DIR/escrow.journal, DIR/escrow.keys   the vault (escrow-vault/2)
//     DIR/ids/<name>.id, DIR/ids/<name>.pub     identities without a passphrase
//     DIR/ids/erin-kdf.id, DIR/ids/passphrase   erin's keys under Argon2id INTERACTIVE limits
//     DIR/ids/newbie.id|.pub                    a person who is not a member yet
//     DIR/names.txt                             every secret's ENV/NAME, one a line
//
// The history, in journal order (every operation as the command that makes it would write it):
//   init by alice (now - 100 days; the genesis admin holds the admin role only, as `escrow init`
//   gives it), member-add of bob, carol, dave (approver, requester), erin, frank, grace, henry
//   (requester), ci (rotator), all of prod, and of --extra-members m00000.. (requester, prod);
//   connector-add (alice); secret-add of every secret by its owner erin (now - 90 days); three
//   bulk `share` operations (erin shares every secret with alice, frank and grace: one operation
//   each, at most 10,000 items, as `escrow share 'prod/*' --with M`); then the rotation that made
//   each secret's v2 (ci: one bulk rotate-start and one rotate-finish for the --due secrets at
//   now - 40 days, the same for the others at now - 10 days, as `escrow rotate --due` batches
//   them); then reveal and exec events by the readers up to M entries in all.
// So the shape of every secret (issue 6) is: owner erin; standing access for 5 members (erin, the
// rotator ci, and alice, frank, grace by explicit share); custodians bob, carol, dave, 2 of 3;
// 2 retained versions (v1 previous, v2 current, one reader-key generation); one connector
// (prod/app-sync, `true`). The first K secrets (--due) are overdue for rotation (cadence 30 days),
// the rest are not.
// With --connectors C (the recovery drill, tests/recovery/rto.sh): C connectors sync-01..sync-C
// instead, secret i bound to sync-(i mod C), each a "system" that keeps its values in
// DIR/systems/sync-NN/ENV/NAME (update writes the value read from stdin there; verify compares).
// The generator writes every secret's current value there, as a live system would hold it.
// henry is a requester without standing access (request + approve + get).
// --journal M: the journal holds M entries in all (at least the operations above; the rest are
// reveal and exec events). The head file names the last operation (reads do not rewrite it).
//
//   escrow-bench-gen read DIR [--count C]
//     In-process costs (median of C) with a private state folder: the first VaultSession::open
//     (no cache: the full replay, as on a fresh clone), then open on the fast path (the cached
//     state, nothing new), one secret's value (keys file opened, erin's rk line → RK → DK →
//     value), and history::verify (everything from the bytes). Prints JSON.
//
//   escrow-bench-gen append DIR [--count C]
//     Times C reveal events journaled through escrow_core (VaultSession::record on a read
//     session, the code `escrow get` uses: lock, catch up, hash, sign, O_APPEND write, fdatasync,
//     unlock) against the floor: hash + sign + one O_APPEND write + fdatasync of a line of the
//     same size. Prints JSON {append_ms, floor_ms, ratio}.
#include <escrow/atomic_file.hpp>
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/history/apply.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/history/labels.hpp>
#include <escrow/history/material.hpp>
#include <escrow/history/state.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/history/verify.hpp>
#include <escrow/identity.hpp>

#include <fmt/format.h>

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
using namespace escrow::history;

namespace {

constexpr Timestamp k_day = 86400;

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
            << "       escrow-bench-gen append DIR [--count C] [--now UNIX]\n"
            << "       escrow-bench-gen read DIR [--count C] [--now UNIX]\n";
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

// Everyone in the bench vault, with roles and environments (alice, the genesis admin, is
// admin of "*" and nothing else: nobody promotes themselves on escrow-vault/2).
struct Person
{
  const char* name;
  std::set<Role> roles;
  std::set<std::string> envs;
};

const std::vector<Person>& cast()
{
  static const std::vector<Person> people = {
    {"alice", {Role::admin}, {"*"}},
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

const std::vector<std::string>& sharees()
{
  static const std::vector<std::string> names = {"alice", "frank", "grace"};
  return names;
}

const std::set<std::string>& custodian_names()
{
  static const std::set<std::string> names = {"bob", "carol", "dave"};
  return names;
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

struct People
{
  std::map<std::string, Identity> ids;
  const Identity& operator[](const std::string& name) const { return ids.at(name); }
};

// An operation entry as VaultSession::submit builds it before sealing: the key lines it adds
// listed first, structure checked, authorised against `before`, its writes computed. The
// vault id, parents and hash are set when it joins the journal (Journal::add).
Entry operation(const State& before, const VaultId& vault, const std::string& actor, Timestamp ts, Args args,
                const std::vector<SealedLine>& lines, std::optional<std::string> why = std::nullopt)
{
  Entry e;
  e.vault = vault;
  e.actor = actor;
  e.ts = ts;
  e.host = "bench-host";
  e.action = kind_of(args);
  e.result = Result::ok;
  e.why = std::move(why);
  Op op;
  op.args = std::move(args);
  for (const SealedLine& line : lines) {
    const std::optional<KeyLine> parsed = parse_line_key(line.key());
    if (!parsed) {
      fail(ErrorKind::failed, "internal: key line {} has no v2 name", line.key());
    }
    op.writes.push_back(Write{key_path(*parsed, line.hash), std::nullopt, line.hash});
  }
  std::sort(op.writes.begin(), op.writes.end(), [](const Write& a, const Write& b) { return a.path < b.path; });
  e.op = std::move(op);
  check_args(*e.op, ErrorKind::usage, "escrow-bench-gen");
  require_authorized(before, e, ErrorKind::failed, "escrow-bench-gen");
  e.op->writes = compute_writes(before, e);
  return e;
}

// The journal being written: entries join it in order (parents = the previous entry, hash
// chained sequentially), are signed on every core and written as lines.
class Journal
{
public:
  Journal(const fs::path& path, const People& people, unsigned threads)
    : m_path(path), m_people(people), m_threads(threads)
  {
    m_file = std::fopen(path.c_str(), "wbx");
    if (m_file == nullptr) {
      fail(ErrorKind::io, "{}: cannot create (remove the folder first)", path.string());
    }
    m_buffer.resize(std::size_t{1} << 20);
    std::setvbuf(m_file, m_buffer.data(), _IOFBF, m_buffer.size());
  }
  ~Journal()
  {
    if (m_file != nullptr) {
      std::fclose(m_file);
    }
  }

  void add(std::vector<Entry>& batch)
  {
    for (Entry& e : batch) {
      if (m_count == 0) {
        e.genesis_format = true;
        e.parents.clear();
      } else {
        e.parents = {m_last};
        if (e.ts < m_ts) {
          // An operation's writes depend on its ts (created_at, since): never clamp after the fact.
          fail(ErrorKind::failed, "internal: entry {} dated before its parent", m_count);
        }
      }
      e.hash = compute_hash(e);
      m_last = e.hash;
      m_ts = e.ts;
      ++m_count;
      if (e.op) {
        m_last_op = e.hash;
        m_ops = m_count;
      }
    }
    std::vector<std::string> lines(batch.size());
    run_parallel(batch.size(), m_threads, [&](std::size_t i) {
      Entry& e = batch[i];
      check_entry(e, ErrorKind::failed, "escrow-bench-gen");
      e.sig = m_people[e.actor].sign(labels::k_entry_sig, ByteView(e.hash.data(), e.hash.size()));
      lines[i] = dump_entry(e);
    });
    for (const std::string& line : lines) {
      std::fwrite(line.data(), 1, line.size(), m_file);
      std::fputc('\n', m_file);
    }
  }

  void close()
  {
    if (std::fflush(m_file) != 0 || ::fsync(::fileno(m_file)) != 0 || std::fclose(m_file) != 0) {
      m_file = nullptr;
      fail(ErrorKind::io, "{}: cannot write", m_path.string());
    }
    m_file = nullptr;
  }

  std::size_t count() const { return m_count; }
  std::size_t operations() const { return m_ops; }
  const Hash& last_operation() const { return m_last_op; }
  Timestamp last_ts() const { return m_ts; }

private:
  fs::path m_path;
  const People& m_people;
  unsigned m_threads;
  std::FILE* m_file = nullptr;
  std::vector<char> m_buffer;
  std::size_t m_count = 0;
  std::size_t m_ops = 0;
  Hash m_last{};
  Hash m_last_op{};
  Timestamp m_ts = 0;
};

// Applies a base operation (roster, connectors) to the state and adds it to `batch`.
void base_op(State& state, std::vector<Entry>& batch, const VaultId& vault, const std::string& actor, Timestamp ts,
             Args args)
{
  Entry e = operation(state, vault, actor, ts, std::move(args), {});
  apply(state, e, "escrow-bench-gen");
  batch.push_back(std::move(e));
}

// Everything one secret contributes: its secret-add entry, its item (and that item's writes) in
// each bulk operation, its key lines, the value its connector's system holds.
struct SecretWork
{
  Entry add;
  std::vector<std::pair<ShareItem, std::vector<Write>>> shares; // one per sharee, in sharees() order
  RotateItem rotate;
  std::vector<Write> rotate_writes;
  FinishItem finish;
  std::vector<Write> finish_writes;
  std::vector<SealedLine> lines;      // every key line its operations add
  std::set<std::string> deleted;      // line keys its operations delete
  std::string current;                // the v2 value (--connectors only)
};

// Builds one secret's history against `base` (the state after the roster and connectors, no
// secrets): each operation alone on a private copy, authorised and applied as the bulk operation
// will be for this item. The items of a bulk operation touch only their own secret's record and
// key lines, so the bulk entry's writes are the union of its items' writes.
SecretWork build_secret(const State& base, const VaultId& vault, const Options& options, std::size_t i,
                        Timestamp added_at, Timestamp rotated_at)
{
  SecretWork w;
  State state = base;
  const std::string name = secret_name(i);
  const SecretRef ref{vault, name};
  const auto recipient = [&](const std::string& member) {
    const Member* m = state.member(member);
    return Recipient{m->name, m->box_pk};
  };
  std::vector<Recipient> custodians;
  for (const std::string& c : custodian_names()) {
    custodians.push_back(recipient(c));
  }
  const auto collect = [&](const Entry& e) {
    for (const Write& write : e.op->writes) {
      if (write.path.rfind("k:", 0) == 0 && !write.after) {
        const std::optional<ParsedPath> parsed = parse_path(write.path);
        w.deleted.insert(line_key(*parsed->key, *write.before));
      }
    }
  };

  // secret-add (erin): generation 1 sealed to the standing readers of the new secret (erin, ci),
  // v1, the custodians' shares.
  const ReaderKey gen = new_generation(ref, 1);
  SealedVersion v1 = seal_value(ref, gen, value_for(i));
  SecretAddArgs add;
  add.secret = name;
  add.owner = "erin";
  add.purpose = fmt::format("credential {} of service svc{:05d}, used by the app-sync job", i % 5, i);
  add.tier = "standard";
  add.connectors = {options.connectors > 0 ? connector_name(i % options.connectors) : std::string("app-sync")};
  add.every = 30 * k_day;
  add.custodians = custodian_names();
  add.threshold = 2;
  add.version.vid = v1.vid.hex();
  add.version.rk_commit = gen.commit;
  add.version.dk_commit = v1.commit;
  std::vector<SealedLine> lines;
  {
    Secret draft;
    draft.env = "prod";
    draft.name = name;
    draft.owner = "erin";
    for (const std::string& reader : standing_readers(state, draft)) {
      lines.push_back(seal_reader_key(ref, gen, recipient(reader)));
    }
  }
  lines.push_back(v1.value_line);
  for (SealedLine& line : seal_shares(ref, v1.vid, v1.data_key, 2, custodians)) {
    lines.push_back(std::move(line));
  }
  w.add = operation(state, vault, "erin", added_at, std::move(add), lines);
  apply(state, w.add, "escrow-bench-gen");
  w.lines.insert(w.lines.end(), lines.begin(), lines.end());

  // share (erin → alice, frank, grace): generation 1 sealed to each.
  for (const std::string& member : sharees()) {
    ShareItem item{name, {1}};
    const SealedLine line = seal_reader_key(ref, gen, recipient(member));
    Entry e = operation(state, vault, "erin", added_at, ShareArgs{member, {item}}, {line});
    apply(state, e, "escrow-bench-gen");
    w.lines.push_back(line);
    w.shares.emplace_back(std::move(item), std::move(e.op->writes));
  }

  // rotate-start (ci): v2 under the same generation (it is clean: everyone who holds it is a
  // standing reader), its shares; then rotate-finish (v2 current, v1 previous).
  const SecretBytes value2 = value_for(i);
  if (options.connectors > 0) {
    w.current.assign(reinterpret_cast<const char*>(value2.expose().data()), value2.size());
  }
  SealedVersion v2 = seal_value(ref, gen, value2);
  RotateItem item;
  item.kind = RotationKind::rotate;
  item.secret = name;
  item.vid = v2.vid.hex();
  item.v = 2;
  item.gen = 1;
  item.dk_commit = v2.commit;
  item.custodians = custodian_names();
  item.threshold = 2;
  item.why = "cadence";
  lines = {v2.value_line};
  for (SealedLine& line : seal_shares(ref, v2.vid, v2.data_key, 2, custodians)) {
    lines.push_back(std::move(line));
  }
  Entry start = operation(state, vault, "ci", rotated_at, RotateStartArgs{{item}}, lines);
  apply(state, start, "escrow-bench-gen");
  collect(start);
  w.lines.insert(w.lines.end(), lines.begin(), lines.end());
  w.rotate = std::move(item);
  w.rotate_writes = std::move(start.op->writes);
  w.finish = FinishItem{name, v2.vid.hex()};
  Entry finish = operation(state, vault, "ci", rotated_at, RotateFinishArgs{{w.finish}}, {});
  apply(state, finish, "escrow-bench-gen");
  collect(finish);
  w.finish_writes = std::move(finish.op->writes);
  return w;
}

// A bulk entry from its items' writes: authorised as a whole against nothing more (each item was
// authorised alone against its secret's state); the writes merged in path order.
Entry bulk(const VaultId& vault, const std::string& actor, Timestamp ts, Args args,
           std::vector<const std::vector<Write>*> parts)
{
  Entry e;
  e.vault = vault;
  e.actor = actor;
  e.ts = ts;
  e.host = "bench-host";
  e.action = kind_of(args);
  e.result = Result::ok;
  Op op;
  op.args = std::move(args);
  for (const std::vector<Write>* part : parts) {
    op.writes.insert(op.writes.end(), part->begin(), part->end());
  }
  std::sort(op.writes.begin(), op.writes.end(), [](const Write& a, const Write& b) { return a.path < b.path; });
  e.op = std::move(op);
  return e;
}

int make_vault(const Options& options)
{
  const auto started = std::chrono::steady_clock::now();
  if (fs::exists(options.dir / "escrow.vault") || fs::exists(options.dir / "escrow.journal")) {
    fail(ErrorKind::usage, "{}: already holds a vault", options.dir.string());
  }
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
  const Timestamp created = options.now - 100 * k_day;
  const Timestamp added_at = options.now - 90 * k_day;
  const Timestamp due_at = options.now - 40 * k_day;
  const Timestamp fresh_at = options.now - 10 * k_day;

  // init, the roster, the connectors: applied in order to the state every secret starts from.
  InitArgs init;
  init.member.name = "alice";
  init.member.sign_pk = alice.pub.sign_pk;
  init.member.box_pk = alice.pub.box_pk;
  const Bytes salt = crypto::random_bytes(init.member.salt.size());
  std::copy(salt.begin(), salt.end(), init.member.salt.begin());
  init.policy.envs["*"] = EnvPolicy{};
  const VaultId vault = derive_vault_id(init.member, created);
  State state;
  std::vector<Entry> batch;
  {
    Entry genesis;
    genesis.genesis_format = true;
    genesis.vault = vault;
    genesis.actor = "alice";
    genesis.ts = created;
    genesis.host = "bench-host";
    genesis.action = OpKind::init;
    genesis.result = Result::ok;
    genesis.op = Op{init, {}};
    check_args(*genesis.op, ErrorKind::failed, "escrow-bench-gen");
    require_authorized(state, genesis, ErrorKind::failed, "escrow-bench-gen");
    genesis.op->writes = compute_writes(state, genesis);
    apply(state, genesis, "escrow-bench-gen");
    batch.push_back(std::move(genesis));
  }
  const auto add_member = [&](const std::string& name, std::set<Role> roles, std::set<std::string> envs) {
    const Identity& id = people[name];
    base_op(state, batch, vault, "alice", created + k_day,
            MemberAddArgs{name, id.pub.sign_pk, id.pub.box_pk, std::move(roles), std::move(envs)});
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
    ConnectorAddArgs connector;
    connector.name = name;
    connector.env = "prod";
    connector.kind = ConnectorKind::command;
    connector.update = update;
    connector.verify = verify;
    connector.timeout = 60;
    base_op(state, batch, vault, "alice", created + 2 * k_day, std::move(connector));
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

  Journal journal(options.dir / "escrow.journal", people, options.threads);
  journal.add(batch);
  batch.clear();

  // Every secret's operations, on every core.
  std::vector<SecretWork> work(options.secrets);
  run_parallel(options.secrets, options.threads, [&](std::size_t i) {
    work[i] = build_secret(state, vault, options, i, added_at, i < options.due ? due_at : fresh_at);
  });

  // secret-add, one entry per secret, in name order (secret_name is zero-padded: i order).
  for (SecretWork& w : work) {
    batch.push_back(std::move(w.add));
  }
  journal.add(batch);
  batch.clear();

  // The bulk operations: at most k_max_items items and 4 * k_max_items + 16 writes each (op.cpp's
  // limits: a rotate-start item writes 5 paths with 3 custodians, so ~8,000 items an entry).
  // `writes(i)` is item i's number of writes.
  const auto chunks = [&](std::size_t from, std::size_t to, const std::function<std::size_t(std::size_t)>& writes,
                          const std::function<void(std::size_t, std::size_t)>& emit) {
    std::size_t a = from;
    while (a < to) {
      std::size_t b = a;
      std::size_t total = 0;
      while (b < to && b - a < k_max_items && total + writes(b) <= 4 * k_max_items + 16) {
        total += writes(b);
        ++b;
      }
      emit(a, b);
      a = b;
    }
  };
  for (std::size_t s = 0; s < sharees().size(); ++s) {
    chunks(0, work.size(), [&](std::size_t i) { return work[i].shares[s].second.size(); },
           [&](std::size_t a, std::size_t b) {
             ShareArgs args{sharees()[s], {}};
             std::vector<const std::vector<Write>*> parts;
             for (std::size_t i = a; i < b; ++i) {
               args.items.push_back(work[i].shares[s].first);
               parts.push_back(&work[i].shares[s].second);
             }
             batch.push_back(bulk(vault, "erin", added_at, std::move(args), std::move(parts)));
           });
  }
  const auto rotation = [&](std::size_t from, std::size_t to, Timestamp at) {
    const auto writes = [&](std::size_t i) { return std::max(work[i].rotate_writes.size(), work[i].finish_writes.size()); };
    chunks(from, to, writes, [&](std::size_t a, std::size_t b) {
      RotateStartArgs start;
      std::vector<const std::vector<Write>*> parts;
      for (std::size_t i = a; i < b; ++i) {
        start.items.push_back(work[i].rotate);
        parts.push_back(&work[i].rotate_writes);
      }
      batch.push_back(bulk(vault, "ci", at, std::move(start), std::move(parts)));
    });
    // Every pending version reaches the journal before any finish (as `rotate --due` writes them).
    chunks(from, to, writes, [&](std::size_t a, std::size_t b) {
      RotateFinishArgs finish;
      std::vector<const std::vector<Write>*> parts;
      for (std::size_t i = a; i < b; ++i) {
        finish.items.push_back(work[i].finish);
        parts.push_back(&work[i].finish_writes);
      }
      batch.push_back(bulk(vault, "ci", at, std::move(finish), std::move(parts)));
    });
  };
  const std::size_t due = std::min(options.due, options.secrets);
  rotation(0, due, due_at);
  rotation(due, options.secrets, fresh_at);
  journal.add(batch);
  batch.clear();
  const std::size_t operations = journal.count();

  // Events up to M entries: reveals and execs by the readers, between the last operation and now.
  static const char* readers[] = {"erin", "frank", "grace", "alice", "ci"};
  const std::size_t events = options.journal > operations ? options.journal - operations : 0;
  const Timestamp from = journal.last_ts();
  const Timestamp span = std::max<Timestamp>(0, options.now - 60 - from);
  constexpr std::size_t k_block = 1 << 16;
  for (std::size_t done = 0; done < events; done += k_block) {
    const std::size_t n = std::min(k_block, events - done);
    batch.resize(n);
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t i = done + j;
      Entry& e = batch[j];
      e = Entry{};
      e.vault = vault;
      e.actor = readers[i % 5];
      e.ts = from + static_cast<Timestamp>((static_cast<long double>(i) * span) / events);
      e.host = "bench-host";
      e.result = Result::ok;
      const std::string secret = options.secrets > 0 ? secret_name((i * 7919) % options.secrets) : "prod/none";
      if (i % 8 == 3 || i % 8 == 6) {
        e.action = EventKind::exec;
        e.detail = Json{{"program", "deploy"}, {"secret", secret}, {"variable", "APP_SECRET"}, {"version", 2},
                        {"via", "reader"}};
      } else {
        e.action = EventKind::reveal;
        e.detail = Json{{"secret", secret}, {"version", 2}, {"via", "reader"}};
      }
    }
    journal.add(batch);
  }
  batch.clear();
  journal.close();

  // The keys file: every line the operations added, less those they deleted.
  std::vector<SealedLine> lines;
  std::string names;
  for (std::size_t i = 0; i < work.size(); ++i) {
    for (SealedLine& line : work[i].lines) {
      if (work[i].deleted.count(line.key()) == 0) {
        lines.push_back(std::move(line));
      }
    }
    names += secret_name(i) + "\n";
  }
  {
    AtomicFile keys(options.dir / "escrow.keys", 0644);
    keys.write(serialize_keys(vault, lines));
    keys.commit();
  }
  const std::string head = serialize_head_file(HeadFile{vault, {journal.last_operation()}, journal.operations()});
  write_text(options.dir / "escrow.vault", head);
  write_text(options.dir / "names.txt", names);

  // What the live systems hold: each secret's current value, in its connector's store.
  for (std::size_t i = 0; i < options.secrets && options.connectors > 0; ++i) {
    const fs::path file = systems / connector_name(i % options.connectors) / secret_name(i);
    fs::create_directories(file.parent_path());
    write_text(file, work[i].current, 0600);
  }

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

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << Json{{"dir", options.dir.string()},
                    {"format", "escrow-vault/2"},
                    {"secrets", options.secrets},
                    {"members", state.members.size()},
                    {"journal_entries", journal.count()},
                    {"operations", operations},
                    {"due", due},
                    {"key_lines", lines.size()},
                    {"vault_bytes", fs::file_size(options.dir / "escrow.vault")},
                    {"journal_bytes", fs::file_size(options.dir / "escrow.journal")},
                    {"keys_bytes", fs::file_size(options.dir / "escrow.keys")},
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

double ms_since(std::chrono::steady_clock::time_point t0)
{
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Identity read_identity(const fs::path& path)
{
  const std::string text = read_file(path, 64 * 1024);
  return open_identity(canonical::parse(text, path.string()), nullptr, path.string());
}

// A session's options on DIR's vault as erin, with a private state folder (the cache place).
VaultSessionOptions session_options(const Options& options, const fs::path& state_home)
{
  VaultSessionOptions o;
  o.vault_path = options.dir / "escrow.vault";
  o.state_home = state_home;
  o.clock = Clock::fixed(options.now + 3600);
  o.host = "bench-host";
  const fs::path id = options.dir / "ids" / "erin.id";
  o.identity = [id] { return read_identity(id); };
  return o;
}

// A fresh, private state folder under DIR (removed afterwards).
struct StateHome
{
  fs::path path;
  explicit StateHome(const fs::path& dir) : path(dir / fmt::format("bench-state.{}", ::getpid()))
  {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~StateHome()
  {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// VaultSession::record of a reveal (what `escrow get` journals) against its floor done by hand.
int time_append(const Options& options)
{
  const StateHome home(options.dir);
  VaultSession session = VaultSession::open(session_options(options, home.path), Access::read);
  const Identity& erin = session.identity();
  const Json detail{{"secret", secret_name(0)}, {"version", 2}, {"via", "reader"}};
  std::vector<double> append_ms;
  std::vector<double> floor_ms;
  std::string sample;
  {
    Entry e;
    e.vault = session.vault_id();
    e.actor = "erin";
    e.ts = options.now;
    e.host = "bench-host";
    e.parents = session.heads();
    e.action = EventKind::reveal;
    e.detail = detail;
    seal_entry(e, erin);
    sample = dump_entry(e) + "\n";
  }
  const fs::path floor_path = options.dir / "floor.journal";
  const int floor_fd = ::open(floor_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (floor_fd < 0) {
    fail(ErrorKind::io, "{}: cannot create", floor_path.string());
  }
  for (std::size_t i = 0; i < options.count; ++i) {
    // escrow: lock, catch up, complete, hash, sign, append, fdatasync, unlock.
    auto t0 = std::chrono::steady_clock::now();
    (void)session.record(EventKind::reveal, Result::ok, detail);
    append_ms.push_back(ms_since(t0));
    // floor: hash + sign a line of the same size, one O_APPEND write, one fdatasync.
    t0 = std::chrono::steady_clock::now();
    const crypto::Hash digest = crypto::hash(labels::k_entry, as_bytes(sample));
    const crypto::Signature sig = erin.sign(labels::k_entry_sig, ByteView(digest.data(), digest.size()));
    (void)sig;
    if (::write(floor_fd, sample.data(), sample.size()) != static_cast<ssize_t>(sample.size())
        || ::fdatasync(floor_fd) != 0) {
      fail(ErrorKind::io, "{}: cannot write", floor_path.string());
    }
    floor_ms.push_back(ms_since(t0));
  }
  ::close(floor_fd);
  fs::remove(floor_path);
  const double a = median(append_ms);
  const double f = median(floor_ms);
  std::cout << Json{{"count", options.count}, {"append_ms", a}, {"floor_ms", f}, {"ratio", f > 0 ? a / f : 0}}.dump()
            << "\n";
  return 0;
}

// In-process costs of reading, without process start-up: the first open (full replay), the fast
// path, one secret's value, the whole vault verified from its bytes.
int time_read(const Options& options)
{
  std::vector<std::string> names;
  {
    std::istringstream lines(read_file(options.dir / "names.txt", std::size_t{1} << 30));
    for (std::string line; std::getline(lines, line);) {
      names.push_back(line);
    }
  }
  const std::string name = names.empty() ? std::string() : names[(names.size() - 1) / 2];
  const StateHome home(options.dir);
  auto t0 = std::chrono::steady_clock::now();
  std::size_t entries = 0;
  {
    VaultSession first = VaultSession::open(session_options(options, home.path), Access::read);
    if (first.fast_path()) {
      fail(ErrorKind::failed, "internal: a fresh state folder took the fast path");
    }
    entries = first.head_file().entries;
  }
  const double replay_ms = ms_since(t0);
  std::vector<double> open_ms;
  std::vector<double> get_ms;
  for (std::size_t i = 0; i < options.count; ++i) {
    t0 = std::chrono::steady_clock::now();
    VaultSession session = VaultSession::open(session_options(options, home.path), Access::read);
    open_ms.push_back(ms_since(t0));
    if (!session.fast_path()) {
      fail(ErrorKind::failed, "internal: the cached state was not continued");
    }
    if (name.empty()) {
      continue;
    }
    t0 = std::chrono::steady_clock::now();
    const Secret* secret = session.state().secret(name);
    std::string vid;
    const Version* version = secret == nullptr ? nullptr : secret->find_state(VersionState::current, &vid);
    if (version == nullptr) {
      fail(ErrorKind::failed, "{}: no current version", name);
    }
    const Generation& gen = secret->gens.at(version->gen);
    const SecretRef ref{session.vault_id(), name};
    const VersionRef vref{*Vid::from_hex(vid), static_cast<std::uint32_t>(version->gen), version->dk_commit,
                          version->material};
    const GenerationRef gref{static_cast<std::uint32_t>(version->gen), gen.rk_commit};
    const SecretBytes dk = open_as_reader(session.keys(), ref, vref, gref, gen.holders.at("erin"), session.identity());
    const SecretBytes value = decrypt_value(session.keys(), ref, vref, dk);
    get_ms.push_back(ms_since(t0));
    if (value.size() == 0) {
      fail(ErrorKind::failed, "{}: empty value", name);
    }
  }
  t0 = std::chrono::steady_clock::now();
  VaultSession session = VaultSession::open(session_options(options, home.path), Access::read);
  const VaultCheck check = verify(session);
  const double verify_ms = ms_since(t0);
  std::cout << Json{{"count", options.count},
                    {"entries_at_head", entries},
                    {"first_open_ms", replay_ms},
                    {"open_ms", median(open_ms)},
                    {"one_secret_ms", median(get_ms)},
                    {"verify_ms", verify_ms},
                    {"signatures", check.signatures},
                    {"key_lines", check.key_lines}}
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
