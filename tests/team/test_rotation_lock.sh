#!/usr/bin/env bash
# Git is the lock for rotation (issue 9 item 4; docs/design/vault-2-merge.md §6; docs/TEAM.md):
# with an upstream, `rotate`, `rotate --due`, `rollback` and `compromise` commit and push the
# pending version before any connector runs; a rejected push undoes it and exits 5 without running
# a connector. REAL git: a bare repository and clones. The connector is a command that records
# every run in a log file and holds "the system's" value in a file, so the tests see exactly who
# touched it.
source "$(dirname "$0")/lib.sh"
setup
start_team
person ci1; person ci2
e alice member add "$WORK/ci1.pub" --role rotator --env prod >/dev/null
e alice member add "$WORK/ci2.pub" --role rotator --env prod >/dev/null
export ESCROW_NOW=2030-01-01T00:00:00Z
# The connector: the system's value in system.value; one log line per run, naming the clone.
e alice connector add sys --env prod \
  --update "sleep 0.3; cat > $WORK/system.value; echo \"update \$(basename \"\$PWD\")\" >> $WORK/connector.log" \
  --verify "cmp -s - $WORK/system.value" >/dev/null
printf 'first-value' >"$WORK/system.value"
printf 'first-value' | e alice add prod/db --purpose "the database" --every 7d --connector sys >/dev/null
expect 0 "alice publishes the vault" -- e alice sync
clone ci1; e ci1 git-setup >/dev/null
clone ci2; e ci2 git-setup >/dev/null
: >"$WORK/connector.log"
log_lines() { grep -c . "$WORK/connector.log" || true; }
remote_head() { git -C "$WORK/remote.git" rev-parse main; }
remote_count() { git -C "$WORK/remote.git" show "main:escrow.journal" | grep -c "\"action\":\"$1\"" || true; }
bytes() { (cd "$WORK/$1" && sha256sum escrow.vault escrow.journal escrow.keys); }

# A pre-push hook that makes both runs reach phase 1 before either pushes (a barrier: each run
# has committed its pending version), then lets whoever arrived first push first. Once per clone.
barrier_hook() {
  cat >"$WORK/$1/.git/hooks/pre-push" <<EOF
#!/bin/sh
[ -e "$WORK/barrier-done-$1" ] && exit 0
touch "$WORK/barrier-done-$1" "$WORK/ready-$1"
i=0
while [ ! -e "$WORK/ready-ci1" ] || [ ! -e "$WORK/ready-ci2" ]; do
  i=\$((i + 1)); [ \$i -gt 200 ] && exit 0; sleep 0.05
done
mkdir "$WORK/first-pusher" 2>/dev/null || sleep 1
exit 0
EOF
  chmod +x "$WORK/$1/.git/hooks/pre-push"
}

# 1. Two CI jobs run `rotate --due` at once in two clones: exactly one wins phase 1.
export ESCROW_NOW=2030-01-10T00:00:00Z
barrier_hook ci1; barrier_hook ci2
BEFORE_CI1=$(files_of ci1); BEFORE_CI2=$(files_of ci2)
REMOTE_BEFORE=$(remote_head)
set +e
e ci1 rotate --due >"$WORK/ci1.out" 2>"$WORK/ci1.err" & P1=$!
e ci2 rotate --due >"$WORK/ci2.out" 2>"$WORK/ci2.err" & P2=$!
wait $P1; S1=$?; wait $P2; S2=$?
set -e
echo "# ci1 exit $S1: $(cat "$WORK/ci1.err")"; echo "# ci2 exit $S2: $(cat "$WORK/ci2.err")"
if [ "$S1" -eq 0 ] && [ "$S2" -eq 5 ]; then WIN=ci1; LOSE=ci2; BEFORE_LOSER=$BEFORE_CI2
elif [ "$S1" -eq 5 ] && [ "$S2" -eq 0 ]; then WIN=ci2; LOSE=ci1; BEFORE_LOSER=$BEFORE_CI1
else WIN=; LOSE=; die "exactly one run wins: exits $S1 and $S2"; fi
if [ -n "$WIN" ]; then
  pass "exactly one run won the lock ($WIN), the other exited 5 ($LOSE)"
  LOSER_ERR=$(cat "$WORK/$LOSE.err")
  check "the loser's error is one line naming escrow.vault and the lost lock" -- \
    test "$(grep -c '^escrow: error: ' <<<"$LOSER_ERR")" -eq 1
  check "... 'someone else pushed first (rotation lock not acquired); no connector was touched'" -- \
    contains "$LOSER_ERR" "escrow.vault: someone else pushed first (rotation lock not acquired); no connector was touched"
  check "... with the hint: escrow sync, then run it again" -- contains "$LOSER_ERR" "escrow: hint: escrow sync, then run it again"
  check "the connector ran only for the winner" -- test "$(sort -u "$WORK/connector.log")" = "update $WIN"
  check "... once" -- test "$(log_lines)" -eq 1
  check "the loser's files, HEAD and status are byte-identical to before" -- test "$(files_of "$LOSE")" = "$BEFORE_LOSER"
  expect 0 "the loser's vault verifies" -- e "$LOSE" verify
  check "the winner's finish is pushed (the remote is the winner's HEAD)" -- test "$(remote_head)" = "$(as "$WIN" git rev-parse HEAD)"
  check "... two commits: the start, then the finish" -- \
    test "$(git -C "$WORK/remote.git" rev-list --count "$REMOTE_BEFORE..main")" -eq 2
  check "... the start commit is value-free and names the pending version" -- \
    contains "$(git -C "$WORK/remote.git" log --format=%s main)" "escrow: rotate-start prod/db v2"
  check "... one rotate-start and one rotate-finish upstream" -- test "$(remote_count rotate-start)/$(remote_count rotate-finish)" = "1/1"
  expect 0 "the winner reads the new value" -- e "$WIN" get prod/db --reveal
  check "... which the connector holds" -- test "$OUT" = "$(cat "$WORK/system.value")"
  expect 0 "the loser syncs" -- e "$LOSE" sync
  expect 0 "the loser's next rotate --due finds nothing due" -- e "$LOSE" rotate --due
  check "... says so" -- contains "$OUT" "nothing to rotate"
  check "... and ran no connector" -- test "$(log_lines)" -eq 1
  expect 0 "the loser reads the value the connector holds" -- e "$LOSE" get prod/db --reveal
  check "... the same" -- test "$OUT" = "$(cat "$WORK/system.value")"
  expect 0 "the winner syncs the loser's read" -- e "$WIN" sync
fi
rm -f "$WORK/ci1/.git/hooks/pre-push" "$WORK/ci2/.git/hooks/pre-push"
for who in ci1 ci2; do e "$who" sync >/dev/null; done
check "no secret value in any commit message or diff" -- \
  test "$(git -C "$WORK/remote.git" log -p --format=%B main | grep -c -e first-value -e "$(cat "$WORK/system.value")" || true)" -eq 0

# 2. The same race with no barrier at all, three times: whatever the timing, every due rotation
#    runs its connector exactly once, and the connector ends holding the value the remote says.
for round in 1 2 3; do
  export ESCROW_NOW=2030-0$((round + 1))-15T00:00:00Z
  for who in ci1 ci2; do e "$who" sync >/dev/null; done
  STARTS=$(remote_count rotate-start); LINES=$(log_lines)
  set +e
  e ci1 rotate --due >/dev/null 2>"$WORK/r1.err" & P1=$!
  e ci2 rotate --due >/dev/null 2>"$WORK/r2.err" & P2=$!
  wait $P1; S1=$?; wait $P2; S2=$?
  set -e
  case "$S1/$S2" in 0/0|0/5|5/0) pass "round $round: exits $S1 and $S2 (0 = rotated or found nothing due, 5 = lost the lock)" ;;
    *) die "round $round: exits $S1/$S2: $(cat "$WORK/r1.err" "$WORK/r2.err")" ;; esac
  for who in ci1 ci2; do e "$who" sync >/dev/null; done
  check "round $round: one rotation upstream" -- test "$(remote_count rotate-start)" -eq $((STARTS + 1))
  check "round $round: the connector updated once" -- test "$(log_lines)" -eq $((LINES + 1))
  clone alice "$WORK/fresh$round" && (cd "$WORK/fresh$round" && "$ESCROW" git-setup >/dev/null)
  V=$(cd "$WORK/fresh$round" && HOME="$WORK/home-ci1" XDG_STATE_HOME="$WORK/state-fresh$round" ESCROW_IDENTITY="$WORK/ci1.id" "$ESCROW" get prod/db --reveal)
  check "round $round: the connector holds the value the pushed vault says" -- test "$V" = "$(cat "$WORK/system.value")"
done
expect 0 "ci1 verifies" -- e ci1 verify
expect 0 "ci2 verifies" -- e ci2 verify

# 3. --no-push and escrow.push=false: the rotation as without git (no commit, no push).
export ESCROW_NOW=2030-06-01T00:00:00Z
for who in ci1 ci2; do e "$who" sync >/dev/null; done
REMOTE_BEFORE=$(remote_head); HEAD_BEFORE=$(as ci1 git rev-parse HEAD)
expect 0 "rotate --no-push" -- e ci1 rotate prod/db --no-push
check "... made no commit" -- test "$(as ci1 git rev-parse HEAD)" = "$HEAD_BEFORE"
check "... pushed nothing" -- test "$(remote_head)" = "$REMOTE_BEFORE"
check "... left the three files changed in the work tree" -- \
  test "$(as ci1 git status --porcelain -- escrow.vault escrow.journal escrow.keys | grep -c '^ M' || true)" -eq 3
expect 0 "escrow sync publishes it afterwards" -- e ci1 sync
expect 0 "ci2 pulls it" -- e ci2 sync
as ci2 git config escrow.push false
REMOTE_BEFORE=$(remote_head); HEAD_BEFORE=$(as ci2 git rev-parse HEAD)
expect 0 "rotate with escrow.push=false" -- e ci2 rotate prod/db
check "... made no commit" -- test "$(as ci2 git rev-parse HEAD)" = "$HEAD_BEFORE"
check "... pushed nothing" -- test "$(remote_head)" = "$REMOTE_BEFORE"
expect 0 "rollback with escrow.push=false" -- e ci2 rollback prod/db
check "... made no commit either" -- test "$(as ci2 git rev-parse HEAD)" = "$HEAD_BEFORE"
as ci2 git config --unset escrow.push
expect 0 "ci2 syncs" -- e ci2 sync
expect 0 "ci1 syncs" -- e ci1 sync

# 4. rollback and compromise take the lock too: a lost push is exit 5 with nothing changed.
#    (ci2 is one commit behind a remote that moved after its fetch: a push hook moves it.)
lose_next_push() {
  cat >"$WORK/$1/.git/hooks/pre-push" <<EOF
#!/bin/sh
rm -f "\$0"
cd "$WORK/alice" && git pull -q --no-rebase >/dev/null 2>&1 && git commit -q --allow-empty -m "someone else" && git push -q >/dev/null 2>&1
exit 0
EOF
  chmod +x "$WORK/$1/.git/hooks/pre-push"
}
e alice sync >/dev/null
lose_next_push ci2
BEFORE=$(files_of ci2); LINES=$(log_lines)
expect 5 "rollback loses the lock to a push in between" -- e ci2 rollback prod/db
check "... with the lock message" -- contains "$ERR" "someone else pushed first (rotation lock not acquired); no connector was touched"
check "... no connector ran" -- test "$(log_lines)" -eq "$LINES"
check "... files, HEAD and status byte-identical" -- test "$(files_of ci2)" = "$BEFORE"
e ci2 sync >/dev/null # (the pushes in between: the command would pull them first, as sync)
BEFORE=$(files_of ci2)
lose_next_push ci2
expect 5 "compromise loses the lock the same way" -- e ci2 compromise prod/db --why "leaked in a log"
check "... no connector ran" -- test "$(log_lines)" -eq "$LINES"
check "... files, HEAD and status byte-identical (the compromise mark is undone with the start)" -- test "$(files_of ci2)" = "$BEFORE"
expect 0 "ci2 verifies" -- e ci2 verify
expect 0 "after escrow sync" -- e ci2 sync
expect 0 "the compromise goes through" -- e ci2 compromise prod/db --why "leaked in a log"
check "... its rotation ran the connector" -- test "$(log_lines)" -eq $((LINES + 1))
check "... and is pushed, finish included" -- test "$(remote_head)" = "$(as ci2 git rev-parse HEAD)"
expect 0 "a rotation under the lock" -- e ci2 rotate prod/db
check "... pushed" -- test "$(remote_head)" = "$(as ci2 git rev-parse HEAD)"
expect 0 "a rollback under the lock" -- e ci2 rollback prod/db
check "... pushed too" -- test "$(remote_head)" = "$(as ci2 git rev-parse HEAD)"
expect 0 "ci1 syncs" -- e ci1 sync

# 5. A crash between the phase-1 commit and its push (a pre-push hook kills escrow): the next
#    command under the lock finds the pending version unpublished and undoes it.
crash_hook() { # $1 clone, $2 exit status of the hook after killing escrow (0: the push goes on)
  cat >"$WORK/$1/.git/hooks/pre-push" <<EOF
#!/bin/sh
rm -f "\$0"
escrow_pid=\$(ps -o ppid= -p \$PPID | tr -d ' ')
kill -KILL "\$escrow_pid"
exit $2
EOF
  chmod +x "$WORK/$1/.git/hooks/pre-push"
}
export ESCROW_NOW=2030-09-01T00:00:00Z
BEFORE=$(bytes ci1); HEAD_BEFORE=$(as ci1 git rev-parse HEAD); REMOTE_BEFORE=$(remote_head); LINES=$(log_lines)
crash_hook ci1 1
expect 137 "rotate killed between its commit and its push" -- e ci1 rotate prod/db
check "... its commit was made" -- test "$(as ci1 git rev-parse HEAD)" != "$HEAD_BEFORE"
check "... not pushed" -- test "$(remote_head)" = "$REMOTE_BEFORE"
check "... no connector ran" -- test "$(log_lines)" -eq "$LINES"
expect 0 "rotate --resume resolves it" -- e ci1 rotate --resume
check "... saying the start was never pushed and is undone" -- contains "$ERR" "was never pushed: undone"
check "... the commit is gone" -- test "$(as ci1 git rev-parse HEAD)" = "$HEAD_BEFORE"
check "... the three files are as before the crashed run" -- test "$(bytes ci1)" = "$BEFORE"
check "... and the index matches HEAD again" -- test -z "$(as ci1 git status --porcelain -- escrow.vault escrow.journal escrow.keys)"
expect 0 "... verify is clean (no false loss)" -- e ci1 verify
check "... verify warns about nothing" -- lacks "$ERR" "warning"
expect 0 "rotate works again" -- e ci1 rotate prod/db
check "... running the connector once" -- test "$(log_lines)" -eq $((LINES + 1))

# 6. A crash after the push went out: the start is published, so it is kept and --resume finishes it.
LINES=$(log_lines)
crash_hook ci1 0
expect 137 "rotate killed while its push goes on" -- e ci1 rotate prod/db
for _ in $(seq 1 100); do [ "$(remote_head)" = "$(as ci1 git rev-parse HEAD)" ] && break; sleep 0.1; done
check "... the start reached the remote" -- test "$(remote_head)" = "$(as ci1 git rev-parse HEAD)"
check "... no connector ran" -- test "$(log_lines)" -eq "$LINES"
expect 0 "rotate --resume keeps it and finishes it" -- e ci1 rotate --resume
check "... saying it was pushed and is kept" -- contains "$ERR" "had been pushed before it stopped: kept"
check "... the connector ran" -- test "$(log_lines)" -eq $((LINES + 1))
check "... the finish is pushed" -- test "$(remote_head)" = "$(as ci1 git rev-parse HEAD)"
expect 0 "ci1 verifies" -- e ci1 verify
V=$(e ci1 get prod/db --reveal)
check "the connector holds the vault's value" -- test "$V" = "$(cat "$WORK/system.value")"

# 7. A repository without an upstream: the rotation is unchanged (no commit, no push, no error).
person solo
mkdir "$WORK/solo" && as solo git init -q
e solo init >/dev/null
as solo git add -A && as solo git commit -qm "a vault"
printf 'solo-1' | e solo add dev/x --purpose x --escrow-only >/dev/null
as solo git commit -qam "dev/x"
HEAD_BEFORE=$(as solo git rev-parse HEAD)
expect 0 "rotate in a repository without an upstream" -- e solo rotate dev/x
check "... made no commit" -- test "$(as solo git rev-parse HEAD)" = "$HEAD_BEFORE"
check "... rotated" -- contains "$OUT" "rotated"
# 8. rotate --due is one batched run (vault-2-merge.md §6, issue 12 target 4): phase 1 for every
#    due secret in one rotate-start (one commit, one push), the connectors secret by secret, one
#    rotate-finish (one more commit): two commits upstream, whatever the number of secrets.
export ESCROW_NOW=2030-09-02T00:00:00Z
e alice sync >/dev/null
MULTI_FILE="$WORK/multi-\$(printf %s \"\$ESCROW_SECRET_NAME\" | tr / _)"
e alice connector add multi --env prod \
  --update "cat > $MULTI_FILE; echo \"\$ESCROW_SECRET_NAME\" >> $WORK/multi.log" \
  --verify "cmp -s - $MULTI_FILE" >/dev/null
for n in 1 2 3; do
  printf 'batch-%s-first' "$n" | e alice add "prod/b$n" --purpose "batch $n" --every 7d --connector multi >/dev/null
done
expect 0 "alice publishes three more secrets" -- e alice sync
expect 0 "ci1 pulls them" -- e ci1 sync
: >"$WORK/multi.log"
multi_lines() { grep -c . "$WORK/multi.log" || true; }
last_start() { git -C "$WORK/remote.git" show "main:escrow.journal" | grep '"action":"rotate-start"' | tail -n 1; }
export ESCROW_NOW=2030-09-20T00:00:00Z # prod/b1..b3 and prod/db are due
e alice sync >/dev/null
lose_next_push ci1
BEFORE=$(files_of ci1); LINES=$(log_lines); REMOTE_BEFORE=$(remote_head)
expect 5 "a batched rotate --due loses the lock to a push in between" -- e ci1 rotate --due
check "... with the lock message" -- contains "$ERR" "someone else pushed first (rotation lock not acquired); no connector was touched"
check "... no connector ran" -- test "$(log_lines)/$(multi_lines)" = "$LINES/0"
check "... the whole batch is undone: files, HEAD and status byte-identical" -- test "$(files_of ci1)" = "$BEFORE"
expect 0 "ci1 verifies" -- e ci1 verify
expect 0 "ci1 syncs" -- e ci1 sync
REMOTE_BEFORE=$(remote_head); STARTS=$(remote_count rotate-start); FINISHES=$(remote_count rotate-finish)
expect 0 "rotate --due rotates the four due secrets" -- e ci1 --json rotate --due
check "... all four rotated" -- contains "$OUT" '"rotated": 4'
check "... exactly two commits upstream" -- \
  test "$(git -C "$WORK/remote.git" rev-list --count "$REMOTE_BEFORE..main")" -eq 2
check "... the first is the batched start, naming the count" -- \
  contains "$(git -C "$WORK/remote.git" log --reverse --format=%s "$REMOTE_BEFORE..main" | sed -n 1p)" \
  "escrow: rotate-start of 4 due secrets: prod/b1 v2, prod/b2 v2, prod/b3 v2, prod/db v"
check "... one rotate-start and one rotate-finish entry upstream" -- \
  test "$(remote_count rotate-start)/$(remote_count rotate-finish)" = "$((STARTS + 1))/$((FINISHES + 1))"
check "... the start has an item per secret" -- \
  test "$(last_start | grep -o '"kind":"rotate"' | grep -c .)" -eq 4
check "... the connectors ran once per secret" -- test "$(multi_lines)/$(log_lines)" = "3/$((LINES + 1))"
check "... the finish is pushed" -- test "$(remote_head)" = "$(as ci1 git rev-parse HEAD)"
for n in 1 2 3; do
  V=$(e ci1 get "prod/b$n" --reveal)
  check "prod/b$n: the connector holds the vault's new value" -- test "$V" = "$(cat "$WORK/multi-prod_b$n")"
done
V=$(e ci1 get prod/db --reveal)
check "prod/db: the connector holds the vault's new value" -- test "$V" = "$(cat "$WORK/system.value")"
expect 0 "ci1 verifies" -- e ci1 verify

# 9. A connector failing for one secret of the batch rolls back that secret alone; still two
#    commits (the finish carries its rotate-fail entries).
export ESCROW_NOW=2030-10-01T00:00:00Z # prod/b1..b3 and prod/db due again
e alice sync >/dev/null; e ci1 sync >/dev/null
mv "$WORK/multi-prod_b2" "$WORK/multi-prod_b2.kept"
mkdir "$WORK/multi-prod_b2" # prod/b2's update cannot write its file: it fails, and so does the restore
REMOTE_BEFORE=$(remote_head); FINISHES=$(remote_count rotate-finish)
expect 1 "rotate --due with prod/b2's connector failing exits 1" -- e ci1 --json rotate --due
check "... three rotated" -- contains "$OUT" '"rotated": 3'
check "... prod/b2's rollback is incomplete (its connector cannot even take the old value back)" -- \
  contains "$OUT" '"rollback-incomplete": 1'
check "... still exactly two commits upstream" -- \
  test "$(git -C "$WORK/remote.git" rev-list --count "$REMOTE_BEFORE..main")" -eq 2
check "... one more rotate-finish, naming three secrets" -- test "$(remote_count rotate-finish)" -eq $((FINISHES + 1))
check "... the rotate-fail entries name prod/b2 only" -- test "$(git -C "$WORK/remote.git" show main:escrow.journal \
  | grep '"action":"rotate-fail"' | grep -o '"secret":"prod/[a-z0-9]*"' | sort -u)" = '"secret":"prod/b2"'
rmdir "$WORK/multi-prod_b2"; mv "$WORK/multi-prod_b2.kept" "$WORK/multi-prod_b2"
expect 1 "rotate --resume finishes prod/b2's rollback (exit 1: the rotation failed)" -- e ci1 rotate --resume prod/b2
check "... v2 re-applied" -- contains "$ERR" "v2 re-applied to multi"
check "... the connector holds v2 again" -- test "$(cat "$WORK/multi-prod_b2")" = "$(e ci1 get prod/b2 --reveal)"
expect 0 "ci1 verifies" -- e ci1 verify

# 10. A crash between the batched phase-1 commit and its push: the next command undoes the whole
#     batch (one journal entry, every secret's key lines); no connector had run.
export ESCROW_NOW=2030-11-01T00:00:00Z
e ci1 sync >/dev/null
BEFORE=$(bytes ci1); HEAD_BEFORE=$(as ci1 git rev-parse HEAD); LINES=$(log_lines); MULTI=$(multi_lines)
crash_hook ci1 1
expect 137 "rotate --due killed between its batched commit and its push" -- e ci1 rotate --due
check "... no connector ran" -- test "$(log_lines)/$(multi_lines)" = "$LINES/$MULTI"
expect 0 "rotate --resume resolves it" -- e ci1 rotate --resume
check "... the whole batch undone: one journal entry" -- contains "$ERR" "was never pushed: undone (1 journal entry"
check "... the three files are as before the crashed run" -- test "$(bytes ci1)" = "$BEFORE"
check "... the commit is gone" -- test "$(as ci1 git rev-parse HEAD)" = "$HEAD_BEFORE"
expect 0 "the next rotate --due rotates the four" -- e ci1 --json rotate --due
check "... all four" -- contains "$OUT" '"rotated": 4'
expect 0 "ci1 verifies" -- e ci1 verify
unset ESCROW_NOW
finish
