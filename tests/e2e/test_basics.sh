#!/usr/bin/env bash
# The first minutes of a new team: identities, init, members, add, list, show, get, exec.
source "$(dirname "$0")/lib.sh"
setup

init_vault alice
member bob --role approver --role requester --env prod
member carol --role approver --env '*'

expect 0 "add reads the value from stdin" -- sh -c "printf 'sk_live_123' | '$ESCROW' --identity alice.id add prod/stripe --purpose payments"
expect 0 "list shows the secret" -- as alice list
printf '%s\n' "$OUT" | grep >/dev/null 'prod/stripe' && pass "list names prod/stripe" || die "list output: $OUT"
expect 0 "get --reveal prints the exact bytes" -- as alice get prod/stripe --reveal
[ "$OUT" = "sk_live_123" ] && pass "value round-trips" || die "got '$OUT'"
expect 2 "get without --reveal is refused" -- as alice get prod/stripe
expect_error_line "without --reveal" "get without --reveal names the problem"
expect 4 "bob has no access" -- as bob get prod/stripe --reveal
expect 0 "exec injects and redacts" -- as alice exec --set KEY=prod/stripe -- sh -c 'echo "key=$KEY"'
[ "$OUT" = "key=<redacted:prod/stripe>" ] && pass "exec output redacted" || die "exec output: $OUT"
if grep -q sk_live_123 escrow.journal escrow.vault; then die "value leaked to a file"; else pass "value in no file"; fi
expect 0 "verify is clean" -- as alice verify
export ESCROW_IDENTITY_DATA="$(cat alice.id)"
expect 0 "exec with ESCROW_IDENTITY_DATA" -- "$ESCROW" exec --set KEY=prod/stripe -- sh -c 'printf "%s" "${ESCROW_IDENTITY_DATA:-}"'
[ -z "$OUT" ] && pass "exec does not hand escrow's identity to the command" || die "identity leaked to the child"
unset ESCROW_IDENTITY_DATA
finish
