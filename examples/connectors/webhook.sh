#!/bin/sh
# escrow connector: pushes the value to an HTTP endpoint (a provider's API, an internal
# config service) with curl, and verifies it with a second endpoint.
#
#   escrow connector add crm-sync --env prod --timeout 30 \
#     --update '/path/to/webhook.sh update https://config.internal/secrets/crm' \
#     --verify '/path/to/webhook.sh verify https://config.internal/secrets/crm/check'
#
# The value arrives on stdin and goes to curl on stdin (--data-binary @-), so it is never in an
# argv, an environment variable or a temp file. The request is a POST whose body is the value
# (application/octet-stream) with the headers
#   X-Escrow-Secret: ENV/NAME   X-Escrow-Version: N   X-Escrow-Previous-Version: M
#   X-Escrow-Step: update|verify   X-Escrow-Action: rotate|rollback|restore
# Any 2xx is success; anything else (or no answer within WEBHOOK_MAX_TIME seconds, default 20)
# fails the step, and escrow rolls the rotation back. For authentication put header lines
# ("Authorization: Bearer ...") in a file and set WEBHOOK_HEADERS_FILE to it (curl -H @file):
# the token then never appears in argv either.
set -eu
[ $# -eq 2 ] || { echo "usage: webhook.sh update|verify URL (the value on stdin)" >&2; exit 2; }
step=$1 url=$2
case $step in update|verify) ;; *) echo "webhook: step must be update or verify" >&2; exit 2 ;; esac
command -v curl >/dev/null 2>&1 || { echo "webhook: curl is not installed" >&2; exit 2; }

set -- --silent --show-error --fail --max-time "${WEBHOOK_MAX_TIME:-20}" \
  --request POST --data-binary @- \
  --header "Content-Type: application/octet-stream" \
  --header "X-Escrow-Secret: ${ESCROW_SECRET_NAME:-}" \
  --header "X-Escrow-Version: ${ESCROW_VERSION:-}" \
  --header "X-Escrow-Previous-Version: ${ESCROW_PREVIOUS_VERSION:-}" \
  --header "X-Escrow-Step: $step" \
  --header "X-Escrow-Action: ${ESCROW_ACTION:-rotate}" \
  --output /dev/null --write-out "webhook: $step %{http_code}\n"
if [ -n "${WEBHOOK_HEADERS_FILE:-}" ]; then
  set -- "$@" --header "@$WEBHOOK_HEADERS_FILE"
fi
exec curl "$@" "$url"
