#!/bin/sh
# escrow connector: changes a MariaDB/MySQL account's password, and checks that it logs in.
#
#   escrow connector add flow-db --env prod \
#     --update '/path/to/mariadb-password.sh update app@10.0.0.% --defaults-extra-file=/etc/escrow/mariadb-admin.cnf' \
#     --verify '/path/to/mariadb-password.sh verify app@10.0.0.% --host=db.internal --port=3306 --database=appdb'
#   escrow connect prod/flow-db-password flow-db
#
# The value arrives on stdin (escrow never puts it in argv or the environment). update computes
# the account's mysql_native_password hash here ("*" + hex SHA1(SHA1(value))) and sends
#   ALTER USER 'user'@'host' IDENTIFIED BY PASSWORD '*…'
# on the client's stdin, so the plain value reaches neither the server nor its general or error
# log (the hash does: it is what the server stores). The remaining arguments are options for the
# `mariadb` client's admin connection (a --defaults-extra-file holding the admin's credentials, or
# --socket=… -u root where root logs in by unix_socket); --no-defaults or --defaults-extra-file
# must come first if given. verify logs in as the account with the value (MYSQL_PWD, the client's
# environment, never argv) using the remaining arguments, and runs SELECT 1. Both are idempotent.
# Needs: the mariadb (or mysql) client, python3 for SHA1.
# Exit codes: 0 ok, 1 the server refused or could not be reached, 2 usage.
set -eu
umask 077

usage() { echo "usage: mariadb-password.sh update|verify USER@HOST [mariadb client options...] (the value on stdin)" >&2; exit 2; }
[ $# -ge 2 ] || usage
mode=$1 account=$2
shift 2
user=${account%@*} host=${account#*@}
[ "$user@$host" = "$account" ] || usage
case $user$host in
  *[!A-Za-z0-9_.%-]*|'') echo "mariadb-password: USER@HOST must be letters, digits, _ . % -" >&2; exit 2 ;;
esac
client=$(command -v mariadb || command -v mysql) || { echo "mariadb-password: no mariadb or mysql client" >&2; exit 1; }
value=$(cat)
[ -n "$value" ] || { echo "mariadb-password: empty value on stdin" >&2; exit 2; }

case $mode in
  update)
    hash=$(printf '%s' "$value" | python3 -c 'import hashlib, sys; v = sys.stdin.buffer.read(); print("*" + hashlib.sha1(hashlib.sha1(v).digest()).hexdigest().upper())')
    printf "ALTER USER '%s'@'%s' IDENTIFIED BY PASSWORD '%s';\n" "$user" "$host" "$hash" \
      | "$client" "$@" --batch
    ;;
  verify)
    MYSQL_PWD=$value "$client" "$@" --user="$user" --connect-timeout=10 --batch -e 'SELECT 1' >/dev/null
    ;;
  *) usage ;;
esac
