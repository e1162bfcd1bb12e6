# Integration harness: a throwaway PostgreSQL, a throwaway MariaDB and a throwaway Node-RED on
# loopback, in a temp directory, stopped and removed on every exit path. Source it from a test
# (after tests/e2e/lib.sh and its setup) or from scripts/demo:
#
#   source tests/integration/lib.sh
#   it_setup                  # IT_DIR, traps; fails loudly if a component is missing
#   pg_start                  # PG_PORT, PG_LOG, PG_SOCK, pg_super (SQL on stdin, as superuser)
#   pg_create_app ADMIN_FILE APP_FILE   # roles escrow_admin and app, database appdb
#   pg_login ROLE FILE        # exit 0 when ROLE logs in over TCP with the password in FILE
#   my_start                  # MariaDB: MY_PORT, MY_LOG (general log), MY_SOCK, my_super
#   my_create_app APP_FILE    # user app@127.0.0.1, database appdb, table widgets
#   my_create_admin ADMIN_FILE  # user escrow_admin@127.0.0.1 (CREATE USER), the admin escrow's mysql connector logs in as
#   my_login USER FILE        # exit 0 when USER logs in over TCP with the password in FILE
#   nr_write_flow FILE APP_FILE  # the test flow, its MariaDB config node holding APP_FILE's value
#   nr_start FLOW_FILE        # NR_URL, NR_LOG, NR_ADMIN_USER, NR_ADMIN_PASSWORD_FILE; deploys FLOW_FILE
#   nr_get PATH               # GET $NR_URL/PATH: NR_CODE, NR_BODY
#
# Values never travel in argv: passwords are files (0600) read by the programs themselves, by
# psql through PGPASSWORD set from a file, or by curl from --data-binary @FILE.
# Nothing is ever skipped: a missing component ends the test with a message and exit 1.

IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IT_NODE_RED_DIR=$IT_ROOT/tests/integration/node-red
IT_WAIT=${IT_WAIT:-30}   # seconds any start-up may take
IT_PIDS=()
IT_REMOVE=()   # more paths it_cleanup removes (the e2e $WORK is removed too)

it_fail() { echo "integration: error: $*" >&2; exit 1; }

# The PostgreSQL server binaries (Debian keeps them off PATH, under /usr/lib/postgresql/N/bin).
it_pg_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"; return 0
    fi
  done
  return 1
}

it_require() {
  PG_BIN=$(it_pg_bindir) || it_fail "PostgreSQL server binaries: not found under /usr/lib/postgresql/*/bin (run scripts/bootstrap)"
  local tool
  for tool in psql node curl python3; do
    command -v "$tool" >/dev/null || it_fail "$tool: not installed (run scripts/bootstrap)"
  done
  [ -f "$IT_NODE_RED_DIR/node_modules/node-red/red.js" ] \
    || it_fail "$IT_NODE_RED_DIR/node_modules: Node-RED is not installed (run scripts/bootstrap: npm ci there)"
  [ -d "$IT_NODE_RED_DIR/node_modules/node-red-node-mysql" ] \
    || it_fail "$IT_NODE_RED_DIR/node_modules: node-red-node-mysql is not installed (run scripts/bootstrap)"
  for tool in mariadbd mariadb-install-db mariadb; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] \
      || it_fail "$tool: not installed (run scripts/bootstrap: mariadb-server)"
  done
  if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root: the server runs as the postgres user Debian creates.
    id postgres >/dev/null 2>&1 || it_fail "user postgres: missing (install the postgresql package)"
    command -v runuser >/dev/null || it_fail "runuser: not installed"
    PG_AS=(runuser -u postgres --)
    id mysql >/dev/null 2>&1 || it_fail "user mysql: missing (install the mariadb-server package)"
    MY_USER=mysql
  else
    PG_AS=()
    MY_USER=$(id -un)
  fi
}

it_setup() {
  it_require
  IT_DIR=$(mktemp -d /tmp/escrow-it-XXXXXX)
  chmod 0711 "$IT_DIR"   # the postgres user must reach its own directory inside
  trap it_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Stops every server, whatever state it is in, and removes the temp directories.
it_cleanup() {
  local rc=$?
  set +e
  if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -t 10 stop >/dev/null 2>&1
    local pid
    pid=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; fi
  fi
  local p
  for p in "${IT_PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      kill "$p" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
  done
  [ -n "${IT_KEEP:-}" ] && echo "integration: kept $IT_DIR" >&2
  [ -z "${IT_KEEP:-}" ] && [ -n "${IT_DIR:-}" ] && rm -rf "$IT_DIR"
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
  local extra
  for extra in "${IT_REMOVE[@]}"; do rm -rf "$extra"; done
  exit "$rc"
}

# A free TCP port on 127.0.0.1 (the kernel's choice; the caller retries if it is taken meanwhile).
it_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# it_sample_argv_start OUT / it_sample_argv_stop: a background sampler that reads every process's
# argv (/proc/*/cmdline) as fast as it can until stopped, and writes each distinct command line,
# one per line, to OUT (0600), then "rounds N" (how many passes it made over /proc). Start returns
# once the sampler has made its first pass, so a command run next cannot end before it looks.
it_sample_argv_start() {
  IT_SAMPLE_OUT=$1
  IT_SAMPLE_STOP=$IT_DIR/sampler.run
  local ready=$IT_DIR/sampler.ready
  : >"$IT_SAMPLE_STOP"
  rm -f "$ready"
  python3 - "$IT_SAMPLE_OUT" "$IT_SAMPLE_STOP" "$ready" <<'PY' &
import os, sys
out, run, ready = sys.argv[1], sys.argv[2], sys.argv[3]
seen, rounds = set(), 0
while os.path.exists(run):
    rounds += 1
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    seen.add(f.read().replace(b"\0", b" ").strip())
            except OSError:
                pass
    if rounds == 1:
        open(ready, "w").close()
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "wb") as f:
    for line in sorted(seen):
        f.write(line + b"\n")
    f.write(b"rounds %d\n" % rounds)
PY
  IT_SAMPLER=$!
  IT_PIDS+=("$IT_SAMPLER")
  local waited=0
  while [ ! -e "$ready" ]; do
    kill -0 "$IT_SAMPLER" 2>/dev/null || { die "the argv sampler did not start"; break; }
    [ $waited -lt 600 ] || { die "the argv sampler made no pass over /proc in 60 s"; break; }
    sleep 0.1
    waited=$((waited + 1))
  done
}
it_sample_argv_stop() {
  rm -f "$IT_SAMPLE_STOP"
  wait "$IT_SAMPLER"
}

# A random password into FILE (0600), never printed.
it_new_password() {
  (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' 'xy' | tr -d '=\n' >"$1")
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# A PostgreSQL program as the server's user, from a directory that user may enter.
pg_as() { (cd "$PG_HOME" && "${PG_AS[@]}" "$@"); }

pg_start() {
  PG_HOME=$IT_DIR/pg
  PG_DATA=$PG_HOME/data
  PG_SOCK=$PG_HOME/sock
  PG_LOG=$PG_HOME/postgres.log
  PG_SUPERUSER=escrow_super
  mkdir -p "$PG_HOME" "$PG_SOCK"
  chmod 0700 "$PG_HOME" "$PG_SOCK"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$PG_HOME"
  pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" -A reject --auth-local=trust \
    -E UTF8 --locale=C.UTF-8 --no-sync >"$PG_HOME/initdb.log" 2>&1 \
    || { cat "$PG_HOME/initdb.log" >&2; it_fail "initdb failed"; }
  # Who may connect how: the superuser only through the private socket, every other role with
  # SCRAM over loopback. Nothing else.
  pg_as tee "$PG_DATA/pg_hba.conf" >/dev/null <<EOF
local all $PG_SUPERUSER trust
host  all all 127.0.0.1/32 scram-sha-256
EOF
  local _
  for _ in 1 2 3; do
    PG_PORT=$(it_free_port)
    if pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$IT_WAIT" \
         -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PG_SOCK -c log_statement=all -c log_connections=on -c password_encryption=scram-sha-256 -c fsync=off" \
         start >"$PG_HOME/pg_ctl.log" 2>&1; then
      return 0
    fi
  done
  cat "$PG_HOME/pg_ctl.log" "$PG_LOG" >&2 2>/dev/null
  it_fail "PostgreSQL did not start within ${IT_WAIT}s (log above)"
}

# SQL from stdin, as the superuser through the private socket; output unaligned, tuples only.
pg_super() {
  psql -X -q -v ON_ERROR_STOP=1 -At -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_SUPERUSER" \
    -d "${1:-postgres}"
}

# Sets ROLE's password to the content of FILE without logging the statement (harness set-up
# only: escrow's postgres connector sends a verifier instead). The value goes through psql's
# stdin, never argv; the session turns statement logging off first.
pg_set_password() {
  local role=$1 file=$2 value
  value=$(cat "$file")
  case $value in *"'"*|*\\*) it_fail "pg_set_password: the test password must not hold quotes";; esac
  printf "SET log_statement = 'none'; SET log_min_error_statement = 'panic'; ALTER ROLE %s PASSWORD '%s';\n" \
    "$role" "$value" | pg_super
}

# Exit 0 when ROLE logs in over TCP with the password in FILE (PGPASSWORD from the file, so
# the value is in psql's environment, never its argv).
pg_login() {
  local role=$1 file=$2
  PGPASSWORD=$(cat "$file") PGCONNECT_TIMEOUT=5 psql -X -q -At -w -h 127.0.0.1 -p "$PG_PORT" \
    -U "$role" -d "${3:-appdb}" -c 'SELECT 1' >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# Node-RED

# nr_start FLOW_FILE: starts Node-RED with adminAuth (user admin, a random password in
# $NR_ADMIN_PASSWORD_FILE, its bcrypt hash in settings.js), then deploys FLOW_FILE — a flow
# whose nodes may carry "credentials" — through the Admin API, as an admin would.
nr_start() {
  local flow=$1
  NR_HOME=$IT_DIR/node-red
  NR_LOG=$NR_HOME/node-red.log
  NR_ADMIN_USER=admin
  NR_ADMIN_PASSWORD_FILE=$NR_HOME/admin-password
  mkdir -p "$NR_HOME/user"
  chmod 0700 "$NR_HOME"
  it_new_password "$NR_ADMIN_PASSWORD_FILE"
  it_new_password "$NR_HOME/credential-secret"
  # The hash is computed by node from the file (bcryptjs ships with Node-RED).
  local hash
  hash=$(cd "$IT_NODE_RED_DIR" && node -e '
    const fs = require("fs"), bcrypt = require("bcryptjs");
    process.stdout.write(bcrypt.hashSync(fs.readFileSync(process.argv[1], "utf8"), 8));' \
    "$NR_ADMIN_PASSWORD_FILE") || it_fail "bcrypt hash for the Node-RED admin: failed"
  NR_BREAK_FILE=$NR_HOME/break-check
  cat >"$NR_HOME/settings.js" <<EOF
// Written by tests/integration/lib.sh for one test run.
const fs = require("fs");
const checkState = { broken: false };
module.exports = {
  uiHost: "127.0.0.1",
  uiPort: Number(process.env.NR_PORT),
  userDir: "$NR_HOME/user",
  flowFile: "flows.json",
  credentialSecret: fs.readFileSync("$NR_HOME/credential-secret", "utf8"),
  adminAuth: {
    type: "credentials",
    users: [{ username: "$NR_ADMIN_USER", password: "$hash", permissions: "*" }]
  },
  httpNodeRoot: "/",
  // node-red-node-mysql retries a failed connection after this many ms (default 20000). A
  // rollback re-applies the flow's credential before its database's (reverse order), so the
  // flow's first connection attempt fails; its check must pass within the connector's verify.
  mysqlReconnectTime: 1000,
  // A check broken on purpose: while $NR_BREAK_FILE exists, every deployment (POST /flows)
  // flips GET /check between working and answering 503, so the deployment of a new credential
  // breaks it and the rollback's deployment of the old one mends it.
  httpAdminMiddleware: (req, res, next) => {
    if (req.method === "POST" && req.path === "/flows" && fs.existsSync("$NR_BREAK_FILE")) {
      checkState.broken = !checkState.broken;
    }
    next();
  },
  functionGlobalContext: { checkBroken: () => checkState.broken },
  externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
  editorTheme: { tours: false, palette: { catalogues: [] } },
  logging: { console: { level: "info", metrics: false, audit: false } }
};
EOF
  echo '[]' >"$NR_HOME/user/flows.json"
  local try pid
  for _ in 1 2 3; do
    NR_PORT=$(it_free_port)
    NR_URL=http://127.0.0.1:$NR_PORT
    (cd "$IT_NODE_RED_DIR" && NR_PORT=$NR_PORT exec node node_modules/node-red/red.js \
       --settings "$NR_HOME/settings.js" --userDir "$NR_HOME/user" >>"$NR_LOG" 2>&1) &
    pid=$!
    IT_PIDS+=("$pid")
    local waited=0
    while [ "$waited" -lt $((IT_WAIT * 10)) ]; do
      kill -0 "$pid" 2>/dev/null || break
      if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$NR_URL/auth/login")" = 200 ]; then
        nr_deploy "$flow"
        return 0
      fi
      sleep 0.1; waited=$((waited + 1))
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  cat "$NR_LOG" >&2
  it_fail "Node-RED did not start within ${IT_WAIT}s (log above)"
}

# A bearer token for the Admin API (OAuth password grant; the password from its file through
# curl's --data-urlencode name@FILE, never argv). Prints the token.
nr_token() {
  local out
  out=$(curl -s --max-time 10 -X POST "$NR_URL/auth/token" \
          --data-urlencode client_id=node-red-admin --data-urlencode grant_type=password \
          --data-urlencode scope='*' --data-urlencode "username=$NR_ADMIN_USER" \
          --data-urlencode "password@$NR_ADMIN_PASSWORD_FILE") || it_fail "Node-RED token: request failed"
  printf '%s' "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null \
    || it_fail "Node-RED token: refused ($out)"
}

# Deploys FLOW_FILE (full deployment) and waits until Node-RED reports it running.
nr_deploy() {
  local flow=$1 token code header
  token=$(nr_token)
  header=$NR_HOME/auth-header
  (umask 077; printf 'Authorization: Bearer %s\n' "$token" >"$header")
  code=$(curl -s -o "$NR_HOME/deploy.out" -w '%{http_code}' --max-time 20 -X POST "$NR_URL/flows" \
           -H @"$header" -H 'Content-Type: application/json' -H 'Node-RED-Deployment-Type: full' \
           --data-binary @"$flow")
  rm -f "$header"
  case $code in 200|204) ;; *) it_fail "Node-RED deploy of $flow: HTTP $code $(cat "$NR_HOME/deploy.out")";; esac
}

# nr_get PATH: GET $NR_URL/PATH; its status in NR_CODE (000 when nothing answers), its body in
# NR_BODY.
nr_get() {
  NR_CODE=$(curl -s -o "$NR_HOME/last-body" -w '%{http_code}' --max-time 10 "$NR_URL/$1" || true)
  NR_CODE=${NR_CODE:-000}
  NR_BODY=$(cat "$NR_HOME/last-body" 2>/dev/null || true)
}

# The flow the integration tests deploy: GET /row answers 200 and the row it read from MariaDB
# through node-red-node-mysql (as user app, with the password held by the config node
# $NR_DB_NODE), 500 when the query fails; GET /check does the same, but answers 503 while
# the check is broken on purpose (settings.js, NR_BREAK_FILE). Usage: nr_write_flow FILE APP_PASSWORD_FILE
NR_DB_NODE=escrow-db
nr_write_flow() {
  local out=$1 pwfile=$2
  MY_PORT=$MY_PORT NR_DB_NODE=$NR_DB_NODE python3 - "$out" "$pwfile" <<'PY'
import json, os, sys
out, pwfile = sys.argv[1], sys.argv[2]
password = open(pwfile).read()
db = os.environ["NR_DB_NODE"]
def function(id, tab, name, code, outputs, x, y, wires):
    return {"id": id, "type": "function", "z": tab, "name": name, "func": code, "outputs": outputs,
            "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [], "x": x, "y": y,
            "wires": wires}
def endpoint(tab, path, y, gate):
    ids = {k: f"{path}-{k}" for k in ("in", "gate", "db", "ok", "catch", "fail", "resp")}
    code = ""
    if gate:
        code = ("if (global.get('checkBroken')()) {\n"
                "  msg.statusCode = 503; msg.payload = {error: 'check broken on purpose'}; return [null, msg];\n}\n")
    code += ("msg.topic = \"SELECT 'pong' AS answer, CURRENT_USER() AS who, COUNT(*) AS widgets FROM widgets\";\n"
             "msg.payload = []; return [msg, null];")
    return [
        {"id": ids["in"], "type": "http in", "z": tab, "name": "", "url": f"/{path}", "method": "get",
         "upload": False, "swaggerDoc": "", "x": 120, "y": y, "wires": [[ids["gate"]]]},
        function(ids["gate"], tab, "query", code, 2, 300, y, [[ids["db"]], [ids["resp"]]]),
        {"id": ids["db"], "type": "mysql", "z": tab, "mydb": db, "name": "", "x": 480, "y": y,
         "wires": [[ids["ok"]]]},
        function(ids["ok"], tab, "200", "msg.statusCode = 200; msg.payload = msg.payload[0]; return msg;",
                 1, 640, y, [[ids["resp"]]]),
        {"id": ids["catch"], "type": "catch", "z": tab, "name": "", "scope": [ids["db"]], "uncaught": False,
         "x": 480, "y": y + 40, "wires": [[ids["fail"]]]},
        function(ids["fail"], tab, "500",
                 "msg.statusCode = 500; msg.payload = {error: 'database query failed'}; return msg;",
                 1, 640, y + 40, [[ids["resp"]]]),
        {"id": ids["resp"], "type": "http response", "z": tab, "name": "", "statusCode": "", "headers": {},
         "x": 800, "y": y, "wires": []},
    ]
tab = "escrow-tab"
flow = [{"id": tab, "type": "tab", "label": "escrow integration", "disabled": False, "info": ""},
        {"id": db, "type": "MySQLdatabase", "name": "appdb", "host": "127.0.0.1", "port": os.environ["MY_PORT"],
         "db": "appdb", "tz": "", "charset": "UTF8",
         "credentials": {"user": "app", "password": password}}]
flow += endpoint(tab, "row", 60, False) + endpoint(tab, "check", 160, True)
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump(flow, f, indent=1)
PY
}

# ---------------------------------------------------------------------------------------------
# MariaDB (the database the flow queries: node-red-node-mysql, docs/TESTING.md says why)

# MariaDB's mysql_native_password hash of the value on stdin: "*" + upper hex SHA1(SHA1(value)).
# The server stores and logs only this, never the value.
my_native_hash() {
  python3 -c 'import hashlib, sys; v = sys.stdin.buffer.read(); print("*" + hashlib.sha1(hashlib.sha1(v).digest()).hexdigest().upper())'
}

my_start() {
  MY_HOME=$IT_DIR/mariadb
  MY_DATA=$MY_HOME/data
  MY_SOCK=$MY_HOME/mariadb.sock
  MY_LOG=$MY_HOME/general.log
  MY_ERRLOG=$MY_HOME/error.log
  mkdir -p "$MY_HOME"
  chmod 0700 "$MY_HOME"
  [ "$(id -u)" -eq 0 ] && chown mysql: "$MY_HOME"
  # root@localhost logs in through the private socket by OS identity only (unix_socket).
  mariadb-install-db --no-defaults --datadir="$MY_DATA" --user="$MY_USER" --skip-test-db \
    --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
    >"$MY_HOME/install.log" 2>&1 || { cat "$MY_HOME/install.log" >&2; it_fail "mariadb-install-db failed"; }
  local mariadbd try pid waited
  mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  for _ in 1 2 3; do
    MY_PORT=$(it_free_port)
    "$mariadbd" --no-defaults --user="$MY_USER" --datadir="$MY_DATA" --socket="$MY_SOCK" \
      --pid-file="$MY_HOME/mariadb.pid" --port="$MY_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
      --general-log=1 --general-log-file="$MY_LOG" --log-error="$MY_ERRLOG" \
      --innodb-buffer-pool-size=16M --innodb-log-file-size=8M --skip-log-bin \
      >>"$MY_HOME/mariadbd.out" 2>&1 &
    pid=$!
    IT_PIDS+=("$pid")
    waited=0
    while [ "$waited" -lt $((IT_WAIT * 10)) ] && kill -0 "$pid" 2>/dev/null; do
      if mariadb --no-defaults --socket="$MY_SOCK" -u root -e 'SELECT 1' >/dev/null 2>&1; then
        return 0
      fi
      sleep 0.1; waited=$((waited + 1))
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  cat "$MY_ERRLOG" >&2 2>/dev/null
  it_fail "MariaDB did not start within ${IT_WAIT}s (log above)"
}

# SQL from stdin, as root through the private socket.
my_super() {
  mariadb --no-defaults --socket="$MY_SOCK" -u root --batch --skip-column-names
}

# User app@127.0.0.1 (password: the content of FILE, sent as its hash), database appdb, table widgets.
my_create_app() {
  local hash
  hash=$(my_native_hash <"$1")
  my_super <<SQL
CREATE DATABASE appdb;
CREATE TABLE appdb.widgets (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);
INSERT INTO appdb.widgets VALUES (1, 'sprocket'), (2, 'gear');
CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY PASSWORD '$hash';
GRANT SELECT ON appdb.* TO 'app'@'127.0.0.1';
SQL
}

# User escrow_admin@127.0.0.1 (password: the content of FILE, sent as its hash): may change other
# accounts' passwords (CREATE USER) and reach appdb (the connector's conninfo names it).
my_create_admin() {
  local hash
  hash=$(my_native_hash <"$1")
  my_super <<SQL
CREATE USER 'escrow_admin'@'127.0.0.1' IDENTIFIED BY PASSWORD '$hash';
GRANT CREATE USER ON *.* TO 'escrow_admin'@'127.0.0.1';
GRANT SELECT ON appdb.* TO 'escrow_admin'@'127.0.0.1';
SQL
}

# Closes every open session of USER, so that a client's pool must log in again (with whatever
# password it now holds) before it answers.
my_kill_sessions() {
  my_super <<SQL | my_super
SELECT CONCAT('KILL ', id, ';') FROM information_schema.processlist WHERE user = '$1';
SQL
}

# Exit 0 when USER logs in over TCP with the password in FILE (MYSQL_PWD: environment, not argv).
my_login() {
  MYSQL_PWD=$(cat "$2") mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MY_PORT" -u "$1" \
    --connect-timeout=5 -e 'SELECT 1' appdb >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL application

# Creates the application database: roles escrow_admin (CREATEROLE, the admin escrow's postgres
# connector logs in as), app (the application's role) and app_blue, app_green (the two roles of
# alternating roles, no password yet), database appdb with a table widgets.
# Usage: pg_create_app ADMIN_PASSWORD_FILE APP_PASSWORD_FILE
pg_create_app() {
  pg_super <<'SQL'
CREATE ROLE escrow_admin LOGIN CREATEROLE;
CREATE ROLE app LOGIN;
CREATE ROLE app_blue LOGIN;
CREATE ROLE app_green LOGIN;
CREATE DATABASE appdb OWNER escrow_admin;
SQL
  pg_super appdb <<'SQL'
CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO widgets VALUES (1, 'sprocket'), (2, 'gear');
GRANT SELECT ON widgets TO app, app_blue, app_green;
SQL
  pg_set_password escrow_admin "$1"
  pg_set_password app "$2"
}
