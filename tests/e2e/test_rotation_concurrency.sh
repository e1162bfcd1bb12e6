#!/usr/bin/env bash
# Two `rotate --due` runs at once (two CI jobs, say): the vault lock serialises them and the
# second finds nothing due, so every secret is rotated exactly once.
source "$(dirname "$0")/lib.sh"
setup
init_vault alice
member rita --role rotator --env prod
export ESCROW_NOW=2030-01-01T00:00:00Z
as alice connector add slow --env prod --update "sleep 0.3; cat >> $WORK/pushes.txt; echo >> $WORK/pushes.txt" \
  --verify "true" >/dev/null
for n in 1 2 3; do
  printf 'value-%s' "$n" | as alice add "prod/s$n" --purpose "s$n" --every 7d --connector slow >/dev/null
done
export ESCROW_NOW=2030-01-10T00:00:00Z
RITA=$(cat "$WORK/rita.id")
ESCROW_IDENTITY_DATA=$RITA "$ESCROW" --json rotate --due >"$WORK/one.json" 2>"$WORK/one.err" & P1=$!
ESCROW_IDENTITY_DATA=$RITA "$ESCROW" --json rotate --due >"$WORK/two.json" 2>"$WORK/two.err" & P2=$!
wait $P1 && pass "first run exits 0" || die "first run: $(cat "$WORK/one.err")"
wait $P2 && pass "second run exits 0" || die "second run: $(cat "$WORK/two.err")"
total=$(cat "$WORK/one.json" "$WORK/two.json" | grep -c '"result": "rotated"')
[ "$total" -eq 3 ] && pass "three rotations in all" || die "rotations: $total"
# escrow-vault/2: a finished rotation is one rotate-finish operation naming the secret in its items.
for n in 1 2 3; do
  count=$(grep -c "\"action\":\"rotate-finish\",.*\"secret\":\"prod/s$n\"" escrow.journal || true)
  [ "$count" -eq 1 ] && pass "prod/s$n rotated once" || die "prod/s$n rotated $count times"
done
[ "$(grep -c . "$WORK/pushes.txt")" -eq 3 ] && pass "the connector was updated three times" || die "pushes: $(grep -c . "$WORK/pushes.txt")"
expect 0 "verify is clean" -- as alice verify
finish
