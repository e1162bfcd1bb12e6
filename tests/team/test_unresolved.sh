#!/usr/bin/env bash
# Commands while a merge is unresolved (issue 9; docs/design/vault-2-merge.md §3, docs/TEAM.md
# "While a merge is unresolved"): `git pull` stops on the journal driver (a request approved by bob
# on one clone, denied by alice on hers). Until `escrow resolve`, every command in alice's clone
# acts on her side (ours) and says so once; every write is refused (exit 1, the three files, HEAD,
# git status and her state folder byte-identical); a read of another secret works and its event
# names ours' head only (the head file keeps theirs' head beside it); a read of the secret in the
# conflict is refused; verify lists the conflict (exit 1); sync publishes nothing (exit 1). Then
# `escrow resolve 1 --keep theirs` settles it and writes work again. Finally (resolve voids after a
# snapshot continuation): carol, whose machine verified only the history before the fork, pulls
# the resolved merge and continues from her cache; a fresh clone replays from the genesis entry;
# both reach the same state digest, list and show, and verify.
source "$(dirname "$0")/lib.sh"
setup
start_team
person carol
e alice member add "$WORK/carol.pub" --role requester --env prod >/dev/null
printf 'db-value' | e alice add prod/db --owner alice --purpose "the database" --custodians bob --threshold 1 >/dev/null
printf 'api-value' | e alice add prod/api --owner alice --purpose "the api" >/dev/null
as alice git add -A && as alice git commit -qm "team, prod/db, prod/api" && as alice git push -q
clone bob; e bob git-setup >/dev/null
clone carol; e carol git-setup >/dev/null

# carol requests; everyone syncs: carol's machine has verified exactly the common history.
REQ=$(e carol --json request prod/db --ttl 1h --why "incident 1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
e carol sync >/dev/null
e bob sync >/dev/null
e alice sync >/dev/null
expect 0 "bob approves carol's request and syncs" -- e bob approve prod/db "$REQ"
e bob sync >/dev/null
expect 0 "alice denies it on her clone" -- e alice deny prod/db "$REQ" --why "not now"
as alice git commit -qam "alice denies"
expect 1 "git pull stops on the journal" -- as alice git pull --no-rebase --no-edit
check "... the journal unmerged" -- contains "$(as alice git status --porcelain)" "UU escrow.journal"

WARNING="escrow: warning: escrow.journal: unresolved merge (1 conflict): escrow resolve"
count_of() { grep -cF -- "$2" <<<"$1" || true; }
# The state folder's files (the cache place: verified.json, the snapshot, entries.log, head-file),
# without the lock files every command rewrites with its pid (a courtesy note, not state).
state_of() { (cd "$WORK/state-$1" && find . -type f ! -name lock | LC_ALL=C sort | xargs sha256sum) | sha256sum; }
last_hash() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["hash"])'; }

# 1. Reads act on ours, and say so once.
expect 0 "list works during the merge" -- e alice list
check "... says the warning once" -- test "$(count_of "$ERR" "$WARNING")" -eq 1
check "... lists ours' secrets" -- contains "$OUT" "prod/api"
OURS_HEAD=$(as alice git show :2:escrow.journal | last_hash)
THEIRS_HEAD=$(as alice git show :3:escrow.journal | last_hash)
check "the head file names both sides' heads" -- test "$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["journal"]["heads"]))' "$WORK/alice/escrow.vault")" = "$OURS_HEAD $THEIRS_HEAD"

# 2. Every write is refused; nothing changes, not even this machine's state folder.
before=$(files_of alice); state_before=$(state_of alice)
refused() { # DESCRIPTION -- CMD...: exit 1, one error line naming the journal and the merge, the hint
  local what=$1; shift 2
  expect 1 "$what is refused" -- "$@"
  check "... one error line naming escrow.journal's unresolved merge" -- \
    test "$(count_of "$ERR" "escrow: error: escrow.journal: unresolved merge (1 conflict): ")" -eq 1
  check "... with the hint" -- contains "$ERR" "escrow: hint: escrow resolve"
}
refused "add" -- as alice sh -c 'printf new | escrow add prod/new --owner alice --purpose new'
check "... the first refusal says why" -- contains "$ERR" "no write until it is resolved"
refused "share" -- e alice share prod/api --with carol
refused "deny" -- e alice deny prod/db "$REQ" --why again
refused "member add" -- e alice member add "$WORK/carol.pub" --role approver --env prod
refused "rotate --no-push" -- e alice rotate prod/api --no-push
refused "rotate under the git lock" -- e alice rotate prod/api
refused "compromise" -- e alice compromise prod/api --why test
refused "backup" -- e alice backup --out "$WORK/alice.backup"
check "... no backup written" -- test ! -e "$WORK/alice.backup"
check "every refused write left the files, HEAD and git status byte-identical" -- test "$before" = "$(files_of alice)"
check "... and alice's state folder (the cache place)" -- test "$state_before" = "$(state_of alice)"

# 3. A read of another secret works; its event names ours' head only.
lines_before=$(wc -l <"$WORK/alice/escrow.journal")
head_before=$(sha256sum <"$WORK/alice/escrow.vault")
expect 0 "get prod/api --reveal works" -- e alice get prod/api --reveal
check "... the value" -- test "$OUT" = api-value
check "... the warning once" -- test "$(count_of "$ERR" "$WARNING")" -eq 1
check "... one event appended" -- test "$(wc -l <"$WORK/alice/escrow.journal")" -eq $((lines_before + 1))
check "... a reveal" -- test "$(tail -n 1 "$WORK/alice/escrow.journal" | python3 -c 'import json,sys; print(json.load(sys.stdin)["action"])')" = reveal
check "... whose parent is ours' head only" -- test "$(tail -n 1 "$WORK/alice/escrow.journal" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["parents"]))')" = "$OURS_HEAD"
check "... the head file untouched (theirs' head beside ours)" -- test "$head_before" = "$(sha256sum <"$WORK/alice/escrow.vault")"
expect 0 "exec with prod/api works" -- e alice exec --set API=prod/api -- sh -c 'test "$API" = api-value'
check "... the warning once" -- test "$(count_of "$ERR" "$WARNING")" -eq 1
expect 0 "show prod/api works" -- e alice show prod/api

# 4. The secret in the conflict is not served.
before=$(files_of alice); state_before=$(state_of alice)
expect 1 "get prod/db --reveal is refused" -- e alice get prod/db --reveal
check "... names the conflict" -- contains "$ERR" "escrow: error: escrow.journal: unresolved merge (1 conflict): prod/db is in conflict 1"
check "... with the hint" -- contains "$ERR" "escrow: hint: escrow resolve"
check "... no value" -- lacks "$OUT" "db-value"
expect 1 "exec with prod/db is refused" -- e alice exec --set DB=prod/db -- true
expect 1 "show prod/db is refused" -- e alice show prod/db
check "... nothing appended, nothing changed" -- test "$before" = "$(files_of alice)"
check "... nor the state folder" -- test "$state_before" = "$(state_of alice)"

# 5. verify lists the conflict (exit 1); sync publishes nothing (exit 1).
expect 1 "verify exits 1" -- e alice verify
check "... ours verifies, the merge does not" -- contains "$ERR" "unresolved merge (1 conflict): ours verifies"
check "... the conflict listed" -- contains "$ERR" "escrow: hint: conflict 1: s:prod/db: ours line"
remote_before=$(git --git-dir="$WORK/remote.git" rev-parse main)
before=$(files_of alice)
refused "sync" -- e alice sync
check "... says sync publishes nothing" -- contains "$ERR" "no write until it is resolved (nothing is committed, pulled or pushed)"
check "... nothing pushed" -- test "$remote_before" = "$(git --git-dir="$WORK/remote.git" rev-parse main)"
check "... nothing committed or changed" -- test "$before" = "$(files_of alice)"

# 6. resolve settles it; writes work again.
expect 0 "alice keeps theirs (voids her own denial)" -- e alice resolve 1 --keep theirs
check "... resolved" -- contains "$OUT" "merge resolved by entry"
expect 0 "git commit finishes the merge" -- as alice git commit -q --no-edit
expect 0 "list: no warning any more" -- e alice list
check "... none" -- lacks "$ERR" "unresolved merge"
expect 0 "a write works again" -- as alice sh -c 'printf new | escrow add prod/new --owner alice --purpose new'
expect 0 "alice verifies" -- e alice verify
expect 0 "alice syncs" -- e alice sync

# 7. The resolve's voids after a snapshot continuation: carol's machine verified only the common
#    history (before the fork) and continues from its cache; a fresh clone replays everything.
expect 0 "carol pulls the resolved merge" -- as carol git pull -q --no-rebase --no-edit
expect 0 "carol lists (continuing from her cache)" -- e carol list
carol_list=$OUT
expect 0 "carol verifies: her cached state is the full replay's" -- e carol verify
expect 0 "carol reads prod/db under the kept approval" -- e carol get prod/db --reveal
check "... its value" -- test "$OUT" = db-value
fresh() { (cd "$WORK/fresh" && HOME="$WORK/home-carol" XDG_STATE_HOME="$WORK/state-fresh" ESCROW_IDENTITY="$WORK/carol.id" "$@"); }
as carol git clone -q "$WORK/remote.git" "$WORK/fresh"
fresh escrow git-setup >/dev/null
expect 0 "a fresh clone lists (a replay from the genesis entry)" -- fresh escrow list
check "... the same list as carol's" -- test "$OUT" = "$carol_list"
expect 0 "carol shows prod/db" -- e carol show prod/db
carol_show=$OUT
expect 0 "the fresh clone shows prod/db" -- fresh escrow show prod/db
check "... the same" -- test "$OUT" = "$carol_show"
# The state each replays to (a place may hold a few entries ahead of its snapshot, so its
# verified.json's digest can be older: verify prints the state's).
digest_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
carol_state=$(e carol --json verify | digest_of)
fresh_state=$(fresh escrow --json verify | digest_of)
check "carol's verified state digest is the fresh clone's" -- test -n "$carol_state" -a "$carol_state" = "$fresh_state"
expect 0 "the fresh clone verifies" -- fresh escrow verify

finish
