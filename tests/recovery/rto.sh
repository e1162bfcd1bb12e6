#!/usr/bin/env bash
# The recovery drill of docs/RECOVERY.md, timed: a 1,000-secret vault with 12 connectors (made by
# bench/gen.cpp through escrow_core), backed up, lost, restored on a fresh machine and reconnected.
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

# The team's vault: 1,000 secrets (2 versions each, 5 readers, 3 custodians), a 5,000-entry journal,
# 12 connectors whose "systems" hold the current values.
"$GEN" vault "$WORK/team" --secrets "$SECRETS" --journal 5000 --connectors "$CONNECTORS" --threads 2 >/dev/null
cp "$WORK/team/ids/alice.id" "$WORK/alice.id"
ops() { "$ESCROW" --identity "$WORK/alice.id" --vault "$WORK/team/escrow.vault" "$@"; }

# 1. Backup (the scheduled job of examples/ci).
mkdir -p "$WORK/offsite"
ops backup --out "$WORK/offsite/team-$(date +%F).backup" >/dev/null
BACKUP=$(ls "$WORK"/offsite/*.backup)

# 2. Loss: the repository and the machine are gone.
rm -f "$WORK/team/escrow.vault" "$WORK/team/escrow.journal"
rm -rf "$WORK/state-ops"

# 3 + 4. Restore on a fresh machine, and reconnect every integration.
export XDG_STATE_HOME=$WORK/state-new
OUT=$("$ESCROW" --identity "$WORK/alice.id" restore "$BACKUP" --to "$WORK/recovered" --reconnect)
echo "$OUT" | tail -n "$((CONNECTORS + 1))"
LAST=$(echo "$OUT" | tail -n 1)
if ! echo "$LAST" | grep -Eq "^restored in [0-9]+\.[0-9] s; $CONNECTORS of $CONNECTORS connectors verified$"; then
  echo "not ok - restore did not verify every connector: $LAST" >&2
  exit 1
fi
"$ESCROW" --identity "$WORK/alice.id" --vault "$WORK/recovered/escrow.vault" verify >/dev/null
echo "ok - RTO ($SECRETS secrets, $CONNECTORS connectors): $LAST"
if [ -n "${ESCROW_RTO_OUT:-}" ]; then
  echo "$LAST" >"$ESCROW_RTO_OUT"
fi
