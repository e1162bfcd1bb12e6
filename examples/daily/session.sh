#!/usr/bin/env bash
# A working session: one passphrase, one Argon2id, then every command runs without a prompt.
set -euo pipefail
escrow agent --timeout 2h          # the only prompt of the day
escrow list
escrow get prod/DB_PASSWORD --reveal >/dev/null
escrow exec --env-file "$(dirname "$0")/app.env" -- sh -c 'test -n "$DB_PASSWORD"'
escrow inject -i "$(dirname "$0")/config.yml.tpl" -o /tmp/config.yml
escrow agent lock                  # or let the idle timeout do it
