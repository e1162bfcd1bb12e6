#!/usr/bin/env bash
# escrow import: a .env file, a JSON map, a YAML map (also from stdin, as `sops -d` gives it) and
# a pass store; values never on argv; dry run; duplicates refused or skipped; one secret-add per new
# secret and one import event (escrow-vault/2 has no bulk secret-add; lib/escrow/history/import.hpp).
source "$(dirname "$0")/lib.sh"
setup

init_vault alice
member bob --role requester --env staging
adds() { grep -c '"action":"secret-add","actor"' escrow.journal || true; }
# The head and keys files (a refusal by a member journals a denied event, and changes nothing else).
state_files() { sha256sum "$WORK"/escrow.vault "$WORK"/escrow.keys | sha256sum; }

cat >app.env <<'T'
# exported from the old server
DB_PASSWORD=env-db-pass-1
export API_TOKEN='env-api token 2'
QUOTED="line1\nline2"
T
snap=$(snapshot)
expect 0 "import --dry-run lists what would be added" -- as alice import app.env --env prod --dry-run
printf '%s\n' "$OUT" | grep >/dev/null "prod/API_TOKEN" && printf '%s\n' "$OUT" | grep >/dev/null "3 to add" && pass "dry run lists 3" || die "dry run: $OUT"
[ "$(snapshot)" = "$snap" ] && pass "dry run writes nothing" || die "dry run changed files"
a0=$(adds)
expect 0 "import a .env file" -- as alice import app.env --env prod
[ "$(adds)" = $((a0 + 3)) ] && pass "one secret-add per imported secret" || die "secret-adds $a0 -> $(adds)"
[ "$(tail -n 1 escrow.journal | grep -c '"action":"import"')" = 1 ] && pass "then the import event" || die "last: $(tail -n 1 escrow.journal)"
expect 0 "imported value" -- as alice get prod/API_TOKEN --reveal
[ "$OUT" = "env-api token 2" ] && pass "single-quoted value exact" || die "got '$OUT'"
expect 0 "imported escapes" -- as alice get prod/QUOTED --reveal
[ "$OUT" = "$(printf 'line1\nline2')" ] && pass "double-quoted escapes" || die "got '$OUT'"
expect 0 "show purpose" -- as alice show prod/DB_PASSWORD
printf '%s\n' "$OUT" | grep >/dev/null "imported from app.env (DB_PASSWORD)" && pass "default purpose names the source" || die "show: $OUT"
[ "$(grep -c '"action":"import"' escrow.journal)" = 1 ] && grep '"action":"import"' escrow.journal | grep >/dev/null '"count":3' && pass "one import journal entry" || die "journal: $(grep import escrow.journal)"
grep -q 'env-db-pass-1\|env-api token' escrow.journal escrow.vault escrow.keys && die "a value reached the files" || pass "no value in the vault's files"

snap=$(snapshot)
expect 2 "a duplicate is refused" -- as alice import app.env --env prod
expect_error_line "prod/DB_PASSWORD already exists; nothing was imported" "the refusal names it"
[ "$(snapshot)" = "$snap" ] && pass "files untouched on refusal" || die "files changed"
printf 'DB_PASSWORD=new\nNEW_ONE=fresh-value\n' >more.env
expect 0 "--skip-existing imports the rest" -- as alice import more.env --env prod --skip-existing
printf '%s\n' "$OUT" | grep >/dev/null "skip (exists)" && pass "skips are listed" || die "out: $OUT"
expect 0 "old value kept" -- as alice get prod/DB_PASSWORD --reveal
[ "$OUT" = env-db-pass-1 ] && pass "a skipped secret keeps its value" || die "got $OUT"

# JSON (nested maps give a/b names) and a prefix and owner.
cat >secrets.json <<'T'
{ "stripe": "sk_json_1", "db": { "user": "json-user", "password": "json-pass" } }
T
expect 0 "import JSON with a prefix" -- as alice import secrets.json --env prod --prefix app/
expect 0 "nested JSON name" -- as alice get prod/app/db/password --reveal
[ "$OUT" = json-pass ] && pass "prod/app/db/password" || die "got $OUT"
printf '{"a": 1}' >num.json
expect 2 "a non-string JSON value is refused" -- as alice import num.json --env prod
printf '{"a": "x", "a": "y"}' >dup.json
expect 2 "a key twice in JSON is refused" -- as alice import dup.json --env prod
printf '{"a": "SECRETJSON' >broken.json
expect 2 "broken JSON" -- as alice import broken.json --env prod
printf '%s' "$ERR" | grep >/dev/null SECRETJSON && die "the JSON error quotes a value" || pass "the JSON error never quotes a value"

# YAML, from stdin as `sops -d file.yaml | escrow import - --format yaml` would give it.
cat >s.yaml <<'T'
# decrypted by sops
redis: "yaml-redis-1"
smtp:
  password: yaml smtp pass
T
snap=$(snapshot)
expect 2 "stdin needs --format" -- sh -c "'$ESCROW' --identity alice.id import - --env staging <s.yaml"
[ "$(snapshot)" = "$snap" ] && pass "files untouched" || die "files changed"
state=$(state_files); lines=$(wc -l <escrow.journal)
expect 4 "bob may not add to prod" -- sh -c "'$ESCROW' --identity bob.id import - --env prod --format yaml <s.yaml"
[ "$(state_files)" = "$state" ] && pass "head and keys untouched" || die "files changed"
[ "$(wc -l <escrow.journal)" = $((lines + 1)) ] && tail -n 1 escrow.journal | grep >/dev/null '"action":"secret-add".*"result":"denied"' \
  && pass "the refusal is journaled (a denied secret-add), nothing added" || die "journal: $(tail -n 1 escrow.journal)"
expect 0 "import YAML from stdin" -- sh -c "'$ESCROW' --identity bob.id import - --env staging --format yaml <s.yaml"
expect 0 "YAML nested value" -- as bob get staging/smtp/password --reveal
[ "$OUT" = "yaml smtp pass" ] && pass "staging/smtp/password" || die "got $OUT"
printf 'a: [1, 2]\n' >list.yaml
expect 2 "a YAML list is refused" -- as alice import list.yaml --env prod
printf 'a: "x\n' >broken.yaml
expect 2 "broken YAML" -- as alice import broken.yaml --env prod
expect_error_line "broken.yaml: line" "the YAML error names the line"
printf 'bad name: x\n' >name.yaml
expect 2 "a key that is no valid name is refused" -- as alice import name.yaml --env prod
printf 'EMPTY=\n' >empty.env
expect 2 "an empty value is refused" -- as alice import empty.env --env prod
expect 2 "an unknown environment name" -- as alice import app.env --env 'PROD!'
expect 2 "an unknown format" -- as alice import app.env --env prod --format toml
ln -s app.env link.env
expect 5 "a source that is a symlink is refused" -- as alice import link.env --env prod2

# pass: a real store with a throwaway gpg key.
if command -v gpg >/dev/null && command -v pass >/dev/null; then
  export GNUPGHOME=$WORK/gnupg PASSWORD_STORE_DIR=$WORK/store
  mkdir -m 0700 "$GNUPGHOME"
  trap 'gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$WORK"' EXIT
  gpg --batch --quiet --passphrase '' --quick-gen-key 'escrow e2e <e2e@example.invalid>' future-default default never 2>/dev/null
  fpr=$(gpg --batch --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}')
  command pass init "$fpr" >/dev/null
  printf 'pass-db-secret\nuser: app\nurl: db.internal\n' | command pass insert -m db/password >/dev/null
  printf 'pass-api-secret\n' | command pass insert -m api >/dev/null
  expect 0 "pass dry run decrypts nothing" -- as alice import "$PASSWORD_STORE_DIR" --env ops --dry-run
  printf '%s\n' "$OUT" | grep >/dev/null "ops/db/password" && pass "dry run lists pass entries" || die "out: $OUT"
  # A fake gpg proves the dry run never calls it and that values come through a pipe.
  mkdir fakebin; printf '#!/bin/sh\necho "$@" >>%s/gpg-argv\nexec gpg "$@"\n' "$WORK" >fakebin/gpg; chmod +x fakebin/gpg
  expect 0 "import a pass store" -- as alice import "$PASSWORD_STORE_DIR" --env ops --gpg "$WORK/fakebin/gpg"
  expect 0 "first line of a pass entry" -- as alice get ops/db/password --reveal
  [ "$OUT" = pass-db-secret ] && pass "pass value is the first line" || die "got '$OUT'"
  grep -q 'pass-db-secret\|pass-api-secret' gpg-argv && die "a value reached gpg's argv" || pass "values never on argv"
  [ "$(wc -l <gpg-argv)" = 2 ] && pass "gpg ran once per entry" || die "gpg argv: $(cat gpg-argv)"
  expect 0 "--whole-entry" -- as alice import "$PASSWORD_STORE_DIR" --env ops2 --whole-entry
  expect 0 "whole entry value" -- as alice get ops2/db/password --reveal
  [ "$OUT" = "$(printf 'pass-db-secret\nuser: app\nurl: db.internal')" ] && pass "the whole entry" || die "got '$OUT'"
  snap=$(snapshot)
  expect 1 "a gpg failure imports nothing" -- as alice import "$PASSWORD_STORE_DIR" --env ops3 --gpg false
  expect_error_line "could not decrypt" "the failure names the entry"
  [ "$(snapshot)" = "$snap" ] && pass "files untouched after a gpg failure" || die "files changed"
else
  echo "ok - # SKIP pass import needs gpg and pass"
fi
expect 0 "verify after all imports" -- as alice verify
finish
