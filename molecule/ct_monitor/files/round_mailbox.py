#!/usr/bin/env python3
"""The lab mailbox's side of a ct_monitor round (molecule helper, run by verify.yml's script tasks).

    round_mailbox.py MAILS

Waits, 60 s at most, until /var/mail/labmail holds MAILS mails, then prints JSON: when the last one was
delivered (the mailbox's modification time, seconds since the epoch) and every mail's subject.
"""

from __future__ import annotations

import json
import mailbox
import os
import sys
import time

MAILBOX = "/var/mail/labmail"


def subjects() -> list[str]:
    if not os.path.exists(MAILBOX):
        return []
    return [" ".join(str(message["Subject"]).split()) for message in mailbox.mbox(MAILBOX, create=False)]


def main() -> int:
    wanted, start = int(sys.argv[1]), time.time()
    while len(subjects()) < wanted:
        if time.time() - start > 60:
            print(f"after 60 s: {len(subjects())} mails in {MAILBOX}", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(json.dumps({"delivered": os.stat(MAILBOX).st_mtime, "subjects": subjects()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
