// Support for the v2 store / cache / session tests: a temporary vault folder with its own state
// home, identities, snapshots of every file for byte-identical checks, and operations with real
// key material.
#pragma once

#include <escrow/atomic_file.hpp>
#include <escrow/history/apply.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/material.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/identity.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <unistd.h>

namespace v2_test {

using namespace escrow;
using namespace escrow::history;
namespace fs = std::filesystem;

inline std::string slurp(const fs::path& path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void spit(const fs::path& path, std::string_view text)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Every file under `dir` (relative path → bytes), for byte-identical checks.
inline std::map<std::string, std::string> snapshot(const fs::path& dir)
{
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) {
    return out;
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      out[fs::relative(entry.path(), dir).string()] = slurp(entry.path());
    }
  }
  return out;
}

inline PolicyValue star_policy()
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

// Identities are move-only (their keys live in locked memory): a copy through the file format.
inline Identity copy(const Identity& id)
{
  const std::string text = serialize_identity(id, Protection::none, nullptr, identity_kdf("interactive", true));
  return open_identity(canonical::parse(text, "identity"), nullptr, "identity");
}

class Fixture
{
public:
  fs::path root;
  fs::path vault_dir;
  fs::path state_home;
  Timestamp now = 1796119200; // 2026-12-01T10:00:00Z
  std::shared_ptr<std::map<std::string, Identity>> ids = std::make_shared<std::map<std::string, Identity>>();

  Fixture()
  {
    static int counter = 0;
    root = fs::temp_directory_path() / fmt::format("escrow-v2-{}-{}", ::getpid(), ++counter);
    fs::remove_all(root);
    vault_dir = root / "repo";
    state_home = root / "state";
    fs::create_directories(vault_dir);
    fs::create_directories(state_home);
  }
  ~Fixture() { fs::remove_all(root); }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  fs::path head() const { return vault_dir / "escrow.vault"; }
  fs::path journal() const { return vault_dir / "escrow.journal"; }
  fs::path keys() const { return vault_dir / "escrow.keys"; }

  Identity& id(const std::string& name)
  {
    auto it = ids->find(name);
    if (it == ids->end()) {
      it = ids->emplace(name, generate_identity(name)).first;
    }
    return it->second;
  }

  // Options acting as `actor` ("" = no identity: a public read); the clock advances a minute per
  // call so entries differ.
  VaultSessionOptions options(const std::string& actor = "alice")
  {
    VaultSessionOptions o;
    o.vault_path = head();
    o.state_home = state_home;
    o.clock = Clock::fixed(now);
    now += 60;
    o.host = "test";
    o.lock_wait = std::chrono::milliseconds(200);
    if (!actor.empty()) {
      auto ids_copy = ids;
      id(actor);
      o.identity = [ids_copy, actor] { return copy(ids_copy->at(actor)); };
    }
    return o;
  }

  VaultSession init(const std::string& admin = "alice") { return VaultSession::create(options(admin), star_policy()); }

  std::map<std::string, std::string> vault_files() const { return snapshot(vault_dir); }
  std::map<std::string, std::string> cache_files() const { return snapshot(state_home); }
};

inline MemberAddArgs member(Fixture& f, const std::string& name, std::set<Role> roles, std::set<std::string> envs)
{
  MemberAddArgs a;
  a.name = name;
  a.sign_pk = f.id(name).pub.sign_pk;
  a.box_pk = f.id(name).pub.box_pk;
  a.roles = std::move(roles);
  a.envs = std::move(envs);
  return a;
}

// A secret-add of `secret` owned by alice (standing reader), custodian bob (threshold 1), with its
// real key material (material.hpp): one rk line, the v line, one sh line.
struct SecretAdd
{
  SecretAddArgs args;
  Material material;
};
inline SecretAdd secret_add(Fixture& f, const VaultId& vault, const std::string& secret, std::string_view value)
{
  const SecretRef ref{vault, secret};
  const ReaderKey gen = new_generation(ref, 1);
  const SecretBytes bytes = SecretBytes::from(value);
  SealedVersion version = seal_value(ref, gen, bytes);
  const Recipient alice{"alice", f.id("alice").pub.box_pk};
  const Recipient bob{"bob", f.id("bob").pub.box_pk};
  SecretAdd out;
  out.args.secret = secret;
  out.args.owner = "alice";
  out.args.purpose = "test";
  out.args.tier = "standard";
  out.args.custodians = {"bob"};
  out.args.threshold = 1;
  out.args.version.vid = version.vid.hex();
  out.args.version.rk_commit = gen.commit;
  out.args.version.dk_commit = version.commit;
  out.material.lines.push_back(seal_reader_key(ref, gen, alice));
  out.material.lines.push_back(version.value_line);
  const std::vector<Recipient> custodians{bob};
  for (SealedLine& line : seal_shares(ref, version.vid, version.data_key, 1, custodians)) {
    out.material.lines.push_back(std::move(line));
  }
  return out;
}

inline std::size_t line_count(const std::string& text)
{
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

} // namespace v2_test
