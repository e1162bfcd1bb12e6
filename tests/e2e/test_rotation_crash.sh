#!/usr/bin/env bash
# Crash safety: escrow is SIGKILLed while a connector runs, then `rotate --resume` finishes the
# job. No value any connector accepted is lost; the vault and every connector agree afterwards.
source "$(dirname "$0")/lib.sh"
setup
init_vault alice

# A connector that stores the value, then blocks while $WORK/block-<step> exists (reporting
# that it is running), so that the test can kill escrow at exactly that point.
cat >"$WORK/conn.sh" <<'SH'
#!/bin/sh
# conn.sh NAME update|verify
name=$1 step=$2 work=$(dirname "$0")
v=$(cat)
if [ "$step" = update ]; then printf '%s' "$v" >"$work/$name.txt"; fi
if [ -e "$work/block-$name-$ESCROW_ACTION" ]; then
  rm -f "$work/block-$name-$ESCROW_ACTION"
  echo ready >"$work/ready"
  sleep 30
fi
if [ "$step" = verify ]; then
  [ -e "$work/reject-$name-$ESCROW_VERSION" ] && { echo "rejected" >&2; exit 3; }
  [ "$v" = "$(cat "$work/$name.txt")" ]
fi
SH
chmod +x "$WORK/conn.sh"
for c in a b c; do
  as alice connector add "$c" --env prod --update "$WORK/conn.sh $c update" --verify "$WORK/conn.sh $c verify" >/dev/null
done
printf 'first-value' | as alice add prod/db --purpose db --connector a --connector b --connector c >/dev/null
for c in a b c; do printf 'first-value' >"$WORK/$c.txt"; done

# kill_during ACTION-FILE ARGS...: runs escrow in the background, SIGKILLs it (the escrow process
# itself) once the blocking connector reports, then ends the orphaned connector's process group.
kill_during() {
  local block=$1; shift
  rm -f "$WORK/ready"; touch "$WORK/$block"
  "$ESCROW" --identity "$WORK/alice.id" "$@" >"$WORK/killed.out" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do [ -e "$WORK/ready" ] && break; sleep 0.05; done
  [ -e "$WORK/ready" ] || { die "the connector never started"; return; }
  local child group
  child=$(pgrep -P "$pid" | head -1)
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  if [ -n "$child" ]; then
    group=$(awk '{print $5}' "/proc/$child/stat" 2>/dev/null || true)
    [ -n "$group" ] && kill -9 -- "-$group" 2>/dev/null || true
  fi
  pass "escrow SIGKILLed during $block"
}
agree() { # agree DESCRIPTION: every connector holds the vault's current value
  local current; current=$(as alice get prod/db --reveal)
  for c in a b c; do
    [ "$(cat "$WORK/$c.txt")" = "$current" ] || { die "$1: connector $c holds another value"; return; }
  done
  pass "$1: vault and every connector agree"
}

# 1. Killed while connector b runs its update (a already took the new value).
kill_during block-b-rotate rotate prod/db
TAKEN=$(cat "$WORK/a.txt")
[ "$TAKEN" != first-value ] && pass "connector a had accepted the new value" || die "a did not update"
expect 0 "list shows the pending version" -- as alice list
printf '%s\n' "$OUT" | grep >/dev/null 'pending v2' && pass "pending v2 survived the kill" || die "list: $OUT"
[ "$(as alice get prod/db --reveal --version 2)" = "$TAKEN" ] && pass "the accepted value is in the vault" || die "value lost"
expect 0 "rotate --resume rolls forward" -- as alice --json rotate --resume
printf '%s\n' "$OUT" | grep >/dev/null '"result": "rotated"' && pass "resumed as rotated" || die "resume: $OUT"
[ "$(as alice get prod/db --reveal)" = "$TAKEN" ] && pass "the accepted value is current" || die "current differs"
agree "after roll-forward"

# 2. Killed during the rollback of a failed rotation (c rejects v3; the restore of a blocks).
touch "$WORK/reject-c-3"
kill_during block-a-restore rotate prod/db
expect 1 "rotate --resume completes the rollback" -- as alice rotate --resume
expect_error_line "an earlier run had begun rolling it back; v2 re-applied to a, b, c" "the resume says why it rolled back"
[ "$(as alice get prod/db --reveal)" = "$TAKEN" ] && pass "v2 is still current" || die "current changed"
agree "after roll-back"
expect 0 "show" -- as alice show prod/db
printf '%s\n' "$OUT" | grep >/dev/null -E '^ +v3 +failed' && pass "v3 is marked failed (and kept)" || die "show: $OUT"

# 3. Killed while verifying: resume re-applies and re-verifies, then finishes.
kill_during block-c-rotate rotate prod/db   # c's update blocks on v4
expect 0 "resume after a kill in the middle of v4" -- as alice rotate --resume
agree "after the third resume"
[ "$(as alice get prod/db --reveal --version 4)" = "$(as alice get prod/db --reveal)" ] && pass "v4 is current" || die "v4"
expect 0 "verify is clean" -- as alice verify
# 4. rotate --due is one batched run (docs/ROTATION.md): one rotate-start for every due secret
#    before any connector runs. Killed while the second secret's connector runs: every pending
#    value is in the vault (the first secret's connector holds its own), nothing is finished, and
#    rotate --resume finishes them all.
cat >"$WORK/per.sh" <<'SH'
#!/bin/sh
# per.sh update|verify: one file per secret; blocks while $WORK/block-per-<ENV>_<NAME> exists.
step=$1 work=$(dirname "$0") id=$(printf %s "$ESCROW_SECRET_NAME" | tr / _)
v=$(cat)
if [ "$step" = update ]; then printf '%s' "$v" >"$work/per-$id.txt"; fi
if [ -e "$work/block-per-$id" ]; then
  rm -f "$work/block-per-$id"
  echo ready >"$work/ready"
  sleep 30
fi
if [ "$step" = verify ]; then [ "$v" = "$(cat "$work/per-$id.txt")" ]; fi
SH
chmod +x "$WORK/per.sh"
as alice connector add per --env prod --update "$WORK/per.sh update" --verify "$WORK/per.sh verify" >/dev/null
for n in 1 2 3; do
  printf 'batch-%s-1' "$n" | as alice add "prod/b$n" --purpose "batch $n" --every 1d --connector per >/dev/null
  printf 'batch-%s-1' "$n" >"$WORK/per-prod_b$n.txt"
done
export ESCROW_NOW; ESCROW_NOW=$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)
STARTS=$(grep -c '"action":"rotate-start"' "$WORK/escrow.journal" || true)
FINISHES=$(grep -c '"action":"rotate-finish"' "$WORK/escrow.journal" || true)
kill_during block-per-prod_b2 rotate --due
check_journal() { # check_journal DESCRIPTION STARTS FINISHES
  [ "$(grep -c '"action":"rotate-start"' "$WORK/escrow.journal")/$(grep -c '"action":"rotate-finish"' "$WORK/escrow.journal" || true)" = "$2/$3" ] \
    && pass "$1" || die "$1: $(grep -c '"action":"rotate-start"' "$WORK/escrow.journal") starts"
}
check_journal "one batched rotate-start, no finish" $((STARTS + 1)) "$FINISHES"
ITEMS=$(grep '"action":"rotate-start"' "$WORK/escrow.journal" | tail -n 1 | grep -o '"secret":"prod/b[123]"' | grep -c . || true)
[ "$ITEMS" -eq 3 ] && pass "... with an item per due secret" || die "items: $ITEMS"
for n in 1 2 3; do
  expect 0 "prod/b$n: pending v2 is in the vault" -- as alice get "prod/b$n" --reveal --version 2
done
[ "$(cat "$WORK/per-prod_b1.txt")" = "$(as alice get prod/b1 --reveal --version 2)" ] \
  && pass "prod/b1's connector had taken v2 (set and tested before the kill)" || die "prod/b1"
[ "$(cat "$WORK/per-prod_b3.txt")" = batch-3-1 ] && pass "prod/b3's connector was never touched" || die "prod/b3"
expect 0 "rotate --resume finishes the batch" -- as alice --json rotate --resume
printf '%s\n' "$OUT" | grep >/dev/null '"rotated": 3' && pass "three rotated" || die "resume: $OUT"
for n in 1 2 3; do
  [ "$(cat "$WORK/per-prod_b$n.txt")" = "$(as alice get "prod/b$n" --reveal)" ] \
    && pass "prod/b$n: vault and connector agree on v2" || die "prod/b$n disagrees"
done
expect 0 "verify is clean" -- as alice verify
unset ESCROW_NOW
finish
