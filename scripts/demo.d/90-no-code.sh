# Demo act (sourced by scripts/demo, last): the no-code team of examples/no-code-team, against
# real servers started on loopback by the integration harness (tests/integration/lib.sh): a
# Node-RED flow reading MariaDB, and PostgreSQL. Uses the demo's helpers and vault (alice admin).

step "No-code: a Node-RED flow reads MariaDB; the product's PostgreSQL (real servers, loopback only)"
# shellcheck source=/dev/null
source "$root/tests/integration/lib.sh"
IT_REMOVE=("$demo")   # the harness's exit trap now removes the demo directory too
it_setup
pg_start
my_start
for f in pg-admin pg-app flow-db my-admin; do it_new_password "$IT_DIR/$f"; done
pg_create_app "$IT_DIR/pg-admin" "$IT_DIR/pg-app"
my_create_app "$IT_DIR/flow-db"
my_create_admin "$IT_DIR/my-admin"
nr_write_flow "$IT_DIR/flow.json" "$IT_DIR/flow-db"
nr_start "$IT_DIR/flow.json"
rm -f "$IT_DIR/flow.json"
echo "PostgreSQL 127.0.0.1:$PG_PORT, MariaDB 127.0.0.1:$MY_PORT, Node-RED $NR_URL (adminAuth on)"
demo_flow() { # GET the flow's endpoint until it answers 200 (10 s at most), show the answer
  local i
  for i in $(seq 50); do nr_get "$1"; [ "$NR_CODE" = 200 ] && break; sleep 0.2; done
  echo "GET /$1 -> HTTP $NR_CODE $NR_BODY"
}
demo_flow row

step "The connectors' own credentials go into the vault too (stdin, never argv)"
as alice add prod/node-red-admin --purpose "Node-RED adminAuth, user admin" <"$NR_ADMIN_PASSWORD_FILE"
as alice add prod/pg-admin --purpose "PostgreSQL role escrow_admin" <"$IT_DIR/pg-admin"
as alice add prod/my-admin --purpose "MariaDB user escrow_admin" <"$IT_DIR/my-admin"
as alice add prod/flow-db-password --purpose "MariaDB user app, used by the Node-RED flow" <"$IT_DIR/flow-db"
as alice add prod/pg-app-password --purpose "PostgreSQL role app" <"$IT_DIR/pg-app"

step "Connectors in order: MariaDB first, then the flow's config node (--after)"
as alice connector add flow-db --env prod --timeout 30 --kind mysql \
  --conninfo "host=127.0.0.1 port=$MY_PORT user=escrow_admin database=appdb" --user app --host 127.0.0.1 \
  --auth-secret prod/my-admin
as alice connector add flow --env prod --timeout 30 --kind node-red --url "$NR_URL" \
  --node "$NR_DB_NODE" --field password --auth-user "$NR_ADMIN_USER" --auth-secret prod/node-red-admin \
  --verify-url "$NR_URL/check"
as alice connect prod/flow-db-password flow-db
as alice connect prod/flow-db-password flow --after flow-db
as alice connector add app-db --env prod --timeout 30 --kind postgres \
  --conninfo "host=127.0.0.1 port=$PG_PORT dbname=appdb user=escrow_admin" --role app --auth-secret prod/pg-admin
as alice connect prod/pg-app-password app-db
as alice rotate prod/flow-db-password --dry-run

step "Rotate: the database changes first, then the flow, each verified"
as alice rotate prod/flow-db-password
as alice rotate prod/pg-app-password
my_kill_sessions app   # the flow must log in again, with what its config node now holds
demo_flow row
my_login app "$IT_DIR/flow-db" && echo "MariaDB: the old password still works?!" || echo "(MariaDB refuses the old password)"
pg_login app "$IT_DIR/pg-app" && echo "PostgreSQL: the old password still works?!" || echo "(PostgreSQL refuses the old password)"
grep -F -q -f "$IT_DIR/flow-db" "$MY_LOG" "$PG_LOG" "$NR_LOG" && echo "a server log holds a value?!" ||
  echo "(no server log holds a value: MariaDB got a hash, PostgreSQL a SCRAM verifier)"

step "The flow's check breaks on purpose: the rotation fails and rolls back, database first-in last-out"
: >"$NR_BREAK_FILE"
expect_fail 1 as alice rotate prod/flow-db-password
rm -f "$NR_BREAK_FILE"
my_kill_sessions app
demo_flow row
as alice audit log --secret prod/flow-db-password | tail -n 4
git add escrow.vault escrow.journal && git commit -qm "escrow: the no-code team's rotations" && echo "(committed to git)"
