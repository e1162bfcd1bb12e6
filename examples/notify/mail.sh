#!/bin/sh
# escrow notify hook → e-mail through the local sendmail (postfix, msmtp, ssmtp all provide it).
# Install: escrow policy set '*' --notify 'ESCROW_MAIL_TO=secops@example.com /path/to/mail.sh'
#
# escrow runs the hook with one JSON event on stdin (docs/ROTATION.md, docs/RECOVERY.md). Events
# never hold a value; this script still copies only a fixed list of fields, each cut to one short
# line, into the mail, and the recipients come from ESCROW_MAIL_TO, never from the event. Failures
# (a failed rotation, restore, rehearsal) get "[escrow FAILED]" in the subject.
: "${ESCROW_MAIL_TO:?mail.sh: set ESCROW_MAIL_TO to the recipients}"
SENDMAIL=${SENDMAIL:-/usr/sbin/sendmail}
python3 -c '
import json, os, sys

FIELDS = ("event", "result", "secret", "env", "version", "previous_version", "actor", "at",
          "revision", "file", "summary", "error", "scenario", "vault")

def line(value):
    text = " ".join(str(value).split())
    return text if len(text) <= 300 else text[:297] + "..."

event = json.load(sys.stdin)
failed = str(event.get("result", "ok")) not in ("ok", "rotated", "restored", "compromised")
subject = "[escrow FAILED] " if failed else "[escrow] "
subject += line(event.get("event", "event")) + " " + line(event.get("secret") or event.get("file") or "")
to = os.environ["ESCROW_MAIL_TO"]
print(f"To: {to}\nSubject: {subject.strip()}\nContent-Type: text/plain; charset=utf-8\n")
for key in FIELDS:
    if event.get(key) not in (None, "", []):
        print(f"{key}: {line(event[key])}")
for item in event.get("connectors", []) if isinstance(event.get("connectors"), list) else []:
    if isinstance(item, dict):
        print("connector: " + line(" ".join(f"{k}={v}" for k, v in sorted(item.items()))))
' | "$SENDMAIL" -t
