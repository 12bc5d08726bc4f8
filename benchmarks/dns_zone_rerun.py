#!/usr/bin/env python3
"""Benchmark: a re-run of the dns_zone role with 5 signed zones of 200 records each against the no-op floor.

The first converge (untimed) installs Knot on a fresh Debian 13 container, signs the zones and lets the
second run tighten the key files; then re-runs and the floor (facts + ping) alternate. Target: re-run
<= 1.5x the floor with changed=0. Run from the repository root: `.venv/bin/python benchmarks/dns_zone_rerun.py`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench import BenchHost  # noqa: E402

PLAYBOOK = "benchmarks/playbooks/dns_zone_5x200.yml"


def knot_state(container: str) -> str:
    """What the first converge left behind, so a fast re-run is not a re-run of nothing."""
    script = "knotc zone-status; for z in 1 2 3 4 5; do knotc zone-read zone$z.example | wc -l; done | xargs echo records:"
    proc = subprocess.run(["docker", "exec", container, "sh", "-c", script], capture_output=True, text=True,
                          check=False)
    return proc.stdout.strip()


def main() -> int:
    with BenchHost("bench-dns-zone", 74, debian="13") as bench:
        seconds, changed = bench.playbook(PLAYBOOK)
        print(f"first converge (installs Knot, signs 5 zones): {seconds:.2f}s, changed={changed}")
        seconds, changed = bench.playbook(PLAYBOOK)
        print(f"second converge: {seconds:.2f}s, changed={changed}")
        print(knot_state(bench.lab.container(bench.lab.hosts[0])))
        result = bench.compare(PLAYBOOK, repeat=5)
    return 0 if result.report("dns_zone re-run, 5 zones x 200 records", target_ratio=1.5) else 1


if __name__ == "__main__":
    sys.exit(main())
