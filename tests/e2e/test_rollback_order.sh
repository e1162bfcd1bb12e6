#!/usr/bin/env bash
# A rollback re-applies every connector before it verifies any: a consumer whose check depends on
# its source of truth (a flow querying its database) is restored first (reverse order) while the
# source still holds the new value, so verifying it right away would fail and leave the rollback
# "incomplete" although every connector ends on the old value.
source "$(dirname "$0")/lib.sh"
setup
init_vault alice

# source: keeps the value in $WORK/source. consumer: keeps it in $WORK/consumer; its check passes
# only when source and consumer agree, and never during a rotation while $WORK/reject exists.
cat >"$WORK/source.sh" <<'SH'
#!/bin/sh
v=$(cat)
case $1 in
  update) printf '%s' "$v" >"$WORK/source" ;;
  verify) [ "$v" = "$(cat "$WORK/source")" ] ;;
esac
SH
cat >"$WORK/consumer.sh" <<'SH'
#!/bin/sh
v=$(cat)
case $1 in
  update) printf '%s' "$v" >"$WORK/consumer" ;;
  verify) [ -e "$WORK/reject" ] && [ "$ESCROW_ACTION" = rotate ] && exit 1
          [ "$v" = "$(cat "$WORK/consumer")" ] && [ "$(cat "$WORK/source")" = "$(cat "$WORK/consumer")" ] ;;
esac
SH
chmod +x "$WORK/source.sh" "$WORK/consumer.sh"
export WORK

# Named so that name order would be wrong: the order comes from --after.
expect 0 "source connector" -- as alice connector add z-source --env prod \
  --update "$WORK/source.sh update" --verify "$WORK/source.sh verify"
expect 0 "consumer connector" -- as alice connector add a-consumer --env prod \
  --update "$WORK/consumer.sh update" --verify "$WORK/consumer.sh verify"
printf 'v1-value' | as alice add prod/db --purpose test >/dev/null
expect 0 "source bound" -- as alice connect prod/db z-source
expect 0 "consumer bound after the source" -- as alice connect prod/db a-consumer --after z-source
expect 0 "first rotation" -- as alice rotate prod/db
touch "$WORK/reject"
expect 1 "the consumer rejects v3: the rotation fails (exit 1)" -- as alice rotate prod/db
v2=$(as alice get prod/db --reveal)
if [ "$(cat "$WORK/source")" = "$v2" ] && [ "$(cat "$WORK/consumer")" = "$v2" ]; then
  pass "both connectors hold the current value again"
else
  die "the connectors do not hold the current value"
fi
printf '%s\n' "$ERR" | grep >/dev/null 're-applied to z-source, a-consumer' \
  && pass "the error says both were re-applied" || die "error was: $ERR"
if as alice show prod/db --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(v["v"] == 3 and v["state"] == "failed" for v in d["versions"]) else 1)'; then
  pass "v3 is failed, not left pending (the rollback is complete)"
else
  die "v3 is not failed: $(as alice show prod/db)"
fi
finish
