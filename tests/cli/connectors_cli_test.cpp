// The native connector kinds, --auth-secret, the connectors' order and escrow-only secrets through
// the CLI (docs/CONNECTORS.md): what is stored and listed, what is refused (exit 2, files
// byte-identical), the order connectors run and roll back in, the auth secret read under the
// read rules (exit 4 before any connector runs), and rotate --due's needs-connector.
#include "../unit/loopback_server.hpp"
#include "fixture.hpp"

#include <escrow/session_options.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

using escrow::test::Fixture;
using escrow::test::HttpReply;
using escrow::test::HttpRequest;
using escrow::test::LoopbackServer;
using escrow::test::Result;
using namespace escrow;

namespace {

Json json_of(const Result& r)
{
  INFO(r.out << r.err);
  return Json::parse(r.out);
}

// Every file escrow-vault/2 writes (head, keys, journal), for "byte-identical afterwards" checks.
std::string snapshot(const Fixture& f)
{
  std::string all = f.read("escrow.vault") + "\n--\n";
  for (const char* file : {"escrow.keys", "escrow.journal"}) {
    if (std::filesystem::exists(f.path(file))) {
      all += f.read(file) + "\n--\n";
    }
  }
  return all;
}

std::vector<Json> journal(const Fixture& f)
{
  std::vector<Json> entries;
  std::istringstream lines(f.read("escrow.journal"));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) {
      entries.push_back(Json::parse(line));
    }
  }
  return entries;
}

// A command connector that logs "<name> <step> <action>" to <dir>/order.log, keeps the value in
// <dir>/<name>.txt and fails the verify of a rotation while <dir>/<name>.broken exists.
std::vector<std::string> logging_connector(const Fixture& f, const std::string& name)
{
  const std::string log = (f.dir() / "order.log").string();
  const std::string file = (f.dir() / (name + ".txt")).string();
  const std::string broken = (f.dir() / (name + ".broken")).string();
  return {"connector", "add", name, "--env", "prod",
          "--update", "echo \"" + name + " update $ESCROW_ACTION\" >> '" + log + "'; cat > '" + file + "'",
          "--verify", "echo \"" + name + " verify $ESCROW_ACTION\" >> '" + log + "'; if [ \"$ESCROW_ACTION\" = rotate ] && [ -e '"
                        + broken + "' ]; then exit 1; fi; cmp -s - '" + file + "'"};
}

void ok(const Result& r)
{
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
}

} // namespace

TEST_CASE("connectors cli: native kinds are added, listed without values, and refused when wrong", "[connector][cli]")
{
  Fixture f;
  f.init();
  f.add("alice", "prod/pg-admin", "adm1n-secret-pw");
  f.add("alice", "staging/pg-admin", "st4ging-pw");
  ok(f.as("alice", {"connector", "add", "db", "--env", "prod", "--kind", "postgres", "--conninfo",
                    "host=127.0.0.1 port=5432 dbname=app user=admin", "--role", "app_user", "--auth-secret",
                    "prod/pg-admin"}));
  ok(f.as("alice", {"connector", "add", "saas", "--env", "prod", "--kind", "http", "--url",
                    "https://api.example.com/v1/secret", "--method", "patch", "--body", "{\"password\": \"{{value}}\"}",
                    "--header", "Authorization: Bearer {{auth}}", "--header", "X-Team: ops", "--auth-secret",
                    "prod/pg-admin", "--expect-status", "204", "--verify-url", "https://api.example.com/v1/health"}));
  ok(f.as("alice", {"connector", "add", "flows", "--env", "prod", "--kind", "node-red", "--url", "http://127.0.0.1:1880",
                    "--node", "db-config", "--field", "password", "--auth-user", "admin", "--auth-secret",
                    "prod/pg-admin", "--verify-url", "http://127.0.0.1:1880/check", "--verify-expect-status", "200"}));
  ok(f.as("alice", {"connector", "add", "my", "--env", "prod", "--kind", "mysql", "--conninfo",
                    "host=127.0.0.1 port=3306 user=escrow_admin", "--user", "app", "--host", "10.0.0.%",
                    "--auth-secret", "prod/pg-admin"}));
  ok(f.as("alice", {"connector", "add", "alt", "--env", "prod", "--kind", "postgres", "--conninfo",
                    "host=127.0.0.1 dbname=app user=admin", "--role", "app_blue", "--alternate-role", "app_green"}));
  const Result list = f.as("alice", {"--json", "connector", "list"});
  ok(list);
  Json connectors = json_of(list)["connectors"];
  REQUIRE(connectors.size() == 5);
  CHECK(connectors[0]["name"] == "alt");
  CHECK(connectors[0]["settings"]
        == Json{{"conninfo", "host=127.0.0.1 dbname=app user=admin"}, {"role", "app_blue"},
                {"alternate_role", "app_green"}, {"auth_secret", ""}});
  CHECK(connectors[3]["name"] == "my");
  CHECK(connectors[3]["kind"] == "mysql");
  CHECK(connectors[3]["settings"]
        == Json{{"conninfo", "host=127.0.0.1 port=3306 user=escrow_admin"}, {"user", "app"}, {"host", "10.0.0.%"},
                {"auth_secret", "prod/pg-admin"}});
  connectors.erase(3);
  connectors.erase(0);
  CHECK(connectors[0]["name"] == "db");
  CHECK(connectors[0]["kind"] == "postgres");
  CHECK(connectors[0]["settings"]
        == Json{{"conninfo", "host=127.0.0.1 port=5432 dbname=app user=admin"}, {"role", "app_user"},
                {"auth_secret", "prod/pg-admin"}});
  CHECK(connectors[1]["kind"] == "node-red");
  CHECK(connectors[1]["settings"]["node"] == "db-config");
  CHECK(connectors[1]["settings"]["verify_expect_status"] == 200);
  CHECK(connectors[2]["kind"] == "http");
  CHECK(connectors[2]["settings"]["method"] == "PATCH");
  CHECK(connectors[2]["settings"]["headers"] == Json::array({"Authorization: Bearer {{auth}}", "X-Team: ops"}));
  CHECK(connectors[2]["settings"]["expect_status"] == 204);
  CHECK(connectors[2]["settings"]["cacert"] == false);
  const Result table = f.as("alice", {"connector", "list"});
  ok(table);
  CHECK(table.out.find("role app_user via host=127.0.0.1") != std::string::npos);
  CHECK(table.out.find("PATCH https://api.example.com/v1/secret") != std::string::npos);
  CHECK(table.out.find("'app'@'10.0.0.%' via host=127.0.0.1") != std::string::npos);
  CHECK(table.out.find("roles app_blue/app_green (alternating)") != std::string::npos);
  // No value anywhere: not in the listing, the vault or the journal.
  for (const std::string& text : {list.out, table.out, f.read("escrow.vault"), f.read("escrow.journal")}) {
    CHECK(text.find("adm1n-secret-pw") == std::string::npos);
  }

  // Refusals: exit 2, nothing written.
  std::ofstream(f.path("not-a-ca.pem")) << "hello\n";
  const std::string before = snapshot(f);
  const std::vector<std::pair<std::vector<std::string>, std::string>> refusals = {
    {{"--kind", "mariadb"}, "connector add: --kind must be one of command, manual, postgres, mysql, http, node-red"},
    {{"--kind", "mysql", "--conninfo", "host=127.0.0.1 user=admin password=hunter2", "--user", "app"},
     "connector x: --conninfo must not hold a password (it is stored in clear)"},
    {{"--kind", "mysql", "--conninfo", "host=127.0.0.1 hunter2 user=admin", "--user", "app"},
     "connector x: --conninfo: word 2 is not key=value"},
    {{"--kind", "mysql", "--conninfo", "host=127.0.0.1 user=admin"},
     "connector x: a mysql connector needs --conninfo and --user"},
    {{"--kind", "postgres", "--conninfo", "host=127.0.0.1", "--role", "app", "--alternate-role", "app"},
     "connector x: --alternate-role must name another role than --role"},
    {{"--kind", "postgres", "--conninfo", "host=127.0.0.1", "--role", "app", "--user", "app"},
     "connector x: --user does not apply to postgres connectors"},
    {{"--kind", "http", "--manual"}, "connector add: --manual and --kind http exclude each other"},
    {{"--kind", "http", "--url", "https://x.example/", "--body", "{\"v\": \"{{value}}\"}", "--method", "DELETE"},
     "connector add: --method must be PUT, POST or PATCH"},
    {{"--kind", "postgres", "--conninfo", "host=127.0.0.1 user=admin password=hunter2", "--role", "app"},
     "connector x: --conninfo must not hold a password (it is stored in clear)"},
    {{"--kind", "postgres", "--conninfo", "host=127.0.0.1", "--role", "app", "--auth-secret", "prod/nope"},
     "connector add: --auth-secret prod/nope: no such secret"},
    {{"--kind", "postgres", "--conninfo", "host=127.0.0.1", "--role", "app", "--auth-secret", "staging/pg-admin"},
     "connector x: --auth-secret staging/pg-admin belongs to staging, not prod (environments never mix)"},
    {{"--kind", "postgres", "--conninfo", "host=127.0.0.1", "--role", "app", "--url", "https://x.example/"},
     "connector x: --url does not apply to postgres connectors"},
    {{"--kind", "http", "--url", "http://api.example.com/", "--body", "{\"v\": \"{{value}}\"}"},
     "connector x: --url must be https:// (http:// only to a loopback host: 127.0.0.1, ::1, localhost)"},
    {{"--kind", "http", "--url", "https://x.example/", "--body", "{\"v\": \"{{value}}\"}", "--cacert",
      f.path("not-a-ca.pem").string()},
     f.path("not-a-ca.pem").string() + ": not PEM certificates (--cacert takes the CA certificates to trust, no key)"},
    {{"--kind", "node-red", "--url", "http://127.0.0.1:1880", "--node", "n", "--field", "password"},
     "connector x: a node-red connector needs --url, --node, --field and --verify-url"},
    {{"--update", "true", "--verify", "true", "--auth-secret", "prod/pg-admin"},
     "connector x: --auth-secret does not apply to command connectors"},
  };
  for (const auto& [extra, message] : refusals) {
    std::vector<std::string> args{"connector", "add", "x", "--env", "prod"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Result r = f.as("alice", args);
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("escrow: error: " + message + "\n", 0) == 0);
    CHECK(r.err.find("hunter2") == std::string::npos);
    CHECK(snapshot(f) == before);
  }
}

TEST_CASE("connectors cli: connectors run in the order bound, --after inserts, rollback is the reverse",
          "[connector][cli]")
{
  Fixture f;
  f.init();
  for (const char* name : {"consumer", "db", "flow"}) {
    ok(f.as("alice", logging_connector(f, name)));
  }
  f.add("alice", "prod/db", "v4lue-1");
  ok(f.as("alice", {"connect", "prod/db", "db"}));
  ok(f.as("alice", {"connect", "prod/db", "consumer"}));
  const Result after = f.as("alice", {"connect", "prod/db", "flow", "--after", "db"});
  ok(after);
  CHECK(after.out == "bound prod/db to flow; rotations run db → flow → consumer\n");
  // show and the dry run list them in that order.
  CHECK(f.as("alice", {"show", "prod/db"}).out.find("connectors   db, flow, consumer (in this order)") != std::string::npos);
  const Json plan = json_of(f.as("alice", {"--json", "rotate", "prod/db", "--dry-run"}));
  std::vector<std::string> planned;
  for (const auto& step : plan["results"][0]["plan"]) {
    if (step["step"] == "update") {
      planned.push_back(step["connector"]);
    }
  }
  CHECK(planned == std::vector<std::string>{"db", "flow", "consumer"});

  // Refused: exit 2, files byte-identical.
  const std::string before = snapshot(f);
  const std::vector<std::pair<std::vector<std::string>, std::string>> refusals = {
    {{"connect", "prod/db", "flow", "--after", "consumer"}, "connect: prod/db is already bound to flow"},
    {{"connect", "prod/db", "nope", "--after", "db"}, "connect: no connector named nope"},
  };
  for (const auto& [args, message] : refusals) {
    const Result r = f.as("alice", args);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("escrow: error: " + message, 0) == 0);
    CHECK(snapshot(f) == before);
  }
  ok(f.as("alice", logging_connector(f, "extra")));
  const std::string with_extra = snapshot(f);
  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
         {{"connect", "prod/db", "extra", "--after", "extra"}, "connect: extra cannot run after itself"},
         {{"connect", "prod/db", "extra", "--after", "ghost"}, "connect: --after ghost: ghost is not bound to prod/db"},
       }) {
    const Result r = f.as("alice", args);
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("escrow: error: " + message, 0) == 0);
    CHECK(snapshot(f) == with_extra);
  }
  // A cycle cannot be declared: flow is after db; db after flow would be one.
  const Result cycle = f.as("alice", {"connect", "prod/db", "db", "--after", "flow"});
  CHECK(cycle.code == 2);
  CHECK(snapshot(f) == with_extra);

  // A rotation runs in that order; its rollback re-applies in the reverse order.
  ok(f.as("alice", {"rotate", "prod/db"}));
  CHECK(f.read("order.log")
        == "db update rotate\nflow update rotate\nconsumer update rotate\n"
           "db verify rotate\nflow verify rotate\nconsumer verify rotate\n");
  std::filesystem::remove(f.path("order.log"));
  std::ofstream(f.path("consumer.broken")) << "";
  const Result failed = f.as("alice", {"rotate", "prod/db"});
  CHECK(failed.code == 1);
  std::filesystem::remove(f.path("consumer.broken"));
  CHECK(f.read("order.log")
        == "db update rotate\nflow update rotate\nconsumer update rotate\n"
           "db verify rotate\nflow verify rotate\nconsumer verify rotate\n"
           // Re-applied in reverse, then verified in order once all hold the old value.
           "consumer update restore\nflow update restore\ndb update restore\n"
           "db verify restore\nflow verify restore\nconsumer verify restore\n");
}

TEST_CASE("connectors cli: the auth secret is read under the read rules of whoever rotates", "[connector][cli]")
{
  Fixture f;
  f.init();
  f.member("rita", {"rotator"}, {"prod"});
  LoopbackServer server([&](const HttpRequest& request) {
    if (request.header("authorization") != "Bearer t0ken-abc") {
      return HttpReply{401, "no"};
    }
    return HttpReply{200, "{}"};
  });
  // rita, a rotator of prod, is a standing reader of the secrets added after she joined.
  f.add("alice", "prod/api-token", "t0ken-abc");
  ok(f.as("alice", {"connector", "add", "saas", "--env", "prod", "--kind", "http", "--url", server.url("/v1/secret"),
                    "--body", "{\"value\": \"{{value}}\"}", "--header", "Authorization: Bearer {{auth}}",
                    "--auth-secret", "prod/api-token"}));
  f.add("alice", "prod/db", "v4lue-1", {"--connector", "saas"});

  // rita can read prod/db (a rotator of prod) and the token (a rotator is a standing reader).
  const Result rotated = f.as("rita", {"rotate", "prod/db"});
  ok(rotated);
  REQUIRE(server.requests().size() == 1);
  const std::string value = f.as("rita", {"get", "prod/db", "--reveal"}).out;
  CHECK(Json::parse(server.requests()[0].body)["value"] == value);
  // The read is journaled as rita's, before the rotation started (escrow-vault/2: a reveal event
  // into connector-auth).
  const auto entries = journal(f);
  const auto auth_read = [](const Json& e) {
    return e["action"] == "reveal" && e.contains("detail") && e["detail"].value("into", "") == "connector-auth";
  };
  auto read = std::find_if(entries.begin(), entries.end(), auth_read);
  REQUIRE(read != entries.end());
  CHECK((*read)["actor"] == "rita");
  CHECK((*read)["detail"]["secret"] == "prod/api-token");
  CHECK((*read)["detail"]["connector"] == "saas");
  CHECK((*read)["detail"]["for"] == "prod/db");
  auto start = std::find_if(entries.begin(), entries.end(), [](const Json& e) { return e["action"] == "rotate-start"; });
  CHECK(read < start);
  for (const Json& entry : entries) {
    CHECK(entry.dump().find("t0ken-abc") == std::string::npos);
  }

  // A rotator who cannot read the token: exit 4 before any connector runs; the vault unchanged.
  f.member("carl", {"rotator"}, {"prod"});
  ok(f.as("alice", {"share", "prod/db", "--with", "carl"}));
  // carl joined after the token's v1: he cannot open it.
  const std::string vault_before = f.read("escrow.keys"); // the denied event goes to the journal alone
  const Result refused = f.as("carl", {"rotate", "prod/db"});
  INFO(refused.err);
  CHECK(refused.code == 4);
  CHECK(refused.err.rfind("escrow: error: rotate prod/db: carl cannot read prod/api-token, the credential of connector "
                          "saas; no connector ran and nothing was changed\n",
                          0) == 0);
  CHECK(server.requests().size() == 1);
  CHECK(f.read("escrow.keys") == vault_before);
  const Json denied = journal(f).back();
  CHECK(auth_read(denied));
  CHECK(denied["result"] == "denied");
  CHECK(denied["actor"] == "carl");

  // A connector never logs in with the secret it rotates.
  ok(f.as("alice", {"connector", "add", "self", "--env", "prod", "--kind", "http", "--url", server.url("/v1/token"),
                    "--body", "{\"value\": \"{{value}}\"}", "--header", "Authorization: Bearer {{auth}}",
                    "--auth-secret", "prod/api-token"}));
  ok(f.as("alice", {"connect", "prod/api-token", "self"}));
  const std::string before_self = f.read("escrow.vault");
  const Result self = f.as("alice", {"rotate", "prod/api-token"});
  CHECK(self.code == 2);
  CHECK(self.err.find("connector self logs in with prod/api-token itself") != std::string::npos);
  CHECK(f.read("escrow.vault") == before_self);
}

TEST_CASE("connectors cli: rotate --due leaves a secret with no connector alone unless escrow-only",
          "[connector][cli][rotation]")
{
  Fixture f;
  f.init();
  f.set_env("ESCROW_NOW", "2030-01-01T00:00:00Z");
  // add --every without a connector warns (the secret is added all the same).
  const std::string value = "s3cret-1";
  const Result warned = f.as("alice", {"add", "prod/orphan", "--purpose", "t", "--every", "30d"}, &value);
  ok(warned);
  CHECK(warned.err.find("escrow: warning: prod/orphan rotates every 30d but has no connector") != std::string::npos);
  const Result quiet = f.as("alice", {"add", "prod/session", "--purpose", "t", "--every", "30d", "--escrow-only"}, &value);
  ok(quiet);
  CHECK(quiet.err.empty());
  f.add("alice", "prod/legacy", "l-1", {"--every", "30d"});
  ok(f.as("alice", {"connect", "prod/legacy", "--escrow-only"}));
  CHECK(json_of(f.as("alice", {"--json", "show", "prod/legacy"}))["escrow_only"] == true);
  CHECK(f.as("alice", {"show", "prod/session"}).out.find("- (escrow-only: lives only in escrow)") != std::string::npos);

  f.set_env("ESCROW_NOW", "2030-03-01T00:00:00Z");
  const std::string before = f.read("escrow.vault");
  Result due = f.as("alice", {"--json", "rotate", "--due"});
  CHECK(due.code == 1);
  Json doc = json_of(due);
  CHECK(doc["ok"] == false);
  CHECK(doc["counts"]["needs-connector"] == 1);
  CHECK(doc["counts"]["rotated"] == 2);
  std::map<std::string, std::string> results;
  for (const auto& item : doc["results"]) {
    results[item["secret"]] = item["result"];
  }
  CHECK(results == std::map<std::string, std::string>{
                     {"prod/legacy", "rotated"}, {"prod/orphan", "needs-connector"}, {"prod/session", "rotated"}});
  CHECK(due.err.find("prod/orphan: due (overdue") != std::string::npos);
  CHECK(due.err.find("not rotated") != std::string::npos);
  // The orphan kept its v1; the others have v2.
  CHECK(f.as("alice", {"get", "prod/orphan", "--reveal"}).out == "s3cret-1");
  CHECK(f.read("escrow.vault") != before);
  // --dry-run says the same, and a person can still rotate it by name.
  const Json dry = json_of(f.as("alice", {"--json", "rotate", "--due", "--dry-run"}));
  CHECK(dry["results"][0]["result"] == "needs-connector");
  ok(f.as("alice", {"rotate", "prod/orphan"}));

  // Escrow-only and connectors exclude each other: exit 2, nothing written.
  ok(f.as("alice", logging_connector(f, "app")));
  const std::string settled = snapshot(f);
  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
         {{"connect", "prod/session", "app"}, "connect: prod/session is declared escrow-only"},
         {{"connect", "prod/session", "--escrow-only"}, "connect --escrow-only: prod/session is already escrow-only"},
         {{"disconnect", "prod/orphan", "--escrow-only"}, "disconnect --escrow-only: prod/orphan is not escrow-only"},
         {{"connect", "prod/session", "app", "--escrow-only"}, "connect --escrow-only takes the secret only"},
         {{"add", "prod/new", "--purpose", "t", "--escrow-only", "--connector", "app"},
          "add: --escrow-only and --connector exclude each other"},
       }) {
    const Result r = f.as("alice", args, &value);
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("escrow: error: " + message, 0) == 0);
    CHECK(snapshot(f) == settled);
  }
  ok(f.as("alice", {"connect", "prod/orphan", "app"}));
  const std::string bound = snapshot(f);
  const Result with_connector = f.as("alice", {"connect", "prod/orphan", "--escrow-only"});
  CHECK(with_connector.code == 2);
  CHECK(with_connector.err.rfind("escrow: error: connect --escrow-only: prod/orphan is bound to app", 0) == 0);
  CHECK(snapshot(f) == bound);
  ok(f.as("alice", {"disconnect", "prod/session", "--escrow-only"}));
  CHECK(json_of(f.as("alice", {"--json", "show", "prod/session"}))["escrow_only"] == false);
}
