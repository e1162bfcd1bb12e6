#!/usr/bin/env bash
# Writes the seed inputs of the fuzz targets into tests/fuzz/corpus/<target>/seed-*: the golden
# files (tests/data/escrow-vault-1) and their parts, plus a small vault made now with a
# connector, a request and an approval (so the fuzzer starts from every kind of record).
# Files not named seed-* (crashes found, inputs worth keeping) are left alone.
#
#   bash tests/fuzz/make_seeds.sh build/dev/app/escrow
set -euo pipefail
ESCROW=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
GOLDEN=$HERE/../data/escrow-vault-1
CORPUS=$HERE/corpus
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

seed() { # target name < bytes
  mkdir -p "$CORPUS/$1"
  cat >"$CORPUS/$1/seed-$2"
}
rm -f "$CORPUS"/*/seed-*

# A small vault: alice (golden, so the vault target can re-sign it), bob and dave, a connector,
# a secret with a custodian, a request approved by that custodian.
export HOME=$WORK XDG_STATE_HOME=$WORK/state XDG_CONFIG_HOME=$WORK/config ESCROW_KDF=fast NO_COLOR=1
export ESCROW_VAULT=$WORK/escrow.vault ESCROW_NOW=2026-03-01T09:00:00Z
unset ESCROW_IDENTITY ESCROW_IDENTITY_DATA ESCROW_PASSPHRASE_FILE || true
as() { local who=$1; shift; "$ESCROW" --identity "$GOLDEN/$who.id" "$@"; }
as alice init >/dev/null
seed vault fresh.vault <"$ESCROW_VAULT"
as alice member add "$GOLDEN/bob.pub" --role approver --env prod >/dev/null
as alice member add "$GOLDEN/dave.pub" --role requester --env prod >/dev/null
as alice connector add app --env prod --update 'cat >/dev/null' --verify 'true' >/dev/null
printf 'seed-value' | as alice add prod/api --purpose "fuzz seed" --custodians bob --threshold 1 --every 30d \
  --connector app >/dev/null
request=$(as dave request prod/api --why "fuzz seed" --ttl 1h)
as bob approve prod/api "$request" >/dev/null
seed vault small.vault <"$ESCROW_VAULT"
seed vault golden.vault <"$GOLDEN/escrow.vault"
for f in "$CORPUS"/vault/seed-*; do seed vault_lazy "${f##*/seed-}" <"$f"; done
seed canonical vault.json <"$GOLDEN/escrow.vault"

# Backups (escrow-backup/2) of the small vault, to the admin and to two recipients.
as alice backup --out "$WORK/small.backup" >/dev/null
seed backup small.backup <"$WORK/small.backup"
as alice backup --out "$WORK/two.backup" --to "$GOLDEN/alice.pub" --to "$GOLDEN/bob.pub" >/dev/null
seed backup two-recipients.backup <"$WORK/two.backup"
printf 'escrow-backup-payload/2\nhead 0\n\njournal 0\n\nkeys 0\n\n' | seed backup payload

# Journals: whole, one line, and the small vault's.
seed journal golden.journal <"$GOLDEN/escrow.journal"
seed journal small.journal <"$WORK/escrow.journal"
head -1 "$GOLDEN/escrow.journal" | seed journal first-line
tail -1 "$WORK/escrow.journal" | seed journal last-line
head -1 "$GOLDEN/escrow.journal" | seed canonical journal-line.json

# Records, each as stored (pretty layout) and on its own.
python3 - "$CORPUS" "$GOLDEN/escrow.vault" "$WORK/escrow.vault" <<'PY'
import json, os, sys
corpus = sys.argv[1]
os.makedirs(os.path.join(corpus, "records"), exist_ok=True)
for tag, path in (("golden", sys.argv[2]), ("small", sys.argv[3])):
    vault = json.load(open(path))
    records = [("policy", vault["policy"])]
    records += [("member-" + k, v) for k, v in vault["members"].items()]
    records += [("connector-" + k, v) for k, v in vault["connectors"].items()]
    records += [("secret-" + k.replace("/", "-"), v) for k, v in vault["secrets"].items()]
    for name, record in records:
        with open(os.path.join(corpus, "records", f"seed-{tag}-{name}.json"), "w") as out:
            out.write(json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
PY

# Identities: clear, sealed (the golden passphrase, cheap limits), public.
seed identity alice.id <"$GOLDEN/alice.id"
seed identity carol.id <"$GOLDEN/carol.id"
seed identity alice.pub <"$GOLDEN/alice.pub"
seed public_identity alice.pub <"$GOLDEN/alice.pub"
seed public_identity carol.pub <"$GOLDEN/carol.pub"
seed public_identity bob.id <"$GOLDEN/bob.id"
seed canonical carol.id <"$GOLDEN/carol.id"

# Command-line values.
n=0
for d in 30d 90s 15m 4h 2w 3600 1099511627776s; do n=$((n+1)); printf '%s' "$d" | seed duration "$n"; done
n=0
for t in 2026-11-29T20:29:00Z 2026-11-29T21:29:00+01:00 2026-11-29 1764448140 2026-11-29T20:29:00.250z \
  '2026-02-28 23:59:60-00:30' 9999-12-31T23:59:59Z; do n=$((n+1)); printf '%s' "$t" | seed time "$n"; done
n=0
for g in len=32,alphabet=base62 alphabet=hex,len=8 length=4096,alphabet=ascii len=1,alphabet=base64url \
  'cmd=printf %s new-value'; do n=$((n+1)); printf '%s' "$g" | seed generator "$n"; done
n=0
for j in '[]' '{"a":[1,-2,{"b":null}],"c":"\u00e9\ud83d\ude00\n"}' '"aGVsbG8="' '9223372036854775807' \
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]' '{"k": true, "l": false}'; do
  n=$((n+1)); printf '%s' "$j" | seed canonical "$n"
done
printf 'aGVsbG8=' | seed canonical base64
# The small vault's payload, env files and templates.
{ printf 'escrow-backup-payload/2\nhead %s\n' "$(wc -c <"$WORK/escrow.vault")"; cat "$WORK/escrow.vault"
  printf '\njournal %s\n' "$(wc -c <"$WORK/escrow.journal")"; cat "$WORK/escrow.journal"
  printf '\nkeys %s\n' "$(wc -c <"$WORK/escrow.keys")"; cat "$WORK/escrow.keys"; printf '\n'; } | seed backup payload-small
printf '# app\nexport DB_URL=postgres://db\nAPI_KEY=escrow://prod/api\nQUOTED="a\\nb \\$HOME \\"q\\""\nSINGLE='"'"'lit $x'"'"'\r\nTRAIL=v # c\n' \
  | seed env_file app.env
printf 'url: escrow://prod/db@v2\nsee escrow://prod/api.\nkey=escrow://dev/multi/line\n' | seed env_file template
printf 'escrow://staging/api-key@v12' | seed env_file reference
# escrow-vault/2: the keys file and the head file (no binary needed).
python3 "$HERE/make_seeds_v2.py" "$CORPUS"
# escrow-journal/2 entries: the valid and invalid lines of the known-answer vectors.
VECTORS=$HERE/../vectors/entry-v2.json
n=0
while IFS= read -r line; do n=$((n+1)); printf '%s' "$line" | seed history_entry "vector-$n"; done \
  < <(jq -r '.valid[].line, .invalid[].line, .wrong_signer[].line' "$VECTORS")
ls "$CORPUS" | while read -r target; do printf '%s: %s\n' "$target" "$(ls "$CORPUS/$target" | wc -l)"; done
