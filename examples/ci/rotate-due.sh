#!/bin/sh
# Unattended rotation for CI: runs `escrow rotate --due --json` as the rotator identity and acts
# on the result. Use it from a scheduled job (github-actions.yml, gitlab-ci.yml beside this file).
#
# Needs: escrow on PATH (or ESCROW=/path/to/escrow), python3 (to read the JSON), and the
# rotator's identity in ESCROW_IDENTITY_DATA (an identity made with --no-passphrase, stored as a
# CI secret: it is never written to disk). ESCROW_VAULT points at the vault (default
# ./escrow.vault). The connectors' own credentials come from the CI environment as usual.
#
# Exit status (for the scheduler to alert on):
#   0  every due secret rotated (or nothing was due)
#   1  a rotation failed and was rolled back cleanly: the old value is still in place everywhere
#   2  a rollback was incomplete: a connector may hold a value the vault has as pending — page
#      someone; `escrow rotate --resume` retries
#   3  escrow itself failed (lock, I/O, integrity, access): see its error line; also when it lost
#      the git rotation lock ESCROW_CI_LOCK_ATTEMPTS times (default 3) in a row
#   4  only with ESCROW_CI_STRICT=1: a rotation awaits a person's manual confirmation
# A summary goes to stdout and, on GitHub Actions, to $GITHUB_STEP_SUMMARY. The full JSON result
# is kept in ${ESCROW_CI_REPORT:-escrow-rotation.json} (no values: escrow never prints them).
set -u
escrow=${ESCROW:-escrow}
report=${ESCROW_CI_REPORT:-escrow-rotation.json}
if [ -z "${ESCROW_IDENTITY_DATA:-}" ] && [ -z "${ESCROW_IDENTITY:-}" ]; then
  echo "rotate-due: set ESCROW_IDENTITY_DATA to the rotator identity (a CI secret)" >&2
  exit 3
fi

# In a clone whose branch has an upstream, escrow takes the git lock for the run (docs/TEAM.md
# "Rotation: git is the lock"): it commits and pushes every due secret's pending version (one
# commit) before any connector runs, and pushes the finish itself (a second commit). A run that loses the lock to a concurrent job (exit 5,
# "rotation lock not acquired") touched no connector: it syncs and tries again, and then finds
# nothing due when the other job rotated it.
attempt=1
while :; do
  "$escrow" --json rotate --due "$@" >"$report"
  status=$?
  if [ "$status" -eq 5 ] && grep -q 'rotation lock not acquired' "$report" \
     && [ "$attempt" -lt "${ESCROW_CI_LOCK_ATTEMPTS:-3}" ]; then
    echo "rotate-due: another job pushed first (no connector was touched); escrow sync, then again" >&2
    "$escrow" sync --attempts 5 >&2 || { echo "rotate-due: escrow sync failed" >&2; exit 3; }
    attempt=$((attempt + 1))
    continue
  fi
  break
done
if [ ! -s "$report" ]; then
  echo "rotate-due: escrow exited with $status and printed no result" >&2
  exit 3
fi

python3 - "$report" "$status" <<'PY'
import json, os, sys

path, status = sys.argv[1], int(sys.argv[2])
with open(path) as f:
    doc = json.load(f)
results = doc.get("results", [])
lines = []
worst = 0
for item in results:
    name, result = item["secret"], item["result"]
    version = item.get("version")
    if result == "rotated":
        done = sorted({s["connector"] for s in item["steps"] if s["step"] == "verify"})
        lines.append(f"- {name}: rotated to v{version}" + (f" ({', '.join(done)})" if done else "") +
                     f" — {item['reason']}")
    elif result == "awaiting-confirmation":
        for step in item["instructions"]:
            lines.append(f"- {name}: v{version} awaits a manual paste into {step['connector']}: "
                         f"{step['instructions']} — then `{step['confirm_command']}` "
                         f"(by {', '.join(step['who'])})")
        if os.environ.get("ESCROW_CI_STRICT") == "1":
            worst = max(worst, 4)
    elif result == "rollback-incomplete":
        lines.append(f"- {name}: ROLLBACK INCOMPLETE — {item['error']}")
        worst = max(worst, 2)
    else:
        lines.append(f"- {name}: {result} — {item['error']}")
        worst = max(worst, 1 if worst < 2 else worst)
if not results:
    lines.append("- nothing was due")
counts = ", ".join(f"{v} {k}" for k, v in doc.get("counts", {}).items() if v)
text = "escrow rotate --due: " + (counts or "nothing to do") + "\n" + "\n".join(lines) + "\n"
sys.stdout.write(text)
summary = os.environ.get("GITHUB_STEP_SUMMARY")
if summary:
    with open(summary, "a") as f:
        f.write("### Secret rotation\n\n" + text)
if worst == 4:
    sys.exit(4)
if worst:
    sys.exit(worst)
# escrow failed without a per-secret failure (should not happen with a document): report it.
sys.exit(3 if status not in (0, 1) else 0)
PY
