#!/usr/bin/env bash
# The "done when" of rotation, as a new user would do it with examples/connectors: bind a secret
# to two connectors (a .env file and a webhook), rotate it, watch a failing connector roll back
# cleanly, handle a manual connector, and run the CI wrapper as a rotator from ESCROW_IDENTITY_DATA.
# A rollback after a member's removal leaves the secret due (only a new value is a remedy).
source "$(dirname "$0")/lib.sh"
EXAMPLES=$(cd "$(dirname "$0")/../.." && pwd)/examples
setup

init_vault alice
member rita --role rotator --env prod
export ESCROW_NOW=2030-01-01T00:00:00Z

# A tiny HTTP service standing in for a provider's API: POST /update stores the body,
# POST /verify accepts the stored value (but not version N while $WORK/reject holds N), GET /value
# shows the stored value.
cat >"$WORK/server.py" <<'PY'
import http.server, os, sys
work = sys.argv[1]
store = {"value": b""}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/update":
            store["value"] = body; code = 200
        elif self.path == "/verify":
            reject = os.path.join(work, "reject")
            bad = os.path.exists(reject) and open(reject).read().strip() == self.headers.get("X-Escrow-Version")
            code = 409 if bad or body != store["value"] else 200
        else:
            code = 404
        self.send_response(code); self.end_headers()
        if code != 200:
            self.wfile.write(b"rejected " + body)
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(store["value"])
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(os.path.join(work, "port"), "w").write(str(s.server_address[1]))
s.serve_forever()
PY
if command -v python3 >/dev/null && command -v curl >/dev/null; then
  python3 "$WORK/server.py" "$WORK" & SERVER=$!
  trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
  URL="http://127.0.0.1:$(cat "$WORK/port")"
  HAVE_WEBHOOK=1
else
  echo "# skip: python3 or curl missing, the webhook connector is not exercised"
  HAVE_WEBHOOK=0
fi

printf 'APP_NAME=demo\nDB_PASSWORD=old-db-pass-1\nPORT=8080\n' >"$WORK/app.env"
expect 0 "env-file connector added" -- as alice connector add app-env --env prod \
  --update "$EXAMPLES/connectors/env-file.sh update $WORK/app.env DB_PASSWORD" \
  --verify "$EXAMPLES/connectors/env-file.sh verify $WORK/app.env DB_PASSWORD"
CONNECT=(--connector app-env)
if [ "$HAVE_WEBHOOK" = 1 ]; then
  expect 0 "webhook connector added" -- as alice connector add config-api --env prod --timeout 10 \
    --update "$EXAMPLES/connectors/webhook.sh update $URL/update" \
    --verify "$EXAMPLES/connectors/webhook.sh verify $URL/verify"
  CONNECT+=(--connector config-api)
  printf 'old-db-pass-1' | curl -s --data-binary @- "$URL/update" >/dev/null
fi
expect 0 "secret bound to both connectors" -- sh -c "printf 'old-db-pass-1' | '$ESCROW' --identity '$WORK/alice.id' add prod/db --purpose 'app database' --every 30d ${CONNECT[*]}"

expect 0 "rotate pushes to every connector" -- as alice rotate prod/db
printf '%s\n' "$OUT" | grep >/dev/null '^prod/db: rotated v1 → v2' && pass "rotation reported" || die "rotate said: $OUT"
NEW=$(as alice get prod/db --reveal)
grep -qx "DB_PASSWORD=$NEW" "$WORK/app.env" && pass ".env holds the new value" || die ".env: $(cat "$WORK/app.env")"
grep -qx 'PORT=8080' "$WORK/app.env" && pass ".env keeps its other lines" || die ".env lost lines"
if [ "$HAVE_WEBHOOK" = 1 ]; then
  [ "$(curl -s "$URL/value")" = "$NEW" ] && pass "webhook service holds the new value" || die "service: $(curl -s "$URL/value")"
fi

# The config service starts rejecting verification: the next rotation rolls back cleanly.
if [ "$HAVE_WEBHOOK" = 1 ]; then
  echo 3 >"$WORK/reject"   # the config service will refuse v3
  expect 1 "a failing connector fails the rotation" -- as alice rotate prod/db
  expect_error_line "rotate prod/db: v3 rotation failed: connector config-api verify failed \(exit 22\).*v2 re-applied to app-env, config-api" \
    "the error names the connector and what it printed"
  grep -qx "DB_PASSWORD=$NEW" "$WORK/app.env" && pass ".env holds the old value again" || die ".env: $(cat "$WORK/app.env")"
  [ "$(curl -s "$URL/value")" = "$NEW" ] && pass "webhook service holds the old value again" || die "service changed"
  [ "$(as alice get prod/db --reveal)" = "$NEW" ] && pass "v2 is still current" || die "current changed"
  expect 0 "show lists the failed version" -- as alice show prod/db
  printf '%s\n' "$OUT" | grep >/dev/null -E '^ +v3 +failed' && pass "v3 failed" || die "show: $OUT"
  FAILED=$(as alice get prod/db --reveal --version 3)
  printf '%s\n' "$ERR" | grep >/dev/null -F -- "$FAILED" && die "the failed value is in the error" || pass "the error holds no value"
  rm -f "$WORK/reject"
fi

# A platform with no API: a manual connector and the paste helper.
expect 0 "manual connector added" -- as alice connector add billing-portal --env prod --manual \
  --instructions "Billing > Settings > API key: paste, Save"
expect 0 "bound with connect" -- sh -c "printf 'bill-key-1' | '$ESCROW' --identity '$WORK/alice.id' add prod/billing --purpose billing"
expect 0 "connect binds an existing secret" -- as alice connect prod/billing billing-portal
expect 0 "rotation stops for the paste" -- as alice rotate prod/billing
printf '%s\n' "$OUT" | grep >/dev/null 'awaiting confirmation from billing-portal' && pass "says who must paste where" || die "$OUT"
[ "$(as alice get prod/billing --reveal)" = "bill-key-1" ] && pass "the old value stays current" || die "current changed"
expect 0 "manual-paste.sh pastes and confirms" -- sh -c "echo y | ESCROW='$ESCROW --identity $WORK/alice.id' ESCROW_PASTE_WITH='cat > $WORK/pasted.txt' '$EXAMPLES/connectors/manual-paste.sh' prod/billing billing-portal"
[ "$(cat "$WORK/pasted.txt")" = "$(as alice get prod/billing --reveal)" ] && pass "the pasted value is now current" || die "paste mismatch: $OUT / $ERR / $(as alice show prod/billing)"

# CI: the rotator runs the wrapper with its identity in the environment, a month later.
export ESCROW_NOW=2030-02-15T00:00:00Z
RITA=$(cat "$WORK/rita.id")
expect 0 "the CI wrapper rotates what is due" -- env ESCROW_IDENTITY_DATA="$RITA" ESCROW="$ESCROW" \
  ESCROW_CI_REPORT="$WORK/report.json" "$EXAMPLES/ci/rotate-due.sh"
printf '%s\n' "$OUT" | grep >/dev/null '^- prod/db: rotated to v' && pass "wrapper summary names the rotation" || die "wrapper: $OUT"
grep -q '"result": "rotated"' "$WORK/report.json" && pass "JSON report kept" || die "report: $(cat "$WORK/report.json")"
NEWEST=$(as alice get prod/db --reveal)
grep -qx "DB_PASSWORD=$NEWEST" "$WORK/app.env" && pass ".env follows the CI rotation" || die ".env: $(cat "$WORK/app.env")"
expect 0 "nothing is due afterwards" -- env ESCROW_IDENTITY_DATA="$RITA" ESCROW="$ESCROW" \
  ESCROW_CI_REPORT="$WORK/report2.json" "$EXAMPLES/ci/rotate-due.sh"
printf '%s\n' "$OUT" | grep >/dev/null 'nothing was due' && pass "second run is a no-op" || die "second run: $OUT"

# Rollback: the previous value goes back to every connector.
expect 0 "rollback re-applies the previous version" -- as alice rollback prod/db
[ "$(as alice get prod/db --reveal)" = "$NEW" ] || [ "$HAVE_WEBHOOK" = 0 ] && pass "previous is current again" || die "rollback"
grep -qx "DB_PASSWORD=$(as alice get prod/db --reveal)" "$WORK/app.env" && pass ".env follows the rollback" || die ".env after rollback"

# A rollback is no remedy for a removal: rita held both values, so the secret stays due.
expect 0 "rita is removed" -- as alice member remove rita
expect 0 "prod/db is due" -- as alice --json rotate --due --dry-run
contains "$OUT" "member rita removed" && pass "... because rita was removed" || die "due after removal: $OUT"
expect 0 "rollback again" -- as alice rollback prod/db
expect 0 "prod/db is still due" -- as alice --json rotate --due --dry-run
contains "$OUT" "member rita removed" && pass "... the rollback's finish kept the reason" || die "due after rollback: $OUT"

# No value in any file escrow wrote, or in anything it printed.
for value in "$NEW" "$NEWEST" "${FAILED:-unused-marker}" old-db-pass-1 bill-key-1; do
  if grep -qF -- "$value" escrow.vault escrow.journal "$WORK/report.json"; then die "a value leaked to a file"; fi
done
pass "no value in the vault, journal or CI report"
expect 0 "verify is clean" -- as alice verify
finish
