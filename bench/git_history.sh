#!/usr/bin/env bash
# The freshness check from git history (issue 9 item 5; docs/PERFORMANCE.md "Git history"):
# a work tree whose vault has COMMITS (default 1,000) first-parent commits, made by the real
# binary (20 secrets added, then rotations, one commit each), and the time of
#   - `escrow verify` in the work tree (the check included) and in a copy outside git (without),
#   - `escrow rotate` of one secret in each (a writer runs the check before writing).
# Usage: bench/git_history.sh PATH_TO_ESCROW [COMMITS] [--keep]
set -euo pipefail
ESCROW=${1:?usage: $0 PATH_TO_ESCROW [COMMITS]}
ESCROW=$(cd "$(dirname "$ESCROW")" && pwd)/$(basename "$ESCROW")
COMMITS=${2:-1000}
WORK=$(mktemp -d /tmp/escrow-git-bench-XXXXXX)
[ "${3:-}" = --keep ] || trap 'rm -rf "$WORK"' EXIT
export HOME=$WORK XDG_STATE_HOME=$WORK/state XDG_CONFIG_HOME=$WORK/config ESCROW_KDF=fast NO_COLOR=1
unset ESCROW_VAULT ESCROW_IDENTITY ESCROW_IDENTITY_DATA ESCROW_NOW || true
git config --global user.name bench; git config --global user.email bench@example.invalid
git config --global init.defaultBranch main
cd "$WORK"
"$ESCROW" identity new --name alice --no-passphrase --out alice.id >/dev/null
git init -q repo
cd repo
e() { "$ESCROW" --identity "$WORK/alice.id" "$@"; }
e init >/dev/null
git add -A && git commit -qm init
n=1
for i in $(seq 1 20); do
  [ "$n" -lt "$COMMITS" ] || break
  e add "prod/s$i" --owner alice --purpose "bench $i" --generate len=32,alphabet=base62 >/dev/null
  git commit -qam "add prod/s$i"; n=$((n + 1))
done
while [ "$n" -lt "$COMMITS" ]; do
  e rotate "prod/s$(( (n % 20) + 1 ))" >/dev/null
  git commit -qam "rotate $n"; n=$((n + 1))
done
echo "commits on the first-parent line: $(git rev-list --first-parent --count HEAD); vault $(wc -c <escrow.vault) bytes, journal $(wc -c <escrow.journal) bytes"
rm -rf "$WORK/plain" && mkdir "$WORK/plain" && cp escrow.vault escrow.journal escrow.keys "$WORK/plain/" 2>/dev/null || cp escrow.vault escrow.journal "$WORK/plain/"
time_ms() { # median of 5 runs, milliseconds
  local runs=()
  for _ in 1 2 3 4 5; do
    local start end
    start=$(date +%s%N); "$@" >/dev/null; end=$(date +%s%N)
    runs+=($(( (end - start) / 1000000 )))
  done
  printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p
}
echo "escrow verify, in the work tree (with the check): $(time_ms e verify) ms"
echo "escrow verify, outside git (no check):             $(cd "$WORK/plain" && time_ms e verify) ms"
echo "git log --first-parent -p -U0 of the vault alone:  $(time_ms git log --first-parent --reverse --format=%H -p -U0 --no-textconv -- escrow.vault) ms"
