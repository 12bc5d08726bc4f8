#!/usr/bin/env python3
"""One round of the ct_monitor scenario on the monitor host (molecule helper, run by verify.yml's script tasks).

    round_monitor.py ACTION ALERTS ENTRIES

(Re)starts certspotter with ``systemctl ACTION`` and waits, 90 s at most, until certspotter has verified its log
up to ENTRIES entries and the JSON lines file holds ALERTS alerts: every hook run for those entries is then
over, so any more alerts would be duplicates. Prints JSON: when it started certspotter and when the last alert
was written (seconds since the epoch), the alerts, and the quiet journal lines (certificates on our keys).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from typing import Any

ALERT_LOG = "/var/log/ct_monitor/alerts.jsonl"
# certspotter keeps each log's verified position here (0.16 and 0.18 alike).
LOG_STATES = "/var/lib/certspotter/logs/*/state.json"


def verified_entries() -> int:
    sizes = []
    for path in glob.glob(LOG_STATES):
        try:
            with open(path, encoding="utf-8") as handle:
                sizes.append(int(json.load(handle)["verified_position"]["size"]))
        except (OSError, ValueError, KeyError, TypeError):
            sizes.append(0)
    return min(sizes, default=0)


def alerts() -> list[dict[str, Any]]:
    try:
        with open(ALERT_LOG, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def main() -> int:
    action, wanted_alerts, wanted_entries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    start = time.time()
    subprocess.run(["systemctl", action, "certspotter"], check=True)
    while verified_entries() < wanted_entries or len(alerts()) < wanted_alerts:
        if time.time() - start > 90:
            print(f"after 90 s: certspotter verified {verified_entries()} entries, {len(alerts())} alerts",
                  file=sys.stderr)
            return 1
        time.sleep(0.1)
    quiet = subprocess.run(["journalctl", "-o", "cat", "SYSLOG_IDENTIFIER=ct_monitor", "CT_MONITOR_EVENT=known"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    print(json.dumps({"start": start, "logged": os.stat(ALERT_LOG).st_mtime, "alerts": alerts(), "quiet": quiet}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
