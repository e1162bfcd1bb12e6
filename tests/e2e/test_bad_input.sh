#!/usr/bin/env bash
# Bad input through the real binary (issue 2): one-line error naming the file and the problem,
# the exit code of DESIGN §8, and every file byte-identical (sha256 of head, journal and keys).
# A valid member's refused access appends exactly one "denied" journal entry; head and keys stay
# byte-identical. escrow-vault/2: the v1 record/manifest forgeries become their v2 counterparts
# (key lines, journal lines, the head file), --allow-rollback becomes loss detection.
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
cp escrow.keys good.keys
cp -r state good.state

# escrow-vault/2: escrow.vault (the head), escrow.journal (signed entries), escrow.keys (key
# lines). A command reads the journal lines this machine has not verified yet (its cache under
# $XDG_STATE_HOME) and the key lines it opens; `verify` and a machine without the cache (fresh)
# re-read everything.
restore() {
  cp good.vault escrow.vault; cp good.journal escrow.journal; cp good.keys escrow.keys
  rm -rf state; cp -r good.state state
}
fresh() { rm -rf state; }

# refused CODE PATTERN DESCRIPTION -- CMD...: exit code, one error line matching PATTERN, and
# the three files byte-identical.
refused() {
  local code=$1 pattern=$2 what=$3; shift 3
  local before after
  before=$(snapshot)
  expect "$code" "$what: exit $code" "$@"
  expect_error_line "$pattern" "$what: error line"
  after=$(snapshot)
  if [ "$before" = "$after" ]; then pass "$what: files byte-identical"; else die "$what: files changed"; fi
}

# denied CODE PATTERN DESCRIPTION -- CMD...: as refused, but the journal grows by one "denied"
# event; head and keys byte-identical.
denied() {
  local code=$1 pattern=$2 what=$3; shift 3
  local vault_before keys_before journal_before lines_before size_before
  vault_before=$(sha256sum <escrow.vault)
  keys_before=$(sha256sum <escrow.keys)
  journal_before=$(sha256sum <escrow.journal)
  lines_before=$(wc -l <escrow.journal)
  size_before=$(stat -c %s escrow.journal)
  expect "$code" "$what: exit $code" "$@"
  expect_error_line "$pattern" "$what: error line"
  [ "$(sha256sum <escrow.vault)" = "$vault_before" ] && pass "$what: head byte-identical" || die "$what: head changed"
  [ "$(sha256sum <escrow.keys)" = "$keys_before" ] && pass "$what: keys byte-identical" || die "$what: keys changed"
  [ "$(head -c "$size_before" escrow.journal | sha256sum)" = "$journal_before" ] \
    && [ "$(wc -l <escrow.journal)" -eq $((lines_before + 1)) ] \
    && tail -1 escrow.journal | grep >/dev/null '"result":"denied"' \
    && pass "$what: journal grew by one denied entry" || die "$what: journal not as expected"
}

# flip_key PART: change one base64 character of the value of the first key line whose key holds PART.
flip_key() {
  PART=$1 perl -0pi -e '
    my $at = index($_, $ENV{PART}); die "no key line $ENV{PART}" if $at < 0;
    my $quote = index($_, ": \"", $at) + 3;
    my $c = substr($_, $quote + 5, 1);
    substr($_, $quote + 5, 1) = ($c eq "A" ? "B" : "A");
  ' escrow.keys
}
# flip_line N FIELD: change one base64 character of the first FIELD ("sig":") of journal line N.
flip_line() {
  LINE=$1 FIELD=$2 perl -pi -e '
    if ($. == $ENV{LINE}) {
      my $at = index($_, $ENV{FIELD}); die "no $ENV{FIELD} on line $." if $at < 0;
      my $p = $at + length($ENV{FIELD}) + 5;
      my $c = substr($_, $p, 1);
      substr($_, $p, 1) = ($c eq "A" ? "B" : "A");
    }
  ' escrow.journal
}

# Truncations: each file names itself.
restore; head -c 100 good.vault >escrow.vault
refused 3 "escrow.vault: .*truncated" "truncated head file" -- as alice list
restore; head -c 3000 good.journal >escrow.journal
refused 3 "escrow.journal: .*missing \(lost or rolled back\)" "truncated journal (this machine)" -- as alice list
fresh
refused 3 "escrow.vault: names entry .* which the journal lacks" "truncated journal (fresh machine)" -- as alice list
restore; head -c 500 good.keys >escrow.keys
refused 3 "escrow.keys: not an escrow-keys/2 file as escrow writes it" "truncated keys file" -- as alice get prod/db --reveal

# One flipped byte in a key line: the line no longer hashes to what the journal recorded.
restore; flip_key ':v#'
refused 3 "escrow.keys: line [0-9]+: the key line .*:v#.* does not hash to what the journal recorded \(modified outside escrow\)" \
  "flipped ciphertext" -- as alice get dev/token --reveal
refused 3 "escrow.keys: " "flipped ciphertext (verify)" -- as alice verify
restore; flip_key '"prod/db:g1:rk:alice#'
refused 3 "escrow.keys: line [0-9]+: the key line prod/db:g1:rk:alice#.* does not hash" "flipped wrapped key" -- as alice get prod/db --reveal
restore; flip_key ':sh:carol#'
refused 3 "escrow.keys: " "flipped share (verify)" -- as alice verify

# One flipped byte in the journal: the newest line by every command, any line by verify and by a
# fresh machine.
restore; flip_line 6 '"sig":"'
refused 3 "escrow.journal: line 6: .*the signature is not alice's" "flipped signature of the newest entry" -- as alice list
refused 3 "escrow.journal: line 6: " "flipped signature of the newest entry (verify)" -- as alice verify
restore; flip_line 2 '"sign_pk":"'
refused 3 "escrow.journal: line 2: .*its hash is not the hash of its content" "flipped member public key (verify)" -- as alice verify
fresh
refused 3 "escrow.journal: line 2: " "flipped member public key (fresh machine)" -- as bob list
restore; perl -pi -e 's/"owner":"alice","purpose":"orders db"/"owner":"bob","purpose":"orders db"/' escrow.journal
cmp -s escrow.journal good.journal && die "owner edit did not apply" || true
refused 3 "escrow.journal: line 5: .*its hash is not the hash of its content" "changed owner field (verify)" -- as bob verify
fresh
refused 3 "escrow.journal: line 5: " "changed owner field (fresh machine)" -- as bob show prod/db
restore; perl -0pi -e 's/("heads": \[\n      ")(.)/$1 . ($2 eq "A" ? "B" : "A")/e' escrow.vault
refused 3 "escrow.vault: names journal entry .* lacks \(the journal lost its tail\)" "flipped head in the head file" -- as alice list

# Lines copied in from another vault (same member, same secret name).
restore
mkdir other
ESCROW_VAULT=$WORK/other/escrow.vault as alice init >/dev/null
printf 'other-Value' | ESCROW_VAULT=$WORK/other/escrow.vault as alice add dev/token --purpose test >/dev/null
perl -0pi -e '
  open(my $f, "<", "other/escrow.keys") or die; local $/; my $other = <$f>;
  my ($donor) = $other =~ /"dev\/token:g1:rk:alice#[0-9a-f]+": ("[^"]+")/;
  s/("dev\/token:g1:rk:alice#[0-9a-f]+": )"[^"]+"/$1$donor/;
' escrow.keys
cmp -s escrow.keys good.keys && die "copy did not change the keys file" || pass "key line copied from another vault"
refused 3 "escrow.keys: line [0-9]+: the key line dev/token:g1:rk:alice#.* does not hash" "copied key line" -- as alice get dev/token --reveal
restore; cp other/escrow.keys escrow.keys
refused 3 "escrow.keys: belongs to another vault" "another vault's keys file" -- as alice get dev/token --reveal
restore; tail -1 other/escrow.journal >>escrow.journal
refused 3 "escrow.journal: line 7: " "journal line copied from another vault" -- as alice list
restore; cp other/escrow.vault escrow.vault
refused 3 "escrow.vault: " "another vault's head file" -- as alice list

# An older copy of the files (escrow-vault/2 replaces v1's revision pins and --allow-rollback by
# loss detection: vault-2-replay.md §6; only `escrow audit ack-loss`, signed and journaled by an
# admin, lets the vault go on without the lost entries).
restore
printf 'n3wer' | as alice add dev/newer --purpose test >/dev/null
cp good.journal escrow.journal
refused 3 "escrow.journal: 1 entry this machine verified is missing \(lost or rolled back\)" "older journal" -- as bob list
printf '%s\n' "$ERR" | grep >/dev/null "^escrow: hint: .*audit ack-loss" && pass "loss hint names audit ack-loss" || die "hint: $ERR"
cp good.vault escrow.vault; cp good.keys escrow.keys
refused 3 "escrow.journal: 1 entry this machine verified is missing" "older copy of all three files" -- as bob list
refused 3 "lost or rolled back" "--allow-rollback does not accept it" -- as bob --allow-rollback list
refused 3 "lost or rolled back" "nor does a write" -- sh -c "printf v | '$ESCROW' --identity alice.id add dev/x --purpose p"

# Unknown major versions.
restore; sed -i 's#escrow-vault/2#escrow-vault/3#' escrow.vault
refused 3 'escrow.vault: format "escrow-vault/3" is not escrow-vault/2 \(this escrow reads escrow-vault/2\)' "unknown head format" -- as alice list
restore; sed -i 's#escrow-keys/2#escrow-keys/3#' escrow.keys
refused 3 'escrow.keys: format "escrow-keys/3" is not escrow-keys/2' "unknown keys format" -- as alice get dev/token --reveal
restore; sed -i '1s#escrow-journal/2#escrow-journal/3#' escrow.journal; fresh
refused 3 'escrow.journal: line 1: .*not escrow-journal/2' "unknown journal format" -- as alice list

# Duplicate JSON keys, invalid UTF-8, NUL.
restore; perl -0pi -e 's/\n  "format": "escrow-vault\/2",/\n  "format": "escrow-vault\/2",\n  "format": "escrow-vault\/2",/' escrow.vault
refused 3 "escrow.vault: duplicate key at byte" "duplicate JSON keys (head)" -- as alice list
restore; perl -pi -e 's/"tier":"standard"/"tier":"standard","tier":"x"/ if $. == 6' escrow.journal; fresh
refused 3 "escrow.journal: line 6: duplicate key at byte" "duplicate JSON keys (journal)" -- as alice list
restore; perl -pi -e 's/"purpose":"test"/"purpose":"t\xff\xfest"/' escrow.journal; fresh
refused 3 "escrow.journal: line 6: invalid UTF-8 at byte" "invalid UTF-8 in the journal" -- as alice list
restore; perl -0pi -e 's/"journal": \{/"jo\xff\xfeurnal": {/' escrow.vault
refused 3 "escrow.vault: invalid UTF-8 at byte" "invalid UTF-8 in the head" -- as alice list
restore; perl -pi -e 's/"secret":"dev\/token"/"secret":"dev\/to\\u0000ken"/' escrow.journal; fresh
refused 3 "escrow.journal: line 6: .*NUL" "NUL in a secret name in the journal" -- as alice list

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
cp escrow.vault good.vault; cp escrow.journal good.journal; cp escrow.keys good.keys; rm -rf good.state; cp -r state good.state
# (escrow-vault/2: list, show and verify are public reads that load no identity; grants needs one.)
expect 0 "the right passphrase opens erin's identity" -- env ESCROW_PASSPHRASE_FILE="$WORK/right.pass" "$ESCROW" --identity erin.id grants
refused 4 "erin.id: wrong passphrase" "wrong passphrase" -- env ESCROW_PASSPHRASE_FILE="$WORK/wrong.pass" "$ESCROW" --identity erin.id grants

mkid mallory
refused 4 "mallory \(.*\) is not a member of this vault" "non-member identity" -- as mallory grants
refused 4 "is not a member of this vault" "non-member reveal" -- as mallory get dev/token --reveal
as alice member remove dave >/dev/null
cp escrow.vault good.vault; cp escrow.journal good.journal; cp escrow.keys good.keys; rm -rf good.state; cp -r state good.state
refused 4 "dave was removed from this vault on" "removed member's identity" -- as dave grants
refused 4 "dave was removed" "removed member's reveal" -- as dave get dev/token --reveal

# A member outside the secret's environment: denied, and the denial is journaled.
denied 4 "get: dev/token: bob may not read v1: bob is not assigned to the dev environment" "member outside the environment" -- as bob get dev/token --reveal
denied 4 "exec: dev/token: bob may not read v1: bob is not assigned to the dev environment" "member outside the environment (exec)" -- as bob exec --set X=dev/token -- true
expect 0 "show is a public read on escrow-vault/2 (no value, nothing written)" -- as bob show dev/token

refused 2 "get: refusing to print a secret value without --reveal" "get without --reveal" -- as alice get prod/db

# No value anywhere on disk.
if grep -rqa -e 'pr0d-db-Value' -e 'dev-t0ken-Value' --exclude='*.value' --exclude='.err' . ; then
  die "a value reached a file"
else
  pass "no value in any file"
fi
finish
