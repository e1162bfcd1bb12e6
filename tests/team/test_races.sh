#!/usr/bin/env bash
# Rotation races beyond one rotation a side, and settlements made apart (issue 9; docs/TEAM.md
# "Rotation races", docs/design/vault-2-merge.md §5 "As built"). A bare upstream and three clones
# of alice's (with --no-push, a clone rotates without the git lock):
#   1. both sides rotate prod/api twice; the pull stops with one rotation race listing the four
#      versions; `resolve prod/api --current` picks theirs' FIRST version: it is re-applied to
#      the connector, every version stays readable, every clone verifies.
#   2. two settlements made apart: alice settles a race of prod/api on her clone while alice-2
#      settles a race of prod/web on hers and pushes; alice's sync merges both (no conflict).
#   3. a contradiction: the same race of prod/api settled with different versions on two clones;
#      the merge stops, `escrow resolve` lists it, a member without the authority and a version
#      neither settlement chose are refused (files byte-identical), `resolve prod/api --current`
#      settles it and re-applies the chosen value.
#   4. the same race settled the same way on two clones (each re-applied it): they merge.
#   5. the same, when each clone rotated again before settling (the races differ): they merge,
#      every version either clone kept stays readable.
# A reader shared after scene 1 reads every kept version (the race generation, a second entry).
source "$(dirname "$0")/lib.sh"
setup
start_team
person carol
e alice member add "$WORK/carol.pub" --role requester --env prod >/dev/null
for s in api web; do
  e alice connector add "sys-$s" --env prod --update "cat > $WORK/$s.value" --verify "cmp -s - $WORK/$s.value" >/dev/null
  printf "$s-v1" >"$WORK/$s.value"
  printf "$s-v1" | e alice add "prod/$s" --owner alice --purpose "the $s" --connector "sys-$s" >/dev/null
  e alice share "prod/$s" --with bob >/dev/null
done
e alice sync >/dev/null
clone bob; e bob git-setup >/dev/null
clone carol; e carol git-setup >/dev/null
for n in 2 3; do
  clone alice "$WORK/alice-$n"
  (cd "$WORK/alice-$n" && HOME="$WORK/home-alice" XDG_STATE_HOME="$WORK/state-alice" ESCROW_IDENTITY="$WORK/alice.id" escrow git-setup >/dev/null)
done
a2() { (cd "$WORK/alice-2" && HOME="$WORK/home-alice" XDG_STATE_HOME="$WORK/state-alice" ESCROW_IDENTITY="$WORK/alice.id" "$@"); }
a3() { (cd "$WORK/alice-3" && HOME="$WORK/home-alice" XDG_STATE_HOME="$WORK/state-alice" ESCROW_IDENTITY="$WORK/alice.id" "$@"); }
carol_in() { local dir=$1; shift; (cd "$dir" && HOME="$WORK/home-carol" XDG_STATE_HOME="$WORK/state-carol" ESCROW_IDENTITY="$WORK/carol.id" "$@"); }
# versions FILE SIDE: the race's versions on that side (ours, theirs), in order, from escrow resolve --json.
versions() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=[c for c in d["conflicts"] if c["kind"]=="rotation-race"][0]; print(" ".join(v["vid"] for v in c["versions"] if v["side"]==sys.argv[2]))' "$1" "$2"
}
# sync_verify RUN...: each clone syncs, then verifies (RUN: how this script runs escrow there, "e bob", "a2 escrow").
sync_verify() {
  local run
  for run in "$@"; do
    expect 0 "$run syncs" -- $run sync
    expect 0 "$run verifies" -- $run verify
  done
}

# 1. Both sides rotate prod/api twice.
printf 'api-b1' | a2 escrow rotate prod/api --stdin --no-push >/dev/null
printf 'api-b2' | a2 escrow rotate prod/api --stdin --no-push >/dev/null
expect 0 "alice-2 publishes two rotations" -- a2 escrow sync
printf 'api-a1' | e alice rotate prod/api --stdin --no-push >/dev/null
printf 'api-a2' | e alice rotate prod/api --stdin --no-push >/dev/null
as alice git commit -qam "alice rotates prod/api twice"
expect 1 "alice's pull stops on the race" -- as alice git pull --no-rebase --no-edit
expect 0 "escrow resolve lists it" -- e alice resolve
check "... one conflict" -- contains "$OUT" "1 conflict in the unresolved merge"
check "... a rotation race" -- contains "$OUT" "suggested: escrow resolve prod/api --current"
e alice --json resolve >"$WORK/race1.json"
read -r OURS1 OURS2 <<<"$(versions "$WORK/race1.json" ours)"
read -r THEIRS1 THEIRS2 <<<"$(versions "$WORK/race1.json" theirs)"
check "... four versions, two a side" -- test -n "$OURS1" -a -n "$OURS2" -a -n "$THEIRS1" -a -n "$THEIRS2"
before=$(files_of alice)
expect 4 "carol may not settle it" -- carol_in "$WORK/alice" escrow resolve prod/api --current "$THEIRS1"
check "... one line" -- one_error_line
expect 1 "--keep is refused (a rotation is never voided)" -- e alice resolve 1 --keep theirs
expect 2 "a version that is not the race's" -- e alice resolve prod/api --current 0123456789abcdef
check "... names the versions" -- contains "$ERR" "is not one of the versions of its rotation race"
check "... files byte-identical" -- test "$before" = "$(files_of alice)"
expect 0 "alice picks theirs' FIRST version" -- e alice resolve prod/api --current "$THEIRS1" --no-push
check "... settled" -- contains "$OUT" "rotation race of prod/api settled: $THEIRS1 chosen"
check "... the connector holds it" -- test "$(cat "$WORK/api.value")" = api-b1
expect 0 "git commit finishes the merge" -- as alice git commit -q --no-edit
expect 0 "alice verifies" -- e alice verify
expect 0 "the current value" -- e alice get prod/api --reveal
check "... api-b1" -- test "$OUT" = api-b1
expect 0 "alice shows prod/api" -- e alice --json show prod/api
check "... every version either side made is kept" -- test "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(len([v for v in d["versions"] if v["v"] >= 2]))' "$OUT")" -ge 3
for v in $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(" ".join(str(v["v"]) for v in d["versions"] if v["v"] >= 2))' "$OUT"); do
  expect 0 "version $v readable" -- e alice get prod/api --reveal --version "$v"
  check "... one of the four values" -- contains " api-a1 api-a2 api-b1 api-b2 " " $OUT "
done
# The versions not chosen keep their side's own generation (race_gen): a reader added now gets it too.
expect 0 "alice shares prod/api with carol" -- e alice share prod/api --with carol
check "... two share entries (the race generations second)" -- test "$(grep -c '"action":"share","actor":"alice".*"member":"carol"' "$WORK/alice/escrow.journal")" -eq 2
expect 0 "alice syncs" -- e alice sync
expect 0 "carol syncs" -- e carol sync
for v in $(e alice --json show prod/api | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(str(v["v"]) for v in d["versions"] if v["v"] >= 2 and v["state"] in ("current", "previous")))'); do
  expect 0 "carol reads version $v" -- e carol get prod/api --reveal --version "$v"
  check "... one of the four values" -- contains " api-a1 api-a2 api-b1 api-b2 " " $OUT "
done
for who in bob carol; do
  expect 0 "$who syncs" -- e "$who" sync
  expect 0 "$who verifies" -- e "$who" verify
done
expect 0 "bob reads the chosen value" -- e bob get prod/api --reveal
check "... api-b1" -- test "$OUT" = api-b1
expect 0 "alice-2 syncs" -- a2 escrow sync
expect 0 "alice-3 syncs" -- a3 escrow sync

# 2. Two settlements made apart: prod/api on alice's clone (not pushed), prod/web on alice-2's.
printf 'api-c' | a2 escrow rotate prod/api --stdin --no-push >/dev/null
expect 0 "alice-2 publishes a rotation of prod/api" -- a2 escrow sync
printf 'api-d' | e alice rotate prod/api --stdin --no-push >/dev/null
as alice git commit -qam "alice rotates prod/api"
expect 1 "alice's pull stops (race on prod/api)" -- as alice git pull --no-rebase --no-edit
e alice --json resolve >"$WORK/race2.json"
API_THEIRS=$(versions "$WORK/race2.json" theirs)
expect 0 "alice settles it on her clone" -- e alice resolve prod/api --current "$API_THEIRS" --no-push
expect 0 "git commit (not pushed)" -- as alice git commit -q --no-edit
check "... api-c in the connector" -- test "$(cat "$WORK/api.value")" = api-c
a3 escrow sync >/dev/null
printf 'web-e' | a3 escrow rotate prod/web --stdin --no-push >/dev/null
expect 0 "alice-3 publishes a rotation of prod/web" -- a3 escrow sync
printf 'web-f' | a2 escrow rotate prod/web --stdin --no-push >/dev/null
a2 git commit -qam "alice-2 rotates prod/web"
expect 1 "alice-2's pull stops (race on prod/web)" -- a2 git pull --no-rebase --no-edit
a2 escrow --json resolve >"$WORK/race3.json"
WEB_OURS=$(versions "$WORK/race3.json" ours)
expect 0 "alice-2 settles it" -- a2 escrow resolve prod/web --current "$WEB_OURS" --no-push
expect 0 "git commit" -- a2 git commit -q --no-edit
expect 0 "alice-2 pushes her settlement" -- a2 escrow sync
check "... web-f in the connector" -- test "$(cat "$WORK/web.value")" = web-f
expect 0 "alice syncs: both settlements merge" -- e alice sync
check "... no merge left" -- test ! -e "$WORK/alice/.git/MERGE_HEAD"
check "... pushed" -- test "$(git -C "$WORK/remote.git" rev-parse main)" = "$(as alice git rev-parse HEAD)"
expect 0 "alice verifies" -- e alice verify
sync_verify "e bob" "e carol" "a2 escrow" "a3 escrow"
expect 0 "bob reads prod/api" -- e bob get prod/api --reveal
check "... the value alice re-applied" -- test "$OUT" = api-c
expect 0 "bob reads prod/web" -- e bob get prod/web --reveal
check "... the value alice-2 re-applied" -- test "$OUT" = web-f

# 3. A contradiction: alice-2 and alice rotate prod/api apart, each merges the other's rotation
#    (through side branches) and settles the race with their OWN version.
printf 'api-g' | a2 escrow rotate prod/api --stdin --no-push >/dev/null
a2 git commit -qam "alice-2 rotates prod/api"
a2 git push -q origin HEAD:refs/heads/race-a2
printf 'api-h' | e alice rotate prod/api --stdin --no-push >/dev/null
as alice git commit -qam "alice rotates prod/api"
as alice git push -q origin HEAD:refs/heads/race-alice
as alice git fetch -q
a2 git fetch -q
expect 1 "alice merges alice-2's rotation: a race" -- as alice git merge --no-edit origin/race-a2
e alice --json resolve >"$WORK/race4.json"
G=$(versions "$WORK/race4.json" theirs)
H=$(versions "$WORK/race4.json" ours)
expect 0 "alice settles it with hers (api-h)" -- e alice resolve prod/api --current "$H" --no-push
expect 0 "git commit" -- as alice git commit -q --no-edit
expect 1 "alice-2 merges alice's rotation: the same race" -- a2 git merge --no-edit origin/race-alice
# The suggestion is the settlement made last: alice-2's is made in a later second than alice's.
next_second
expect 0 "alice-2 settles it with hers (api-g)" -- a2 escrow resolve prod/api --current "$G" --no-push
expect 0 "git commit" -- a2 git commit -q --no-edit
check "... the connector holds api-g now" -- test "$(cat "$WORK/api.value")" = api-g
expect 0 "alice-2 pushes" -- a2 git push -q origin HEAD:main
expect 1 "alice's pull stops: the race was settled differently" -- as alice git pull --no-rebase --no-edit
check "... the driver names it" -- contains "$ERR" "settled differently on the two sides"
expect 1 "alice verifies: an unresolved merge" -- e alice verify
expect 0 "escrow resolve lists it" -- e alice resolve
check "... as a rotation race" -- contains "$OUT" "suggested: escrow resolve prod/api --current $G"
check "... both settlements' versions" -- contains "$OUT" "version $H"
before=$(files_of alice)
expect 4 "carol may not settle it" -- carol_in "$WORK/alice" escrow resolve prod/api --current "$H"
check "... one line" -- one_error_line
expect 2 "a version neither settlement chose" -- e alice resolve prod/api --current "$API_THEIRS"
check "... files byte-identical" -- test "$before" = "$(files_of alice)"
expect 0 "alice chooses hers (api-h) again" -- e alice resolve prod/api --current "$H" --no-push
check "... re-applied: the connector holds api-h" -- test "$(cat "$WORK/api.value")" = api-h
expect 0 "git commit" -- as alice git commit -q --no-edit
expect 0 "alice verifies" -- e alice verify
expect 0 "alice syncs" -- e alice sync
sync_verify "e bob" "e carol" "a2 escrow" "a3 escrow"
expect 0 "bob reads prod/api" -- e bob get prod/api --reveal
check "... api-h" -- test "$OUT" = api-h
# 4. The same race settled the SAME way on two clones, each re-applying it: their merge needs
#    nothing (the later re-apply is the earlier's again).
printf 'api-i' | a2 escrow rotate prod/api --stdin --no-push >/dev/null
a2 git commit -qam "alice-2 rotates prod/api (4)"
a2 git push -q origin HEAD:refs/heads/race-a2-4
printf 'api-j' | e alice rotate prod/api --stdin --no-push >/dev/null
as alice git commit -qam "alice rotates prod/api (4)"
as alice git push -q origin HEAD:refs/heads/race-alice-4
as alice git fetch -q
a2 git fetch -q
expect 1 "alice merges alice-2's rotation: a race" -- as alice git merge --no-edit origin/race-a2-4
e alice --json resolve >"$WORK/race5.json"
J=$(versions "$WORK/race5.json" ours)
expect 0 "alice settles it with api-j" -- e alice resolve prod/api --current "$J" --no-push
expect 0 "git commit" -- as alice git commit -q --no-edit
expect 1 "alice-2 merges alice's rotation: the same race" -- a2 git merge --no-edit origin/race-alice-4
expect 0 "alice-2 settles it the same way" -- a2 escrow resolve prod/api --current "$J" --no-push
expect 0 "git commit" -- a2 git commit -q --no-edit
expect 0 "alice-2 pushes" -- a2 escrow sync
expect 0 "alice syncs: the two identical settlements merge" -- e alice sync
check "... no merge left" -- test ! -e "$WORK/alice/.git/MERGE_HEAD"
check "... the connector holds api-j" -- test "$(cat "$WORK/api.value")" = api-j
sync_verify "e alice" "e bob" "e carol" "a2 escrow" "a3 escrow"
expect 0 "bob reads prod/api" -- e bob get prod/api --reveal
check "... api-j" -- test "$OUT" = api-j
# 5. The same race settled the same way on two clones that each rotated again before settling:
#    each merges the other's FIRST rotation only, so the two races differ (each lacks the other's
#    second rotation, and numbers the versions its own way). Both choose api-l and re-apply it:
#    the merge needs nothing and keeps every version either clone kept.
printf 'api-k' | a2 escrow rotate prod/api --stdin --no-push >/dev/null
a2 git commit -qam "alice-2 rotates prod/api (5)"
a2 git push -q origin HEAD:refs/heads/race-a2-5
printf 'api-l' | e alice rotate prod/api --stdin --no-push >/dev/null
as alice git commit -qam "alice rotates prod/api (5)"
as alice git push -q origin HEAD:refs/heads/race-alice-5
printf 'api-m' | a2 escrow rotate prod/api --stdin --no-push >/dev/null
a2 git commit -qam "alice-2 rotates prod/api again (5)"
printf 'api-n' | e alice rotate prod/api --stdin --no-push >/dev/null
as alice git commit -qam "alice rotates prod/api again (5)"
as alice git fetch -q
a2 git fetch -q
expect 1 "alice merges alice-2's first rotation: a race" -- as alice git merge --no-edit origin/race-a2-5
e alice --json resolve >"$WORK/race6.json"
read -r L N <<<"$(versions "$WORK/race6.json" ours)"
check "... alice's two versions" -- test -n "$L" -a -n "$N"
expect 0 "alice settles it with api-l" -- e alice resolve prod/api --current "$L" --no-push
expect 0 "git commit" -- as alice git commit -q --no-edit
expect 1 "alice-2 merges alice's first rotation: a race of other versions" -- a2 git merge --no-edit origin/race-alice-5
expect 0 "alice-2 settles it with api-l too" -- a2 escrow resolve prod/api --current "$L" --no-push
expect 0 "git commit" -- a2 git commit -q --no-edit
check "... the connector holds api-l" -- test "$(cat "$WORK/api.value")" = api-l
expect 0 "alice-2 pushes" -- a2 escrow sync
expect 0 "alice syncs: the two settlements merge" -- e alice sync
check "... no merge left" -- test ! -e "$WORK/alice/.git/MERGE_HEAD"
check "... the connector holds api-l" -- test "$(cat "$WORK/api.value")" = api-l
sync_verify "e alice" "e bob" "e carol" "a2 escrow" "a3 escrow"
expect 0 "bob reads prod/api" -- e bob get prod/api --reveal
check "... api-l" -- test "$OUT" = api-l
expect 0 "alice shows prod/api" -- e alice --json show prod/api
found=""
for v in $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(" ".join(str(v["v"]) for v in d["versions"] if v["state"] in ("current", "previous")))' "$OUT"); do
  expect 0 "version $v readable" -- e alice get prod/api --reveal --version "$v"
  found="$found $OUT"
done
for value in api-k api-l api-m api-n; do
  check "... $value kept (no value a connector held is lost)" -- contains "$found " " $value "
done
check "no value in any listing" -- lacks "$(cat "$WORK"/race*.json)" "api-"

finish
