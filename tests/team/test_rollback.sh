#!/usr/bin/env bash
# Freshness from git history (issue 9 item 5): on a FRESH clone (no pin on this machine), an
# older vault checked out over HEAD's and a pushed revert are refused (exit 3) naming the
# commit, by verify and by every writer, leaving every file byte-identical; a branch made from an
# older commit, or a second clone on the same machine, is work, not a rollback; the journal
# never loses an entry HEAD has.
source "$(dirname "$0")/lib.sh"
setup
start_team
person dave
e alice member add "$WORK/dave.pub" --role requester --env prod >/dev/null

for n in 1 2 3 4; do
  printf 'value-%s' "$n" | e alice add "prod/s$n" --owner alice --purpose "secret $n" --custodians alice --threshold 1 >/dev/null
  as alice git commit -qam "add prod/s$n"
done
as alice git push -q

# 1. A fresh clone (dave's machine has never seen this vault): git checkout HEAD~3 -- escrow.vault.
clone dave; e dave git-setup >/dev/null
expect 0 "the fresh clone verifies" -- e dave verify
rm -rf "$WORK/state-dave"   # truly fresh: no pin, no history cache
as dave git checkout HEAD~3 -- escrow.vault
before=$(files_of dave)
HEAD_SHORT=$(as dave git rev-parse --short=12 HEAD)
expect 3 "verify refuses the older working vault" -- e dave verify
check "... naming HEAD's commit" -- contains "$ERR" "older than revision 7 committed at HEAD (commit $HEAD_SHORT)"
check "... in one error line" -- test "$(printf '%s\n' "$ERR" | grep -c '^escrow: error:')" -eq 1
check "... with the fix" -- contains "$ERR" "git checkout HEAD -- escrow.vault"
expect 3 "a writer refuses it too (a request)" -- e dave request prod/s1 --ttl 1h --why "incident 1"
check "every file byte-identical" -- test "$before" = "$(files_of dave)"
as dave git checkout HEAD -- escrow.vault
expect 0 "with HEAD's vault back, verify passes" -- e dave verify

# 2. The journal: entries HEAD has, dropped from the working file.
head -n 3 "$WORK/dave/escrow.journal" >"$WORK/j" && cat "$WORK/j" >"$WORK/dave/escrow.journal"
before=$(files_of dave)
expect 3 "verify refuses a journal that lost entries HEAD has" -- e dave verify
check "... naming the journal and HEAD" -- contains "$ERR" "escrow.journal: entries committed at HEAD (commit $HEAD_SHORT"
check "... files byte-identical" -- test "$before" = "$(files_of dave)"
as dave git checkout HEAD -- escrow.journal

# 3. A pushed revert: bob reverts alice's last commit and pushes; a fresh clone refuses it.
clone bob; e bob git-setup >/dev/null
as bob git revert --no-edit HEAD >/dev/null
as bob git push -q
REVERT=$(as bob git rev-parse --short=12 HEAD)
rm -rf "$WORK/dave" "$WORK/state-dave"
clone dave; e dave git-setup >/dev/null
before=$(files_of dave)
expect 3 "a fresh clone refuses the pushed revert" -- e dave verify
check "... naming the revert commit" -- contains "$ERR" "rolled back by commit $REVERT"
check "... and the revisions" -- contains "$ERR" "revision 6 follows revision 7"
expect 3 "a writer on that clone refuses too" -- e dave request prod/s1 --ttl 1h --why "incident 2"
check "... files byte-identical" -- test "$before" = "$(files_of dave)"
expect 3 "bob's own clone refuses it as well" -- e bob verify

# 4. Undoing the revert heals the history (a warning says what happened; no error).
as bob git revert --no-edit HEAD >/dev/null
as bob git push -q
as dave git pull -q
expect 0 "after the revert is reverted, verify passes" -- e dave verify
check "... warning about the healed rollback" -- contains "$ERR" "rolled the vault back from revision 7 to 6"

# 5. A branch from an older commit is work: it reads, writes and verifies.
as dave git switch -q -c older HEAD~4
expect 0 "a branch from an older commit verifies" -- e dave verify
expect 0 "... and can be written (a request on it)" -- e dave request prod/s1 --ttl 1h --why "on the old branch"
expect 0 "... and verified after the write" -- e dave verify
as dave git commit -qam "a request on the old branch"
as dave git switch -q main
expect 0 "back on main, verify passes" -- e dave verify

# 6. A second clone on the same machine (same state folder), left behind, is work too.
as alice git pull -q
clone alice "$WORK/alice-2"
(cd "$WORK/alice-2" && HOME="$WORK/home-alice" XDG_STATE_HOME="$WORK/state-alice" escrow git-setup >/dev/null)
printf 'five' | e alice add prod/s5 --owner alice --purpose "secret 5" >/dev/null
as alice git commit -qam "add prod/s5"
expect 0 "alice's first clone, ahead, verifies" -- e alice verify
expect 0 "her second clone on the same machine, behind, verifies (no false rollback)" -- \
  bash -c "cd '$WORK/alice-2' && HOME='$WORK/home-alice' XDG_STATE_HOME='$WORK/state-alice' ESCROW_IDENTITY='$WORK/alice.id' escrow verify"
expect 0 "... and can write" -- \
  bash -c "cd '$WORK/alice-2' && printf six | HOME='$WORK/home-alice' XDG_STATE_HOME='$WORK/state-alice' ESCROW_IDENTITY='$WORK/alice.id' escrow add prod/s6 --owner alice --purpose six"

finish
