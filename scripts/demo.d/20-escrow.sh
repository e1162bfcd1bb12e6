# Act: escrow — nobody reads prod/db-password without 2 of its 3 custodians.
# Sourced by scripts/demo (uses its step/as/expect_fail helpers and $demo).

step "Escrow: bob needs the database password for an incident; 2 of its 3 custodians must approve"
request_id=$(as_quiet bob request prod/db-password --ttl 4h --why "incident 812: replica lag" --quiet)
echo "\$ [bob] escrow request prod/db-password --ttl 4h --why \"incident 812: replica lag\""
echo "$request_id"
as carol approve prod/db-password "$request_id"
echo "one approval is not enough:"
expect_fail 4 as bob get prod/db-password --reveal
echo "bob cannot approve his own request:"
expect_fail 4 as bob approve prod/db-password "$request_id"
as dave approve prod/db-password "$request_id"
as_quiet bob grants
echo "with 2 approvals the shares combine on bob's machine into the data key:"
as bob exec --set DATABASE_URL=prod/db-password -- sh -c 'echo "bob connects with $DATABASE_URL"'
echo "five hours later the grant has expired:"
ESCROW_NOW=$(( $(date +%s) + 5 * 3600 )) expect_fail 4 as bob get prod/db-password --reveal
