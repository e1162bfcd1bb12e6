#!/bin/sh
# Scheduled backup for CI: `escrow backup` of the vault and its journal into one encrypted,
# signed file (docs/RECOVERY.md), copied off-site by a command you choose.
#
# Needs: escrow on PATH (or ESCROW=/path/to/escrow), a member identity in ESCROW_IDENTITY_DATA (a
# CI secret; the rotator's will do: a backup holds no plaintext and grants nothing), ESCROW_VAULT
# (default ./escrow.vault). The backup is encrypted to the vault's admins, or to the public
# identities listed in ESCROW_BACKUP_TO (space-separated .pub files, e.g. an offline recovery key).
# ESCROW_BACKUP_UPLOAD, if set, is run with the file's path as $1 (e.g. 'aws s3 cp "$1" s3://…/').
#
# Exit status: 0 backed up (and uploaded); 3 the vault or journal failed verification (nothing
# written: page someone, a damaged vault must not replace good backups); 5 lock or I/O; other
# escrow codes as documented; 6 the upload failed (the file is kept in $ESCROW_BACKUP_DIR).
set -u
escrow=${ESCROW:-escrow}
dir=${ESCROW_BACKUP_DIR:-backups}
if [ -z "${ESCROW_IDENTITY_DATA:-}" ] && [ -z "${ESCROW_IDENTITY:-}" ]; then
  echo "backup: set ESCROW_IDENTITY_DATA to a member identity (a CI secret)" >&2
  exit 3
fi
mkdir -p "$dir"
file="$dir/escrow-$(date -u +%Y%m%dT%H%M%SZ).backup"
set --
for pub in ${ESCROW_BACKUP_TO:-}; do
  set -- "$@" --to "$pub"
done
"$escrow" backup --out "$file" "$@" || exit $?
if [ -n "${ESCROW_BACKUP_UPLOAD:-}" ]; then
  sh -c "$ESCROW_BACKUP_UPLOAD" upload "$file" || { echo "backup: upload of $file failed" >&2; exit 6; }
fi
echo "backup: $file"
