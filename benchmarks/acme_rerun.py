#!/usr/bin/env python3
"""acme_certificates re-run (nothing due: no order, changed=0) against the no-op floor, on one Debian 13 host.

The host is its own CA (Pebble, resolving every name to itself): the role converges once (untimed, two
orders), then each re-run - one look at the host and one ARI question to the CA per certificate - is timed
side by side with the floor. Usage:
    .venv/bin/python benchmarks/acme_rerun.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import BenchHost  # noqa: E402

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
TARGET_RATIO = 1.5


def main() -> int:
    with BenchHost("bench-acme", 76, debian="13") as bench:
        bench.playbook(PLAYBOOKS / "acme_setup.yml")
        bench.playbook(PLAYBOOKS / "acme_rerun.yml")
        result = bench.compare(PLAYBOOKS / "acme_rerun.yml", 5)
    return 0 if result.report("acme_certificates re-run, 2 certificates (ECDSA+RSA), ARI asked", TARGET_RATIO) else 1


if __name__ == "__main__":
    sys.exit(main())
