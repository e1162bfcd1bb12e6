#!/usr/bin/env bash
# audit report --html in a real browser: Debian's chromium, headless. The page must render, log
# nothing to the console, load nothing from outside, and its timeline must carry one mark per
# journaled access and per rotation. The screenshot is kept in the test's temp dir (and copied to
# $ESCROW_SCREENSHOT_OUT when set; docs/ keeps the screenshots of test_audit_report_spans.sh).
source "$(dirname "$0")/lib.sh"
setup

browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
  echo "not ok - the Debian package 'chromium' is missing: install it (apt-get install -y chromium, or scripts/bootstrap)" >&2
  exit 1
fi

# browse MODE PAGE OUT: runs headless chromium on a file; stderr (its log) goes to OUT.log.
browse() {
  local mode=$1 page=$2 out=$3
  local profile
  profile=$(mktemp -d "$WORK/chromium-XXXXXX")
  local args=(--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run
              --user-data-dir="$profile" --enable-logging=stderr --v=0)
  if [ "$mode" = dom ]; then
    timeout 120 "$browser" "${args[@]}" --dump-dom "file://$page" >"$out" 2>"$out.log"
  else
    timeout 120 "$browser" "${args[@]}" --window-size=1280,1700 --hide-scrollbars --screenshot="$out" "file://$page" \
      >/dev/null 2>"$out.log"
  fi
}
# Console messages (errors, CSP violations, failed loads) as chromium logs them.
console_lines() { grep -h 'CONSOLE' "$@" || true; }

# The checks can fail: a page with a console error and an outside asset is caught.
cat >"$WORK/bad.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:"><title>bad</title></head>
<body><img src="https://example.invalid/logo.png"><script>console.error("broken")</script></body></html>
EOF
browse dom "$WORK/bad.html" "$WORK/bad.dom"
[ "$(console_lines "$WORK/bad.dom.log" | wc -l)" -ge 1 ] && pass "the console check catches a broken page" \
  || die "the console check saw nothing on a broken page: $(cat "$WORK/bad.dom.log")"

# A month of a small team: reads, an exec, refused reads, two rotations and a failed one.
export ESCROW_NOW=2026-01-01T09:00:00Z
init_vault alice
member bob --role approver --role requester --env prod
member audrey --role auditor --env '*'
as alice connector add app-config --env prod --update 'cat >/dev/null' --verify 'cat >/dev/null' >/dev/null
as alice connector add picky --env prod --update "grep -qx 'api-[v]alue-3'" --verify true >/dev/null
printf 'db-value-1' | as alice add prod/db --purpose "orders database" --connector app-config >/dev/null
printf 'cache-value-2' | as alice add prod/cache --purpose cache >/dev/null
printf 'api-value-3' | as alice add prod/api --purpose "partner API" --connector picky >/dev/null
for day in 03 05 08 12 15 19 22 26; do
  ESCROW_NOW=2026-01-${day}T10:00:00Z as alice get prod/db --reveal >/dev/null
done
ESCROW_NOW=2026-01-09T11:00:00Z as alice exec --set C=prod/cache -- true >/dev/null
ESCROW_NOW=2026-01-10T14:00:00Z as bob get prod/db --reveal >/dev/null 2>&1 || true
ESCROW_NOW=2026-01-11T15:00:00Z as bob get prod/cache --reveal >/dev/null 2>&1 || true
ESCROW_NOW=2026-01-14T09:00:00Z as alice rotate prod/db >/dev/null 2>&1
ESCROW_NOW=2026-01-20T09:00:00Z as alice rotate prod/db >/dev/null 2>&1
ESCROW_NOW=2026-01-24T09:00:00Z as alice rotate prod/api >/dev/null 2>&1 || true
export ESCROW_NOW=2026-02-01T09:00:00Z

# escrow-vault/2 entries: an access is a reveal or exec event; a rotation's mark is its outcome per
# secret (rotate-finish, a rotate-fail item other than the rolling-back intent, or a rotation
# entry whose result is "failed").
accesses=$(grep -Ec '^\{"action":"(reveal|exec)"' escrow.journal)
rotations=$(python3 -c '
import json, sys
n = 0
for line in open("escrow.journal"):
    e = json.loads(line)
    a, args = e["action"], e.get("op", {}).get("args", {})
    if e["result"] == "ok" and a == "rotate-finish":
        n += len(args["items"])
    elif e["result"] == "ok" and a == "rotate-fail" and any(i["result"] != "rolling-back" for i in args["items"]):
        n += len({i["secret"] for i in args["items"]})
    elif e["result"] == "failed" and a in ("rotate-start", "rotate-finish", "confirm"):
        n += 1
print(n)')
[ "$accesses" -eq 11 ] && pass "11 accesses journaled" || die "accesses journaled: $accesses"
[ "$rotations" -eq 3 ] && pass "3 rotations journaled" || die "rotations journaled: $rotations"

expect 0 "audit report --html" -- as audrey audit report --html "$WORK/report.html"
[ -s "$WORK/report.html" ] && pass "the page was written" || die "no page"

browse dom "$WORK/report.html" "$WORK/report.dom"
grep -q '<svg id="timeline"' "$WORK/report.dom" && pass "the page renders with its timeline" || die "no timeline in the DOM"
grep -q 'Journal verification: ok' "$WORK/report.dom" && pass "the page shows the verification" || die "no verification line"
marks=$(grep -o 'class="mark access' "$WORK/report.dom" | wc -l)
[ "$marks" -eq "$accesses" ] && pass "one timeline mark per journaled access ($marks)" || die "marks $marks, accesses $accesses"
denied=$(grep -o 'class="mark access denied' "$WORK/report.dom" | wc -l)
[ "$denied" -eq 2 ] && pass "refused accesses are marked as such" || die "denied marks: $denied"
rmarks=$(grep -o 'class="mark rotation' "$WORK/report.dom" | wc -l)
[ "$rmarks" -eq "$rotations" ] && pass "one timeline mark per rotation ($rmarks)" || die "rotation marks $rmarks, rotations $rotations"
grep -q 'class="mark rotation failed' "$WORK/report.dom" && pass "the failed rotation is marked" || die "no failed mark"
outside=$(grep -Eo '(src|href)="[^"]*"' "$WORK/report.dom" | grep -v '="data:' || true)
[ -z "$outside" ] && pass "no external asset" || die "external references: $outside"
console=$(console_lines "$WORK/report.dom.log")
[ -z "$console" ] && pass "no console message" || die "console: $console"

browse shot "$WORK/report.html" "$WORK/report.png"
if [ -s "$WORK/report.png" ] && [ "$(head -c 8 "$WORK/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
  pass "screenshot saved: $WORK/report.png ($(wc -c <"$WORK/report.png") bytes)"
else
  die "no screenshot: $(tail -5 "$WORK/report.png.log")"
fi
console=$(console_lines "$WORK/report.png.log")
[ -z "$console" ] && pass "no console message while rendering the screenshot" || die "console: $console"
if [ -n "${ESCROW_SCREENSHOT_OUT:-}" ]; then
  cp "$WORK/report.png" "$ESCROW_SCREENSHOT_OUT"
fi

for value in db-value-1 cache-value-2 api-value-3; do
  if grep -q "$value" escrow.journal "$WORK/report.html"; then die "$value leaked"; else pass "$value in no file"; fi
done
finish
