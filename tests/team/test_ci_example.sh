#!/usr/bin/env bash
# examples/ci/concurrent-jobs.sh (issue 9 items 3 and 4): two scheduled rotation jobs and a deploy
# job that reads, started at once against one bare repository. The script checks the outcome
# itself (exactly one connector update, one finished rotation upstream, the read in the shared
# journal, a fresh clone verifies, the connector holds the vault's value); here it runs three
# times, since the interleaving differs from run to run.
EXAMPLES=$(cd "$(dirname "$0")/../../examples" && pwd)
source "$(dirname "$0")/lib.sh"
setup
for run in 1 2 3; do
  expect 0 "run $run: concurrent CI jobs (two rotations, one read)" -- \
    env ESCROW="$ESCROW" sh "$EXAMPLES/ci/concurrent-jobs.sh" "$WORK/demo$run"
  check "run $run: ... one rotation, run once" -- contains "$OUT" "ok: one rotation, run once, published"
  [ "$(grep -c . "$WORK/demo$run/system/updates.log")" -eq 1 ] || echo "$OUT$ERR"
  check "run $run: no value in any job's output" -- \
    test "$(cat "$WORK/demo$run"/*.out "$WORK/demo$run"/*.err | grep -c -e initial-value -e "$(cat "$WORK/demo$run/system/db-password")" || true)" -eq 0
done
finish
