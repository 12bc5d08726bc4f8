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

from bench import rerun_benchmark  # noqa: E402


def main() -> int:
    return rerun_benchmark("mail_tls re-run (Postfix, Dovecot, Unbound; RSA+ECDSA)",
                           "bench-mail", 75, "13", "mail_setup.yml", "mail_rerun.yml")


if __name__ == "__main__":
    sys.exit(main())
