#!/bin/sh
# escrow notify hook → a chat webhook (Slack, Mattermost, Teams incoming webhooks all take
# {"text": "..."}). Install: escrow policy set '*' --notify '/path/to/chat-webhook.sh'
#
# escrow runs the hook with one JSON event on stdin (rotations, failures, compromises, backups,
# restores, rehearsals, drills; docs/ROTATION.md, docs/RECOVERY.md). Events never hold a value, and
# this script still forwards only a fixed list of fields, each cut to one short line, so nothing
# unexpected can reach the chat. The webhook URL (a credential) comes from ESCROW_CHAT_WEBHOOK_URL
# or the file named by ESCROW_CHAT_WEBHOOK_FILE and never appears in argv (python's urllib posts).
# A hook's failure never fails escrow's operation; escrow reports it on stderr.
exec python3 -c '
import json, os, sys, urllib.request

FIELDS = ("event", "result", "secret", "env", "version", "previous_version", "actor", "at",
          "revision", "file", "summary", "error", "scenario")

def line(value):
    text = " ".join(str(value).split())
    return text if len(text) <= 200 else text[:197] + "..."

event = json.load(sys.stdin)
url = os.environ.get("ESCROW_CHAT_WEBHOOK_URL", "")
if not url and os.environ.get("ESCROW_CHAT_WEBHOOK_FILE"):
    with open(os.environ["ESCROW_CHAT_WEBHOOK_FILE"]) as f:
        url = f.read().strip()
if not url.startswith("https://"):
    sys.exit("chat-webhook: set ESCROW_CHAT_WEBHOOK_URL (https://...) or ESCROW_CHAT_WEBHOOK_FILE")
parts = [f"{k}={line(event[k])}" for k in FIELDS if event.get(k) not in (None, "", [])]
failed = str(event.get("result", "ok")) not in ("ok", "rotated", "restored", "compromised")
text = (":rotating_light: " if failed else "") + "escrow " + " ".join(parts)
request = urllib.request.Request(url, data=json.dumps({"text": text}).encode(),
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=20) as response:
    if response.status >= 300:
        sys.exit(f"chat-webhook: HTTP {response.status}")
'
