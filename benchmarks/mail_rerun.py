#!/usr/bin/env python3
"""mail_tls re-run (nothing to change) against the no-op floor, on one Debian 13 host.

Postfix, Dovecot and Unbound with RSA and ECDSA certificates from the lab PKI converge once (untimed), then
each re-run is timed side by side with the floor. Usage:
    .venv/bin/python benchmarks/mail_rerun.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import BenchHost  # noqa: E402

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
TARGET_RATIO = 1.5


def main() -> int:
    with BenchHost("bench-mail", 75, debian="13") as bench:
        bench.playbook(PLAYBOOKS / "mail_setup.yml")
        bench.playbook(PLAYBOOKS / "mail_rerun.yml")
        result = bench.compare(PLAYBOOKS / "mail_rerun.yml", 5)
    return 0 if result.report("mail_tls re-run (Postfix, Dovecot, Unbound; RSA+ECDSA)", TARGET_RATIO) else 1


if __name__ == "__main__":
    sys.exit(main())
