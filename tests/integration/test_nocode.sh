#!/usr/bin/env bash
# Issue 11's "done when", against real servers on loopback: a no-code team's credentials rotated
# by escrow through its native connector kinds, in order, each connector's own credential read
# from the vault, and a failed check rolled back.
#
#   Node-RED 4.1 with a flow that queries MariaDB through node-red-node-mysql: the flow's database
#   password (prod/flow-db-password) is changed in MariaDB first (connector flow-db), then in the
#   flow's config node through the Node-RED Admin API (connector flow, kind node-red, adminAuth
#   password from prod/node-red-admin), ordered with --after.
#   PostgreSQL: an application role's password (prod/pg-app-password) changed through libpq
#   (connector app-db, kind postgres, admin password from prod/pg-admin), then a consumer.
#
# After a rotation the flow answers with the new credential, the old one no longer logs in, no
# server log holds a value, and no process's argv held one while the rotations ran. Then each
# consumer's check is broken on purpose: the rotation exits 1, database and consumer are back on
# the old value, the flow still answers, and the journal shows rotation, verification, rollback.
# Nothing is skipped: a missing server or package fails the test (scripts/bootstrap installs them).
source "$(dirname "$0")/../e2e/lib.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXAMPLES=$(cd "$HERE/../../examples" && pwd)
setup
source "$HERE/lib.sh"
it_setup
started=$(date +%s)

init_vault alice
member rita --role rotator --env prod

# --- the servers --------------------------------------------------------------------------------
pg_start
my_start
for f in pg-admin pg-app-v1 flow-db-v1; do it_new_password "$IT_DIR/$f"; done
pg_create_app "$IT_DIR/pg-admin" "$IT_DIR/pg-app-v1"
my_create_app "$IT_DIR/flow-db-v1"
nr_write_flow "$IT_DIR/flow.json" "$IT_DIR/flow-db-v1"
nr_start "$IT_DIR/flow.json"
rm -f "$IT_DIR/flow.json"

# The flow answers once its database node has connected (bounded wait).
flow_answers() { # flow_answers PATH: GET PATH until 200 (10 s at most); 0 when it answered 200
  local i
  for i in $(seq 50); do
    nr_get "$1"
    [ "$NR_CODE" = 200 ] && return 0
    sleep 0.2
  done
  return 1
}
if flow_answers row && printf '%s' "$NR_BODY" | grep -q '"answer":"pong"'; then
  pass "the flow answers from MariaDB before any rotation"
else
  die "the flow does not answer before any rotation: HTTP $NR_CODE $NR_BODY"
fi

# --- the vault: values from files on stdin, never argv ------------------------------------------
expect 0 "Node-RED admin password stored" -- \
  as alice add prod/node-red-admin --purpose "Node-RED adminAuth password (user admin)" <"$NR_ADMIN_PASSWORD_FILE"
expect 0 "PostgreSQL admin password stored" -- \
  as alice add prod/pg-admin --purpose "PostgreSQL role escrow_admin (CREATEROLE)" <"$IT_DIR/pg-admin"
expect 0 "flow database password stored" -- \
  as alice add prod/flow-db-password --purpose "MariaDB user app, used by the Node-RED flow" <"$IT_DIR/flow-db-v1"
expect 0 "application role password stored" -- \
  as alice add prod/pg-app-password --purpose "PostgreSQL role app" <"$IT_DIR/pg-app-v1"

# --- connectors, in an order that name order would get wrong ("flow" sorts before "flow-db") ----
expect 0 "MariaDB connector added (command kind, the admin by unix_socket)" -- \
  as alice connector add flow-db --env prod --timeout 30 \
    --update "$EXAMPLES/connectors/mariadb-password.sh update app@127.0.0.1 --no-defaults --socket=$MY_SOCK --user=root" \
    --verify "$EXAMPLES/connectors/mariadb-password.sh verify app@127.0.0.1 --no-defaults --protocol=TCP --host=127.0.0.1 --port=$MY_PORT --database=appdb"
expect 0 "node-red connector added, its admin password from the vault" -- \
  as alice connector add flow --env prod --timeout 30 --kind node-red --url "$NR_URL" \
    --node "$NR_DB_NODE" --field password --auth-user "$NR_ADMIN_USER" --auth-secret prod/node-red-admin \
    --verify-url "$NR_URL/check"
expect 0 "flow-db bound to the flow's database password" -- as alice connect prod/flow-db-password flow-db
expect 0 "flow bound after flow-db" -- as alice connect prod/flow-db-password flow --after flow-db

expect 0 "postgres connector added, its admin password from the vault" -- \
  as alice connector add app-db --env prod --timeout 30 --kind postgres \
    --conninfo "host=127.0.0.1 port=$PG_PORT dbname=appdb user=escrow_admin" --role app \
    --auth-secret prod/pg-admin
expect 0 "consumer connector added" -- \
  as alice connector add app-consumer --env prod --timeout 30 \
    --update "$HERE/consumer.sh update $IT_DIR/consumer $IT_DIR/break-consumer" \
    --verify "$HERE/consumer.sh verify $IT_DIR/consumer $IT_DIR/break-consumer"
expect 0 "app-db bound to the application role's password" -- as alice connect prod/pg-app-password app-db
expect 0 "consumer bound after app-db" -- as alice connect prod/pg-app-password app-consumer --after app-db

reveal() { # reveal ENV/NAME FILE: the current value into FILE (0600)
  (umask 077; as alice get "$1" --reveal >"$2")
}
# Every value of this test, for the leak checks.
values=("$NR_ADMIN_PASSWORD_FILE" "$IT_DIR/pg-admin" "$IT_DIR/pg-app-v1" "$IT_DIR/flow-db-v1")
no_value_in() { # no_value_in WHAT FILE...: none of $values appears in FILE...
  local what=$1 v hit=""; shift
  for v in "${values[@]}"; do
    if grep -F -q -f "$v" "$@" 2>/dev/null; then hit="$hit $(basename "$v")"; fi
  done
  if [ -z "$hit" ]; then pass "$what"; else die "$what: found the value of$hit"; fi
}
# The journal entries of one secret, newest last, as "action result step connector" lines.
journal_of() {
  as alice audit log --secret "$1" --json | python3 -c '
import json, sys
for e in json.load(sys.stdin)["entries"]:
    d = e.get("detail", {})
    print(e["action"], e["result"], d.get("step", "-"), d.get("connector", "-"),
          ",".join(d.get("connectors", [])) or "-", ",".join(d.get("restored", [])) or "-")'
}

# --- rotation: both secrets, while a sampler watches every process's argv -----------------------
it_sample_argv_start "$IT_DIR/argv-1"
expect 0 "rita (CI's rotator) rotates the flow's database password" -- as rita rotate prod/flow-db-password
expect 0 "rita rotates the application role's password" -- as rita rotate prod/pg-app-password
it_sample_argv_stop
reveal prod/flow-db-password "$IT_DIR/flow-db-v2"
reveal prod/pg-app-password "$IT_DIR/pg-app-v2"
values+=("$IT_DIR/flow-db-v2" "$IT_DIR/pg-app-v2")
cmp -s "$IT_DIR/flow-db-v1" "$IT_DIR/flow-db-v2" && die "the flow's database password did not change"
cmp -s "$IT_DIR/pg-app-v1" "$IT_DIR/pg-app-v2" && die "the application role's password did not change"

# The flow's pool may keep sessions opened with the old password: close them, so its answer
# proves it logs in with the credential it now holds.
my_kill_sessions app
if flow_answers row && printf '%s' "$NR_BODY" | grep -q '"who":"app@127.0.0.1"'; then
  pass "the flow answers with the new credential (its sessions closed first)"
else
  die "the flow does not answer after the rotation: HTTP $NR_CODE $NR_BODY"
fi
flow_answers check && pass "the flow's check passes" || die "the flow's check: HTTP $NR_CODE $NR_BODY"
my_login app "$IT_DIR/flow-db-v2" && pass "MariaDB: the new password logs in" || die "MariaDB: the new password is refused"
my_login app "$IT_DIR/flow-db-v1" && die "MariaDB: the old password still logs in" || pass "MariaDB: the old password no longer logs in"
pg_login app "$IT_DIR/pg-app-v2" && pass "PostgreSQL: the new password logs in" || die "PostgreSQL: the new password is refused"
pg_login app "$IT_DIR/pg-app-v1" && die "PostgreSQL: the old password still logs in" || pass "PostgreSQL: the old password no longer logs in"
cmp -s "$IT_DIR/consumer" "$IT_DIR/pg-app-v2" && pass "the consumer holds the new value" || die "the consumer does not hold the new value"

# The logs did record the changes (so the leak checks below look at real traffic).
grep -q 'ALTER USER' "$MY_LOG" && pass "MariaDB's general log recorded the password change" || die "MariaDB's general log has no ALTER USER"
grep -qi 'ALTER ROLE' "$PG_LOG" && pass "PostgreSQL's log recorded the password change" || die "PostgreSQL's log has no ALTER ROLE"
no_value_in "no value in the PostgreSQL, MariaDB or Node-RED logs" "$PG_LOG" "$MY_LOG" "$MY_ERRLOG" "$NR_LOG"
no_value_in "no value in any process's argv during the rotations" "$IT_DIR/argv-1"
if grep -q 'mariadb-password.sh update' "$IT_DIR/argv-1" && grep -q ' rotate prod/' "$IT_DIR/argv-1"; then
  pass "the sampler saw the rotations and their connectors ($(tail -1 "$IT_DIR/argv-1"))"
else
  die "the sampler did not see the rotations ($(tail -1 "$IT_DIR/argv-1")): its check proves nothing"
fi
journal_of prod/flow-db-password >"$IT_DIR/journal-1"
if grep -q '^rotate ok - - flow-db,flow ' "$IT_DIR/journal-1"; then
  pass "journal: rotated and verified, flow-db before flow"
else
  die "journal: no successful rotation in the order flow-db, flow: $(tail -3 "$IT_DIR/journal-1")"
fi
journal_of prod/pg-app-password >"$IT_DIR/journal-pg-1"
grep -q '^rotate ok - - app-db,app-consumer ' "$IT_DIR/journal-pg-1" \
  && pass "journal: app-db before app-consumer" || die "journal: no rotation in the order app-db, app-consumer"

# --- a check broken on purpose: the rotation rolls back ---------------------------------------
: >"$NR_BREAK_FILE"
: >"$IT_DIR/break-consumer"
it_sample_argv_start "$IT_DIR/argv-2"
expect 1 "a broken flow check fails the rotation (exit 1)" -- as rita rotate prod/flow-db-password
expect 1 "a broken consumer check fails the rotation (exit 1)" -- as rita rotate prod/pg-app-password
it_sample_argv_stop
rm -f "$NR_BREAK_FILE" "$IT_DIR/break-consumer"
reveal prod/flow-db-password "$IT_DIR/flow-db-now"
reveal prod/pg-app-password "$IT_DIR/pg-app-now"
cmp -s "$IT_DIR/flow-db-now" "$IT_DIR/flow-db-v2" && pass "the vault keeps the flow's current password" || die "the vault's current flow password changed"
cmp -s "$IT_DIR/pg-app-now" "$IT_DIR/pg-app-v2" && pass "the vault keeps the application role's current password" || die "the vault's current application password changed"
# The failed versions' values (the owner still reads them) must not log in.
for name in flow-db pg-app; do
  v=$(as alice show "prod/$name-password" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
vs = d.get("versions") or d.get("secret", {}).get("versions") or []
print(max([x["v"] for x in vs if x.get("state") == "failed"] or [0]))' 2>/dev/null || echo 0)
  if [ "${v:-0}" -gt 0 ] && (umask 077; as alice get "prod/$name-password" --reveal --version "$v" >"$IT_DIR/$name-failed"); then
    values+=("$IT_DIR/$name-failed")
    pass "prod/$name-password: the rotated version v$v is marked failed"
  else
    die "prod/$name-password: no failed version to read (state of the rotated version?)"
    : >"$IT_DIR/$name-failed"
  fi
done
my_login app "$IT_DIR/flow-db-failed" && die "MariaDB: the failed value logs in" || pass "MariaDB: the failed value does not log in"
pg_login app "$IT_DIR/pg-app-failed" && die "PostgreSQL: the failed value logs in" || pass "PostgreSQL: the failed value does not log in"

my_login app "$IT_DIR/flow-db-v2" && pass "MariaDB is back on the old value" || die "MariaDB is not back on the old value"
pg_login app "$IT_DIR/pg-app-v2" && pass "PostgreSQL is back on the old value" || die "PostgreSQL is not back on the old value"
cmp -s "$IT_DIR/consumer" "$IT_DIR/pg-app-v2" && pass "the consumer is back on the old value" || die "the consumer is not back on the old value"
my_kill_sessions app
if flow_answers row && printf '%s' "$NR_BODY" | grep -q '"answer":"pong"'; then
  pass "the flow still answers, on the old credential (its sessions closed first)"
else
  die "the flow does not answer after the rollback: HTTP $NR_CODE $NR_BODY"
fi
flow_answers check && pass "the flow's check passes again after the rollback" || die "the flow's check after the rollback: HTTP $NR_CODE"
journal_of prod/flow-db-password >"$IT_DIR/journal-2"
if grep -q '^rotate-failed rolling-back verify flow ' "$IT_DIR/journal-2" \
   && grep -q '^rotate-failed rolled-back .* flow-db,flow$\|^rotate-failed rolled-back .* flow,flow-db$' "$IT_DIR/journal-2"; then
  pass "journal: the flow's verification failed and both connectors were rolled back"
else
  die "journal: no verify failure and rollback: $(tail -4 "$IT_DIR/journal-2")"
fi
journal_of prod/pg-app-password >"$IT_DIR/journal-pg-2"
grep -q '^rotate-failed rolled-back .*app-db' "$IT_DIR/journal-pg-2" \
  && pass "journal: the application role's rotation rolled back" || die "journal: the application role's rotation did not roll back"
no_value_in "after the rollback: no value in the PostgreSQL, MariaDB or Node-RED logs" "$PG_LOG" "$MY_LOG" "$MY_ERRLOG" "$NR_LOG"
no_value_in "no value in any process's argv during the failed rotations" "$IT_DIR/argv-2"
no_value_in "no value in the journal" "$WORK/escrow.journal"
expect 0 "the journal verifies" -- as alice audit verify

echo "# integration.nocode: $(($(date +%s) - started)) s"
finish
