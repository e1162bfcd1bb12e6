#!/usr/bin/env bash
# Two processes each add 50 secrets to one vault at the same time: all 100 end up present and
# `verify` is clean. Readers running meanwhile never see a spurious error (no false "rolled
# back": a reader re-reads when a writer replaced the file under it). escrow-vault/2: one
# secret-add entry per add, each a key-file write, a journal append and a head rewrite (D7).
source "$(dirname "$0")/lib.sh"
setup

init_vault alice
member bob --role requester --env dev
export ESCROW_LOCK_WAIT=60

writer() {
  local who=$1 prefix=$2 i
  for i in $(seq 1 50); do
    printf 'value-%s-%s' "$prefix" "$i" | as "$who" add "dev/$prefix$i" --purpose "concurrency" >/dev/null 2>>"$WORK/$prefix.err" \
      || echo "add dev/$prefix$i failed" >>"$WORK/$prefix.err"
  done
}
reader() {
  local i
  for i in $(seq 1 20); do
    as bob list >/dev/null 2>>"$WORK/reader.err" || echo "list failed" >>"$WORK/reader.err"
  done
}

writer alice a & first=$!
writer bob b & second=$!
reader & third=$!
wait $first $second $third

for f in a b reader; do
  if [ -s "$WORK/$f.err" ]; then die "$f reported errors: $(head -3 "$WORK/$f.err")"; else pass "$f: no errors"; fi
done
expect 0 "list --json" -- as alice list --json
count=$(printf '%s\n' "$OUT" | grep -c '"name": "dev/[ab][0-9]*"')
[ "$count" -eq 100 ] && pass "all 100 secrets present" || die "found $count secrets"
expect 0 "verify is clean" -- as alice verify
grep -q '"entries": 102' escrow.vault && pass "one journal entry per add (102 with init and member-add)" \
  || die "entries: $(grep '"entries"' escrow.vault)"
[ "$(grep -c '"action":"secret-add"' escrow.journal)" -eq 100 ] && pass "100 secret-add entries journaled" || die "journal entries"
[ "$(grep -c ':v#' escrow.keys)" -eq 100 ] && pass "100 value lines in escrow.keys" || die "keys: $(grep -c ':v#' escrow.keys)"
expect 0 "a value written concurrently reads back" -- as bob get dev/b37 --reveal
[ "$OUT" = "value-b-37" ] && pass "dev/b37 round-trips" || die "got $OUT"
ls -a | grep >/dev/null '\.tmp\.' && die "temp files left: $(ls -a)" || pass "no temp files left"
finish
