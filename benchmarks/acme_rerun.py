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

from bench import rerun_benchmark  # noqa: E402


def main() -> int:
    return rerun_benchmark("acme_certificates re-run, 2 certificates (ECDSA+RSA), ARI asked",
                           "bench-acme", 76, "13", "acme_setup.yml", "acme_rerun.yml")


if __name__ == "__main__":
    sys.exit(main())
