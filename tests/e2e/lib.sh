# Shared helpers for end-to-end tests: source it, then call setup.
# Each test drives the real binary ($ESCROW, from $1) in a fresh temp directory.
set -euo pipefail

ESCROW=${1:?usage: $0 PATH_TO_ESCROW}
ESCROW=$(cd "$(dirname "$ESCROW")" && pwd)/$(basename "$ESCROW")
source "$(dirname "${BASH_SOURCE[0]}")/../lib/assert.sh"

setup() {
  WORK=$(mktemp -d /tmp/escrow-e2e-XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
  cd "$WORK"
  export HOME=$WORK XDG_STATE_HOME=$WORK/state XDG_CONFIG_HOME=$WORK/config
  export ESCROW_KDF=fast NO_COLOR=1 ESCROW_VAULT=$WORK/escrow.vault ESCROW_LOCK_WAIT=10
  unset ESCROW_IDENTITY ESCROW_IDENTITY_DATA ESCROW_PASSPHRASE_FILE ESCROW_NOW || true
}

# escrow as MEMBER ARGS... (identity file MEMBER.id)
as() { local who=$1; shift; "$ESCROW" --identity "$WORK/$who.id" "$@"; }

mkid() {
  "$ESCROW" identity new --name "$1" --no-passphrase --out "$WORK/$1.id" >/dev/null
  "$ESCROW" --identity "$WORK/$1.id" identity show --public >"$WORK/$1.pub"
}

# Genesis admin alice plus members: member NAME --role R --env E ...
init_vault() { mkid "${1:-alice}"; as "${1:-alice}" init >/dev/null; }
member() { local name=$1; shift; mkid "$name"; as alice member add "$WORK/$name.pub" "$@" >/dev/null; }

# Fails unless $ERR is a single "escrow: error:" line (plus optional hints) matching the pattern.
expect_error_line() {
  local pattern=$1 what=$2
  if printf '%s\n' "$ERR" | grep -v '^escrow: hint:' | grep >/dev/null . \
     && [ "$(printf '%s\n' "$ERR" | grep -vc '^escrow: hint:')" -eq 1 ] \
     && printf '%s\n' "$ERR" | sed -n 1p | grep >/dev/null -E "^escrow: error: .*$pattern"; then
    pass "$what"
  else
    die "$what: stderr was: $ERR"
  fi
}

# The three files of escrow-vault/2 (a missing one hashes as missing).
snapshot() { sha256sum "$WORK"/escrow.vault "$WORK"/escrow.journal "$WORK"/escrow.keys 2>/dev/null | sha256sum; }

