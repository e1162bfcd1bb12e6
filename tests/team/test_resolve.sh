#!/usr/bin/env bash
# escrow resolve (issue 9 item 1; docs/design/vault-2-merge.md §5, docs/TEAM.md "Conflicts"):
# with a bare upstream and clones, each side makes a change that does not commute with the
# other's (a request approved on one clone, denied on another); `git pull` stops on the journal
# driver with the list; `escrow resolve` lists the conflict; a member without the authority is
# refused (exit 4, nothing changed); a bad number is a usage error (exit 2); `--keep theirs` by the
# author of the voided denial appends one signed resolve entry and `git add`s the three files;
# `git commit` finishes the merge; every clone verifies after it syncs, and the kept approval
# works. Then the same conflict the other way round, settled by `--suggested`. `escrow resolve`
# with no merge in progress is exit 2.
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

# 3. A rotation race (alice rotates prod/api on two clones, --no-push: with the git lock of
#    vault-2-merge.md §6 the second rotate would first pull the first and there is no race): listed with the rule's suggestion;
#    keeping a side would void a rotation whose value may be in a connector: refused (exit 1),
#    nothing written; --current is not built (exit 1, says so).
printf 'api-v1' | e alice add prod/api --owner alice --purpose "the api" >/dev/null
e alice sync >/dev/null
clone alice "$WORK/alice-2"
a2() { (cd "$WORK/alice-2" && HOME="$WORK/home-alice" XDG_STATE_HOME="$WORK/state-alice" ESCROW_IDENTITY="$WORK/alice.id" "$@"); }
a2 escrow git-setup >/dev/null
printf 'api-v2' | a2 escrow rotate prod/api --no-push >/dev/null
a2 escrow sync >/dev/null
printf 'api-v3' | e alice rotate prod/api --no-push >/dev/null
as alice git commit -qam "alice rotates prod/api"
expect 1 "alice's pull stops on the rotation race" -- as alice git pull --no-rebase --no-edit
expect 0 "escrow resolve lists it" -- e alice resolve
check "... as a rotation race on prod/api" -- contains "$OUT" "suggested: escrow resolve prod/api --current"
check "... both rotations listed" -- test "$(grep -c 'prod/api: v1 → v2 by alice (rotation started' <<<"$OUT")" -eq 2
before=$(files_of alice)
expect 1 "keeping a side would void a rotation" -- e alice resolve 1 --keep theirs
check "... says why" -- contains "$ERR" "whose value may have reached a connector"
expect 1 "--suggested cannot settle it either" -- e alice resolve --suggested
expect 1 "--current is not built" -- e alice resolve prod/api --current 0123456789abcdef
check "... files byte-identical" -- test "$before" = "$(files_of alice)"
check "... no secret value in any output" -- lacks "$OUT$ERR" "api-v"

finish
