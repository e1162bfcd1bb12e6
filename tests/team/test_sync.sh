#!/usr/bin/env bash
# escrow sync on escrow-vault/2 (issue 9 items 1 and 3): commits escrow's three files with a
# generated message, pulls (git merges each file through `escrow merge`), seals a merge with a
# signed merge entry, pushes, retries a push that lost the race a bounded number of times.
# Concurrent adds, reads on both sides, a request on one clone approved on another all merge
# without a conflict, through `escrow sync` and through a plain `git pull`; every value stays
# readable by exactly the right people; operations that do not commute (a request approved on one
# side and denied on the other) are the one conflict: status 1, nothing pushed, no JSON opened.
# Distinct statuses for a conflict (1), no upstream (2) and a push rejected every time (5).
#
# Adapted from escrow-vault/1, where any two clones that both wrote conflicted (section 6 proved
# that refusal); on escrow-vault/2 the same concurrent writes merge, and the conflict is made of
# operations that truly do not commute.
source "$(dirname "$0")/lib.sh"
setup
start_team
person carol
e alice member add "$WORK/carol.pub" --role requester --env staging --env prod >/dev/null
as alice git commit -qam "carol joins" && as alice git push -q
clone bob; e bob git-setup >/dev/null
clone carol; e carol git-setup >/dev/null

bytes() { (cd "$WORK/$1" && sha256sum escrow.vault escrow.journal escrow.keys); }

# 1. alice writes, syncs: one commit with a generated message, pushed.
printf 'db-value' | e alice add prod/db --owner alice --purpose "the database" --custodians bob --threshold 1 >/dev/null
e alice share prod/db --with bob >/dev/null
echo "notes of alice" >"$WORK/alice/notes.txt"
expect 0 "alice syncs her change" -- e alice sync
check "... which is pushed" -- test "$(as alice git rev-parse HEAD)" = "$(git -C "$WORK/remote.git" rev-parse main)"
SUBJECT=$(git -C "$WORK/remote.git" log -1 --format=%s main)
check "... with a generated message ($SUBJECT)" -- test "$SUBJECT" = "escrow: 2 journal entries by alice"
BODY=$(git -C "$WORK/remote.git" log -1 --format=%b main)
check "... listing the entries" -- contains "$BODY" "prod/db: add v1 by alice"
check "... committing escrow's three files only" -- test "$(git -C "$WORK/remote.git" show --format= --name-only main | sort | tr '\n' ' ')" = "escrow.journal escrow.keys escrow.vault "
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
expect 0 "alice verifies the result" -- e alice verify

# 3. Two people add at once (bob: prod/sendgrid, carol: staging/twilio, from the same commit),
#    and alice reads at the same time: everything merges, no conflict, no JSON opened.
expect 0 "carol syncs (a pull)" -- e carol sync
printf 'sg-value' | e bob add prod/sendgrid --owner bob --purpose "mail" >/dev/null
printf 'tw-value' | e carol add staging/twilio --owner carol --purpose "sms" >/dev/null
expect 0 "alice reads prod/db meanwhile" -- e alice get prod/db --reveal
expect 0 "carol syncs first" -- e carol sync
expect 0 "bob syncs: his add and carol's merge" -- e bob --json sync
check "... the pull merged" -- contains "$OUT" '"pulled": 1'
check "... and sync sealed the merge with a signed entry" -- contains "$OUT" '"sealed": 1'
check "... the seal is a merge entry by bob" -- grep -q '"action":"merge","actor":"bob"' "$WORK/bob/escrow.journal"
check "... no conflict markers anywhere" -- test "$(cat "$WORK/bob/escrow.vault" "$WORK/bob/escrow.journal" "$WORK/bob/escrow.keys" | grep -c '^<<<<<<<' || true)" -eq 0
expect 0 "bob verifies the merge" -- e bob verify
expect 0 "alice syncs her read into all that" -- e alice sync
expect 0 "carol syncs" -- e carol sync
for who in alice bob carol; do
  expect 0 "$who verifies" -- e "$who" verify
done
check "the remote holds what alice holds" -- test "$(as alice git rev-parse HEAD)" = "$(git -C "$WORK/remote.git" rev-parse main)"
expect 0 "bob reads his secret on carol's merged history" -- e bob get prod/sendgrid --reveal
check "... its value" -- test "$OUT" = sg-value
expect 0 "carol reads hers" -- e carol get staging/twilio --reveal
check "... its value" -- test "$OUT" = tw-value
expect 4 "carol may not read bob's (no share, no grant)" -- e carol get prod/sendgrid --reveal
expect 4 "nor alice, an admin but no reader of it" -- e alice get staging/twilio --reveal
for who in alice bob carol alice; do
  expect 0 "$who syncs the reads (reads on every side merge)" -- e "$who" sync
done

# 4. The same through a plain `git pull` (the driver alone): bob and carol add at once again.
printf 'a2' | e bob add prod/api --owner bob --purpose "api" >/dev/null
as bob git commit -qam "bob: prod/api"
printf 'b2' | e carol add staging/queue --owner carol --purpose "queue" >/dev/null
as carol git commit -qam "carol: staging/queue"
as carol git push -q
expect 0 "bob's git pull merges through the driver" -- as bob git pull -q --no-rebase --no-edit
check "... no conflict markers" -- test "$(grep -c '^<<<<<<<' "$WORK/bob/escrow.journal" || true)" -eq 0
expect 0 "bob verifies the unsealed merge" -- e bob verify
expect 0 "bob's next write seals it (a share)" -- e bob share prod/api --with carol
check "... whose entry names both heads" -- test "$(tail -n 1 "$WORK/bob/escrow.journal" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["parents"]))')" -eq 2
expect 0 "bob syncs" -- e bob sync
expect 0 "carol syncs" -- e carol sync
expect 0 "carol verifies" -- e carol verify
expect 0 "carol reads staging/queue" -- e carol get staging/queue --reveal
check "... its value" -- test "$OUT" = b2
expect 0 "carol syncs her read (her tree is clean again: the race below pulls into it)" -- e carol sync

# 5. A push that loses the race once is retried: carol pushes between alice's fetch and push
#    (alice's pre-push hook makes her do it, once).
cat >"$WORK/alice/.git/hooks/pre-push" <<HOOK
#!/bin/sh
if [ ! -e "$WORK/raced-once" ] || [ -e "$WORK/race-always" ]; then
  touch "$WORK/raced-once"
  cd "$WORK/carol" && env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE -u GIT_PREFIX -u GIT_LITERAL_PATHSPECS \\
    HOME="$WORK/home-carol" sh -c 'git pull -q --no-rebase && date +%s%N >>README && git add README && git commit -qm "carol: readme" && git push -q'
fi
HOOK
chmod +x "$WORK/alice/.git/hooks/pre-push"
printf 'web' | e alice add prod/web --owner alice --purpose "the web" >/dev/null
expect 0 "alice syncs while carol pushes first" -- e alice --json sync
check "... the push was retried" -- contains "$OUT" '"push_attempts": 2'
check "... and landed" -- test "$(as alice git rev-parse HEAD)" = "$(git -C "$WORK/remote.git" rev-parse main)"
check "... with carol's commit in it" -- test -n "$(git -C "$WORK/remote.git" log --format=%s main | grep 'carol: readme')"
expect 0 "verify after the retried sync" -- e alice verify

# 6. A push that loses every time: status 5 after --attempts, nothing lost locally.
touch "$WORK/race-always"
printf 'web2' | e alice add prod/web2 --owner alice --purpose "the web 2" >/dev/null
before=$(bytes alice)
expect 5 "sync --attempts 2 against a remote that always moves first" -- e alice sync --attempts 2
check "... says it was rejected twice ($ERR)" -- contains "$ERR" "rejected 2 times"
check "... one error line" -- test "$(printf '%s\n' "$ERR" | grep -c '^escrow: error:')" -eq 1
check "... escrow's files byte-identical" -- test "$before" = "$(bytes alice)"
check "... the commit kept locally" -- test "$(as alice git log -1 --format=%s)" != "carol: readme"
rm -f "$WORK/race-always" "$WORK/alice/.git/hooks/pre-push"
expect 0 "the next sync publishes it" -- e alice sync

# 7. No upstream: status 2, nothing committed.
as alice git switch -q -c solo
printf 'solo' | e alice add prod/solo --owner alice --purpose "solo" >/dev/null
head_before=$(as alice git rev-parse HEAD); before=$(bytes alice)
expect 2 "sync on a branch without upstream" -- e alice sync
check "... names the branch and the fix" -- contains "$ERR" "branch solo has no upstream"
check "... hint: git push -u" -- contains "$ERR" "git push -u origin solo"
check "... nothing committed" -- test "$head_before" = "$(as alice git rev-parse HEAD)"
check "... files byte-identical" -- test "$before" = "$(bytes alice)"
as alice git checkout -q -- escrow.vault escrow.journal escrow.keys
as alice git switch -q main

# 8. A request made on one clone (carol's) and approved on another (bob's), read on the first;
#    then a real conflict: a request approved on bob's clone and denied on his second clone.
REQ=$(e carol --json request prod/db --ttl 1h --why "incident 9" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
expect 0 "carol syncs her request" -- e carol sync
expect 0 "bob syncs it in" -- e bob sync
expect 0 "bob approves it on his clone" -- e bob approve prod/db "$REQ"
expect 0 "... and syncs" -- e bob sync
expect 0 "carol syncs the approval in" -- e carol sync
expect 0 "carol reads prod/db under her grant" -- e carol get prod/db --reveal
check "... its value" -- test "$OUT" = db-value
expect 0 "carol syncs her read" -- e carol sync

clone bob "$WORK/bob-2"
b2() { (cd "$WORK/bob-2" && HOME="$WORK/home-bob" XDG_STATE_HOME="$WORK/state-bob" ESCROW_IDENTITY="$WORK/bob.id" "$@"); }
b2 escrow git-setup >/dev/null
REQ=$(e carol --json request prod/db --ttl 1h --why "incident 10" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
e carol sync >/dev/null
e bob sync >/dev/null
b2 git pull -q --no-rebase
expect 0 "bob approves on his first clone" -- e bob approve prod/db "$REQ"
expect 0 "... and syncs" -- e bob sync
expect 0 "bob denies the same request on his second clone" -- b2 escrow deny prod/db "$REQ" --why "not now"
remote_before=$(git -C "$WORK/remote.git" rev-parse main)
expect 1 "the second clone's sync meets the approval" -- b2 escrow sync
check "... a conflict, said in one error line" -- test "$(printf '%s\n' "$ERR" | grep -c '^escrow: error:')" -eq 1
check "... saying git could not merge" -- contains "$ERR" "git could not merge"
check "... naming the approval" -- contains "$ERR" "approve by bob"
check "... and the denial" -- contains "$ERR" "deny by bob"
check "... pointing to the resolution" -- contains "$ERR" "docs/TEAM.md"
check "... no merge left in progress" -- test ! -e "$WORK/bob-2/.git/MERGE_HEAD"
check "... no conflict markers in any file" -- test "$(cd "$WORK/bob-2" && cat escrow.vault escrow.journal escrow.keys | grep -c '^<<<<<<<' || true)" -eq 0
check "... the denial committed locally" -- contains "$(b2 git log -1 --format=%B)" "denied by bob"
check "... nothing pushed" -- test "$remote_before" = "$(git -C "$WORK/remote.git" rev-parse main)"
expect 0 "the second clone still verifies" -- b2 escrow verify

finish
