#!/usr/bin/env bash
# escrow resolve (issue 9 item 1; docs/design/vault-2-merge.md §5, docs/TEAM.md "Conflicts"):
# with a bare upstream and clones, each side makes a change that does not commute with the
# other's (a request approved on one clone, denied on another); `git pull` stops on the journal
# driver with the list; `escrow resolve` lists the conflict; a member without the authority is
# refused (exit 4, nothing changed); a bad number is a usage error (exit 2); `--keep theirs` by the
# author of the voided denial appends one signed resolve entry and `git add`s the three files;
# `git commit` finishes the merge; every clone verifies after it syncs, and the kept approval
# works. Then the same conflict the other way round, settled by `--suggested`. `escrow resolve`
# with no merge in progress is exit 2. Then rotation races (§5): listed with the rule's
# suggestion, never settled by --keep or --suggested; `ENV/NAME --current VID` refused for a
# version not in the race, a secret without one, a member who may not rotate (files
# byte-identical); a chosen value that fails the connector's check rolled back (exit 1, the secret
# due, `rotate --due` rotates it); a chosen value re-applied to the connector (the other
# previous, both readable, every clone verifies). Then `N --keep-exposed` (a rotation sealed to a
# member unshared concurrently): the secret due, `rotate --due` rotates it. Last, strong remove: a
# removed rotator's own rotation kept exposed by `--suggested`, the secret due.
source "$(dirname "$0")/lib.sh"
setup
start_team
person carol; person dave
e alice member add "$WORK/carol.pub" --role requester --env prod >/dev/null
e alice member add "$WORK/dave.pub" --role requester --env staging >/dev/null
printf 'db-value' | e alice add prod/db --owner alice --purpose "the database" --custodians bob --threshold 1 >/dev/null
as alice git add -A && as alice git commit -qm "team and prod/db" && as alice git push -q
clone bob; e bob git-setup >/dev/null
clone carol; e carol git-setup >/dev/null

expect 2 "resolve with no merge in progress" -- e alice resolve
check "... says so in one line" -- contains "$ERR" "escrow: error: escrow.journal: no merge in progress"
expect 2 "resolve --current with no merge in progress" -- e alice resolve prod/db --current 0123456789abcdef
check "... says so" -- contains "$ERR" "escrow: error: escrow.journal: no merge in progress"
expect 2 "resolve --keep-exposed with no merge in progress" -- e alice resolve 1 --keep-exposed

# 1. carol requests; bob approves on his clone and pushes; alice denies on hers.
REQ=$(e carol --json request prod/db --ttl 1h --why "incident 1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
e carol sync >/dev/null
e bob sync >/dev/null
e alice sync >/dev/null
expect 0 "bob approves carol's request" -- e bob approve prod/db "$REQ"
expect 0 "... and syncs" -- e bob sync
expect 0 "alice denies it on her clone" -- e alice deny prod/db "$REQ" --why "not now"
as alice git commit -qam "alice denies"
expect 1 "git pull stops on the journal" -- as alice git pull --no-rebase --no-edit
check "... the driver's list names the approval" -- contains "$ERR" "approve by bob"
check "... and the denial" -- contains "$ERR" "deny by alice"
check "... a merge in progress" -- test -e "$WORK/alice/.git/MERGE_HEAD"
check "... the journal unmerged" -- contains "$(as alice git status --porcelain)" "UU escrow.journal"

expect 0 "escrow resolve lists the conflict" -- e alice resolve
check "... one conflict" -- contains "$OUT" "1 conflict in the unresolved merge"
check "... numbered, with its object" -- contains "$OUT" "1. s:prod/db"
check "... ours: alice's denial" -- contains "$OUT" "denied by alice"
check "... theirs: bob's approval" -- contains "$OUT" "approved by bob"
check "... a suggestion" -- contains "$OUT" "suggested: escrow resolve 1 --keep ours (keep the denial, void the approval)"
expect 0 "... also as JSON" -- e alice --json resolve
check "... with both sides' entries" -- test "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); c=d["conflicts"][0]; print(c["ours"][0]["actor"], c["ours"][0]["action"], c["theirs"][0]["actor"], c["theirs"][0]["action"])' "$OUT")" = "alice deny bob approve"

# dave (requester in staging) can neither approve nor deny in prod: no authority to void either.
dave_in_alice() { (cd "$WORK/alice" && HOME="$WORK/home-dave" XDG_STATE_HOME="$WORK/state-dave" ESCROW_IDENTITY="$WORK/dave.id" "$@"); }
before=$(files_of alice)
expect 4 "dave may not void bob's approval" -- dave_in_alice escrow resolve 1 --keep ours
check "... says why in one line" -- test "$(printf '%s\n' "$ERR" | grep -c '^escrow: error:')" -eq 1
check "... naming the rule" -- contains "$ERR" "dave may not void entry"
expect 4 "dave may not void alice's denial" -- dave_in_alice escrow resolve 1 --keep theirs
check "... files byte-identical" -- test "$before" = "$(files_of alice)"
check "... no choice recorded" -- test ! -e "$WORK/alice/.git/escrow-resolve.json"
expect 2 "a conflict number that does not exist" -- e alice resolve 7 --keep theirs
check "... names the range" -- contains "$ERR" "no such conflict (1 to 1)"
expect 2 "a number that is not one" -- e alice resolve first --keep theirs
expect 2 "--keep without a number" -- e alice resolve --keep theirs
check "... files byte-identical after the usage errors" -- test "$before" = "$(files_of alice)"

# alice withdraws her own denial: the approval stands.
expect 0 "alice keeps theirs (voids her denial)" -- e alice resolve 1 --keep theirs
check "... the merge is resolved by one entry" -- contains "$OUT" "merge resolved by entry"
check "... says what it staged" -- contains "$ERR" "git add escrow.vault escrow.journal escrow.keys"
check "... the journal no longer unmerged" -- lacks "$(as alice git status --porcelain)" "UU"
check "... one resolve entry, by alice" -- test "$(grep -c '"action":"resolve","actor":"alice"' "$WORK/alice/escrow.journal")" -eq 1
expect 0 "git commit finishes the merge" -- as alice git commit -q --no-edit
check "... no merge left" -- test ! -e "$WORK/alice/.git/MERGE_HEAD"
expect 0 "alice verifies" -- e alice verify
expect 2 "resolve again: no merge in progress" -- e alice resolve
expect 0 "alice syncs" -- e alice sync
expect 0 "bob syncs" -- e bob sync
expect 0 "bob verifies" -- e bob verify
expect 0 "carol syncs" -- e carol sync
expect 0 "carol verifies" -- e carol verify
expect 0 "carol reads prod/db under the kept approval" -- e carol get prod/db --reveal
check "... its value" -- test "$OUT" = db-value
e carol sync >/dev/null

# 2. The other way round: alice denies and pushes, bob approves on his clone, bob's pull stops;
#    --suggested keeps the denial (voids bob's own approval).
REQ2=$(e carol --json request prod/db --ttl 1h --why "incident 2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
e carol sync >/dev/null
e alice sync >/dev/null
e bob sync >/dev/null
expect 0 "alice denies request 2" -- e alice deny prod/db "$REQ2" --why "no"
expect 0 "... and syncs" -- e alice sync
expect 0 "bob approves request 2 on his clone" -- e bob approve prod/db "$REQ2"
as bob git commit -qam "bob approves"
expect 1 "bob's git pull stops on the journal" -- as bob git pull --no-rebase --no-edit
expect 0 "bob lists" -- e bob resolve
check "... suggestion: keep theirs (the denial)" -- contains "$OUT" "suggested: escrow resolve 1 --keep theirs (keep the denial, void the approval)"
expect 0 "bob settles by the suggestions" -- e bob resolve --suggested
check "... resolved" -- contains "$OUT" "merge resolved by entry"
expect 0 "git commit" -- as bob git commit -q --no-edit
expect 0 "bob verifies" -- e bob verify
expect 0 "bob syncs" -- e bob sync
expect 0 "alice syncs" -- e alice sync
expect 0 "alice verifies" -- e alice verify
expect 0 "carol syncs" -- e carol sync
expect 0 "carol's grants" -- e carol --json grants
check "... request 2 denied by alice, with no approval" -- test "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); r=[c for c in d["closed"] if c["id"]==sys.argv[2]][0]; print(r["state"], r["denied_by"], r["approvals"])' "$OUT" "$REQ2")" = "denied alice 0"
check "... request 1 still granted" -- test "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print([g["state"] for g in d["grants"] if g["id"]==sys.argv[2]])' "$OUT" "$REQ")" = "['granted']"
check "bob's journal: one resolve entry by bob" -- test "$(grep -c '"action":"resolve","actor":"bob"' "$WORK/bob/escrow.journal")" -eq 1
expect 0 "carol verifies" -- e carol verify

# 3. Rotation races (vault-2-merge.md §5): alice rotates prod/api on two clones, --no-push (with
#    the git lock of §6 the second rotate would first pull the first: no race). Its connector `sys`
#    keeps "the system's" value in a file; its check refuses api-b1 while $WORK/reject exists.
e alice connector add sys --env prod \
  --update "cat > $WORK/system.value" \
  --verify "cmp -s - $WORK/system.value && { test ! -e $WORK/reject || ! grep -qx api-b1 $WORK/system.value; }" >/dev/null
printf 'api-v1' >"$WORK/system.value"
printf 'api-v1' | e alice add prod/api --owner alice --purpose "the api" --connector sys >/dev/null
e alice share prod/api --with bob >/dev/null
e alice sync >/dev/null
e bob sync >/dev/null
clone alice "$WORK/alice-2"
a2() { (cd "$WORK/alice-2" && HOME="$WORK/home-alice" XDG_STATE_HOME="$WORK/state-alice" ESCROW_IDENTITY="$WORK/alice.id" "$@"); }
a2 escrow git-setup >/dev/null
carol_in_alice() { (cd "$WORK/alice" && HOME="$WORK/home-carol" XDG_STATE_HOME="$WORK/state-carol" ESCROW_IDENTITY="$WORK/carol.id" "$@"); }
# race N: theirs (alice-2, pushed) rotates prod/api to api-bN, ours (alice) to api-aN; alice's pull stops.
race() {
  printf "api-b$1" | a2 escrow rotate prod/api --stdin --no-push >/dev/null
  a2 escrow sync >/dev/null
  printf "api-a$1" | e alice rotate prod/api --stdin --no-push >/dev/null
  as alice git commit -qam "alice rotates prod/api ($1)"
  expect 1 "alice's pull stops on rotation race $1" -- as alice git pull --no-rebase --no-edit
}
# vid_of SIDE: the race's version created on that side (ours, theirs), from the JSON listing.
vid_of() {
  e alice --json resolve >"$WORK/race.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=[c for c in d["conflicts"] if c["kind"]=="rotation-race"][0]; print([v["vid"] for v in c["versions"] if v["side"]==sys.argv[2]][0])' "$WORK/race.json" "$1"
}

race 1
expect 0 "escrow resolve lists it" -- e alice resolve
check "... as a rotation race on prod/api" -- contains "$OUT" "suggested: escrow resolve prod/api --current"
check "... both rotations listed" -- test "$(grep -c 'prod/api: v1 → v2 by alice (rotation started' <<<"$OUT")" -eq 2
check "... never 'not available'" -- lacks "$OUT" "not available"
THEIRS=$(vid_of theirs); OURS=$(vid_of ours)
check "... two versions named in the JSON" -- test -n "$THEIRS" -a -n "$OURS" -a "$THEIRS" != "$OURS"
before=$(files_of alice)
expect 1 "keeping a side would void a rotation" -- e alice resolve 1 --keep theirs
check "... says why" -- contains "$ERR" "whose value may have reached a connector"
expect 1 "--suggested shows the race's suggestion but does not apply it" -- e alice resolve --suggested
check "... naming it" -- contains "$ERR" "escrow resolve prod/api --current"
check "... never 'not available'" -- lacks "$ERR" "not available"
expect 2 "--current with a version that is not one of the race's" -- e alice resolve prod/api --current 0123456789abcdef
check "... one line naming the file and both versions" -- one_error_line
check "... (the file)" -- contains "$ERR" "escrow.journal: prod/api: 0123456789abcdef is not one of the versions of its rotation race"
expect 2 "--current on a secret without a race" -- e alice resolve prod/db --current "$THEIRS"
check "... names the file" -- contains "$ERR" "escrow.journal: prod/db: no rotation race"
expect 2 "--current on a secret that does not exist" -- e alice resolve prod/nope --current "$THEIRS"
check "... names the file" -- contains "$ERR" "escrow.journal: prod/nope: no such secret in the merged vault"
expect 2 "--current without the secret" -- e alice resolve --current "$THEIRS"
expect 4 "carol (not owner, not rotator) may not settle the race" -- carol_in_alice escrow resolve prod/api --current "$THEIRS"
check "... one line" -- one_error_line
check "... naming the rule" -- contains "$ERR" "carol may not settle the rotation race of prod/api"
check "... files byte-identical after every refusal" -- test "$before" = "$(files_of alice)"
check "... no choice recorded" -- test ! -e "$WORK/alice/.git/escrow-resolve.json"
check "... the connector untouched (ours' value)" -- test "$(cat "$WORK/system.value")" = api-a1

# The chosen version fails the connector's check: the other is re-applied, rotate-fail, exit 1,
# the secret stays due (under the git lock: alice has an upstream and no --no-push).
touch "$WORK/reject"
expect 1 "alice chooses theirs; its value fails the check" -- e alice resolve prod/api --current "$THEIRS"
check "... says so" -- contains "$ERR" "could not be re-applied"
check "... the race settled" -- contains "$OUT" "rotation race of prod/api settled: $THEIRS chosen"
check "... the connector holds ours' value again" -- test "$(cat "$WORK/system.value")" = api-a1
check "... the merge committed" -- test ! -e "$WORK/alice/.git/MERGE_HEAD"
check "... and pushed" -- test "$(git -C "$WORK/remote.git" rev-parse main)" = "$(as alice git rev-parse HEAD)"
check "... one resolve entry with the race" -- test "$(grep -c '"action":"resolve".*"current":"'"$THEIRS"'"' "$WORK/alice/escrow.journal")" -eq 1
expect 0 "alice verifies" -- e alice verify
expect 0 "both values readable: the current one (ours)" -- e alice get prod/api --reveal
check "... api-a1" -- test "$OUT" = api-a1
expect 0 "... and theirs, v2 (previous)" -- e alice get prod/api --reveal --version 2
check "... api-b1" -- test "$OUT" = api-b1
expect 0 "the secret is due" -- e alice --json rotate --due --dry-run
check "... prod/api, the race named" -- contains "$OUT" "rotation race resolved"
rm "$WORK/reject"
expect 0 "rotate --due rotates it" -- e alice rotate --due
check "... a new value in the connector" -- lacks "$(cat "$WORK/system.value")" "api-"
expect 0 "alice-2 syncs" -- a2 escrow sync
expect 0 "... verifies" -- a2 escrow verify
expect 0 "bob syncs" -- e bob sync
expect 0 "... verifies" -- e bob verify

# Race 2 settled with --current --no-push: the chosen value re-applied, the other previous. bob
# reads meanwhile: his sync merges his read with the settled race (through the driver).
expect 0 "bob reads prod/api" -- e bob get prod/api --reveal
race 2
THEIRS=$(vid_of theirs)
expect 0 "alice chooses theirs (--no-push, --json)" -- e alice --json resolve prod/api --current "$THEIRS" --no-push
check "... one document: settled, resolved, re-applied" -- test "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["settled_now"][0]["secret"], d["settled_now"][0]["current"] == sys.argv[2], d["resolved"], d["reapplied"][0]["result"], d["conflicts"])' "$OUT" "$THEIRS")" = "prod/api True True restored []"
check "... the connector holds the chosen value" -- test "$(cat "$WORK/system.value")" = api-b2
check "... staged: the merge is left to git commit" -- test -e "$WORK/alice/.git/MERGE_HEAD"
check "... nothing unmerged" -- lacks "$(as alice git status --porcelain)" "UU"
expect 0 "git commit finishes the merge" -- as alice git commit -q --no-edit
expect 0 "alice verifies" -- e alice verify
expect 0 "alice shows the versions" -- e alice --json show prod/api
check "... theirs (v5) current, ours (v6) previous" -- test "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(sorted((v["v"], v["state"]) for v in d["versions"] if v["v"] >= 5))' "$OUT")" = "[(5, 'current'), (6, 'previous')]"
# Before alice pushes her resolution, alice-2 adds a secret and pushes: alice's sync merges new
# work with her settled race (the settled side is a fixed prefix, vault-2-merge.md §5).
printf 'new-value' | a2 escrow add staging/new --owner alice --purpose "another" >/dev/null
expect 0 "alice-2 pushes new work" -- a2 escrow sync
expect 0 "alice syncs" -- e alice sync
for who in alice-2 bob carol; do
  if [ "$who" = alice-2 ]; then run=(a2 escrow); else run=(e "$who"); fi
  expect 0 "$who syncs" -- "${run[@]}" sync
  expect 0 "$who verifies" -- "${run[@]}" verify
done
expect 0 "bob (a reader) reads the current value" -- e bob get prod/api --reveal
check "... api-b2" -- test "$OUT" = api-b2
expect 0 "... and the previous one" -- e bob get prod/api --reveal --version 6
check "... api-a2" -- test "$OUT" = api-a2
check "... no secret value in any listing" -- lacks "$(cat "$WORK/race.json")" "api-"

# 4. --keep-exposed: alice unshares prod/api from bob on alice-2 and pushes; on her clone she
#    rotates it (--no-push), sealing it to bob. The version stays, the secret becomes due.
expect 0 "alice-2 unshares prod/api from bob" -- a2 escrow unshare prod/api --with bob
a2 escrow sync >/dev/null
printf "api-a3" | e alice rotate prod/api --stdin --no-push >/dev/null
as alice git commit -qam "alice rotates prod/api (3)"
expect 1 "alice's pull stops" -- as alice git pull --no-rebase --no-edit
expect 0 "escrow resolve lists it" -- e alice resolve
check "... suggests --keep-exposed" -- contains "$OUT" "suggested: escrow resolve 1 --keep-exposed"
before=$(files_of alice)
expect 4 "carol may not keep alice's rotation exposed" -- carol_in_alice escrow resolve 1 --keep-exposed
check "... one line" -- one_error_line
check "... files byte-identical" -- test "$before" = "$(files_of alice)"
expect 2 "--keep-exposed of a conflict that does not exist" -- e alice resolve 4 --keep-exposed
expect 0 "alice keeps her rotation exposed" -- e alice resolve 1 --keep-exposed
check "... kept exposed, resolved" -- contains "$OUT" "exposed (the secret is due); merge resolved by entry"
expect 0 "git commit" -- as alice git commit -q --no-edit
expect 0 "the journal's summaries" -- e alice diff --textconv escrow.journal
check "... the race settled" -- contains "$OUT" "1 rotation race settled)"
check "... the rotation kept exposed" -- contains "$OUT" "2 rotation operations kept exposed)"
expect 0 "alice verifies" -- e alice verify
expect 0 "the secret is due" -- e alice --json rotate --due --dry-run
check "... exposed to bob" -- contains "$OUT" "exposed to bob by a concurrent rotation"
expect 0 "rotate --due rotates it" -- e alice rotate --due
check "... a new value in the connector" -- test "$(cat "$WORK/system.value")" != api-a3
expect 0 "alice syncs" -- e alice sync
expect 0 "bob syncs" -- e bob sync
expect 0 "bob verifies" -- e bob verify
expect 4 "bob no longer reads the current value" -- e bob get prod/api --reveal
expect 0 "carol syncs" -- e carol sync
expect 0 "carol verifies" -- e carol verify

# 5. Strong remove (§3): rob, a rotator, rotates prod/api and pushes; alice removes him on her
#    clone meanwhile. His rotation is not voided (its value is in the connector): --suggested keeps
#    it exposed, the secret due "rotated by rob concurrently with their removal".
person rob
e alice member add "$WORK/rob.pub" --role rotator --env prod >/dev/null
e alice rotate prod/api >/dev/null # a version rob holds a key of
# rob, a rotator, reads prod/db standing too: alice's sync hands him its key (a key debt), so his
# removal makes prod/db due as well; only escrow holds it, so rotate --due can rotate it.
e alice connect prod/db --escrow-only >/dev/null
expect 0 "alice syncs" -- e alice sync
check "... handing rob the key of prod/db (a key debt)" -- contains "$OUT" "handed rob the keys of prod/db"
clone rob; e rob git-setup >/dev/null
expect 0 "rob rotates prod/api (and pushes)" -- e rob rotate prod/api
expect 0 "alice removes rob on her clone" -- e alice member remove rob
as alice git commit -qam "alice removes rob"
expect 1 "alice's pull stops" -- as alice git pull --no-rebase --no-edit
expect 0 "escrow resolve lists it" -- e alice resolve
check "... suggests --keep-exposed" -- contains "$OUT" "--keep-exposed (a rotation by a member removed concurrently"
expect 0 "--suggested keeps it exposed" -- e alice resolve --suggested
check "... resolved" -- contains "$OUT" "merge resolved by entry"
expect 0 "git commit" -- as alice git commit -q --no-edit
expect 0 "alice verifies" -- e alice verify
expect 0 "the secret is due" -- e alice --json rotate --due --dry-run
check "... rotated by rob" -- contains "$OUT" "rotated by rob concurrently with their removal"
check "... and prod/db, which rob could read" -- contains "$OUT" "member rob removed"
expect 0 "rotate --due rotates both" -- e alice rotate --due
expect 0 "alice syncs" -- e alice sync
expect 0 "carol syncs" -- e carol sync
expect 0 "carol verifies" -- e carol verify

finish
