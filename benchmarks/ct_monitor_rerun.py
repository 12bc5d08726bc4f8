#!/usr/bin/env python3
"""ct_monitor re-run (nothing to change) against the no-op floor, on one Debian 12 host.

The first converge (untimed) installs certspotter and starts it; then re-runs and the floor (facts +
ping) alternate. A re-run reads the two certificates (the keys Bulwark serves) and makes one call on
the monitor. Target: <= 1.5x the floor with changed=0. Usage:
    .venv/bin/python benchmarks/ct_monitor_rerun.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import rerun_benchmark  # noqa: E402


def main() -> int:
    return rerun_benchmark("ct_monitor re-run, 1 site (2 certificates)",
                           "bench-ct", 73, "12", "ct_monitor_setup.yml", "ct_monitor_rerun.yml")


if __name__ == "__main__":
    sys.exit(main())
