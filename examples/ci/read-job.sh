#!/bin/sh
# A CI job that reads secrets: runs its command with them injected (`escrow exec`), then ends with
# `escrow sync` so its reads — signed journal entries, the evidence of who read what — reach the
# team's shared journal. Two such jobs (or a read job and a rotation job) at once merge: reads
# commute, the second sync's push is rejected once, it pulls through escrow's merge driver, seals
# the merge and pushes again (docs/TEAM.md "CI").
#
# Usage: read-job.sh [escrow exec options] -- COMMAND...
#   e.g. read-job.sh --set DATABASE_URL=prod/db -- ./deploy.sh
# Needs: escrow on PATH (or ESCROW=/path/to/escrow), the job's identity in ESCROW_IDENTITY_DATA,
# a clone whose branch has an upstream it may push to.
# Exit status: the command's; 5 when the command succeeded but the sync failed (the reads are
# committed locally, unpushed: the job's workspace is usually thrown away, so that is a failure).
set -u
escrow=${ESCROW:-escrow}
"$escrow" exec "$@"
status=$?
if ! "$escrow" sync --attempts "${ESCROW_SYNC_ATTEMPTS:-5}"; then
  echo "read-job: escrow sync failed: the reads of this job did not reach the shared journal" >&2
  [ "$status" -eq 0 ] && status=5
fi
exit "$status"
