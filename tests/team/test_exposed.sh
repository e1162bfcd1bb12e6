#!/usr/bin/env bash
# One rotation kept exposed (`escrow resolve N --keep-exposed`) on one clone and the same conflict
# settled again on another before they synced (issue 9; docs/TEAM.md "Two settlements made apart",
# docs/design/vault-2-merge.md §5). A bare upstream, alice's clone and a second one of hers
# (alice-2); on each scene's fork alice-2 unshares prod/api from bob while alice rotates it
# (--no-push: no git lock), sealing the new version to bob:
#   1. both clones merge the other's side and keep alice's rotation exposed: the two settlements
#      agree and merge with no conflict; the secret is due (exposed to bob), every clone verifies,
#      `rotate --due` gives the connector a value bob never held.
#   2. alice keeps it exposed; alice-2 has rotated prod/api again meanwhile, so her merge is a
#      rotation race, which she settles with her own version (re-applied). The two settlements
#      contradict: alice's pull stops (the driver names it), `escrow resolve` lists it with the
#      settlement made last as the suggestion; a member who may not rotate it, a version neither
#      settlement chose, --keep, --keep-exposed and --suggested are refused with the files
#      byte-identical;
#      `escrow resolve prod/api --current VID` (alice-2's version, the suggestion) settles it:
#      re-applied to the connector, both values still readable, every clone verifies; the secret
#      stays due (bob holds api-a2, still kept), and `rotate --due` rotates it.
#   3. as 2, but alice chooses her own (exposed) version: re-applied to the connector, the secret
#      stays due (`exposed to bob`: a rollback's finish clears no reason about who knows a value),
#      `rotate --due` gives the connector a value bob never held.
source "$(dirname "$0")/lib.sh"
setup
start_team
person carol
e alice member add "$WORK/carol.pub" --role requester --env prod >/dev/null
e alice connector add sys-api --env prod --update "cat > $WORK/api.value" --verify "cmp -s - $WORK/api.value" >/dev/null
printf 'api-v1' >"$WORK/api.value"
printf 'api-v1' | e alice add prod/api --owner alice --purpose "the api" --connector sys-api >/dev/null
e alice sync >/dev/null
clone bob; e bob git-setup >/dev/null
clone carol; e carol git-setup >/dev/null
clone alice "$WORK/alice-2"
a2() { (cd "$WORK/alice-2" && HOME="$WORK/home-alice" XDG_STATE_HOME="$WORK/state-alice" ESCROW_IDENTITY="$WORK/alice.id" "$@"); }
a2 escrow git-setup >/dev/null
carol_in() { local dir=$1; shift; (cd "$dir" && HOME="$WORK/home-carol" XDG_STATE_HOME="$WORK/state-carol" ESCROW_IDENTITY="$WORK/carol.id" "$@"); }
# versions FILE SIDE: the rotation-race versions of that side (ours, theirs), from escrow resolve --json.
versions() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=[c for c in d["conflicts"] if c["kind"]=="rotation-race"][0]; print(" ".join(v["vid"] for v in c["versions"] if v["side"]==sys.argv[2]))' "$1" "$2"
}
sync_verify() {
  local run
  for run in "$@"; do
    expect 0 "$run syncs" -- $run sync
    expect 0 "$run verifies" -- $run verify
  done
}
# fork N: bob reads prod/api again; alice-2 unshares it from him on branch side-a2-N, alice rotates
# it (sealed to bob) on side-alice-N; both fetched.
fork() {
  e alice share prod/api --with bob >/dev/null
  e alice sync >/dev/null
  a2 escrow sync >/dev/null
  expect 0 "alice-2 unshares prod/api from bob ($1)" -- a2 escrow unshare prod/api --with bob
  a2 git commit -qam "alice-2 unshares prod/api from bob ($1)"
  a2 git push -q origin "HEAD:refs/heads/side-a2-$1"
  printf "api-a$1" | e alice rotate prod/api --stdin --no-push >/dev/null
  as alice git commit -qam "alice rotates prod/api ($1)"
  as alice git push -q origin "HEAD:refs/heads/side-alice-$1"
  as alice git fetch -q
  a2 git fetch -q
}

# race_apart N: alice keeps her rotation exposed (committed, not pushed); alice-2 rotates prod/api
# again (api-bN) and merges alice's rotation: a rotation race, listed in race-N.json. Sets A (alice's
# rotation, the one she kept exposed) and B (alice-2's).
race_apart() {
  fork "$1"
  expect 1 "alice merges the unshare: an exposed rotation" -- as alice git merge --no-edit "origin/side-a2-$1"
  expect 0 "alice keeps her rotation exposed" -- e alice resolve 1 --keep-exposed
  expect 0 "git commit (not pushed)" -- as alice git commit -q --no-edit
  printf "api-b$1" | a2 escrow rotate prod/api --stdin --no-push >/dev/null
  a2 git commit -qam "alice-2 rotates prod/api ($1)"
  expect 1 "alice-2 merges alice's rotation: a rotation race" -- a2 git merge --no-edit "origin/side-alice-$1"
  a2 escrow --json resolve >"$WORK/race-$1.json"
  B=$(versions "$WORK/race-$1.json" ours)
  A=$(versions "$WORK/race-$1.json" theirs)
}

# 1. The same rotation kept exposed on both clones: the settlements agree.
fork 1
expect 1 "alice merges the unshare: an exposed rotation" -- as alice git merge --no-edit origin/side-a2-1
expect 0 "alice keeps her rotation exposed" -- e alice resolve 1 --keep-exposed
check "... kept exposed" -- contains "$OUT" "exposed (the secret is due); merge resolved by entry"
expect 0 "git commit (not pushed)" -- as alice git commit -q --no-edit
expect 1 "alice-2 merges the rotation: the same conflict" -- a2 git merge --no-edit origin/side-alice-1
next_second
expect 0 "alice-2 keeps it exposed too" -- a2 escrow resolve 1 --keep-exposed
expect 0 "git commit" -- a2 git commit -q --no-edit
expect 0 "alice-2 pushes her settlement" -- a2 escrow sync
expect 0 "alice syncs: the two settlements merge" -- e alice sync
check "... no conflict named" -- lacks "$ERR" "settled differently"
check "... no merge left" -- test ! -e "$WORK/alice/.git/MERGE_HEAD"
check "... pushed" -- test "$(git -C "$WORK/remote.git" rev-parse main)" = "$(as alice git rev-parse HEAD)"
expect 0 "alice verifies" -- e alice verify
sync_verify "a2 escrow" "e bob" "e carol"
expect 0 "alice reads prod/api" -- e alice get prod/api --reveal
check "... the exposed rotation's value" -- test "$OUT" = api-a1
expect 4 "bob reads it no more" -- e bob get prod/api --reveal
expect 0 "the secret is due" -- e alice --json rotate --due --dry-run
check "... exposed to bob" -- contains "$OUT" "exposed to bob by a concurrent rotation"
expect 0 "rotate --due rotates it" -- e alice rotate --due
check "... a new value in the connector" -- test "$(cat "$WORK/api.value")" != api-a1
sync_verify "e alice" "a2 escrow" "e bob" "e carol"

# 2. Kept exposed on alice's clone; a rotation race settled with another version on alice-2's.
race_apart 2
check "... one version a side" -- test -n "$A" -a -n "$B" -a "$A" != "$B"
next_second
expect 0 "alice-2 settles it with hers (api-b2)" -- a2 escrow resolve prod/api --current "$B" --no-push
check "... re-applied: the connector holds api-b2" -- test "$(cat "$WORK/api.value")" = api-b2
expect 0 "git commit" -- a2 git commit -q --no-edit
expect 0 "alice-2 pushes" -- a2 git push -q origin HEAD:main
expect 1 "alice's pull stops: settled differently" -- as alice git pull --no-rebase --no-edit
check "... the driver names it" -- contains "$ERR" "prod/api was settled differently on the two sides (two resolutions made apart: ours $A (kept exposed), theirs $B)"
expect 1 "alice verifies: an unresolved merge" -- e alice verify
expect 0 "escrow resolve lists it" -- e alice resolve
check "... one conflict" -- contains "$OUT" "1 conflict in the unresolved merge"
check "... the settlement made last suggested" -- contains "$OUT" "suggested: escrow resolve prod/api --current $B"
check "... both settlements' versions" -- contains "$OUT" "version $A"
check "... each with its number" -- lacks "$OUT" "(v0,"
e alice --json resolve >"$WORK/apart.json"
check "... ours: the exposed version" -- test "$(versions "$WORK/apart.json" ours)" = "$A"
check "... theirs: the race's choice" -- test "$(versions "$WORK/apart.json" theirs)" = "$B"
before=$(files_of alice)
expect 4 "carol may not settle it" -- carol_in "$WORK/alice" escrow resolve prod/api --current "$A"
check "... one line" -- one_error_line
expect 2 "a version neither settlement chose" -- e alice resolve prod/api --current 0123456789abcdef
check "... one line" -- one_error_line
expect 1 "--keep is refused (neither settlement is voided)" -- e alice resolve 1 --keep theirs
expect 1 "--keep-exposed is refused (already kept exposed on one side)" -- e alice resolve 1 --keep-exposed
expect 1 "--suggested does not choose it" -- e alice resolve --suggested
check "... files byte-identical" -- test "$before" = "$(files_of alice)"
expect 0 "alice chooses alice-2's version (the suggestion)" -- e alice resolve prod/api --current "$B" --no-push
check "... settled" -- contains "$OUT" "rotation race of prod/api settled: $B chosen"
check "... re-applied: the connector holds api-b2" -- test "$(cat "$WORK/api.value")" = api-b2
expect 0 "git commit" -- as alice git commit -q --no-edit
expect 0 "alice verifies" -- e alice verify
expect 0 "alice syncs" -- e alice sync
sync_verify "a2 escrow" "e bob" "e carol"
expect 0 "alice reads prod/api" -- e alice get prod/api --reveal
check "... api-b2" -- test "$OUT" = api-b2
expect 0 "alice-2 reads it" -- a2 escrow get prod/api --reveal
check "... api-b2" -- test "$OUT" = api-b2
expect 4 "bob, unshared, reads it no more" -- e bob get prod/api --reveal
# No value a connector accepted is lost: both settlements' versions stay readable.
for v in $(e alice --json show prod/api | python3 -c 'import json,sys; print(" ".join(str(v["v"]) for v in json.load(sys.stdin)["versions"] if v["state"] in ("current", "previous")))'); do
  expect 0 "version $v readable" -- e alice get prod/api --reveal --version "$v"
  echo "$OUT" >>"$WORK/values"
done
check "... api-a2 kept" -- contains "$(cat "$WORK/values")" api-a2
check "... api-b2 kept" -- contains "$(cat "$WORK/values")" api-b2
check "no value in any listing" -- lacks "$(cat "$WORK"/race-2.json "$WORK"/apart.json)" "api-"
# The re-apply's finish keeps the exposure's reason (bob holds api-a2, a version kept).
expect 0 "the secret stays due" -- e alice --json rotate --due --dry-run
check "... exposed to bob" -- contains "$OUT" "exposed to bob by a concurrent rotation"
expect 0 "rotate --due rotates it" -- e alice rotate --due
check "... a new value in the connector" -- test "$(cat "$WORK/api.value")" != api-b2
sync_verify "e alice" "a2 escrow"

# 3. As 2, but alice chooses her own version, the one bob holds: re-applied, and still due.
race_apart 3
next_second
expect 0 "alice-2 settles it with hers (api-b3)" -- a2 escrow resolve prod/api --current "$B" --no-push
expect 0 "git commit" -- a2 git commit -q --no-edit
expect 0 "alice-2 pushes" -- a2 git push -q origin HEAD:main
expect 1 "alice's pull stops: settled differently" -- as alice git pull --no-rebase --no-edit
expect 0 "alice chooses her own, exposed version" -- e alice resolve prod/api --current "$A" --no-push
check "... re-applied: the connector holds api-a3" -- test "$(cat "$WORK/api.value")" = api-a3
expect 0 "git commit" -- as alice git commit -q --no-edit
expect 0 "alice verifies" -- e alice verify
expect 0 "the secret stays due (bob holds the value the connector holds)" -- e alice --json rotate --due --dry-run
check "... exposed to bob" -- contains "$OUT" "exposed to bob by a concurrent rotation"
check "... the race's own reason is settled by the re-apply" -- lacks "$OUT" "rotation race resolved"
expect 0 "rotate --due rotates it" -- e alice rotate --due
check "... a value bob never held in the connector" -- test "$(cat "$WORK/api.value")" != api-a3
expect 4 "bob reads it no more" -- e bob get prod/api --reveal
expect 0 "nothing is due any more" -- e alice --json rotate --due --dry-run
check "... no reason left" -- lacks "$OUT" "exposed to bob"
sync_verify "e alice" "a2 escrow" "e bob" "e carol"

finish
