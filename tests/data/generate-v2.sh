#!/usr/bin/env bash
# Generates the golden files of format escrow-vault/2 in tests/data/escrow-vault-2/.
#
# Run ONCE, review, commit, and never regenerate: a vault written by this version keeps opening
# in every later version (as escrow-vault-1/, written by generate.sh, which a v2 escrow refuses).
#
#   bash tests/data/generate-v2.sh build/dev/app/escrow
#
# Keys and nonces are random, times are fixed with ESCROW_NOW. tests/cli/golden_v2_test.cpp
# reads the files and the known values listed in escrow-vault-2/README.md.
set -euo pipefail
ESCROW=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
OUT=$(cd "$(dirname "$0")" && pwd)/escrow-vault-2
if [ -e "$OUT/escrow.vault" ]; then
  echo "refusing: $OUT already holds golden files (they are kept forever)" >&2
  exit 2
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export HOME=$WORK XDG_STATE_HOME=$WORK/state XDG_CONFIG_HOME=$WORK/config ESCROW_KDF=fast NO_COLOR=1
export ESCROW_VAULT=$WORK/escrow.vault
unset ESCROW_IDENTITY ESCROW_IDENTITY_DATA ESCROW_PASSPHRASE_FILE ESCROW_AGENT_SOCKET || true

at() { export ESCROW_NOW=$1; }
as() { local who=$1; shift; "$ESCROW" --identity "$WORK/$who.id" "$@"; }
mkid() {
  "$ESCROW" identity new --name "$1" --no-passphrase --out "$WORK/$1.id" >/dev/null
  "$ESCROW" --identity "$WORK/$1.id" identity show --public >"$WORK/$1.pub"
}

at 2026-12-01T09:00:00Z
mkid alice
mkid bob
mkid dave
printf 'golden passphrase\n' >carol.passphrase
ESCROW_PASSPHRASE_FILE=$WORK/carol.passphrase "$ESCROW" identity new --name carol --out "$WORK/carol.id" >/dev/null
"$ESCROW" --identity "$WORK/carol.id" identity show --public >"$WORK/carol.pub"

as alice init >/dev/null
at 2026-12-01T09:05:00Z
as alice member add bob.pub --role approver --role requester --env prod --env staging >/dev/null
as alice member add carol.pub --role approver --env '*' >/dev/null
as alice member add dave.pub --role requester --env dev >/dev/null

at 2026-12-01T10:00:00Z
printf 'golden-prod-db-password' | as alice add prod/db --purpose "orders database (primary)" \
  --custodians bob,carol --threshold 2 --every 30d >/dev/null
printf 'golden-staging-api-key' | as alice add staging/api-key --owner bob --purpose "payment sandbox" >/dev/null
printf 'line one\nline two\n' | as alice add dev/multi/line --purpose "exact bytes, two lines" >/dev/null
printf 'golden-dev-token' | as alice add dev/token --purpose "shared with dave, then dave removed" >/dev/null
as alice share dev/token --with dave >/dev/null

at 2026-12-01T11:00:00Z
as alice add dev/multi/line --update --tier low >/dev/null
as bob custodians staging/api-key --custodians carol --threshold 1 >/dev/null
as alice share prod/db --with bob >/dev/null
as alice member remove dave >/dev/null
as alice verify >/dev/null

mkdir -p "$OUT"
cp escrow.vault escrow.journal escrow.keys alice.id bob.id carol.id dave.id alice.pub bob.pub carol.pub dave.pub \
  carol.passphrase "$OUT/"
echo "wrote $OUT"
