#!/usr/bin/env python3
"""Benchmark: a re-run of the firewalld role with 20 declared ports against the no-op floor.

The first converge (untimed) installs firewalld on a fresh Debian 12 container and applies the
ports; then re-runs and the floor (facts + ping) alternate. Target: re-run <= 1.5x the floor with
changed=0. Run from the repository root: `.venv/bin/python benchmarks/firewalld_rerun.py`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench import BenchHost  # noqa: E402

PLAYBOOK = "benchmarks/playbooks/firewalld_20_ports.yml"


def firewall_state(container: str) -> str:
    """One line on what the first converge left behind, so a fast re-run is not a re-run of nothing."""
    script = ("echo ports: $(firewall-cmd --list-ports); echo services: [$(firewall-cmd --list-services)]; "
              "echo rich rules: $(firewall-cmd --list-rich-rules | wc -l); "
              "echo boot: $(systemctl is-enabled firewalld)")
    proc = subprocess.run(["docker", "exec", container, "sh", "-c", script],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def main() -> int:
    with BenchHost("bench-firewalld", 78, debian="12") as bench:
        seconds, changed = bench.playbook(PLAYBOOK)
        print(f"first converge (installs firewalld): {seconds:.2f}s, changed={changed}")
        print(firewall_state(bench.lab.container(bench.lab.hosts[0])))
        result = bench.compare(PLAYBOOK, repeat=5)
    return 0 if result.report("firewalld re-run, 20 ports", target_ratio=1.5) else 1


if __name__ == "__main__":
    sys.exit(main())
