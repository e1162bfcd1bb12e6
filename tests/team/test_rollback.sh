#!/usr/bin/env bash
# Freshness from git history (issue 9 item 5; docs/design/vault-2-replay.md §7) on escrow-vault/2:
# on a FRESH clone (no cache place on this machine), older files checked out over HEAD's and a
# pushed revert are refused (exit 3) naming the commit, by verify and by every writer, leaving
# every file byte-identical; a branch made from an older commit, or a second clone on the same
# machine, is work, not a rollback; a journal that lost entries this machine verified stays
# refused after further reads.
#
# Adapted from escrow-vault/1, whose vault file carried a revision number: in escrow-vault/2 the
# state is the journal's, so "older" means a journal (or a head file) whose entries do not reach
# the heads HEAD's head file names; the messages name entries instead of revisions.
source "$(dirname "$0")/lib.sh"
setup
start_team
person dave
e alice member add "$WORK/dave.pub" --role requester --env prod >/dev/null

for n in 1 2 3 4; do
  printf 'value-%s' "$n" | e alice add "prod/s$n" --owner alice --purpose "secret $n" --custodians bob --threshold 1 >/dev/null
  as alice git commit -qam "add prod/s$n"
done
as alice git push -q

# 1. A fresh clone (dave's machine has never seen this vault): the three files of HEAD~3.
clone dave; e dave git-setup >/dev/null
expect 0 "the fresh clone verifies" -- e dave verify
rm -rf "$WORK/state-dave"   # truly fresh: no cache place
as dave git checkout HEAD~3 -- escrow.vault escrow.journal escrow.keys
before=$(files_of dave)
HEAD_SHORT=$(as dave git rev-parse --short=12 HEAD)
expect 3 "verify refuses the older working files" -- e dave verify
check "... naming HEAD's commit ($ERR)" -- contains "$ERR" "escrow.journal: the working files lack journal entries committed at HEAD (commit $HEAD_SHORT"
check "... in one error line" -- test "$(printf '%s\n' "$ERR" | grep -c '^escrow: error:')" -eq 1
check "... with the fix" -- contains "$ERR" "git checkout HEAD -- escrow.vault escrow.journal escrow.keys"
expect 3 "a writer refuses it too (a request)" -- e dave request prod/s1 --ttl 1h --why "incident 1"
check "every file byte-identical" -- test "$before" = "$(files_of dave)"
as dave git checkout HEAD -- escrow.vault escrow.journal escrow.keys

# ... and the head file alone (the issue's `git checkout HEAD~3 -- escrow.vault`).
rm -rf "$WORK/state-dave"
as dave git checkout HEAD~3 -- escrow.vault
before=$(files_of dave)
expect 3 "verify refuses an older head file put back alone" -- e dave verify
check "... naming HEAD's commit ($ERR)" -- contains "$ERR" "escrow.vault: the working head file is older than the one committed at HEAD (commit $HEAD_SHORT"
check "... files byte-identical" -- test "$before" = "$(files_of dave)"
as dave git checkout HEAD -- escrow.vault
expect 0 "with HEAD's files back, verify passes" -- e dave verify

# 2. The journal: entries HEAD has, dropped from the working file.
head -n 3 "$WORK/dave/escrow.journal" >"$WORK/j" && cat "$WORK/j" >"$WORK/dave/escrow.journal"
before=$(files_of dave)
expect 3 "verify refuses a journal that lost entries (this machine had verified them)" -- e dave verify
check "... naming the journal" -- contains "$ERR" "escrow.journal"
check "... files byte-identical" -- test "$before" = "$(files_of dave)"
rm -rf "$WORK/state-dave"
expect 3 "... and on a fresh machine (the head file names entries the journal lacks)" -- e dave verify
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
check "... and what it dropped" -- contains "$ERR" "it dropped 1 journal entry that commit $HEAD_SHORT had"
expect 3 "a writer on that clone refuses too" -- e dave request prod/s1 --ttl 1h --why "incident 2"
check "... files byte-identical" -- test "$before" = "$(files_of dave)"
expect 3 "bob's own clone refuses it as well" -- e bob verify
expect 3 "... and so does a read there" -- e bob list

# 4. Undoing the revert heals the history (a warning says what happened; no error).
as bob git revert --no-edit HEAD >/dev/null
as bob git push -q
as dave git pull -q
expect 0 "after the revert is reverted, verify passes" -- e dave verify
check "... warning about the healed rollback" -- contains "$ERR" "commit $REVERT (\"Revert \"add prod/s4\"\") dropped journal entries that commit $HEAD_SHORT had; commit"

# 5. A branch from an older commit is work: it reads, writes and verifies.
as dave git switch -q -c older HEAD~4
check "dave is on the branch older" -- test "$(as dave git symbolic-ref --short HEAD)" = older
expect 0 "a branch from an older commit verifies" -- e dave verify
expect 0 "... and can be written (a request on it)" -- e dave request prod/s1 --ttl 1h --why "on the old branch"
expect 0 "... and verified after the write" -- e dave verify
as dave git commit -qam "a request on the old branch"
expect 0 "... and verified after the commit" -- e dave verify
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

# 7. A dropped journal tail stays detected after further reads (issue 9: the evidence is never
#    erased on the machine that recorded it).
expect 0 "alice reads prod/s1 (a reveal entry, uncommitted)" -- e alice get prod/s1 --reveal
as alice git checkout -- escrow.journal
before=$(files_of alice)
expect 3 "the next command refuses: the reveal this machine verified is gone" -- e alice verify
check "... naming the lost entry" -- contains "$ERR" "reveal by alice"
expect 3 "another read is refused too (it would bury the loss)" -- e alice get prod/s2 --reveal
expect 3 "and verify still refuses" -- e alice verify
check "... files byte-identical" -- test "$before" = "$(files_of alice)"

finish
