#!/bin/sh
# For a person handling a MANUAL connector (a platform with no API): fetches the pending value,
# puts it on the clipboard (never on the screen unless asked), waits for you to paste it, then
# confirms so that escrow finishes the rotation.
#
#   escrow connector add billing-portal --env prod --manual \
#     --instructions "Billing portal > Settings > API keys: replace the key, Save"
#   escrow connect prod/billing-key billing-portal
#   escrow rotate prod/billing-key            # stops: "awaiting confirmation from billing-portal"
#   examples/connectors/manual-paste.sh prod/billing-key billing-portal
#
# ESCROW (default: escrow) is the command, options allowed ("escrow --vault team.vault");
# ESCROW_PASTE_WITH a command that receives the value on
# stdin (default: wl-copy, xclip -selection clipboard, or pbcopy, whichever exists);
# ESCROW_PASTE_SHOW=1 prints it instead (for a terminal nobody else can see).
set -eu
[ $# -eq 2 ] || { echo "usage: manual-paste.sh ENV/NAME CONNECTOR" >&2; exit 2; }
name=$1 connector=$2
escrow=${ESCROW:-escrow}

version=$($escrow show "$name" | awk '$1 ~ /^v[0-9]+$/ && $2 == "pending" { sub("^v", "", $1); print $1; exit }')
[ -n "$version" ] || { echo "manual-paste: $name has no pending version (nothing to paste)" >&2; exit 1; }
instructions=$($escrow --json connector list | awk -v c="\"$connector\"" '
  /"instructions":/ { line = $0 } /"name":/ && index($0, c) { print line; exit }' |
  sed 's/.*"instructions": "\(.*\)",*$/\1/')

paste_with=${ESCROW_PASTE_WITH:-}
if [ -z "$paste_with" ] && [ "${ESCROW_PASTE_SHOW:-0}" != 1 ]; then
  for candidate in wl-copy "xclip -selection clipboard" pbcopy; do
    if command -v "${candidate%% *}" >/dev/null 2>&1; then paste_with=$candidate; break; fi
  done
fi
if [ -n "$paste_with" ]; then
  $escrow get "$name" --reveal --version "$version" | sh -c "$paste_with"
  echo "v$version of $name is on the clipboard."
elif [ "${ESCROW_PASTE_SHOW:-0}" = 1 ]; then
  $escrow get "$name" --reveal --version "$version"
  echo
else
  echo "manual-paste: no clipboard tool found; set ESCROW_PASTE_WITH or ESCROW_PASTE_SHOW=1" >&2
  exit 2
fi
echo "Paste it into $connector${instructions:+: $instructions}"
printf 'Done, and the new value works there? [y/N] '
if [ -r /dev/tty ] && [ -t 0 ]; then read -r answer </dev/tty; else read -r answer || answer=; fi
case $answer in
  y|Y|yes) ;;
  *) echo "not confirmed; run this again when it is pasted (or cancel: escrow rollback $name)"; exit 1 ;;
esac
case $paste_with in wl-copy*|xclip*|pbcopy*) printf '' | sh -c "$paste_with" || true ;; esac
exec $escrow rotate --confirm "$name" "$connector"
