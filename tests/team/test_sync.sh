#!/usr/bin/env bash
# escrow sync: commits escrow's own changed files with a generated message, pulls, pushes,
# retries a push that lost the race a bounded number of times; distinct statuses for a
# conflict (1), no upstream (2) and a push rejected every time (5).
source "$(dirname "$0")/lib.sh"
setup
start_team
person carol
clone bob; e bob git-setup >/dev/null
clone carol

bytes() { (cd "$WORK/$1" && sha256sum escrow.vault escrow.journal); }

# 1. alice writes, syncs: one commit with a generated message, pushed.
printf 'db-value' | e alice add prod/db --owner alice --purpose "the database" --custodians alice,bob --threshold 1 >/dev/null
e alice share prod/db --with bob >/dev/null
echo "notes of alice" >"$WORK/alice/notes.txt"
expect 0 "alice syncs her change" -- e alice sync
check "... which is pushed" -- test "$(as alice git rev-parse HEAD)" = "$(git -C "$WORK/remote.git" rev-parse main)"
SUBJECT=$(git -C "$WORK/remote.git" log -1 --format=%s main)
check "... with a generated message ($SUBJECT)" -- test "$SUBJECT" = "escrow: 2 journal entries by alice"
BODY=$(git -C "$WORK/remote.git" log -1 --format=%b main)
check "... listing the entries" -- contains "$BODY" "prod/db: add v1 by alice"
check "... committing escrow's files only" -- test "$(git -C "$WORK/remote.git" show --format= --name-only main | sort | tr '\n' ' ')" = "escrow.journal escrow.vault "
check "... leaving the user's own files alone" -- test "$(as alice git status --porcelain)" = "?? notes.txt"
expect 0 "sync again with nothing to do" -- e alice --json sync
check "... reports nothing committed or pushed" -- contains "$OUT" '"pushed": false'

# 2. bob pulls through sync, reads (the read appends to the journal), syncs: alice gets the entry.
expect 0 "bob syncs (a pull)" -- e bob sync
expect 0 "bob now sees prod/db" -- e bob get prod/db --reveal
check "... its value" -- test "$OUT" = db-value
expect 0 "bob syncs his read" -- e bob sync
expect 0 "alice syncs" -- e alice sync
check "alice's journal has bob's read" -- grep -q '"action":"reveal","actor":"bob"' "$WORK/alice/escrow.journal"
expect 0 "alice verifies the merged result" -- e alice verify

# 3. A push that loses the race once is retried: carol pushes between alice's fetch and push
#    (alice's pre-push hook makes her do it, once).
cat >"$WORK/alice/.git/hooks/pre-push" <<HOOK
#!/bin/sh
if [ ! -e "$WORK/raced-once" ] || [ -e "$WORK/race-always" ]; then
  touch "$WORK/raced-once"
  cd "$WORK/carol" && env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE -u GIT_PREFIX -u GIT_LITERAL_PATHSPECS \\
    HOME="$WORK/home-carol" sh -c 'git pull -q && date +%s%N >>README && git add README && git commit -qm "carol: readme" && git push -q'
fi
HOOK
chmod +x "$WORK/alice/.git/hooks/pre-push"
printf 'api' | e alice add prod/api --owner alice --purpose "the api" >/dev/null
expect 0 "alice syncs while carol pushes first" -- e alice --json sync
check "... the push was retried" -- contains "$OUT" '"push_attempts": 2'
check "... and landed" -- test "$(as alice git rev-parse HEAD)" = "$(git -C "$WORK/remote.git" rev-parse main)"
check "... with carol's commit in it" -- test -n "$(git -C "$WORK/remote.git" log --format=%s main | grep 'carol: readme')"
expect 0 "verify after the retried sync" -- e alice verify

# 4. A push that loses every time: status 5 after --attempts, nothing lost locally.
touch "$WORK/race-always"
printf 'web' | e alice add prod/web --owner alice --purpose "the web" >/dev/null
before=$(bytes alice)
expect 5 "sync --attempts 2 against a remote that always moves first" -- e alice sync --attempts 2
check "... says it was rejected twice" -- contains "$ERR" "rejected 2 times"
check "... one error line" -- test "$(printf '%s\n' "$ERR" | grep -c '^escrow: error:')" -eq 1
check "... escrow's files byte-identical" -- test "$before" = "$(bytes alice)"
check "... the commit kept locally" -- test "$(as alice git log -1 --format=%s)" != "carol: readme"
rm -f "$WORK/race-always" "$WORK/alice/.git/hooks/pre-push"
expect 0 "the next sync publishes it" -- e alice sync

# 5. No upstream: status 2, nothing committed.
as alice git switch -q -c solo
printf 'solo' | e alice add prod/solo --owner alice --purpose "solo" >/dev/null
head_before=$(as alice git rev-parse HEAD); before=$(bytes alice)
expect 2 "sync on a branch without upstream" -- e alice sync
check "... names the branch and the fix" -- contains "$ERR" "branch solo has no upstream"
check "... hint: git push -u" -- contains "$ERR" "git push -u origin solo"
check "... nothing committed" -- test "$head_before" = "$(as alice git rev-parse HEAD)"
check "... files byte-identical" -- test "$before" = "$(bytes alice)"
as alice git checkout -q -- escrow.vault escrow.journal
as alice git switch -q main

# 6. A conflict: alice and bob both wrote the vault. bob syncs first; alice's sync is status 1,
#    the merge undone, her files and commit intact, nothing pushed.
e bob sync >/dev/null
printf 'b' | e bob add prod/from-bob --owner bob --purpose "bob's" >/dev/null 2>&1 \
  || e bob request prod/db --ttl 1h --why "bob writes too" >/dev/null
e bob sync >/dev/null
remote_before=$(git -C "$WORK/remote.git" rev-parse main)
printf 'a' | e alice add prod/from-alice --owner alice --purpose "alice's" >/dev/null
expect 1 "alice's sync meets bob's change to the same files" -- e alice sync
check "... a conflict, said in one error line" -- contains "$ERR" "git could not merge"
check "... pointing to the resolution" -- contains "$ERR" "docs/TEAM.md"
check "... no merge left in progress" -- test ! -e "$WORK/alice/.git/MERGE_HEAD"
check "... no conflict markers in her vault" -- test "$(grep -c '^<<<<<<<' "$WORK/alice/escrow.vault" || true)" -eq 0
check "... her change committed locally" -- contains "$(as alice git log -1 --format=%b)$(as alice git log -1 --format=%s)" "prod/from-alice"
check "... nothing pushed" -- test "$remote_before" = "$(git -C "$WORK/remote.git" rev-parse main)"
expect 0 "alice's vault still verifies" -- e alice verify

finish
