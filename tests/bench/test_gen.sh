#!/usr/bin/env bash
# escrow-bench-gen (bench/gen.cpp) writes escrow-vault/2 vaults the escrow binary accepts, in the
# shape its header documents: the whole history replays (`escrow verify`), the standing readers
# read the current value and nobody else does, custodians 2 of 3, two versions, --due overdue
# secrets, --connectors systems holding the current values, henry's request flow, erin's
# passphrase-protected identity, newbie outside the vault; and its read/append timings run on it.
# Usage: test_gen.sh ESCROW ESCROW_BENCH_GEN
set -euo pipefail
ESCROW=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
GEN=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
WORK=$(mktemp -d /tmp/escrow-bench-gen-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export HOME=$WORK XDG_STATE_HOME=$WORK/state XDG_CONFIG_HOME=$WORK/config NO_COLOR=1
unset ESCROW_IDENTITY ESCROW_IDENTITY_DATA ESCROW_PASSPHRASE_FILE ESCROW_VAULT ESCROW_LOCK_WAIT || true
NOW=1767225600
export ESCROW_NOW=$((NOW + 3600))
fail() { echo "not ok - $*" >&2; exit 1; }
as() { local dir=$1 who=$2; shift 2; "$ESCROW" --vault "$dir/escrow.vault" --identity "$dir/ids/$who.id" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# A small vault: 12 secrets, 4 of them due, 3 extra members, a journal of 300 entries.
"$GEN" vault "$WORK/v" --secrets 12 --journal 300 --due 4 --extra-members 3 --threads 2 --now "$NOW" > gen.json
[ "$(json 'd["format"], d["journal_entries"], d["secrets"], d["members"], d["key_lines"]' < gen.json)" = \
  "escrow-vault/2 300 12 12 156" ] || fail "generator summary: $(cat gen.json)"
grep -q '"format": "escrow-vault/2"' v/escrow.vault || fail "the head file is not escrow-vault/2"
[ "$(wc -l < v/names.txt)" = 12 ] || fail "names.txt"
for f in alice bob carol dave erin frank grace henry ci m00000 m00002 newbie erin-kdf; do
  [ -f "v/ids/$f.id" ] && [ -f "v/ids/$f.pub" ] || fail "missing identity $f"
done

# The whole history replays from its bytes, every key line checked, nothing left over.
"$ESCROW" --vault v/escrow.vault --json verify > verify.json || fail "verify refused the generated vault"
[ "$(json 'd["ok"], d["journal_entries"], d["secrets"], d["members"], d["warnings"], d["key_lines"]' < verify.json)" = \
  "True 300 12 12 0 156" ] || fail "verify: $(cat verify.json)"

# --due 4: exactly the first 4 secrets are overdue; each has v2 current and v1 previous, 2 of 3.
"$ESCROW" --vault v/escrow.vault list > list.txt
[ "$(grep -c ' overdue ' list.txt)" = 4 ] || fail "expected 4 overdue secrets: $(cat list.txt)"
for i in 1 2 3 4; do grep "$(sed -n "${i}p" v/names.txt) " list.txt | grep >/dev/null ' overdue ' || fail "secret $i not overdue"; done
NAME=$(sed -n 7p v/names.txt)
"$ESCROW" --vault v/escrow.vault show "$NAME" > show.txt
grep -q '2 of 3: bob, carol, dave' show.txt || fail "custodians: $(cat show.txt)"
grep -Eq '^\s+v2\s+current\s.*\bci\b' show.txt || fail "v2 current by ci: $(cat show.txt)"
grep -Eq '^\s+v1\s+previous\s.*\berin\b' show.txt || fail "v1 previous by erin: $(cat show.txt)"

# The five standing readers read one current value; v1 is another value; nobody else reads it.
VALUE=$(as v erin get "$NAME" --reveal)
[ -n "$VALUE" ] || fail "erin read an empty value"
for m in ci alice frank grace; do
  [ "$(as v "$m" get "$NAME" --reveal)" = "$VALUE" ] || fail "$m does not read the current value"
done
V1=$(as v frank get "$NAME" --version 1 --reveal)
[ -n "$V1" ] && [ "$V1" != "$VALUE" ] || fail "v1 is not a distinct readable value"
for m in bob henry m00001; do
  rc=0; as v "$m" get "$NAME" --reveal >/dev/null 2>err.txt || rc=$?
  [ $rc = 4 ] || fail "$m read the value without access (exit $rc)"
done
rc=0; as v newbie get "$NAME" --reveal >/dev/null 2>err.txt || rc=$?
[ $rc = 4 ] || fail "newbie (not a member) got exit $rc"
[ "$(ESCROW_PASSPHRASE_FILE=v/ids/passphrase as v erin-kdf get "$NAME" --reveal)" = "$VALUE" ] \
  || fail "erin's passphrase-protected identity does not read the value"

# henry, a requester without standing access: request, two custodians approve, he reads.
ID=$(as v henry --json request "$NAME" --ttl 1h --why 'bench: incident 812' | json 'd["id"]')
as v bob approve "$NAME" "$ID" >/dev/null
as v carol approve "$NAME" "$ID" >/dev/null
[ "$(as v henry get "$NAME" --reveal)" = "$VALUE" ] || fail "henry's approved request does not read the value"

# The in-process timings run on it, and what append journals still verifies.
"$GEN" read v --count 2 --now "$NOW" | json 'd["first_open_ms"] > 0 and d["open_ms"] > 0 and d["one_secret_ms"] > 0' \
  | grep >/dev/null -x True || fail "read timings"
"$GEN" append v --count 3 --now "$NOW" | json 'd["append_ms"] > 0 and d["floor_ms"] > 0' | grep >/dev/null -x True || fail "append timings"
"$ESCROW" --vault v/escrow.vault --json verify | json 'd["ok"], d["warnings"]' | grep >/dev/null -x 'True 0' \
  || fail "the vault does not verify after the appended events"
[ ! -e v/floor.journal ] && ! ls -d v/bench-state.* >/dev/null 2>&1 || fail "read/append left files behind"

# --connectors 3 (the recovery drill): secret i bound to sync-(i mod 3 + 1), whose system holds
# the current value; the journal holds at least the operations.
"$GEN" vault "$WORK/c" --secrets 6 --journal 1 --connectors 3 --threads 2 --now "$NOW" > genc.json
"$ESCROW" --vault c/escrow.vault --json verify | json 'd["ok"], d["warnings"]' | grep >/dev/null -x 'True 0' || fail "--connectors vault"
i=0
while read -r name; do
  system=c/systems/sync-0$((i % 3 + 1))/$name
  [ -f "$system" ] || fail "no system value for $name"
  [ "$(cat "$system")" = "$(as c erin get "$name" --reveal)" ] || fail "$system does not hold the current value"
  "$ESCROW" --vault c/escrow.vault show "$name" | grep >/dev/null "sync-0$((i % 3 + 1))" || fail "$name is not bound to sync-0$((i % 3 + 1))"
  i=$((i + 1))
done < c/names.txt

# A generated file changed afterwards is caught (the test can fail): one key line's bytes.
cp -a c c2
python3 - c2/escrow.keys <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
i = next(i for i, l in enumerate(lines) if ":v#" in l)
k, v = lines[i].split(": ", 1)
v = v[:2] + ("B" if v[2] != "B" else "C") + v[3:]
lines[i] = k + ": " + v
open(p, "w").write("\n".join(lines))
PY
rc=0; XDG_STATE_HOME=$WORK/state2 "$ESCROW" --vault c2/escrow.vault verify >/dev/null 2>&1 || rc=$?
[ $rc = 3 ] || fail "a modified key line was not caught (exit $rc)"

# The generator never overwrites a vault.
rc=0; "$GEN" vault "$WORK/c" --secrets 1 >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "the generator wrote over an existing vault (exit $rc)"
echo "ok - escrow-bench-gen writes escrow-vault/2 vaults escrow verifies and reads"
