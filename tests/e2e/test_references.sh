#!/usr/bin/env bash
# References: `escrow inject` and `escrow exec --env-file` resolve escrow://ENV/NAME[@vN] under the
# normal read rules, journal one entry per secret read, write 0600 atomically, refuse symlinks,
# and write nothing (run nothing) when a reference is unknown or not readable.
source "$(dirname "$0")/lib.sh"
setup

init_vault alice
member bob --role requester --env prod
printf 'pg-pass-v1' | as alice add prod/db --purpose database >/dev/null
printf 'stripe-live-key' | as alice add prod/stripe --purpose payments >/dev/null
printf 'bob-owned' | as bob add prod/bobs --purpose "bob's" >/dev/null
# A second version of prod/db: rotate with a generated value.
as alice rotate prod/db >/dev/null 2>&1 || true
v2=$(as alice get prod/db --reveal)

cat >app.conf.tpl <<'T'
# app config
db_url = postgres://app:escrow://prod/db@db.internal:5432/app
db_old = escrow://prod/db@v1
stripe = "escrow://prod/stripe"
again  = escrow://prod/stripe.
T
lines_before=$(wc -l <escrow.journal)
umask 022
expect 0 "inject resolves references" -- as alice inject -i app.conf.tpl -o app.conf
grep -qx "db_url = postgres://app:${v2}@db.internal:5432/app" app.conf && pass "current version in a URL" || die "app.conf: $(cat app.conf)"
grep -qx "db_old = pg-pass-v1" app.conf && pass "@v1 resolves the first version" || die "app.conf: $(cat app.conf)"
grep -qx 'stripe = "stripe-live-key"' app.conf && pass "quoted reference" || die "app.conf: $(cat app.conf)"
grep -qx 'again  = stripe-live-key.' app.conf && pass "a trailing dot is not part of a reference" || die "line 5: $(sed -n 5p app.conf)"
[ "$(stat -c %a app.conf)" = 600 ] && pass "output is 0600 despite umask 022" || die "mode $(stat -c %a app.conf)"
grep -q '# app config' app.conf && pass "text outside references is kept" || die "comment lost"
added=$(( $(wc -l <escrow.journal) - lines_before ))
[ "$added" = 3 ] && pass "one journal entry per secret read (3 distinct)" || die "journal grew by $added"
tail -3 escrow.journal | grep >/dev/null '"into":"inject"' && pass "journaled as a reveal into the output" || die "journal: $(tail -3 escrow.journal)"
grep -q 'stripe-live-key\|pg-pass-v1' escrow.journal escrow.vault && die "a value reached the journal or vault" || pass "no value in journal or vault"
expect 0 "inject to stdout" -- as alice inject -i app.conf.tpl
printf '%s\n' "$OUT" | grep >/dev/null "stripe = \"stripe-live-key\"" && pass "stdout output" || die "stdout: $OUT"
expect 0 "inject --json -o" -- as alice --json inject -i app.conf.tpl -o app.conf
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["references"]==4 and len(d["secrets"])==3 and d["output"]=="app.conf"' \
  && pass "inject --json: one document" || die "json: $OUT"

# Rejections: nothing written.
printf 'x = escrow://prod/nope\n' >bad.tpl
printf 'keep' >out.txt
snap=$(snapshot)
expect 2 "unknown reference: exit 2" -- as alice inject -i bad.tpl -o out.txt
expect_error_line "no secret named prod/nope" "unknown reference names the secret"
[ "$(cat out.txt)" = keep ] && pass "output untouched on an unknown reference" || die "out.txt changed"
printf 'x = escrow://prod/db@v9\n' >badv.tpl
expect 2 "unknown version: exit 2" -- as alice inject -i badv.tpl -o out.txt
printf 'x = escrow://prod/stripe\ny = escrow://prod/bobs\n' >denied.tpl
lines_before=$(wc -l <escrow.journal)
expect 4 "no access: exit 4" -- as alice inject -i denied.tpl -o out.txt
[ "$(cat out.txt)" = keep ] && pass "output untouched on denial" || die "out.txt changed"
[ $(( $(wc -l <escrow.journal) - lines_before )) = 1 ] && tail -1 escrow.journal | grep >/dev/null '"result":"denied"' \
  && pass "only the denial is journaled (no ok entry for prod/stripe)" || die "journal: $(tail -2 escrow.journal)"
printf 'x = escrow://prod/../etc\n' >path.tpl
expect 2 "a path-like reference is refused" -- as alice inject -i path.tpl -o out.txt
ln -s out.txt link.txt
expect 5 "output through a symlink is refused" -- as alice inject -i app.conf.tpl -o link.txt
expect_error_line "symbolic link" "the refusal names the symlink"
[ "$(cat out.txt)" = keep ] && [ -L link.txt ] && pass "symlink and its target untouched" || die "symlink followed"
lines_before=$(wc -l <escrow.journal)
expect 5 "an output folder that does not exist" -- as alice inject -i app.conf.tpl -o nowhere/app.conf
[ "$(wc -l <escrow.journal)" = "$lines_before" ] && pass "no read journaled for a bad output" || die "journal grew"
expect 2 "the template cannot be its own output" -- as alice inject -i app.conf.tpl -o app.conf.tpl
grep -q 'escrow://prod/db@v1' app.conf.tpl && pass "template untouched" || die "template overwritten"
ls -a | grep >/dev/null '\.tmp\.' && die "temp file left behind" || pass "no temp file left"
# A temp file of a killed inject (its pid is gone) is removed by the next inject to that output.
printf 'stale' >.app.conf.tmp.999999999.abc
printf 'live' >".app.conf.tmp.$$.def"
expect 0 "inject again" -- as alice inject -i app.conf.tpl -o app.conf
[ -e .app.conf.tmp.999999999.abc ] && die "a dead writer's temp file was kept" || pass "a dead writer's temp file is removed"
[ -e ".app.conf.tmp.$$.def" ] && pass "a live writer's temp file is left alone" || die "a live temp file was removed"
rm -f ".app.conf.tmp.$$.def"

# exec --env-file: references and plain values.
cat >app.env <<'T'
# env for the app
export DB_PASSWORD=escrow://prod/db
STRIPE_KEY="escrow://prod/stripe"
OLD_DB='escrow://prod/db@v1'
LOG_LEVEL=debug  # plain, not a secret
T
lines_before=$(wc -l <escrow.journal)
expect 0 "exec --env-file" -- as alice exec --env-file app.env -- sh -c 'echo "$LOG_LEVEL $DB_PASSWORD $STRIPE_KEY $OLD_DB"; test "$STRIPE_KEY" = stripe-live-key && test "$OLD_DB" = pg-pass-v1 && echo values-ok'
[ "$OUT" = "$(printf 'debug <redacted:prod/db> <redacted:prod/stripe> <redacted:prod/db>\nvalues-ok')" ] && pass "values set, plain value kept, output redacted" || die "exec: $OUT"
[ $(( $(wc -l <escrow.journal) - lines_before )) = 3 ] && pass "one exec entry per variable read" || die "journal grew by $(( $(wc -l <escrow.journal) - lines_before ))"
tail -3 escrow.journal | grep >/dev/null '"env_file"' && pass "entries name the env file" || die "journal: $(tail -1 escrow.journal)"
expect 0 "exec --env-file with --set" -- as alice exec --env-file app.env --set S=prod/stripe -- sh -c 'test "$S" = "$STRIPE_KEY" && echo ok'
[ "$OUT" = ok ] && pass "both sources together" || die "exec: $OUT"
printf 'A=escrow://prod/nope\n' >bad.env
expect 2 "exec --env-file with an unknown reference" -- as alice exec --env-file bad.env -- sh -c 'touch ran'
[ -e ran ] && die "the command ran" || pass "the command did not run"
printf 'A=escrow://prod/bobs\n' >denied.env
expect 4 "exec --env-file without access" -- as alice exec --env-file denied.env -- sh -c 'touch ran'
[ -e ran ] && die "the command ran" || pass "the command did not run on denial"
printf 'A=escrow://prod/db extra\n' >mixed.env
expect 2 "a value that starts like a reference must be one" -- as alice exec --env-file mixed.env -- true
printf 'A="unterminated\n' >broken.env
expect 2 "a malformed env file" -- as alice exec --env-file broken.env -- true
expect_error_line "broken.env: line 1" "the error names the file and line"
printf 'SECRETVALUE9 oops\n' >leak.env
expect 2 "a bad line" -- as alice exec --env-file leak.env -- true
printf '%s' "$ERR" | grep >/dev/null "SECRETVALUE9" && die "the error quotes the line" || pass "the error never quotes the line"
expect 4 "bob cannot read prod/db through --env-file" -- as bob exec --env-file app.env -- true
finish
