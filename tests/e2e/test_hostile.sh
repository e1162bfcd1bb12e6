#!/usr/bin/env bash
# Hostile environment (issue 16): planted special files (symlinks, FIFOs), refused commands
# that still wrote, terminal escapes in what people read, exec redaction across streams, times
# past year 9999, absurd KDF limits, durations without a unit, a rotation to the same value.
# Every refusal: one error line, the documented exit code, quickly (timeout 10), files unchanged.
source "$(dirname "$0")/lib.sh"
setup
# Every run is bounded: a hang shows as exit 124, never as a stuck test.
as() { local who=$1; shift; timeout 10 "$ESCROW" --identity "$WORK/$who.id" "$@"; }

init_vault alice
member bob --role approver --role requester --env prod
member carol --role approver --env "*"
member rob --role rotator --env "*"
member erin --role requester --env prod
printf 'pr0d-db-Value' | as alice add prod/db --purpose "orders db" --custodians bob,carol --threshold 2 >/dev/null
printf 'dev-t0ken-Value' | as alice add dev/token --purpose "test" >/dev/null
mkid dave
cp escrow.vault good.vault
cp escrow.journal good.journal
cp escrow.keys good.keys
cp -r state good.state
restore() {
  rm -f escrow.vault escrow.journal escrow.keys escrow.vault.lock
  cp good.vault escrow.vault; cp good.journal escrow.journal; cp good.keys escrow.keys
  rm -rf state; cp -r good.state state
}

# refused CODE PATTERN DESCRIPTION -- CMD...: exit code (within 10 s), one error line, head,
# journal and keys byte-identical.
refused() {
  local code=$1 pattern=$2 what=$3; shift 4
  local before after
  before=$(snapshot)
  expect "$code" "$what: exit $code" -- "$@"
  expect_error_line "$pattern" "$what: error line"
  after=$(snapshot)
  if [ "$before" = "$after" ]; then pass "$what: files byte-identical"; else die "$what: files changed"; fi
}

# ---- 1. planted special files -------------------------------------------------------------
printf 'victim line 1\nvictim line 2\n' >victim.txt
cp victim.txt victim.orig

rm -f escrow.vault.lock
ln -s "$WORK/victim.txt" escrow.vault.lock
refused 5 "escrow.vault.lock: .*symbolic link" "planted lock symlink (get --reveal)" -- as alice get dev/token --reveal
refused 5 "escrow.vault.lock: .*symbolic link" "planted lock symlink (write)" -- as alice member add dave.pub --role requester --env dev
cmp -s victim.txt victim.orig && pass "the lock's victim is untouched" || die "the lock's victim was changed: $(cat victim.txt)"
restore

rm -f escrow.journal
ln -s "$WORK/victim.txt" escrow.journal
expect 5 "planted journal symlink is refused" -- as alice member add dave.pub --role requester --env dev
expect_error_line "escrow.journal: .*symbolic link" "planted journal symlink: error line"
cmp -s victim.txt victim.orig && pass "the journal's victim is untouched" || die "the journal's victim was changed"
cmp -s escrow.vault good.vault && pass "journal symlink: vault unchanged" || die "journal symlink: vault changed"
restore

# A vault that is a symbolic link is refused (never followed, never replaced): docs/SECURITY.md.
mv escrow.vault real.vault
ln -s "$WORK/real.vault" escrow.vault
expect 5 "a vault that is a symlink is refused (read)" -- as alice list
expect_error_line "escrow.vault: .*symbolic link" "vault symlink (read): error line"
expect 5 "a vault that is a symlink is refused (write)" -- as alice member add dave.pub --role requester --env dev
[ -L escrow.vault ] && cmp -s real.vault good.vault && pass "the vault symlink and its target are untouched" \
  || die "the vault symlink was replaced or its target changed"
rm -f escrow.vault real.vault
restore
rm -f escrow.vault; ln -s "$WORK/nowhere.vault" escrow.vault
expect 5 "init over a dangling vault symlink is refused" -- as alice init
[ -L escrow.vault ] && [ ! -e nowhere.vault ] && pass "init wrote nothing through the dangling link" || die "init followed the link"
rm -f escrow.vault
restore

# FIFOs in place of every file escrow reads: a one-line error, quickly, never a hang.
fifo_case() {
  local file=$1 what=$2; shift 2
  rm -f "$file"; mkfifo "$file"
  expect 5 "FIFO as $what: exit 5, no hang" -- "$@"
  expect_error_line "not a regular file" "FIFO as $what: error line"
  rm -f "$file"
}
fifo_case escrow.vault "the vault" as alice list; restore
fifo_case escrow.vault "the vault (write)" as alice member add dave.pub --role requester --env dev; restore
fifo_case escrow.journal "the journal" as alice get dev/token --reveal; restore
fifo_case escrow.journal "the journal (verify)" as alice verify; restore
fifo_case escrow.keys "the keys file" as alice get dev/token --reveal; restore
fifo_case escrow.keys "the keys file (write)" as alice share prod/db --with bob; restore
cp dave.id dave.id.orig
fifo_case dave.id "the identity" as dave grants; cp dave.id.orig dave.id
cp dave.pub dave.pub.orig
fifo_case dave.pub "a member's public file" as alice member add dave.pub --role requester --env dev; cp dave.pub.orig dave.pub; restore
fifo_case pass.fifo "ESCROW_PASSPHRASE_FILE" timeout 10 env ESCROW_PASSPHRASE_FILE="$WORK/pass.fifo" "$ESCROW" identity new --name eve --out "$WORK/eve.id"
# This machine's verified-state cache (escrow-vault/2: $XDG_STATE_HOME/escrow/vaults/...).
cache=$(ls -d state/escrow/vaults/*/* | head -1)
mv "$cache/verified.json" verified.orig
fifo_case "$cache/verified.json" "the cache's verified.json" as alice list
mv verified.orig "$cache/verified.json"
restore

# ---- 2. a refused command writes nothing --------------------------------------------------
# A layout edit in a key line no command opens here (extra space in dev/token's value line): a
# reader that bisects the keys file need not see it, a writer (which rewrites the keys file) does:
# it must refuse BEFORE anything is written (keys first, then the journal append: D7).
perl -0pi -e 's/(\n    "dev\/token:[0-9a-f]{16}:v#[0-9a-f]+"):/$1 :/' escrow.keys
cmp -s escrow.keys good.keys && die "the layout edit did not apply" || pass "layout edit applied"
refused 3 "" "share after a layout edit" -- as alice share prod/db --with carol
refused 3 "" "member add after a layout edit" -- as alice member add dave.pub --role requester --env dev
refused 3 "" "policy set after a layout edit" -- as alice policy set prod --max-ttl 2h
refused 3 "" "request after a layout edit" -- as erin request prod/db --ttl 1h --why x
refused 3 "" "rotate after a layout edit" -- as rob rotate dev/token
restore

# ---- 3. terminal escapes ------------------------------------------------------------------
# The CLI refuses control characters in what it is given; what a member writes with a build of
# their own is shown escaped everywhere (tests/cli/hostile_test.cpp sets that up).
esc=$(printf 'evil\033[31mRED\007bell\rCR')
refused 2 "control characters" "a justification with control characters" -- as erin request prod/db --ttl 1h --why "$esc"
# A member name planted in an error line is escaped too: one line, no raw escape.
printf '{"format":"escrow-public-identity/1","name":"x\\u001b[2Jy"}' >evil.pub
expect 3 "a public file with a hostile name is refused" -- as alice member add evil.pub --role requester --env dev
printf '%s' "$ERR" | LC_ALL=C grep -q "$(printf '\033')" && die "raw escape in the error line: $ERR" || pass "error line escaped"
restore

# ---- 4. exec redaction --------------------------------------------------------------------
expect 0 "a value split across stdout and stderr" -- \
  sh -c "'$ESCROW' --identity alice.id exec --set T=dev/token -- sh -c 'printf dev-t0k; printf en-Value >&2' 2>&1"
printf '%s' "$OUT" | grep >/dev/null 'dev-t0k' && die "split value leaked: $OUT" || pass "split value redacted: $OUT"
printf 'nl-Secret-V4lue\n' | as alice add dev/nl --purpose nl >/dev/null
expect 0 "a value stored with a trailing newline, printed without it" -- \
  as alice exec --set N=dev/nl -- sh -c 'printf "%s" "nl-Secret-V4lue"; echo; printf "x%sx" "nl-Secret-V4lue"'
printf '%s' "$OUT" | grep >/dev/null 'nl-Secret-V4lue' && die "trailing-newline value leaked: $OUT" || pass "trailing-newline value redacted"
restore

# ---- 6. times, KDF, units, same value -----------------------------------------------------
refused 2 "max-ttl" "policy set --max-ttl 1800000w" -- as alice policy set prod --max-ttl 1800000w
refused 2 "ttl" "request --ttl 4 (no unit)" -- as erin request prod/db --ttl 4 --why x
printf '%s\n' "$ERR" | grep >/dev/null '^escrow: hint: .*unit' && pass "--ttl 4: a hint names the units" || die "no hint: $ERR"
refused 2 "every" "policy set --every 4 (no unit)" -- as alice policy set prod --every 4
refused 2 "" "request whose grant would end after 9999" -- timeout 10 env ESCROW_NOW=9999-12-31T23:00:00Z "$ESCROW" --identity erin.id request prod/db --ttl 2h --why x
refused 2 "ESCROW_NOW" "ESCROW_NOW past 9999" -- timeout 10 env ESCROW_NOW=300000000000 "$ESCROW" --identity alice.id list
expect 0 "a command at the last second of 9999 works" -- timeout 10 env ESCROW_NOW=9999-12-31T23:59:59Z "$ESCROW" --identity alice.id list
expect 0 "... and verify still reads everything back" -- as alice verify
restore

# alice's identity has no passphrase: build one that has, then inflate its limits.
printf 'pw\n' >pw
ESCROW_PASSPHRASE_FILE=$WORK/pw "$ESCROW" identity new --name eve --out "$WORK/eve.id" >/dev/null
perl -0pi -e 's/"memlimit": *\d+/"memlimit": 4294967296/' eve.id
grep -q '"memlimit": *4294967296' eve.id && pass "eve.id asks for 4 GiB" || die "could not edit eve.id"
start=$(date +%s)
expect 3 "an identity asking Argon2id for 4 GiB is refused" -- timeout 20 env ESCROW_PASSPHRASE_FILE="$WORK/pw" "$ESCROW" --identity "$WORK/eve.id" grants
expect_error_line "eve.id: .*memlimit" "the KDF refusal names the file and the limit"
[ $(($(date +%s) - start)) -le 3 ] && pass "refused quickly" || die "took $(($(date +%s) - start)) s"

cat >same.sh <<'EOF'
printf 'dev-t0ken-Value'
EOF
refused 1 "same as v1" "rotate --generate cmd= producing the current value" -- as rob rotate dev/token --generate "cmd=sh $WORK/same.sh"

finish
