#!/usr/bin/env bash
# Bad input through the real binary (issue 2): one-line error naming the file and the problem,
# the exit code of DESIGN §8, and every file byte-identical (sha256 of vault and journal).
# A valid member's refused access appends exactly one "denied" journal entry; the vault stays
# byte-identical.
source "$(dirname "$0")/lib.sh"
setup

init_vault alice
member bob --role approver --role requester --env prod
member carol --role approver --env '*'
member dave --role requester --env dev
printf 'pr0d-db-Value' | as alice add prod/db --purpose "orders db" --custodians bob,carol --threshold 2 >/dev/null
printf 'dev-t0ken-Value' | as alice add dev/token --purpose "test" >/dev/null
cp escrow.vault good.vault
cp escrow.journal good.journal
cp -r state good.state

restore() { cp good.vault escrow.vault; cp good.journal escrow.journal; rm -rf state; cp -r good.state state; }

# refused CODE PATTERN DESCRIPTION -- CMD...: exit code, one error line matching PATTERN, and
# vault + journal byte-identical.
refused() {
  local code=$1 pattern=$2 what=$3; shift 3
  local before after
  before=$(snapshot)
  expect "$code" "$what: exit $code" "$@"
  expect_error_line "$pattern" "$what: error line"
  after=$(snapshot)
  if [ "$before" = "$after" ]; then pass "$what: files byte-identical"; else die "$what: files changed"; fi
}

# denied CODE PATTERN DESCRIPTION -- CMD...: as refused, but the journal grows by one "denied" entry.
denied() {
  local code=$1 pattern=$2 what=$3; shift 3
  local vault_before journal_before lines_before
  vault_before=$(sha256sum <escrow.vault)
  journal_before=$(sha256sum <escrow.journal)
  lines_before=$(wc -l <escrow.journal)
  local size_before
  size_before=$(stat -c %s escrow.journal)
  expect "$code" "$what: exit $code" "$@"
  expect_error_line "$pattern" "$what: error line"
  [ "$(sha256sum <escrow.vault)" = "$vault_before" ] && pass "$what: vault byte-identical" || die "$what: vault changed"
  [ "$(head -c "$size_before" escrow.journal | sha256sum)" = "$journal_before" ] \
    && [ "$(wc -l <escrow.journal)" -eq $((lines_before + 1)) ] \
    && tail -1 escrow.journal | grep -q '"result":"denied"' \
    && pass "$what: journal grew by one denied entry" || die "$what: journal not as expected"
}

# flip FIELD [RECORD]: change one base64 character of the first FIELD value (after RECORD's key).
flip() {
  FIELD=$1 RECORD=${2:-} perl -0pi -e '
    my $start = length($ENV{RECORD}) ? index($_, "\"$ENV{RECORD}\": {") : 0;
    my $at = index($_, "\"$ENV{FIELD}\": ", $start);
    my $quote = index($_, "\"", $at + length($ENV{FIELD}) + 4);
    $quote = index($_, "\"", index($_, ":", index($_, "\"", $quote)) + 1) if substr($_, $at + length($ENV{FIELD}) + 4, 1) eq "{";
    my $c = substr($_, $quote + 5, 1);
    substr($_, $quote + 5, 1) = ($c eq "A" ? "B" : "A");
  ' escrow.vault
}

restore; head -c 3000 good.vault >escrow.vault
refused 3 "escrow.vault: .*truncated" "truncated vault" -- as alice list

restore; flip ciphertext prod/db
refused 3 "escrow.vault: secrets/prod/db: record does not match the signed manifest" "flipped ciphertext" -- as alice get prod/db --reveal
refused 3 "secrets/prod/db" "flipped ciphertext (verify)" -- as alice verify

restore; flip wrapped prod/db
refused 3 "secrets/prod/db: record does not match the signed manifest" "flipped wrapped key" -- as alice get prod/db --reveal

restore; flip sig bob
refused 3 "members/bob: record does not match the signed manifest" "flipped member signature" -- as alice list

restore; flip sig dev/token
refused 3 "secrets/dev/token: record does not match" "flipped secret signature" -- as alice get dev/token --reveal

restore; flip sign_pk carol
refused 3 "members/carol: record does not match the signed manifest" "flipped member public key" -- as bob list

restore; perl -0pi -e 's/"owner": "alice",\n      "purpose": "orders db"/"owner": "bob",\n      "purpose": "orders db"/' escrow.vault
refused 3 "secrets/prod/db: record does not match the signed manifest" "changed owner field" -- as bob show prod/db

restore; perl -0pi -e 's/("head_sig": \{\n    "by": "alice",\n    "sig": ")(.)/$1 . ($2 eq "A" ? "B" : "A")/e' escrow.vault
refused 3 "the head signature does not verify" "flipped head signature" -- as alice list

# A record copied in from another vault (same member, same secret name).
restore
ESCROW_VAULT=$WORK/other.vault as alice init >/dev/null
printf 'other-Value' | ESCROW_VAULT=$WORK/other.vault as alice add dev/token --purpose test >/dev/null
perl -0pi -e '
  open(my $f, "<", "other.vault") or die; local $/; my $other = <$f>;
  my ($donor) = $other =~ /("dev\/token": \{.*?\n    \})/s;
  s/"dev\/token": \{.*?\n    \}/$donor/s;
' escrow.vault
cmp -s escrow.vault good.vault && die "copy did not change the vault" || pass "record copied from another vault"
refused 3 "secrets/dev/token: record does not match the signed manifest" "copied record" -- as alice get dev/token --reveal

# A vault rolled back to an older revision: the pin in $XDG_STATE_HOME/escrow/known.json.
restore
printf 'n3wer' | as alice add dev/newer --purpose test >/dev/null
grep -q '"revision": 7' state/escrow/known.json && pass "known.json pins revision 7" || die "known.json: $(cat state/escrow/known.json)"
cp good.vault escrow.vault
refused 3 "rolled back: this is revision 6, this machine has already seen revision 7" "rolled-back vault" -- as bob list
printf '%s\n' "$ERR" | grep -q "^escrow: hint: .*--allow-rollback" && pass "rollback hint names --allow-rollback" || die "hint: $ERR"
lines=$(wc -l <escrow.journal)
expect 0 "--allow-rollback accepts it" -- as bob --allow-rollback list
cmp -s escrow.vault good.vault && pass "accepted rollback leaves the vault as is" || die "vault changed"
[ "$(wc -l <escrow.journal)" -eq $((lines + 1)) ] && tail -1 escrow.journal | grep -q '"action":"allow-rollback"' \
  && pass "accepting a rollback is journaled" || die "journal: $(tail -1 escrow.journal)"
expect 0 "later commands accept the older revision" -- as bob list

restore; sed -i 's#escrow-vault/1#escrow-vault/2#' escrow.vault
refused 3 'escrow.vault: unsupported format "escrow-vault/2" \(this escrow reads escrow-vault/1\)' "unknown major format" -- as alice list

restore; perl -0pi -e 's/\n  "connectors": \{\},/\n  "connectors": {},\n  "connectors": {},/' escrow.vault
refused 3 "escrow.vault: duplicate key at byte" "duplicate JSON keys" -- as alice list

restore; perl -0pi -e 's/"purpose": "test"/"purpose": "t\xff\xfest"/' escrow.vault
refused 3 "escrow.vault: invalid UTF-8 at byte" "invalid UTF-8 in the vault" -- as alice list

restore; perl -0pi -e 's/"dev\/token": \{/"dev\/to\\u0000ken": {/' escrow.vault
refused 3 "escrow.vault: NUL character in a string" "NUL in a secret name in the vault" -- as alice list

restore
refused 2 "invalid secret name: '.' and '..' segments are not allowed" "/.. in a secret name" -- as alice get dev/a/../token --reveal
refused 2 "invalid secret name: empty path segment" "empty segment in a secret name" -- as alice get dev//token --reveal
refused 2 "invalid secret name: '.' and '..'" "/.. in a new secret's name" -- sh -c "printf v | '$ESCROW' --identity alice.id add dev/../x --purpose p"
refused 2 "invalid secret name: not valid UTF-8" "invalid UTF-8 in a secret name" -- as alice get "$(printf 'dev/t\xffoken')" --reveal
refused 2 "add: --purpose must be UTF-8 text" "invalid UTF-8 in an argument" -- sh -c "printf v | '$ESCROW' --identity alice.id add dev/x --purpose \"\$(printf 'p\\377')\""

head -c 65537 /dev/zero | tr '\0' v >big.value
refused 2 "value larger than the limit of 65536 bytes" "value over 64 KiB" -- sh -c "'$ESCROW' --identity alice.id add dev/big --purpose p <big.value"
head -c 65536 big.value >max.value
expect 0 "a value of exactly 64 KiB is accepted" -- sh -c "'$ESCROW' --identity alice.id add dev/big --purpose p <max.value"
restore

# Identities: wrong passphrase, non-member, removed member.
printf 'correct horse\n' >right.pass
printf 'incorrect horse\n' >wrong.pass
ESCROW_PASSPHRASE_FILE=$WORK/right.pass "$ESCROW" identity new --name erin --out "$WORK/erin.id" >/dev/null
"$ESCROW" --identity erin.id identity show --public >erin.pub
as alice member add erin.pub --role requester --env dev >/dev/null
cp escrow.vault good.vault; cp escrow.journal good.journal; rm -rf good.state; cp -r state good.state
expect 0 "the right passphrase opens erin's identity" -- env ESCROW_PASSPHRASE_FILE="$WORK/right.pass" "$ESCROW" --identity erin.id list
refused 4 "erin.id: wrong passphrase" "wrong passphrase" -- env ESCROW_PASSPHRASE_FILE="$WORK/wrong.pass" "$ESCROW" --identity erin.id list

mkid mallory
refused 4 "mallory \(.*\) is not a member of this vault" "non-member identity" -- as mallory list
refused 4 "is not a member of this vault" "non-member reveal" -- as mallory get dev/token --reveal
as alice member remove dave >/dev/null
cp escrow.vault good.vault; cp escrow.journal good.journal; rm -rf good.state; cp -r state good.state
refused 4 "dave was removed from this vault on" "removed member's identity" -- as dave list
refused 4 "dave was removed" "removed member's reveal" -- as dave get dev/token --reveal

# A member outside the secret's environment: denied, and the denial is journaled.
denied 4 "get: bob is not assigned to the dev environment" "member outside the environment" -- as bob get dev/token --reveal
denied 4 "exec: bob is not assigned to the dev environment" "member outside the environment (exec)" -- as bob exec --set X=dev/token -- true
refused 4 "show: bob is not assigned to the dev environment" "member outside the environment (show)" -- as bob show dev/token

refused 2 "get: refusing to print a secret value without --reveal" "get without --reveal" -- as alice get prod/db

# No value anywhere on disk.
if grep -rqa -e 'pr0d-db-Value' -e 'dev-t0ken-Value' --exclude='*.value' --exclude='.err' . ; then
  die "a value reached a file"
else
  pass "no value in any file"
fi
finish
