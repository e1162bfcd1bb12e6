#!/usr/bin/env bash
# git diff and git log -p show escrow's three files (escrow-vault/2) as value-free,
# ciphertext-free summaries (escrow diff --textconv): one line per journal entry (operations with
# their facts, reads, requests and approvals), one line per key line of escrow.keys without its
# bytes, the head file as its vault id and head count. No value and no opaque string of any file
# (ciphertext, sealed key, share, signature, public key, hash) ever reaches the output.
#
# Adapted from escrow-vault/1: the v1 vault file held every record, so its summary had one line
# per secret, member, version; in escrow-vault/2 the records live in the journal, so those facts
# are checked on the journal's lines (the operation that set them), and escrow.keys is new. The
# rotation part (section 3) needs `escrow rotate` on escrow-vault/2 (helper rot's port).
source "$(dirname "$0")/lib.sh"
setup
start_team

VALUE='hunter2-Vv9-the-value'
printf '%s' "$VALUE" | e alice add prod/stripe-key --owner alice --purpose "payments" --custodians bob --threshold 1 >/dev/null
e alice connector add crm --env prod --update 'cat >/dev/null' --verify true >/dev/null
e alice connect prod/stripe-key crm >/dev/null

# 1. The working tree's changes, uncommitted: git diff.
expect 0 "git diff" -- as alice git diff HEAD
DIFF=$OUT
check "git diff shows the add as a journal line" -- contains "$DIFF" "+"
check "... the secret, its version, owner and purpose" -- contains "$DIFF" 'prod/stripe-key: add v1 by alice (owner alice, "payments"'
check "... its custodians" -- contains "$DIFF" 'custodians 1 of bob'
check "... the connector with its commands" -- contains "$DIFF" 'connector crm: command in prod, update "cat >/dev/null", verify "true" (added by alice)'
check "... the key lines of escrow.keys, named, without bytes" -- contains "$DIFF" "+value of prod/stripe-key version "
check "... a reader key line" -- contains "$DIFF" "+reader key of prod/stripe-key generation 1 for alice"
check "... the head file as its entry count" -- contains "$DIFF" "journal entries, head "
check "no value in git diff" -- lacks "$DIFF" "$VALUE"
as alice git commit -qam "add the stripe key"
as alice git push -q

# 2. carol asks for access on her clone, bob (the custodian) approves on his, alice reads and
#    shares on hers.
person carol
e alice member add "$WORK/carol.pub" --role requester --env prod >/dev/null
as alice git commit -qam "carol joins" && as alice git push -q
clone bob; e bob git-setup >/dev/null
clone carol; e carol git-setup >/dev/null
REQ=$(e carol --json request prod/stripe-key --ttl 1h --why "incident 7" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
as carol git commit -qam "carol asks"
as carol git push -q
as bob git pull -q
e bob approve prod/stripe-key "$REQ" >/dev/null
as bob git commit -qam "bob approves"
as bob git push -q
as alice git pull -q
READ=$(e alice get prod/stripe-key --reveal)
check "alice reads the value" -- test "$READ" = "$VALUE"
e alice share prod/stripe-key --with bob >/dev/null
as alice git commit -qam "alice reads and shares"

expect 0 "git log -p" -- as alice git log -p
LOG=$OUT
check "git log -p shows the genesis" -- contains "$LOG" "vault created by alice"
check "... members as added" -- contains "$LOG" "member bob added by alice: approver, requester in prod"
check "... connectors, with their commands" -- contains "$LOG" 'connector crm: command in prod, update "cat >/dev/null"'
check "... the request, with its justification" -- contains "$LOG" "request ${REQ:0:8}… on prod/stripe-key by carol for 1h: \"incident 7\""
check "... its approval" -- contains "$LOG" "request ${REQ:0:8}… on prod/stripe-key approved by bob (v1 for carol)"
check "... the read" -- contains "$LOG" "prod/stripe-key: reveal v1"
check "... the share" -- contains "$LOG" "prod/stripe-key: shared with bob by alice"
check "... the reader key line it sealed for bob" -- contains "$LOG" "+reader key of prod/stripe-key generation 1 for bob"
check "... by alice" -- contains "$LOG" "by alice"

# 3. A rotation (needs `escrow rotate` on escrow-vault/2): the version it replaces, the new one.
expect 0 "a rotation" -- e alice rotate prod/stripe-key
ROTATED=$(e alice get prod/stripe-key --reveal)
expect 0 "git diff of the rotation" -- as alice git diff
check "... names both versions, as people say it" -- contains "$OUT" "prod/stripe-key: v1 → v2 by alice (rotation)"
check "... and the read of the new one" -- contains "$OUT" "prod/stripe-key: reveal v2"
check "... and no rotated value" -- lacks "$OUT" "$ROTATED"
as alice git commit -qam "rotate the stripe key"

expect 0 "git log -p, all of it" -- as alice git log -p
LOG=$OUT
check "no value in git log -p" -- lacks "$LOG" "$VALUE"
check "no rotated value in git log -p" -- lacks "$LOG" "$ROTATED"
# Not one opaque string of any of the three files (ciphertexts, nonces, sealed keys, shares,
# signatures, public keys, entry hashes, key-line hashes), from any commit: only the vault id may
# show.
as alice git log -p --no-textconv --format= -- escrow.vault escrow.journal escrow.keys \
  | grep -oE '[A-Za-z0-9+/]{22,}={0,2}' | sort -u >"$WORK/opaque"
VID=$(grep -oE '"vault_id": "[^"]+"' "$WORK/alice/escrow.vault" | cut -d'"' -f4)
leaked=0
while read -r item; do
  [ "$item" = "$VID" ] && continue
  if contains "$LOG" "$item"; then leaked=$((leaked + 1)); echo "leaked: $item" >&2; fi
done <"$WORK/opaque"
check "no ciphertext, key, share, signature or hash in git log -p ($(wc -l <"$WORK/opaque") opaque strings checked)" -- test "$leaked" -eq 0
check "the raw files did hold ciphertexts (the check above is not vacuous)" -- test "$(wc -l <"$WORK/opaque")" -gt 20

# 4. The textconv directly.
expect 0 "escrow diff --textconv escrow.keys" -- escrow diff --textconv "$WORK/alice/escrow.keys"
check "... one line per key line, none with its hash suffix" -- lacks "$OUT" "#"
expect 0 "escrow diff --textconv escrow.vault" -- escrow diff --textconv "$WORK/alice/escrow.vault"
check "... says it is an escrow-vault/2 head" -- contains "$OUT" "(escrow-vault/2)"
# A journal line that is not an entry: one line saying so, never its bytes.
{ head -n 2 "$WORK/alice/escrow.journal"; printf '{"secret":"%s"}\n' "$VALUE"; } >"$WORK/bad.journal"
expect 0 "escrow diff --textconv of a journal with a bad line" -- escrow diff --textconv "$WORK/bad.journal"
check "... names the bad line" -- contains "$OUT" "(line 3: not a journal entry"
check "... never prints its bytes" -- lacks "$OUT" "$VALUE"
printf 'password=%s\n' "$VALUE" >"$WORK/other"
expect 0 "escrow diff --textconv on another file" -- escrow diff --textconv "$WORK/other"
check "... never prints its bytes" -- lacks "$OUT" "$VALUE"
expect 2 "escrow diff without --textconv" -- escrow diff "$WORK/other"
expect 5 "escrow diff --textconv of a missing file" -- escrow diff --textconv "$WORK/missing"

finish
