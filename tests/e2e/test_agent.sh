#!/usr/bin/env bash
# escrow agent: one passphrase for a session. Socket and folder permissions, commands that ask
# no passphrase while it runs, a second agent refused, the idle timeout, `agent lock`, the
# daemonising default, and a refusal for another uid (SO_PEERCRED) when run as root.
source "$(dirname "$0")/lib.sh"
setup

export XDG_RUNTIME_DIR=$WORK/run
mkdir -m 0700 "$XDG_RUNTIME_DIR"
SOCK=$XDG_RUNTIME_DIR/escrow/agent.sock
AGENT_PID=
stop_agent() { if [ -n "$AGENT_PID" ]; then kill "$AGENT_PID" 2>/dev/null || true; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=; fi; }
trap 'stop_agent; rm -rf "$WORK"' EXIT
wait_for() { for _ in $(seq 1 100); do [ -S "$SOCK" ] && return 0; sleep 0.1; done; return 1; }
wait_gone() { for _ in $(seq 1 100); do [ -e "$SOCK" ] || return 0; sleep 0.1; done; return 1; }

# dave holds a passphrase-protected identity and is a custodian of prod/db.
printf 'correct horse battery staple\n' >"$WORK/pp"
init_vault alice
member bob --role requester --env prod
ESCROW_PASSPHRASE_FILE=$WORK/pp "$ESCROW" identity new --name dave --out "$WORK/dave.id" >/dev/null
"$ESCROW" --identity "$WORK/dave.id" identity show --public >"$WORK/dave.pub"
as alice member add "$WORK/dave.pub" --role approver --env prod >/dev/null
member carol --role approver --env prod
printf 'pg-secret-value' | as alice add prod/db --owner dave --purpose database --custodians dave,carol --threshold 1 >/dev/null
id=$(as bob request prod/db --ttl 1h --why "incident 7")

# Without an agent and without a terminal, dave cannot unlock: this is what the agent changes.
# (escrow-vault/2: list and show are public reads that unlock no identity, so the checks of the
# identity use get.)
expect 4 "without an agent, get needs dave's passphrase" -- as dave get prod/db --reveal
expect 0 "list unlocks no identity (a public read)" -- as dave list
expect 2 "an agent for a --no-passphrase identity is refused" -- as alice agent --foreground
expect_error_line "has no passphrase" "the refusal says why"
[ -e "$SOCK" ] && die "the refused agent left a socket" || pass "no socket left by the refused agent"
expect 2 "--timeout needs a unit" -- as dave agent --foreground --timeout 5
expect_error_line "--timeout" "a bare number is refused with one line"

ESCROW_PASSPHRASE_FILE=$WORK/pp "$ESCROW" --identity "$WORK/dave.id" agent --foreground --timeout 60s 2>"$WORK/agent.log" &
AGENT_PID=$!
wait_for && pass "the agent listens on \$XDG_RUNTIME_DIR/escrow/agent.sock" || die "no socket; log: $(cat "$WORK/agent.log")"
[ "$(stat -c %a "$XDG_RUNTIME_DIR/escrow")" = 700 ] && pass "socket folder is 0700" || die "folder mode $(stat -c %a "$XDG_RUNTIME_DIR/escrow")"
[ "$(stat -c %a "$SOCK")" = 600 ] && pass "socket is 0600" || die "socket mode $(stat -c %a "$SOCK")"
[ "$(stat -c %u "$SOCK")" = "$(id -u)" ] && pass "socket is ours" || die "socket owner"

expect 0 "list asks no passphrase with the agent" -- as dave list
printf '%s\n' "$OUT" | grep >/dev/null prod/db && pass "list works through the agent" || die "list: $OUT"
expect 0 "get asks no passphrase with the agent" -- as dave get prod/db --reveal
[ "$OUT" = pg-secret-value ] && pass "get opens the data key through the agent" || die "get: $OUT"
expect 0 "exec asks no passphrase with the agent" -- as dave exec --set V=prod/db -- sh -c 'test "$V" = pg-secret-value && echo same'
[ "$OUT" = same ] && pass "exec got the value" || die "exec: $OUT"
expect 0 "approve asks no passphrase with the agent (opens the share, signs)" -- as dave approve prod/db "$id"
expect 0 "bob's grant works after dave's approval" -- as bob get prod/db --reveal
[ "$OUT" = pg-secret-value ] && pass "the share re-sealed through the agent is right" || die "bob got: $OUT"
expect 0 "the journal and vault signed through the agent verify" -- as alice verify
expect 0 "audit verify" -- as alice audit verify
expect 0 "agent status names the identity" -- as dave agent status
printf '%s\n' "$OUT" | grep >/dev/null "agent for dave" && pass "status: $OUT" || die "status: $OUT"
grep -q 'pg-secret-value\|correct horse' "$WORK/agent.log" && die "agent log holds a secret" || pass "agent log holds no secret"

snap=$(snapshot)
expect 5 "a second agent on the same socket is refused" -- as dave agent --foreground
expect_error_line "already running" "the refusal says an agent is running"
[ "$(snapshot)" = "$snap" ] && pass "files untouched" || die "files changed"

mkdir -m 0755 "$WORK/open"
expect 5 "a socket folder others can enter is refused" -- env ESCROW_AGENT_SOCK="$WORK/open/a.sock" "$ESCROW" --identity "$WORK/dave.id" agent --foreground
expect_error_line "unsafe folder" "the refusal names the unsafe folder"

# Another uid: refused by the folder's mode, and (folder opened on purpose) by SO_PEERCRED.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && command -v useradd >/dev/null; then
  id escrow-e2e-other >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin escrow-e2e-other
  other=$(id -u escrow-e2e-other)
  chmod 0711 "$WORK" "$XDG_RUNTIME_DIR"
  as_other() { setpriv --reuid="$other" --regid="$other" --clear-groups env HOME=/nonexistent ESCROW_AGENT_SOCK="$SOCK" "$@"; }
  expect 1 "another uid cannot reach the 0700 folder" -- as_other "$ESCROW" agent status
  chmod 0711 "$XDG_RUNTIME_DIR/escrow"; chmod 0666 "$SOCK"
  expect 1 "escrow run by another uid ignores a socket it does not own" -- as_other "$ESCROW" agent status
  # A raw client as the other uid reaches the agent itself: SO_PEERCRED must refuse it.
  expect 0 "a raw connection by another uid" -- as_other python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
data = b""
while True:  # the reply may arrive in several pieces (length, then body): read to the end
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data[4:].decode(errors="replace"))' "$SOCK"
  case "$OUT" in E*"serves uid $(id -u) only"*) pass "the agent answers another uid with a refusal only: $OUT" ;; *) die "raw reply: $OUT" ;; esac
  grep -q "refused a connection from uid $other" "$WORK/agent.log" && pass "the agent logged the refusal of uid $other" || die "agent log: $(cat "$WORK/agent.log")"
  expect 0 "the agent still serves its own uid" -- as dave get prod/db --reveal
  chmod 0700 "$XDG_RUNTIME_DIR/escrow" "$WORK" "$XDG_RUNTIME_DIR"; chmod 0600 "$SOCK"
else
  echo "ok - # SKIP another-uid refusal needs root, setpriv and useradd"
fi

expect 0 "agent lock" -- as dave agent lock
wait_gone && pass "the socket is removed after lock" || die "socket still there"
wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
grep -q "agent stopped: locked" "$WORK/agent.log" && pass "the agent exited on lock" || die "log: $(cat "$WORK/agent.log")"
expect 4 "after lock, get needs the passphrase again" -- as dave get prod/db --reveal
expect 0 "agent lock with no agent is not an error" -- as dave agent lock
printf '%s\n' "$OUT" | grep >/dev/null "no agent was running" && pass "and says so" || die "lock: $OUT"

# The idle timeout.
ESCROW_PASSPHRASE_FILE=$WORK/pp "$ESCROW" --identity "$WORK/dave.id" agent --foreground --timeout 2s 2>"$WORK/agent.log" &
AGENT_PID=$!
wait_for || die "no socket for the timeout agent"
expect 0 "used within the timeout" -- as dave get prod/db --reveal
sleep 3.5
wait_gone && pass "the idle agent removed its socket" || die "socket still there after the timeout"
wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
grep -q "agent stopped: idle timeout" "$WORK/agent.log" && pass "the agent exited on its idle timeout" || die "log: $(cat "$WORK/agent.log")"
expect 4 "after the timeout, get needs the passphrase" -- as dave get prod/db --reveal

# The default daemonises and returns.
expect 0 "escrow agent detaches" -- env ESCROW_PASSPHRASE_FILE="$WORK/pp" "$ESCROW" --identity "$WORK/dave.id" agent --timeout 60s
daemon=$(printf '%s\n' "$OUT" | sed -n 's/.*(pid \([0-9]*\)).*/\1/p')
[ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null && pass "the daemon runs (pid $daemon)" || die "agent output: $OUT"
expect 0 "get through the daemon" -- as dave get prod/db --reveal
expect 0 "agent lock stops the daemon" -- as dave agent lock
for _ in $(seq 1 50); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon" 2>/dev/null && die "daemon still running" || pass "the daemon exited"
[ -e "$SOCK" ] && die "daemon socket left behind" || pass "the daemon removed its socket"
finish
