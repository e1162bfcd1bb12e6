# Act: rotation pushed to two connectors, then a failing connector and a clean rollback.
# Sourced by scripts/demo (uses its step/as/expect_fail helpers and $demo).

step "Rotation: prod/stripe-key feeds two services; a connector is an update and a verify command"
services="$demo/services"
mkdir -p "$services"
as alice connector add billing-api --env prod \
  --update "cat > $services/billing.env" --verify "test -s $services/billing.env"
as alice connector add crm-sync --env prod \
  --update "cat > $services/crm.env" --verify "test ! -e $services/crm.down && test -s $services/crm.env"
as alice connect prod/stripe-key billing-api
as alice connect prod/stripe-key crm-sync
as alice rotate prod/stripe-key
same_as_vault() { # compares a service's copy with the vault's current value, without printing either
  [ "$(as_quiet alice get prod/stripe-key --reveal | sha256sum)" = "$(sha256sum <"$1")" ]
}
same_as_vault "$services/billing.env" && same_as_vault "$services/crm.env" \
  && echo "both services hold the new value (compared by hash, never printed)"

step "The CRM goes down: its verify fails, so escrow rolls every connector back"
touch "$services/crm.down"
expect_fail 1 as alice rotate prod/stripe-key
same_as_vault "$services/billing.env" && same_as_vault "$services/crm.env" \
  && echo "both services hold the previous value again; the failed version is kept for the record"
rm "$services/crm.down"
as alice show prod/stripe-key

step "CI rotates whatever is due, unattended"
ESCROW_NOW=$(( $(date +%s) + 100 * 86400 )) as alice rotate --due --dry-run
