#!/usr/bin/env bash
# Issue 11's "done when", against real servers on loopback: a no-code team's credentials rotated
# by escrow through its native connector kinds, in order, each connector's own credential read
# from the vault, and a failed check rolled back.
#
#   Node-RED 4.1 with a flow that queries MariaDB through node-red-node-mysql: ONE secret
#   (prod/flow-db-password) is both the MariaDB account's password and the flow's credential. It
#   is changed in MariaDB first (connector flow-db, kind mysql: a mysql_native_password hash
#   computed by escrow, the admin's password from prod/my-admin), then in the flow's config node
#   through the Node-RED Admin API (connector flow, kind node-red, adminAuth password from
#   prod/node-red-admin), ordered with --after.
#   PostgreSQL: an application role's password (prod/pg-app-password) changed through libpq
#   (connector app-db, kind postgres, admin password from prod/pg-admin), then a consumer; and
#   alternating roles (prod/pg-alt-password: app_blue and app_green, connector alt-db with
#   --alternate-role, then a consumer that logs in as the role escrow names, ESCROW_ROLE).
#
# After a rotation the flow answers with the new credential, the old one no longer logs in, no
# server log (MariaDB's general and error logs included) holds a value, and neither did any
# process's argv while the rotations ran nor escrow's output. Then each consumer's check is broken
# on purpose: the rotation exits 1, database and consumer are back on the old value, the flow
# still answers, and the journal shows rotation, verification, rollback. A password change the
# server refuses (an account that does not exist) leaves no value in its logs either.
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
for f in pg-admin pg-app-v1 flow-db-v1 my-admin pg-alt-v1 ghost-v1; do it_new_password "$IT_DIR/$f"; done
pg_create_app "$IT_DIR/pg-admin" "$IT_DIR/pg-app-v1"
# Alternating roles start with the secret's current value on both roles.
pg_set_password app_blue "$IT_DIR/pg-alt-v1"
pg_set_password app_green "$IT_DIR/pg-alt-v1"
my_create_app "$IT_DIR/flow-db-v1"
my_create_admin "$IT_DIR/my-admin"
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
if flow_answers row && contains "$NR_BODY" '"answer":"pong"'; then
  pass "the flow answers from MariaDB before any rotation"
else
  die "the flow does not answer before any rotation: HTTP $NR_CODE $NR_BODY"
fi

# --- the vault: values from files on stdin, never argv ------------------------------------------
expect 0 "Node-RED admin password stored" -- \
  as alice add prod/node-red-admin --purpose "Node-RED adminAuth password (user admin)" <"$NR_ADMIN_PASSWORD_FILE"
expect 0 "PostgreSQL admin password stored" -- \
  as alice add prod/pg-admin --purpose "PostgreSQL role escrow_admin (CREATEROLE)" <"$IT_DIR/pg-admin"
expect 0 "MariaDB admin password stored" -- \
  as alice add prod/my-admin --purpose "MariaDB user escrow_admin (CREATE USER)" <"$IT_DIR/my-admin"
expect 0 "flow database password stored" -- \
  as alice add prod/flow-db-password --purpose "MariaDB user app, used by the Node-RED flow" <"$IT_DIR/flow-db-v1"
expect 0 "application role password stored" -- \
  as alice add prod/pg-app-password --purpose "PostgreSQL role app" <"$IT_DIR/pg-app-v1"

# --- connectors, in an order that name order would get wrong ("flow" sorts before "flow-db") ----
expect 2 "a MariaDB connector with a password in its conninfo is refused (exit 2)" -- \
  as alice connector add flow-db --env prod --kind mysql --user app \
    --conninfo "host=127.0.0.1 port=$MY_PORT user=escrow_admin password=hunter2"
lacks "$ERR" hunter2 && pass "the refusal does not echo the password" || die "the refusal echoes the password: $ERR"
expect 0 "MariaDB connector added (kind mysql, its admin password from the vault)" -- \
  as alice connector add flow-db --env prod --timeout 30 --kind mysql \
    --conninfo "host=127.0.0.1 port=$MY_PORT user=escrow_admin database=appdb" --user app --host 127.0.0.1 \
    --auth-secret prod/my-admin
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

# Alternating roles: app_blue and app_green; a consumer that logs in as the role escrow names.
expect 0 "alternating roles' password stored" -- \
  as alice add prod/pg-alt-password --purpose "PostgreSQL roles app_blue/app_green (alternating)" <"$IT_DIR/pg-alt-v1"
expect 2 "--alternate-role equal to --role is refused (exit 2)" -- \
  as alice connector add alt-db --env prod --kind postgres \
    --conninfo "host=127.0.0.1 port=$PG_PORT dbname=appdb user=escrow_admin" --role app_blue --alternate-role app_blue \
    --auth-secret prod/pg-admin
expect 0 "postgres connector with alternating roles added" -- \
  as alice connector add alt-db --env prod --timeout 30 --kind postgres \
    --conninfo "host=127.0.0.1 port=$PG_PORT dbname=appdb user=escrow_admin" --role app_blue --alternate-role app_green \
    --auth-secret prod/pg-admin
expect 0 "role consumer added" -- \
  as alice connector add alt-consumer --env prod --timeout 30 \
    --update "$HERE/role-consumer.sh update $IT_DIR/alt-consumer $IT_DIR/break-alt $PG_PORT" \
    --verify "$HERE/role-consumer.sh verify $IT_DIR/alt-consumer $IT_DIR/break-alt $PG_PORT"
expect 0 "alt-db bound" -- as alice connect prod/pg-alt-password alt-db
expect 0 "role consumer bound after alt-db" -- as alice connect prod/pg-alt-password alt-consumer --after alt-db

# A MariaDB account that does not exist: the server refuses the password change.
expect 0 "ghost secret stored" -- as alice add prod/ghost-password --purpose "no such MariaDB account" <"$IT_DIR/ghost-v1"
expect 0 "a mysql connector to an account that does not exist" -- \
  as alice connector add ghost-db --env prod --timeout 30 --kind mysql \
    --conninfo "host=127.0.0.1 port=$MY_PORT user=escrow_admin" --user ghost --auth-secret prod/my-admin
expect 0 "ghost-db bound" -- as alice connect prod/ghost-password ghost-db

reveal() { # reveal ENV/NAME FILE: the current value into FILE (0600)
  (umask 077; as alice get "$1" --reveal >"$2")
}
# Every value of this test, for the leak checks.
values=("$NR_ADMIN_PASSWORD_FILE" "$IT_DIR/pg-admin" "$IT_DIR/pg-app-v1" "$IT_DIR/flow-db-v1" "$IT_DIR/my-admin"
        "$IT_DIR/pg-alt-v1" "$IT_DIR/ghost-v1")
# escrow's own output (stdout and stderr of every rotation, --json), for the leak check.
ESCROW_OUTPUT=$IT_DIR/escrow-output
(umask 077; : >"$ESCROW_OUTPUT")
rotate_as() { # rotate_as CODE DESCRIPTION MEMBER ARGS...: expect, keeping the output
  local code=$1 what=$2 who=$3; shift 3
  expect "$code" "$what" -- as "$who" rotate --json "$@"
  printf '%s\n%s\n' "$OUT" "$ERR" >>"$ESCROW_OUTPUT"
}
no_value_in() { # no_value_in WHAT FILE...: none of $values appears in FILE...
  local what=$1 v hit=""; shift
  for v in "${values[@]}"; do
    if grep -F -q -f "$v" "$@" 2>/dev/null; then hit="$hit $(basename "$v")"; fi
  done
  if [ -z "$hit" ]; then pass "$what"; else die "$what: found the value of$hit"; fi
}
# The journal entries of one secret, newest last, as "action result step connector connectors
# item-results" lines (escrow-vault/2: a rotation is rotate-start then rotate-finish, or
# rotate-fail items rolling-back / rolled-back; a failed connector step is a failed rotate-fail
# event naming the connector and the step; the order connectors run in is the secret's binding,
# journaled by the secret-set that bound them).
journal_of() {
  as alice audit log --secret "$1" --json | python3 -c '
import json, sys
for e in json.load(sys.stdin)["entries"]:
    d = e.get("detail") or {}
    items = (e.get("args") or {}).get("items") or []
    print(e["action"], e["result"], d.get("step", "-"), d.get("connector", "-"),
          ",".join(e.get("connectors") or []) or "-",
          ",".join(i["result"] for i in items if "result" in i) or "-")'
}
# bound_in_order FILE ORDER: the newest entry that set the secret's connectors set them to ORDER.
bound_in_order() {
  [ "$(grep -E '^secret-(add|set) ok ' "$1" | awk '$5 != "-" {c=$5} END {print c}')" = "$2" ]
}

# read_failed ENV/NAME FILE: the value of the secret's newest failed version into FILE (0600),
# added to the values the leak checks look for.
read_failed() {
  local v
  v=$(as alice show "$1" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
vs = d.get("versions") or d.get("secret", {}).get("versions") or []
print(max([x["v"] for x in vs if x.get("state") == "failed"] or [0]))' 2>/dev/null || echo 0)
  if [ "${v:-0}" -gt 0 ] && (umask 077; as alice get "$1" --reveal --version "$v" >"$2"); then
    values+=("$2")
    pass "$1: the rotated version v$v is marked failed"
  else
    die "$1: no failed version to read (state of the rotated version?)"
    : >"$2"
  fi
}

# --- rotation: both secrets, while a sampler watches every process's argv -----------------------
it_sample_argv_start "$IT_DIR/argv-1"
rotate_as 0 "rita (CI's rotator) rotates the flow's database password (MariaDB, then the flow)" rita prod/flow-db-password
rotate_as 0 "rita rotates the application role's password" rita prod/pg-app-password
rotate_as 1 "a password change MariaDB refuses fails the rotation (exit 1)" rita prod/ghost-password
it_sample_argv_stop
if contains "$OUT" "ALTER USER failed for 'ghost'@'%'" && contains "$ERR" 'ROLLBACK INCOMPLETE'; then
  pass "the refusal is MariaDB's own message"
else
  die "no ALTER USER failure in the ghost rotation's output: $OUT"
fi
# Re-applying the old value is refused too: the rollback is incomplete and v2 stays pending.
if (umask 077; as alice get prod/ghost-password --reveal --version 2 >"$IT_DIR/ghost-v2"); then
  values+=("$IT_DIR/ghost-v2")
  pass "the refused value is kept as the pending v2"
else
  die "prod/ghost-password: no pending v2 to read"
fi
reveal prod/flow-db-password "$IT_DIR/flow-db-v2"
reveal prod/pg-app-password "$IT_DIR/pg-app-v2"
values+=("$IT_DIR/flow-db-v2" "$IT_DIR/pg-app-v2")
cmp -s "$IT_DIR/flow-db-v1" "$IT_DIR/flow-db-v2" && die "the flow's database password did not change"
cmp -s "$IT_DIR/pg-app-v1" "$IT_DIR/pg-app-v2" && die "the application role's password did not change"

# The flow's pool may keep sessions opened with the old password: close them, so its answer
# proves it logs in with the credential it now holds.
my_kill_sessions app
if flow_answers row && contains "$NR_BODY" '"who":"app@127.0.0.1"'; then
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

# The logs did record the changes (so the leak checks below look at real traffic): MariaDB's
# general log holds the hash escrow computed, for the new value and for the refused one.
for f in flow-db-v2 ghost-v2 ghost-v1; do
  if grep -F -q "IDENTIFIED WITH mysql_native_password AS '$(my_native_hash <"$IT_DIR/$f")'" "$MY_LOG"; then
    pass "MariaDB's general log recorded the password change of $f as its hash"
  else
    die "MariaDB's general log has no ALTER USER with the hash of $f"
  fi
done
grep -qi 'ALTER ROLE' "$PG_LOG" && pass "PostgreSQL's log recorded the password change" || die "PostgreSQL's log has no ALTER ROLE"
no_value_in "no value in the PostgreSQL, MariaDB or Node-RED logs" "$PG_LOG" "$MY_LOG" "$MY_ERRLOG" "$NR_LOG"
no_value_in "no value in any process's argv during the rotations" "$IT_DIR/argv-1"
# The native connectors run inside escrow: the rotations' own escrow processes are what it sees.
if grep -q ' rotate --json prod/' "$IT_DIR/argv-1"; then
  pass "the sampler saw the rotations and their connectors ($(tail -1 "$IT_DIR/argv-1"))"
else
  die "the sampler did not see the rotations ($(tail -1 "$IT_DIR/argv-1")): its check proves nothing"
fi
journal_of prod/flow-db-password >"$IT_DIR/journal-1"
if grep -q '^rotate-finish ok ' "$IT_DIR/journal-1" && bound_in_order "$IT_DIR/journal-1" flow-db,flow; then
  pass "journal: rotated and verified, flow-db before flow"
else
  die "journal: no successful rotation in the order flow-db, flow: $(tail -3 "$IT_DIR/journal-1")"
fi
journal_of prod/pg-app-password >"$IT_DIR/journal-pg-1"
grep -q '^rotate-finish ok ' "$IT_DIR/journal-pg-1" && bound_in_order "$IT_DIR/journal-pg-1" app-db,app-consumer \
  && pass "journal: app-db before app-consumer" || die "journal: no rotation in the order app-db, app-consumer"

# --- a check broken on purpose: the rotation rolls back ---------------------------------------
: >"$NR_BREAK_FILE"
: >"$IT_DIR/break-consumer"
it_sample_argv_start "$IT_DIR/argv-2"
rotate_as 1 "a broken flow check fails the rotation (exit 1)" rita prod/flow-db-password
rotate_as 1 "a broken consumer check fails the rotation (exit 1)" rita prod/pg-app-password
it_sample_argv_stop
rm -f "$NR_BREAK_FILE" "$IT_DIR/break-consumer"
reveal prod/flow-db-password "$IT_DIR/flow-db-now"
reveal prod/pg-app-password "$IT_DIR/pg-app-now"
cmp -s "$IT_DIR/flow-db-now" "$IT_DIR/flow-db-v2" && pass "the vault keeps the flow's current password" || die "the vault's current flow password changed"
cmp -s "$IT_DIR/pg-app-now" "$IT_DIR/pg-app-v2" && pass "the vault keeps the application role's current password" || die "the vault's current application password changed"
# The failed versions' values (the owner still reads them) must not log in.
for name in flow-db pg-app; do
  read_failed "prod/$name-password" "$IT_DIR/$name-failed"
done
my_login app "$IT_DIR/flow-db-failed" && die "MariaDB: the failed value logs in" || pass "MariaDB: the failed value does not log in"
pg_login app "$IT_DIR/pg-app-failed" && die "PostgreSQL: the failed value logs in" || pass "PostgreSQL: the failed value does not log in"

my_login app "$IT_DIR/flow-db-v2" && pass "MariaDB is back on the old value" || die "MariaDB is not back on the old value"
pg_login app "$IT_DIR/pg-app-v2" && pass "PostgreSQL is back on the old value" || die "PostgreSQL is not back on the old value"
cmp -s "$IT_DIR/consumer" "$IT_DIR/pg-app-v2" && pass "the consumer is back on the old value" || die "the consumer is not back on the old value"
my_kill_sessions app
if flow_answers row && contains "$NR_BODY" '"answer":"pong"'; then
  pass "the flow still answers, on the old credential (its sessions closed first)"
else
  die "the flow does not answer after the rollback: HTTP $NR_CODE $NR_BODY"
fi
flow_answers check && pass "the flow's check passes again after the rollback" || die "the flow's check after the rollback: HTTP $NR_CODE"
journal_of prod/flow-db-password >"$IT_DIR/journal-2"
if grep -q '^rotate-fail failed verify flow ' "$IT_DIR/journal-2" \
   && grep -q '^rotate-fail ok .* rolling-back$' "$IT_DIR/journal-2" \
   && grep -q '^rotate-fail ok .* rolled-back$' "$IT_DIR/journal-2"; then
  pass "journal: the flow's verification failed and both connectors were rolled back"
else
  die "journal: no verify failure and rollback: $(tail -4 "$IT_DIR/journal-2")"
fi
journal_of prod/pg-app-password >"$IT_DIR/journal-pg-2"
grep -q '^rotate-fail failed ' "$IT_DIR/journal-pg-2" && grep -q '^rotate-fail ok .* rolled-back$' "$IT_DIR/journal-pg-2" \
  && pass "journal: the application role's rotation rolled back" || die "journal: the application role's rotation did not roll back"

# --- alternating roles (PostgreSQL): app_blue and app_green take turns ------------------------
# Both roles started with v1. A version's role alternates with each rotation that did not fail;
# the consumer after alt-db is told the role (ESCROW_ROLE) and logs in as it.
alt_role() { cat "$IT_DIR/alt-consumer.role" 2>/dev/null; }
it_sample_argv_start "$IT_DIR/argv-3"
rotate_as 0 "alternating roles: the first rotation" rita prod/pg-alt-password
reveal prod/pg-alt-password "$IT_DIR/pg-alt-v2"
values+=("$IT_DIR/pg-alt-v2")
[ "$(alt_role)" = app_green ] && pass "the consumer was told to use app_green" || die "the consumer was told '$(alt_role)', not app_green"
contains "$OUT" 'the consumers use app_green' \
  && pass "escrow's output names the role the consumers use" || die "escrow's output does not name the role: $OUT"
pg_login app_green "$IT_DIR/pg-alt-v2" && pass "app_green logs in with the new value" || die "app_green refuses the new value"
pg_login app_blue "$IT_DIR/pg-alt-v1" && pass "app_blue still logs in with the previous value (no downtime)" \
  || die "app_blue no longer logs in with the previous value"
pg_login app_blue "$IT_DIR/pg-alt-v2" && die "app_blue logs in with the new value" || pass "app_blue does not take the new value"

rotate_as 0 "alternating roles: the second rotation" rita prod/pg-alt-password
reveal prod/pg-alt-password "$IT_DIR/pg-alt-v3"
values+=("$IT_DIR/pg-alt-v3")
[ "$(alt_role)" = app_blue ] && pass "the consumer was told to use app_blue" || die "the consumer was told '$(alt_role)', not app_blue"
pg_login app_blue "$IT_DIR/pg-alt-v3" && pass "app_blue logs in with the newest value" || die "app_blue refuses the newest value"
pg_login app_green "$IT_DIR/pg-alt-v2" && pass "app_green still logs in with the previous value" \
  || die "app_green no longer logs in with the previous value"
pg_login app_blue "$IT_DIR/pg-alt-v1" && die "app_blue still takes the value two rotations old" \
  || pass "the value two rotations old logs in nowhere"

: >"$IT_DIR/break-alt"
rotate_as 1 "alternating roles: a broken consumer check fails the rotation (exit 1)" rita prod/pg-alt-password
rm -f "$IT_DIR/break-alt"
read_failed prod/pg-alt-password "$IT_DIR/pg-alt-failed"
for role in app_blue app_green; do
  pg_login "$role" "$IT_DIR/pg-alt-failed" && die "the failed value logs in as $role" || pass "the failed value does not log in as $role"
done
[ "$(alt_role)" = app_blue ] && cmp -s "$IT_DIR/alt-consumer" "$IT_DIR/pg-alt-v3" \
  && pass "the consumer is back on app_blue and the current value" || die "the consumer is not back on app_blue ($(alt_role))"
pg_login app_blue "$IT_DIR/pg-alt-v3" && pass "app_blue keeps the current value" || die "app_blue lost the current value"

rotate_as 0 "alternating roles: the rotation after the failed one" rita prod/pg-alt-password
reveal prod/pg-alt-password "$IT_DIR/pg-alt-v5"
values+=("$IT_DIR/pg-alt-v5")
[ "$(alt_role)" = app_green ] && pass "a failed rotation does not count: app_green's turn" \
  || die "after the failed rotation the consumer was told '$(alt_role)', not app_green"
pg_login app_green "$IT_DIR/pg-alt-v5" && pass "app_green logs in with the new value" || die "app_green refuses the new value"
pg_login app_blue "$IT_DIR/pg-alt-v3" && pass "app_blue still logs in with the previous value" \
  || die "app_blue no longer logs in with the previous value"
it_sample_argv_stop
journal_of prod/pg-alt-password >"$IT_DIR/journal-alt"
[ "$(grep -c '^rotate-finish ok ' "$IT_DIR/journal-alt")" -eq 3 ] \
  && bound_in_order "$IT_DIR/journal-alt" alt-db,alt-consumer \
  && grep -q '^rotate-fail ok .* rolled-back$' "$IT_DIR/journal-alt" \
  && pass "journal: three alternating rotations and one rollback" || die "journal: $(tail -5 "$IT_DIR/journal-alt")"

no_value_in "after the rollback: no value in the PostgreSQL, MariaDB or Node-RED logs" "$PG_LOG" "$MY_LOG" "$MY_ERRLOG" "$NR_LOG"
no_value_in "no value in any process's argv during the failed rotations" "$IT_DIR/argv-2"
no_value_in "no value in any process's argv during the alternating rotations" "$IT_DIR/argv-3"
grep -q ' rotate --json prod/pg-alt-password' "$IT_DIR/argv-3" \
  && pass "the sampler saw the alternating rotations ($(tail -1 "$IT_DIR/argv-3"))" \
  || die "the sampler did not see the alternating rotations ($(tail -1 "$IT_DIR/argv-3")): its check proves nothing"
no_value_in "no value in escrow's output" "$ESCROW_OUTPUT"
no_value_in "no value in the journal" "$WORK/escrow.journal"
expect 0 "the journal verifies" -- as alice audit verify

echo "# integration.nocode: $(($(date +%s) - started)) s"
finish
