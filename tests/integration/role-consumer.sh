#!/bin/sh
# A stand-in consumer of alternating roles for the integration tests (a command connector after
# a postgres connector with --alternate-role): update keeps the value (stdin) in FILE and the role
# escrow says it belongs to ($ESCROW_ROLE) in FILE.role (both 0600); verify logs in to PostgreSQL
# as that role with that value, as the application would (psql, the value in PGPASSWORD: the
# environment of psql, never argv). While the file BREAK exists, every update flips the consumer
# between working and broken (as tests/integration/consumer.sh).
#   role-consumer.sh update|verify FILE BREAK PORT
set -eu
umask 077
[ $# -eq 4 ] || { echo "usage: role-consumer.sh update|verify FILE BREAK PORT" >&2; exit 2; }
mode=$1 file=$2 brk=$3 port=$4
[ -n "${ESCROW_ROLE:-}" ] || { echo "role-consumer: escrow gave no role (ESCROW_ROLE is empty)" >&2; exit 1; }
value=$(cat)
case $mode in
  update)
    printf '%s' "$value" >"$file.tmp" && mv "$file.tmp" "$file"
    printf '%s' "$ESCROW_ROLE" >"$file.role"
    if [ -e "$brk" ]; then
      if [ -e "$file.broken" ]; then rm -f "$file.broken"; else : >"$file.broken"; fi
    fi
    ;;
  verify)
    [ ! -e "$file.broken" ] || { echo "role-consumer: check broken on purpose" >&2; exit 1; }
    [ "$(cat "$file.role")" = "$ESCROW_ROLE" ] || { echo "role-consumer: holds another role" >&2; exit 1; }
    PGPASSWORD=$value PGCONNECT_TIMEOUT=5 psql -X -q -At -w -h 127.0.0.1 -p "$port" -U "$ESCROW_ROLE" -d appdb \
      -c 'SELECT count(*) FROM widgets' >/dev/null 2>&1 \
      || { echo "role-consumer: $ESCROW_ROLE cannot log in with the value" >&2; exit 1; }
    ;;
  *) exit 2 ;;
esac
