#!/usr/bin/env bash
# The recovery drill of docs/RECOVERY.md, timed: a 1,000-secret escrow-vault/2 vault with 12
# connectors (made by bench/gen.cpp through the history library: every operation authorised and
# applied as the escrow binary does it), backed up, lost, restored on a fresh machine and
# reconnected.
# The recovery time is the figure `escrow restore --reconnect` prints itself; this test fails unless
# every connector verifies. Usage: rto.sh ESCROW ESCROW_BENCH_GEN [SECRETS] [CONNECTORS]
set -euo pipefail
ESCROW=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
GEN=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
SECRETS=${3:-1000}
CONNECTORS=${4:-12}

WORK=$(mktemp -d /tmp/escrow-rto-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export HOME=$WORK XDG_STATE_HOME=$WORK/state-ops XDG_CONFIG_HOME=$WORK/config NO_COLOR=1 ESCROW_KDF=fast
unset ESCROW_IDENTITY ESCROW_IDENTITY_DATA ESCROW_PASSPHRASE_FILE ESCROW_NOW ESCROW_VAULT || true

# The team's vault: 1,000 secrets (2 versions each, 5 readers, 3 custodians), a 5,000-entry journal
# (the operations, then reveal and exec events), 12 connectors whose "systems" hold the current
# values. It must verify before the drill starts: a drill of a vault escrow refuses proves nothing.
"$GEN" vault "$WORK/team" --secrets "$SECRETS" --journal 5000 --connectors "$CONNECTORS" --threads 2 >/dev/null
if ! VERIFY_ERR=$("$ESCROW" --vault "$WORK/team/escrow.vault" verify 2>&1 >/dev/null) || [ -n "$VERIFY_ERR" ]; then
  echo "not ok - the generated vault does not verify cleanly: $VERIFY_ERR" >&2
  exit 1
fi
cp "$WORK/team/ids/alice.id" "$WORK/alice.id"
ops() { "$ESCROW" --identity "$WORK/alice.id" --vault "$WORK/team/escrow.vault" "$@"; }

# 1. Backup (the scheduled job of examples/ci).
mkdir -p "$WORK/offsite"
ops backup --out "$WORK/offsite/team-$(date +%F).backup" >/dev/null
BACKUP=$(ls "$WORK"/offsite/*.backup)

# 2. Loss: the repository and the machine are gone (the three files of escrow-vault/2).
rm -f "$WORK/team/escrow.vault" "$WORK/team/escrow.journal" "$WORK/team/escrow.keys"
rm -rf "$WORK/state-ops"

# 3 + 4. Restore on a fresh machine, and reconnect every integration.
export XDG_STATE_HOME=$WORK/state-new
OUT=$("$ESCROW" --identity "$WORK/alice.id" restore "$BACKUP" --to "$WORK/recovered" --reconnect)
echo "$OUT" | tail -n "$((CONNECTORS + 1))"
LAST=$(echo "$OUT" | tail -n 1)
if ! echo "$LAST" | grep >/dev/null -E "^restored in [0-9]+\.[0-9] s; $CONNECTORS of $CONNECTORS connectors verified$"; then
  echo "not ok - restore did not verify every connector: $LAST" >&2
  exit 1
fi
VERIFY_ERR=$("$ESCROW" --identity "$WORK/alice.id" --vault "$WORK/recovered/escrow.vault" verify 2>&1 >/dev/null)
if [ -n "$VERIFY_ERR" ]; then
  echo "not ok - the restored vault does not verify cleanly: $VERIFY_ERR" >&2
  exit 1
fi
echo "ok - RTO ($SECRETS secrets, $CONNECTORS connectors): $LAST"
if [ -n "${ESCROW_RTO_OUT:-}" ]; then
  echo "$LAST" >"$ESCROW_RTO_OUT"
fi
