#!/usr/bin/env bash
# Git repository growth per change, and vault bytes per secret, of a real team vault (issue 12
# target 7; docs/PERFORMANCE.md "bytes per secret and git growth").
#
#   bench/git_growth.sh PATH_TO_ESCROW [SECRETS] [CHANGES] [--keep]
#
# Made with the escrow binary in a git work tree: alice (admin) adds SECRETS secrets (default
# 20) with custodians bob, carol, dave (2 of 3) and shares them in bulk with erin, frank, grace
# (5 standing readers with ci, the rotator); one commit. Then CHANGES writes (default 1,000), each committed:
# rotations, one secret at a time, round robin (each rotation keeps 2 versions, retires the
# third). `git gc` before and after; the growth of .git (du) divided by CHANGES.
# Prints one JSON document on stdout.
set -euo pipefail
ESCROW=${1:?usage: $0 PATH_TO_ESCROW [SECRETS] [CHANGES] [--keep]}
ESCROW=$(cd "$(dirname "$ESCROW")" && pwd)/$(basename "$ESCROW")
SECRETS=${2:-20}
CHANGES=${3:-1000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/escrow-git-growth-XXXXXX")
[ "${4:-}" = --keep ] || trap 'rm -rf "$WORK"' EXIT
export HOME=$WORK XDG_STATE_HOME=$WORK/state XDG_CONFIG_HOME=$WORK/config ESCROW_KDF=fast NO_COLOR=1
unset ESCROW_VAULT ESCROW_IDENTITY ESCROW_IDENTITY_DATA ESCROW_NOW ESCROW_PASSPHRASE_FILE || true
git config --global user.name bench
git config --global user.email bench@example.invalid
git config --global init.defaultBranch main
git config --global gc.auto 0
cd "$WORK"
for m in alice bob carol dave erin frank grace ci; do
  "$ESCROW" identity new --name "$m" --no-passphrase --out "$m.id" >/dev/null
  "$ESCROW" --identity "$m.id" identity show --public > "$m.pub"
done
git init -q repo
cd repo
e() { "$ESCROW" --identity "$WORK/$1.id" "${@:2}"; }
e alice init >/dev/null
for m in bob carol dave; do e alice member add "$WORK/$m.pub" --role approver --role requester --env prod >/dev/null; done
for m in erin frank grace; do e alice member add "$WORK/$m.pub" --role requester --env prod >/dev/null; done
e alice member add "$WORK/ci.pub" --role rotator --env prod >/dev/null
for i in $(seq 1 "$SECRETS"); do
  e alice add "prod/s$i" --purpose "bench $i" --custodians bob,carol,dave --threshold 2 \
    --generate len=32,alphabet=base62 >/dev/null
done
for m in erin frank grace; do e alice share 'prod/*' --with "$m" >/dev/null; done
# The second version of each (2 kept versions, as in bench/run's generated vaults).
for i in $(seq 1 "$SECRETS"); do e alice rotate "prod/s$i" >/dev/null; done
git add -A && git commit -qm "vault of $SECRETS secrets"
git gc -q
git_bytes() { du -sb .git | cut -f1; }
files_bytes() { cat escrow.vault escrow.journal escrow.keys | wc -c; }
base_git=$(git_bytes)
base_files=$(files_bytes)
keys_bytes=$(wc -c < escrow.keys)
journal_bytes=$(wc -c < escrow.journal)
start=$(date +%s%N)
for n in $(seq 1 "$CHANGES"); do
  e alice rotate "prod/s$(( (n % SECRETS) + 1 ))" >/dev/null
  git commit -qam "rotate $n"
done
end=$(date +%s%N)
loose_git=$(git_bytes)
git gc -q
after_git=$(git_bytes)
after_files=$(files_bytes)
python3 - "$SECRETS" "$CHANGES" "$base_git" "$after_git" "$loose_git" "$base_files" "$after_files" \
  "$keys_bytes" "$journal_bytes" "$(( (end - start) / 1000000 ))" <<'EOF'
import json, sys
s, c, base_git, after_git, loose_git, base_files, after_files, keys, journal, ms = map(int, sys.argv[1:])
print(json.dumps({
    "secrets": s, "changes": c, "kind": "rotate one secret, one commit each",
    "git_bytes_before": base_git, "git_bytes_after_gc": after_git, "git_bytes_before_gc": loose_git,
    "git_growth_per_change": (after_git - base_git) / c,
    "git_growth_per_1000_changes": (after_git - base_git) * 1000 / c,
    "files_bytes_before": base_files, "files_bytes_after": after_files,
    "files_growth_per_change": (after_files - base_files) / c,
    "vault_bytes_per_secret": base_files / s, "keys_bytes_per_secret": keys / s,
    "journal_bytes_per_secret": journal / s, "changes_ms": ms}, indent=1))
EOF
