#!/usr/bin/env bash
# git diff and git log -p show escrow's files as value-free, ciphertext-free summaries
# (escrow diff --textconv): one line per secret, version, member, connector, request, and one
# line per journal entry.
source "$(dirname "$0")/lib.sh"
setup
start_team

VALUE='hunter2-Vv9-the-value'
printf '%s' "$VALUE" | e alice add prod/stripe-key --owner alice --purpose "payments" --custodians alice --threshold 1 >/dev/null
e alice connector add crm --env prod --update 'cat >/dev/null' --verify true >/dev/null
e alice connect prod/stripe-key crm >/dev/null
as alice git commit -qam "add the stripe key"

expect 0 "a rotation, uncommitted" -- e alice rotate prod/stripe-key
ROTATED=$(e alice get prod/stripe-key --reveal)
expect 0 "git diff" -- as alice git diff
DIFF=$OUT
check "git diff shows the new version as a summary line" -- contains "$DIFF" "+version prod/stripe-key v2: current"
check "... and the old one's state change" -- contains "$DIFF" "+version prod/stripe-key v1: previous"
check "... and the journal entry as people say it" -- contains "$DIFF" "prod/stripe-key: v1 → v2 by alice (rotation)"
check "... and the reveal" -- contains "$DIFF" "prod/stripe-key: reveal v2 by alice"
as alice git commit -qam "rotate the stripe key"
as alice git push -q

# bob asks for access, alice approves: the request line and its approval.
as bob true; clone bob; e bob git-setup >/dev/null
REQ=$(e bob --json request prod/stripe-key --ttl 1h --why "incident 7" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
as bob git commit -qam "bob asks"
as bob git push -q
as alice git pull -q
e alice approve prod/stripe-key "$REQ" >/dev/null
as alice git commit -qam "alice approves"

expect 0 "git log -p" -- as alice git log -p
LOG=$OUT
check "git log -p shows vault summaries" -- contains "$LOG" "secret prod/stripe-key: owner alice"
check "... members" -- contains "$LOG" "+member bob: approver, requester in prod"
check "... connectors, with their commands" -- contains "$LOG" '+connector crm: command in prod, update "cat >/dev/null"'
check "... journal lines" -- contains "$LOG" "vault created by alice"
check "... the request" -- contains "$LOG" "request ${REQ:0:8}… on prod/stripe-key by bob"
check "... its approval" -- contains "$LOG" "request ${REQ:0:8}… on prod/stripe-key approved by alice"
check "no value in git log -p" -- lacks "$LOG" "$VALUE"
check "no rotated value in git log -p" -- lacks "$LOG" "$ROTATED"
# Not one opaque string of either file (ciphertexts, nonces, sealed keys, shares, sigs, hashes),
# from any commit: only the vault id may show.
as alice git log -p --no-textconv --format= -- escrow.vault escrow.journal \
  | grep -oE '[A-Za-z0-9+/]{22,}={0,2}' | sort -u >"$WORK/opaque"
VID=$(grep -oE '"vault_id": "[^"]+"' "$WORK/alice/escrow.vault" | cut -d'"' -f4)
leaked=0
while read -r item; do
  [ "$item" = "$VID" ] && continue
  if contains "$LOG" "$item"; then leaked=$((leaked + 1)); echo "leaked: $item" >&2; fi
done <"$WORK/opaque"
check "no ciphertext, key, share, signature or hash in git log -p ($(wc -l <"$WORK/opaque") opaque strings checked)" -- test "$leaked" -eq 0
check "the raw files did hold ciphertexts (the check above is not vacuous)" -- test "$(wc -l <"$WORK/opaque")" -gt 20

# The textconv directly, on a file that is neither.
printf 'password=%s\n' "$VALUE" >"$WORK/other"
expect 0 "escrow diff --textconv on another file" -- escrow diff --textconv "$WORK/other"
check "... never prints its bytes" -- lacks "$OUT" "$VALUE"
expect 2 "escrow diff without --textconv" -- escrow diff "$WORK/other"
expect 5 "escrow diff --textconv of a missing file" -- escrow diff --textconv "$WORK/missing"

finish
