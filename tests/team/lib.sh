# Shared helpers for the team tests (issue 9): REAL git, no mocks. A bare repository stands for
# the team's remote; each member has a clone, a home (its own ~/.gitconfig), an identity and a
# state folder (XDG_STATE_HOME: this machine's pins and history cache) of their own.
# Source it, then call setup.
set -euo pipefail

ESCROW=${1:?usage: $0 PATH_TO_ESCROW}
ESCROW=$(cd "$(dirname "$ESCROW")" && pwd)/$(basename "$ESCROW")
source "$(dirname "${BASH_SOURCE[0]}")/../lib/assert.sh"

setup() {
  WORK=$(mktemp -d /tmp/escrow-team-XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
  cd "$WORK"
  # git runs `escrow diff --textconv` and `escrow merge` by name: escrow must be on PATH.
  mkdir -p "$WORK/bin" && ln -s "$ESCROW" "$WORK/bin/escrow"
  export PATH="$WORK/bin:$PATH"
  export ESCROW_KDF=fast NO_COLOR=1 ESCROW_LOCK_WAIT=10
  unset ESCROW_VAULT ESCROW_IDENTITY ESCROW_IDENTITY_DATA ESCROW_PASSPHRASE_FILE ESCROW_NOW \
        GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE || true
  export GIT_CONFIG_NOSYSTEM=1
  git init -q --bare -b main "$WORK/remote.git"
}

# as MEMBER CMD...: runs CMD as that member (home, state, identity), in their clone when it exists.
as() {
  local who=$1; shift
  ( export HOME="$WORK/home-$who" XDG_STATE_HOME="$WORK/state-$who" XDG_CONFIG_HOME="$WORK/home-$who/.config"
    export ESCROW_IDENTITY="$WORK/$who.id"
    if [ -d "$WORK/$who" ]; then cd "$WORK/$who"; fi
    "$@" )
}
# e MEMBER ARGS...: escrow as that member in their clone.
e() { local who=$1; shift; as "$who" escrow "$@"; }

# A member: home with a git identity, an escrow identity (no passphrase), its public file.
person() {
  local who=$1
  mkdir -p "$WORK/home-$who"
  HOME="$WORK/home-$who" git config --global user.name "$who"
  HOME="$WORK/home-$who" git config --global user.email "$who@example.invalid"
  HOME="$WORK/home-$who" git config --global init.defaultBranch main
  "$ESCROW" identity new --name "$who" --no-passphrase --out "$WORK/$who.id" >/dev/null
  "$ESCROW" --identity "$WORK/$who.id" identity show --public >"$WORK/$who.pub"
}

# clone MEMBER [DIR]: the member clones the team's repository (into $WORK/MEMBER by default).
clone() { as "$1" git clone -q "$WORK/remote.git" "${2:-$WORK/$1}"; }

# alice's second clone ($WORK/alice-2, her own state folder and identity), set up for escrow;
# a2 CMD... runs CMD there as alice.
a2() { (cd "$WORK/alice-2" && HOME="$WORK/home-alice" XDG_STATE_HOME="$WORK/state-alice" ESCROW_IDENTITY="$WORK/alice.id" "$@"); }
second_alice_clone() { clone alice "$WORK/alice-2"; a2 escrow git-setup >/dev/null; }

# The team: alice (genesis admin) creates the vault in her clone, publishes it; bob is a member.
start_team() {
  person alice; person bob
  clone alice
  e alice init >/dev/null
  e alice member add "$WORK/bob.pub" --role approver --role requester --env prod >/dev/null
  as alice git add -A
  as alice git commit -qm "escrow: a vault for the team"
  as alice git push -q -u origin main
}

# The bytes of a member's escrow files (and of HEAD), to prove a refusal changed nothing.
files_of() { (cd "$WORK/$1" && sha256sum escrow.vault escrow.journal escrow.keys && git rev-parse HEAD && git status --porcelain) | sha256sum; }


# Waits for the next whole second: entries carry whole seconds, so two settlements compared by
# "made last" are made a second apart (two in one second are ordered by their hashes).
next_second() { local s; s=$(date +%s); while [ "$(date +%s)" = "$s" ]; do sleep 0.1; done; }
# Whether the last command's stderr holds exactly one error line.
one_error_line() { test "$(printf '%s\n' "$ERR" | grep -c '^escrow: error:')" -eq 1; }
