#!/usr/bin/env bash
# A writer killed with SIGKILL at any point leaves either the old or the new vault, never a
# broken one, and the next command works: stale temp files are cleaned, the lock (an flock the
# kernel drops) is free, and a torn journal line is cut off by the next writer.
# escrow-vault/2 (D7): keys (fsync) -> journal append (the commit point) -> head (rename). The
# add landed iff its secret-add line is in the journal; a kill before the append leaves key lines
# no entry names (garbage: a verify warning, removed by the next write); a kill after it leaves
# the head file behind (allowed, rewritten by the next write).
source "$(dirname "$0")/lib.sh"
setup

init_vault alice
printf 'crash-test-value' >value
export ESCROW_LOCK_WAIT=5

# How long one add takes here (the fastest of three), to spread the kills over it (microseconds).
duration=
for w in 1 2 3; do
  start=${EPOCHREALTIME/./}
  as alice add "dev/warmup$w" --purpose crash <value >/dev/null
  took=$(( ${EPOCHREALTIME/./} - start ))
  if [ -z "$duration" ] || [ "$took" -lt "$duration" ]; then duration=$took; fi
done
[ "$duration" -gt 0 ] || duration=50000
pass "one add takes ${duration} us"

iterations=30
landed=0
for i in $(seq 1 "$iterations"); do
  old_journal=$(sha256sum <escrow.journal)
  old_lines=$(wc -l <escrow.journal)
  # Delays from 0 to 1.2x the duration, increasing, plus jitter.
  delay=$(( duration * 6 * i / (5 * iterations) + RANDOM % 2000 ))
  "$ESCROW" --identity "$WORK/alice.id" add "dev/k$i" --purpose crash <value >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '0.%06d' "$delay")"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true

  new_journal=$(sha256sum <escrow.journal)
  lines=$(wc -l <escrow.journal)
  if [ "$new_journal" = "$old_journal" ]; then
    state=old
  elif [ "$lines" -eq $((old_lines + 1)) ] && tail -1 escrow.journal | grep >/dev/null "\"secret\":\"dev/k$i\""; then
    state=new
    landed=$((landed + 1))
  else
    die "iteration $i (delay ${delay} us): neither the old nor the new journal ($lines lines, was $old_lines)"
    continue
  fi
  if ! as alice verify >/dev/null 2>"$WORK/verify.err"; then
    die "iteration $i (delay ${delay} us, $state vault): verify failed: $(cat "$WORK/verify.err")"
  fi
  # The next write works (lock free, temp files cleaned).
  if ! as alice add "dev/after$i" --purpose crash <value >/dev/null 2>"$WORK/add.err"; then
    die "iteration $i: the next add failed: $(cat "$WORK/add.err")"
  fi
  if ls -a | grep >/dev/null '^\.escrow\.\(vault\|keys\)\.tmp\.'; then
    die "iteration $i: temp files left after a locked write: $(ls -a | grep tmp)"
  fi
done
pass "$iterations kills: every vault old or new and verified; $landed adds landed before the kill"
expect 0 "verify after the crash loop" -- as alice verify
expect 0 "a value added after a crash reads back" -- as alice get dev/after7 --reveal
[ "$OUT" = "crash-test-value" ] && pass "value intact" || die "got $OUT"

# A temp file of a killed writer is removed by the next locked write, not by readers.
printf 'half a vault' >.escrow.vault.tmp.99999.deadbeefdeadbeef
expect 0 "a reader works beside a stale temp file" -- as alice list
[ -e .escrow.vault.tmp.99999.deadbeefdeadbeef ] && pass "readers leave temp files alone" || die "reader removed it"
expect 0 "the next write works" -- as alice add dev/stale --purpose crash <value
[ ! -e .escrow.vault.tmp.99999.deadbeefdeadbeef ] && pass "stale temp file cleaned" || die "stale temp file left"

# A torn journal line (killed in the middle of its append) is cut off by the next writer.
good_journal=$(cat escrow.journal)
printf '{"action":"secret-add","actor":"alice","hash":"torn-fragment' >>escrow.journal
expect 0 "add after a torn journal line" -- as alice add dev/torn --purpose crash <value
[ "$(head -c ${#good_journal} escrow.journal)" = "$good_journal" ] && pass "journal prefix intact" || die "journal prefix changed"
grep -q torn-fragment escrow.journal && die "torn fragment still there" || pass "torn fragment removed"
tail -1 escrow.journal | grep >/dev/null '"secret":"dev/torn"' && pass "new entry appended whole" || die "$(tail -1 escrow.journal)"
expect 0 "verify after the torn line" -- as alice verify

# A lock holder killed with SIGKILL leaves no stale lock.
( exec 9>>escrow.vault.lock; flock 9; exec sleep 30 ) &
holder=$!
sleep 0.2
expect 5 "a held lock makes a writer give up (exit 5)" -- env ESCROW_LOCK_WAIT=0.3 "$ESCROW" --identity "$WORK/alice.id" add dev/locked --purpose crash <value
expect_error_line "escrow.vault.lock: the vault is locked by another escrow process" "lock error names the lock file"
kill -9 "$holder"
wait "$holder" 2>/dev/null || true
expect 0 "the lock is free once its holder is killed" -- env ESCROW_LOCK_WAIT=1 "$ESCROW" --identity "$WORK/alice.id" add dev/locked --purpose crash <value
finish
