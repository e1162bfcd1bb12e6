#!/usr/bin/env bash
# escrow audit restore (docs/AUDIT.md, vault-2-replay.md §6): entries this machine verified that
# the journal lost (a line cut out of the middle, a truncated tail, an older copy, a git checkout
# of an older journal) are put back from a journal file or a git revision, exactly as they were;
# every refusal leaves the files byte-identical.
source "$(dirname "$0")/lib.sh"
setup

export ESCROW_NOW=2026-01-01T09:00:00Z
init_vault alice
member bob --role approver --role requester --env prod
printf 'restore-value-1' | as alice add prod/db --purpose db >/dev/null
as alice share prod/db --with bob >/dev/null
for hour in 10 11 12; do
  ESCROW_NOW=2026-01-02T${hour}:00:00Z as bob get prod/db --reveal >/dev/null
done
export ESCROW_NOW=2026-01-03T09:00:00Z
printf 'restore-value-2' | as alice add prod/api --purpose api >/dev/null
as alice get prod/api --reveal >/dev/null
as alice list >/dev/null
cp escrow.journal full.journal
lines=$(wc -l <full.journal)

unchanged() { # unchanged DESCRIPTION: the three files are as $before says
  [ "$(snapshot)" = "$before" ] && pass "files byte-identical: $1" || die "a file changed: $1"
}
forge_sig() { # forge_sig FILE LINE: a different signature on that line (its hash does not cover it)
  python3 - "$1" "$2" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
lines = open(path, 'rb').read().decode().split('\n')
sig = json.loads(lines[n - 1])['sig']
lines[n - 1] = lines[n - 1].replace(sig, ('B' if sig[0] != 'B' else 'C') + sig[1:])
open(path, 'wb').write('\n'.join(lines).encode())
PY
}

before=$(snapshot)
expect 2 "nothing missing: nothing to restore" -- as alice audit restore --from full.journal
expect_error_line "escrow.journal: no entry this machine verified is missing" "says nothing is missing"
unchanged "nothing to restore"

# 1. A cut in the middle: line 4 deleted, every later line depends on it.
sed '4d' full.journal >escrow.journal
before=$(snapshot)
expect 3 "a journal with a line cut out refuses every command" -- as alice list
expect_error_line "1 entry this machine verified is missing" "the loss message"
contains "$ERR" "escrow audit restore --from" && pass "hints restore" || die "no restore hint: $ERR"
expect 2 "no --from outside git" -- as alice audit restore
expect_error_line "not in a git work tree: --from is needed" "says --from is needed"
unchanged "no --from"
expect 2 "a --from that is no file and no revision" -- as alice audit restore --from no-such.journal
expect_error_line "no-such.journal: no such file" "names the file"
unchanged "no such file"
head -n 3 full.journal >old.journal
expect 3 "a source without the missing entry" -- as alice audit restore --from old.journal
expect_error_line "escrow.journal: no missing entry is in old.journal" "says the source lacks it"
unchanged "a source without it"
cp full.journal forged.journal
forge_sig forged.journal 4
expect 3 "a restored line with a forged signature" -- as alice audit restore --from forged.journal
expect_error_line "forged.journal: the line of entry .* has a signature that does not verify" "names the forged line"
unchanged "a forged signature"
# Another damage of the journal (a present line's signature forged): the restore is proved by
# opening the vault, which fails; the journal is put back byte-identical.
forge_sig escrow.journal 5
before=$(snapshot)
expect 3 "a journal damaged elsewhere: the proving open fails" -- as alice audit restore --from full.journal
expect_error_line "escrow.journal: line 6: .*signature.*in the journal as restored; audit restore put .*escrow.journal back as it was" "names the damaged line and says it put the journal back"
unchanged "the proving open failed"
sed '4d' full.journal >escrow.journal
before=$(snapshot)
expect 0 "restore from a journal file" -- as alice audit restore --from full.journal
contains "$OUT" "restored 1 entry from full.journal" && pass "says what it restored" || die "stdout: $OUT"
contains "$OUT" "escrow.journal verifies" && pass "and that the journal verifies" || die "stdout: $OUT"
cmp -s escrow.journal full.journal && pass "the journal is exactly the original" || die "journal differs"
expect 0 "every command works again" -- as bob get prod/db --reveal
[ "$OUT" = "restore-value-1" ] && pass "bob reads the value" || die "value: $OUT"
expect 0 "audit verify is clean" -- as alice audit verify
cp escrow.journal full.journal

# 2. A truncated tail, restored with no identity at all (restore signs nothing).
lines=$(wc -l <full.journal)
head -n $((lines - 3)) full.journal >escrow.journal
expect 3 "a truncated tail is refused" -- as alice list
expect_error_line "3 entries this machine verified are missing" "three entries"
expect 0 "restore without an identity" -- env -u ESCROW_IDENTITY "$ESCROW" audit restore --from full.journal
contains "$OUT" "restored 3 entries from full.journal" && pass "three restored" || die "stdout: $OUT"
cmp -s escrow.journal full.journal && pass "the tail is back" || die "journal differs"

# 3. An older copy, and a source that holds only part of what is missing: what it holds is kept,
# the rest is still a loss (exit 3, with the ack-loss hint); a second source completes it.
head -n 5 full.journal >escrow.journal
head -n $((lines - 1)) full.journal >partial.journal
expect 3 "a partial restore" -- as alice audit restore --from partial.journal
expect_error_line "restored $((lines - 6)) entries from partial.journal, but 1 entry this machine verified is still missing" "says what remains"
contains "$ERR" "escrow audit ack-loss" && pass "hints ack-loss" || die "$ERR"
cmp -s escrow.journal partial.journal && pass "what was restored is kept" || die "journal differs"
expect 3 "still a loss" -- as alice list
expect 0 "the rest --json" -- as alice --json audit restore --from full.journal
n=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["restored"]), d["source"]["kind"], d["verified"])')
[ "$n" = "1 file True" ] && pass "the JSON document" || die "json: $OUT"
cmp -s escrow.journal full.journal && pass "complete again" || die "journal differs"

# 4. git: an older journal checked out over the committed one; restored from HEAD.
unset ESCROW_VAULT
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
mkdir repo
cd repo
git init -q
as alice init >/dev/null
printf 'git-value-1' | as alice add prod/x --purpose x >/dev/null
git add escrow.vault escrow.journal escrow.keys && git commit -qm one
ESCROW_NOW=2026-01-03T10:00:00Z as alice get prod/x --reveal >/dev/null
printf 'git-value-2' | ESCROW_NOW=2026-01-03T11:00:00Z as alice add prod/y --purpose y >/dev/null
git add escrow.vault escrow.journal escrow.keys && git commit -qm two
export ESCROW_NOW=2026-01-03T12:00:00Z
as alice list >/dev/null
git checkout HEAD~1 -- escrow.journal
snapshot_repo() { sha256sum escrow.vault escrow.journal escrow.keys | sha256sum; }
before=$(snapshot_repo)
expect 3 "git checkout HEAD~1 -- escrow.journal is a loss" -- as alice list
expect_error_line "2 entries this machine verified are missing" "the loss"
expect 2 "a rev that is not a revision" -- as alice audit restore --from no-such-rev
expect_error_line "no-such-rev: not a file, nor a revision" "names the rev"
[ "$(snapshot_repo)" = "$before" ] && pass "unchanged: bad rev" || die "changed: bad rev"
expect 2 "a rev that looks like an option" -- as alice audit restore --from=--output=x
[ "$(snapshot_repo)" = "$before" ] && pass "unchanged: option-like rev" || die "changed"
[ ! -e x ] && pass "git wrote no file" || die "git wrote x"
expect 0 "restore --from HEAD" -- as alice audit restore --from HEAD
contains "$OUT" "restored 2 entries from HEAD (commit" && pass "names the commit" || die "stdout: $OUT"
git diff --quiet HEAD -- escrow.journal && pass "the journal is HEAD's again" || die "journal differs from HEAD"
expect 0 "work resumes" -- as alice list
git checkout HEAD~1 -- escrow.journal
expect 0 "without --from: HEAD's journal" -- as alice audit restore
git diff --quiet HEAD -- escrow.journal && pass "HEAD's journal again" || die "journal differs from HEAD"
finish
