#!/usr/bin/env bash
# Finding things (docs/FINDING.md, docs/JSON.md): "did you mean" for commands,
# options, secrets, members, connectors and environments; an unknown environment is a usage
# error; the vault is found from a subfolder of its git work tree and init there refuses; with
# --json an error is also a JSON document on stdout. Every refusal leaves the files unchanged.
source "$(dirname "$0")/lib.sh"
setup
init_vault alice
member bob --role approver --role requester --env prod
as alice connector add app-config --env prod --update 'cat >/dev/null' --verify 'cat >/dev/null' >/dev/null
printf 'pw-value-1' | as alice add prod/db-password --purpose "orders database" --connector app-config >/dev/null
printf 'tok-value-2' | as alice add staging/api-token --purpose "partner API" >/dev/null
before=$(snapshot)

expect 2 "a mistyped command" -- as alice lst
expect_error_line "escrow: no command named lst" "names the command"
printf '%s\n' "$ERR" | grep >/dev/null -x "escrow: hint: did you mean 'list'?" && pass "suggests list" || die "hint: $ERR"
expect 2 "a mistyped subcommand" -- as alice member lsit
printf '%s\n' "$ERR" | grep >/dev/null "^escrow: error: escrow member: no command named lsit" \
  && printf '%s\n' "$ERR" | grep >/dev/null -x "escrow: hint: did you mean 'list'?" && pass "suggests member list" || die "$ERR"
expect 2 "a mistyped option" -- as alice list --evn prod
printf '%s\n' "$ERR" | grep >/dev/null -x "escrow: hint: did you mean '--env'?" && pass "suggests --env" || die "$ERR"
expect 2 "a word close to nothing" -- as alice frobnicate
printf '%s\n' "$ERR" | grep >/dev/null "did you mean" && die "suggested something for frobnicate: $ERR" || pass "no wild guess"

expect 2 "a mistyped secret" -- as alice get prod/db-pasword --reveal
expect_error_line "no secret named prod/db-pasword" "names the secret"
printf '%s\n' "$ERR" | grep >/dev/null -x "escrow: hint: did you mean 'prod/db-password'?" && pass "suggests the secret" || die "$ERR"
[ -z "$OUT" ] && pass "no value printed" || die "stdout: $OUT"
expect 2 "a mistyped member" -- as alice member remove bbo
printf '%s\n' "$ERR" | grep >/dev/null -x "escrow: hint: did you mean 'bob'?" && pass "suggests the member" || die "$ERR"
expect 2 "share with a mistyped member" -- as alice share prod/db-password --with bbo
printf '%s\n' "$ERR" | grep >/dev/null -x "escrow: hint: did you mean 'bob'?" && pass "suggests the member for share" || die "$ERR"
expect 2 "a mistyped connector" -- as alice connector remove app-confg
printf '%s\n' "$ERR" | grep >/dev/null -x "escrow: hint: did you mean 'app-config'?" && pass "suggests the connector" || die "$ERR"

expect 2 "list --env with an unknown environment" -- as alice list --env prd
expect_error_line "list --env: no environment named prd" "names the environment"
printf '%s\n' "$ERR" | grep >/dev/null -x "escrow: hint: did you mean 'prod'?" && pass "suggests prod" || die "$ERR"
[ -z "$OUT" ] && pass "no empty table" || die "stdout: $OUT"
expect 2 "connector list --env with an unknown environment" -- as alice connector list --env qa
printf '%s\n' "$ERR" | grep >/dev/null "escrow: hint: this vault's environments: prod, staging" && pass "lists the known ones" \
  || die "$ERR"
expect 2 "audit log --env with an unknown environment" -- as alice audit log --env stagign
expect 0 "list --env with a known environment" -- as alice list --env staging
printf '%s\n' "$OUT" | grep >/dev/null '^staging/api-token' && pass "lists it" || die "$OUT"

# --json: the error is also a document on stdout, the exit code unchanged.
expect 2 "--json error for an unknown environment" -- as alice --json list --env prd
printf '%s\n' "$OUT" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
e = doc["error"]
assert doc["schema"] == 1, doc
assert e["code"] == 2 and e["kind"] == "usage", e
assert "no environment named prd" in e["message"], e
assert e["hints"] == ["did you mean '"'"'prod'"'"'?"], e
' && pass "the JSON error document" || die "stdout: $OUT"
printf '%s\n' "$ERR" | grep >/dev/null "^escrow: error: " && pass "and the line on stderr" || die "$ERR"
expect 2 "--json error for a parse error (before the flag is read)" -- as alice lst --json
printf '%s\n' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["error"]["kind"]=="usage" and d["error"]["hints"][0]=="did you mean '"'"'list'"'"'?"' \
  && pass "parse errors too" || die "stdout: $OUT"
[ "$(snapshot)" = "$before" ] && pass "every refusal left the files unchanged" || die "files changed"
# A refused read is journaled (DESIGN §6): the JSON error changes nothing about that.
expect 4 "--json error for access denied" -- as bob --json get staging/api-token --reveal
printf '%s\n' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["error"]["code"]==4 and d["error"]["kind"]=="access"' \
  && pass "access errors carry code 4" || die "stdout: $OUT"
expect 0 "--json success carries the schema" -- as alice --json list
printf '%s\n' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["schema"]==1 and len(d["secrets"])==2' \
  && pass "schema 1 on success" || die "stdout: $OUT"

# The vault is found from a subfolder of the git work tree, as git finds .git.
unset ESCROW_VAULT
repo=$WORK/repo
mkdir -p "$repo/services/api"
git -C "$repo" init -q
cp "$WORK/escrow.vault" "$WORK/escrow.journal" "$WORK/escrow.keys" "$repo/"
cd "$repo/services/api"
expect 0 "list from a subfolder finds the vault" -- as alice list
printf '%s\n' "$OUT" | grep >/dev/null '^prod/db-password' && pass "it is the repository's vault" || die "$OUT"
expect 0 "get from a subfolder" -- as alice get prod/db-password --reveal
[ "$OUT" = "pw-value-1" ] && pass "reads the value" || die "value"
repo_before=$(sha256sum "$repo/escrow.vault" "$repo/escrow.journal" "$repo/escrow.keys")
expect 2 "init in a subfolder of a work tree that has a vault" -- as alice init
expect_error_line "\.\./\.\./escrow\.vault: this git work tree already has a vault" "says where it is"
[ ! -e escrow.vault ] && pass "no second vault" || die "a second vault was created"
[ "$(sha256sum "$repo/escrow.vault" "$repo/escrow.journal" "$repo/escrow.keys")" = "$repo_before" ] && pass "the vault is untouched" || die "changed"
# Never above the work tree's root: a vault in a parent folder of the repository is not used.
other=$WORK/other
mkdir -p "$other/deep"
git -C "$other" init -q
cd "$other/deep"
expect 5 "no vault in this work tree" -- as alice list
expect_error_line "escrow.vault: no such vault" "the usual message"
expect 0 "--vault still names one explicitly" -- as alice --vault "$repo/escrow.vault" list
ESCROW_VAULT=$repo/escrow.vault expect 0 "and ESCROW_VAULT" -- as alice list
finish
