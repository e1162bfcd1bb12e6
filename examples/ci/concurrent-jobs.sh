#!/bin/sh
# Concurrent CI jobs against one vault in git, end to end on this machine: two scheduled rotation
# jobs (rotate-due.sh) and a deploy job that reads the secret (read-job.sh), all three started at
# the same moment, each in its own clone with its own state folder — as three CI runners would.
#
# What it shows (docs/TEAM.md "CI"):
#   - git is the lock for rotation: exactly one rotation job pushes the pending version first and
#     runs the connector; the other loses the lock before touching any connector (exit 5), syncs,
#     runs again and finds nothing due;
#   - the deploy job's read reaches the shared journal through `escrow sync`, merging with the
#     rotation's commits through escrow's merge driver;
#   - the connector ends holding the value the pushed vault says, and a fresh clone verifies.
#
# Usage: concurrent-jobs.sh [WORKDIR]        (default: a new temporary folder, kept for a look)
# Needs: escrow on PATH (or ESCROW=/path/to/escrow; git runs it by name as the merge driver, so
# its folder is put first on PATH), git, python3 (rotate-due.sh). Exit 0 when all of the above
# held, 1 otherwise (the reason on stderr).
set -eu
escrow=${ESCROW:-escrow}
case $escrow in */*) escrow=$(cd "$(dirname "$escrow")" && pwd)/$(basename "$escrow") ;; *) escrow=$(command -v "$escrow") ;; esac
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d /tmp/escrow-ci-demo-XXXXXX)}
mkdir -p "$work/bin" "$work/system"
ln -sf "$escrow" "$work/bin/escrow"
export PATH="$work/bin:$PATH" ESCROW=escrow ESCROW_KDF=${ESCROW_KDF:-} NO_COLOR=1 ESCROW_LOCK_WAIT=60
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_EMAIL=ci@example.invalid GIT_COMMITTER_EMAIL=ci@example.invalid
unset ESCROW_VAULT ESCROW_IDENTITY ESCROW_IDENTITY_DATA ESCROW_NOW 2>/dev/null || true
say() { printf '%s\n' "$*"; }
fail() { printf 'concurrent-jobs: %s\n' "$*" >&2; exit 1; }

# --- the team's repository, set up once by an admin --------------------------------------------
git init -q --bare -b main "$work/team.git"
for who in alice ci-rotator ci-deploy; do
  escrow identity new --name "$who" --no-passphrase --out "$work/$who.id" >/dev/null
  escrow --identity "$work/$who.id" identity show --public >"$work/$who.pub"
done
git clone -q "$work/team.git" "$work/admin" 2>/dev/null
cd "$work/admin"
export ESCROW_IDENTITY="$work/alice.id" XDG_STATE_HOME="$work/state-admin" GIT_AUTHOR_NAME=alice GIT_COMMITTER_NAME=alice
export ESCROW_NOW=2030-01-01T00:00:00Z
escrow init >/dev/null
escrow member add "$work/ci-rotator.pub" --role rotator --env prod >/dev/null
escrow member add "$work/ci-deploy.pub" --role requester --env prod >/dev/null
# The "system" the secret lives in: a file, and a log line per update naming the job.
escrow connector add app-db --env prod \
  --update "cat > '$work/system/db-password'; echo \"updated by \$JOB\" >> '$work/system/updates.log'" \
  --verify "cmp -s - '$work/system/db-password'" >/dev/null
printf 'initial-value' >"$work/system/db-password"
printf 'initial-value' | escrow add prod/db --purpose "the app's database" --every 30d --connector app-db >/dev/null
escrow share prod/db --with ci-deploy >/dev/null
git add -A && git commit -qm "escrow: the team's vault" && git push -q -u origin main 2>/dev/null
unset ESCROW_IDENTITY
: >"$work/system/updates.log"

# --- three CI jobs, a month later, at the same moment ------------------------------------------
export ESCROW_NOW=2030-02-01T00:00:00Z
workspace() { # JOB: a fresh clone (the runner's checkout) with escrow's git set-up
  git clone -q "$work/team.git" "$work/$1" 2>/dev/null
  (cd "$work/$1" && escrow git-setup >/dev/null)
}
for job in rotate-1 rotate-2 deploy; do workspace "$job"; done
run_job() { # JOB IDENTITY CMD...
  job=$1 id=$2; shift 2
  (cd "$work/$job" && JOB=$job XDG_STATE_HOME="$work/state-$job" GIT_AUTHOR_NAME="$job" GIT_COMMITTER_NAME="$job" \
     ESCROW_IDENTITY_DATA=$(cat "$work/$id.id") ESCROW_CI_REPORT="$work/$job.json" "$@") >"$work/$job.out" 2>"$work/$job.err"
}
run_job rotate-1 ci-rotator sh "$here/rotate-due.sh" & p1=$!
run_job rotate-2 ci-rotator sh "$here/rotate-due.sh" & p2=$!
run_job deploy ci-deploy sh "$here/read-job.sh" --set DB_PASSWORD=prod/db -- sh -c 'test -n "$DB_PASSWORD"' & p3=$!
s1=0; s2=0; s3=0
wait $p1 || s1=$?
wait $p2 || s2=$?
wait $p3 || s3=$?
for job in rotate-1 rotate-2 deploy; do
  say "--- job $job"
  sed 's/^/    /' "$work/$job.out" "$work/$job.err"
done
say "--- exit statuses: rotate-1 $s1, rotate-2 $s2, deploy $s3"

# --- what the team's repository says now -------------------------------------------------------
updates=$(grep -c . "$work/system/updates.log" || true)
say "--- connector updates: $updates ($(tr '\n' ' ' <"$work/system/updates.log"))"
journal=$(git -C "$work/team.git" show main:escrow.journal)
finishes=$(printf '%s\n' "$journal" | grep -c '"action":"rotate-finish"' || true)
reads=$(printf '%s\n' "$journal" | grep -c '"action":"exec","actor":"ci-deploy"' || true)
git clone -q "$work/team.git" "$work/fresh" 2>/dev/null
(cd "$work/fresh" && escrow git-setup >/dev/null)
verified=0
(cd "$work/fresh" && XDG_STATE_HOME="$work/state-fresh" escrow verify >/dev/null) && verified=1
value=$(cd "$work/fresh" && XDG_STATE_HOME="$work/state-fresh" ESCROW_IDENTITY="$work/ci-rotator.id" escrow get prod/db --reveal)
say "--- upstream: $finishes rotation(s) finished, $reads read(s) by ci-deploy, fresh clone verify: $([ $verified = 1 ] && echo ok || echo FAILED)"

[ "$s1" -eq 0 ] && [ "$s2" -eq 0 ] || fail "a rotation job failed (rotate-1 $s1, rotate-2 $s2)"
[ "$s3" -eq 0 ] || fail "the deploy job failed ($s3)"
[ "$updates" -eq 1 ] || fail "the connector was updated $updates times (exactly once expected)"
[ "$finishes" -eq 1 ] || fail "$finishes rotations finished upstream (exactly one expected)"
[ "$reads" -ge 1 ] || fail "the deploy job's read is not in the shared journal"
[ "$verified" -eq 1 ] || fail "a fresh clone does not verify"
[ "$value" = "$(cat "$work/system/db-password")" ] || fail "the connector holds another value than the pushed vault"
[ "$value" != initial-value ] || fail "the secret was not rotated"
say "ok: one rotation, run once, published; the read reached the journal; the system holds the vault's value ($work)"
