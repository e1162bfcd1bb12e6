# Demo act (sourced by scripts/demo): rotation pushed to two connectors, then one rollback
# (docs/ROTATION.md). Uses the demo's helpers and its vault, where alice owns prod/stripe-key.

step "Rotation: the payments key is used by the app's .env file and by a payment gateway"
printf 'APP=shop\nSTRIPE_KEY=%s\n' "$(as_quiet alice get prod/stripe-key --reveal)" >"$demo/app.env"
# The gateway stands in for a provider's API: it stores what it is sent and, while
# $demo/gateway-down exists, refuses to verify a new key.
cat >"$demo/gateway.sh" <<'SH'
#!/bin/sh
v=$(cat)
case $1 in
  update) printf '%s' "$v" >"$(dirname "$0")/gateway.key"; echo "gateway: key v$ESCROW_VERSION installed" ;;
  verify) if [ -e "$(dirname "$0")/gateway-down" ] && [ "$ESCROW_ACTION" = rotate ]; then
            echo "gateway: 503 Service Unavailable" >&2; exit 1; fi
          [ "$v" = "$(cat "$(dirname "$0")/gateway.key")" ] ;;
esac
SH
chmod +x "$demo/gateway.sh"
as alice connector add app-env --env prod \
  --update "$root/examples/connectors/env-file.sh update $demo/app.env STRIPE_KEY" \
  --verify "$root/examples/connectors/env-file.sh verify $demo/app.env STRIPE_KEY"
as alice connector add gateway --env prod --timeout 20 \
  --update "$demo/gateway.sh update" --verify "$demo/gateway.sh verify"
as alice connect prod/stripe-key app-env
as alice connect prod/stripe-key gateway
echo "a connector of another environment is refused:"
as_quiet alice connector add staging-app --env staging --update true --verify true
expect_fail 2 as alice connect prod/stripe-key staging-app
as alice connector list

step "Rotate: a pending version is committed first, then each connector is updated and verified"
as alice rotate prod/stripe-key --dry-run
as alice rotate prod/stripe-key
[ "$(cat "$demo/gateway.key")" = "$(as_quiet alice get prod/stripe-key --reveal)" ] &&
  grep -q "^STRIPE_KEY=$(as_quiet alice get prod/stripe-key --reveal)\$" "$demo/app.env" &&
  echo "(both connectors hold the new value)"

step "The gateway is down: the next rotation fails verification and rolls back everywhere"
touch "$demo/gateway-down"
expect_fail 1 as alice rotate prod/stripe-key
[ "$(cat "$demo/gateway.key")" = "$(as_quiet alice get prod/stripe-key --reveal)" ] &&
  grep -q "^STRIPE_KEY=$(as_quiet alice get prod/stripe-key --reveal)\$" "$demo/app.env" &&
  echo "(both connectors hold the old value again; the failed version is kept, never served)"
rm -f "$demo/gateway-down"
as alice show prod/stripe-key
git add escrow.vault escrow.journal && git commit -qm "escrow: rotation of prod/stripe-key" && echo "(committed to git)"
