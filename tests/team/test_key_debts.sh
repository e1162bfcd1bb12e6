#!/usr/bin/env bash
# Key debts (issue 9: "each value stays readable by exactly the right people";
# docs/design/vault-2-merge.md §7, docs/TEAM.md "Key hand-over after a merge"). alice owns
# prod/x. On one clone she shares it with carol; on another clone of hers it is rotated (a new
# generation, sealed to the readers that clone knew: not carol). Both merge without a conflict,
# but carol reads standing and holds no key of the new generation — a key debt:
#   - carol's read is refused (exit 4) in one line that names the debt and the fix;
#   - a sync by someone who cannot pay (bob, not the owner) leaves it;
#   - the owner's next `escrow sync` pays it (one signed share entry, committed and pushed, naming
#     no value), after which carol reads the new value and every clone verifies;
#   - a rotator added later (standing, no key yet) is paid by the owner's sync after the pull.
source "$(dirname "$0")/lib.sh"
setup
start_team
person carol; person rita
e alice member add "$WORK/carol.pub" --role requester --env prod >/dev/null
printf 'x-v1' | e alice add prod/x --owner alice --purpose "the x service" >/dev/null
e alice share prod/x --with bob >/dev/null
e alice sync >/dev/null
clone bob; e bob git-setup >/dev/null
clone carol; e carol git-setup >/dev/null
second_alice_clone

expect 0 "alice shares prod/x with carol" -- e alice share prod/x --with carol
printf 'x-v2' | a2 escrow rotate prod/x --stdin --no-push >/dev/null
a2 git commit -qam "alice rotates prod/x on her second clone"
expect 0 "alice-2 pushes the rotation" -- a2 escrow sync
expect 0 "bob syncs (nothing of his to pay)" -- e bob sync
expect 0 "alice-2 syncs again" -- a2 escrow sync

# alice's sync merges her share with the rotation and pays the debt at once.
expect 0 "alice's sync merges her share with the rotation" -- e alice sync
check "... she pays carol's key debt" -- contains "$OUT" "handed carol the keys of prod/x they lacked"
remote=$(git -C "$WORK/remote.git" rev-parse main)
check "... pushed" -- test "$(as alice git rev-parse HEAD)" = "$remote"
check "... the hand-over is a share entry by alice for carol" -- contains "$(git -C "$WORK/remote.git" log -1 --format=%B main)" "share"
check "... no value in the history" -- lacks "$(git -C "$WORK/remote.git" log -p main)" "x-v2"
expect 0 "carol syncs" -- e carol sync
expect 0 "carol reads the rotated value" -- e carol get prod/x --reveal
check "... x-v2" -- test "$OUT" = x-v2
expect 0 "carol syncs her read" -- e carol sync
for who in alice bob carol; do
  expect 0 "$who syncs" -- e "$who" sync
  expect 0 "$who verifies" -- e "$who" verify
done

# The same crossing, paid later: this time bob's sync merges it first.
expect 0 "alice unshares and re-shares prod/x with carol on her first clone" -- e alice unshare prod/x --with carol
expect 0 "... alice syncs" -- e alice sync
expect 0 "alice-2 syncs" -- a2 escrow sync
printf 'x-v3' | a2 escrow rotate prod/x --stdin --no-push >/dev/null
a2 git commit -qam "alice rotates prod/x again"
expect 0 "alice shares prod/x with carol again (first clone)" -- e alice share prod/x --with carol
as alice git commit -qam "alice shares prod/x with carol"
expect 0 "alice-2 pushes the rotation" -- a2 escrow sync
as alice git push -q origin HEAD:refs/heads/share-carol
expect 0 "bob fetches the share" -- as bob git fetch -q
expect 0 "bob merges alice's share branch" -- as bob git merge -q --no-edit origin/share-carol
expect 0 "bob syncs: the share meets the rotation (he owns nothing: no hand-over)" -- e bob sync
check "... says nothing of keys" -- lacks "$OUT" "handed"
expect 0 "carol syncs" -- e carol sync
expect 4 "carol's read of v3 is refused" -- e carol get prod/x --reveal
check "... one line naming the debt and the fix" -- contains "$ERR" "carol reads prod/x but holds no key of v3's generation yet"
check "... the owner's sync" -- contains "$ERR" "escrow sync"
check "... no value on stdout" -- test -z "$OUT"
expect 0 "carol syncs the refusal" -- e carol sync
expect 0 "alice syncs: she pays the debt" -- e alice sync
check "... handed carol the keys" -- contains "$OUT" "handed carol the keys of prod/x they lacked"
expect 0 "carol syncs" -- e carol sync
expect 0 "carol reads v3" -- e carol get prod/x --reveal
check "... x-v3" -- test "$OUT" = x-v3

# A rotator added after the last rotation is a standing reader with no key yet: the owner's sync
# after pulling that change pays it.
expect 0 "bob syncs" -- e bob sync
expect 0 "alice-2 adds rita as a rotator" -- a2 escrow member add "$WORK/rita.pub" --role rotator --env prod
expect 0 "alice-2 syncs" -- a2 escrow sync
check "... alice-2 is the owner too: she pays rita's debt" -- contains "$OUT" "handed rita the keys of prod/x they lacked"
clone rita; e rita git-setup >/dev/null
expect 0 "rita reads prod/x" -- e rita get prod/x --reveal
check "... x-v3" -- test "$OUT" = x-v3
for who in alice bob carol rita; do
  expect 0 "$who syncs" -- e "$who" sync
  expect 0 "$who verifies" -- e "$who" verify
done
finish
