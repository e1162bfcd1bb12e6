#!/usr/bin/env bash
# audit report at two spans, an hour and a year of the same activity (ESCROW_NOW drives the
# clock): the timeline's axis has distinct labels in the right unit, and the page shows who read
# what with justifications, roster changes, who can read what, failed and stale connectors and
# the journal head; --csv writes every table. Rendered in headless chromium; the screenshots are
# copied to $ESCROW_SCREENSHOT_DIR (docs/) when set.
source "$(dirname "$0")/lib.sh"
setup
browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
  echo "not ok - the Debian package 'chromium' is missing (apt-get install -y chromium)" >&2
  exit 1
fi
browse() { # MODE PAGE OUT
  local profile
  profile=$(mktemp -d "$WORK/chromium-XXXXXX")
  local args=(--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run
              --user-data-dir="$profile" --enable-logging=stderr --v=0)
  if [ "$1" = dom ]; then
    timeout 120 "$browser" "${args[@]}" --dump-dom "file://$2" >"$3" 2>"$3.log"
  else
    timeout 120 "$browser" "${args[@]}" --window-size=1180,2300 --hide-scrollbars --screenshot="$3" "file://$2" \
      >/dev/null 2>"$3.log"
  fi
}

# rows FILE ID: the rows of the table with that id in a DOM dump, one line each, cells joined by |.
rows() {
  python3 - "$1" "$2" <<'PY'
import signal, sys
from html.parser import HTMLParser
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # grep -q may stop reading early
class Rows(HTMLParser):
    def __init__(self, wanted):
        super().__init__(); self.wanted = wanted; self.depth = 0; self.row = None; self.cell = None; self.rows = []
    def handle_starttag(self, tag, attrs):
        if tag == "table":
            if self.depth or dict(attrs).get("id") == self.wanted:
                self.depth += 1
        elif self.depth and tag == "tr":
            self.row = []
        elif self.depth and tag in ("td", "th"):
            self.cell = ""
    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.row is not None:
            self.row.append(self.cell or ""); self.cell = None
        elif self.depth and tag == "tr" and self.row is not None:
            self.rows.append(self.row); self.row = None
    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
parser = Rows(sys.argv[2])
parser.feed(open(sys.argv[1], encoding="utf-8").read())
for row in parser.rows:
    print("|".join(row))
PY
}

# scenario NAME BASE SPAN: the same team's activity, each event at a fixed fraction of SPAN seconds.
scenario() {
  local name=$1 base=$2 span=$3
  local dir=$WORK/$name
  mkdir -p "$dir"
  export ESCROW_VAULT=$dir/escrow.vault
  # at P [SECONDS]: P thousandths into the span, plus SECONDS (a grant lasts 4h at any span).
  at() { export ESCROW_NOW=$((base + $1 * span / 1000 + ${2:-0})); }
  at 0
  [ -e "$WORK/alice.id" ] || mkid alice
  as alice init >/dev/null
  for who in bob carol dave audrey eve; do [ -e "$WORK/$who.id" ] || mkid "$who"; done
  as alice member add "$WORK/bob.pub" --role approver --role requester --env prod >/dev/null
  as alice member add "$WORK/carol.pub" --role approver --env prod >/dev/null
  as alice member add "$WORK/dave.pub" --role approver --env prod >/dev/null
  as alice member add "$WORK/audrey.pub" --role auditor --env '*' >/dev/null
  at 5
  as alice connector add app-config --env prod --update 'cat >/dev/null' --verify 'cat >/dev/null' >/dev/null
  as alice connector add legacy-cache --env prod --update 'cat >/dev/null' --verify 'cat >/dev/null' >/dev/null
  # Takes only the value it was first given: a rotation fails and is rolled back.
  as alice connector add partner-portal --env prod --update "grep -qx 'api-[v]alue-3'" --verify true >/dev/null
  printf 'db-value-1' | as alice add prod/db --purpose "orders database" --custodians carol,dave --threshold 2 \
    --connector app-config >/dev/null
  printf 'cache-value-2' | as alice add prod/cache --purpose cache --connector legacy-cache >/dev/null
  printf 'api-value-3' | as alice add prod/api --purpose "partner API" --connector partner-portal >/dev/null
  printf 'web-value-4' | as alice add staging/web --purpose "staging web" >/dev/null
  # In time order, as a real journal is.
  at 50; as alice get prod/db --reveal >/dev/null
  at 60; as alice member add "$WORK/eve.pub" --role requester --env staging >/dev/null
  at 100; as alice rotate prod/cache >/dev/null 2>&1
  at 120; as alice exec --set C=prod/cache -- true >/dev/null
  at 150; as alice get prod/db --reveal >/dev/null
  at 200; as bob get prod/cache --reveal >/dev/null 2>&1 || true
  at 250; as alice get prod/db --reveal >/dev/null
  at 300; id=$(as bob request prod/db --ttl 4h --why "incident 812: orders stuck" 2>/dev/null)
  at 300 30; as carol approve prod/db "$id" >/dev/null 2>&1
  at 300 60; as dave approve prod/db "$id" >/dev/null 2>&1
  at 300 90; as bob get prod/db --reveal >/dev/null 2>&1
  at 300 150; as bob get prod/db --reveal >/dev/null 2>&1
  at 350; as alice get prod/db --reveal >/dev/null
  at 400; as alice rotate prod/db >/dev/null 2>&1
  at 450; as alice get prod/db --reveal >/dev/null
  at 550; as alice get prod/db --reveal >/dev/null
  at 600; as alice rotate prod/api >/dev/null 2>&1 || true
  at 650; as alice get prod/db --reveal >/dev/null
  at 700; as alice member remove eve >/dev/null
  at 750; as alice get prod/db --reveal >/dev/null
  at 800; as alice rotate prod/db >/dev/null 2>&1
  at 850; as alice get prod/db --reveal >/dev/null
  at 870; as alice exec --set C=prod/cache -- true >/dev/null
  at 950; as alice get prod/db --reveal >/dev/null
  at 1000
}

check_page() { # NAME UNIT-PATTERN
  local name=$1 unit=$2 dir=$WORK/$1
  expect 0 "$name: audit report --html --csv" -- as audrey audit report --html "$dir/report.html" --csv "$dir/csv"
  browse dom "$dir/report.html" "$dir/report.dom"
  grep -q '<svg id="timeline"' "$dir/report.dom" && pass "$name: the page renders" || die "$name: no timeline"
  local labels
  labels=$(grep -o '<text class="tick"[^>]*>[^<]*</text>' "$dir/report.dom" | sed 's/.*>\([^<]*\)<.*/\1/')
  local count distinct
  count=$(printf '%s\n' "$labels" | grep -c .)
  distinct=$(printf '%s\n' "$labels" | sort -u | grep -c .)
  [ "$count" -ge 4 ] && [ "$count" -le 8 ] && pass "$name: $count axis labels: $(echo $labels)" || die "$name: labels: $labels"
  [ "$distinct" -eq "$count" ] && pass "$name: every label is distinct" || die "$name: repeated labels: $labels"
  grep -Eq "$unit" <<<"$labels" && pass "$name: labels in the span's unit" || die "$name: labels $labels"
  grep -q 'data-unit=' "$dir/report.dom" && pass "$name: the unit is named" || die "no unit"
  local reads
  reads=$(rows "$dir/report.dom" reads)
  grep -q '|bob|prod/db|v1|reveal|ok|incident 812: orders stuck|' <<<"$reads" \
    && pass "$name: who read what, with the justification" || die "$name: reads: $reads"
  [ "$(printf '%s\n' "$reads" | wc -l)" -eq 16 ] && pass "$name: 15 reads and a header" \
    || die "$name: reads rows: $(printf '%s\n' "$reads" | wc -l)"
  grep -q '|bob|prod/cache|.*|denied|' <<<"$reads" && pass "$name: the refused read too" || die "$name: no denied read"
  local roster
  roster=$(rows "$dir/report.dom" roster)
  grep -q '|removed|eve|' <<<"$roster" && grep -q '|added|eve|requester|staging|alice|' <<<"$roster" \
    && grep -q '|genesis|alice|admin|' <<<"$roster" && pass "$name: roster changes" || die "$name: roster: $roster"
  local matrix
  matrix=$(rows "$dir/report.dom" can_read)
  printf '%s\n' "$matrix" | sed -n 1p | grep >/dev/null '^SECRET|alice|audrey|bob|carol|dave|CUSTODIANS' \
    && grep -q '^prod/db|owner|' <<<"$matrix" && grep -q '^prod/db|.*|2 of carol, dave$' <<<"$matrix" \
    && pass "$name: the who-can-read matrix" || die "$name: matrix: $matrix"
  local connectors
  connectors=$(rows "$dir/report.dom" connectors)
  grep -q '^partner-portal|prod|command|failed|' <<<"$connectors" \
    && pass "$name: the failed connector" || die "$name: connectors: $connectors"
  local head
  head=$(tail -1 "$dir/escrow.journal" | python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
  grep -q "<code>$head</code>" "$dir/report.dom" && pass "$name: the journal head for anchoring" || die "$name: no head $head"
  grep -q 'class="mark access ok' "$dir/report.dom" && pass "$name: access marks" || die "$name: no marks"
  [ -s "$dir/csv/reads.csv" ] && grep -q 'incident 812: orders stuck' "$dir/csv/reads.csv" \
    && [ "$(wc -l <"$dir/csv/reads.csv")" -eq 16 ] && pass "$name: --csv wrote the reads" || die "$name: reads.csv"
  ls "$dir"/csv/{overdue,roster,can_read,connectors}.csv >/dev/null && pass "$name: one CSV per table" || die "$name: csv files"
  local console
  console=$(grep -h CONSOLE "$dir/report.dom.log" || true)
  [ -z "$console" ] && pass "$name: no console message" || die "$name: console: $console"
  browse shot "$dir/report.html" "$dir/report.png"
  [ "$(head -c 8 "$dir/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] \
    && pass "$name: screenshot $dir/report.png" || die "$name: no screenshot"
  if [ -n "${ESCROW_SCREENSHOT_DIR:-}" ]; then
    cp "$dir/report.png" "$ESCROW_SCREENSHOT_DIR/audit-report-$name.png"
  fi
  for value in db-value-1 cache-value-2 api-value-3 web-value-4; do
    if grep -rq "$value" "$dir"/report.html "$dir"/csv "$dir"/escrow.journal; then die "$name: $value leaked"; fi
  done
  pass "$name: no value in the page, the CSV files or the journal"
}

scenario hour "$(date -u -d 2026-12-01T14:00:00Z +%s)" 3600
check_page hour '^(Dec 1 )?14:[0-9]0$'
rows "$WORK/hour/report.dom" connectors | grep -c '^legacy-cache|' >/dev/null \
  && die "hour: a connector verified minutes ago is reported stale" || pass "hour: recent verifies are not stale"
rows "$WORK/hour/report.dom" can_read | grep -c '^prod/db|owner|[^|]*|grant until ' >/dev/null && pass "hour: bob's live grant in the matrix" \
  || die "hour: no grant in the matrix"

scenario year "$(date -u -d 2026-01-01T09:00:00Z +%s)" $((365 * 86400))
check_page year '^(Jan|Mar|May|Jul|Sep|Nov) 20(26|27)$'
rows "$WORK/year/report.dom" connectors | grep -c '^legacy-cache|prod|command|stale|' >/dev/null \
  && pass "year: a connector last verified 9 months ago is stale" || die "year: no stale connector"
rows "$WORK/year/report.dom" can_read | grep -c 'grant until' >/dev/null && die "year: an expired grant is still listed" \
  || pass "year: the expired grant is gone"
finish
