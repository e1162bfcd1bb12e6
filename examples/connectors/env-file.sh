#!/bin/sh
# escrow connector: keeps KEY=value in a .env-style file that an application reads.
#
#   escrow connector add app-env --env prod \
#     --update '/path/to/env-file.sh update /srv/app/.env DB_PASSWORD' \
#     --verify '/path/to/env-file.sh verify /srv/app/.env DB_PASSWORD'
#   escrow connect prod/db-password app-env
#
# The value arrives on stdin (escrow never puts it in argv or the environment). update replaces
# the KEY= line (or appends one) through a temp file in the same folder and an atomic rename, so
# the application never reads a half-written file; the file keeps its mode (new files: 0600).
# verify checks that the file holds exactly KEY=value. Both are idempotent, as escrow requires.
# Optional: ENV_FILE_AFTER='systemctl reload app' runs after a successful update.
# Exit codes: 0 ok, 1 verify mismatch or I/O failure, 2 usage or a value a .env file cannot hold.
set -eu
umask 077

usage() { echo "usage: env-file.sh update|verify FILE KEY (the value on stdin)" >&2; exit 2; }
[ $# -eq 3 ] || usage
mode=$1 file=$2 key=$3
case $key in
  ''|*[!A-Za-z0-9_]*) echo "env-file: KEY must be letters, digits and _" >&2; exit 2 ;;
esac
# Read the value exactly (keep trailing newlines out: generators never produce them).
value=$(cat)
case $value in
  *'
'*) echo "env-file: the value spans several lines; a .env line cannot hold it" >&2; exit 2 ;;
  '') echo "env-file: empty value on stdin" >&2; exit 2 ;;
esac

case $mode in
  update)
    dir=$(dirname -- "$file")
    tmp=$(mktemp "$dir/.env-file.XXXXXX")
    trap 'rm -f "$tmp"' EXIT
    if [ -f "$file" ]; then
      # Every line but KEY=..., copied with shell builtins only (no value in any argv).
      while IFS= read -r line || [ -n "$line" ]; do
        case $line in
          "$key="*) ;;
          *) printf '%s\n' "$line" ;;
        esac
      done <"$file" >"$tmp"
      chmod --reference="$file" "$tmp" 2>/dev/null || true
    fi
    printf '%s=%s\n' "$key" "$value" >>"$tmp"
    mv -f "$tmp" "$file"
    trap - EXIT
    if [ -n "${ENV_FILE_AFTER:-}" ]; then
      sh -c "$ENV_FILE_AFTER"
    fi
    echo "env-file: $file: $key updated to version ${ESCROW_VERSION:-?}"
    ;;
  verify)
    [ -f "$file" ] || { echo "env-file: $file does not exist" >&2; exit 1; }
    while IFS= read -r line || [ -n "$line" ]; do
      if [ "$line" = "$key=$value" ]; then
        echo "env-file: $file holds version ${ESCROW_VERSION:-?} of $key"
        exit 0
      fi
    done <"$file"
    echo "env-file: $file does not hold the expected $key" >&2
    exit 1
    ;;
  *) usage ;;
esac
