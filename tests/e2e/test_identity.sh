#!/usr/bin/env bash
# Identities through the real binary: passphrase file, wrong passphrase (4), tampered file (3),
# group-readable warning, O_EXCL refusal (2), ESCROW_IDENTITY_DATA, --kdf moderate, --public.
# (escrow-vault/2: list, show and verify are public reads that load no identity; the identity
# checks below use `grants`, which needs one.)
source "$(dirname "$0")/lib.sh"
setup

printf 'correct horse battery\n' >pass
printf 'wrong horse\n' >wrong
export ESCROW_PASSPHRASE_FILE=$WORK/pass

expect 0 "identity new with ESCROW_PASSPHRASE_FILE" -- "$ESCROW" identity new --name alice --out "$WORK/alice.id"
[ "$(stat -c %a alice.id)" = 600 ] && pass "identity file is 0600" || die "mode $(stat -c %a alice.id)"
grep -q '"ciphertext"' alice.id && ! grep -q '"secret"' alice.id && pass "keys are encrypted" || die "$(cat alice.id)"
grep -q '"check"' alice.id && pass "passphrase check stored" || die "no check"

before=$(sha256sum <alice.id)
expect 2 "identity new refuses to overwrite (O_EXCL)" -- "$ESCROW" identity new --name alice --out "$WORK/alice.id"
expect_error_line "alice.id: already exists; refusing to overwrite" "overwrite refusal names the file"
[ "$(sha256sum <alice.id)" = "$before" ] && pass "existing identity untouched" || die "identity changed"

expect 0 "identity show" -- "$ESCROW" --identity alice.id identity show
printf '%s\n' "$OUT" | grep >/dev/null -E '^fingerprint: [0-9a-f]{4}( [0-9a-f]{4}){7}$' && pass "fingerprint in groups of 4" || die "$OUT"
expect 0 "identity show --public" -- "$ESCROW" --identity alice.id identity show --public
printf '%s\n' "$OUT" >alice.pub
grep -q '"escrow-public-identity/1"' alice.pub && ! grep -q -e ciphertext -e '"kdf"' alice.pub \
  && pass "public identity holds no private part" || die "$OUT"
expect 0 "identity show --json" -- "$ESCROW" --identity alice.id --json identity show
printf '%s\n' "$OUT" | grep >/dev/null '"passphrase": true' && pass "--json says it is passphrase-protected" || die "$OUT"

expect 0 "init with the passphrase file" -- "$ESCROW" --identity alice.id init
snap=$(snapshot)
expect 4 "wrong passphrase is exit 4" -- env ESCROW_PASSPHRASE_FILE="$WORK/wrong" "$ESCROW" --identity alice.id grants
expect_error_line "alice.id: wrong passphrase" "wrong passphrase names the file"
[ "$(snapshot)" = "$snap" ] && pass "wrong passphrase: files byte-identical" || die "files changed"

# A tampered identity (one character of the ciphertext) is exit 3, not "wrong passphrase".
perl -0pe 's/("ciphertext": ")(.)/$1 . ($2 eq "A" ? "B" : "A")/e' alice.id >tampered.id
chmod 600 tampered.id
expect 3 "tampered identity is exit 3" -- "$ESCROW" --identity tampered.id grants
expect_error_line "tampered.id: the private keys do not decrypt with the right passphrase \(file modified\)" \
  "tampered identity names the problem"
perl -0pe 's/"name": "alice"/"name": "mallory"/' alice.id >renamed.id
expect 3 "identity with a changed name is exit 3" -- "$ESCROW" --identity renamed.id grants
head -c 100 alice.id >truncated.id
expect 3 "truncated identity is exit 3" -- "$ESCROW" --identity truncated.id grants
expect_error_line "truncated.id: .*truncated" "truncated identity names the file"
[ "$(snapshot)" = "$snap" ] && pass "bad identities: files byte-identical" || die "files changed"

# Group-readable: works, with a warning.
chmod 640 alice.id
expect 0 "group-readable identity still works" -- "$ESCROW" --identity alice.id identity show
printf '%s\n' "$ERR" | grep >/dev/null "^escrow: warning: .*alice.id is readable by other users; run chmod 600" \
  && pass "group-readable identity warns" || die "no warning: $ERR"
chmod 600 alice.id
expect 0 "0600 identity" -- "$ESCROW" --identity alice.id identity show
[ -z "$ERR" ] && pass "no warning at 0600" || die "warning: $ERR"

# CI identities: --no-passphrase, and ESCROW_IDENTITY_DATA (nothing on disk).
unset ESCROW_PASSPHRASE_FILE
expect 0 "identity new --no-passphrase" -- "$ESCROW" identity new --name ci --no-passphrase --out "$WORK/ci.id"
grep -q '"secret"' ci.id && ! grep -q '"ciphertext"' ci.id && pass "CI identity is unencrypted" || die "$(cat ci.id)"
"$ESCROW" --identity ci.id identity show --public >ci.pub
ESCROW_PASSPHRASE_FILE=$WORK/pass "$ESCROW" --identity alice.id member add ci.pub --role rotator --env prod >/dev/null
data=$(cat ci.id)
rm ci.id
expect 0 "ESCROW_IDENTITY_DATA opens the vault" -- env ESCROW_IDENTITY_DATA="$data" "$ESCROW" grants
expect 0 "ESCROW_IDENTITY_DATA identity show" -- env ESCROW_IDENTITY_DATA="$data" "$ESCROW" identity show
printf '%s\n' "$OUT" | grep >/dev/null "^name: *ci$" && printf '%s\n' "$OUT" | grep >/dev/null "ESCROW_IDENTITY_DATA" \
  && pass "identity show names ESCROW_IDENTITY_DATA" || die "$OUT"
expect 3 "malformed ESCROW_IDENTITY_DATA is exit 3" -- env ESCROW_IDENTITY_DATA='{"format":' "$ESCROW" grants
expect_error_line "ESCROW_IDENTITY_DATA: " "malformed ESCROW_IDENTITY_DATA names its source"

# --kdf moderate is accepted (not "sensitive": too slow for a test suite).
expect 0 "--kdf moderate" -- env ESCROW_KDF= ESCROW_PASSPHRASE_FILE="$WORK/pass" "$ESCROW" identity new --name mod --kdf moderate --out "$WORK/mod.id"
grep -q '"opslimit": 3' mod.id && grep -q '"memlimit": 268435456' mod.id && pass "moderate limits stored" || die "$(cat mod.id)"
expect 2 "--kdf with an unknown strength is a usage error" -- "$ESCROW" identity new --name x --kdf extreme --no-passphrase --out "$WORK/x.id"
[ ! -e x.id ] && pass "nothing written on a usage error" || die "x.id written"
expect 2 "an invalid member name" -- "$ESCROW" identity new --name "bad name" --no-passphrase --out "$WORK/y.id"
expect_error_line "invalid member name" "invalid name names the rule"
expect 4 "a missing identity file" -- "$ESCROW" --identity "$WORK/none.id" grants
expect_error_line "none.id: no identity file" "missing identity names the file"
expect 2 "no passphrase source and no terminal" -- setsid -w sh -c "'$ESCROW' identity new --name z --out '$WORK/z.id' </dev/null"
finish
