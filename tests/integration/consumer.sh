#!/bin/sh
# A stand-in consumer for the integration tests (a command connector): update keeps the value
# (stdin) in FILE (0600), verify checks that FILE holds it. While the file BREAK exists, every
# update flips the consumer between working and broken, so the update to a new value breaks its
# verify and the rollback's update to the old value mends it — a check broken on purpose for
# the new value only, as a real consumer that rejects a new credential would be.
#   consumer.sh update|verify FILE BREAK
set -eu
umask 077
[ $# -eq 3 ] || { echo "usage: consumer.sh update|verify FILE BREAK" >&2; exit 2; }
mode=$1 file=$2 brk=$3
value=$(cat)
case $mode in
  update)
    printf '%s' "$value" >"$file.tmp" && mv "$file.tmp" "$file"
    if [ -e "$brk" ]; then
      if [ -e "$file.broken" ]; then rm -f "$file.broken"; else : >"$file.broken"; fi
    fi
    ;;
  verify)
    [ ! -e "$file.broken" ] || { echo "consumer: check broken on purpose" >&2; exit 1; }
    [ -f "$file" ] && [ "$(cat "$file")" = "$value" ] || { echo "consumer: holds another value" >&2; exit 1; }
    ;;
  *) exit 2 ;;
esac
