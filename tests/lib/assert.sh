# Assertions shared by the shell-driven suites (tests/e2e, tests/team): sourced by their lib.sh.
# Counts passes and failures; `finish` prints the tally and fails the test if anything failed.
# No `grep -q` behind a pipe: under `set -o pipefail` its early exit can kill the writer with
# SIGPIPE and turn a match into a failure.
TEST_PASSES=0
TEST_FAILS=0

pass() { TEST_PASSES=$((TEST_PASSES + 1)); echo "ok - $*"; }
die() { TEST_FAILS=$((TEST_FAILS + 1)); echo "not ok - $*" >&2; }

# expect CODE DESCRIPTION -- CMD...: runs CMD, checks its exit code; output in $OUT / $ERR.
expect() {
  local want=$1 what=$2; shift 3
  set +e
  OUT=$("$@" 2>"$WORK/.err"); local got=$?
  set -e
  ERR=$(cat "$WORK/.err")
  if [ "$got" -eq "$want" ]; then pass "$what"; else die "$what: exit $got, wanted $want; stdout: $OUT; stderr: $ERR"; fi
}

# check DESCRIPTION -- CMD...: passes when CMD succeeds.
check() {
  local what=$1; shift 2
  if "$@"; then pass "$what"; else die "$what"; fi
}

# contains TEXT NEEDLE / lacks TEXT NEEDLE: fixed-string tests on a value.
contains() { grep -cF -- "$2" <<<"$1" >/dev/null; }
lacks() { ! contains "$1" "$2"; }

finish() {
  echo "$TEST_PASSES passed, $TEST_FAILS failed"
  [ "$TEST_FAILS" -eq 0 ]
}
